"""Atomic writers: a temporary file in the target directory, flushed to disk, then os.replace.

A crash or a bad array never leaves a half-written file under the final name; the temporaries
are hidden, carry `TMP_MARK` (so no reader takes them for inputs) and are swept when stale.
"""

import contextlib
import os
import tempfile
import time

import numpy as np

from . import png


def _file_mode() -> int:
    """Mode an ordinary new file gets (0666 less the umask); mkstemp's own 0600 would leave
    exported models and results unreadable to other users, e.g. a serving account."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()  # read once at import: os.umask is process-wide and not thread-safe


TMP_MARK = ".cxrmt-tmp"   # in every temporary's name: never an image suffix, never an input
STALE_SECONDS = 3600       # a temporary this old belongs to no running writer


def temp_path(path, suffix="") -> str:
    """A new empty temporary file next to `path`: hidden, marked as cxrmt's, `suffix` last
    (for writers that insist on one, e.g. numpy's .npz)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # The name cut short: a long stem must not push the temporary's name past NAME_MAX.
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)[:80]}.",
                               suffix=TMP_MARK + suffix, dir=folder)
    os.close(fd)
    return tmp


def is_temporary(name: str) -> bool:
    base = os.path.basename(name)
    return base.startswith(".") and TMP_MARK in base


def sweep_temporaries(folder, older_than=STALE_SECONDS) -> list:
    """Remove cxrmt temporaries a killed run left in `folder` (by name and age); returns them."""
    now, removed = time.time(), []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if is_temporary(name) and now - os.path.getmtime(path) > older_than:
                os.unlink(path)
                removed.append(path)
    return removed


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder) -> None:
    # The renames themselves reach the disk only with the directory (POSIX; best effort).
    with contextlib.suppress(OSError):
        _fsync(folder)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path next to `path`; move it over `path` only if the block succeeds."""
    with staged([path], suffix) as tmp:
        yield tmp[os.fspath(path)]


@contextlib.contextmanager
def staged(paths, suffix=""):
    """Yield {path: temporary path} for a group of files. When the block succeeds every file
    is flushed to disk, then renamed into place in the order given (put the file that marks
    the set complete last); a failure (or Ctrl-C) while writing leaves none of them, not even
    half-written ones."""
    tmp = {}
    try:
        for p in map(os.fspath, paths):
            tmp[p] = temp_path(p, suffix)
        yield tmp
        for t in tmp.values():
            _fsync(t)
            os.chmod(t, _FILE_MODE)
        while tmp:
            p = next(iter(tmp))
            os.replace(tmp[p], p)
            del tmp[p]
            _fsync_dir(os.path.dirname(os.path.abspath(p)))
    except BaseException:
        for t in tmp.values():
            with contextlib.suppress(OSError):
                os.unlink(t)
        raise


def write_png(path, pixels: np.ndarray) -> None:
    """Write a (H, W) uint8/uint16 array as an 8- or 16-bit grey PNG, or an (H, W, 3) uint8 RGB
    array as a colour PNG, atomically."""
    write_bytes(path, encode_png(pixels, path))


def encode_png(pixels: np.ndarray, path="<memory>", *, level: int = png.DEFAULT_LEVEL) -> bytes:
    """PNG bytes of what write_png accepts (cxrmt.io.png: ISA-L's deflate where installed);
    `path` only names the file in errors, `level` is the deflate effort (0-9)."""
    try:
        return png.encode(np.asarray(pixels), level)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}") from None


def write_bytes(path, data: bytes) -> None:
    """Write bytes atomically."""
    write_files({path: data})


def write_files(contents: dict) -> None:
    """Write {path: bytes} as one group (see `staged`)."""
    with staged(contents) as tmp:
        for path, data in contents.items():
            with open(tmp[os.fspath(path)], "wb") as fh:
                fh.write(data)


def write_text(path, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(path, text.encode("utf-8"))
