"""Video mode of Estimator.track on clips composed from real AFLW2000 faces: ROI search, whole-frame
search every N frames or after an ROI miss, identities, max_faces, video paths and captures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose import Estimator
from headpose.detectors.base import Detections
from headpose.errors import InvalidImageError, InvalidInputError
from headpose.smoothing import box_iou
from headpose.tracking import VideoOptions, roi_around

SIDE = 160  # pasted face crop side in a 640 x 480 frame (face about 100 px)


@pytest.fixture(scope="module")
def faces(aflw_crops: list[Path]) -> list[np.ndarray]:
    return [
        cv2.resize(cv2.imread(str(p)), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        for p in aflw_crops[:2]
    ]


def compose(places: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """A flat grey 640 x 480 frame with each (face, x, y) pasted at (x, y)."""
    frame = np.full((480, 640, 3), 110, np.uint8)
    for face, x, y in places:
        frame[y : y + SIDE, x : x + SIDE] = face
    return frame


class CountingDetector:
    """Wraps a real detector; records the size of every image it is shown and can be told to
    find nothing in ROIs (images smaller than the frame) on chosen calls."""

    def __init__(self, inner: object, blind_roi_calls: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.inner = inner
        self.max_side = getattr(inner, "max_side", None)
        self.blind = set(blind_roi_calls)
        self.shapes: list[tuple[int, int]] = []
        self.roi_calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.shapes.append(image.shape[:2])
        if image.shape[:2] != (480, 640):
            self.roi_calls += 1
            if self.roi_calls in self.blind:
                return Detections.empty()
        return self.inner.detect(image)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def yunet() -> object:
    from headpose.detectors import available, get_detector

    if "yunet" not in available():
        pytest.skip("yunet detector not available")
    return get_detector("yunet", threads=1)


def walk(faces: list[np.ndarray], n: int, second_from: int | None = None) -> Iterator[np.ndarray]:
    """Face 0 drifts right 3 px per frame; face 1 appears at ``second_from``."""
    for i in range(n):
        places = [(faces[0], 60 + 3 * i, 120)]
        if second_from is not None and i >= second_from:
            places.append((faces[1], 400, 200))
        yield compose(places)


def test_roi_search_finds_the_same_boxes_as_the_whole_frame(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    det = CountingDetector(yunet)
    est = Estimator(tiny_model, detector=det, threads=1)
    est.video = est.video.merged({"redetect_every": 5})
    frames = list(walk(faces, 10))
    stream = est.video_tracker(smooth=False)
    out = [stream.process(f) for f in frames]
    assert [len(f) for f in out] == [1] * 10
    assert stream.full_detections == 2 and stream.roi_detections == 8  # frames 0 and 5 whole
    assert all(max(s) < 480 for s in det.shapes if s != (480, 640))  # ROIs really are smaller
    ious = []
    for frame, faces_video in zip(frames, out, strict=True):
        (ref,) = est.predict(frame)
        ious.append(box_iou(np.array([ref.box]), np.array([faces_video[0].box]))[0, 0])
    # the same pixels on the same grid: about the box a whole-frame search gives (a few px off
    # from context outside the ROI; frames 0 and 5 are whole-frame searches, so identical)
    assert ious[0] == ious[5] == pytest.approx(1.0)
    assert min(ious) > 0.85 and np.mean(ious) > 0.93
    assert {f[0].track_id for f in out} == {0}


def test_detect_every_keeps_the_last_boxes_between_roi_searches(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    det = CountingDetector(yunet)
    est = Estimator(tiny_model, detector=det, threads=1)
    est.video = est.video.merged({"redetect_every": 6, "detect_every": 2})
    stream = est.video_tracker(smooth=False)
    out = [stream.process(f) for f in walk(faces, 9)]
    assert [len(f) for f in out] == [1] * 9 and {f[0].track_id for f in out} == {0}
    # whole frame on 0 and 6; ROI on 2, 4 and 8; the odd frames reuse the boxes before them
    assert (stream.full_detections, stream.roi_detections, stream.reused_boxes) == (2, 3, 4)
    assert len(det.shapes) == 5
    for i in (1, 3, 5, 7):
        assert out[i][0].box == out[i - 1][0].box
    # the face moves on: the box follows at the next search
    assert out[8][0].box[0] > out[4][0].box[0] + 6


def test_identity_kept_across_an_roi_miss(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    det = CountingDetector(yunet, blind_roi_calls={3})  # the ROI search of frame 3 finds nothing
    est = Estimator(tiny_model, detector=det, threads=1)
    est.video = est.video.merged({"redetect_every": 30})
    stream = est.video_tracker()
    out = [stream.process(f) for f in walk(faces, 8)]
    assert [len(f) for f in out] == [1] * 8  # the whole-frame search found it on frame 3
    assert {f[0].track_id for f in out} == {0}
    assert stream.full_detections == 2  # frame 0, and frame 3 after the miss


def test_identity_kept_when_the_face_is_missing_for_a_frame(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1)
    frames = list(walk(faces, 6))
    frames[3] = compose([])  # the face is gone for one frame (ROI and whole frame miss)
    out = list(est.track(frames, fps=30))
    assert [len(f) for f in out] == [1, 1, 1, 0, 1, 1]
    assert {f[0].track_id for f in out if f} == {0}


def test_face_entering_mid_clip_is_found_by_the_periodic_whole_frame_search(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1)
    est.video = est.video.merged({"redetect_every": 4})
    out = list(est.track(walk(faces, 10, second_from=2), fps=30))
    counts = [len(f) for f in out]
    assert counts[:2] == [1, 1]
    assert counts[2:4] == [1, 1]  # ROI frames: only the known face is searched
    assert counts[4:] == [2] * 6  # whole-frame search on frame 4 finds the new face
    ids = [sorted(f.track_id for f in frame) for frame in out]
    assert ids[0] == [0] and all(i == [0, 1] for i in ids[4:])
    centre = [next(f for f in frame if f.track_id == 0).center[0] for frame in out]
    expected = 60 + 3 * np.arange(10) + SIDE / 2  # track 0 is the drifting face throughout
    assert np.abs(np.array(centre) - expected).max() < 20


def test_max_faces_holds_in_video_mode(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1, max_faces=1)
    out = list(est.track(walk(faces, 8, second_from=0), fps=30))
    assert [len(f) for f in out] == [1] * 8
    assert len({f[0].track_id for f in out}) == 1


def test_video_off_searches_every_frame(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    det = CountingDetector(yunet)
    est = Estimator(tiny_model, detector=det, threads=1)
    est.video = est.video.merged(False)
    list(est.track(walk(faces, 4)))
    assert det.shapes == [(480, 640)] * 4


def test_track_reads_a_video_path_and_uses_its_frame_rate(
    tiny_model: Path, tiny_video: Path, yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1)
    stream_fps = []
    original = est.video_tracker

    def spy(fps: float = 30.0, **kw: object):  # type: ignore[no-untyped-def]
        stream_fps.append(fps)
        return original(fps, **kw)  # type: ignore[arg-type]

    est.video_tracker = spy  # type: ignore[method-assign]
    out = list(est.track(tiny_video))
    assert len(out) == 6 and stream_fps == [pytest.approx(10.0)]
    assert list(est.track(str(tiny_video), fps=5.0))


def test_bad_video_sources_are_clear_errors(
    tiny_model: Path, tmp_path: Path, yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1)
    with pytest.raises(InvalidImageError, match="is a directory"):
        est.track(tmp_path)
    with pytest.raises(InvalidImageError, match="not found"):
        est.track(tmp_path / "missing.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(InvalidImageError, match="cannot open"):
        est.track(broken)
    closed = cv2.VideoCapture(str(tmp_path / "missing.mp4"))
    with pytest.raises(InvalidInputError, match="not open"):
        est.track(closed)  # raised at the call, not as an empty result
    with pytest.raises(InvalidInputError, match="detector"):
        Estimator(tiny_model, detector=None).track([np.zeros((64, 64, 3), np.uint8)])


def test_video_options_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="redetect_every"):
        VideoOptions(redetect_every=0)
    with pytest.raises(InvalidInputError, match="detect_every.*got 0"):
        VideoOptions(detect_every=0)
    with pytest.raises(InvalidInputError, match="detect_every.*got 1.5"):
        VideoOptions(detect_every=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="roi_scale"):
        VideoOptions(roi_scale=0.5)
    with pytest.raises(InvalidInputError, match="unknown key"):
        VideoOptions.make({"roi_sise": 2})
    assert VideoOptions.make(False).roi is False
    assert VideoOptions().merged({"redetect_every": 3}).redetect_every == 3


def test_roi_is_clipped_to_the_frame() -> None:
    assert roi_around(np.array([0.0, 0.0, 100.0, 50.0]), 2.0, 640, 480) == (0, 0, 150, 125)
    assert roi_around(np.array([600.0, 440.0, 640.0, 480.0]), 1.5, 640, 480) == (590, 430, 640, 480)


def test_small_frames_are_searched_whole(
    tiny_model: Path, faces: list[np.ndarray], yunet: object
) -> None:
    est = Estimator(tiny_model, detector=yunet, threads=1)
    frames = [cv2.resize(f, (300, 225)) for f in walk(faces, 4)]  # below 320 x 240 pixels
    stream = est.video_tracker()
    assert [len(stream.process(f)) for f in frames] == [1] * 4
    assert stream.full_detections == 4 and stream.roi_detections == 0


def test_a_models_recommended_video_settings_are_the_estimators_defaults(make_model) -> None:
    from headpose.errors import InvalidModelError
    from headpose.metadata import ModelMetadata

    def model_with(video: object, name: str) -> Path:
        meta = ModelMetadata(input_size=(32, 32), extra={"video": video})
        return make_model(name, metadata=meta)

    path = model_with({"detect_every": 4, "redetect_every": 12}, "video_rec.onnx")
    est = Estimator(path, detector=None)
    assert (est.video.detect_every, est.video.redetect_every) == (4, 12)
    # a dict changes only its keys; True keeps the rest; False searches every frame whole
    est = Estimator(path, detector=None)
    est.video = est.video.merged({"detect_every": 2})
    assert (est.video.detect_every, est.video.redetect_every) == (2, 12)
    assert est.video.merged(True).detect_every == 2
    assert est.video.merged(False) == VideoOptions(roi=False)
    with pytest.raises(TypeError, match="video"):
        Estimator(path, detector=None, video={"detect_every": 2})  # type: ignore[call-arg]
    assert est.video.merged({"roi_scale": 2.0}).detect_every == 2
    # a model without a recommendation: the library defaults
    assert Estimator(make_model("no_video.onnx"), detector=None).video == VideoOptions()
    cases = (
        ({"detect_every": 0}, "extra.video detect_every: expected an integer >= 1, got 0"),
        ({"detect_evry": 2}, "extra.video: unknown key"),
        ([4], "extra.video: expected a dict of video settings, got list"),
    )
    for i, (bad, words) in enumerate(cases):
        bad_path = model_with(bad, f"bad_video_{i}.onnx")
        with pytest.raises(InvalidModelError, match=words) as info:
            Estimator(bad_path, detector=None)
        assert bad_path.name in str(info.value)


def test_video_settings_from_text_are_typed_and_checked() -> None:
    parsed = VideoOptions.parse([("detect_every", "4"), ("roi", "false"), ("roi_scale", "2")])
    assert parsed == {"detect_every": 4, "roi": False, "roi_scale": 2.0}
    assert isinstance(parsed["detect_every"], int)
    for pairs, words in (
        ([("detect_every", "x")], "--video detect_every: expected an integer, got 'x'"),
        ([("detect_every", "0")], "detect_every: expected an integer >= 1, got 0"),
        ([("roi", "maybe")], "--video roi: expected true or false, got 'maybe'"),
        ([("roi_scale", "big")], "--video roi_scale: expected a number, got 'big'"),
        ([("sharpness", "1")], "--video: unknown key 'sharpness', expected one of"),
        # rejected experiments, removed: box smoothing, box velocity, smaller ROIs
        ([("box_min_cutoff", "1")], "--video: unknown key 'box_min_cutoff'"),
        ([("box_velocity", "true")], "--video: unknown key 'box_velocity'"),
        ([("roi_face_px", "96")], "--video: unknown key 'roi_face_px'"),
    ):
        with pytest.raises(InvalidInputError, match=words):
            VideoOptions.parse(pairs, "--video")


def test_video_mode_and_photos_share_one_path_without_an_import_cycle() -> None:
    """tracking runs the same detect + crop + pose path as Estimator.predict (the pipeline) and
    never reaches back into the Estimator (it used to call its private methods)."""
    import ast

    import headpose.pipeline
    import headpose.tracking

    for module in (headpose.tracking, headpose.pipeline):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "headpose.estimator" not in imported, module.__name__
        assert "estimator._" not in Path(module.__file__).read_text()  # no private calls
