"""Reading image files as RGB uint8 and cutting regions out of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file into RGB uint8 ``(H, W, 3)``; DataError names the file if it cannot."""
    path = Path(path)
    try:
        raw = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read image file ({exc.strerror or exc})") from None
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
        raise DataError(
            f"{path}: cannot decode image file (expected a JPEG/PNG image, got {raw.size} bytes "
            "that OpenCV cannot decode)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def cut_region(image: np.ndarray, box: Sequence[float], border: str = "replicate") -> np.ndarray:
    """Cut ``box`` ``(x1, y1, x2, y2)`` (pixels, truncated to int like PIL's crop) out of ``image``.

    Parts outside the image are filled with ``border``: ``"replicate"`` (edge pixels, like the
    runtime's crop) or ``"zeros"`` (black, like PIL ``Image.crop`` used by HopeNet).
    The result has size ``(y2 - y1, x2 - x1)`` (at least 1x1).
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in box)
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    pad_l, pad_t = max(0, -x1), max(0, -y1)
    pad_r, pad_b = max(0, x2 - w), max(0, y2 - h)
    region = image[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
    if region.size == 0:
        if border == "zeros":
            return np.zeros((y2 - y1, x2 - x1) + image.shape[2:], dtype=image.dtype)
        yy, xx = int(np.clip((y1 + y2) // 2, 0, h - 1)), int(np.clip((x1 + x2) // 2, 0, w - 1))
        region = image[yy : yy + 1, xx : xx + 1]
        pad_l, pad_t, pad_r, pad_b = 0, 0, x2 - x1 - 1, y2 - y1 - 1
    if pad_l or pad_t or pad_r or pad_b:
        mode = cv2.BORDER_CONSTANT if border == "zeros" else cv2.BORDER_REPLICATE
        region = cv2.copyMakeBorder(region, pad_t, pad_b, pad_l, pad_r, mode, value=0)
    return np.ascontiguousarray(region)
