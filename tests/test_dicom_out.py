"""DICOM outputs: bone-suppressed derived CR/DX or Secondary Capture and organ SEG (sources
made with pydicom, and the real Philips chest CR of the PyPI package pydicom-data), each checked
with dicom3tools' dciodvfy when it is installed."""

import json
import os
import shutil
import subprocess

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

from cxrmt.io.dicom import read_dicom  # noqa: E402
from cxrmt.io.dicom_out import (read_segmentation, write_bone_image,  # noqa: E402
                                write_secondary_capture, write_segmentation)

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
    bits = bone.dtype.itemsize * 8
    assert out.BitsAllocated == out.BitsStored == bits
    assert out.PhotometricInterpretation == "MONOCHROME2"
    assert list(out.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert f"cxrmt {cxrmt.__version__}" in out.DerivationDescription
    assert "bone-suppressed" in out.DerivationDescription
    ref = out.SourceImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == src.SOPClassUID
    if source == "dx12":
        assert [float(v) for v in out.PixelSpacing] == [0.15, 0.2]
        assert list(out.PatientOrientation) == ["L", "F"]
    else:  # detector-plane ImagerPixelSpacing is not relabelled as PixelSpacing
        assert "PixelSpacing" not in out and "ImagerPixelSpacing" not in out
    assert (float(out.WindowCenter), float(out.WindowWidth)) == (2.0 ** (bits - 1), 2.0 ** bits)
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
    # PS3.16: Lung with a laterality modifier (CID 244), Heart.
    want = {1: ("Right lung", "39607008", "24028007"), 2: ("Left lung", "39607008", "7771000"),
            3: ("Heart", "80891009", None)}
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
        modifier = typ.get("SegmentedPropertyTypeModifierCodeSequence")
        assert modifier is None or modifier[0].CodingSchemeDesignator == "SCT"
        got[int(item.SegmentNumber)] = (item.SegmentLabel, typ.CodeValue,
                                        modifier[0].CodeValue if modifier else None)
    assert got == want
    refs = [r.ReferencedSOPInstanceUID
            for s in seg.ReferencedSeriesSequence for r in s.ReferencedInstanceSequence]
    assert refs == [src.SOPInstanceUID]
    frames = _frames_by_segment(seg)
    expect = {1: masks[2], 2: masks[1], 3: masks[0]}
    assert set(frames) == {1, 2, 3}
    for num, mask in expect.items():
        assert np.array_equal(frames[num], mask), num
    # The spacing is kept in a Pixel Measures item (PixelSpacing only: a true PixelSpacing;
    # detector-plane ImagerPixelSpacing has no place there), and highdicom reads the SEG back.
    measures = seg.SharedFunctionalGroupsSequence[0].get("PixelMeasuresSequence")
    if source == "dx12":
        assert [float(v) for v in measures[0].PixelSpacing] == [0.15, 0.2]
    else:
        assert measures is None
    px = read_segmentation(out_path).get_pixels_by_source_instance(
        [src.SOPInstanceUID], combine_segments=False)
    assert px.shape == (1, H, W, 3)
    assert np.array_equal(px[0], np.stack([masks[2], masks[1], masks[0]], -1))
    assert list(seg.PatientOrientation) == (["L", "F"] if source == "dx12" else [])


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


# --- validation with dciodvfy: generated 12-bit CR/DX and the real chest CR ------------------

def dciodvfy(path) -> list:
    """dciodvfy's warnings for `path`; fails the test on any error it reports."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy not installed (Debian package dicom3tools; .ci/run installs it)")
    done = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
    lines = (done.stdout + done.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    assert not errors, f"dciodvfy {path}:\n" + "\n".join(errors)
    warnings = [line for line in lines if line.startswith("Warning")]
    print(f"dciodvfy {os.path.basename(path)}: {len(warnings)} warnings", *warnings, sep="\n  ")
    return warnings


def _code(value, scheme, meaning):
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def make_radiograph(path, modality, photometric, rng):
    """A 12-bit CR or DX For Presentation source that dciodvfy accepts without errors."""
    dx = modality == "DX"
    tags = dict(PatientOrientation=["L", "F"], BodyPartExamined="CHEST", ViewPosition="PA",
                Manufacturer="test", SeriesNumber=1, InstanceNumber=1, ContentDate="20240229",
                ContentTime="101112", ImageType=["ORIGINAL", "PRIMARY"],
                ImagerPixelSpacing=[0.143, 0.143], WindowCenter=1500, WindowWidth=2000,
                photometric=photometric)
    if dx:
        tags.update(
            PresentationIntentType="FOR PRESENTATION", ImageLaterality="U", PositionerType="",
            AnatomicRegionSequence=[_code("51185008", "SCT", "Chest")],
            ViewCodeSequence=[_code("399348003", "SCT", "postero-anterior")],
            AcquisitionContextSequence=[], PixelIntensityRelationship="LOG",
            PixelIntensityRelationshipSign=1 if photometric == "MONOCHROME1" else -1,
            RescaleIntercept=0, RescaleSlope=1, RescaleType="US", LossyImageCompression="00",
            PresentationLUTShape="INVERSE" if photometric == "MONOCHROME1" else "IDENTITY",
            BurnedInAnnotation="NO", DetectorType="SCINTILLATOR",
            PixelSpacing=[0.13, 0.13], PixelSpacingCalibrationType="GEOMETRY",
            PixelSpacingCalibrationDescription="test phantom",
            EstimatedRadiographicMagnificationFactor=1.1)
    sop = DigitalXRayImageStorageForPresentation if dx else ComputedRadiographyImageStorage
    return make_source(path, rng.integers(0, 4096, (H, W), dtype=np.uint16), sop, **tags)


@pytest.mark.parametrize("modality", ["CR", "DX"])
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_derived_radiograph_validates_and_displays_like_the_source(modality, photometric,
                                                                   tmp_path, rng):
    src_path = make_radiograph(tmp_path / "src.dcm", modality, photometric, rng)
    dciodvfy(src_path)  # the source is valid, so any error below is ours
    bone = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    masks = (rng.random((3, H, W)) < 0.3).astype(np.uint8)
    sop = write_bone_image(src_path, bone, tmp_path / "bse.dcm")
    write_segmentation(src_path, masks, tmp_path / "seg.dcm")
    for name in ("bse.dcm", "seg.dcm"):
        dciodvfy(tmp_path / name)
    src, out = pydicom.dcmread(src_path), pydicom.dcmread(tmp_path / "bse.dcm")
    _check_derived(out, src)
    assert sop == out.SOPClassUID == src.SOPClassUID and out.Modality == modality
    assert list(out.ImageType) == ["DERIVED", "PRIMARY"]
    assert out.SourceImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert (out.BitsStored, out.PhotometricInterpretation) == (12, photometric)
    # Displayed through its own window, the output is the bone image (to one 12-bit step).
    shown = read_dicom(tmp_path / "bse.dcm").pixels
    assert np.abs(shown - bone / 65535.0).max() <= 0.5 / 4095 + 1e-6
    # Spacing keeps its meaning: detector plane stays ImagerPixelSpacing; PixelSpacing and its
    # calibration only where the source had them.
    assert [float(v) for v in out.ImagerPixelSpacing] == [0.143, 0.143]
    if modality == "DX":
        assert [float(v) for v in out.PixelSpacing] == [0.13, 0.13]
        assert out.PixelSpacingCalibrationType == "GEOMETRY"
        assert out.PresentationIntentType == "FOR PRESENTATION"
    else:
        assert "PixelSpacing" not in out


def test_secondary_capture_and_seg_of_other_sources_validate(tmp_path, rng):
    """Minimal, odd sources (8-bit CR without orientation, a DX with a Frame of Reference but
    without DX attributes, an SC, a paired body part) still give valid objects."""
    px16 = rng.integers(0, 4096, (H, W), dtype=np.uint16)
    px8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
    sources = [
        make_source(tmp_path / "cr8.dcm", px8, ComputedRadiographyImageStorage, bits_stored=8,
                    photometric="MONOCHROME1", ImagerPixelSpacing=[0.1, 0.1]),
        make_source(tmp_path / "dx.dcm", px16, PixelSpacing=[0.15, 0.2],
                    FrameOfReferenceUID=generate_uid()),
        make_source(tmp_path / "sc.dcm", px16, SecondaryCaptureImageStorage,
                    ConversionType="DI", ImagerPixelSpacing=[0.1, 0.1]),
        make_source(tmp_path / "hand.dcm", px8, ComputedRadiographyImageStorage, bits_stored=8,
                    BodyPartExamined="HAND"),
    ]
    want = ["1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.7",
            "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.1"]
    masks = (rng.random((3, H, W)) < 0.3).astype(np.uint8)
    for src_path, sop in zip(sources, want):
        assert write_bone_image(src_path, px16 * 16, tmp_path / "bse.dcm") == sop
        write_segmentation(src_path, masks, tmp_path / "seg.dcm")
        dciodvfy(tmp_path / "bse.dcm")
        dciodvfy(tmp_path / "seg.dcm")


def _real_cr(name):
    store = pytest.importorskip("data_store", reason="PyPI package pydicom-data not installed")
    path = os.path.join(os.path.dirname(store.__file__), "data", name)
    if not os.path.isfile(path):
        pytest.skip(f"{name} not in pydicom-data")
    return path


def test_real_chest_cr_spacing_is_not_zero():
    """RG1 carries PixelSpacing [0, 0] (and no ImagerPixelSpacing): no spacing, no 0 mm²."""
    rg = read_dicom(_real_cr("RG1_UNCR.dcm"))
    assert rg.spacing_mm is None and rg.meta["spacing_tag"] is None


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm", "RG1_J2KR.dcm"])
def test_real_chest_cr_with_the_shipped_model(name, tmp_path):
    """The Philips chest CR (1955x1841, 15-bit, MONOCHROME1) through `cxrmt infer
    --dicom-out`: valid outputs, and the SEG holds both lungs and the heart, in place."""
    from cxrmt.cli import main
    from cxrmt.evaluate.sheet import organ_check

    src_path = _real_cr(name)
    if name.endswith("J2KR.dcm"):
        try:
            pydicom.dcmread(src_path).pixel_array
        except Exception as exc:  # no JPEG 2000 decoder (pillow with openjpeg, pylibjpeg)
            pytest.skip(f"cannot decode {name}: {exc}")
    assert main(["infer", src_path, "--out", str(tmp_path), "--dicom-out", "--quiet"]) == 0
    stem = tmp_path / name[:-4]
    for suffix in ("_bse.dcm", "_seg.dcm"):
        dciodvfy(f"{stem}{suffix}")
    src = pydicom.dcmread(src_path, stop_before_pixels=True)
    bse = pydicom.dcmread(f"{stem}_bse.dcm")
    assert (bse.Modality, bse.BitsStored, bse.PhotometricInterpretation) == (
        "CR", 15, "MONOCHROME1")
    assert "PixelSpacing" not in bse  # the source's [0, 0] is not copied
    with open(f"{stem}.json") as fh:
        record = json.load(fh)
    assert record["input"]["spacing_mm"] is None and "area_mm2" not in record["organs"]["heart"]
    seg = read_segmentation(f"{stem}_seg.dcm")
    px = seg.get_pixels_by_source_instance([src.SOPInstanceUID], combine_segments=False)[0]
    masks = np.stack([px[..., 2], px[..., 1], px[..., 0]])  # cxrmt.ORGANS order
    check = organ_check(masks)
    assert check["ok"], check
    assert 0.05 < check["area_right_lung"] < 0.35 and 0.05 < check["area_left_lung"] < 0.35
    assert 0.02 < check["area_heart"] < 0.2


@pytest.mark.parametrize("modality, tag, spacing", [("CR", "ImagerPixelSpacing", 0.143),
                                                   ("DX", "PixelSpacing", 0.13)])
def test_json_mm_come_from_the_right_spacing(modality, tag, spacing, tmp_path, rng):
    """DX: PixelSpacing (in the patient) before ImagerPixelSpacing; CR with only the detector
    spacing: the JSON says the mm are not corrected for magnification."""
    from cxrmt.cli import main

    src = make_radiograph(tmp_path / "src.dcm", modality, "MONOCHROME2", rng)
    assert main(["infer", str(src), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    with open(tmp_path / "out" / "src.json") as fh:
        record = json.load(fh)
    assert record["input"]["spacing_mm"] == [spacing, spacing]
    lung = record["organs"]["right_lung"]
    assert lung["area_mm2"] == round(lung["area_px"] * spacing * spacing, 2)
    assert record["spacing_note"].startswith(tag)
    assert ("not corrected for magnification" in record["spacing_note"]) == (modality == "CR")


def test_dx_for_processing_gives_dx_for_presentation(tmp_path, rng):
    src_path = make_radiograph(tmp_path / "src.dcm", "DX", "MONOCHROME1", rng)
    src = pydicom.dcmread(src_path)
    src.SOPClassUID = src.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1.1"
    src.PresentationIntentType, src.PixelIntensityRelationship = "FOR PROCESSING", "LIN"
    del src.WindowCenter, src.WindowWidth
    src.save_as(src_path)
    dciodvfy(src_path)
    bone = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    assert write_bone_image(src_path, bone, tmp_path / "bse.dcm") == (
        DigitalXRayImageStorageForPresentation)
    dciodvfy(tmp_path / "bse.dcm")
    out = pydicom.dcmread(tmp_path / "bse.dcm")
    assert out.PresentationIntentType == "FOR PRESENTATION" and "WindowCenter" in out
