"""Training data: records, dataset formats, augmentation, splits (``headpose.training.data``).

Items (before transforms) are ``(image RGB uint8 (H, W, 3) np.ndarray, target float32 (3,))``
with target ``[yaw, pitch, roll]`` in degrees, NaN = missing (project angle convention).

Public API
----------
Datasets
    ``build_dataset(kind, root, **opts) -> PoseDataset``; kinds: ``csv``, ``300wlp``,
    ``aflw2000``, ``biwi``, ``eth_xgaze``, ``unlabeled``. Options every kind takes:
    ``transform=None`` (callable ``(image, target) -> item``), ``train=False`` (format-level
    randomness such as 300W-LP's random loose crop). Format options:

    * ``csv``: root = folder with ``labels.csv`` or the CSV path; ``csv_name``, ``image_root``,
      ``crop_scale`` (1.5), ``crop_shift_y`` (0), ``max_abs_angle`` (None);
    * ``300wlp``: ``file_list``, ``crop`` ("300wlp"|"aflw2000"|"none"), ``k_range`` (0.2, 0.4),
      ``k_eval`` (0.3), ``max_abs_angle`` (99);
    * ``aflw2000``: ``subset`` ("reduced" = |angles| <= 99, 1,969 images | "full"),
      ``file_list``, ``crop`` ("aflw2000");
    * ``biwi``: root = the ``.npz``; ``color_order`` ("BGR" as FSA-Net wrote it), ``max_abs_angle``;
    * ``eth_xgaze``: root = folder of ``subject*.h5`` or one file; ``subjects``, ``color_order``
      ("BGR"), ``yaw_sign``/``pitch_sign`` (+1/+1), ``max_abs_angle``; roll is NaN;
    * ``unlabeled``: root = folder of images (recursive); ``suffixes``.

    ``register_dataset(kind)`` (decorator) plugs in a new format; ``available_datasets()``.
``PoseDataset``
    ``.records: list[PoseRecord]``, ``len``, ``[i]``, ``.load(i, train=None) -> (image, target)``,
    ``.targets() -> (N, 3)``, ``.view(indices, transform=None, train=False) -> PoseSubset``
    (same interface; use it for train/val splits with different transforms).
``PoseRecord(image, target, subject=None, box=None, index=None, spread=None, source=None)``;
``DataError(ValueError)``.
Transforms (``transforms.py``)
    ``PoseTransform(size=224, train=False, level=0, flip_p=0.5, aug=None, mean, std)``:
    ``(image RGB uint8 HWC, target) -> (tensor float32 (3, S, S) normalised, target tensor (3,))``;
    eval = runtime resize + ImageNet normalisation (same numbers as ``to_input_tensor``).
    ``AugmentConfig.for_level(level, **overrides)``; ``build_transform(size, train, level, **kw)``;
    ``SSLTaskTransform(transform, task)`` -> ``(image', target, ssl_labels)``.
Typical use (engine)::

    ds = build_dataset("300wlp", root)                      # or "csv", "aflw2000", ...
    split = split_by_file(ds, val_fraction=0.1, seed=0)     # or split_by_subject / kfold_split
    train_set = ds.view(split.train, PoseTransform(224, train=True, level=2), train=True)
    val_set = ds.view(split.val, PoseTransform(224))        # eval: same numbers as the runtime
    # train_set[i] -> (float32 (3, 224, 224), float32 (3,) [yaw, pitch, roll], NaN = missing)

Splits (``splits.py``)
    ``Split(train, val)`` index arrays; ``split_by_file(data, val_fraction, seed)``,
    ``split_by_subject(data, val_subjects=None, val_fraction=None, seed=0)``,
    ``kfold_split(data, k, fold, seed=0, by_subject=False)``,
    ``limit_data(data, indices=None, max_subjects=None, max_images=None, seed=None)``;
    ``data`` is a dataset, a list of records, or a sample count.
"""

from __future__ import annotations

from importlib import import_module

from . import formats as _formats  # noqa: F401  (registers the built-in kinds)
from .base import PoseDataset, PoseSubset
from .biwi_npz import BiwiNpzDataset
from .csv_folder import CsvPoseDataset, read_pose_csv
from .errors import DataError
from .eth_xgaze import DEFAULT_VAL_SUBJECTS, EthXGazeDataset
from .mat_folder import MatPoseDataset, loose_crop_box, read_pose_mat
from .records import ANGLES, PoseRecord, make_target, stack_targets, within_range
from .registry import available_datasets, build_dataset, register_dataset
from .splits import Split, kfold_split, limit_data, split_by_file, split_by_subject
from .unlabeled import UnlabeledFolderDataset

_LAZY = {  # need torch: imported on first use, so datasets and ONNX evaluation need no torch
    name: ".transforms"
    for name in ("AugmentConfig", "PoseTransform", "SSLTaskTransform", "build_transform")
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANGLES",
    "DEFAULT_VAL_SUBJECTS",
    "AugmentConfig",
    "BiwiNpzDataset",
    "CsvPoseDataset",
    "DataError",
    "EthXGazeDataset",
    "MatPoseDataset",
    "PoseDataset",
    "PoseRecord",
    "PoseSubset",
    "PoseTransform",
    "SSLTaskTransform",
    "Split",
    "UnlabeledFolderDataset",
    "available_datasets",
    "build_dataset",
    "build_transform",
    "kfold_split",
    "limit_data",
    "loose_crop_box",
    "make_target",
    "read_pose_csv",
    "read_pose_mat",
    "register_dataset",
    "split_by_file",
    "split_by_subject",
    "stack_targets",
    "within_range",
]
