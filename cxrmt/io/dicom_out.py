"""DICOM outputs placed in the source image's study: the bone-suppressed image and a binary
DICOM SEG of the three organs (pydicom and highdicom are imported only when called).

The writers read the source DICOM again (for its identifiers and patient/study attributes),
check the arrays against it, build the object, and save it atomically: after a failure neither
the output path nor a temporary file is left behind. Every output passes dicom3tools' dciodvfy
without errors (tests/test_dicom_out.py).

The bone-suppressed image of a CR or DX source is a derived image of the source's own IOD
(`write_derived_radiograph`); any other source gets a Secondary Capture.

Projection radiographs (CR, DX, SC) usually have no Frame of Reference; highdicom then writes a
SEG without plane positions, aligned pixel for pixel with the single source frame. Its Pixel
Measures item then holds PixelSpacing without SliceThickness, which PS3.3 C.7.6.16.2.1 allows
(SliceThickness is required in a SEG only with a Frame of Reference) but highdicom's reader
(`segread`, up to 0.28 at least) refuses; read such a SEG with `read_segmentation`.
"""

import copy
import datetime
import os

import numpy as np

from .. import __version__
from ..contract import LABELS, ORGANS
from .._optional import require
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

# Segment property types (PS3.16 CID 7150/7151, SNOMED CT): the lungs as Lung with a
# laterality modifier (CID 244), the convention of DICOM SEG; label, type, modifier.
_SEGMENT_CODES = {"right_lung": ("Right lung", ("39607008", "Lung"), ("24028007", "Right")),
                  "left_lung": ("Left lung", ("39607008", "Lung"), ("7771000", "Left")),
                  "heart": ("Heart", ("80891009", "Heart"), None)}
# Sources that get a derived image of their own IOD; DX For Processing becomes For Presentation.
_CR, _SC = "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.7"
_DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_DERIVED_IODS = {_CR: _CR,
                 _DX_PRESENTATION: _DX_PRESENTATION,
                 "1.2.840.10008.5.1.4.1.1.1.1.1": _DX_PRESENTATION}
# DX Type 1 attributes a derived image cannot invent: without them the source gets an SC.
_DX_TYPE1 = ("ImageLaterality", "PixelIntensityRelationship", "PixelIntensityRelationshipSign",
             "ImagerPixelSpacing", "BurnedInAnnotation", "LossyImageCompression")
# Type 2 attributes of the CR/DX modules written empty (unknown) when the source lacks them.
_TYPE2_CR = ("Manufacturer", "PatientOrientation", "BodyPartExamined", "ViewPosition")
_TYPE2_DX = ("Manufacturer", "PatientOrientation", "AnatomicRegionSequence", "DetectorType",
             "AcquisitionContextSequence", "PositionerType")
# BodyPartExamined values of unpaired parts, for which Laterality must be absent.
_UNPAIRED = {"CHEST", "ABDOMEN", "CHESTABDOMEN", "HEART", "PELVIS", "SPINE", "CSPINE",
             "TSPINE", "LSPINE", "SKULL", "HEAD", "NECK", "WHOLEBODY"}
# Source attributes that describe its stored pixel values, not the derived ones.
_PIXEL_BOUND = ("PixelData", "LargestImagePixelValue", "SmallestImagePixelValue",
                "PixelPaddingValue", "PixelPaddingRangeLimit", "ModalityLUTSequence",
                "VOILUTSequence", "VOILUTFunction", "WindowCenterWidthExplanation",
                "IconImageSequence", "InstanceCreatorUID", "DigitalSignaturesSequence",
                "OriginalAttributesSequence", "ReferencedImageSequence",
                "ReferencedPerformedProcedureStepSequence", "ExtendedOffsetTable",
                "ExtendedOffsetTableLengths", "PixelDataProviderURL")
_SEGMENT_COLOURS = {"right_lung": (0, 128, 255), "left_lung": (0, 200, 0),  # sRGB, display hint
                    "heart": (220, 30, 30)}


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
    if "PixelSpacing" in ref and _valid_spacing(ref, "PixelSpacing") is None:
        del ref.PixelSpacing  # e.g. [0, 0]: highdicom would copy it into the SEG
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


def _valid_spacing(ds, kw):
    """The (row, column) spacing in `kw` as floats, or None when absent or not positive (files
    in the wild carry [0, 0])."""
    value = ds.get(kw)
    try:
        pair = [float(v) for v in value] if value is not None else []
    except (TypeError, ValueError):
        return None
    return pair if len(pair) == 2 and min(pair) > 0 else None


def _save(dataset, path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        dataset.save_as(fh, enforce_file_format=True)
        fh.flush()
        os.fsync(fh.fileno())


def _wrap(path, source, what, exc):
    return ValueError(f"{os.fspath(path)}: cannot build the {what} for source "
                      f"{os.fspath(source)}: {exc}")


def _check_bone(path, bone):
    bone = np.asarray(bone)
    if bone.ndim != 2 or bone.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{os.fspath(path)}: bone image must be a 2-D uint8 or uint16 array, "
                         f"got {bone.dtype} {bone.shape}")
    return bone


def _source_reference(ds):
    """A Source Image Sequence item pointing at `ds`, purpose CID 7202."""
    pydicom = require("pydicom", "dicom")
    item = pydicom.Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    purpose = pydicom.Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator = "121322", "DCM"
    purpose.CodeMeaning = "Source image for image processing operation"
    item.PurposeOfReferenceCodeSequence = pydicom.Sequence([purpose])
    return pydicom.Sequence([item])


def _full_range_window(out, bits) -> None:
    """A linear VOI window mapping stored 0 .. 2**bits - 1 exactly onto the display range."""
    out.WindowCenter, out.WindowWidth = 1 << (bits - 1), 1 << bits
    out.VOILUTFunction = "LINEAR"


def write_bone_image(source, bone, path) -> str:
    """Write the bone-suppressed image of the DICOM file `source`: a derived CR/DX image when the
    source is CR or a DX with the DX Type 1 attributes, else a Secondary Capture. Returns the SOP
    Class UID written."""
    pydicom = require("pydicom", "dicom")
    try:
        ds = pydicom.dcmread(source, stop_before_pixels=True)
    except Exception:  # unreadable: write_secondary_capture reports it with the file name
        ds = pydicom.Dataset()
    sop = str(ds.get("SOPClassUID", ""))
    if sop in _DERIVED_IODS and (sop == _CR or all(ds.get(kw) is not None for kw in _DX_TYPE1)):
        write_derived_radiograph(source, bone, path)
        return _DERIVED_IODS[sop]
    write_secondary_capture(source, bone, path)
    return _SC


def write_derived_radiograph(source, bone, path) -> None:
    """Write `bone` ((H, W) uint8 or uint16, display polarity, full dtype range, as seen through
    the source's VOI window) as a derived image of the CR or DX file `source`'s own IOD.

    The source's attributes are kept (equipment, acquisition, spacing with its own meaning), then
    what describes the pixels is replaced: new Series/SOP Instance UIDs, ImageType
    DERIVED\\PRIMARY, a Source Image Sequence, the pixels requantised to the source's BitsStored
    in its PhotometricInterpretation (so the PixelIntensityRelationshipSign still holds), and a
    linear window over the full stored range, so a viewer shows it as the source is shown
    through its own window. DX sources give DX For Presentation. Private attributes, overlays and
    invalid spacings ([0, 0]) are dropped.
    """
    require("pydicom", "dicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    bone = _check_bone(path, bone)
    ds, _ = _read_source(source)
    _check_shape(path, source, ds, bone.shape, "bone image")
    if str(ds.SOPClassUID) not in _DERIVED_IODS:
        raise ImageFormatError(source, f"SOP class {ds.SOPClassUID} is not CR or DX")
    out = copy.deepcopy(ds)
    out.remove_private_tags()
    for elem in list(out):
        if elem.keyword in _PIXEL_BOUND or 0x6000 <= elem.tag.group <= 0x60FF:
            del out[elem.tag]
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        if kw in out and _valid_spacing(out, kw) is None:
            del out[kw]
    _derived_pixels(out, ds, bone)
    _derived_identity(out, ds, generate_uid(), generate_uid())
    _fill_type2(out, _TYPE2_DX if out.SOPClassUID == _DX_PRESENTATION else _TYPE2_CR)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out.file_meta = meta
    _save(out, path)


def _derived_pixels(out, ds, bone) -> None:
    """Requantise `bone` (display polarity) to the source's bit depth and photometric."""
    bits = min(16, max(8, int(ds.get("BitsStored") or bone.dtype.itemsize * 8)))
    top = (1 << bits) - 1
    unit = bone.astype(np.float64) / float(np.iinfo(bone.dtype).max)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")) == "MONOCHROME1":
        unit = 1.0 - unit  # the source's sign: low values white
    dtype = np.uint8 if bits <= 8 else np.uint16
    pixels = np.rint(unit * top).astype(dtype)
    out.BitsAllocated, out.BitsStored, out.HighBit = dtype().itemsize * 8, bits, bits - 1
    out.PixelRepresentation, out.SamplesPerPixel = 0, 1
    out.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    out["PixelData"].VR = "OW" if dtype is np.uint16 else "OB"
    _full_range_window(out, bits)
    if "RescaleSlope" in ds or out.SOPClassUID == _DX_PRESENTATION:
        out.RescaleSlope, out.RescaleIntercept = 1, 0  # stored values are now display values
        out.RescaleType = "US"
    if out.SOPClassUID == _DX_PRESENTATION or "PresentationLUTShape" in ds:
        inverse = str(out.PhotometricInterpretation) == "MONOCHROME1"
        out.PresentationLUTShape = "INVERSE" if inverse else "IDENTITY"


def _derived_identity(out, ds, sop_uid, series_uid) -> None:
    """New series and instance in the source's study, typed and referenced as derived from it."""
    out.SOPClassUID = _DERIVED_IODS[str(ds.SOPClassUID)]
    if out.SOPClassUID == _DX_PRESENTATION:
        out.PresentationIntentType = "FOR PRESENTATION"
    out.SOPInstanceUID, out.SeriesInstanceUID = sop_uid, series_uid
    out.SeriesNumber, out.InstanceNumber = _SC_SERIES_NUMBER, 1
    out.SeriesDescription = "cxrmt bone-suppressed"
    now = datetime.datetime.now()
    out.InstanceCreationDate = out.ContentDate = out.SeriesDate = now.strftime("%Y%m%d")
    out.InstanceCreationTime = out.ContentTime = out.SeriesTime = now.strftime("%H%M%S")
    out.ImageType = ["DERIVED", "PRIMARY"]
    out.DerivationDescription = f"bone-suppressed by cxrmt {__version__}"
    out.SoftwareVersions = f"cxrmt {__version__}"
    out.SourceImageSequence = _source_reference(ds)


def write_secondary_capture(source, bone, path, *, description="cxrmt bone-suppressed") -> None:
    """Write `bone` ((H, W) uint8 or uint16, display polarity, full dtype range) as a DICOM
    Secondary Capture in the study of the DICOM file `source`, referencing it.

    Patient and study attributes are copied, Series/SOP Instance UIDs are new, PixelSpacing is
    the source's PixelSpacing when it has a valid one (an ImagerPixelSpacing is detector-plane
    spacing, which a Secondary Capture cannot say, so it is not relabelled), and a linear window
    covers the full range. Raises ImageFormatError for an unusable source, ValueError for a bad
    array; nothing is left at `path` on failure.
    """
    hd = require("highdicom", "dicom")
    from pydicom.uid import ExplicitVRLittleEndian

    bone = _check_bone(path, bone)
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
            series_description=description[:64], software_versions=f"cxrmt {__version__}")
    except (ValueError, TypeError, KeyError) as exc:
        raise _wrap(path, source, "Secondary Capture", exc) from exc
    try:
        sc.copy_patient_and_study_information(ref)  # Patient/Study modules: age, trial, ...
    except KeyError:  # SOP class unknown to highdicom: the core attributes are copied below
        pass
    _copy_patient_study(sc, ds)
    _copy_orientation(sc, ds)
    for kw in ("BodyPartExamined", "Laterality", "ImageLaterality"):
        if ds.get(kw):
            setattr(sc, kw, ds.get(kw))
    _fill_type2(sc, ())
    spacing = _valid_spacing(ds, "PixelSpacing")
    if spacing is not None:
        sc.PixelSpacing = spacing
    _full_range_window(sc, bits)
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = f"bone-suppressed by cxrmt {__version__}"[:1024]
    sc.SourceImageSequence = _source_reference(ds)
    _save(sc, path)


def _copy_orientation(out, ds) -> None:
    # PatientOrientation is type 2C (General Image): the source's when known, else empty.
    orientation = ds.get("PatientOrientation")
    out.PatientOrientation = list(orientation) if orientation and len(orientation) == 2 else None


def _fill_type2(out, keywords) -> None:
    """Empty (unknown) values for the Type 2 attributes the source lacks; Laterality (2C: needed
    unless the body part is known to be unpaired) when there is no ImageLaterality either; the
    Frame of Reference's PositionReferenceIndicator."""
    pydicom = require("pydicom", "dicom")
    paired = str(out.get("BodyPartExamined") or "").upper() not in _UNPAIRED
    if paired and "Laterality" not in out and not out.get("ImageLaterality"):
        out.Laterality = None
    for kw in keywords:
        if kw not in out:
            setattr(out, kw, pydicom.Sequence() if kw.endswith("Sequence") else None)
    if "FrameOfReferenceUID" in out and "PositionReferenceIndicator" not in out:
        out.PositionReferenceIndicator = None


def write_segmentation(source, masks, path, *, model_id="cxrmt") -> None:
    """Write `masks` ((3, H, W) uint8 0/1 in cxrmt.ORGANS order: heart, left lung, right lung)
    as a binary DICOM SEG of the DICOM file `source`, in its study and referencing it.

    Segments 1, 2, 3 are 'Right lung', 'Left lung', 'Heart' (cxrmt.LABELS), typed with SNOMED CT
    codes (Lung with a Right/Left modifier, Heart), algorithm AUTOMATIC (name `model_id`, version
    cxrmt's, family Artificial Intelligence). Every segment gets its frame, so empty segments are
    kept. PatientOrientation and Laterality come from the source; the spacing stays in a Pixel
    Measures item when the source has a true PixelSpacing (read it back with
    `read_segmentation`). Raises ImageFormatError for an unusable source, ValueError for a bad
    array; nothing is left at `path` on failure.
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
    if "ImageOrientationPatient" not in ref:
        # A projection image's Frame of Reference gives the SEG no plane position; kept, it would
        # demand a SliceThickness (PS3.3 C.7.6.16.2.1) that a radiograph does not have.
        for kw in ("FrameOfReferenceUID", "PositionReferenceIndicator"):
            ref.pop(kw, None)

    organs = sorted(ORGANS, key=LABELS.__getitem__)  # right, left lung, heart
    algorithm = hd.AlgorithmIdentificationSequence(
        name=str(model_id)[:64], family=codes.cid7162.ArtificialIntelligence,
        version=__version__, source="cxrmt")
    descriptions = [_segment(hd, codes, organ, algorithm) for organ in organs]
    # (1, H, W, segments): one plane, segments along the last axis in segment-number order.
    stack = np.stack([masks[ORGANS.index(o)] for o in organs], axis=-1).astype(np.uint8)[None]
    try:
        seg = hd.seg.Segmentation(
            source_images=[ref], pixel_array=stack, segmentation_type="BINARY",
            segment_descriptions=descriptions, series_instance_uid=hd.UID(),
            series_number=_SEG_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer=_MANUFACTURER, manufacturer_model_name=str(model_id)[:64],
            software_versions=f"cxrmt {__version__}", device_serial_number="0",
            content_label="CXRMT_ORGANS", content_description="cxrmt organ segmentation",
            series_description="cxrmt organ segmentation", omit_empty_frames=False,
            transfer_syntax_uid=ExplicitVRLittleEndian)
    except (ValueError, TypeError, KeyError) as exc:
        raise _wrap(path, source, "segmentation", exc) from exc
    _copy_patient_study(seg, ds)
    _copy_orientation(seg, ds)
    laterality = ds.get("Laterality") or ds.get("ImageLaterality")
    if laterality in ("R", "L"):  # General Series; a SEG has no ImageLaterality
        seg.Laterality = laterality
    _save(seg, path)


def _segment(hd, codes, organ, algorithm):
    label, (value, meaning), modifier = _SEGMENT_CODES[organ]
    item = hd.seg.SegmentDescription(
        segment_number=LABELS[organ], segment_label=label,
        segmented_property_category=codes.SCT.AnatomicalStructure,
        segmented_property_type=hd.sr.CodedConcept(value, "SCT", meaning),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_rgb(*_SEGMENT_COLOURS[organ]))
    if modifier is not None:
        typ = item.SegmentedPropertyTypeCodeSequence[0]
        typ.SegmentedPropertyTypeModifierCodeSequence = [
            hd.sr.CodedConcept(modifier[0], "SCT", modifier[1])]
    return item


def read_segmentation(path):
    """highdicom's Segmentation of the SEG at `path`, also when its Pixel Measures item has no
    SliceThickness (valid without a Frame of Reference, refused by highdicom's `segread`): the
    item is set aside for highdicom's parser and put back on the object it returns."""
    pydicom = require("pydicom", "dicom")
    hd = require("highdicom", "dicom")
    ds = pydicom.dcmread(path)
    shared = ds.get("SharedFunctionalGroupsSequence")
    measures = None
    if shared and "PixelMeasuresSequence" in shared[0] and \
            "SliceThickness" not in shared[0].PixelMeasuresSequence[0]:
        measures = shared[0].PixelMeasuresSequence
        del shared[0].PixelMeasuresSequence
    seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
    if measures is not None:
        seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence = measures
    return seg
