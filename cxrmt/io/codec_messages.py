"""What libpng and libjpeg print on stderr while OpenCV decodes, caught and given back as text.

Both libraries write their warnings and errors straight to file descriptor 2 ("libpng error:
IDAT: CRC error"), where they would reach the terminal with no file name beside cxrmt's own
messages. Around a decode, fd 2 is pointed at a temporary file (under a lock: fd 2 belongs to the
whole process); afterwards the codecs' lines are handed to the caller and every other line
(another thread's output, OpenCV's own log) is written to the real stderr as it was.
"""

import contextlib
import os
import sys
import tempfile
import threading

# libpng prefixes every message; libjpeg's warnings (jerror.h) start with these.
CODEC_PREFIXES = ("libpng ", "Corrupt JPEG data", "Premature end of JPEG file",
                  "Invalid SOS parameters", "Inconsistent progression sequence")
_LOCK = threading.Lock()


@contextlib.contextmanager
def codec_messages(notes: list):
    """Append to `notes` the codec lines written to fd 2 inside the block; pass the rest on."""
    with _LOCK, tempfile.TemporaryFile() as tmp:
        _flush_python_stderr()
        try:
            saved = os.dup(2)
        except OSError:                          # no fd 2 at all (a daemon): nothing to catch
            yield notes
            return
        os.dup2(tmp.fileno(), 2)
        try:
            yield notes
        finally:
            _flush_python_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            _sort(tmp.read().decode(errors="replace"), notes)


def _sort(text: str, notes: list) -> None:
    others = []
    for line in text.splitlines(keepends=True):
        if line.startswith(CODEC_PREFIXES):
            notes.append(line.strip())
        else:
            others.append(line)
    if others:
        os.write(2, "".join(others).encode())


def _flush_python_stderr():
    # Python's buffered sys.stderr must not spill its earlier text into the capture.
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
