"""DICOM radiographs through pydicom (imported only when a DICOM file is read)."""

import io
import os
import warnings

import numpy as np

from .._optional import require
from ..errors import ImageFormatError
from .header import DEFAULT_MAX_PIXELS, check_pixels, has_dicm, has_preamble
from .radiograph import Radiograph


def _dcmread(pydicom, path, data=None, **kwargs):
    try:
        return pydicom.dcmread(path if data is None else io.BytesIO(data), **kwargs)
    except pydicom.errors.InvalidDicomError as exc:
        # pydicom's text for this ends "Use force=True to force reading": its own option, which
        # reads like cxrmt's --force; say what is wrong with the file instead.
        preamble = has_preamble(path) if data is None else has_dicm(data)
        problem = ("not a DICOM file (no DICM preamble / file meta)" if not preamble
                   else f"not a readable DICOM file: {exc}")
        raise ImageFormatError(path, problem) from exc
    except Exception as exc:
        raise ImageFormatError(path, f"not a readable DICOM file: {exc}") from exc


def _header_size(ds):
    """(Rows, Columns) of a dataset read without its pixels, or None when they are missing."""
    try:
        return int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        return None


def _stored_pixels(path, ds, strict: bool) -> np.ndarray:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if "PixelData" not in ds:
        raise ImageFormatError(path, "DICOM file has no pixel data")
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        raise ImageFormatError(path, f"multi-frame DICOM ({ds.NumberOfFrames} frames) "
                               "is not supported")
    if int(getattr(ds, "SamplesPerPixel", 1)) != 1:
        raise ImageFormatError(path, f"colour DICOM ({ds.get('PhotometricInterpretation')}) "
                               "is not supported")
    if int(getattr(ds, "PixelRepresentation", 0)) == 0 and hasattr(ds, "pixel_array_options"):
        # pydicom 3 clears the bits above BitsStored itself; keep them so that _mask_bits can
        # count them (signed data keep pydicom's sign extension).
        ds.pixel_array_options(correct_unused_bits=False)
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises several types for missing codecs / bad data
        name = getattr(ts, "name", str(ts))
        raise ImageFormatError(path, f"cannot decode pixel data (transfer syntax {name} {ts}): "
                               f"{exc}") from exc
    return _mask_bits(path, arr, ds, strict)


def _mask_bits(path, arr, ds, strict: bool):
    """Unsigned values keep their low BitsStored bits (PS3.5 8.1.1: the bits above may hold
    overlays or garbage); a file where any pixel has them set is warned about, or refused."""
    bits = int(getattr(ds, "BitsStored", arr.dtype.itemsize * 8))
    if arr.dtype.kind != "u" or bits >= arr.dtype.itemsize * 8:
        return arr
    mask = np.array((1 << bits) - 1, arr.dtype)
    high = int(np.count_nonzero(arr > mask))
    if high:
        problem = (f"{high} of {arr.size} pixels have values above BitsStored ({bits} bits, "
                   f"max {int(mask)})")
        if strict:
            raise ImageFormatError(path, f"{problem}; refused (strict)")
        warnings.warn(f"{os.fspath(path)}: {problem}; kept the low {bits} bits as the DICOM "
                      "standard says (the bits above may hold overlays)", stacklevel=4)
    return np.bitwise_and(arr, mask, out=arr if arr.flags.writeable else None)


def _window(x, center, width, function="LINEAR"):
    """DICOM PS3.3 C.11.2.1.2 window to [0, 1], computed in place in the float64 `x` (the
    formula's operations in its order, without its full-size temporaries)."""
    if function == "SIGMOID":
        np.subtract(x, center, out=x)
        np.multiply(x, -4.0, out=x)
        np.divide(x, width, out=x)
        np.exp(x, out=x)
        np.add(x, 1.0, out=x)
        return np.divide(1.0, x, out=x)
    if function == "LINEAR_EXACT":
        np.subtract(x, center, out=x)
        np.divide(x, width, out=x)
    else:
        np.subtract(x, center - 0.5, out=x)
        np.divide(x, width - 1.0, out=x)
    np.add(x, 0.5, out=x)
    return np.clip(x, 0.0, 1.0, out=x)


def _first(value):
    # Window centre/width may be multi-valued; the first pair is the default view.
    try:
        return float(value)
    except TypeError:
        return float(value[0])


def _lut_funcs():
    """(apply_modality_lut, apply_voi_lut) from pydicom 3 or 2.x."""
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    return apply_modality_lut, apply_voi_lut


def _modality_range(ds):
    """Full output range of the modality transform over the stored bit range, so the scaling
    does not depend on image content."""
    if "ModalityLUTSequence" in ds:
        return 0.0, float((1 << int(ds.ModalityLUTSequence[0].LUTDescriptor[2])) - 1)
    bits = int(getattr(ds, "BitsStored", 16))
    signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    icpt = float(getattr(ds, "RescaleIntercept", 0) or 0)
    ends = sorted((lo * slope + icpt, hi * slope + icpt))
    return ends[0], ends[1]


def _voi(ds, values):
    """Apply VOI LUT sequence or window centre/width; else scale the modality range to [0, 1].
    A window or the range scaling overwrites `values` (float64, the caller's own copy)."""
    if "VOILUTSequence" in ds:
        # LUT lookup wants integer inputs; rescaled values are integral unless slope is odd.
        whole = values.astype(np.int64) if np.array_equal(values, np.round(values)) else values
        out = _lut_funcs()[1](whole, ds, prefer_lut=True).astype(np.float64)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return out / float((1 << bits) - 1), "voi_lut"
    if "WindowCenter" in ds and "WindowWidth" in ds:
        func = str(getattr(ds, "VOILUTFunction", "LINEAR") or "LINEAR").upper()
        return _window(values, _first(ds.WindowCenter), _first(ds.WindowWidth), func), "window"
    lo, hi = _modality_range(ds)
    np.subtract(values, lo, out=values)
    return np.divide(values, max(hi - lo, 1e-12), out=values), "full_range"


def _spacing(ds):
    """(row, column) mm and the tag it came from: PixelSpacing (in the patient, or calibrated)
    before ImagerPixelSpacing (at the detector, magnified); zero or malformed values (files in the
    wild carry PixelSpacing [0, 0]) count as absent."""
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            pair = tuple(float(v) for v in ds.get(tag) or ())
        except (TypeError, ValueError):
            continue
        if len(pair) == 2 and min(pair) > 0:
            return pair, tag
    return None, None


def read_dicom(path, invert: bool = False, *, max_pixels=DEFAULT_MAX_PIXELS,
               strict: bool = False, data: bytes | None = None) -> Radiograph:
    """Read a single-frame grayscale DICOM as float32 [0, 1] in display polarity.

    Rows x Columns above `max_pixels` (None: no limit) is refused before the pixel data is
    read; `strict` refuses values above BitsStored instead of dropping their high bits.
    `data`: the file's bytes when they are already in memory (`path` names them).
    """
    pydicom = require("pydicom", "dicom")
    check_pixels(path, _header_size(_dcmread(pydicom, path, data, stop_before_pixels=True)),
                 max_pixels)
    ds = _dcmread(pydicom, path, data)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImageFormatError(path, f"unsupported PhotometricInterpretation {photometric}")
    stored = _stored_pixels(path, ds, strict)
    values = np.asarray(_lut_funcs()[0](stored, ds), dtype=np.float64)
    if np.may_share_memory(values, stored):     # float pixel data, no rescale: not ours to
        values = values.copy()                  # overwrite (pydicom caches pixel_array)
    unit, voi = _voi(ds, values)                # in place, but for a VOI LUT
    del values                                  # one full-size float64 at a time
    if (photometric == "MONOCHROME1") != bool(invert):
        np.subtract(1.0, unit, out=unit)
    spacing, spacing_tag = _spacing(ds)
    meta = {"photometric": photometric, "bits_stored": int(getattr(ds, "BitsStored", 0)),
            "voi": voi, "spacing_tag": spacing_tag}
    return Radiograph(unit.astype(np.float32), 1.0, spacing, os.fspath(path), meta)
