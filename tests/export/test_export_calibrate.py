"""python -m headpose.export.calibrate: fit on real labelled crops with the shipped model, write a
new model, read it back in the runtime; refuse overwrites; check; the fit itself on known data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from headpose.errors import InvalidInputError
from headpose.estimator import Estimator, default_model_path
from headpose.export.calibrate import (
    Faces,
    _fit_line,
    check_calibration,
    concat_faces,
    fit_calibration,
    load_faces,
    load_scaled_parts,
    main,
    outside_tolerance,
    save_faces,
    saved_source,
    transfer_check,
)
from headpose.pose_model import PoseModel


@pytest.fixture(scope="module")
def shipped() -> Path:
    return default_model_path()


@pytest.fixture(scope="module")
def calibrated(shipped: Path, labelled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "calibrated.onnx"
    code = main([str(shipped), "--data", str(labelled_dir), "--bins", "2", "-o", str(out)])
    assert code == 0
    return out


def test_fit_stores_calibration_and_keeps_the_rest(shipped: Path, calibrated: Path) -> None:
    old, new = PoseModel(shipped, threads=1), PoseModel(calibrated, threads=1)
    cal = new.meta.calibration
    assert cal is not None and cal != old.meta.calibration  # a new fit replaces the shipped one
    assert cal.n == (12, 10, 10)  # 12 crops, 2 of them yaw-only
    assert all(b >= 0 for b in cal.slope) and all(f > 0 for f in cal.interval_factor)
    assert dataclasses.replace(new.meta, calibration=None) == dataclasses.replace(
        old.meta, calibration=None
    )
    # the graph is untouched: same angles and spread on the same crops
    crops = [np.full((64, 64, 3), v, np.uint8) for v in (40, 120)]
    for a, b in zip(old.predict_crops(crops), new.predict_crops(crops), strict=True):
        np.testing.assert_array_equal(a, b)


def test_runtime_reports_calibrated_errors(calibrated: Path, labelled_dir: Path) -> None:
    images = sorted((labelled_dir / "images").glob("*.jpg"))[:3]
    est = Estimator(calibrated, detector=None, threads=1)
    cal = est.model.meta.calibration
    for face in est.predict_crops([str(p) for p in images]):
        expected = np.array(cal.intercept) + np.array(cal.slope) * np.array(face.spread)
        np.testing.assert_allclose(face.expected_error, expected)
        assert face.uncertainty == pytest.approx(expected.mean())
        assert face.to_dict()["interval90"]["yaw"] == pytest.approx(
            cal.interval_factor[0] * expected[0]
        )


def test_refuses_to_overwrite(
    shipped: Path, calibrated: Path, labelled_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    before = calibrated.read_bytes()
    args = ["--data", str(labelled_dir), "--bins", "2", "-o"]
    assert main([str(shipped), *args, str(calibrated)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert calibrated.read_bytes() == before
    assert main([str(calibrated), *args, str(calibrated)]) == 2  # the input itself
    assert main([str(calibrated), *args, str(calibrated), "--overwrite"]) == 2
    assert "is an input of this run" in capsys.readouterr().err


def test_overwrite_replaces_an_existing_output_only_when_asked(
    shipped: Path, labelled_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.onnx"
    out.write_bytes(b"old")
    args = [str(shipped), "--data", str(labelled_dir), "--bins", "2", "-o", str(out)]
    assert main(args) == 2 and out.read_bytes() == b"old"
    assert main([*args, "--overwrite"]) == 0
    assert PoseModel(out).calibrated


def test_check_reports_coverage_and_ratio(
    calibrated: Path, labelled_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["--check", str(calibrated), "--data", str(labelled_dir), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == (0 if result["within_tolerance"] else 1)
    overall = result["check"]["all"]
    assert overall["n"] == 32 and 0.0 <= overall["coverage"] <= 1.0
    # in-sample, the fitted line reproduces the mean error per angle (the fit is weighted LS)
    for angle in ("yaw", "pitch", "roll"):
        assert result["check"][angle]["ratio"] == pytest.approx(1.0, abs=0.25)


def test_check_needs_a_calibrated_model(
    exported: Any, labelled_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert not PoseModel(exported.path).calibrated  # a fresh export
    assert main(["--check", str(exported.path), "--data", str(labelled_dir)]) == 2
    assert "no calibration" in capsys.readouterr().err


def test_image_list_selects_rows_and_names_bad_ones(
    calibrated: Path, labelled_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    names = [p.relative_to(labelled_dir).as_posix() for p in (labelled_dir / "images").glob("*")]
    good = tmp_path / "list.txt"
    good.write_text("\n".join(sorted(names)[:5]) + "\n")
    main(["--check", str(calibrated), "--data", str(labelled_dir), "--images", str(good), "--json"])
    assert json.loads(capsys.readouterr().out)["faces"] == 5
    bad = tmp_path / "bad.txt"
    bad.write_text("images/nope.jpg\n")
    assert (
        main(["--check", str(calibrated), "--data", str(labelled_dir), "--images", str(bad)]) == 2
    )
    assert "bad.txt line 1" in capsys.readouterr().err


def test_detector_path_counts_faces(
    calibrated: Path, labelled_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    main(["--check", str(calibrated), "--data", str(labelled_dir), "--detect", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["faces"] + result["skipped_no_face"] == 12 and result["faces"] >= 10
    assert "detector crops" in result["data"]


def _synthetic(n: int, seed: int, confidence: float = 1.0) -> Faces:
    """Errors whose size grows with spread: |N(0, (0.5 + 0.15 s)^2)| per angle. A model with
    ``confidence`` c reports spread s / c for the same error."""
    rng = np.random.default_rng(seed)
    spread = rng.uniform(5.0, 30.0, size=(n, 3))
    labels = rng.uniform(-60, 60, size=(n, 3))
    pred = labels + rng.normal(size=(n, 3)) * (0.5 + 0.15 * spread)
    return Faces(labels=labels, pred=pred, spread=spread / confidence, source="synthetic")


def test_fit_holds_on_fresh_data_from_the_same_distribution() -> None:
    angles = ["yaw", "pitch", "roll"]
    cal = fit_calibration(_synthetic(4000, 0), angles)
    # E|N(0, sd^2)| = sd * sqrt(2/pi): the fitted line should recover it
    k = np.sqrt(2 / np.pi)
    np.testing.assert_allclose(cal.slope, 0.15 * k, rtol=0.1)
    report = check_calibration(cal, _synthetic(4000, 1), angles)
    assert report["all"]["coverage"] == pytest.approx(0.9, abs=0.015)
    assert report["all"]["ratio"] == pytest.approx(1.0, abs=0.03)


def test_fit_is_monotone_and_positive() -> None:
    x, w = np.array([1.0, 2.0, 3.0]), np.ones(3)
    assert _fit_line(x, np.array([3.0, 2.0, 1.0]), w) == (2.0, 0.0)  # falling: a constant
    a, b = _fit_line(x, np.array([0.1, 2.0, 4.0]), w)  # negative intercept: through 0
    assert a == 0.0 and b > 0
    a, b = _fit_line(x, np.array([2.0, 3.0, 4.0]), w)
    assert (a, b) == pytest.approx((1.0, 1.0))


def test_saved_faces_fit_like_the_model_run(
    shipped: Path, calibrated: Path, labelled_dir: Path, tmp_path: Path
) -> None:
    """Out-of-fold workflow: save per-face rows, fit from them (no model run) -> same fit."""
    rows = tmp_path / "fold.csv"
    assert main([str(shipped), "--data", str(labelled_dir), "--save-faces", str(rows)]) == 0
    assert main([str(shipped), "--data", str(labelled_dir), "--save-faces", str(rows)]) == 2
    out = tmp_path / "from_rows.onnx"
    assert main([str(shipped), "--faces", str(rows), "--bins", "2", "-o", str(out)]) == 0
    a, b = PoseModel(out).meta.calibration, PoseModel(calibrated).meta.calibration
    assert a.n == b.n and "fold.csv" in a.data
    before = rows.read_bytes()  # --overwrite replaced an input --faces file (issue 40)
    again = [str(shipped), "--faces", str(rows), "--save-faces", str(rows), "--overwrite"]
    assert main(again) == 2 and rows.read_bytes() == before
    labels = labelled_dir / "labels.csv"  # ... or a file of the --data folder
    data_again = [str(shipped), "--data", str(labelled_dir), "--save-faces", str(labels)]
    labels_before = labels.read_bytes()
    assert main([*data_again, "--overwrite"]) == 2 and labels.read_bytes() == labels_before
    for field in ("intercept", "slope", "interval_factor"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=2e-3)


def test_outside_tolerance_names_each_miss_and_per_angle_is_stricter() -> None:
    report = {
        "all": {"coverage": 0.854, "ratio": 1.14},
        "yaw": {"coverage": 0.855, "ratio": 1.25},
        "pitch": {"coverage": 0.845, "ratio": 1.08},
        "roll": {"coverage": 0.861, "ratio": 1.09},
    }
    assert outside_tolerance(report, 0.9, 0.05, 0.15, ["all"]) == []
    assert outside_tolerance(report, 0.9, 0.05, 0.15, ["all", "yaw", "pitch", "roll"]) == [
        "yaw ratio 1.25",
        "pitch coverage 84.5%",
    ]


def test_check_per_angle_flag_reaches_the_verdict(
    calibrated: Path, labelled_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["--check", str(calibrated), "--data", str(labelled_dir), "--json"]
    main([*base, "--ratio-tol", "0.2"])
    loose = json.loads(capsys.readouterr().out)
    main([*base, "--ratio-tol", "0.2", "--per-angle"])
    strict = json.loads(capsys.readouterr().out)
    assert loose["check"] == strict["check"]
    want = outside_tolerance(strict["check"], 0.9, 0.05, 0.2, ["all", "yaw", "pitch", "roll"])
    assert strict["outside_tolerance"] == want and strict["within_tolerance"] == (not want)
    assert set(strict["outside_tolerance"]) >= set(loose["outside_tolerance"])


def test_spreads_of_less_confident_fold_models_are_rescaled(tmp_path: Path) -> None:
    """Fold models 1.3x / 1.1x less confident than the final model (their spreads, also on their
    own training faces, are that much larger at the same error): unscaled, a fit on their rows
    under-states the final model's errors; scaled by the training-face medians it holds."""
    angles = ["yaw", "pitch", "roll"]
    files: dict[str, list[Path]] = {"faces": [], "refs": []}
    for i, c in enumerate((1 / 1.3, 1 / 1.1)):
        for kind, seed in (("faces", 10 + i), ("refs", 20 + i)):
            path = tmp_path / f"fold{i}_{kind}.csv"
            files[kind].append(save_faces(_synthetic(2000, seed, confidence=c), angles, path))
    # the final model on its own training faces: smaller errors (in-sample), same spreads
    final_train = _synthetic(2000, 30)
    model_ref = save_faces(final_train, angles, tmp_path / "final_train.csv")
    fresh = _synthetic(4000, 31)  # the final model on faces it never saw
    parts = load_scaled_parts(files["faces"], files["refs"], model_ref, angles)
    scaled = concat_faces(parts, saved_source(files["faces"], files["refs"], model_ref))
    assert "scaled" in scaled.source and len(scaled.pred) == 4000
    ratio = check_calibration(fit_calibration(scaled, angles), fresh, angles)["all"]["ratio"]
    assert ratio == pytest.approx(1.0, abs=0.05)
    plain = load_faces(files["faces"], angles)
    ratio = check_calibration(fit_calibration(plain, angles), fresh, angles)["all"]["ratio"]
    assert ratio > 1.1


def test_scaling_options_are_checked(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = save_faces(_synthetic(100, 0), ["yaw", "pitch", "roll"], tmp_path / "rows.csv")
    missing = tmp_path / "no.csv"
    pair = ["--faces", rows, "--faces-ref", rows]
    bad = {
        "one per --faces": [*pair, "--faces-ref", rows, "--model-ref", rows],
        "go together": pair,
        "give --faces too": ["--data", tmp_path, "--model-ref", rows],
        f"file not found: {missing}": [*pair[:3], missing, "--model-ref", rows],
    }
    for words, args in bad.items():
        out = tmp_path / "out.onnx"
        assert main([str(shipped), *map(str, args), "-o", str(out)]) == 2
        assert words in capsys.readouterr().err
        assert not out.exists()


def test_transfer_check_finds_the_part_whose_errors_the_others_understate() -> None:
    """Three parts like three fold models: two alike, one with 1.5x the error at the same spread.
    Each part is checked against a fit on the others, so only the odd one falls short."""
    angles = ["yaw", "pitch", "roll"]
    alike = [_synthetic(3000, seed) for seed in (40, 41)]
    odd = _synthetic(3000, 42)
    odd = dataclasses.replace(odd, pred=odd.labels + 1.5 * (odd.pred - odd.labels))
    reports = transfer_check([*alike, odd], angles)
    assert len(reports) == 3
    for r in reports[:2]:  # fitted partly on the odd part: wider intervals, more than 90% inside
        assert r["all"]["coverage"] > 0.9 and r["all"]["ratio"] < 1.0
    assert reports[2]["all"]["coverage"] < 0.8 and reports[2]["all"]["ratio"] > 1.3
    same = transfer_check([_synthetic(3000, s) for s in (50, 51, 52)], angles)
    for r in same:
        assert r["all"]["coverage"] == pytest.approx(0.9, abs=0.02)
    with pytest.raises(InvalidInputError, match="at least 2"):
        transfer_check(alike[:1], angles)


def test_fitting_from_several_files_reports_the_transfer(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    angles = ["yaw", "pitch", "roll"]
    parts = [_synthetic(600, seed) for seed in (60, 61)]
    files = [save_faces(f, angles, tmp_path / f"fold{i}.csv") for i, f in enumerate(parts)]
    out = tmp_path / "fit.onnx"
    args = [str(shipped), "--faces", str(files[0]), "--faces", str(files[1]), "-o", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "transfer (training faces only)" in text and "fold1.csv" in text
    assert main([*args, "--overwrite", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [t["held_out"] for t in result["transfer"]] == [str(f) for f in files]
    saved = [load_faces([f], angles) for f in files]  # as written: 4 decimals
    assert [t["check"] for t in result["transfer"]] == transfer_check(saved, angles)
    assert main([str(shipped), "--faces", str(files[0]), "-o", str(tmp_path / "one.onnx")]) == 0
    assert "transfer" not in capsys.readouterr().out  # one file: nothing to transfer between
    small = [save_faces(_synthetic(30, s), angles, tmp_path / f"small{s}.csv") for s in (1, 2)]
    out = tmp_path / "small.onnx"
    args = [str(shipped), "--faces", str(small[0]), "--faces", str(small[1]), "-o", str(out)]
    assert main(args) == 0 and PoseModel(out).meta.calibration is not None  # 60 faces fit
    assert "transfer check skipped: " in capsys.readouterr().out  # 30 alone are too few
