"""Training data: paired-layout cases in memory (uint8 at the training size), split by case,
and a deterministic infinite sample stream (sample i depends only on seed and i, so a resumed
run continues the same sequence)."""

import hashlib
import os

import numpy as np

from .. import window as window_mod
from ..data import augment, folds as folds_mod, photometric, targets
from ..io.paired import PairedCase, PairedDataset, case_paths
from ..model.variants import Variant


def load_cases(root, size: int) -> list:
    """All cases of a paired-layout folder resized to size x size; clear errors for a missing,
    empty or malformed folder (the reader names the bad file)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such data folder")
    ds = PairedDataset(root)
    if not ds.ids:
        raise ValueError(f"{root}: no cases found (images/ holds no .png files)")
    cases = []
    for cid in ds.ids:
        case = ds.load(cid)
        image, bone, masks = targets.resize_case_arrays(case, size)
        cases.append(PairedCase(cid, image, bone, masks, case.nodule))
    return cases


def fingerprint(root, ids) -> str:
    """SHA-256 over the bytes of every file of the given cases (sorted), the data's identity."""
    h = hashlib.sha256()
    for cid in sorted(ids):
        for part, path in sorted(case_paths(root, cid).items()):
            h.update(f"{cid}/{part}\0".encode())
            with open(path, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def split(cases, k: int, fold: int, seed: int = 0) -> tuple:
    """(training cases, validation cases) by whole case, stratified by nodule status."""
    if k == 0:
        return list(cases), []
    if len(cases) < k:
        raise ValueError(f"{len(cases)} cases cannot make {k} folds; lower --folds or use "
                         "--folds 0 (no validation)")
    assign = folds_mod.assign_folds([c.case_id for c in cases], k, seed,
                                    [c.nodule or "" for c in cases])
    return ([c for c in cases if assign[c.case_id] != fold],
            [c for c in cases if assign[c.case_id] == fold])


def arrays(cases, variant: Variant, lung_masked: bool = False, window: str = "full") -> tuple:
    """(inputs (N, S, S, 3), targets (N, S, S, C) in the variant's channels), unaugmented."""
    first, end = variant.channels
    pairs = [targets.pair(c, None, lung_masked, window) for c in cases]
    return np.stack([p[0] for p in pairs]), np.stack([p[1][..., first:end] for p in pairs])


class SampleStream:
    """Infinite stream of (input, target) for one variant. An epoch is every case under every
    augmentation copy once (the paper's 5 fixed copies, or 1 random/unchanged copy). "robust"
    adds random geometry and the photometric chain of `data.photometric` to every sample; every
    input then gets the network window (`window`, as inference gives it) and its target the same
    map."""

    def __init__(self, cases, variant: Variant, mode="paper", lung_masked=False, seed=0,
                 window="full"):
        if not cases:
            raise ValueError("no training cases")
        self.cases, self.mode, self.seed = cases, mode, seed
        self.lung_masked, self.window = lung_masked, window
        self.first, self.end = variant.channels
        self.copies = len(augment.PAPER) if mode == "paper" else 1
        self.epoch_len = len(cases) * self.copies

    def sample(self, i: int) -> tuple:
        epoch, pos = divmod(i, self.epoch_len)
        j = int(np.random.default_rng([self.seed, epoch]).permutation(self.epoch_len)[pos])
        case = self._augmented(self.cases[j // self.copies], j % self.copies, i)
        if self.mode == "robust":
            case = robust_photometric(case, [self.seed, 2, i])
        x, y = targets.pair(case, None, self.lung_masked, self.window)
        return x, y[..., self.first:self.end]

    def _augmented(self, case, copy, i):
        if self.mode == "paper":
            angle, (dx, dy) = list(augment.PAPER.values())[copy]
            h, w = case.image.shape
            return augment.warp_case(case, augment.affine((h, w), angle,
                                                          (dx * w / 512.0, dy * h / 512.0)))
        if self.mode == "random":
            return augment.random_augment(case, np.random.default_rng([self.seed, 1, i]))
        if self.mode == "robust":
            return augment.random_augment(case, np.random.default_rng([self.seed, 1, i]),
                                          max_scale=0.1, max_aspect=0.05)
        return case

    def iterate(self, start: int = 0):
        i = start
        while True:
            yield self.sample(i)
            i += 1


MIN_SPREAD = 0.02   # a draw whose robust window is narrower than this (of [0, 1]) is redrawn
DRAWS = 8


def robust_photometric(case: PairedCase, seed) -> PairedCase:
    """The photometric chain on a case: float [0, 1] image and target; organ masks cleared under
    added collimation borders. A chain can saturate nearly the whole field (a bright window,
    then gamma and contrast): such a draw is redrawn from the next seed, deterministically; after
    DRAWS tries the case goes through unchanged."""
    image = case.image.astype(np.float32) / np.float32(255.0)
    bone = case.bone_suppressed.astype(np.float32) / np.float32(255.0)
    for k in range(DRAWS):
        rng = np.random.default_rng(list(seed) + ([k] if k else []))
        x, y, border = photometric.robust(image, bone, rng)
        if window_mod.spread(x) >= MIN_SPREAD:
            masks = {m: v & ~border for m, v in case.masks.items()} if border.any() \
                else case.masks
            return PairedCase(case.case_id, x, y, masks, case.nodule)
    return PairedCase(case.case_id, image, bone, case.masks, case.nodule)


def make_dataset(stream: SampleStream, start: int, batch: int):
    """tf.data pipeline of batches, beginning with sample `start` of the stream."""
    import tensorflow as tf

    s = stream.cases[0].image.shape[0]
    c = stream.end - stream.first
    ds = tf.data.Dataset.from_generator(
        lambda: stream.iterate(start),
        output_signature=(tf.TensorSpec((s, s, 3), tf.float32), tf.TensorSpec((s, s, c),
                                                                              tf.float32)))
    options = tf.data.Options()
    # A generator cannot be sharded by file; workers each take their share of the elements.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch, drop_remainder=True).prefetch(2).with_options(options)
