"""``300wlp`` and ``aflw2000`` formats: native ``*.jpg`` + ``*.mat`` pairs (3DDFA fitting files).

Each ``.mat`` holds ``Pose_Para`` (1x7 or 7): the first three values are ``[pitch, yaw, roll]`` in
radians, in this project's sign convention; they become ``[yaw, pitch, roll]`` degrees. ``pt2d``
(2xP: 68 points in 300W-LP, 21 AFLW points in AFLW2000) gives the face box: the bounding box of
the *visible* points. AFLW2000 marks invisible points as ``x = -1`` (with ``y`` just past the
image); every point with a negative coordinate is dropped, like FSA-Net does (HopeNet kept them,
which stretches its boxes to the image corner).

Loose crop (HopeNet, ``code/datasets.py``), from the visible-point box with ``w = x2 - x1``,
``h = y2 - y1``; the updates run in order, so ``x2``/``y2`` use the already-moved ``x1``/``y1``:

* ``"300wlp"`` rule (HopeNet training): ``k ~ U[0.2, 0.4)`` per sample when ``train`` (fixed
  ``k_eval = 0.3``, the middle, otherwise); ``x1 -= 0.6k|x2-x1|``, ``y1 -= 2k|y2-y1|``,
  ``x2 += 0.6k|x2-x1|``, ``y2 += 0.6k|y2-y1|``;
* ``"aflw2000"`` rule (HopeNet testing): ``k = 0.2``; ``x1 -= 2k|x2-x1|``, ``y1 -= 2k|y2-y1|``,
  ``x2 += 2k|x2-x1|``, ``y2 += 0.6k|y2-y1|``;
* ``"none"``: the whole image.

Coordinates are truncated to int and the area outside the image is black (PIL ``crop``).

The +-99 degree filter: ``aflw2000`` with ``subset="reduced"`` (default) keeps the 1,969 of 2,000
images whose three angles are all within +-99 degrees; ``subset="full"`` keeps all. ``300wlp``
applies the same filter by default (``max_abs_angle=99``, as FSA-Net and later work do; ``None``
keeps all). Labels are read when the index is built, so a bad ``.mat`` fails at once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import PoseDataset, Transform
from .errors import DataError
from .image_io import cut_region, read_rgb
from .records import PoseRecord, within_range

CROP_RULES = ("300wlp", "aflw2000", "none")


def read_pose_mat(
    mat_path: str | Path,
) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """``(target [yaw, pitch, roll] degrees float32 (3,), visible-landmark box or None)``."""
    mat_path = Path(mat_path)
    import scipy.io  # the [train] extra; imported here so csv datasets need no scipy

    try:
        mat = scipy.io.loadmat(str(mat_path), variable_names=["Pose_Para", "pt2d"])
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError
        raise DataError(
            f"{mat_path}: cannot read .mat file ({type(exc).__name__}: {exc})"
        ) from None
    if "Pose_Para" not in mat:
        try:
            keys = sorted(entry[0] for entry in scipy.io.whosmat(str(mat_path)))
        except Exception:
            keys = []
        raise DataError(
            f"{mat_path}: no 'Pose_Para' variable (expected Pose_Para [pitch, yaw, roll, ...] in "
            f"radians), file has {keys}"
        )
    pose = np.asarray(mat["Pose_Para"], dtype=np.float64).reshape(-1)
    if pose.size < 3 or not np.all(np.isfinite(pose[:3])):
        raise DataError(
            f"{mat_path}: 'Pose_Para' must hold at least 3 finite numbers [pitch, yaw, roll], "
            f"got {pose[:7].tolist()}"
        )
    pitch, yaw, roll = np.degrees(pose[:3])
    target = np.array([yaw, pitch, roll], dtype=np.float32)
    return target, _visible_box(mat.get("pt2d"), mat_path)


def _visible_box(
    pt2d: np.ndarray | None, mat_path: Path
) -> tuple[float, float, float, float] | None:
    if pt2d is None:
        return None
    pts = np.asarray(pt2d, dtype=np.float64)
    if pts.ndim != 2 or 2 not in pts.shape:
        raise DataError(f"{mat_path}: 'pt2d' must be 2xP landmark coordinates, got {pts.shape}")
    if pts.shape[0] != 2:
        pts = pts.T
    ok = np.all(np.isfinite(pts) & (pts >= 0), axis=0)
    if ok.sum() < 2:
        return None
    xs, ys = pts[0, ok], pts[1, ok]
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def loose_crop_box(box: Sequence[float], rule: str, k: float) -> tuple[float, float, float, float]:
    """HopeNet's loose crop of a landmark box (see the module docstring), in float pixels."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if rule == "300wlp":
        x1 -= 0.6 * k * abs(x2 - x1)
        y1 -= 2.0 * k * abs(y2 - y1)
        x2 += 0.6 * k * abs(x2 - x1)
        y2 += 0.6 * k * abs(y2 - y1)
    elif rule == "aflw2000":
        x1 -= 2.0 * k * abs(x2 - x1)
        y1 -= 2.0 * k * abs(y2 - y1)
        x2 += 2.0 * k * abs(x2 - x1)
        y2 += 0.6 * k * abs(y2 - y1)
    else:
        raise DataError(f"loose crop rule: expected one of {CROP_RULES[:2]}, got {rule!r}")
    return x1, y1, x2, y2


def find_mat_pairs(
    root: str | Path, file_list: str | Path | Sequence[str] | None = None
) -> list[Path]:
    """The ``.mat`` files under ``root`` that have a ``.jpg`` beside them, sorted.

    ``file_list``: a text file (one name per line, with or without extension, relative to
    ``root``, HopeNet style) or a list of names; then every listed pair must exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found (expected a folder of .jpg + .mat)")
    if file_list is None:
        mats = []
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if name.lower().endswith(".mat"):
                    mat = Path(dirpath) / name
                    if mat.with_suffix(".jpg").is_file():
                        mats.append(mat)
        return sorted(mats)
    if isinstance(file_list, (str, Path)):
        list_path = Path(file_list)
        if not list_path.is_file():
            raise DataError(f"{list_path}: file list not found")
        names = [ln.strip() for ln in list_path.read_text().splitlines() if ln.strip()]
    else:
        list_path, names = None, [str(n) for n in file_list]
    mats = []
    for i, name in enumerate(names, start=1):
        stem = root / name
        if stem.suffix.lower() in (".jpg", ".mat"):
            stem = stem.with_suffix("")
        mat, jpg = stem.with_suffix(".mat"), stem.with_suffix(".jpg")
        for needed in (mat, jpg):
            if not needed.is_file():
                where = f"{list_path}: line {i}" if list_path else f"file_list item {i}"
                raise DataError(f"{where}: file not found: {needed}")
        mats.append(mat)
    return mats


class MatPoseDataset(PoseDataset):
    """300W-LP / AFLW2000 in their native ``.jpg`` + ``.mat`` layout."""

    kind = "mat"

    def __init__(
        self,
        root: str | Path,
        *,
        file_list: str | Path | Sequence[str] | None = None,
        crop: str = "300wlp",
        k_range: tuple[float, float] = (0.2, 0.4),
        k_eval: float = 0.3,
        max_abs_angle: float | None = 99.0,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        if crop not in CROP_RULES:
            raise DataError(f"option crop: expected one of {CROP_RULES}, got {crop!r}")
        lo, hi = (float(v) for v in k_range)
        if not 0.0 <= lo <= hi:
            raise DataError(f"option k_range: expected 0 <= low <= high, got {k_range}")
        self.root = Path(root)
        self.crop = crop
        self.k_range = (lo, hi)
        self.k_eval = float(k_eval)
        records = []
        for mat in find_mat_pairs(root, file_list):
            target, box = read_pose_mat(mat)
            records.append(PoseRecord(str(mat.with_suffix(".jpg")), target, None, box))
        super().__init__(within_range(records, max_abs_angle), transform=transform, train=train)

    def crop_k(self, train: bool) -> float:
        """The margin factor k of one sample: random in ``k_range`` when training (300W-LP rule)."""
        if self.crop == "aflw2000":
            return 0.2
        if train:
            lo, hi = self.k_range
            import torch  # optional: datasets import no torch; training seeds its generator

            return lo + (hi - lo) * float(torch.rand(()))
        return self.k_eval

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        image = read_rgb(record.image)
        if self.crop == "none" or record.box is None:
            return image
        box = loose_crop_box(record.box, self.crop, self.crop_k(train))
        return cut_region(image, box, border="zeros")


def aflw2000_dataset(
    root: str | Path, *, subset: str = "reduced", crop: str = "aflw2000", **opts
) -> MatPoseDataset:
    """AFLW2000-3D: ``subset="reduced"`` keeps |angles| <= 99 (1,969 of 2,000), ``"full"`` all."""
    if subset not in ("reduced", "full"):
        raise DataError(f"option subset: expected 'reduced' or 'full', got {subset!r}")
    if "max_abs_angle" in opts:
        raise DataError("aflw2000: use subset='reduced'/'full' instead of max_abs_angle")
    limit = 99.0 if subset == "reduced" else None
    ds = MatPoseDataset(root, crop=crop, max_abs_angle=limit, **opts)
    ds.kind = "aflw2000"
    return ds


def w300lp_dataset(root: str | Path, *, crop: str = "300wlp", **opts) -> MatPoseDataset:
    """300W-LP: HopeNet's random loose crop when training; +-99 degree filter by default."""
    ds = MatPoseDataset(root, crop=crop, **opts)
    ds.kind = "300wlp"
    return ds
