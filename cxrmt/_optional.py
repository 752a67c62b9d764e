"""Lazy imports: heavy optional packages with an error that names the extra to install, and a
package's own names loaded with their module on first use."""

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


def lazy_names(package: str, table: dict):
    """A module `__getattr__` (PEP 562) for `package`: name -> the submodule of `table` that
    defines it, imported on first use and kept in the package's namespace after it."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        namespace[name] = value   # later lookups skip this function
        return value

    return __getattr__
