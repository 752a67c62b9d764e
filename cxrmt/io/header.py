"""What a file's header says before any pixel is decoded: whether it is DICOM, and image
dimensions.

A compressed image can be tiny on disk and huge once decoded (a 60000 x 60000 PNG of one colour is
a few hundred bytes and 3.6 GB decoded), so the readers look at the header first and refuse
anything above a pixel limit. Parsers read only the fields they need and return None for what they
do not recognise or cannot make sense of: the decoder then has its say, and the decoded shape is
checked against the limit as well.
"""

import os
import struct

from ..errors import ImageFormatError

# The largest chest detectors are 43 x 43 cm at 100 um (about 4300 x 4300, 18.5 MP); stitched
# full-spine or long-leg images and 50 um detectors stay under 80 MP. 100 MP is above any real
# radiograph and keeps a decoded 16-bit image at 200 MB (a few GB through the whole pipeline),
# while a decompression bomb (60000^2 = 3600 MP) is refused before it is decoded.
DEFAULT_MAX_PIXELS = 100_000_000

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers SOF0..SOF15, less DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# A damaged or hostile IFD chain (cycles, huge entry counts) must not take long to walk.
_MAX_TIFF_PAGES, _MAX_TIFF_ENTRIES = 100_000, 1_000_000


def is_dicom(path) -> bool:
    """By suffix, or by the 'DICM' magic at byte 128 (files often have no suffix)."""
    return os.fspath(path).lower().endswith((".dcm", ".dicom")) or has_preamble(path)


def has_preamble(path) -> bool:
    """Whether the file at `path` carries the 'DICM' magic (False when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return has_dicm(fh.read(132))
    except OSError:
        return False


def has_dicm(head: bytes) -> bool:
    """Whether bytes that begin a file carry the 'DICM' magic at offset 128."""
    return head[128:132] == b"DICM"


def check_pixels(path, size, max_pixels) -> None:
    """Raise ImageFormatError when an (h, w) size is above `max_pixels` (None: no limit)."""
    if size is None or max_pixels is None:
        return
    h, w = size
    if h * w > max_pixels:
        raise ImageFormatError(path, f"image is {w} x {h} pixels ({h * w:,}), above the limit "
                               f"of {max_pixels:,} pixels; if the file is genuine, raise the "
                               "limit with --max-pixels (max_pixels= in Python)")


def image_size(data: bytes):
    """(height, width) from the header of a PNG, JPEG, TIFF (the largest page), GIF or BMP in
    `data`, or None when the format is not one of these or the header is damaged."""
    if data[:8] == _PNG:
        return _png(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        pages = tiff_pages(data)
        return max(pages, key=lambda s: s[0] * s[1]) if pages else None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data[:2] == b"BM":
        return _bmp(data)
    return None


def _png(data):
    # The IHDR chunk comes first: length, b"IHDR", width, height (big-endian).
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return h, w


def _jpeg(data):
    """Walk the marker segments to the first start-of-frame."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:                      # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length field
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return (h, w) if h else None        # h = 0: height given later (DNL); unknown
        if marker == 0xDA or length < 2:         # scan data before any frame header: damaged
            return None
        i += 2 + length
    return None


def tiff_pages(data) -> list:
    """[(height, width)] of every page (IFD) of a classic or Big TIFF, in file order; pages whose
    size fields are missing are left out; [] when `data` is not a TIFF."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 16:
        return []
    big = struct.unpack(order + "H", data[2:4])[0] == 43
    off_fmt, count_fmt, entry = ("Q", "Q", 20) if big else ("I", "H", 12)
    offset = struct.unpack_from(order + off_fmt, data, 8 if big else 4)[0]
    pages, seen, budget = [], set(), _MAX_TIFF_ENTRIES
    while offset and offset not in seen and len(seen) < _MAX_TIFF_PAGES:
        seen.add(offset)
        try:
            (count,) = struct.unpack_from(order + count_fmt, data, offset)
            start = offset + struct.calcsize(count_fmt)
            budget -= count
            if budget < 0 or start + count * entry > len(data):
                break                           # damaged or hostile: no more pages
            size = _ifd_size(data, order, big, start, count, entry)
            (offset,) = struct.unpack_from(order + off_fmt, data, start + count * entry)
        except struct.error:                    # chain runs past the end of the file
            break
        if size:
            pages.append(size)
    return pages


def _ifd_size(data, order, big, start, count, entry):
    """(ImageLength, ImageWidth) of one IFD's entries (SHORT, LONG or LONG8), or None."""
    tags, value_at = {}, 12 if big else 8       # where an entry's value sits
    for k in range(count):
        at = start + k * entry
        tag, typ = struct.unpack_from(order + "HH", data, at)
        fmt = {3: "H", 4: "I", 16: "Q"}.get(typ)
        if tag in (256, 257) and fmt:
            tags[tag] = struct.unpack_from(order + fmt, data, at + value_at)[0]
            if len(tags) == 2:
                return tags[257], tags[256]
    return None


def _gif(data):
    # The logical screen size: the canvas a decoder allocates.
    if len(data) < 10:
        return None
    w, h = struct.unpack("<HH", data[6:10])
    return h, w


def _bmp(data):
    if len(data) < 26:
        return None
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:                               # BITMAPCOREHEADER: 16-bit sizes
        w, h = struct.unpack("<HH", data[18:22])
    else:
        w, h = struct.unpack("<ii", data[18:26])
    return abs(h), abs(w)                       # negative height: rows stored top-down
