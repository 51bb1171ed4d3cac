"""Estimator / Face on real images with a tiny model: boxes given, fake and real detectors,
batching, crops, tracking, every bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose import Estimator, Face
from headpose.detectors.base import Detections
from headpose.errors import InvalidInputError, InvalidModelError
from headpose.pose_model import PoseModel
from headpose.smoothing import DEFAULT_SMOOTHING

FACE_BOX = [250.0, 120.0, 430.0, 350.0]  # around the face in the 640x480 pose photos


class FakeDetector:
    """Returns fixed detections (unsorted, one below threshold, one NaN, one off-image)."""

    name = "fake"

    def __init__(self, dets: Detections) -> None:
        self.dets = dets
        self.calls = 0

    def detect(self, image_bgr: np.ndarray) -> Detections:
        self.calls += 1
        assert image_bgr.dtype == np.uint8 and image_bgr.shape[2] == 3
        return self.dets


@pytest.fixture(scope="module")
def est(tiny_model: Path) -> Estimator:
    return Estimator(tiny_model, detector=None, threads=1)


@pytest.fixture
def spy(est: Estimator, spy_session):
    original = est.model.session
    est.model.session = spy_session(original)
    yield est.model.session
    est.model.session = original


def test_predict_with_boxes_on_pose_photos(est: Estimator, pose_photos: list[Path]) -> None:
    for path in pose_photos[:3]:
        faces = est.predict(path, boxes=[FACE_BOX])
        assert len(faces) == 1
        face = faces[0]
        assert isinstance(face, Face)
        assert face.box == tuple(FACE_BOX) and face.score == 1.0
        assert all(math.isfinite(v) for v in (face.yaw, face.pitch, face.roll, face.uncertainty))
        assert face.matrix.shape == (3, 3) and face.landmarks is None
        assert face.uncertainty == pytest.approx(np.mean(face.spread))
        assert np.allclose(face.angles, [face.yaw, face.pitch, face.roll])


def test_face_to_dict_is_json(est: Estimator, crops_dir: Path, aflw_crops: list[Path]) -> None:
    (face,) = est.predict(aflw_crops[0], boxes=[60, 60, 320, 320])
    d = face.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["box"] == [60.0, 60.0, 320.0, 320.0]
    assert set(back) >= {"box", "score", "yaw", "pitch", "roll", "uncertainty", "spread", "matrix"}
    assert back["spread"]["yaw"] == pytest.approx(face.spread[0])
    assert np.allclose(back["matrix"], face.matrix)


def test_all_faces_in_one_batched_call(est: Estimator, spy, pose_photos: list[Path]) -> None:
    boxes = [FACE_BOX, [10, 10, 110, 110], [500, 300, 600, 420], [200, 50, 300, 150]]
    faces = est.predict(pose_photos[0], boxes=boxes)
    assert len(faces) == 4
    assert spy.batches == [4]
    assert [f.box for f in faces] == [tuple(map(float, b)) for b in boxes]  # order of the boxes


def test_same_result_as_pose_model_on_the_crop(est: Estimator, pose_photos: list[Path]) -> None:
    from headpose.preprocess import crop_face

    image = cv2.imread(str(pose_photos[0]))
    (face,) = est.predict(image, boxes=[FACE_BOX])
    crop = crop_face(image, FACE_BOX, est.model.meta.crop, est.model.input_size)
    angles, _ = est.model.predict_crops([crop])
    assert np.allclose(face.angles, angles[0])


def test_predict_crops_batched(est: Estimator, spy, aflw_crops: list[Path]) -> None:
    images = [cv2.imread(str(p)) for p in aflw_crops]
    faces = est.predict_crops([aflw_crops[0], *images[1:]])  # paths and arrays mixed
    assert len(faces) == len(aflw_crops)
    assert spy.batches == [len(aflw_crops)]
    assert faces[0].box == (0.0, 0.0, 384.0, 384.0)
    stacked = est.predict_crops(np.stack(images))
    assert np.allclose([f.yaw for f in stacked], [f.yaw for f in faces])
    assert est.predict_crops([]) == []


def test_long_crop_lists_run_in_chunks(est: Estimator, spy, aflw_crops: list[Path]) -> None:
    from headpose.estimator import CROP_CHUNK

    images = [cv2.imread(str(p)) for p in aflw_crops] * 5  # 20 crops
    faces = est.predict_crops(images)
    n = len(images)
    assert spy.batches == [CROP_CHUNK] * (n // CROP_CHUNK) + (
        [n % CROP_CHUNK] if n % CROP_CHUNK else []
    )
    one_by_one = [est.predict_crops([img])[0].yaw for img in images]
    assert np.allclose([f.yaw for f in faces], one_by_one, atol=1e-4)  # same answers, in order


def test_input_forms_give_the_same_pose(est: Estimator, crop_bgr: np.ndarray) -> None:
    box = [40, 40, 340, 340]
    ref = est.predict(crop_bgr, boxes=[box])[0].angles
    bgra = np.dstack([crop_bgr, np.full(crop_bgr.shape[:2], 255, np.uint8)])
    assert np.allclose(est.predict(bgra, boxes=[box])[0].angles, ref)
    as_float = crop_bgr.astype(np.float32) / 255.0
    assert np.allclose(est.predict(as_float, boxes=[box])[0].angles, ref, atol=1e-4)
    Image = pytest.importorskip("PIL.Image")
    pil = Image.fromarray(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB))
    assert np.allclose(est.predict(pil, boxes=[box])[0].angles, ref)


def test_grey_image(est: Estimator, pose_photos: list[Path]) -> None:
    grey = cv2.imread(str(pose_photos[0]), cv2.IMREAD_GRAYSCALE)
    assert grey.ndim == 2
    ref = est.predict(pose_photos[0], boxes=[FACE_BOX])[0].angles
    assert np.allclose(est.predict(grey, boxes=[FACE_BOX])[0].angles, ref, atol=0.5)


def test_boxes_outside_are_clipped_or_skipped(est: Estimator, crop_bgr: np.ndarray) -> None:
    """Skipped boxes used to vanish silently: 3 boxes in, 1 face out, no way to tell which
    (issue 40); a warning now names each dropped row."""
    from headpose.errors import DroppedBoxWarning

    boxes = [[-50, -50, 200, 200], [1000, 1000, 1100, 1100], [100, 100, 100, 300]]
    h, w = crop_bgr.shape[:2]
    with pytest.warns(DroppedBoxWarning) as caught:
        faces = est.predict(crop_bgr, boxes=boxes)
    assert len(faces) == 1
    assert faces[0].box == (0.0, 0.0, 200.0, 200.0)
    (warning,) = caught
    assert str(warning.message) == (
        "boxes: row 1 [1000.0, 1000.0, 1100.0, 1100.0], row 2 [100.0, 100.0, 100.0, 300.0]: "
        f"nothing left inside the {w}x{h} image (outside it or of zero area), so no face for "
        "them; 1 of 3 boxes give faces"
    )
    assert warning.filename == __file__  # points at the caller


def test_nan_box_is_an_error(est: Estimator, crop_bgr: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="row 0"):
        est.predict(crop_bgr, boxes=[[np.nan, 0, 10, 10]])


def test_wrong_box_shape_is_an_error(est: Estimator, crop_bgr: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match=r"expected shape \(N, 4\).*got shape \(1, 5\)"):
        est.predict(crop_bgr, boxes=[[0, 0, 10, 10, 0.9]])


def test_no_detector_and_no_boxes_is_a_clear_error(est: Estimator, crop_bgr: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="detector=None.*boxes"):
        est.predict(crop_bgr)


def test_tiny_and_empty_images(tiny_model: Path) -> None:
    fake = FakeDetector(Detections.empty())
    est = Estimator(tiny_model, detector=fake)
    assert est.predict(np.zeros((1, 1, 3), np.uint8)) == []
    assert fake.calls == 0  # too small to hold a face: the detector is not even run
    assert len(est.predict(np.zeros((1, 1), np.uint8), boxes=[[0, 0, 1, 1]])) == 1
    with pytest.raises(Exception, match="empty image"):
        est.predict(np.zeros((0, 0, 3), np.uint8))


def test_detector_results_are_filtered_sorted_and_clipped(
    tiny_model: Path, crop_bgr: np.ndarray
) -> None:
    dets = Detections(
        boxes=np.array(
            [
                [10, 10, 100, 100],
                [150, 150, 300, 420],
                [0, 0, 50, 50],
                [np.nan, 0, 5, 5],
                [500, 500, 600, 600],
            ],
            np.float32,
        ),
        scores=np.array([0.6, 0.95, 0.3, 0.99, 0.9], np.float32),
        landmarks=np.arange(5 * 5 * 2, dtype=np.float32).reshape(5, 5, 2),
    )
    est = Estimator(tiny_model, detector=FakeDetector(dets), min_score=0.5)
    faces = est.predict(crop_bgr)
    # NaN box, low score and off-image box dropped; best score first; clipped to 384x384
    assert [round(f.score, 2) for f in faces] == [0.95, 0.6]
    assert faces[0].box == (150.0, 150.0, 300.0, 384.0)
    assert np.array_equal(faces[0].landmarks, dets.landmarks[1])
    est.max_faces = 1
    assert len(est.predict(crop_bgr)) == 1


def test_boxes_override_the_detector(tiny_model: Path, crop_bgr: np.ndarray) -> None:
    fake = FakeDetector(Detections.empty())
    est = Estimator(tiny_model, detector=fake)
    assert len(est.predict(crop_bgr, boxes=[[10, 10, 200, 200]])) == 1
    assert fake.calls == 0


def test_two_angle_model_reports_roll_nan(make_model, crop_bgr: np.ndarray) -> None:
    est = Estimator(make_model("yp.onnx", angles=("yaw", "pitch")), detector=None)
    (face,) = est.predict_crops([crop_bgr])
    assert math.isnan(face.roll) and math.isfinite(face.yaw)
    assert face.uncertainty == pytest.approx(np.mean(face.spread[:2]))
    assert face.to_dict()["roll"] is None
    assert np.isfinite(face.matrix).all()  # unknown roll counts as 0
    json.dumps(face.to_dict(), allow_nan=False)


def test_track_smooths_and_keeps_ids(est: Estimator, pose_photos: list[Path]) -> None:
    frames = [cv2.imread(str(p)) for p in pose_photos[:2]]
    # boxes come from a fake detector that always returns the same face
    dets = Detections(np.array([FACE_BOX], np.float32), np.array([0.9], np.float32))
    tracked_est = Estimator(est.model, detector=FakeDetector(dets))
    sequence = [frames[0], frames[1]] * 4
    raw = [tracked_est.predict(f)[0].yaw for f in sequence]
    # the fake detector gives frame coordinates whatever it is shown: no ROI search here
    tracked_est.video = tracked_est.video.merged(False)
    out = list(tracked_est.track(sequence, fps=30))
    assert [len(f) for f in out] == [1] * len(sequence)
    assert {f[0].track_id for f in out} == {0}
    smooth = [f[0].yaw for f in out]
    assert smooth[0] == pytest.approx(raw[0])
    assert np.std(np.diff(smooth[2:])) < np.std(np.diff(raw[2:]))


def test_track_reads_a_capture(est: Estimator, pose_photos: list[Path]) -> None:
    class Capture:
        def __init__(self) -> None:
            self.frames = [cv2.imread(str(p)) for p in pose_photos[:3]]

        def read(self):
            return (True, self.frames.pop(0)) if self.frames else (False, None)

    dets = Detections(np.array([FACE_BOX], np.float32), np.array([0.9], np.float32))
    tracked_est = Estimator(est.model, detector=FakeDetector(dets))
    tracked_est.video = tracked_est.video.merged(False)
    assert len(list(tracked_est.track(Capture()))) == 3


def test_smoothing_is_on_off_or_a_strength(tiny_model: Path) -> None:
    est = Estimator(tiny_model, detector=None)
    assert est.smoothing == DEFAULT_SMOOTHING and est.tracker().smooth
    assert not Estimator(tiny_model, detector=None, smoothing=False).tracker().smooth
    twice = Estimator(tiny_model, detector=None, smoothing=2).tracker().settings
    assert twice["min_cutoff"] == DEFAULT_SMOOTHING["min_cutoff"] / 2
    assert twice["beta"] == DEFAULT_SMOOTHING["beta"] / 2
    assert twice["d_cutoff"] == DEFAULT_SMOOTHING["d_cutoff"]
    assert Estimator(tiny_model, detector=None, smoothing=1.0).smoothing == DEFAULT_SMOOTHING


def test_removed_keywords_are_type_errors(est: Estimator, pose_photos: list[Path]) -> None:
    """0.2.0 is the first release: no keyword of an earlier draft is taken (``video=``,
    ``detector_options=``, ``track(video=, smooth=)``), and a typo is not swallowed."""
    for key, value in (("video", False), ("detector_options", {}), ("smoothin", True)):
        with pytest.raises(TypeError, match=key):
            Estimator(est.model, detector=None, **{key: value})
    for key in ("video", "smooth"):
        with pytest.raises(TypeError, match=key):
            est.track([pose_photos[0]], **{key: False})  # type: ignore[call-arg]


def test_bad_options(tiny_model: Path) -> None:
    with pytest.raises(InvalidInputError, match="min_score"):
        Estimator(tiny_model, detector=None, min_score=2)
    with pytest.raises(InvalidInputError, match="max_faces"):
        Estimator(tiny_model, detector=None, max_faces=0)
    for bad in ({"min_cutoff": 0.3}, {"stages": 2}):  # a dict of filter settings: not taken
        with pytest.raises(InvalidInputError, match="smoothing: expected True, False or a str"):
            Estimator(tiny_model, detector=None, smoothing=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="smoothing: unknown key"):
        Estimator(tiny_model, detector=None).tracker(stages=2)
    with pytest.raises(InvalidInputError, match="detector"):
        Estimator(tiny_model, detector=3.5)
    with pytest.raises(InvalidModelError, match="not found"):
        Estimator("no/such/model.onnx", detector=None)


def test_accepts_a_loaded_pose_model(tiny_model: Path) -> None:
    model = PoseModel(tiny_model)
    assert Estimator(model, detector=None).model is model


def test_real_detector_finds_the_face(tiny_model: Path, pose_photos: list[Path]) -> None:
    from headpose import detectors

    if "yunet" not in getattr(detectors, "available", lambda: [])():
        pytest.skip("yunet detector not available")
    est = Estimator(tiny_model, detector="auto")
    faces = est.predict(pose_photos[0])
    assert len(faces) == 1 and faces[0].score > 0.5
    x1, y1, x2, y2 = faces[0].box
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
    assert est.predict(np.zeros((64, 64, 3), np.uint8)) == []


def test_threads_reach_a_named_detector_that_takes_them(tiny_model) -> None:
    from headpose import Estimator

    est = Estimator(tiny_model, detector="yunet", threads=1)
    assert est.detector.session.get_session_options().intra_op_num_threads == 1


def test_with_angles_replaces_the_angles_and_their_matrix() -> None:
    from headpose.estimator import make_face
    from headpose.rotation import euler_to_matrix

    face = make_face((10, 20, 110, 140), 0.9, (5.0, -3.0, 2.0), (4.0, 4.0, 4.0))
    moved = face.with_angles(np.array([30.0, 10.0, float("nan")]))
    assert (moved.yaw, moved.pitch) == (30.0, 10.0) and math.isnan(moved.roll)
    assert np.allclose(moved.matrix, euler_to_matrix(30.0, 10.0, 0.0))
    assert moved.box == face.box and moved.spread == face.spread
    assert np.allclose(face.matrix, euler_to_matrix(5.0, -3.0, 2.0))  # the original is unchanged


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"smoothing": -1}, "smoothing strength: expected a number > 0"),
        ({"smoothing": "x"}, "smoothing: expected True, False or a strength"),
        ({"smoothing": [1]}, "smoothing: expected True, False or a strength"),
        ({"threads": "x"}, "threads"),
        ({"threads": 2.5}, "threads"),
        ({"threads": -1}, "threads"),
        ({"min_score": "x"}, "min_score"),
        ({"max_faces": 2.5}, "max_faces"),
    ],
)
def test_bad_option_types_name_the_parameter(tiny_model: Path, options: dict, named: str) -> None:
    """A value of the wrong type is one InvalidInputError naming it, not a bare TypeError from
    a comparison deep inside (or, for threads, a 'corrupt model')."""
    with pytest.raises(InvalidInputError, match=named) as info:
        Estimator(tiny_model, detector=None, **options)
    assert "\n" not in str(info.value)


def test_threads_zero_lets_onnxruntime_decide(tiny_model: Path) -> None:
    est = Estimator(tiny_model, detector=None, threads=0)
    assert est.model.session.get_session_options().intra_op_num_threads == 0


def test_inverted_box_is_a_named_error(est: Estimator, pose_photos: list[Path]) -> None:
    with pytest.raises(InvalidInputError, match=r"boxes: row 0 .*x2 >= x1"):
        est.predict(pose_photos[0], boxes=[[0, 0, -5, 10]])


def test_min_score_reaches_a_named_detectors_own_threshold(tiny_model: Path) -> None:
    """YuNet keeps only scores >= 0.6 by itself: a lower min_score must lower that too."""
    assert Estimator(tiny_model, detector="yunet").detector.score_threshold == 0.6  # its own
    assert Estimator(tiny_model, detector="yunet", min_score=0.3).detector.score_threshold == 0.3
    assert (
        Estimator(tiny_model, detector="blazeface", min_score=0.7).detector.score_threshold == 0.7
    )


def test_low_min_score_finds_low_scoring_faces(tiny_model: Path, pose_photos: list[Path]) -> None:
    """On a dimmed, shrunken photo YuNet's best face scores below 0.6: min_score=0.05 keeps it."""
    import cv2

    image = cv2.imread(str(pose_photos[0]))
    small = cv2.resize(image, (96, 72), interpolation=cv2.INTER_AREA)
    faint = np.clip(small.astype(np.float32) * 0.25 + 90, 0, 255).astype(np.uint8)
    default = Estimator(tiny_model, detector="yunet").predict(faint)
    low = Estimator(tiny_model, detector="yunet", min_score=0.05).predict(faint)
    assert all(f.score >= 0.6 for f in default)
    assert any(0.05 <= f.score < 0.6 for f in low)


def test_providers_reach_a_named_detector(tiny_model: Path, monkeypatch) -> None:
    import headpose.runtime

    seen: list[object] = []
    original = headpose.runtime.create_session

    def spy(model, providers=None, threads=None, input_shape=None):
        seen.append(providers)
        return original(model, providers=providers, threads=threads, input_shape=input_shape)

    monkeypatch.setattr(headpose.runtime, "create_session", spy)
    monkeypatch.setattr("headpose.pose_model.create_session", spy)
    monkeypatch.setattr("headpose.detectors.yunet.create_session", spy)
    Estimator(tiny_model, detector="yunet", providers="cpu")
    assert seen == ["cpu", "cpu"]  # the pose model, then the detector
