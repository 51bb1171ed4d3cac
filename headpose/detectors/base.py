"""The face-detector interface. A new detector plugs in by subclassing :class:`Detector` and
registering itself in :mod:`headpose.detectors` (``register("name", factory)``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Faces found in one image.

    ``boxes``: float32 ``(N, 4)`` as ``(x1, y1, x2, y2)`` pixels in the input image;
    ``scores``: float32 ``(N,)`` in [0, 1]; ``landmarks``: float32 ``(N, 5, 2)`` pixel (x, y) of
    right eye, left eye, nose tip, right and left mouth corners (as seen on screen: first point is
    the eye on the image's left), or ``None`` when the detector gives none.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), None)


class Detector(ABC):
    """Finds faces in a BGR uint8 image ``(H, W, 3)``."""

    name: str = "detector"

    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Return the faces in ``image_bgr``, best score first; an empty result if none."""
