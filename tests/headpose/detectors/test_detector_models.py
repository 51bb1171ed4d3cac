"""Every built-in detector on real images: finds the face, pixel coordinates, empty results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.detectors import Detections, get_detector, registered
from headpose.errors import InvalidImageError, InvalidModelError

NAMES = registered()  # every registered detector, as timm tests every registered model
CROPS = ["image00002.jpg", "image00013.jpg", "image00014.jpg"]
PHOTOS = ["pose_left_0.jpg", "pose_right_0.jpg", "pose_mid_0.jpg", "pose_up_0.jpg"]


@pytest.fixture(scope="module", params=NAMES)
def detector(request):
    return get_detector(request.param, threads=1)


@pytest.fixture(scope="module")
def photos_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "pose-photos"


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def _check_types(dets: Detections, image: np.ndarray) -> None:
    n = len(dets)
    assert dets.boxes.shape == (n, 4) and dets.boxes.dtype == np.float32
    assert dets.scores.shape == (n,) and dets.scores.dtype == np.float32
    assert np.all(np.diff(dets.scores) <= 0), "best score first"
    assert np.all((dets.scores >= 0) & (dets.scores <= 1))
    h, w = image.shape[:2]
    assert np.all(dets.boxes[:, [0, 2]] >= 0) and np.all(dets.boxes[:, [0, 2]] <= w)
    assert np.all(dets.boxes[:, [1, 3]] >= 0) and np.all(dets.boxes[:, [1, 3]] <= h)
    assert np.all(dets.boxes[:, 2] > dets.boxes[:, 0]) and np.all(
        dets.boxes[:, 3] > dets.boxes[:, 1]
    )
    if dets.landmarks is not None:
        assert dets.landmarks.shape == (n, 5, 2) and dets.landmarks.dtype == np.float32


def _top_centre(dets: Detections) -> np.ndarray:
    x1, y1, x2, y2 = dets.boxes[0]
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2])


@pytest.mark.parametrize("name", CROPS)
def test_finds_the_centred_face_in_aflw_crops(detector, crops_dir: Path, name: str) -> None:
    image = _read(crops_dir / "images" / name)
    dets = detector.detect(image)
    _check_types(dets, image)
    assert len(dets) == 1
    assert np.all(np.abs(_top_centre(dets) - 192) < 96)
    side = max(dets.boxes[0, 2] - dets.boxes[0, 0], dets.boxes[0, 3] - dets.boxes[0, 1])
    assert 384 / 3.0 < side < 384 / 1.2  # the crops are 1.5-2.8x the face


@pytest.mark.parametrize("name", PHOTOS)
def test_finds_one_person_in_pose_photos(detector, photos_dir: Path, name: str) -> None:
    image = _read(photos_dir / name)
    dets = detector.detect(image)
    _check_types(dets, image)
    assert len(dets) == 1
    cx, cy = _top_centre(dets)
    assert 200 < cx < 480 and 150 < cy < 350  # the person sits in the middle of every frame


def test_boxes_are_in_original_pixels(detector, photos_dir: Path, crops_dir: Path) -> None:
    for image in (_read(photos_dir / "pose_mid_0.jpg"), _read(crops_dir / "images" / CROPS[0])):
        small = detector.detect(image)
        big = detector.detect(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR))
        assert len(small) >= 1 and len(big) >= 1
        side = float(small.boxes[0, 2] - small.boxes[0, 0])
        assert np.abs(big.boxes[0] / 2 - small.boxes[0]).max() < 0.08 * side
        if small.landmarks is not None:
            assert np.abs(big.landmarks[0] / 2 - small.landmarks[0]).max() < 0.08 * side


def test_no_face_gives_empty(detector, photos_dir: Path) -> None:
    grey = np.full((240, 320, 3), 128, np.uint8)
    background = np.ascontiguousarray(_read(photos_dir / "pose_mid_0.jpg")[:, :200])
    for image in (grey, background):
        dets = detector.detect(image)
        assert isinstance(dets, Detections) and len(dets) == 0
        _check_types(dets, image)


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 5, 3), (1, 300, 3), (0, 0, 3)])
def test_tiny_images_give_empty(detector, shape: tuple[int, int, int]) -> None:
    assert len(detector.detect(np.full(shape, 90, np.uint8))) == 0


def test_grey_input_is_accepted(detector, crops_dir: Path) -> None:
    grey = cv2.cvtColor(_read(crops_dir / "images" / CROPS[0]), cv2.COLOR_BGR2GRAY)
    assert len(detector.detect(grey)) == 1


@pytest.mark.parametrize(
    "bad", [np.zeros((32, 32, 3), np.float32), np.zeros((32, 32, 2), np.uint8), [[0, 1]]]
)
def test_bad_images_raise_clear_error(detector, bad) -> None:
    with pytest.raises(InvalidImageError, match="image"):
        detector.detect(bad)


def test_landmark_order_first_point_on_image_left(photos_dir: Path) -> None:
    """YuNet: right eye (image left), left eye, nose, right/left mouth corners; BlazeFace's 6
    keypoints start with the same two eyes."""
    image = _read(photos_dir / "pose_mid_0.jpg")
    dets = get_detector("yunet", threads=1).detect(image)
    eye_r, eye_l, nose, mouth_r, mouth_l = dets.landmarks[0]
    assert eye_r[0] < nose[0] < eye_l[0] and mouth_r[0] < mouth_l[0]
    assert max(eye_r[1], eye_l[1]) < nose[1] < min(mouth_r[1], mouth_l[1])
    x1, y1, x2, y2 = dets.boxes[0]
    assert np.all((dets.landmarks[0, :, 0] > x1) & (dets.landmarks[0, :, 0] < x2))
    assert np.all((dets.landmarks[0, :, 1] > y1) & (dets.landmarks[0, :, 1] < y2))
    bdets, keypoints = get_detector("blazeface", threads=1).detect_keypoints(image)
    assert bdets.landmarks is None and keypoints.shape == (1, 6, 2)
    k_eye_r, k_eye_l, k_nose, k_mouth, k_ear_r, k_ear_l = keypoints[0]
    assert k_ear_r[0] < k_eye_r[0] < k_nose[0] < k_eye_l[0] < k_ear_l[0]
    assert k_eye_r[1] < k_nose[1] < k_mouth[1]
    assert np.abs(keypoints[0, :2] - dets.landmarks[0, :2]).max() < 15  # same eyes, in pixels


def _opencv_yunet(image: np.ndarray) -> Detections:
    """OpenCV's own YuNet (``cv2.FaceDetectorYN``) on the same ONNX file and thresholds, best
    score first: the reference of our onnxruntime pre- and post-processing (images up to 640 px,
    which neither side resizes)."""
    from headpose.detectors._common import clipped_detections, model_file
    from headpose.detectors.yunet import YUNET_FILE

    assert max(image.shape[:2]) <= 640
    size = (image.shape[1], image.shape[0])
    impl = cv2.FaceDetectorYN.create(str(model_file(YUNET_FILE)), "", size, 0.6, 0.3, 5000)
    _, faces = impl.detect(np.ascontiguousarray(image))
    faces = np.zeros((0, 15), np.float32) if faces is None else faces
    faces = faces[np.argsort(-faces[:, 14], kind="stable")]
    boxes = np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:4]], 1)
    points = faces[:, 4:14].reshape(-1, 5, 2)
    return clipped_detections(boxes, faces[:, 14], points, size[0], size[1])[0]


def test_yunet_onnxruntime_agrees_with_opencv(crops_dir: Path, photos_dir: Path) -> None:
    ours = get_detector("yunet", threads=1)
    paths = [crops_dir / "images" / n for n in [*CROPS, "image00006.jpg"]]
    paths += [photos_dir / n for n in PHOTOS]
    for path in paths:
        a, b = ours.detect(_read(path)), _opencv_yunet(_read(path))
        assert len(a) == len(b) >= 1, path.name
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)


def test_large_image_is_downscaled_for_the_model(photos_dir: Path) -> None:
    image = _read(photos_dir / "pose_mid_0.jpg")
    det = get_detector("yunet", threads=1, max_side=320)
    half = get_detector("yunet", threads=1).detect(
        cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
    )
    full = det.detect(image)
    assert len(full) == len(half) == 1
    np.testing.assert_allclose(full.boxes[0], half.boxes[0] * 2, atol=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_missing_model_file(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="not found"):
        get_detector(name, model_path=tmp_path / "nope.onnx")


@pytest.mark.parametrize("opts", [{"score_threshold": 1.5}, {"nms_threshold": 0.0}])
def test_bad_options(opts: dict) -> None:
    from headpose.errors import InvalidInputError

    for name in NAMES:
        with pytest.raises(InvalidInputError):
            get_detector(name, **opts)
