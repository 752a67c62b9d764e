"""A lock per output set, so two `cxrmt infer` runs over one folder never write the same files:
the second is told the set is being written and moves on."""

import contextlib
import errno
import fcntl
import os

LOCK_MARK = ".cxrmt-lock"


class Busy(Exception):
    """Another process holds the lock."""


def lock_path(folder, stem: str) -> str:
    return os.path.join(folder, f".{stem}{LOCK_MARK}")


def acquire(path) -> int:
    """An exclusive, non-blocking lock on `path` (created); returns its descriptor, or raises
    Busy. The holder removes the file on release; a process that locked a file just removed
    sees another inode under the name and tries again on the new one."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise Busy(path) from None
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            return fd
        os.close(fd)


def release(path, fd: int) -> None:
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)   # while still held: nobody can lock this inode in between
    finally:
        os.close(fd)
