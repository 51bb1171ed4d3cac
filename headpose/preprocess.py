"""Face crops and model input tensors (numpy + OpenCV). Training evaluation uses the same code.

Images here are ``uint8`` arrays ``(H, W, 3)`` in BGR order (OpenCV's) unless a function says
otherwise; boxes are ``(x1, y1, x2, y2)`` in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from headpose.metadata import CropRule, ModelMetadata


def crop_box(box: Sequence[float] | np.ndarray, rule: CropRule) -> np.ndarray:
    """Square crop box ``(x1, y1, x2, y2)`` (float pixels) for a face ``box`` under ``rule``
    (before ``rule.border`` applies)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    base = max(w, h) if rule.side == "max" else (w + h) / 2.0
    cx = (x1 + x2) / 2.0
    cy = (y1 + y2) / 2.0 + rule.shift_y * (h if rule.shift_of == "height" else base)
    half = base * rule.scale / 2.0
    return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float64)


def crop_face(
    image: np.ndarray, box: Sequence[float] | np.ndarray, rule: CropRule, size: tuple[int, int]
) -> np.ndarray:
    """Cut the crop of ``box`` under ``rule`` out of ``image`` and resize it to ``size`` (h, w).

    Works for any channel order. Outside the image: edge pixels (``rule.border="replicate"``),
    black (``"zeros"``), or nothing (``"clip"``: the part of the crop inside the image is
    resized whole). One affine warp, so the cost does not depend on the box size.
    """
    cx1, cy1, cx2, cy2 = crop_box(box, rule)
    if rule.border == "clip":
        h, w = image.shape[:2]
        cx1, cy1 = max(cx1, 0.0), max(cy1, 0.0)
        cx2, cy2 = min(cx2, float(w)), min(cy2, float(h))
        if cx2 - cx1 < 1.0 or cy2 - cy1 < 1.0:  # box outside the image: nearest edge pixels
            cx1, cy1, cx2, cy2 = crop_box(box, rule)
    out_h, out_w = int(size[0]), int(size[1])
    sx = out_w / max(cx2 - cx1, 1e-6)
    sy = out_h / max(cy2 - cy1, 1e-6)
    border = "zeros" if rule.border == "zeros" else "replicate"
    # map crop-box pixel edges to output pixel edges (pixel centres at +0.5)
    matrix = np.array(
        [[sx, 0.0, -cx1 * sx + 0.5 * sx - 0.5], [0.0, sy, -cy1 * sy + 0.5 * sy - 0.5]],
        dtype=np.float64,
    )
    interp = cv2.INTER_AREA if sx < 1.0 and sy < 1.0 else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:
        # warpAffine has no area filter: resize the (padded) region instead.
        return _crop_then_resize(image, (cx1, cy1, cx2, cy2), (out_h, out_w), border)
    mode = cv2.BORDER_CONSTANT if border == "zeros" else cv2.BORDER_REPLICATE
    return cv2.warpAffine(image, matrix, (out_w, out_h), flags=interp, borderMode=mode)


def _crop_then_resize(
    image: np.ndarray, cbox: Sequence[float], size: tuple[int, int], border: str = "replicate"
) -> np.ndarray:
    region = cut_region(image, [int(round(v)) for v in cbox], border=border)
    return area_downscale(region, size)


def cut_region(image: np.ndarray, box: Sequence[float], border: str = "replicate") -> np.ndarray:
    """Cut ``box`` ``(x1, y1, x2, y2)`` (pixels, truncated to int like PIL's crop) out of ``image``.

    Parts outside the image are filled with ``border``: ``"replicate"`` (edge pixels, as the
    runtime's crop does) or ``"zeros"`` (black, like PIL ``Image.crop`` used by HopeNet).
    The result has size ``(y2 - y1, x2 - x1)`` (at least 1x1). Training crops use it too.
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
        # box entirely outside: replicate the nearest edge pixel
        yy, xx = int(np.clip((y1 + y2) // 2, 0, h - 1)), int(np.clip((x1 + x2) // 2, 0, w - 1))
        region = image[yy : yy + 1, xx : xx + 1]
        pad_l, pad_t, pad_r, pad_b = 0, 0, x2 - x1 - 1, y2 - y1 - 1
    if pad_l or pad_t or pad_r or pad_b:
        mode = cv2.BORDER_CONSTANT if border == "zeros" else cv2.BORDER_REPLICATE
        region = cv2.copyMakeBorder(region, pad_t, pad_b, pad_l, pad_r, mode, value=0)
    return np.ascontiguousarray(region)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a whole image (already a face crop) to ``size`` (h, w) the way training does
    (exact ``INTER_AREA`` when shrinking; the video and detector paths use the cheaper
    :func:`area_downscale`)."""
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if (size[0] < h and size[1] < w) else cv2.INTER_LINEAR
    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=interp)


def area_downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink ``image`` to ``size`` (h, w) with an area (box) filter, at a fraction of
    ``cv2.INTER_AREA``'s cost: a bilinear resize to ``k`` times the target, then OpenCV's exact
    ``k x k`` integer-factor box mean (k = max(2, ceil(factor / 2))). At non-integer factors
    INTER_AREA takes its slow general path (a 1080x720 frame to 640 px: 2.3x the time); this
    stays within about 0.2 grey levels of it on average (``bench/results/speed.md``)."""
    out_h, out_w = int(size[0]), int(size[1])
    h, w = image.shape[:2]
    factor = min(w / max(out_w, 1), h / max(out_h, 1))
    k = max(2, math.ceil(factor / 2))
    big = cv2.resize(image, (out_w * k, out_h * k), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(big, (out_w, out_h), interpolation=cv2.INTER_AREA)


def to_input_tensor(crops_bgr: Sequence[np.ndarray], meta: ModelMetadata) -> np.ndarray:
    """Stack BGR uint8 crops, already of ``meta.input_size``, into the model input.

    Returns float32 ``(N, 3, H, W)`` in ``meta.color_order``, normalised with ``meta.mean/std``.
    """
    h, w = meta.input_size
    if len(crops_bgr) == 0:
        return np.zeros((0, 3, h, w), dtype=np.float32)
    mean = np.asarray(meta.mean, dtype=np.float64) * 255.0
    swap = meta.color_order == "RGB"
    # blobFromImages subtracts mean in the output channel order; mean is given in color_order
    blob = cv2.dnn.blobFromImages(
        list(crops_bgr), scalefactor=1.0, size=(w, h), mean=tuple(mean), swapRB=swap, crop=False
    )
    inv_std = (1.0 / (255.0 * np.asarray(meta.std, dtype=np.float32))).reshape(1, 3, 1, 1)
    return (blob * inv_std).astype(np.float32, copy=False)
