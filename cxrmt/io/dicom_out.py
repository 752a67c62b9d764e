"""DICOM outputs placed in the source image's study: a bone-suppressed Secondary Capture and a
binary DICOM SEG of the three organs (pydicom and highdicom are imported only when called).

Both writers read the source DICOM again (for its identifiers and patient/study attributes),
check the arrays against it, build the object with highdicom, and save it atomically: after a
failure neither the output path nor a temporary file is left behind.

Projection radiographs (CR, DX, SC) usually have no Frame of Reference; highdicom then writes a
SEG without plane positions, aligned pixel for pixel with the single source frame.
"""

import copy
import os

import numpy as np

from .. import __version__
from .._optional import require
from ..contract import LABELS, ORGANS
from ..errors import ImageFormatError
from .writers import atomic_path

# Attributes copied verbatim from the source (after highdicom has built the object), so odd but
# legal values (a name without '^', a lower-case sex) survive highdicom's stricter checks.
_PATIENT_STUDY = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientSize", "PatientWeight", "OtherPatientIDsSequence",
    "PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
    "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID",
    "StudyDescription",
)
# Type 2 attributes highdicom reads from the source without a default.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
          "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName")

_SC_SERIES_NUMBER = 9901
_SEG_SERIES_NUMBER = 9902
_MANUFACTURER = "cxrmt"

# SNOMED CT codes of the segments, in DICOM segment-number order (= cxrmt.LABELS 1, 2, 3).
_SEGMENT_CODES = {"right_lung": ("3341006", "Right lung"),
                  "left_lung": ("44029006", "Left lung"),
                  "heart": ("80891009", "Heart")}
_SEGMENT_COLOURS = {"right_lung": (0, 128, 255), "left_lung": (0, 200, 0),  # sRGB, display hint
                    "heart": (220, 30, 30)}


def _version() -> str:
    return __version__


def _read_source(source):
    """Read and check the source DICOM; return (full dataset, metadata-only copy for highdicom)."""
    pydicom = require("pydicom", "dicom")
    if not os.path.isfile(source):
        raise ImageFormatError(source, "no such file")
    try:
        ds = pydicom.dcmread(source)
    except Exception as exc:  # InvalidDicomError, truncated files, bad encodings
        raise ImageFormatError(source, f"not a readable DICOM file: {exc}") from exc
    meta = getattr(ds, "file_meta", None)
    for kw, meta_kw in (("SOPClassUID", "MediaStorageSOPClassUID"),
                        ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
        if not ds.get(kw) and meta is not None and meta.get(meta_kw):
            setattr(ds, kw, meta.get(meta_kw))
    missing = [kw for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                             "SOPClassUID", "Rows", "Columns") if not ds.get(kw)]
    if missing:
        raise ImageFormatError(source, f"DICOM file lacks {', '.join(missing)}; cannot derive "
                               "an object in its study")
    if "PixelData" not in ds:
        raise ImageFormatError(source, "DICOM file has no pixel data")
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise ImageFormatError(source, f"multi-frame DICOM ({ds.NumberOfFrames} frames) "
                               "is not supported")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise ImageFormatError(source, f"colour DICOM ({ds.get('PhotometricInterpretation')}) "
                               "is not supported")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImageFormatError(source, f"unsupported PhotometricInterpretation {photometric}")

    # Metadata-only dataset sharing the source's elements, minus the ones highdicom validates.
    ref = pydicom.Dataset()
    for elem in ds:
        if elem.keyword not in _TYPE2 and elem.keyword != "PixelData":
            ref.add(elem)
    if meta is not None:
        ref.file_meta = meta
    for kw in _TYPE2:  # blanked for highdicom's checks; the real values are copied afterwards
        setattr(ref, kw, "" if kw not in ("StudyDate", "StudyTime", "PatientBirthDate")
                else None)
    if not ref.get("Modality"):
        ref.Modality = "OT"
    return ds, ref


def _copy_patient_study(out, src) -> None:
    for kw in _PATIENT_STUDY:
        if kw in src:
            out[kw] = copy.deepcopy(src[kw])
    if "SpecificCharacterSet" in src:
        out.SpecificCharacterSet = src.SpecificCharacterSet


def _shape(ds):
    return int(ds.Rows), int(ds.Columns)


def _check_shape(path, source, ds, shape, what):
    if tuple(shape) != _shape(ds):
        raise ValueError(f"{os.fspath(path)}: {what} shape {tuple(shape)} does not match the "
                         f"source image {os.fspath(source)} shape {_shape(ds)} (rows, columns)")


def _source_spacing(ds):
    """PixelSpacing of the source, else its ImagerPixelSpacing (detector plane), else None."""
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(kw)
        if value is not None and len(value) == 2:
            return list(value)
    return None


def _save(dataset, path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        dataset.save_as(fh, enforce_file_format=True)
        fh.flush()
        os.fsync(fh.fileno())


def _wrap(path, source, what, exc):
    return ValueError(f"{os.fspath(path)}: cannot build the {what} for source "
                      f"{os.fspath(source)}: {exc}")


def write_secondary_capture(source, bone, path, *, description="cxrmt bone-suppressed") -> None:
    """Write `bone` ((H, W) uint8 or uint16, display polarity, full dtype range) as a DICOM
    Secondary Capture in the study of the DICOM file `source`, referencing it.

    Patient and study attributes are copied, Series/SOP Instance UIDs are new, PixelSpacing is
    the source's PixelSpacing (or ImagerPixelSpacing when that is all it has). Raises
    ImageFormatError for an unusable source, ValueError for a bad array; nothing is left at
    `path` on failure.
    """
    pydicom = require("pydicom", "dicom")
    hd = require("highdicom", "dicom")
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian

    bone = np.asarray(bone)
    if bone.ndim != 2 or bone.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{os.fspath(path)}: bone image must be a 2-D uint8 or uint16 array, "
                         f"got {bone.dtype} {bone.shape}")
    ds, ref = _read_source(source)
    _check_shape(path, source, ds, bone.shape, "bone image")
    bits = bone.dtype.itemsize * 8
    try:
        sc = hd.sc.SCImage.from_ref_dataset(
            ref, np.ascontiguousarray(bone), photometric_interpretation="MONOCHROME2",
            bits_allocated=bits, coordinate_system="PATIENT",
            series_instance_uid=hd.UID(), series_number=_SC_SERIES_NUMBER,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer=_MANUFACTURER,
            # highdicom insists on an orientation for PATIENT; the source's is copied below.
            patient_orientation=("L", "F"), transfer_syntax_uid=ExplicitVRLittleEndian,
            series_description=description[:64], software_versions=f"cxrmt {_version()}")
    except (ValueError, TypeError, KeyError) as exc:
        raise _wrap(path, source, "Secondary Capture", exc) from exc
    try:
        sc.copy_patient_and_study_information(ref)  # Patient/Study modules: age, trial, ...
    except KeyError:  # SOP class unknown to highdicom: the core attributes are copied below
        pass
    _copy_patient_study(sc, ds)
    # PatientOrientation is type 2C in SC: the source's when known, else empty.
    orientation = ds.get("PatientOrientation")
    sc.PatientOrientation = list(orientation) if orientation and len(orientation) == 2 else None
    for kw in ("BodyPartExamined", "Laterality", "ImageLaterality"):
        if ds.get(kw):
            setattr(sc, kw, ds.get(kw))
    spacing = _source_spacing(ds)
    if spacing is not None:
        sc.PixelSpacing = spacing
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = f"bone-suppressed by cxrmt {_version()}"[:1024]
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    purpose = Dataset()  # CID 7202: source image for image processing operation
    purpose.CodeValue, purpose.CodingSchemeDesignator = "121322", "DCM"
    purpose.CodeMeaning = "Source image for image processing operation"
    item.PurposeOfReferenceCodeSequence = pydicom.Sequence([purpose])
    sc.SourceImageSequence = pydicom.Sequence([item])
    _save(sc, path)


def write_segmentation(source, masks, path, *, model_id="cxrmt") -> None:
    """Write `masks` ((3, H, W) uint8 0/1 in cxrmt.ORGANS order: heart, left lung, right lung)
    as a binary DICOM SEG of the DICOM file `source`, in its study and referencing it.

    Segments 1, 2, 3 are 'Right lung', 'Left lung', 'Heart' (cxrmt.LABELS), typed with SNOMED CT
    codes, algorithm AUTOMATIC (name `model_id`, version cxrmt's, family Artificial
    Intelligence). Every segment gets its frame, so empty segments are kept. Raises
    ImageFormatError for an unusable source, ValueError for a bad array; nothing is left at
    `path` on failure.
    """
    require("pydicom", "dicom")
    hd = require("highdicom", "dicom")
    from pydicom.sr.codedict import codes
    from pydicom.uid import ExplicitVRLittleEndian


    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[0] != len(ORGANS):
        raise ValueError(f"{os.fspath(path)}: masks must be ({len(ORGANS)}, H, W) in the order "
                         f"{ORGANS}, got shape {masks.shape}")
    if masks.dtype not in (np.uint8, np.bool_):
        raise ValueError(f"{os.fspath(path)}: masks must be uint8 0/1, got {masks.dtype}")
    if masks.dtype == np.uint8 and masks.max(initial=0) > 1:
        raise ValueError(f"{os.fspath(path)}: masks must hold only 0 and 1, got values "
                         f"{np.unique(masks)[:8].tolist()}")
    ds, ref = _read_source(source)
    _check_shape(path, source, ds, masks.shape[1:], "mask")

    organs = sorted((o for o in ORGANS), key=LABELS.__getitem__)  # right, left lung, heart
    algorithm = hd.AlgorithmIdentificationSequence(
        name=str(model_id)[:64], family=codes.cid7162.ArtificialIntelligence,
        version=_version(), source="cxrmt")
    descriptions = []
    for organ in organs:
        value, meaning = _SEGMENT_CODES[organ]
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=LABELS[organ], segment_label=meaning,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=hd.sr.CodedConcept(value, "SCT", meaning),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            display_color=hd.color.CIELabColor.from_rgb(*_SEGMENT_COLOURS[organ])))
    # (1, H, W, segments): one plane, segments along the last axis in segment-number order.
    stack = np.stack([masks[ORGANS.index(o)] for o in organs], axis=-1).astype(np.uint8)[None]
    try:
        seg = hd.seg.Segmentation(
            source_images=[ref], pixel_array=stack, segmentation_type="BINARY",
            segment_descriptions=descriptions, series_instance_uid=hd.UID(),
            series_number=_SEG_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer=_MANUFACTURER, manufacturer_model_name=str(model_id)[:64],
            software_versions=f"cxrmt {_version()}", device_serial_number="0",
            content_label="CXRMT_ORGANS", content_description="cxrmt organ segmentation",
            series_description="cxrmt organ segmentation", omit_empty_frames=False,
            transfer_syntax_uid=ExplicitVRLittleEndian)
    except (ValueError, TypeError, KeyError) as exc:
        raise _wrap(path, source, "segmentation", exc) from exc
    # For a projection image (no plane position) highdicom copies PixelSpacing into a Pixel
    # Measures item without SliceThickness, which its own reader (segread) then rejects. The SEG
    # frame is pixel-aligned with the referenced image (SpatialLocationsPreserved YES), so the
    # spacing lives there; drop the incomplete item.
    shared = seg.SharedFunctionalGroupsSequence[0]
    if ("PlaneOrientationSequence" not in shared and "PixelMeasuresSequence" in shared
            and "SliceThickness" not in shared.PixelMeasuresSequence[0]):
        del shared.PixelMeasuresSequence
    _copy_patient_study(seg, ds)
    _save(seg, path)
