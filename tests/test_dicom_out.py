"""DICOM outputs: bone-suppressed Secondary Capture and organ SEG (sources made with pydicom)."""

import os

import numpy as np
import pytest

import cxrmt
from cxrmt.io import ImageFormatError

pytest.importorskip("highdicom")
pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import FileMetaDataset  # noqa: E402
from pydicom.uid import (ComputedRadiographyImageStorage,  # noqa: E402
                         DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian,
                         SecondaryCaptureImageStorage, generate_uid)

from cxrmt.io.dicom_out import write_secondary_capture, write_segmentation  # noqa: E402

H, W = 40, 56  # non-square on purpose
PATIENT = {"PatientName": "Doe^Jane", "PatientID": "PID-42", "PatientBirthDate": "19700102",
           "PatientSex": "F", "StudyDate": "20240229", "StudyTime": "101112",
           "AccessionNumber": "ACC7", "ReferringPhysicianName": "Who^Doctor", "StudyID": "S1"}


def make_source(path, pixels, sop_class=DigitalXRayImageStorageForPresentation, bits_stored=12,
                patient=PATIENT, **tags):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "DX" if sop_class == DigitalXRayImageStorageForPresentation else "CR"
    for k, v in patient.items():
        setattr(ds, k, v)
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = tags.pop("samples", 1)
    ds.PhotometricInterpretation = tags.pop("photometric", "MONOCHROME2")
    alloc = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = alloc, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def dx12(tmp_path, rng):
    px = rng.integers(0, 4096, (H, W), dtype=np.uint16)
    return make_source(tmp_path / "dx.dcm", px, PixelSpacing=[0.15, 0.2],
                       ImagerPixelSpacing=[0.143, 0.143], PatientOrientation=["L", "F"],
                       FrameOfReferenceUID=generate_uid())


@pytest.fixture
def cr8(tmp_path, rng):
    # Minimal CR: 8-bit, MONOCHROME1, only ImagerPixelSpacing, no orientation or frame of ref.
    px = rng.integers(0, 256, (H, W), dtype=np.uint8)
    return make_source(tmp_path / "cr.dcm", px, ComputedRadiographyImageStorage, bits_stored=8,
                       photometric="MONOCHROME1", ImagerPixelSpacing=[0.1, 0.1])


def _check_derived(out, src):
    """Same study and patient, new series and instance, same matrix."""
    assert out.StudyInstanceUID == src.StudyInstanceUID
    uids = {out.SeriesInstanceUID, out.SOPInstanceUID, src.SeriesInstanceUID,
            src.SOPInstanceUID}
    assert len(uids) == 4
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    for k, v in PATIENT.items():
        assert str(out.get(k)) == v, k
    assert (out.Rows, out.Columns) == (H, W)


def _no_leftovers(folder, keep):
    assert sorted(os.listdir(folder)) == sorted(keep)


@pytest.mark.parametrize("source, dtype", [("dx12", np.uint16), ("cr8", np.uint8)])
def test_secondary_capture_round_trip(source, dtype, request, tmp_path, rng):
    src_path = request.getfixturevalue(source)
    bone = rng.integers(0, np.iinfo(dtype).max, (H, W), dtype=dtype, endpoint=True)
    out_path = tmp_path / "out" / "bone.dcm"
    write_secondary_capture(src_path, bone, out_path)
    src, out = pydicom.dcmread(src_path), pydicom.dcmread(out_path)
    _check_derived(out, src)
    assert out.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
    assert np.array_equal(out.pixel_array, bone) and out.pixel_array.dtype == dtype
    assert out.BitsAllocated == out.BitsStored == bone.dtype.itemsize * 8
    assert out.PhotometricInterpretation == "MONOCHROME2"
    assert list(out.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert f"cxrmt {cxrmt.__version__}" in out.DerivationDescription
    assert "bone-suppressed" in out.DerivationDescription
    ref = out.SourceImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == src.SOPClassUID
    want = src.get("PixelSpacing") or src.ImagerPixelSpacing
    assert [float(v) for v in out.PixelSpacing] == [float(v) for v in want]
    if source == "dx12":
        assert list(out.PatientOrientation) == ["L", "F"]
    _no_leftovers(tmp_path / "out", ["bone.dcm"])


def _frames_by_segment(ds):
    """Independent decode with pydicom: {segment number: (H, W) uint8} from the frames."""
    frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    out = {}
    for item, frame in zip(ds.PerFrameFunctionalGroupsSequence, frames):
        num = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        assert num not in out
        out[num] = frame.astype(np.uint8)
    return out


@pytest.mark.parametrize("source", ["dx12", "cr8"])
def test_segmentation_round_trip(source, request, tmp_path, rng):
    src_path = request.getfixturevalue(source)
    masks = (rng.random((3, H, W)) < 0.3).astype(np.uint8)  # heart, left lung, right lung
    masks[0] = 0  # an empty heart segment is still written
    out_path = tmp_path / "seg.dcm"
    write_segmentation(src_path, masks, out_path)
    src, seg = pydicom.dcmread(src_path), pydicom.dcmread(out_path)
    _check_derived(seg, src)
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and seg.Modality == "SEG"
    assert seg.SegmentationType == "BINARY"
    want = {1: ("Right lung", "3341006"), 2: ("Left lung", "44029006"), 3: ("Heart", "80891009")}
    assert cxrmt.LABELS == {"background": 0, "right_lung": 1, "left_lung": 2, "heart": 3}
    got = {}
    for item in seg.SegmentSequence:
        assert item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "91723000"
        typ = item.SegmentedPropertyTypeCodeSequence[0]
        assert typ.CodingSchemeDesignator == "SCT"
        assert item.SegmentAlgorithmType == "AUTOMATIC"
        alg = item.SegmentationAlgorithmIdentificationSequence[0]
        assert alg.AlgorithmName == "cxrmt" and alg.AlgorithmVersion == cxrmt.__version__
        assert alg.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
        got[int(item.SegmentNumber)] = (item.SegmentLabel, typ.CodeValue)
    assert got == want
    refs = [r.ReferencedSOPInstanceUID
            for s in seg.ReferencedSeriesSequence for r in s.ReferencedInstanceSequence]
    assert refs == [src.SOPInstanceUID]
    frames = _frames_by_segment(seg)
    expect = {1: masks[2], 2: masks[1], 3: masks[0]}
    assert set(frames) == {1, 2, 3}
    for num, mask in expect.items():
        assert np.array_equal(frames[num], mask), num
    # highdicom's own reader agrees.
    hd = pytest.importorskip("highdicom")
    px = hd.seg.segread(out_path).get_pixels_by_source_instance(
        [src.SOPInstanceUID], combine_segments=False)
    assert px.shape == (1, H, W, 3)
    assert np.array_equal(px[0], np.stack([masks[2], masks[1], masks[0]], -1))


def test_errors_name_the_file_and_leave_nothing(tmp_path, dx12):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    masks = np.zeros((3, H, W), np.uint8)
    bone = np.zeros((H, W), np.uint8)
    with pytest.raises(ImageFormatError, match="x.png"):
        write_secondary_capture(png, bone, out_dir / "a.dcm")
    with pytest.raises(ImageFormatError, match="x.png"):
        write_segmentation(png, masks, out_dir / "b.dcm")
    with pytest.raises(ValueError, match=r"\(40, 55\).*\(40, 56\)"):
        write_secondary_capture(dx12, bone[:, :-1], out_dir / "a.dcm")
    with pytest.raises(ValueError, match=r"\(56, 40\).*\(40, 56\)"):
        write_segmentation(dx12, masks.transpose(0, 2, 1), out_dir / "b.dcm")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_secondary_capture(dx12, bone.astype(np.float32), out_dir / "a.dcm")
    with pytest.raises(ValueError, match="only 0 and 1"):
        write_segmentation(dx12, masks + 2, out_dir / "b.dcm")
    with pytest.raises(ValueError, match="3, H, W"):
        write_segmentation(dx12, masks[:2], out_dir / "b.dcm")
    # A failure inside the writer (after the temp file was made) removes the temp file.
    import cxrmt.io.dicom_out as mod

    def broken(dataset, fh, **kw):
        fh.write(b"partial")
        raise OSError("disk full")

    orig = pydicom.Dataset.save_as
    try:
        pydicom.Dataset.save_as = broken
        with pytest.raises(OSError, match="disk full"):
            mod.write_secondary_capture(dx12, bone, out_dir / "a.dcm")
    finally:
        pydicom.Dataset.save_as = orig
    _no_leftovers(out_dir, [])


def test_multiframe_and_colour_sources_are_refused(tmp_path):
    multi = make_source(tmp_path / "mf.dcm", np.zeros((2, H, W), np.uint16), NumberOfFrames=2)
    rgb = make_source(tmp_path / "rgb.dcm", np.zeros((H, W, 3), np.uint8)[..., 0],
                      photometric="RGB", samples=3, bits_stored=8)
    masks = np.zeros((3, H, W), np.uint8)
    with pytest.raises(ImageFormatError, match="mf.dcm: multi-frame"):
        write_segmentation(multi, masks, tmp_path / "o.dcm")
    with pytest.raises(ImageFormatError, match="rgb.dcm: colour"):
        write_secondary_capture(rgb, np.zeros((H, W), np.uint8), tmp_path / "o.dcm")
    assert not (tmp_path / "o.dcm").exists()


def test_minimal_source_and_odd_patient_values(tmp_path):
    """No patient/study attributes, modality, orientation or spacing: both outputs are still
    written (type 2 attributes empty); odd but present values are copied verbatim."""
    bare = make_source(tmp_path / "bare.dcm", np.zeros((H, W), np.uint16),
                       SecondaryCaptureImageStorage, patient={})
    del_modality = pydicom.dcmread(bare)
    del del_modality.Modality
    del_modality.save_as(bare)
    odd = make_source(tmp_path / "odd.dcm", np.zeros((H, W), np.uint16), patient={
        **PATIENT, "PatientName": "Doe Jane"})
    masks = np.zeros((3, H, W), np.uint8)
    masks[1, 3:9, 4:20] = 1
    for src_path in (bare, odd):
        write_secondary_capture(src_path, np.full((H, W), 7, np.uint16), tmp_path / "sc.dcm")
        write_segmentation(src_path, masks, tmp_path / "seg.dcm")
        src = pydicom.dcmread(src_path)
        for out in (pydicom.dcmread(tmp_path / "sc.dcm"), pydicom.dcmread(tmp_path / "seg.dcm")):
            assert out.StudyInstanceUID == src.StudyInstanceUID
            for k in PATIENT:
                assert str(out.get(k, "")) == str(src.get(k, "")), k
        assert "PixelSpacing" not in pydicom.dcmread(tmp_path / "sc.dcm")
        assert np.array_equal(_frames_by_segment(pydicom.dcmread(tmp_path / "seg.dcm"))[2],
                              masks[1])
