"""Expand the PATH arguments of `cxrmt infer`: files, folders and glob patterns."""

import glob
import os

from .header import is_dicom
from .layout import DICOM, IMAGES

# Readable radiographs by suffix; DICOM files without a suffix are found by their DICM magic.
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".dcm", ".dicom", ".img")


def is_output(name: str) -> bool:
    """True for files `cxrmt infer` writes itself (so a second run over a folder skips them)."""
    stem = os.path.basename(name)
    suffixes = [s for s in (*IMAGES.values(), *DICOM.values()) if s != ".json"]
    return any(stem.endswith(s) for s in suffixes) or "_mask_" in stem


def _candidate(path: str) -> bool:
    # hidden files: cxrmt's temporaries and locks, editors' and file managers' droppings
    if is_output(path) or os.path.basename(path).startswith("."):
        return False
    return path.lower().endswith(SUFFIXES) or is_dicom(path)


def expand(args) -> tuple:
    """(input files in a stable order without duplicates, [(argument, reason)] for arguments
    that match nothing). Files named explicitly are always taken; folders (not recursive) and
    globs contribute the radiographs they hold, never cxrmt's own outputs."""
    files, missing = [], []
    for arg in args:
        if os.path.isfile(arg):
            found = [arg]
        elif os.path.isdir(arg):
            found = sorted(p for p in (os.path.join(arg, n) for n in os.listdir(arg))
                           if os.path.isfile(p) and _candidate(p))
            if not found:
                missing.append((arg, "folder holds no radiographs"))
        else:
            found = sorted(p for p in glob.glob(arg) if os.path.isfile(p) and _candidate(p))
            if not found:
                missing.append((arg, "no such file" if not glob.has_magic(arg)
                                else "pattern matches no radiographs"))
        files.extend(found)
    seen, unique = set(), []
    for f in files:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing
