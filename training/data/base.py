"""PoseDataset: the base class of every format, and PoseSubset: a view with its own transform."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .records import PoseRecord, stack_targets

Transform = Callable[[np.ndarray, np.ndarray], Any]


class PoseDataset:
    """A list of :class:`PoseRecord` plus a way to load each one's pixels.

    ``dataset[i]`` is ``(image RGB uint8 (H, W, 3), target float32 (3,) [yaw, pitch, roll] degrees,
    NaN = missing)``, or whatever ``transform(image, target)`` returns when a transform is set.
    ``train`` switches on format-specific randomness that belongs to the data itself (e.g. the
    random loose-crop margin of 300W-LP); all other augmentation lives in the transform.
    Subclasses implement :meth:`load_image`. A map-style dataset for ``torch.utils.data``
    (``len`` + ``[i]``) that does not import torch, so ONNX evaluation runs without it.
    """

    kind: str = ""

    def __init__(
        self,
        records: Sequence[PoseRecord],
        *,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        self.records: list[PoseRecord] = list(records)
        self.transform = transform
        self.train = bool(train)

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` pixels of ``record`` (cropped if the format crops)."""
        raise NotImplementedError

    def record(self, index: int) -> PoseRecord:
        """The :class:`PoseRecord` of sample ``index`` (no pixels read)."""
        return self.records[index]

    def load(self, index: int, train: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(image, target)`` of sample ``index`` before the transform."""
        record = self.records[index]
        image = self.load_image(record, self.train if train is None else bool(train))
        return image, record.target.copy()

    def __getitem__(self, index: int) -> Any:
        image, target = self.load(index)
        if self.transform is not None:
            return self.transform(image, target)
        return image, target

    def targets(self) -> np.ndarray:
        """float32 ``(N, 3)`` of all targets (no image is read)."""
        return stack_targets(self.records)

    def view(
        self, indices: Sequence[int], transform: Transform | None = None, train: bool = False
    ) -> PoseSubset:
        """The samples ``indices`` with their own ``transform`` and ``train`` flag (for splits)."""
        return PoseSubset(self, indices, transform=transform, train=train)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, n={len(self)}, train={self.train})"


class PoseSubset:
    """Samples ``indices`` of a :class:`PoseDataset`, with a transform and train flag of its own."""

    def __init__(
        self,
        dataset: PoseDataset,
        indices: Sequence[int],
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        n = len(dataset)
        bad = [i for i in self.indices if not 0 <= i < n]
        if bad:
            raise IndexError(f"subset indices out of range 0..{n - 1}: {bad[:5]}")
        self.transform = transform
        self.train = bool(train)

    @property
    def records(self) -> list[PoseRecord]:
        return [self.dataset.records[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def record(self, index: int) -> PoseRecord:
        return self.dataset.records[self.indices[index]]

    def load(self, index: int, train: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.dataset.load(self.indices[index], self.train if train is None else train)

    def __getitem__(self, index: int) -> Any:
        image, target = self.load(index)
        if self.transform is not None:
            return self.transform(image, target)
        return image, target

    def targets(self) -> np.ndarray:
        return stack_targets(self.records)
