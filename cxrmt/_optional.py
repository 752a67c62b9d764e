"""Lazy import of heavy optional packages with an error that names the extra to install."""

import importlib


def require(module: str, extra: str):
    """Import `module`, or raise ImportError telling which cxrmt extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is needed for this feature but is not installed: "
            f"pip install 'cxrmt[{extra}]'"
        ) from exc
