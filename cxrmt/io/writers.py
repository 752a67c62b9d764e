"""Atomic writers: a temporary file in the target directory, then os.replace.

A crash or a bad array never leaves a half-written file under the final name.
"""

import contextlib
import os
import tempfile

import cv2
import numpy as np


def _file_mode() -> int:
    """Mode an ordinary new file gets (0666 less the umask); mkstemp's own 0600 would leave
    exported models and results unreadable to other users, e.g. a serving account."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()  # read once at import: os.umask is process-wide and not thread-safe


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path next to `path`; move it over `path` only if the block succeeds."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1],
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_png(path, pixels: np.ndarray) -> None:
    """Write a (H, W) uint8/uint16 array as an 8- or 16-bit grey PNG, or an (H, W, 3) uint8 RGB
    array as a colour PNG, atomically."""
    write_bytes(path, encode_png(pixels, path))


def encode_png(pixels: np.ndarray, path="<memory>") -> bytes:
    """PNG bytes of what write_png accepts; `path` only names the file in errors."""
    pixels = np.asarray(pixels)
    grey = pixels.ndim == 2 and pixels.dtype in (np.uint8, np.uint16)
    rgb = pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    if not (grey or rgb):
        raise ValueError(f"{os.fspath(path)}: need a 2-D uint8/uint16 array or (H, W, 3) uint8 RGB, "
                         f"got {pixels.dtype} {pixels.shape}")
    ok, buf = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if rgb else pixels)
    if not ok:
        raise OSError(f"{os.fspath(path)}: PNG encoding failed")
    return buf.tobytes()


def write_bytes(path, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def staged(paths):
    """Yield {path: temporary path} for a group of files; all are renamed into place only when
    the block succeeds, so a failure (or Ctrl-C) while writing leaves none of them, not even
    half-written ones."""
    with contextlib.ExitStack() as stack:
        yield {p: stack.enter_context(atomic_path(p)) for p in paths}


def write_files(contents: dict) -> None:
    """Write {path: bytes} as one group (see `staged`)."""
    with staged(contents) as tmp:
        for path, data in contents.items():
            with open(tmp[path], "wb") as fh:
                fh.write(data)


def write_text(path, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(path, text.encode("utf-8"))
