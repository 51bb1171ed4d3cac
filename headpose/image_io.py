"""Load and validate every image input the runtime accepts, and face boxes.

Every image becomes a contiguous BGR ``uint8`` array ``(H, W, 3)`` (OpenCV's colour order):

* a path (``str`` / :class:`pathlib.Path`): read with OpenCV (EXIF orientation applied; alpha
  dropped; 16-bit files scaled to 8-bit);
* a numpy array: ``(H, W)`` or ``(H, W, 1)`` grey, ``(H, W, 3)`` **BGR**, ``(H, W, 4)`` **BGRA**
  (alpha dropped). dtype ``uint8`` as is; ``uint16`` scaled by 255/65535; ``bool`` -> 0/255;
  other integer types clipped to [0, 255]; float images are taken as [0, 1] when their maximum is
  <= 1, else as [0, 255], then clipped and rounded. NaN/inf pixels are an error;
* a PIL image (PIL is optional, never imported here): its **RGB** / RGBA / L / I;16 / ... data is
  converted to BGR.

Boxes are ``(x1, y1, x2, y2)`` float pixels. :func:`clip_boxes` clips them to the image; a box
that is empty after clipping (outside the image or of zero area) is dropped, not an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from headpose.errors import InvalidImageError, InvalidInputError

ImageInput = Any  # str | os.PathLike | np.ndarray | PIL.Image.Image

#: File suffixes headpose reads as images (lower case), everywhere: headpose-predict folders,
#: export crop folders, unlabeled training folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm")

#: The largest image (width x height) a file may decode to: 100 megapixels (a 300 MB BGR array;
#: PIL's decompression-bomb limit is 179 MP). A small PNG can claim gigapixels; such a file is
#: refused before it is decoded. Override with the ``HEADPOSE_MAX_IMAGE_PIXELS`` environment
#: variable (an integer).
MAX_IMAGE_PIXELS = 100_000_000


def max_image_pixels() -> int:
    """The pixel limit in force: ``$HEADPOSE_MAX_IMAGE_PIXELS`` when set, else
    :data:`MAX_IMAGE_PIXELS`."""
    raw = os.environ.get("HEADPOSE_MAX_IMAGE_PIXELS", "").strip()
    if not raw:
        return MAX_IMAGE_PIXELS
    try:
        return max(1, int(raw))
    except ValueError:
        raise InvalidInputError(
            f"HEADPOSE_MAX_IMAGE_PIXELS: expected an integer, got {raw!r}"
        ) from None


def encoded_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` from the header of PNG, JPEG, BMP, GIF or WebP bytes, without
    decoding; None for other or truncated formats."""
    head = bytes(data[:65536]) if isinstance(data, np.ndarray) else data[:65536]
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:2] == b"BM" and len(head) >= 26:
        return (
            abs(int.from_bytes(head[18:22], "little", signed=True)),
            abs(int.from_bytes(head[22:26], "little", signed=True)),
        )
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(
                head[27:30], "little"
            )
        if chunk == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if chunk == b"VP8 ":
            return (
                int.from_bytes(head[26:28], "little") & 0x3FFF,
                int.from_bytes(head[28:30], "little") & 0x3FFF,
            )
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(head[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(head[i + 7 : i + 9], "big"), int.from_bytes(
                    head[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return None


def check_pixel_limit(width: int, height: int, name: str) -> None:
    """:class:`InvalidImageError` naming ``name`` if ``width x height`` exceeds the limit."""
    limit = max_image_pixels()
    if width * height > limit:
        raise InvalidImageError(
            f"{name}: image is {width}x{height} = {width * height / 1e6:.0f} megapixels, above "
            f"the limit of {limit / 1e6:.0f} (set HEADPOSE_MAX_IMAGE_PIXELS to allow larger "
            "images)"
        )


def decode_image_bytes(
    data: np.ndarray, name: str, flags: int = cv2.IMREAD_COLOR
) -> np.ndarray | None:
    """``cv2.imdecode`` after the pixel-limit check on the header (and on the result, for
    formats whose header is not parsed here); None when OpenCV cannot decode the bytes."""
    size = encoded_size(data)
    if size is not None:
        check_pixel_limit(*size, name)
    decoded = cv2.imdecode(data, flags)
    if decoded is not None and size is None:
        check_pixel_limit(decoded.shape[1], decoded.shape[0], name)
    return decoded


def load_image(image: ImageInput, name: str = "image") -> np.ndarray:
    """Any supported input -> BGR uint8 ``(H, W, 3)``; :class:`InvalidImageError` if unusable."""
    if isinstance(image, (str, os.PathLike)):
        return read_image_file(image)
    if isinstance(image, np.ndarray):
        return to_bgr_uint8(image, name)
    if _is_pil_image(image):
        return pil_to_bgr(image, name)
    raise InvalidImageError(
        f"{name}: expected a file path, a numpy array or a PIL image, got {type(image).__name__}"
    )


def read_image_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file to BGR uint8 ``(H, W, 3)``; errors name the file."""
    p = Path(path)
    if not p.exists():
        raise InvalidImageError(f"{p}: no such file")
    if p.is_dir():
        raise InvalidImageError(f"{p}: is a directory, expected an image file")
    try:
        data = np.fromfile(str(p), dtype=np.uint8)  # also works for non-ASCII paths on Windows
    except OSError as exc:
        raise InvalidImageError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise InvalidImageError(f"{p}: empty file (0 bytes)")
    decoded = decode_image_bytes(data, str(p), cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if decoded is None or decoded.size == 0:
        raise InvalidImageError(f"{p}: not a readable image (corrupt or unsupported format)")
    return to_bgr_uint8(decoded, str(p))


def to_bgr_uint8(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate a numpy image and convert it to contiguous BGR uint8 ``(H, W, 3)``.

    Input layout: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA. The result
    shares memory with ``array`` only when no conversion was needed; treat it as read-only.
    """
    arr = np.asarray(array)
    if arr.ndim not in (2, 3):
        raise InvalidImageError(
            f"{name}: expected an image of shape (H, W) or (H, W, C), got shape {arr.shape}"
        )
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise InvalidImageError(
            f"{name}: expected 1, 3 or 4 channels (grey, BGR, BGRA), got {arr.shape[2]} "
            f"(shape {arr.shape})"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidImageError(f"{name}: empty image of size {arr.shape[1]}x{arr.shape[0]} (WxH)")
    arr = _to_uint8(arr, name)
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    elif arr.shape[2] == 1:
        arr = cv2.cvtColor(arr[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    if kind == "b":
        out: np.ndarray = arr.astype(np.uint8) * np.uint8(255)
        return out
    if arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if kind in "iu":
        clipped: np.ndarray = np.clip(arr, 0, 255)
        return clipped.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidImageError(f"{name}: float image contains NaN or inf pixels")
        scale = 255.0 if float(arr.max()) <= 1.0 else 1.0
        scaled: np.ndarray = np.clip(np.rint(arr.astype(np.float32) * scale), 0, 255)
        return scaled.astype(np.uint8)
    raise InvalidImageError(
        f"{name}: expected an integer or float pixel dtype (uint8, uint16, float32, ...), "
        f"got {arr.dtype}"
    )


def _is_pil_image(obj: Any) -> bool:
    """Duck-typed PIL check, so PIL is never imported by headpose."""
    return all(hasattr(obj, a) for a in ("mode", "size", "convert", "getbands"))


def pil_to_bgr(image: Any, name: str = "image") -> np.ndarray:
    """A PIL image (RGB, RGBA, L, I;16, F, P, CMYK, ...) -> BGR uint8 ``(H, W, 3)``."""
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        rgb = np.asarray(image)
        code = cv2.COLOR_RGB2BGR if mode == "RGB" else cv2.COLOR_RGBA2BGR
        if rgb.size == 0:
            raise InvalidImageError(f"{name}: empty PIL image of size {image.size}")
        return np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(rgb), code))
    if mode in ("L", "I", "I;16", "I;16B", "I;16L", "F", "1"):
        arr = np.asarray(image)
        if mode.startswith("I;16"):
            arr = arr.astype(np.uint16)
        elif mode == "I":
            arr = arr.astype(np.int64)
        return to_bgr_uint8(arr, name)
    return pil_to_bgr(image.convert("RGB"), name)


def as_boxes(boxes: Any, name: str = "boxes") -> np.ndarray:
    """Validate face boxes: ``(N, 4)`` or one ``(4,)`` box of finite ``(x1, y1, x2, y2)`` pixels.

    Returns float64 ``(N, 4)``. :class:`InvalidInputError` with expected vs got on a bad shape,
    a non-numeric value, a NaN/inf coordinate or an inverted box (``x2 < x1`` or ``y2 < y1``,
    e.g. ``(x, y, w, h)`` with a negative size), naming the row. An empty box passes here (it is
    skipped after clipping).
    """
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name}: expected numbers of shape (N, 4) as (x1, y1, x2, y2), got {_describe(boxes)}"
        ) from exc
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim == 1 and arr.shape[0] == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidInputError(
            f"{name}: expected shape (N, 4) as (x1, y1, x2, y2), got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name}: row {row} is {arr[row].tolist()}, expected finite (x1, y1, x2, y2)"
        )
    inverted = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if inverted.any():
        row = int(np.flatnonzero(inverted)[0])
        raise InvalidInputError(
            f"{name}: row {row} is {arr[row].tolist()}, expected (x1, y1, x2, y2) with x2 >= x1 "
            "and y2 >= y1 (corners, not (x, y, width, height))"
        )
    return arr


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``(N, 4)`` boxes to ``[0, width] x [0, height]``.

    Returns ``(clipped (M, 4), kept (M,) int indices into boxes)``: boxes empty after clipping
    (no positive width and height inside the image) are dropped.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, [0, 2]] = np.clip(b[:, [0, 2]], 0.0, float(width))
    out[:, [1, 3]] = np.clip(b[:, [1, 3]], 0.0, float(height))
    keep = np.flatnonzero((out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1]))
    return out[keep], keep


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."
