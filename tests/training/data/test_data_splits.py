"""Splits: by file, by subject, k-fold, low-data; deterministic and disjoint."""

from __future__ import annotations

import numpy as np
import pytest

from headpose.training.data import (
    DataError,
    PoseRecord,
    kfold_split,
    limit_data,
    split_by_file,
    split_by_subject,
)


def _records(n_subjects: int = 6, per: int = 5) -> list[PoseRecord]:
    return [
        PoseRecord(f"s{s}_{i}.jpg", np.zeros(3), subject=f"{s:04d}")
        for s in range(n_subjects)
        for i in range(per)
    ]


def _check_partition(split, n):
    assert not set(split.train) & set(split.val)
    assert sorted([*split.train, *split.val]) == list(range(n))
    assert split.train.dtype == np.int64


def test_split_by_file_deterministic_disjoint():
    a = split_by_file(100, val_fraction=0.2, seed=3)
    b = split_by_file(100, val_fraction=0.2, seed=3)
    c = split_by_file(100, val_fraction=0.2, seed=4)
    _check_partition(a, 100)
    assert len(a.val) == 20
    assert a.val.tolist() == b.val.tolist() and a.val.tolist() != c.val.tolist()
    assert len(split_by_file(_records(), 0.1).val) == 3
    with pytest.raises(DataError, match="val_fraction"):
        split_by_file(10, val_fraction=1.5)


def test_split_by_subject_lists_and_fraction():
    recs = _records()
    split = split_by_subject(recs, val_subjects=[1, "0004"])
    _check_partition(split, 30)
    assert {recs[i].subject for i in split.val} == {"0001", "0004"}
    frac = split_by_subject(recs, val_fraction=0.34, seed=1)
    _check_partition(frac, 30)
    val_subjects = {recs[i].subject for i in frac.val}
    assert len(val_subjects) == 2 and not val_subjects & {recs[i].subject for i in frac.train}
    assert split_by_subject(recs, val_fraction=0.34, seed=1).val.tolist() == frac.val.tolist()
    with pytest.raises(DataError, match="none of val_subjects"):
        split_by_subject(recs, val_subjects=["99"])
    with pytest.raises(DataError, match="have no subject"):
        split_by_subject([PoseRecord("a.jpg", np.zeros(3))], val_fraction=0.5)


def test_kfold_covers_everything_once():
    vals = [kfold_split(23, k=4, fold=i, seed=5).val for i in range(4)]
    assert sorted(np.concatenate(vals).tolist()) == list(range(23))
    for i in range(4):
        _check_partition(kfold_split(23, k=4, fold=i, seed=5), 23)
    assert kfold_split(23, 4, 1, seed=5).val.tolist() == vals[1].tolist()
    recs = _records()
    for i in range(3):
        s = kfold_split(recs, k=3, fold=i, seed=0, by_subject=True)
        _check_partition(s, 30)
        assert not {recs[j].subject for j in s.val} & {recs[j].subject for j in s.train}
        assert len(s.val) == 10
    with pytest.raises(DataError, match="fold < k"):
        kfold_split(10, k=3, fold=3)


def test_limit_data_subjects_and_images():
    recs = _records()
    first2 = limit_data(recs, max_subjects=2)
    assert first2.tolist() == list(range(10))
    assert limit_data(recs, max_images=7).tolist() == list(range(7))
    pool = split_by_subject(recs, val_subjects=["0"]).train
    low = limit_data(recs, indices=pool, max_subjects=1)
    assert {recs[i].subject for i in low} == {"0001"}
    small = limit_data(recs, max_images=5, seed=2)
    big = limit_data(recs, max_images=12, seed=2)
    assert set(small) <= set(big) and len(small) == 5
    assert limit_data(recs, max_images=5, seed=2).tolist() == small.tolist()
    with pytest.raises(DataError, match="max_images"):
        limit_data(recs, max_images=0)
