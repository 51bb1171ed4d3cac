"""``eth_xgaze`` format: ETH-XGaze normalised face patches, one ``.h5`` per subject.

Datasets used: ``face_patch`` ``(N, S, S, 3)`` uint8 (**BGR** in the official release: its own
loader flips ``[2, 1, 0]``; ``color_order`` says so) and ``face_head_pose`` ``(N, 2)``
**[pitch, yaw] radians**. Roll is not given (the normalisation rotates it away): NaN.

Sign convention. The release computes ``face_head_pose = [asin(z[1]), atan2(z[0], z[2])]`` from
``z``, the third column of the head rotation in the normalised camera (x right, y down, z
forward). The head's z axis points back into the head (the face model's nose tip has the
smallest z), so the face looks along ``-z``. Face turned toward the image's left -> ``z[0] > 0``
-> positive yaw; looking up -> ``z[1] > 0`` -> positive pitch. Both agree with this project's
convention, so ``yaw_sign = pitch_sign = +1`` by default; they stay options in case a release
differs. Note these are the angles of the face's forward vector (spherical), not the Euler
angles of ``Pose_Para``; the two agree to first order and drift apart at large combined angles.

``root``: a folder of ``subject*.h5`` files (recursive) or one ``.h5``. The subject id is the
number in the file name without leading zeros (``subject0108.h5`` -> ``"108"``). The usual
held-out subjects are :data:`DEFAULT_VAL_SUBJECTS`. Labels are read at index time; pixels are
read per sample (files opened lazily, once per worker process).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .base import PoseDataset, Transform
from .errors import DataError
from .records import PoseRecord, within_range

DEFAULT_VAL_SUBJECTS = ("108", "109", "111")
_SUBJECT = re.compile(r"(\d+)")


def _import_h5py():
    try:
        import h5py  # optional: only eth_xgaze reads HDF5 ([train] extra)
    except ImportError:  # pragma: no cover - h5py is a training dependency
        raise DataError("eth_xgaze needs the h5py package: pip install h5py") from None
    return h5py


def subject_of(path: Path) -> str:
    """Subject id from an ETH-XGaze file name: the last number, leading zeros dropped."""
    numbers = _SUBJECT.findall(path.stem)
    return str(int(numbers[-1])) if numbers else path.stem


class EthXGazeDataset(PoseDataset):
    """ETH-XGaze face patches with [yaw, pitch] head pose (roll NaN)."""

    kind = "eth_xgaze"

    def __init__(
        self,
        root: str | Path,
        *,
        subjects: list[str] | tuple[str, ...] | None = None,
        color_order: str = "BGR",
        yaw_sign: float = 1.0,
        pitch_sign: float = 1.0,
        max_abs_angle: float | None = None,
        transform: Transform | None = None,
        train: bool = False,
    ) -> None:
        if color_order not in ("BGR", "RGB"):
            raise DataError(f"option color_order: expected 'BGR' or 'RGB', got {color_order!r}")
        for name, sign in (("yaw_sign", yaw_sign), ("pitch_sign", pitch_sign)):
            if sign not in (1, -1, 1.0, -1.0):
                raise DataError(f"option {name}: expected +1 or -1, got {sign!r}")
        h5py = _import_h5py()
        root = Path(root)
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*.h5") if p.is_file())
            if not files:
                raise DataError(f"{root}: no .h5 files found (expected ETH-XGaze subject*.h5)")
        else:
            raise DataError(f"{root}: ETH-XGaze folder or .h5 file not found")
        if subjects is not None:
            wanted = {str(int(s)) if str(s).isdigit() else str(s) for s in subjects}
            files = [f for f in files if subject_of(f) in wanted]
        self.color_order = color_order
        records: list[PoseRecord] = []
        for path in files:
            try:
                with h5py.File(path, "r") as h5:
                    missing = [k for k in ("face_patch", "face_head_pose") if k not in h5]
                    if missing:
                        raise DataError(
                            f"{path}: missing dataset(s) {missing} (expected face_patch "
                            f"(N,H,W,3) uint8 and face_head_pose (N,2) [pitch, yaw] radians), "
                            f"file has {sorted(h5.keys())}"
                        )
                    pose = np.asarray(h5["face_head_pose"][()], dtype=np.float64)
                    patch_shape = h5["face_patch"].shape
            except OSError as exc:
                raise DataError(f"{path}: cannot read .h5 file ({exc})") from None
            if pose.ndim != 2 or pose.shape[1] != 2:
                raise DataError(
                    f"{path}: 'face_head_pose' must be (N, 2) [pitch, yaw], got {pose.shape}"
                )
            if len(patch_shape) != 4 or patch_shape[3] != 3 or patch_shape[0] != pose.shape[0]:
                raise DataError(
                    f"{path}: 'face_patch' must be (N, H, W, 3) with N = {pose.shape[0]}, "
                    f"got {patch_shape}"
                )
            degrees = np.degrees(pose)
            subject = subject_of(path)
            for i in range(pose.shape[0]):
                target = np.array(
                    [yaw_sign * degrees[i, 1], pitch_sign * degrees[i, 0], np.nan], dtype=np.float32
                )
                records.append(PoseRecord(str(path), target, subject, None, i))
        self._handles: dict[str, object] = {}
        self._pid = -1
        super().__init__(within_range(records, max_abs_angle), transform=transform, train=train)

    def _file(self, path: str):
        if self._pid != os.getpid():
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(path)
        if handle is None:
            handle = _import_h5py().File(path, "r")
            self._handles[path] = handle
        return handle

    def load_image(self, record: PoseRecord, train: bool) -> np.ndarray:
        try:
            image = np.asarray(self._file(record.image)["face_patch"][record.index])
        except OSError as exc:
            raise DataError(
                f"{record.image}: cannot read face_patch[{record.index}] ({exc})"
            ) from None
        if self.color_order == "BGR":
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, -1  # h5py handles do not cross processes
        return state
