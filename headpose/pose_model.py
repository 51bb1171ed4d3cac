"""PoseModel: an exported headpose ONNX file (graph + metadata) run by onnxruntime on face crops."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headpose.errors import HeadPoseError, InvalidInputError, InvalidModelError, first_line
from headpose.image_io import to_bgr_uint8
from headpose.metadata import ModelMetadata, read_metadata
from headpose.preprocess import crop_face, resize_image, to_input_tensor
from headpose.runtime import TENSORRT_PROVIDER, TRT_BATCH, create_session, wants_tensorrt

OUTPUT_NAMES = ("angles", "spread")
ANGLE_ORDER = ("yaw", "pitch", "roll")
#: the inputs of a pooled model's graph: every member's angles and spread, ``(N, K, A)``
POOL_INPUTS = ("member_angles", "member_spread")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PoseModel:
    """An exported headpose model.

    ``PoseModel(path, providers=None, threads=None)`` loads ``path`` (an ``.onnx`` file written by
    ``headpose-export``) and checks it against the contract in :mod:`headpose.metadata`; any
    problem (missing file, directory, truncated or corrupt file, an ONNX model without headpose
    metadata or with the wrong inputs/outputs) raises :class:`InvalidModelError` naming the file.

    A pooled model (metadata ``members``, :mod:`headpose.metadata`) loads its member files from
    the same folder (each checked against its sha256), runs each member on its own crop of a face
    and pools their outputs in its own graph; it is used exactly like a single network.

    Attributes: ``path``, ``meta`` (:class:`ModelMetadata`), ``session`` (onnxruntime),
    ``angle_names`` (e.g. ``("yaw", "pitch", "roll")``), ``input_size`` ``(h, w)`` (a pooled
    model's: its first member's), ``members`` (a pooled model's member :class:`PoseModel` s,
    else ``()``), ``has_spread`` (whether the graph outputs ``spread``; NaN when not).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: Sequence[str] | str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        src = str(self.path)
        if not self.path.exists():
            raise InvalidModelError(f"{src}: model file not found")
        if self.path.is_dir():
            raise InvalidModelError(f"{src}: is a directory, expected an .onnx model file")
        if self.path.stat().st_size == 0:
            raise InvalidModelError(f"{src}: empty model file (0 bytes)")
        try:
            trt = wants_tensorrt(providers)
            shape = self._tensorrt_input(src) if trt else None
            # a pooled model's own graph is a few elementwise ops: CPU (its members get providers)
            self.session = create_session(
                src,
                providers="cpu" if trt and shape is None else providers,
                threads=threads,
                input_shape=shape,
            )
        except HeadPoseError:  # bad providers, onnxruntime missing: already clear
            raise
        except Exception as exc:  # onnxruntime raises its own (pybind) exception types
            raise InvalidModelError(
                f"{src}: cannot load as an ONNX model (truncated or corrupt?): "
                f"{first_line(exc)[:300]}"
            ) from exc
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.meta: ModelMetadata = read_metadata(props, source=src)
        self.angle_names: tuple[str, ...] = tuple(self.meta.angles)
        self.members: tuple[PoseModel, ...] = self._load_members(providers, threads)
        if self.members:
            self._check_pool_graph()
            self.has_spread = True
            self.input_size: tuple[int, int] = self.members[0].input_size
        else:
            self._check_graph()
            self.has_spread = "spread" in {o.name for o in self.session.get_outputs()}
            self.input_size = (int(self.meta.input_size[0]), int(self.meta.input_size[1]))
        batch = self.session.get_inputs()[0].shape[0]
        self._fixed_batch: int | None = batch if isinstance(batch, int) and batch > 0 else None
        # TensorRT: never run a batch outside the engine's profile (that rebuilds the engine)
        self._max_batch: int | None = (
            TRT_BATCH[2] if TENSORRT_PROVIDER in self.session.get_providers() else None
        )

    @staticmethod
    def _tensorrt_input(src: str) -> tuple[str, tuple[int, ...]] | None:
        """Input name and (C, H, W), read with a CPU session, for the TensorRT profile; ``None``
        for a pooled model."""
        probe = create_session(src, providers="cpu", threads=1)
        first = probe.get_inputs()[0]
        if first.name in POOL_INPUTS:
            return None
        dims = tuple(int(d) if isinstance(d, int) else -1 for d in first.shape[1:])
        if len(dims) != 3 or min(dims) <= 0:
            raise InvalidModelError(
                f"{src}: input '{first.name}' has shape {first.shape}, expected (N, 3, H, W)"
            )
        return first.name, dims

    def _check_graph(self) -> None:
        src = str(self.path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        problems = []
        if self.meta.input_name not in inputs:
            problems.append(f"input '{self.meta.input_name}' (has inputs {sorted(inputs)})")
        elif len(inputs) != 1:
            problems.append(f"exactly one input (has {sorted(inputs)})")
        missing = [n for n in OUTPUT_NAMES[:1] if n not in outputs]
        if missing:
            problems.append(f"output(s) {missing} (has outputs {sorted(outputs)})")
        if problems:
            raise InvalidModelError(
                f"{src}: not a valid headpose model: missing " + "; ".join(problems)
            )
        shape = inputs[self.meta.input_name].shape
        h, w = self.meta.input_size
        expected = [None, 3, h, w]
        if len(shape) != 4 or any(
            isinstance(s, int) and e is not None and s != e
            for s, e in zip(shape, expected, strict=True)
        ):
            raise InvalidModelError(
                f"{src}: input '{self.meta.input_name}' has shape {shape}, metadata says (N, 3, {h}, {w})"
            )
        self._check_outputs(outputs)

    def _check_outputs(self, outputs: dict[str, Any]) -> None:
        src = str(self.path)
        n_angles = len(self.meta.angles)
        for name in OUTPUT_NAMES:
            if name not in outputs:
                continue
            oshape = outputs[name].shape
            if len(oshape) != 2 or (isinstance(oshape[1], int) and oshape[1] != n_angles):
                raise InvalidModelError(
                    f"{src}: output '{name}' has shape {oshape}, expected (N, {n_angles}) "
                    f"for angles {list(self.meta.angles)}"
                )

    def _load_members(
        self, providers: Sequence[str] | str | None, threads: int | None
    ) -> tuple[PoseModel, ...]:
        src = str(self.path)
        loaded = []
        for i, member in enumerate(self.meta.members):
            path = self.path.parent / member.file
            if Path(member.file).name != member.file:
                raise InvalidModelError(
                    f"{src}: metadata field 'members[{i}].file': expected a file name beside the "
                    f"pooled model, got {member.file!r}"
                )
            if not path.is_file():
                raise InvalidModelError(
                    f"{src}: member file {member.file!r} of this pooled model is missing (expected "
                    f"it at {path}; copy the pooled model together with its member files)"
                )
            digest = file_sha256(path)
            if digest != member.sha256:
                raise InvalidModelError(
                    f"{path}: member of {src} has sha256 {digest[:12]}..., the pooled model "
                    f"expects {member.sha256[:12]}... (a changed or different file)"
                )
            model = PoseModel(path, providers=providers, threads=threads)
            if model.members:
                raise InvalidModelError(f"{path}: a member of {src} is itself a pooled model")
            if model.angle_names != self.angle_names:
                raise InvalidModelError(
                    f"{path}: member predicts {list(model.angle_names)}, the pooled model "
                    f"{src} {list(self.angle_names)}"
                )
            loaded.append(model)
        return tuple(loaded)

    def _check_pool_graph(self) -> None:
        src = str(self.path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        k, a = len(self.members), len(self.angle_names)
        for name in POOL_INPUTS:
            shape = inputs[name].shape if name in inputs else None
            if shape is None or len(shape) != 3 or shape[1:] != [k, a]:
                raise InvalidModelError(
                    f"{src}: pooled model input '{name}' has shape {shape}, expected "
                    f"(N, {k}, {a}) for {k} members (inputs: {sorted(inputs)})"
                )
        missing = [n for n in OUTPUT_NAMES if n not in outputs]
        if missing:
            raise InvalidModelError(
                f"{src}: not a valid pooled model: missing output(s) {missing} "
                f"(has outputs {sorted(outputs)})"
            )
        self._check_outputs(outputs)

    @property
    def providers(self) -> list[str]:
        """Execution providers the session actually uses."""
        return list(self.session.get_providers())

    def prepare(self, crops_bgr: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Face crops (BGR, any size; resized whole) -> model input float32 ``(N, 3, H, W)``."""
        if isinstance(crops_bgr, np.ndarray):
            if crops_bgr.ndim == 4:
                crops_bgr = list(crops_bgr)
            elif crops_bgr.ndim in (2, 3):
                raise InvalidInputError(
                    f"crops: expected a list of crops or an array (N, H, W, 3), got one array of "
                    f"shape {crops_bgr.shape} (wrap a single crop in a list)"
                )
            else:
                raise InvalidInputError(
                    f"crops: expected an array of shape (N, H, W, 3), got shape {crops_bgr.shape}"
                )
        size = self.input_size
        ready = []
        for i, crop in enumerate(crops_bgr):
            img = to_bgr_uint8(np.asarray(crop), f"crop {i}")
            if img.shape[:2] != size:
                img = resize_image(img, size)
            ready.append(img)
        return to_input_tensor(ready, self.meta)

    def run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the graph on a prepared batch: ``(angles (N, A), spread (N, A))`` float64 degrees.

        One ``session.run`` for the whole batch (or one per chunk if the model has a fixed batch
        size).
        """
        if self.members:
            raise InvalidInputError(
                f"{self.path}: a pooled model has no single input tensor; use predict_crops() "
                "or predict_boxes()"
            )
        n = int(tensor.shape[0])
        a = len(self.angle_names)
        if n == 0:
            return np.zeros((0, a)), np.zeros((0, a))
        if self._fixed_batch is None and self._max_batch is not None and n > self._max_batch:
            b = self._max_batch
            parts = [self._run_once(tensor[i : i + b]) for i in range(0, n, b)]
            angles = np.concatenate([p[0] for p in parts])
            spread = np.concatenate([p[1] for p in parts])
        elif self._fixed_batch is None or self._fixed_batch == n:
            angles, spread = self._run_once(tensor)
        else:
            parts = []
            b = self._fixed_batch
            for start in range(0, n, b):
                chunk = tensor[start : start + b]
                pad = b - chunk.shape[0]
                if pad:
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
                out = self._run_once(chunk)
                parts.append((out[0][: b - pad], out[1][: b - pad]))
            angles = np.concatenate([p[0] for p in parts])
            spread = np.concatenate([p[1] for p in parts])
        if angles.shape != (n, a) or spread.shape != (n, a):
            raise InvalidModelError(
                f"{self.path}: outputs have shapes {angles.shape} and {spread.shape}, "
                f"expected ({n}, {a})"
            )
        return angles, spread

    def _run_once(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_spread:
            (angles,) = self.session.run(["angles"], {self.meta.input_name: tensor})
            return np.asarray(angles, dtype=np.float64), np.full(angles.shape, np.nan)
        angles, spread = self.session.run(list(OUTPUT_NAMES), {self.meta.input_name: tensor})
        return np.asarray(angles, dtype=np.float64), np.asarray(spread, dtype=np.float64)

    def pool_answers(
        self, parts: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A pooled model's one answer from its members' ``(angles, spread)``, each ``(N, A)``
        degrees, in the order of ``members`` (what :meth:`predict_boxes` returns, for callers
        that also need each member's answer); a member without spread (NaN) feeds zeros."""
        n, a = parts[0][0].shape
        if n == 0:
            return np.zeros((0, a)), np.zeros((0, a))
        angles = np.stack([p[0] for p in parts], axis=1).astype(np.float32)
        spread = np.nan_to_num(np.stack([p[1] for p in parts], axis=1), nan=0.0)
        feeds = dict(zip(POOL_INPUTS, (angles, spread.astype(np.float32)), strict=True))
        out, out_spread = self.session.run(list(OUTPUT_NAMES), feeds)
        return np.asarray(out, dtype=np.float64), np.asarray(out_spread, dtype=np.float64)

    def predict_crops(
        self, crops_bgr: Sequence[np.ndarray] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Angles and spread for face crops, in one batched call.

        ``crops_bgr``: a list of BGR (or grey/BGRA) uint8 crops of any size, or an array
        ``(N, H, W, 3)``; each crop is resized whole to the input size. Returns
        ``(angles (N, A), spread (N, A))`` in degrees, columns in the order of ``angle_names``.
        A pooled model gives every member the same crops (its crop rules need
        :meth:`predict_boxes`).
        """
        if self.members:
            return self.pool_answers([m.predict_crops(crops_bgr) for m in self.members])
        return self.run(self.prepare(crops_bgr))

    def predict_boxes(
        self, image_bgr: np.ndarray, boxes: np.ndarray | Sequence[Sequence[float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Angles and spread for the faces in ``boxes`` ``(N, 4)`` ``(x1, y1, x2, y2)`` pixels of
        ``image_bgr`` (uint8 ``(H, W, 3)``), each cropped by the model's crop rule (a pooled
        model: by each member's own). Returns ``(angles (N, A), spread (N, A))`` degrees."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if self.members:
            return self.pool_answers([m.predict_boxes(image_bgr, boxes) for m in self.members])
        crops = [crop_face(image_bgr, b, self.meta.crop, self.input_size) for b in boxes]
        if not crops:
            a = len(self.angle_names)
            return np.zeros((0, a)), np.zeros((0, a))
        return self.predict_crops(crops)

    @property
    def calibrated(self) -> bool:
        """Whether the model carries a spread -> error calibration (``meta.calibration``)."""
        return self.meta.calibration is not None

    def calibrate(self, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``spread`` ``(N, A)`` degrees -> ``(expected absolute error, 90% interval half-width)``,
        both ``(N, A)`` degrees, from the model's calibration; ``None`` for an uncalibrated model."""
        cal = self.meta.calibration
        if cal is None:
            return None
        spread = np.asarray(spread, dtype=np.float64).reshape(-1, len(self.angle_names))
        return cal.expected_error(spread), cal.interval(spread)

    def to_yaw_pitch_roll(self, values: np.ndarray) -> np.ndarray:
        """``(N, A)`` columns in ``angle_names`` order -> ``(N, 3)`` [yaw, pitch, roll], NaN where
        the model has no such angle (e.g. roll for a yaw+pitch model)."""
        values = np.asarray(values, dtype=np.float64).reshape(-1, len(self.angle_names))
        out = np.full((values.shape[0], 3), np.nan)
        for col, name in enumerate(self.angle_names):
            out[:, ANGLE_ORDER.index(name)] = values[:, col]
        return out

    def __repr__(self) -> str:
        return (
            f"PoseModel({str(self.path)!r}, backbone={self.meta.backbone!r}, "
            f"input_size={self.input_size}, angles={self.angle_names}, providers={self.providers})"
        )


def describe(model: PoseModel) -> dict[str, Any]:
    """JSON-safe summary of a model (for CLIs and logs)."""
    m = model.meta
    return {
        "path": str(model.path),
        "backbone": m.backbone,
        "method": m.method,
        "input_size": list(model.input_size),
        "angles": list(model.angle_names),
        "train_data": m.train_data,
        "license": m.license,
        "calibrated": model.calibrated,
        "providers": model.providers,
        "members": [member.name for member in m.members],
    }
