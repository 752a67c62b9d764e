"""cxrmt's messages go through `logging.getLogger("cxrmt")` (each module logs as its own child);
the command line configures them the same way for every command (`-v` / `-q`)."""

import argparse
import contextlib
import logging
import sys
import warnings

ROOT = "cxrmt"


def verbosity() -> argparse.ArgumentParser:
    """The parent parser of every command: -v (debug messages too) or -q (warnings only)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="debug messages too")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="warnings and errors only: no progress or per-file output")
    return parent


def configure(command: str, verbose: bool = False, quiet: bool = False) -> None:
    """cxrmt's messages to this call's stderr, one line each, prefixed with the command."""
    logger = logging.getLogger(ROOT)
    for h in [h for h in logger.handlers if getattr(h, "cxrmt_cli", False)]:
        logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.cxrmt_cli = True
    handler.setFormatter(logging.Formatter(f"cxrmt {command}: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


@contextlib.contextmanager
def warnings_as_messages():
    """Within the block, cxrmt's warnings (a colour input made grey, the first page of a TIFF)
    become one line each ("cxrmt infer: warning: FILE: ..."), every time, not once per place."""
    logger = logging.getLogger(ROOT)

    def show(message, category, filename, lineno, file=None, line=None):
        logger.warning(f"warning: {message}")

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        yield
