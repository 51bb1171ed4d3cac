"""``biwi`` format: the common preprocessed BIWI ``.npz`` (FSA-Net's ``TYY_create_db_biwi.py``).

Keys: ``image`` ``(N, H, W, 3)`` uint8 face crops and ``pose`` ``(N, 3)`` degrees with columns
**[yaw, pitch, roll]** (FSA-Net builds ``cont_labels = [yaw, pitch, roll]`` from BIWI's rotation
matrices with signs flipped to match 300W-LP, i.e. this project's convention); optional
``img_size`` (ignored) and ``subject`` ``(N,)`` (used for subject-wise splits if present).
FSA-Net reads the frames with ``cv2.imread``, so ``image`` is **BGR** in those files:
``color_order="BGR"`` (default) converts to RGB; pass ``"RGB"`` for files written in RGB.
``root`` is the ``.npz`` file (or a folder holding exactly one). Pixels load lazily, once per
process, on first access.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .base import PoseDataset, Transform
from .errors import DataError
from .records import PoseRecord, within_range


def _resolve_npz(root: Path) -> Path:
    if root.is_dir():
        found = sorted(root.glob("*.npz"))
        if len(found) != 1:
            raise DataError(
                f"{root}: expected exactly one .npz file in the folder, got {len(found)}"
            )
        return found[0]
    if not root.is_file():
        raise DataError(f"{root}: BIWI .npz file not found")
    return root


class BiwiNpzDataset(PoseDataset):
    """Face crops and [yaw, pitch, roll] labels from one preprocessed BIWI ``.npz``."""

    kind = "biwi"

    def __init__(
        self,
        root: str | Path,
        *,
        color_order: str = "BGR",
        max_abs_angle: float | None = None,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        if color_order not in ("BGR", "RGB"):
            raise DataError(f"option color_order: expected 'BGR' or 'RGB', got {color_order!r}")
        self.path = _resolve_npz(Path(root))
        self.color_order = color_order
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                files = sorted(npz.files)
                missing = [k for k in ("image", "pose") if k not in files]
                if missing:
                    raise DataError(
                        f"{self.path}: missing key(s) {missing} (expected 'image' (N,H,W,3) uint8 "
                        f"and 'pose' (N,3) degrees [yaw, pitch, roll]), file has {files}"
                    )
                pose = np.asarray(npz["pose"], dtype=np.float32)
                subjects = npz["subject"] if "subject" in files else None
                image_shape = self._array_shape(npz, "image")
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{self.path}: cannot read .npz file ({exc})") from None
        if pose.ndim != 2 or pose.shape[1] != 3:
            raise DataError(
                f"{self.path}: 'pose' must be (N, 3) [yaw, pitch, roll], got {pose.shape}"
            )
        if len(image_shape) != 4 or image_shape[3] != 3 or image_shape[0] != pose.shape[0]:
            raise DataError(
                f"{self.path}: 'image' must be (N, H, W, 3) with N = {pose.shape[0]} rows of "
                f"'pose', got {tuple(image_shape)}"
            )
        records = [
            PoseRecord(
                str(self.path),
                pose[i],
                None if subjects is None else str(subjects[i]),
                None,
                i,
            )
            for i in range(pose.shape[0])
        ]
        self._images: np.ndarray | None = None
        self._pid = -1
        super().__init__(within_range(records, max_abs_angle), transform=transform, train=train)

    @staticmethod
    def _array_shape(npz: np.lib.npyio.NpzFile, key: str) -> tuple[int, ...]:
        """Shape of an array in the archive without loading it."""
        with npz.zip.open(key + ".npy") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        if dtype != np.uint8:
            raise DataError(f"{npz.zip.filename}: '{key}' must be uint8, got {dtype}")
        return tuple(shape)

    def _all_images(self) -> np.ndarray:
        if self._images is None or self._pid != os.getpid():
            with np.load(self.path, allow_pickle=False) as npz:
                self._images = np.asarray(npz["image"])
            self._pid = os.getpid()
        return self._images

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        image = self._all_images()[record.index]
        if self.color_order == "BGR":
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_images"], state["_pid"] = None, -1  # workers reload; do not pickle the pixels
        return state
