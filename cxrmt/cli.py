"""`cxrmt` command line. Each command lives in its own module that exposes
`register(subparsers)`; heavy packages are imported only inside the command that needs them."""

import argparse
import importlib
import sys

from cxrmt import __version__, logs

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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logs.configure(args.command, getattr(args, "verbose", False), getattr(args, "quiet", False))
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"cxrmt {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cxrmt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
