"""Every image input form and every bad input, one test each."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.errors import InvalidImageError, InvalidInputError
from headpose.image_io import as_boxes, clip_boxes, load_image, read_image_file, to_bgr_uint8


@pytest.fixture(scope="module")
def photo(pose_photos: list[Path]) -> Path:
    return pose_photos[0]


def test_path_and_str_give_bgr_uint8(photo: Path) -> None:
    a = load_image(photo)
    b = load_image(str(photo))
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8 and a.flags.c_contiguous
    assert np.array_equal(a, b)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageError, match=r"nope\.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file_names_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InvalidImageError, match=r"empty\.png: empty file"):
        read_image_file(empty)


def test_corrupt_bytes_name_the_file(tmp_path: Path, photo: Path) -> None:
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(photo.read_bytes()[:300])
    with pytest.raises(InvalidImageError, match=r"truncated\.jpg: not a readable image"):
        load_image(bad)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(InvalidImageError, match=r"junk\.png"):
        load_image(junk)


def test_grey_and_single_channel(photo: Path) -> None:
    grey = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    out = load_image(grey)
    assert out.shape == grey.shape + (3,)
    assert np.array_equal(out[:, :, 0], grey) and np.array_equal(out[:, :, 2], grey)
    assert np.array_equal(load_image(grey[:, :, None]), out)


def test_bgra_drops_alpha(crop_bgr: np.ndarray) -> None:
    bgra = np.dstack([crop_bgr, np.full(crop_bgr.shape[:2], 7, np.uint8)])
    assert np.array_equal(load_image(bgra), crop_bgr)


def test_sixteen_bit_is_scaled(crop_bgr: np.ndarray) -> None:
    wide = crop_bgr.astype(np.uint16) * 257
    assert np.array_equal(load_image(wide), crop_bgr)


def test_sixteen_bit_png_file(tmp_path: Path, crop_bgr: np.ndarray) -> None:
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), crop_bgr.astype(np.uint16) * 257)
    assert np.array_equal(load_image(path), crop_bgr)


def test_float_images_zero_one_and_zero_255(crop_bgr: np.ndarray) -> None:
    assert np.array_equal(load_image(crop_bgr.astype(np.float32) / 255.0), crop_bgr)
    assert np.array_equal(load_image(crop_bgr.astype(np.float64)), crop_bgr)
    over = crop_bgr.astype(np.float32) * 2.0  # clipped, not wrapped
    assert load_image(over).max() == 255 and load_image(over).min() >= 0


def test_float_with_nan_is_an_error(crop_bgr: np.ndarray) -> None:
    bad = crop_bgr.astype(np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        load_image(bad)


@pytest.mark.parametrize("channels", [2, 5])
def test_wrong_channel_count(channels: int) -> None:
    with pytest.raises(InvalidImageError, match=f"expected 1, 3 or 4 channels.*got {channels}"):
        load_image(np.zeros((20, 20, channels), np.uint8))


def test_wrong_rank() -> None:
    with pytest.raises(InvalidImageError, match=r"got shape \(2, 20, 20, 3\)"):
        to_bgr_uint8(np.zeros((2, 20, 20, 3), np.uint8))


def test_zero_by_zero_image() -> None:
    with pytest.raises(InvalidImageError, match="empty image of size 0x0"):
        load_image(np.zeros((0, 0, 3), np.uint8))


def test_one_by_one_image_is_valid() -> None:
    assert load_image(np.full((1, 1), 9, np.uint8)).shape == (1, 1, 3)


def test_unsupported_type_and_dtype() -> None:
    with pytest.raises(InvalidImageError, match="got int"):
        load_image(42)
    with pytest.raises(InvalidImageError, match="complex"):
        load_image(np.zeros((4, 4, 3), np.complex64))


def test_pil_rgb_becomes_bgr(crop_bgr: np.ndarray) -> None:
    Image = pytest.importorskip("PIL.Image")
    pil = Image.fromarray(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB))
    assert np.array_equal(load_image(pil), crop_bgr)
    rgba = Image.fromarray(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGBA))
    assert np.array_equal(load_image(rgba), crop_bgr)
    grey = pil.convert("L")
    assert load_image(grey).shape == crop_bgr.shape
    assert load_image(pil.convert("P")).shape == crop_bgr.shape  # palette: converted via RGB


def test_boxes_shapes() -> None:
    assert as_boxes([1, 2, 3, 4]).shape == (1, 4)
    assert as_boxes([[1, 2, 3, 4], [5, 6, 7, 8]]).shape == (2, 4)
    assert as_boxes(np.zeros((0, 4))).shape == (0, 4)
    assert as_boxes([]).shape == (0, 4)


def test_wrong_box_shape_says_expected_and_got() -> None:
    with pytest.raises(InvalidInputError, match=r"expected shape \(N, 4\).*got shape \(2, 3\)"):
        as_boxes([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(InvalidInputError, match=r"expected shape \(N, 4\).*got shape \(5,\)"):
        as_boxes([1, 2, 3, 4, 5])
    with pytest.raises(InvalidInputError, match=r"expected numbers"):
        as_boxes([["a", "b", "c", "d"]])


def test_nan_box_names_the_row() -> None:
    with pytest.raises(InvalidInputError, match="row 1"):
        as_boxes([[0, 0, 10, 10], [0, np.nan, 10, 10]])


def test_inverted_box_names_the_row() -> None:
    with pytest.raises(InvalidInputError, match=r"row 0 is \[0.0, 0.0, -5.0, 10.0\].*x2 >= x1"):
        as_boxes([[0, 0, -5, 10]])  # (x, y, w, h) with a negative width
    with pytest.raises(InvalidInputError, match="row 1"):
        as_boxes([[0, 0, 10, 10], [5, 20, 30, 19]])  # y2 < y1
    assert as_boxes([[5, 20, 5, 30]]).shape == (1, 4)  # empty, not inverted: skipped later


def test_clip_boxes_clips_and_drops_empty() -> None:
    boxes = np.array(
        [[-10, -5, 50, 40], [90, 90, 200, 200], [120, 0, 150, 20], [5, 5, 5, 30]], float
    )
    clipped, kept = clip_boxes(boxes, width=100, height=100)
    assert kept.tolist() == [0, 1]  # entirely outside and zero-width boxes are dropped
    assert clipped.tolist() == [[0, 0, 50, 40], [90, 90, 100, 100]]


def _forged_png(path: Path, width: int, height: int) -> Path:
    """A real 8x8 PNG whose header claims ``width`` x ``height`` (a decompression bomb's header:
    a small file that would decode to gigabytes)."""
    ok, buf = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    data = bytearray(buf.tobytes())
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def test_pixel_limit_refuses_huge_images_before_decoding(tmp_path: Path, photo: Path) -> None:
    from headpose.training.data import DataError
    from headpose.training.data.image_io import read_rgb

    bomb = _forged_png(tmp_path / "bomb.png", 40_000, 30_000)  # 1200 MP: 3.6 GB as BGR
    with pytest.raises(InvalidImageError, match=r"bomb\.png: image is 40000x30000 = 1200 megapix"):
        read_image_file(bomb)
    with pytest.raises(DataError, match=r"bomb\.png: .*above the limit of 100"):
        read_rgb(bomb)


def test_pixel_limit_is_configurable(photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADPOSE_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(InvalidImageError, match="HEADPOSE_MAX_IMAGE_PIXELS"):
        load_image(photo)
    monkeypatch.setenv("HEADPOSE_MAX_IMAGE_PIXELS", str(640 * 480))
    assert load_image(photo).shape[:2] == (480, 640)
