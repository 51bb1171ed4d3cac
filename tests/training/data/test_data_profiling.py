"""Face profiling: the face mesh, the render's geometry (re-fitted on the render), exact labels,
self-occlusion, and the dataset command (split-aware, seeded, resumable, a csv dataset)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.detectors import get_detector
from headpose.rotation import euler_to_matrix, matrix_to_euler
from headpose.training.data import build_dataset
from headpose.training.data.detector_boxes import best_box
from headpose.training.data.errors import DataError
from headpose.training.data.face_mesh import LEFT_EYE, RIGHT_EYE, FaceMesh
from headpose.training.data.profile import (
    HEADER,
    Settings,
    held_out_images,
    main,
    profile_faces,
    sample_pose,
    select_sources,
)
from headpose.training.data.profiling import (
    HeadModel,
    lift,
    recover_rotation,
    render,
    rotation_angle,
    transform_points,
)
from headpose.training.data.run_split import run_split_images

FRONTAL = "images/image00013.jpg"  # yaw 0.7, pitch -1.6: a clean frontal face, training split
TURNED = "images/image00133.jpg"  # yaw 28.4: its right cheek is hidden
CONCAVE = "26_0_4_20170104170011130.jpg.chip.jpg"
CONCAVE_TURN = (54.0, 34.0, -14.0)


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh()


def _fit(mesh: FaceMesh, path: Path) -> tuple[np.ndarray, np.ndarray, HeadModel]:
    image = cv2.imread(str(path))
    fit = mesh(image, best_box(get_detector("yunet"), image))
    assert fit.score > 0.9
    return image, fit.points, lift(fit.points, image.shape[:2])


@pytest.fixture(scope="module")
def frontal(mesh: FaceMesh, crops_dir: Path) -> tuple[np.ndarray, np.ndarray, HeadModel]:
    return _fit(mesh, crops_dir / FRONTAL)


def test_mesh_points_land_on_the_face(frontal) -> None:
    _image, points, _model = frontal
    # the subject's right eye corner is on the image's left, the nose tip is nearest the camera
    assert points[RIGHT_EYE, 0] < points[LEFT_EYE, 0]
    assert np.argmin(points[:, 2]) in (1, 4, 5, 195, 197)  # nose tip region of the mesh
    assert 150 < np.ptp(points[:, 0]) < 260  # the face spans about half the 384-pixel crop


@pytest.mark.parametrize("delta", [(30.0, 0.0, 0.0), (-25.0, 10.0, 8.0)])
def test_turn_recovered_from_a_refit_on_the_render(mesh, frontal, delta) -> None:
    image, points, model = frontal
    turn = euler_to_matrix(*delta)
    out = render(image, model, turn)
    refit = mesh.refit(out.image, out.face_points)
    assert refit.score > 0.9
    found, rms = recover_rotation(points, refit.points[:, :2])
    assert rotation_angle(found, turn) < 2.0
    assert rms < 3.0
    # 5 degrees more or less yaw, or the opposite sign, is told apart
    for wrong in (delta[0] + 5.0, delta[0] - 5.0, -delta[0]):
        assert rotation_angle(found, euler_to_matrix(wrong, *delta[1:])) > 3.5


def test_yaw_sign_follows_the_convention(frontal) -> None:
    image, points, model = frontal
    turned = transform_points(model, euler_to_matrix(40.0, 0.0, 0.0))
    nose = int(np.argmin(points[:, 2]))
    # yaw > 0: the face turns toward the image's left, so the nose moves left of the eyes' middle
    eyes = (turned[RIGHT_EYE, 0] + turned[LEFT_EYE, 0]) / 2.0
    assert turned[nose, 0] < eyes - 20.0


def test_identity_render_is_the_source(frontal) -> None:
    image, _points, model = frontal
    out = render(image, model, np.eye(3))
    diff = np.abs(out.image.astype(int) - image.astype(int))
    assert np.mean(diff) < 1.0 and out.hidden == 0.0


@pytest.mark.parametrize("delta", [(-90.0, 0.0, 0.0), (90.0, 0.0, 0.0), (70.0, 40.0, -30.0)])
def test_no_holes_at_large_turns(frontal, delta) -> None:
    image, _points, model = frontal
    out = render(image, model, euler_to_matrix(*delta))
    assert out.uncovered == 0.0
    if delta[1] == 0.0:
        assert out.hidden < 0.06  # a frontal source shows the side it is turned to


def test_no_cracks_along_a_concave_face_border(mesh, shared_dir) -> None:
    # a UTKFace face whose mesh border is concave where the unconstrained Delaunay triangulation
    # of the anchors does not follow it: once a crack of uncovered pixels at this turn
    image, _points, model = _fit(mesh, shared_dir / "data" / "utkface" / CONCAVE)
    out = render(image, model, euler_to_matrix(*CONCAVE_TURN))
    assert out.uncovered == 0.0


def test_hidden_side_is_measured(mesh, crops_dir) -> None:
    image, _points, model = _fit(mesh, crops_dir / TURNED)
    back = render(image, model, euler_to_matrix(-30.0, 0.0, 0.0))  # shows the hidden cheek
    further = render(image, model, euler_to_matrix(30.0, 0.0, 0.0))
    assert back.hidden > 0.06 > further.hidden


def test_mirrored_model_renders_the_mirror(frontal) -> None:
    image, _points, model = frontal
    turn = euler_to_matrix(20.0, 0.0, 0.0)
    mirror_turn = euler_to_matrix(-20.0, 0.0, 0.0)
    a = render(image, model, turn).image
    b = render(image[:, ::-1].copy(), model.mirrored(), mirror_turn).image
    assert np.mean(np.abs(a[:, ::-1].astype(int) - b.astype(int))) < 2.0


def _labels(out: Path) -> list[dict[str, str]]:
    with open(out / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_dataset_command(crops_dir: Path, tmp_path: Path) -> None:
    s = Settings(per_face=2, seed=3)
    out = tmp_path / "profiled"
    summary = profile_faces([crops_dir], out, s, limit=2, progress=False)
    assert summary["renders"] >= 3
    rows = _labels(out)
    assert list(rows[0]) == list(HEADER)
    held = held_out_images("default/semi_aa_lite0_112_long", crops_dir)
    assert len(held) == 473  # the tuning (195) and validation (278) crops
    for row in rows:
        assert row["source"] not in held and row["origin"] == "label"
        start = euler_to_matrix(*(float(row[f"source_{a}"]) for a in ("yaw", "pitch", "roll")))
        rvec = np.radians([float(row[f"delta_{a}"]) for a in "xyz"])
        label = matrix_to_euler(cv2.Rodrigues(rvec)[0] @ start)
        assert np.allclose(label, [float(row[a]) for a in ("yaw", "pitch", "roll")], atol=1e-3)
        assert float(row["hidden"]) <= s.max_hidden
    data = build_dataset("csv", out)  # a csv dataset as it stands
    image, target = data.load(0)
    assert image.ndim == 3 and np.isfinite(target).all()
    # refused without --overwrite/--resume; the same seed gives the same rows on resume
    with pytest.raises(DataError, match="not empty"):
        profile_faces([crops_dir], out, s, limit=2, progress=False)
    # a source cut off mid-way (its rows written, not marked done) is rendered again, once
    done = (out / "done.txt").read_text().splitlines()
    (out / "done.txt").write_text(done[0] + "\n")
    with open(out / "labels.csv", "a") as handle:
        handle.write("images/partial.jpg,1,2")
    again = profile_faces([crops_dir], out, s, limit=3, resume=True, progress=False)
    assert again["resumed"] == 1
    assert _labels(out)[: len(rows)] == rows
    assert len({r["image"] for r in _labels(out)}) == len(_labels(out))
    with pytest.raises(DataError, match="other settings"):
        profile_faces([crops_dir], out, Settings(per_face=2, seed=4), resume=True, progress=False)


def test_pose_from_labels_draws_pitch_and_roll_of_similar_yaw() -> None:
    poses = np.array([[5.0, 10.0, 2.0], [-40.0, -5.0, 8.0], [85.0, 50.0, -45.0], [0.0, -8.0, 1.0]])
    s = Settings(pose_from="labels", neighbours=1, jitter=0.0)
    rng = np.random.default_rng(0)
    assert sample_pose(rng, s, 84.0, poses) == (84.0, 50.0, -45.0)
    assert sample_pose(rng, s, -88.0, poses) == (-88.0, 50.0, 45.0)  # mirrored: roll turns
    assert sample_pose(rng, s, 41.0, poses) == (41.0, -5.0, -8.0)
    wide = Settings(pose_from="labels", neighbours=2, jitter=3.0)
    drawn = np.array([sample_pose(rng, wide, None, poses) for _ in range(400)])
    assert np.abs(drawn[:, 0]).max() <= 90.0 and (drawn[:, 0] < 0).any()
    near_frontal = drawn[np.abs(drawn[:, 0]) < 2.0]  # nearest two: pitch 10 or -8, +-3
    assert len(near_frontal) and np.all(np.abs(np.abs(near_frontal[:, 1]) - 9.0) <= 4.0)
    with pytest.raises(DataError, match="no labelled training pose"):
        sample_pose(rng, s, 10.0, np.zeros((0, 3)))


def test_labelled_poses_leave_out_held_out_and_teacher_rows(crops_dir: Path, tmp_path) -> None:
    held = held_out_images("default/semi_aa_lite0_112_long", crops_dir)
    sources, skipped, poses = select_sources([crops_dir], held, Settings())
    assert skipped["held out"] == 473
    # every labelled training row with all angles, near-frontal or not
    assert len(poses) == len(sources) + skipped["not near-frontal"]
    assert np.abs(poses[:, 0]).max() > 60.0
    teacher = tmp_path / "teacher.csv"
    teacher.write_text(
        "image,yaw,pitch,roll,spread_yaw,spread_pitch,spread_roll\n"
        f"{crops_dir / FRONTAL},1,2,3,5,5,5\n"
    )
    sources, _skipped, poses = select_sources([teacher], set(), Settings())
    assert len(sources) == 1 and sources[0].origin == "teacher" and poses.shape == (0, 3)


def _study_fold_config(tmp_path: Path, fold: int) -> str:
    """A config of the study's P1-lite0 runs on ``fold`` (the renders are made per fold)."""
    path = tmp_path / f"fold{fold}.yaml"
    path.write_text(f"base: paper/_study_lite0\ndata: {{split: {{fold: {fold}}}}}\n")
    return str(path)


def test_the_split_is_read_as_the_run_reads_it(crops_dir: Path, tmp_path: Path) -> None:
    """The tool's held-out images are the run's tuning and test images, with the config's CSV
    options (the study's max_abs_angle: 99 drops 13 crops and so moves every fold); it once
    opened the CSV without them and left 287 of fold 0's 386 tuning and test images usable."""
    from headpose.training.config import load_config
    from headpose.training.data.run_split import split_images

    config = _study_fold_config(tmp_path, 1)
    cfg = load_config(config, [f"data.root={crops_dir}"])
    run_tune, run_test = (
        {str(Path(p).resolve()) for p in split_images(cfg, part)[0]} for part in ("tune", "val")
    )
    assert len(run_tune) + len(run_test) == 385
    assert held_out_images(config, crops_dir) == run_tune | run_test


def test_labelled_poses_are_the_runs_training_rows_only(crops_dir: Path, tmp_path: Path) -> None:
    from headpose.training.config import load_config
    from headpose.training.data.run_split import split_images

    config = _study_fold_config(tmp_path, 0)
    trained, held = run_split_images(config, crops_dir)
    cfg = load_config(config, [f"data.root={crops_dir}"])
    files, targets = split_images(cfg, "train")
    assert trained == {str(Path(p).resolve()) for p in files}
    sources, _skipped, poses = select_sources([crops_dir], held, Settings(), trained)
    # every fully labelled training row, near-frontal or not; no other row (not the 13 crops
    # beyond 99 degrees, which no run trains on, nor a tuning or test row)
    full = targets[np.isfinite(targets).all(axis=1)]
    assert len(poses) == len(full) and np.allclose(np.sort(poses, axis=0), np.sort(full, axis=0))
    assert all(str(Path(src.record.image).resolve()) in trained for src in sources)


def test_output_never_replaces_the_input_even_with_overwrite(
    crops_dir: Path, tmp_path: Path, capsys
) -> None:
    """`-o FACES --overwrite` deleted the labels.csv it was reading (issue 40)."""
    import shutil

    faces = tmp_path / "faces"
    (faces / "images").mkdir(parents=True)
    lines = (crops_dir / "labels.csv").read_text().splitlines()[:3]
    for line in lines[1:]:
        shutil.copy(crops_dir / line.split(",")[0], faces / line.split(",")[0])
    (faces / "labels.csv").write_text("\n".join(lines) + "\n")
    before = {p: p.read_bytes() for p in faces.rglob("*") if p.is_file()}
    args = ["--split-config", "none", "--quiet", "--overwrite"]
    assert main([str(faces), "-o", str(faces), *args]) == 2
    err = capsys.readouterr().err
    assert f"-o {faces}: holds the input {faces}" in err and "even with --overwrite" in err
    assert main([str(faces / "labels.csv"), "-o", str(tmp_path), *args]) == 2
    assert "holds the input" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in faces.rglob("*") if p.is_file()} == before


def test_command_line_errors(crops_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert main([str(crops_dir), "-o", str(tmp_path / "full"), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err
