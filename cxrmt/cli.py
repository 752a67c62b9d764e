"""`cxrmt` command line. Each command lives in its own module that exposes
`register(subparsers)`; heavy packages are imported only inside the command that needs them."""

import argparse
import gc
import importlib
import signal
import sys
import threading

from cxrmt import __version__, logs
from cxrmt.errors import CxrmtError

# Modules that add commands, in --help order.
COMMAND_MODULES = (
    "cxrmt.commands.core",
    "cxrmt.infer.commands",
    "cxrmt.data.commands",
    "cxrmt.model.commands",
    "cxrmt.train.commands",
    "cxrmt.evaluate.commands",
    "cxrmt.cv.commands",
    "cxrmt.export.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxrmt",
        description="Chest X-ray organ segmentation and bone suppression in one forward pass.")
    parser.add_argument("--version", action="version", version=f"cxrmt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


EXIT_ERROR, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 1, 2, 130, 143


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (kill, container stop, a batch scheduler): unwound like Ctrl-C, so
    every output set in flight is finished or removed."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum, frame) -> None:
    # One interruption is enough: a second Ctrl-C must not break the clean-up of the first.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    logs.configure(args.command, getattr(args, "verbose", False), getattr(args, "quiet", False))
    handlers = _install_signal_handlers()
    try:
        with logs.warnings_as_messages():
            return int(args.func(args) or 0)
    except (CxrmtError, ValueError, OSError, ImportError, MemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__   # one line, always
        print(f"cxrmt {args.command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        if isinstance(exc, Interrupted):
            handlers = {}   # a signal: the process is ending; later ones must not kill it midway
        print(f"cxrmt {args.command}: interrupted ({signal.Signals(signum).name})",
              file=sys.stderr)
        return EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT
    finally:
        _restore_signal_handlers(handlers)


def _install_signal_handlers() -> dict:
    """SIGINT and SIGTERM -> Interrupted, in the main thread only (signals are delivered there)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: dict) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def console() -> None:
    """The `cxrmt` program: main, then exit without Python collecting every object it made one
    by one (gc.freeze: ~20 ms of a 0.5 s `cxrmt infer`; the process's memory goes back at once,
    finalizers and atexit handlers still run)."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
