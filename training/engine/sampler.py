"""A resumable, shardable sampler: the order of an epoch depends only on (seed, epoch).

Each epoch shuffles ``range(n)`` with a generator seeded by ``seed + epoch``, pads it to a
multiple of the number of processes (repeating the first indices, as DistributedSampler does) and
gives process ``rank`` every ``world_size``-th index. :meth:`set_epoch` takes the number of this
process's samples already consumed, so a resumed run continues mid-epoch with the same indices.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Deterministic per-epoch order, sharded by rank, starting at an offset within the epoch."""

    def __init__(
        self, n: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ) -> None:
        if n <= 0:
            raise ValueError(f"EpochSampler: the dataset is empty (n={n})")
        if not 0 <= rank < world_size:
            raise ValueError(f"EpochSampler: rank {rank} not in 0..{world_size - 1}")
        self.n, self.seed, self.shuffle = n, int(seed), bool(shuffle)
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    @property
    def per_rank(self) -> int:
        """Samples each process sees per epoch."""
        return -(-self.n // self.world_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and skip the first ``start`` samples of this process's share."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"EpochSampler: start {start} not in 0..{self.per_rank}")
        self.epoch, self.start = int(epoch), int(start)

    def epoch_indices(self, epoch: int) -> list[int]:
        """All of this process's indices of ``epoch`` (ignoring ``start``)."""
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=gen).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.world_size
        order = (order * (total // self.n + 1))[:total]
        return order[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices(self.epoch)[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start
