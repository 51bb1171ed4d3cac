"""Registers the built-in dataset kinds with :mod:`.registry`."""

from __future__ import annotations

from .biwi_npz import BiwiNpzDataset
from .csv_folder import CsvPoseDataset
from .eth_xgaze import EthXGazeDataset
from .mat_folder import MatPoseDataset, aflw2000_dataset, w300lp_dataset
from .registry import register_dataset
from .unlabeled import UnlabeledFolderDataset

aflw2000_dataset.forwards_to = MatPoseDataset  # type: ignore[attr-defined]
w300lp_dataset.forwards_to = MatPoseDataset  # type: ignore[attr-defined]

register_dataset("csv")(CsvPoseDataset)
register_dataset("300wlp")(w300lp_dataset)
register_dataset("aflw2000")(aflw2000_dataset)
register_dataset("biwi")(BiwiNpzDataset)
register_dataset("eth_xgaze")(EthXGazeDataset)
register_dataset("unlabeled")(UnlabeledFolderDataset)
