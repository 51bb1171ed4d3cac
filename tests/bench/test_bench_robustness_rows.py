"""bench/robustness.py's conditions on three real crops: which faces each row uses, the rotation
rows' exact labels, and a seeded (repeatable) jitter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from robustness import Method, build_rows


class _Recorder:
    """A stand-in model that records what it was asked and answers zeros."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def predict_crops(self, crops):
        self.calls.append(f"crops:{len(crops)}")
        return np.zeros((len(crops), 3)), np.zeros((len(crops), 3))

    def predict_boxes(self, image, boxes):
        self.calls.append("boxes")
        return np.zeros((len(boxes), 3)), np.zeros((len(boxes), 3))

    def to_yaw_pitch_roll(self, values):
        return values


def _method() -> Method:
    return Method("zero", _Recorder())


def test_rows_use_the_right_faces(crops_dir: Path) -> None:
    names = ["image00002.jpg", "image00010.jpg", "image00004.jpg"]  # the middle one: yaw only
    images = [cv2.imread(str(crops_dir / "images" / n)) for n in names]
    target = np.array([[1.0443, -22.8742, 4.9089], [68.6405, np.nan, np.nan], [68.2, 26.9, 17.2]])
    box = (120.0, 110.0, 260.0, 280.0)
    boxes = {"yunet": [box, None, box], "blazeface": [box, box, None]}
    rows = dict(build_rows(images, target, boxes, seed=0))
    m = _method()
    counts = {name: len(make(m)[0]) for name, make in rows.items()}
    assert counts["given crops"] == 3 and counts["dark ×0.35"] == 3
    assert counts["end to end, YuNet box + crop rule"] == 2
    assert counts["end to end, BlazeFace box (default box_style) + crop rule"] == 2
    assert counts["small face (48 px)"] == 2
    assert counts["in-plane rotation ±30° (exact labels)"] == 4  # 2 fully labelled x 2 signs
    crops, labels = rows["in-plane rotation ±30° (exact labels)"](m)
    # a near-frontal face turned +30 then -30 on screen: roll moves by about +-30
    assert labels[0, 2] - target[0, 2] > 25 and labels[1, 2] - target[0, 2] < -25
    jittered = rows["YuNet box jittered ±8% (shift, scale)"](m)[0]
    plain = rows["end to end, YuNet box + crop rule"](m)[0]
    assert counts["YuNet box jittered ±8% (shift, scale)"] == 2 * 4  # 4 draws per face
    assert counts["YuNet box jittered ±15% (shift, scale)"] == 2 * 4
    # box rows hand each method (image, box): the method crops by its own rule
    assert all(im is images[0] or im is images[2] for im, _ in jittered)
    assert not np.allclose(jittered[0][1], plain[0][1])
    wide = rows["YuNet box jittered ±15% (shift, scale)"](m)[0]
    shift8 = max(np.abs(np.subtract(b, box)).max() for _, b in jittered)
    shift15 = max(np.abs(np.subtract(b, box)).max() for _, b in wide)
    assert shift8 <= 0.08 * 170 * 2 and shift15 > shift8
    again = dict(build_rows(images, target, boxes, seed=0))["YuNet box jittered ±8% (shift, scale)"]
    np.testing.assert_array_equal(again(m)[0][5][1], jittered[5][1])


def test_method_crops_whole_images_and_boxes_by_the_model(crops_dir: Path) -> None:
    image = cv2.imread(str(crops_dir / "images" / "image00002.jpg"))
    m = _method()
    assert m.predict([image] * 20).shape == (20, 3)
    assert m.model.calls == ["crops:16", "crops:4"]  # batched whole crops
    m.predict([(image, (1.0, 2.0, 50.0, 60.0))] * 2)
    assert m.model.calls[2:] == ["boxes", "boxes"]
