"""Reading image files as RGB uint8; cutting regions is the runtime's
:func:`headpose.preprocess.cut_region` (re-exported here), so training and runtime crop alike."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headpose.errors import InvalidImageError
from headpose.image_io import IMAGE_SUFFIXES, decode_image_bytes
from headpose.preprocess import cut_region

from .errors import DataError

__all__ = ["IMAGE_SUFFIXES", "cut_region", "read_rgb"]


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file into RGB uint8 ``(H, W, 3)``; DataError names the file if it cannot."""
    path = Path(path)
    try:
        raw = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read image file ({exc.strerror or exc})") from None
    try:
        bgr = decode_image_bytes(raw, str(path)) if raw.size else None
    except InvalidImageError as exc:  # above the pixel limit
        raise DataError(str(exc)) from None
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
        raise DataError(
            f"{path}: cannot decode image file (expected a JPEG/PNG image, got {raw.size} bytes "
            "that OpenCV cannot decode)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
