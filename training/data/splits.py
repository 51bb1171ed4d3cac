"""Deterministic train/validation splits over dataset indices.

Every function takes ``data``: a dataset (anything with ``.records``), a list of
:class:`PoseRecord`, or a plain sample count ``n``; and returns sorted int64 index arrays.
The same arguments always give the same split (NumPy ``default_rng(seed)``, never global state).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from .errors import DataError
from .records import PoseRecord


class Split(NamedTuple):
    """Sorted, disjoint index arrays (int64)."""

    train: np.ndarray
    val: np.ndarray


def _records(data) -> list[PoseRecord] | None:
    if isinstance(data, (int, np.integer)):
        return None
    if hasattr(data, "records"):
        return list(data.records)
    return list(data)


def _count(data) -> int:
    if isinstance(data, (int, np.integer)):
        if data < 0:
            raise DataError(f"sample count: expected >= 0, got {data}")
        return int(data)
    return len(_records(data))


def _subjects(data) -> list[str]:
    records = _records(data)
    if records is None:
        raise DataError("subject-wise split needs records with subjects, got a plain sample count")
    missing = [r.image for r in records if r.subject is None]
    if missing:
        raise DataError(
            f"subject-wise split: {len(missing)} of {len(records)} records have no subject "
            f"(first: {missing[0]}); add a 'subject' column or use split_by_file"
        )
    return [str(r.subject) for r in records]


def _check_fraction(val_fraction: float) -> float:
    f = float(val_fraction)
    if not 0.0 < f < 1.0:
        raise DataError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    return f


def _as_split(n: int, val_mask: np.ndarray) -> Split:
    idx = np.arange(n, dtype=np.int64)
    return Split(idx[~val_mask], idx[val_mask])


def split_by_file(data, val_fraction: float = 0.1, seed: int = 0) -> Split:
    """A seeded random ``val_fraction`` of the samples (at least one each side when n >= 2)."""
    f = _check_fraction(val_fraction)
    n = _count(data)
    n_val = min(max(int(round(n * f)), 1 if n >= 2 else 0), max(n - 1, 0))
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_val]] = True
    return _as_split(n, mask)


def split_by_subject(
    data,
    val_subjects: Iterable[str | int] | None = None,
    val_fraction: float | None = None,
    seed: int = 0,
) -> Split:
    """Hold out whole subjects: the listed ``val_subjects`` (those present; at least one must
    be), or a seeded ``val_fraction`` of them.

    Subjects compare as strings; numbers lose leading zeros (``108`` == ``"0108"``).
    """
    subjects = np.array([_norm(s) for s in _subjects(data)], dtype=object)
    unique = sorted(set(subjects.tolist()))
    if (val_subjects is None) == (val_fraction is None):
        raise DataError("split_by_subject: give exactly one of val_subjects or val_fraction")
    if val_subjects is not None:
        held = {_norm(s) for s in val_subjects}
        if not held & set(unique):
            raise DataError(
                f"split_by_subject: none of val_subjects {sorted(held)} is in the data "
                f"(subjects: {unique[:10]}{' ...' if len(unique) > 10 else ''})"
            )
    else:
        f = _check_fraction(val_fraction)
        if len(unique) < 2:
            raise DataError(f"split_by_subject: need at least 2 subjects, got {len(unique)}")
        n_val = min(max(int(round(len(unique) * f)), 1), len(unique) - 1)
        order = np.random.default_rng(seed).permutation(len(unique))
        held = {unique[i] for i in order[:n_val]}
    mask = np.array([s in held for s in subjects], dtype=bool)
    return _as_split(len(subjects), mask)


def kfold_split(data, k: int, fold: int, seed: int = 0, by_subject: bool = False) -> Split:
    """Fold ``fold`` (0-based) of a seeded ``k``-fold partition; ``by_subject`` folds subjects.

    The k validation sets of the same ``seed`` are disjoint and cover every sample.
    """
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise DataError(f"kfold_split: expected k >= 2, got {k}")
    if not 0 <= fold < k:
        raise DataError(f"kfold_split: expected 0 <= fold < k={k}, got {fold}")
    if by_subject:
        subjects = [_norm(s) for s in _subjects(data)]
        unique = sorted(set(subjects))
        if len(unique) < k:
            raise DataError(f"kfold_split: {len(unique)} subjects cannot make k={k} folds")
        order = np.random.default_rng(seed).permutation(len(unique))
        held = {unique[i] for i in np.array_split(order, k)[fold]}
        return _as_split(len(subjects), np.array([s in held for s in subjects], dtype=bool))
    n = _count(data)
    if n < k:
        raise DataError(f"kfold_split: {n} samples cannot make k={k} folds")
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[np.array_split(order, k)[fold]] = True
    return _as_split(n, mask)


def limit_data(
    data,
    indices: Sequence[int] | np.ndarray | None = None,
    max_subjects: int | None = None,
    max_images: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """A low-data subset (paper §5.2): the first ``max_subjects`` subjects and/or the first
    ``max_images`` samples among ``indices`` (default: all).

    "First" is in sorted subject order / index order, or in a seeded random order when ``seed``
    is given. Nested: a smaller limit with the same seed gives a subset of a larger one.
    """
    n = _count(data)
    pool = np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    rng = None if seed is None else np.random.default_rng(seed)
    if max_subjects is not None:
        if max_subjects < 1:
            raise DataError(f"limit_data: expected max_subjects >= 1, got {max_subjects}")
        subjects = [_norm(s) for s in _subjects(data)]
        unique = sorted({subjects[i] for i in pool})
        if rng is not None:
            unique = [unique[i] for i in rng.permutation(len(unique))]
        keep = set(unique[:max_subjects])
        pool = np.array([i for i in pool if subjects[i] in keep], dtype=np.int64)
    if max_images is not None:
        if max_images < 1:
            raise DataError(f"limit_data: expected max_images >= 1, got {max_images}")
        if rng is not None:
            pool = pool[rng.permutation(len(pool))]
        pool = pool[:max_images]
    return np.sort(pool)


def _norm(subject: str | int) -> str:
    text = str(subject).strip()
    return str(int(text)) if text.isdigit() else text
