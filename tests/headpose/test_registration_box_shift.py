"""headpose.registration: how far a face's image moved (phase correlation), and boxes that follow
it between detections (``video={"box_shift": True}``), on real AFLW2000 faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose import Estimator
from headpose.errors import InvalidInputError
from headpose.registration import BoxShifter, grey_patch, image_shift, square_of
from headpose.tracking import VideoOptions

SIDE = 160  # face crop side pasted into a 640 x 480 frame


@pytest.fixture(scope="module")
def face(aflw_crops: list[Path]) -> np.ndarray:
    return cv2.resize(cv2.imread(str(aflw_crops[0])), (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def frame_with(face: np.ndarray, x: float, y: float) -> np.ndarray:
    """A flat grey 640 x 480 frame with ``face`` placed at sub-pixel ``(x, y)`` (bilinear)."""
    m = np.float32([[1, 0, x], [0, 1, y]])
    frame = np.full((480, 640, 3), 110, np.uint8)
    mask = cv2.warpAffine(np.full(face.shape[:2], 255, np.uint8), m, (640, 480))
    moved = cv2.warpAffine(face, m, (640, 480), flags=cv2.INTER_LINEAR)
    frame[mask > 127] = moved[mask > 127]
    return frame


BOX = np.array([100.0, 90.0, 100.0 + SIDE, 90.0 + SIDE])


@pytest.mark.parametrize("dx, dy", [(0.0, 0.0), (1.5, -0.5), (-4.2, 2.7), (6.0, 5.0)])
def test_image_shift_finds_a_known_move(face: np.ndarray, dx: float, dy: float) -> None:
    before = frame_with(face, 100, 90)
    after = frame_with(face, 100 + dx, 90 + dy)
    shift = image_shift(grey_patch(before, square_of(BOX)), after, square_of(BOX))
    assert shift is not None
    assert shift[0] == pytest.approx(dx, abs=0.6)
    assert shift[1] == pytest.approx(dy, abs=0.6)


def test_image_shift_refuses_an_unrelated_image(face: np.ndarray) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    reference = grey_patch(noise, square_of(BOX))
    assert image_shift(reference, frame_with(face, 100, 90), square_of(BOX)) is None


def test_grey_patch_of_a_box_at_the_edge_has_the_patch_size(face: np.ndarray) -> None:
    patch = grey_patch(frame_with(face, 0, 0), square_of(np.array([-40.0, -30.0, 80.0, 90.0])))
    assert patch.shape == (64, 64) and patch.dtype == np.float32
    assert np.isfinite(patch).all()


def test_follow_moves_boxes_and_landmarks_with_the_image(face: np.ndarray) -> None:
    shifter = BoxShifter(gain=1.0)
    points = np.array([[[150.0, 140.0], [200.0, 140.0]]])
    found = (BOX[None, :], np.array([0.9]), points)
    settled = shifter.settle(frame_with(face, 100, 90), found)
    np.testing.assert_allclose(settled[0], found[0])  # gain 1: the detection as it is
    boxes, scores, moved_points = shifter.follow(frame_with(face, 104, 87), settled)
    np.testing.assert_allclose(boxes[0], BOX + [4, -3, 4, -3], atol=0.6)
    np.testing.assert_allclose(moved_points - points, np.broadcast_to([4, -3], (1, 2, 2)), atol=0.6)
    assert scores.tolist() == [0.9]


def test_settle_blends_the_detection_with_the_shifted_box(face: np.ndarray) -> None:
    """The face moved 4 px right; the detector says 10 px: gain 0.5 lands half way between the
    image's move and the detection; a face the shifter never saw takes its detection."""
    shifter = BoxShifter(gain=0.5)
    shifter.settle(frame_with(face, 100, 90), (BOX[None, :], np.array([0.9]), None))
    detected = np.stack([BOX + [10, 0, 10, 0], [400.0, 300.0, 450.0, 350.0]])
    boxes, _, points = shifter.settle(frame_with(face, 104, 90), (detected, np.ones(2), None))
    assert points is None
    np.testing.assert_allclose(boxes[0], BOX + [7, 0, 7, 0], atol=0.4)
    np.testing.assert_allclose(boxes[1], detected[1])


def test_box_shift_in_video_mode_follows_a_drifting_face(
    tiny_model: Path, face: np.ndarray
) -> None:
    """The face drifts 3 px a frame, the detector runs every 3rd frame: held boxes stay put,
    shifted boxes move on about 3 px a frame from their detector frame's box. On detector frames
    (gain 1) both take the detector's box; the ROI it searched follows the shifted box, so the
    two detections may differ by the detector's own few pixels."""
    from headpose.detectors import get_detector

    detector = get_detector("yunet", threads=1)
    video = {"redetect_every": 30, "detect_every": 3}

    def boxes(options: dict[str, object]) -> list[np.ndarray]:
        stream = Estimator(tiny_model, detector=detector, threads=1).video_tracker(
            video={**video, **options}, smooth=False
        )
        return [
            np.array(stream.process(frame_with(face, 60 + 3 * i, 120))[0].box) for i in range(7)
        ]

    held, shifted = boxes({}), boxes({"box_shift": True})
    np.testing.assert_allclose(shifted[0], held[0])
    for i in (3, 6):
        np.testing.assert_allclose(shifted[i], held[i], atol=5.0)
    for i in (1, 2, 4, 5):
        assert held[i][0] == held[i - 1][0]
        moved = shifted[i] - shifted[i - i % 3]
        np.testing.assert_allclose(moved, [3.0 * (i % 3), 0, 3.0 * (i % 3), 0], atol=1.0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"box_shift": 1}, "box_shift: expected True or False"),
        ({"box_shift_gain": 0.0}, r"box_shift_gain: expected a number in \(0, 1\], got 0.0"),
        ({"box_shift_gain": 1.5}, r"box_shift_gain: expected a number in \(0, 1\], got 1.5"),
        ({"box_shift_gain": True}, "box_shift_gain: expected a number"),
    ],
)
def test_bad_box_shift_options_are_named(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        VideoOptions.make(options)


def test_box_shift_parses_from_the_command_line_form() -> None:
    parsed = VideoOptions.parse([("box_shift", "true"), ("box_shift_gain", "0.5")])
    assert parsed == {"box_shift": True, "box_shift_gain": 0.5}
    assert VideoOptions().box_shift is False


def test_the_shipped_fast_model_keeps_its_recommended_video_settings() -> None:
    """``model="fast"``'s metadata recommends the detector on every 4th frame and boxes that
    follow the image (gain 0.5); every key of it stays a video setting, and box_shift turns off."""
    from headpose.estimator import Estimator

    video = Estimator(model="fast", detector=None).video
    assert video == VideoOptions(detect_every=4, box_shift=True, box_shift_gain=0.5)
    off = video.merged({"box_shift": False})
    assert not off.box_shift and off.detect_every == 4
