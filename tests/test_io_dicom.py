"""DICOM reading: LUTs, polarity, bit depth, spacing, errors (fixtures made with pydicom)."""

import tracemalloc
import warnings

import numpy as np
import pytest

from cxrmt.io import ImageFormatError, read_image

pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import FileMetaDataset  # noqa: E402
from pydicom.uid import (ExplicitVRLittleEndian, JPEG2000Lossless,  # noqa: E402
                         SecondaryCaptureImageStorage, generate_uid)


def make_dicom(path, pixels, photometric="MONOCHROME2", bits_stored=12, frames=1, **tags):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = tags.pop("transfer_syntax", ExplicitVRLittleEndian)
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = tags.pop("samples", 1)
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _pixels():
    return (np.arange(24 * 32) * 5 % 4096).astype(np.uint16).reshape(24, 32)


def test_window_and_rescale_match_the_standard_formula(tmp_path):
    px = _pixels()
    path = make_dicom(tmp_path / "w.dcm", px, RescaleSlope=2, RescaleIntercept=-100,
                      WindowCenter=3000, WindowWidth=4001, PixelSpacing=[0.15, 0.2])
    rg = read_image(path)
    x = px * 2.0 - 100.0  # hand computation of PS3.3 C.11.2.1.2.1
    want = np.clip((x - 2999.5) / 4000.0 + 0.5, 0, 1)
    assert np.allclose(rg.pixels, want, atol=1e-6)
    assert rg.spacing_mm == (0.15, 0.2) and rg.meta["bits_stored"] == 12


def test_monochrome1_is_inverted_and_imager_spacing(tmp_path):
    px = _pixels()
    m2 = read_image(make_dicom(tmp_path / "m2.dcm", px))
    m1 = read_image(make_dicom(tmp_path / "m1.dcm", px, "MONOCHROME1",
                               ImagerPixelSpacing=[0.143, 0.143]))
    assert np.allclose(m2.pixels, px / 4095.0, atol=1e-6)  # no VOI: full 12-bit range
    assert np.allclose(m1.pixels, 1.0 - m2.pixels, atol=1e-6)
    assert m1.spacing_mm == (0.143, 0.143) and m2.spacing_mm is None
    assert np.allclose(read_image(tmp_path / "m1.dcm", invert=True).pixels, m2.pixels)


def test_bits_above_bits_stored_are_dropped_with_a_warning(tmp_path):
    px = _pixels()
    dirty = px.copy()
    dirty[:3] |= np.uint16(0xF000)               # 3 rows of 32 pixels with high bits set
    path = make_dicom(tmp_path / "d.dcm", dirty)
    with pytest.warns(UserWarning, match=r"d.dcm: 96 of 768 pixels have values above "
                      r"BitsStored \(12 bits, max 4095\).*kept the low 12 bits"):
        rg = read_image(path)
    assert np.allclose(rg.pixels, px / 4095.0, atol=1e-6)
    with pytest.raises(ImageFormatError, match=r"d.dcm: 96 of 768 pixels .*BitsStored"):
        read_image(path, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # clean 12-bit data: silent, strict or not
        read_image(make_dicom(tmp_path / "clean.dcm", px), strict=True)


def test_not_dicom_message_has_no_pydicom_hint(tmp_path):
    (tmp_path / "x.dcm").write_bytes(b"not a dicom file at all" * 20)
    with pytest.raises(ImageFormatError, match=r"x.dcm: not a DICOM file") as err:
        read_image(tmp_path / "x.dcm")
    assert "force" not in str(err.value)


def test_size_limit_from_the_header(tmp_path, monkeypatch):
    path = make_dicom(tmp_path / "s.dcm", _pixels())
    with pytest.raises(ImageFormatError, match=r"s.dcm: image is 32 x 24 pixels .*--max-pixels"):
        read_image(path, max_pixels=700)
    reads = []
    real = pydicom.dcmread
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: reads.append(k) or real(*a, **k))
    with pytest.raises(ImageFormatError):
        read_image(path, max_pixels=700)
    assert reads == [{"stop_before_pixels": True}]   # refused before the pixel data was read
    assert read_image(path, max_pixels=768).pixels.shape == (24, 32)


def test_detected_by_magic_without_suffix(tmp_path):
    path = make_dicom(tmp_path / "IM0001", _pixels())
    assert read_image(path).meta["photometric"] == "MONOCHROME2"


def test_multiframe_and_colour_are_refused(tmp_path):
    multi = make_dicom(tmp_path / "mf.dcm", np.stack([_pixels()] * 2), frames=2)
    with pytest.raises(ImageFormatError, match="mf.dcm: multi-frame"):
        read_image(multi)
    rgb = make_dicom(tmp_path / "rgb.dcm", _pixels(), "RGB", samples=3, PlanarConfiguration=0)
    with pytest.raises(ImageFormatError, match="rgb.dcm: unsupported Photometric"):
        read_image(rgb)


def test_undecodable_transfer_syntax_is_named(tmp_path):
    path = tmp_path / "j2k.dcm"
    make_dicom(path, _pixels())
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageFormatError, match=r"j2k.dcm: .*JPEG 2000"):
        read_image(path)


def test_truncated_dicom(tmp_path):
    path = make_dicom(tmp_path / "t.dcm", _pixels())
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(ImageFormatError, match="t.dcm"):
        read_image(path)


def test_voi_lut_sequence_is_applied(tmp_path):
    px = _pixels()
    lut = np.round(np.sqrt(np.arange(4096) / 4095.0) * 4095).astype(np.uint16)
    item = pydicom.Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.add_new("LUTData", "US", lut.tolist())
    path = make_dicom(tmp_path / "lut.dcm", px, VOILUTSequence=pydicom.Sequence([item]),
                      WindowCenter=100, WindowWidth=10)  # the LUT wins over the window
    rg = read_image(path)
    assert rg.meta["voi"] == "voi_lut"
    assert np.allclose(rg.pixels, lut[px] / 4095.0, atol=1e-6)


def test_reading_makes_one_float64_image_at_a_time(tmp_path):
    px = (np.arange(256 * 256) % 4096).astype(np.uint16).reshape(256, 256)
    path = make_dicom(tmp_path / "big.dcm", px, "MONOCHROME1", WindowCenter=2048, WindowWidth=4000)
    tracemalloc.start()
    try:
        read_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # file bytes 2 + stored 2 + float64 8 + float32 result 4 = 16 bytes a pixel (was 28)
    assert peak < 18 * px.size
