"""bench/view_alternation.py: a second, mirrored view of each face, and how the views combine."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import view_alternation as va
from accuracy import SHARED

from headpose import Estimator, Face
from headpose.estimator import make_face
from headpose.image_io import load_image


def face(angles: list[float], track_id: int) -> Face:
    return replace(make_face([0, 0, 50, 50], 0.9, angles, [1.0] * 3), track_id=track_id)


def test_pair_mean_averages_each_track_with_its_previous_frame() -> None:
    frames = [
        [face([0, 0, 0], 0)],
        [face([2, 4, 6], 0), face([10, 10, 10], 1)],  # track 1 is new: kept as it is
        [face([4, 4, 4], 1)],  # track 0 gone; track 1 averaged with frame 1
    ]
    out = va.pair_mean(frames)
    assert out[0][0].angles == pytest.approx([0, 0, 0])
    assert out[1][0].angles == pytest.approx([1, 2, 3])
    assert out[1][1].angles == pytest.approx([10, 10, 10])
    assert out[2][0].angles == pytest.approx([7, 7, 7])


def test_variants_alternate_and_average_the_views() -> None:
    one = [[face([1, 1, 1], 0)] for _ in range(4)]
    other = [[face([3, 3, 3], 0)] for _ in range(4)]
    out = va.variants(one, other)
    assert list(out)[:3] == list(va.VARIANTS)
    assert list(out)[3:] == [va.tracked_name(s) for s in va.DIFFERENCE_SECONDS]
    assert out["one view"] is one
    # alternating 1, 3, 1, 3 then the pair mean: 1 (first frame alone), then 2 everywhere
    assert [f[0].angles[0] for f in out["alternating views + pair mean"]] == pytest.approx(
        [1, 2, 2, 2]
    )
    assert all(f[0].angles == pytest.approx([2, 2, 2]) for f in out["both views"])


def test_tracked_difference_removes_the_view_difference_not_the_motion() -> None:
    """Plain view = truth + 3, mirrored = truth - 3, the head turning at 1 deg per frame: after
    a few time constants each answer is the truth (the pair mean would trail by half a frame)."""
    n, fps = 120, 30.0
    truth = np.arange(n, dtype=float)
    alternating = [[face([t + (-3.0 if i % 2 else 3.0), 0.0, 0.0], 0)] for i, t in enumerate(truth)]
    out = va.tracked_difference(alternating, fps, seconds=0.25)
    yaw = np.array([f[0].angles[0] for f in out])
    assert yaw[0] == 3.0  # nothing to go by yet
    assert np.abs(yaw[60:] - truth[60:]).max() < 0.05
    # a second face in the same frames keeps its own difference
    two = [[*faces, face([-5.0 if i % 2 else 5.0, 0, 0], 7)] for i, faces in enumerate(alternating)]
    out = va.tracked_difference(two, fps, seconds=0.25)
    assert abs(out[-1][1].angles[0]) < 0.05 and abs(out[-1][0].angles[0] - truth[-1]) < 0.05


def test_section_19_rule_chooses_on_two_clips_and_checks_all() -> None:
    clips = ["carphone_qcif.mp4", "two_faces_small.mp4", "webcam_roll_nod.mp4"]
    ratios = {
        va.tracked_name(0.25): dict(zip(clips, (0.9, 1.2, 0.8), strict=True)),
        va.tracked_name(0.5): dict(zip(clips, (0.95, 0.97, 1.05), strict=True)),
        va.tracked_name(1.0): dict(zip(clips, (0.97, 0.95, 0.9), strict=True)),
    }
    assert va.chosen_seconds(ratios) == 1.0  # tie on the worse choosing clip: the longer
    gaps = {name: {c: np.ones(3) for c in clips} for name in [*ratios, "one view"]}
    text = "\n".join(va.rule_lines(ratios, gaps, clips))
    assert "**1 s**" in text and "equal-lag ratio <= 1.00x on every clip): **holds**" in text
    ratios[va.tracked_name(1.0)]["webcam_roll_nod.mp4"] = 1.01
    gaps[va.tracked_name(1.0)]["carphone_qcif.mp4"] = np.array([1.0, 1.5, 1.0])
    text = "\n".join(va.rule_lines(ratios, gaps, clips))
    assert "every clip): **fails**" in text and "one view, per angle): **fails**" in text


def test_the_mirrored_view_of_a_real_face_gives_the_same_pose() -> None:
    """Yaw and roll change sign in a mirror; mapped back, both views agree within a few degrees
    (a sign error would put them tens of degrees apart on a turned face)."""
    est = Estimator(model="fast", threads=1)
    image = load_image(SHARED / "data/pose-photos/pose_left_0.jpg")
    faces = est.predict(image)
    assert len(faces) == 1 and abs(faces[0].yaw) > 15
    (other,) = va.mirrored_view(est, image, faces)
    assert other.box == faces[0].box
    assert np.abs(other.angles - faces[0].angles).max() < 8.0
    assert va.mirrored_view(est, image, []) == []
