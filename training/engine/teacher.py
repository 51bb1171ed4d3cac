"""The teacher of online distillation: an exported model (ONNX) that labels training batches.

The student's batch is already cropped, augmented and normalised at the student's input size;
the teacher sees exactly those pixels, resized (bilinear) to its own input size and renormalised
to its own mean and std. Both models share the crop rule (checked), so the same pixels mean the
same face region. The teacher runs in the training process through onnxruntime (:class:`headpose.pose_model.
PoseModel`, CUDA when the installed onnxruntime has it, else the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from headpose.training.config import ConfigError


class OnnxTeacher:
    """``teacher(images)`` -> ``(angles, spread)``, both ``(N, A)`` float32 degrees in the
    student's angle order (NaN where the teacher has no such angle).

    ``images``: ``(N, 3, H, W)`` normalised with ``mean`` / ``std`` (the student's). The teacher
    must use the student's crop rule (``crop_scale``, ``crop_shift_y``), else
    :class:`~headpose.training.config.ConfigError`.
    """

    def __init__(
        self,
        path: str | Path,
        angles: Sequence[str],
        mean: Sequence[float],
        std: Sequence[float],
        crop: tuple[float, float],
        threads: int = 1,
    ) -> None:
        from headpose.pose_model import PoseModel

        self.model = PoseModel(path, threads=threads)
        meta = self.model.meta
        theirs = (float(meta.crop.scale), float(meta.crop.shift_y))
        if not all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(theirs, crop, strict=True)):
            raise ConfigError(
                f"config key 'distill.teacher': {path} crops faces with scale/shift_y {theirs}, "
                f"the student with {tuple(crop)}: the teacher would see another face region"
            )
        self.size = self.model.input_size
        self.columns = [
            self.model.angle_names.index(a) if a in self.model.angle_names else -1 for a in angles
        ]
        # student-normalised x -> teacher-normalised: x * gain + offset, per channel
        s_mean, s_std = np.asarray(mean), np.asarray(std)
        t_mean, t_std = np.asarray(meta.mean), np.asarray(meta.std)
        self.gain = torch.tensor(s_std / t_std, dtype=torch.float32).view(1, 3, 1, 1)
        self.offset = torch.tensor((s_mean - t_mean) / t_std, dtype=torch.float32).view(1, 3, 1, 1)
        if meta.color_order != "RGB":
            raise ConfigError(
                f"config key 'distill.teacher': {path} expects {meta.color_order} input, "
                "the trainer feeds RGB"
            )

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.detach().float().cpu()
        if tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        x = x * self.gain + self.offset
        angles, spread = self.model.run(np.ascontiguousarray(x.numpy(), dtype=np.float32))
        out_a = np.full((len(x), len(self.columns)), np.nan, dtype=np.float32)
        out_s = np.full_like(out_a, np.nan)
        for i, col in enumerate(self.columns):
            if col >= 0:
                out_a[:, i], out_s[:, i] = angles[:, col], spread[:, col]
        device = images.device
        return torch.from_numpy(out_a).to(device), torch.from_numpy(out_s).to(device)
