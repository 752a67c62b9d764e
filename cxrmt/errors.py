"""The errors cxrmt raises on purpose. Every one names the file (or argument) it is about;
`cxrmt` prints its message on one line and exits 1. Each also derives from the builtin type
callers caught before this hierarchy existed (ValueError, OSError, RuntimeError)."""

import os


class CxrmtError(Exception):
    """Base of every error cxrmt raises on purpose."""


def _named(path, problem: str) -> str:
    path = os.fspath(path)
    return problem if problem.startswith(path) else f"{path}: {problem}"


class InputError(CxrmtError, ValueError):
    """An input (radiograph, dataset) that cannot be used."""


class ImageFormatError(InputError):
    """A file that cannot be read as the expected image; the message starts with its path."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(_named(path, problem))


class ModelError(CxrmtError, ValueError):
    """A model file that cannot be loaded or does not look like a cxrmt model."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        super().__init__(_named(path, problem))


class CheckError(CxrmtError, ValueError):
    """An exported model failed its check against the model it came from; nothing was written."""


class DeviceError(CxrmtError, RuntimeError):
    """A CUDA or TensorRT call failed at run time."""


class OutputError(CxrmtError, OSError):
    """An output location that cannot be written (checked before any work is done)."""
