"""The one error type the readers raise for bad input: it always names the file."""

import os


class ImageFormatError(ValueError):
    """A file that cannot be read as the expected image; the message starts with its path."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
