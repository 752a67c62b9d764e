"""k-fold splits by case id, stratified by nodule status; augmentation happens after the split.

Splitting augmented samples instead of cases puts shifted copies of a test case in training (a
leak seen in peer repositories); `fold_cases` only ever hands out whole cases.
"""

import numpy as np


def assign_folds(ids, k: int = 5, seed: int = 0, strata=None) -> dict:
    """{case id: fold}; each stratum (e.g. nodule yes/no) is dealt round-robin after a seeded
    shuffle, continuing where the previous stratum stopped so fold sizes differ by at most one."""
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise ValueError("case ids must be unique")
    if not 2 <= k <= len(ids):
        raise ValueError(f"k={k} needs 2 <= k <= number of cases ({len(ids)})")
    strata = list(strata) if strata is not None else [""] * len(ids)
    rng = np.random.default_rng(seed)
    folds, start = {}, 0
    for value in sorted(set(map(str, strata))):
        members = sorted(i for i, s in zip(ids, strata) if str(s) == value)
        for j, idx in enumerate(rng.permutation(len(members))):
            folds[members[idx]] = (start + j) % k
        start = (start + len(members)) % k
    return folds


def fold_cases(folds: dict, fold: int) -> tuple:
    """(training ids, test ids) for one fold, sorted."""
    test = sorted(i for i, f in folds.items() if f == fold)
    train = sorted(i for i, f in folds.items() if f != fold)
    return train, test


def split_augmented(cases, folds: dict, fold: int, augment) -> tuple:
    """Training and test samples for one fold: split whole cases first, then augment each side.

    cases: iterable of PairedCase; augment: case -> list of cases (e.g. paper_augment).
    The test side is never augmented (the paper evaluates on original images).
    """
    train, test = [], []
    for case in cases:
        if folds[case.case_id] == fold:
            test.append(case)
        else:
            train.extend(augment(case))
    return train, test
