"""k-fold splits: stratification, determinism, and no augmented copy across folds."""

import numpy as np
import pytest

from cxrmt.data.augment import paper_augment
from cxrmt.data.folds import assign_folds, fold_cases, split_augmented
from cxrmt.io.paired import PairedCase


def _ids(n_yes=39, n_no=64):
    ids = [f"JPCLN{i:03d}" for i in range(n_yes)] + [f"JPCNN{i:03d}" for i in range(n_no)]
    return ids, ["yes"] * n_yes + ["no"] * n_no


def test_stratified_balanced_and_complete():
    ids, strata = _ids()
    folds = assign_folds(ids, 5, seed=3, strata=strata)
    assert sorted(folds) == sorted(ids)
    sizes = np.bincount(list(folds.values()), minlength=5)
    assert sizes.max() - sizes.min() <= 1
    yes = np.bincount([folds[i] for i, s in zip(ids, strata) if s == "yes"], minlength=5)
    assert yes.max() - yes.min() <= 1  # 39 nodule cases -> 7 or 8 per fold


def test_deterministic_by_seed():
    ids, strata = _ids()
    shuffled = assign_folds(list(reversed(ids)), 5, 1, list(reversed(strata)))
    assert assign_folds(ids, 5, 1, strata) == shuffled
    assert assign_folds(ids, 5, 1, strata) != assign_folds(ids, 5, 2, strata)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unique"):
        assign_folds(["a", "a", "b"], 2)
    with pytest.raises(ValueError, match="k=4"):
        assign_folds(["a", "b", "c"], 4)


def _coded_cases(n):
    """Case i has grey level 10 + 2 i inside a central square: every augmented copy keeps it."""
    cases = []
    for i in range(n):
        img = np.zeros((64, 64), np.uint8)
        img[16:48, 16:48] = 10 + 2 * i
        cases.append(PairedCase(f"C{i:02d}", img, img.copy(),
                                {o: img > 0 for o in ("heart", "left_lung", "right_lung")}))
    return cases


def _codes(samples):
    # The most frequent non-zero grey level identifies the source case, whatever the transform.
    return {int(np.bincount(s.image[s.image > 0]).argmax()) for s in samples}


def test_augmented_copies_never_cross_folds():
    cases = _coded_cases(20)
    folds = assign_folds([c.case_id for c in cases], 5, seed=0)
    for fold in range(5):
        train, test = split_augmented(cases, folds, fold, paper_augment)
        assert len(train) == 16 * 5 and len(test) == 4
        assert _codes(train).isdisjoint(_codes(test))
        assert sorted(c.case_id for c in test) == fold_cases(folds, fold)[1]
    # The check would catch the peer-repository bug: split augmented samples, not cases.
    pool = [s for c in cases for s in paper_augment(c)]
    order = np.random.default_rng(0).permutation(len(pool))
    naive_test = [pool[i] for i in order[:20]]
    naive_train = [pool[i] for i in order[20:]]
    assert not _codes(naive_train).isdisjoint(_codes(naive_test))
