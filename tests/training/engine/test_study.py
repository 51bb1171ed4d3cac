"""The study machinery on tiny settings: pairing, resume/skip, the report and its plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from headpose.training.config import ConfigError, load_config
from headpose.training.engine import study as S
from headpose.training.engine import study_report as R
from headpose.training.engine.study_claims import (
    ARMS,
    CLAIMS,
    SCALES,
    Claim,
    Comparison,
    Scale,
    check_registry,
)

TINY_CLAIM = Claim(
    "T1",
    "tiny: HMTL beats SL",
    ("sl", "hmtl"),
    (Comparison("SL - HMTL", ("sl",), ("hmtl",), +1, "Table 2: +0.623"),),
)


@pytest.fixture()
def tiny_data(tmp_path: Path, crops_dir: Path) -> Path:
    """24 real AFLW2000 crops with their labels (a symlinked images folder)."""
    root = tmp_path / "crops"
    root.mkdir()
    (root / "images").symlink_to(crops_dir / "images")
    lines = (crops_dir / "labels.csv").read_text(encoding="utf-8").splitlines()
    (root / "labels.csv").write_text("\n".join(lines[:25]) + "\n", encoding="utf-8")
    return root


def tiny_extra(data: Path) -> tuple[str, ...]:
    return (
        f"data.root={data}",
        "model.backbone=mobilenetv3_small_100",
        "model.input_size=32",
        "optim.batch_size=4",
        "optim.epochs=1",
        "optim.milestones=[1]",
        "runtime.checkpoint_every_steps=1",
    )


def test_registry_is_consistent() -> None:
    check_registry()
    assert {"C1", "C2", "C3", "C4", "C5", "O1"} <= set(CLAIMS)
    for claim in CLAIMS.values():
        assert claim.comparisons and all(c.paper for c in claim.comparisons)
        for spec in S.plan_runs(claim, "/tmp/x", folds=2, seeds=(0,)):
            spec.config()  # every run's config resolves


def test_runs_are_paired_by_fold_and_seed(tmp_path: Path) -> None:
    claim = CLAIMS["C3"]  # has pre-trainings
    runs = S.plan_runs(claim, tmp_path, folds=3, seeds=(0, 1))
    pre = [r for r in runs if r.pretrain]
    arms = [r for r in runs if not r.pretrain]
    assert runs[: len(pre)] == pre and len(pre) == 2 * len(claim.pretrains)
    assert len(arms) == len(claim.arms) * 3 * 2
    keys = {a: {(r.fold, r.seed) for r in arms if r.arm == a} for a in claim.arms}
    assert all(k == {(f, s) for f in range(3) for s in (0, 1)} for k in keys.values())
    assert len({r.out_dir for r in runs}) == len(runs)
    for fold in range(3):
        for seed in (0, 1):
            cfgs = {r.arm: r.config() for r in arms if (r.fold, r.seed) == (fold, seed)}
            # paired: same fold split, seed and budget; only the arm's own settings differ
            assert {
                (c.data.split.fold, c.data.split.seed, c.runtime.seed) for c in cfgs.values()
            } == {(fold, 0, seed)}
            assert len({c.optim.epochs for c in cfgs.values()}) == 1
            assert cfgs["sl"].method == "sl" and cfgs["hmtl"].method == "hmtl"
            init = Path(cfgs["sl_init_rotation"].model.init)
            assert init == S.pretrain_dir(tmp_path, "rotation_2x2", seed) / "best.pt"


def test_unknown_claim_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown claim 'C9'.*C1"):
        S.get_claim("C9")
    assert S.get_claim("c1") is CLAIMS["C1"]


def test_study_runs_resumes_skips_and_reports(
    tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_num_threads(1)
    root = tmp_path / "runs"
    runs = S.plan_runs(TINY_CLAIM, root, folds=2, seeds=(0,), extra=tiny_extra(tiny_data))
    assert len(runs) == 4

    # a killed run: the trainer stops after one step, leaving last.pt and no result.json
    from headpose.training.engine.trainer import StopTraining, Trainer

    killed = runs[1]
    S._check_overrides(killed)

    def stop(trainer: Trainer) -> None:
        raise StopTraining("killed")

    trainer = Trainer(killed.config(), callbacks=[stop])
    with pytest.raises(StopTraining):
        trainer.fit()
    trainer.save()
    assert killed.state() == "partial"

    first = S.run_all(runs)
    assert [r["resumed"] for r in first] == [False, True, False, False]
    for result, spec in zip(first, runs, strict=True):
        assert spec.state() == "done"
        assert result["best_epoch"] == 1 and set(result["test"]) >= {"yaw", "pitch", "roll"}
        assert result["train_images"] > 0 and len(result["curve"]) == 1
        assert not list(Path(spec.out_dir).glob("*.pt"))  # checkpoints removed once done

    # a second call trains nothing: count Trainer constructions
    built = []
    monkeypatch.setattr(Trainer, "__init__", lambda self, *a, **k: built.append(1) or None)
    again = S.run_all(runs)
    assert built == [] and again == json.loads(json.dumps(first))  # read back from result.json

    # a run directory made with other settings is refused, not mixed in
    other = S.plan_runs(
        TINY_CLAIM, root, folds=2, seeds=(0,), extra=(*tiny_extra(tiny_data), "optim.lr=0.01")
    )
    with pytest.raises(ConfigError, match="other settings"):
        S._check_overrides(other[0])

    # the report: per-arm table, paired comparison, verdict and the plot
    monkeypatch.setitem(R.CLAIMS, "T1", TINY_CLAIM)
    out = R.write_report(S.load_results(root), tmp_path / "claims.md", claims=["T1"])
    text = out.read_text(encoding="utf-8")
    assert "## T1: tiny: HMTL beats SL" in text and "| `sl` |" in text and "Table 2: +0.623" in text
    assert "| SL - HMTL | 2 |" in text
    assert "These runs also used `--set` `data.root=" in text and "`optim.epochs=1`" in text
    png = tmp_path / "claims_T1.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_resumed_run_counts_the_time_before_it_was_stopped(
    tmp_path: Path, tiny_data: Path
) -> None:
    """A run killed and resumed reports its whole run time (the part before the kill, up to
    its last checkpoint, plus the resumed part), not only the resumed process's share."""
    torch.set_num_threads(1)
    from headpose.training.engine.trainer import StopTraining, Trainer

    spec = S.plan_runs(TINY_CLAIM, tmp_path, folds=2, seeds=(0,), extra=tiny_extra(tiny_data))[0]
    S._check_overrides(spec)

    def stop(trainer: Trainer) -> None:
        raise StopTraining("killed")

    trainer = Trainer(spec.config(), callbacks=[stop])
    with pytest.raises(StopTraining):
        trainer.fit()
    trainer.started -= 500.0  # as if the part before the kill had taken 500 s
    trainer.save()
    result = S.execute(spec)
    assert result["resumed"] and result["seconds_before_resume"] >= 500.0
    assert 500.0 <= result["seconds"] < 500.0 + 120.0
    assert S.run_seconds(result) == result["seconds"]
    # results packed before this was counted: a resumed run's time is unknown
    assert S.run_seconds({"resumed": True, "seconds": 45.0}) is None
    assert S.run_seconds({"resumed": False, "seconds": 45.0}) == 45.0


def test_report_numbers_match_the_hand_computation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SL - HMTL over 4 pairs = 1, 2, 3, 4 -> mean 2.500, 95% CI [0.446, 4.554] (see test_study_stats)
    results = []
    for i, (sl, hmtl) in enumerate([(11.0, 10.0), (12.0, 10.0), (13.0, 10.0), (14.0, 10.0)]):
        for arm, value in (("sl", sl), ("hmtl", hmtl)):
            results.append(
                {
                    "arm": arm,
                    "fold": i // 2,
                    "seed": i % 2,
                    "pretrain": False,
                    "test": {"mean": value},
                    "curve": [[1, value + 1, value + 1], [2, value, value]],
                }
            )
    monkeypatch.setitem(R.CLAIMS, "T1", TINY_CLAIM)
    text = R.write_report(results, tmp_path / "r.md", claims=["T1"]).read_text(encoding="utf-8")
    assert "| `sl` | supervised only | 4 | 12.50 +- 1.29 | n/a | n/a |" in text
    # seed-clustered: seed 0 (1 + 3) / 2 = 2, seed 1 (2 + 4) / 2 = 3: mean 2.5, sd sqrt(1/2),
    # half t(0.975, 1) 12.7062047 * 0.7071068 / sqrt(2) = 6.3531024 -> [-3.853, 8.853];
    # corrected: n_test / n_train = (1/5) / (4/5 * 0.9) = 0.2777778, se = sqrt(5/3) *
    # sqrt(1/4 + 0.2777778) = 0.9378773, half 3.1824463 * 0.9378773 = 2.9847415 -> [-0.485, 5.485]
    assert (
        "| SL - HMTL | 4 | 2.500 | [0.446, 4.554] | [-3.853, 8.853] | [-0.485, 5.485] "
        "| **inconclusive** |" in text
    )  # the paired t-interval alone would say reproduced: the three must agree
    assert (
        "Verdict (ResNet-18, 64 px, random init, 6 epochs, ~1k labels): SL - HMTL: inconclusive."
        in text
    )
    assert (tmp_path / "r_T1.png").is_file()
    # 2 folds x 3 seeds where all three agree: seed means 2.5, 3, 2.5 (see test_study_stats)
    values = {(0, 0): 2.0, (1, 0): 3.0, (0, 1): 2.5, (1, 1): 3.5, (0, 2): 3.0, (1, 2): 2.0}
    results = [
        {"arm": arm, "fold": f, "seed": sd, "pretrain": False, "test": {"mean": m}, "seconds": 60}
        for (f, sd), v in values.items()
        for arm, m in (("sl", 10.0 + v), ("hmtl", 10.0))
    ]
    text = R.write_report(results, tmp_path / "r.md", claims=["T1"]).read_text(encoding="utf-8")
    assert "| SL - HMTL | 6 | 2.667 | [2.031, 3.302] | [1.950, 3.384] | [1.629, 3.704] " in text
    assert "| **reproduced** |" in text and "| 6 | 10.00 +- 0.00 | 60 |" in text


def test_against_the_paper_reads_not_reproduced_at_this_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SL - HMTL = -1.0 ... -1.5 over 2 folds x 3 seeds: every interval against the paper's sign
    results = [
        {"arm": arm, "fold": i % 2, "seed": i // 2, "pretrain": False, "test": {"mean": value}}
        for i in range(6)
        for arm, value in (("sl", 10.0), ("hmtl", 11.0 + 0.1 * i))
    ]
    monkeypatch.setitem(R.CLAIMS, "T1", TINY_CLAIM)
    text = R.write_report(results, tmp_path / "r.md", claims=["T1"]).read_text(encoding="utf-8")
    scale = "(ResNet-18, 64 px, random init, 6 epochs, ~1k labels)"
    assert f"| **not reproduced at this scale {scale}** |" in text
    assert f"Verdict {scale}: SL - HMTL: not reproduced at this scale." in text
    assert "**refuted**" not in text
    paper = Scale("x", "the paper's setting", paper_setting=True)
    assert R.scaled_verdict("refuted", paper) == "refuted"
    assert R.scaled_verdict("reproduced", SCALES["lite0"]) == "reproduced"


def _results(values: dict[str, float]) -> list[dict]:
    """2 folds x 3 seeds of each arm at ``values[arm]`` plus a small per-pair wobble."""
    wobble = [0.0, 0.1, -0.1, 0.05, -0.05, 0.0]
    return [
        {"arm": arm, "fold": i % 2, "seed": i // 2, "pretrain": False, "test": {"mean": v + w}}
        for arm, v in values.items()
        for i, w in enumerate(wobble if arm != "sl" else [0.0] * 6)
    ]


def test_a_gain_names_whether_it_holds_at_equal_compute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own variant reads differs / no difference detected with its sign, never
    reproduced; its gain over SL is weighed against SL seeing each label twice."""
    from headpose.training.engine.study_claims import _equal

    claim = Claim(
        "T2",
        "tiny: separate-input HMTL vs SL",
        ("sl", "sl_x2", "hmtl_separate"),
        _equal(
            Comparison("SL - HMTL (separate input)", ("sl",), ("hmtl_separate",), 0, "none"),
            "sl_x2",
            "HMTL (separate input)",
        ),
    )
    monkeypatch.setitem(R.CLAIMS, "T2", claim)
    monkeypatch.setitem(CLAIMS, "T2", claim)
    check_registry()
    for x2, holds in ((9.0, "does not hold"), (10.6, "holds"), (10.0, "is not shown")):
        results = _results({"sl": 11.0, "sl_x2": x2, "hmtl_separate": 10.0})
        text = R.write_report(results, tmp_path / "r.md", claims=["T2"]).read_text()
        assert "SL - HMTL (separate input): differs (mean +1.00); against SL seeing each " in text
        assert f"so the gain {holds} at equal compute" in text
        assert "**reproduced**" not in text
        assert "Not the paper's arms (their comparisons make no paper claim): SL with each" in text
    results = _results({"sl": 11.0, "hmtl_separate": 10.0})
    text = R.write_report(results, tmp_path / "r.md", claims=["T2"]).read_text()
    assert "not tested at equal compute (SL seeing each label twice not run)" in text


def test_the_registry_refuses_a_paper_sign_the_paper_never_gave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for comparison in (
        Comparison("SL - HMTL (separate input)", ("sl",), ("hmtl_separate",), +1, "Table 2"),
        Comparison("SL - HMTL", ("sl",), ("hmtl",), +1, "none: not in the paper"),
    ):
        claim = Claim("T3", "bad", ("sl", "hmtl", "hmtl_separate"), (comparison,))
        monkeypatch.setitem(CLAIMS, "T3", claim)
        with pytest.raises(ValueError, match="paper made no such comparison"):
            check_registry()
    twin = Comparison("SL - HMTL", ("sl",), ("hmtl",), +1, "Table 2", equal_compute="absent")
    monkeypatch.setitem(CLAIMS, "T3", Claim("T3", "bad", ("sl", "hmtl"), (twin,)))
    with pytest.raises(ValueError, match="unknown equal-compute"):
        check_registry()


def test_nadeau_bengio_ratio_follows_the_arms_training_share() -> None:
    # 5 folds, 10% tuning: (1/5) / (4/5 * 0.9) = 0.2778; a quarter of the training images: 1.111
    assert R.holdout_ratio("lite0_sl") == pytest.approx(0.2 / 0.72)
    assert R.holdout_ratio("lite0_sl_x2") == pytest.approx(0.2 / 0.72)  # the same images twice
    assert R.holdout_ratio("lite0_sl_25") == pytest.approx(0.2 / 0.18)


def test_each_scale_summary_matches_its_config() -> None:
    for scale in SCALES.values():
        cfg = load_config(scale.base)
        init = "random init" if cfg.model.init == "random" else "ImageNet init"
        for part in (f"{cfg.model.input_size} px", f"{cfg.optim.epochs} epochs", init):
            assert part in scale.summary, (scale.base, part)
        assert not scale.paper_setting


def test_long_claims_train_longer_on_the_same_folds_and_pre_trainings(tmp_path: Path) -> None:
    """C1-lite0-long and C3-lite0-long: the lite0 arms of issue 42 with the epoch count of
    paper/_study_lite0_long (one setting), the lite0 folds, and C3-lite0's pre-training runs."""
    long_epochs = load_config("paper/_study_lite0_long").optim.epochs
    assert long_epochs >= 15 and f"{long_epochs} epochs" in SCALES["lite0_long"].summary
    short = {(r.arm, r.fold, r.seed): r for r in S.plan_runs(CLAIMS["C3-lite0"], tmp_path, 3)}
    runs = S.plan_runs(CLAIMS["C3-lite0-long"], tmp_path, folds=3, seeds=(0, 1))
    assert [r.out_dir for r in runs if r.pretrain] == [
        short[("lite0_rotation_2x2", None, s)].out_dir for s in (0, 1)
    ]
    for spec in runs:
        if spec.pretrain:
            assert spec.overrides == short[(spec.arm, None, spec.seed)].overrides
            continue
        twin = short[(spec.arm.replace("lite0_long_", "lite0_"), spec.fold, spec.seed)]
        cfg, cfg_short = spec.config(), twin.config()
        assert spec.base == "paper/_study_lite0_long" and cfg.optim.epochs == long_epochs
        assert cfg_short.optim.epochs == 5
        assert (cfg.data.split, cfg.method, cfg.ssl, cfg.model.init) == (
            cfg_short.data.split,
            cfg_short.method,
            cfg_short.ssl,
            cfg_short.model.init,
        )
    arms = set(CLAIMS["C1-lite0-long"].arms) | set(CLAIMS["C3-lite0-long"].arms)
    assert {a.replace("lite0_long_", "") for a in arms} == {
        "sl",
        "sl_x2",
        "hmtl_separate",
        "sl_init_rotation",
        "hmtl_init_rotation",
    }
    assert (
        load_config("paper/_study_lite0_long", ["semi.labelled_repeat=2"]).semi.labelled_repeat == 2
    )


def test_lite0_claims_run_on_the_lite0_base(tmp_path: Path) -> None:
    for key in ("C1-lite0", "C3-lite0", "C5-lite0"):
        claim = S.get_claim(key.upper())
        assert claim is CLAIMS[key] and claim.scale == "lite0"
        runs = S.plan_runs(claim, tmp_path, folds=5, seeds=(0, 1, 2))
        assert len([r for r in runs if not r.pretrain]) == len(claim.arms) * 15
        for spec in {r.arm: r for r in runs}.values():
            cfg = spec.config()
            assert spec.base == "paper/_study_lite0"
            assert cfg.model.backbone == "efficientnet_lite0" and cfg.model.input_size == 112
            assert cfg.data.split.by == ("file" if spec.pretrain else "kfold")
    sep = load_config("paper/_study_lite0", ARMS["lite0_hmtl_separate"].overrides)
    shared = load_config("paper/_study_lite0", ARMS["lite0_hmtl"].overrides)
    assert (sep.ssl.input, shared.ssl.input) == ("separate", "shared")
    assert sep.ssl.weight == shared.ssl.weight == 5.0


def test_unrun_claims_say_so(tmp_path: Path) -> None:
    text = R.write_report([], tmp_path / "r.md").read_text(encoding="utf-8")
    for key, claim in CLAIMS.items():
        retired = [a for a in claim.arms if ARMS[a].retired]
        hint = f"arm `{retired[0]}` is retired" if retired else f"`headpose-study run {key}`"
        assert hint in text
    assert not list(tmp_path.glob("*.png"))


def test_an_arm_shared_with_a_run_claim_does_not_make_a_claim_run(tmp_path: Path) -> None:
    # lite0_sl finished (for C1-lite0) but nothing C3-lite0 compares it with
    results = [
        {"arm": arm, "fold": 0, "seed": s, "pretrain": False, "test": {"mean": 7.0 + s}}
        for s in range(3)
        for arm in ("lite0_sl", "lite0_hmtl")
    ]
    text = R.write_report(results, tmp_path / "r.md", claims=["C1-lite0", "C3-lite0"])
    text = text.read_text(encoding="utf-8")
    assert "Not run yet: `headpose-study run C3-lite0`" in text
    assert "Not run yet: `headpose-study run C1-lite0`" not in text
    assert [p.name for p in tmp_path.glob("*.png")] == ["r_C1-lite0.png"]


def test_cli_plan_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from headpose.training.cli.study import main

    assert main(["plan", "C5", "--root", str(tmp_path), "--folds", "5", "--seeds", "3"]) == 0
    assert "C5: 90 runs (0 pre-trainings), 0 done, 0 partial, 90 to do" in capsys.readouterr().out
    assert main(["plan", "C3", "--root", str(tmp_path), "--only-fold", "1"]) == 0
    assert "C3: 27 runs (6 pre-trainings)" in capsys.readouterr().out  # 7 arms x 3 seeds
    assert main(["plan", "c1-LITE0", "--root", str(tmp_path)]) == 0
    assert "C1-lite0: 60 runs (0 pre-trainings)" in capsys.readouterr().out
    assert main(["plan", "C3-lite0", "--root", str(tmp_path)]) == 0
    assert "C3-lite0: 93 runs (3 pre-trainings)" in capsys.readouterr().out
    long = ["plan", "C3-lite0-long", "--root", str(tmp_path), "--seeds", "2"]
    assert main([*long, "--only-fold", "0", "--only-fold", "1", "--only-fold", "2"]) == 0
    assert "C3-lite0-long: 32 runs (2 pre-trainings)" in capsys.readouterr().out  # 5 arms
    assert main(["plan", "C9", "--root", str(tmp_path)]) == 2
    assert "unknown claim 'C9'" in capsys.readouterr().err
    assert main(["plan", "C1", "--root", str(tmp_path), "--set", "optim.lrr=1"]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert set(ARMS) >= set(CLAIMS["O1"].arms)


def test_a_retired_arm_is_reported_but_never_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """P1-lite0's `lite0_sl_profiled`: the face-profiling tool that made its data was removed, so
    no run of the arm starts (`run` refuses in one line naming the commit that has the tool, and
    so does execute), while its finished runs are still reported and read as done."""
    from dataclasses import asdict

    from headpose.training.cli.study import main
    from headpose.training.engine.study_claims import PROFILING_COMMIT

    arm = ARMS["lite0_sl_profiled"]
    assert f"commit {PROFILING_COMMIT}" in arm.retired
    # the overrides its packed runs recorded (else the report would read them as --set values)
    assert "synth.labels=${HEADPOSE_PROFILED:-runs/profiled}/fold{fold}" in arm.overrides
    assert [a for a in CLAIMS["P1-lite0"].arms if ARMS[a].retired] == [arm.name]
    root, report = tmp_path / "study", tmp_path / "claims.md"
    args = ["P1-lite0", "--root", str(root), "--folds", "2", "--seeds", "1"]
    assert main(["run", *args, "--report", str(report)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("headpose-study: error: arm 'lite0_sl_profiled'")
    assert "is retired: the face-profiling tool" in err and f"commit {PROFILING_COMMIT}" in err
    assert "none of its 2 unfinished runs starts" in err
    assert not root.exists() and not report.exists()  # refused before any run or report
    assert main(["plan", *args]) == 0
    out = capsys.readouterr().out
    assert "P1-lite0: 6 runs" in out and f"commit {PROFILING_COMMIT} (2 runs never start)" in out
    runs = S.plan_runs(CLAIMS["P1-lite0"], root, folds=2, seeds=(0,))
    retired = [r for r in runs if r.arm == arm.name]
    with pytest.raises(ConfigError, match=r"lite0_sl_profiled \(fold 0, seed 0\): .* is retired"):
        S.execute(retired[0])
    assert not root.exists()
    # its packed runs (bench/results/study/results.jsonl): done, and reported as the arm's
    mae = {"lite0_sl": 7.4, "lite0_sl_x2": 5.6, "lite0_sl_profiled": 6.1}
    rows = [
        {"key": f"{r.arm}/fold{r.fold}_seed{r.seed}", **asdict(r), "test": {"mean": mae[r.arm]}}
        for r in runs
    ]
    root.mkdir()
    (root / S.ARCHIVE).write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert [r.state() for r in retired] == ["done", "done"]
    S.refuse_retired(runs)  # nothing of it to start
    assert main(["run", *args, "--report", str(report)]) == 0  # all finished: only the report
    capsys.readouterr()
    section = report.read_text(encoding="utf-8").split("## P1-lite0")[1].split("\n## ")[0]
    assert f"| `{arm.name}` | {arm.description} | 2 | 6.10 +- 0.00 |" in section
    assert "No finished runs" not in section and "`--set`" not in section
    assert f"the tool is in commit {PROFILING_COMMIT}" in section


def test_the_headline_arm_trains_from_its_seeds_pre_training(
    tmp_path: Path, tiny_data: Path
) -> None:
    """Rotation pre-training then separate-input HMTL (the paper's best combination in this
    project's form): the long claim's arm loads C3-lite0's pre-training of its seed."""
    torch.set_num_threads(1)
    # the shared UTKFace faces and AFLW2000 crops (../shared), 8 training images each, the
    # lite0 network (its ImageNet weights, then the pre-training's) at 32 px
    extra = (
        *(o for o in tiny_extra(tiny_data) if not o.startswith(("data.root", "model.backbone"))),
        "data.low_data=8",
        "data.split.val_fraction=0.002",
    )
    runs = S.plan_runs(CLAIMS["C3-lite0-long"], tmp_path, folds=2, seeds=(0,), extra=extra)
    pre = next(r for r in runs if r.pretrain)
    arm = next(r for r in runs if r.arm == "lite0_long_hmtl_init_rotation" and r.fold == 0)
    assert Path(arm.config().model.init) == Path(pre.out_dir) / "best.pt"
    S.execute(pre)
    result = S.execute(arm)
    assert result["epochs"] == 1 and math.isfinite(result["test"]["mean"])


def test_a_packed_pre_training_is_made_again_when_a_new_arm_needs_its_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packed study keeps no checkpoints: a new arm that starts from a finished pre-training
    (the headline arm, after C3-lite0's SL arm) has its seed's pre-training made again first;
    with nothing left to train from it, it is not."""
    root = tmp_path / "study"
    runs = S.plan_runs(CLAIMS["C3-lite0"], root, folds=2, seeds=(0,))
    pre = next(r for r in runs if r.pretrain)
    for spec in runs:
        if spec.pretrain or spec.arm != "lite0_hmtl_init_rotation":
            Path(spec.out_dir).mkdir(parents=True)
            (Path(spec.out_dir) / S.RESULT).write_text(json.dumps({"arm": spec.arm}))
    S.pack_results(root)
    calls = []

    def fake(spec, threads=0, keep=False, redo=False):
        calls.append((spec.arm, redo))
        if spec.pretrain and redo:
            (Path(spec.out_dir) / "best.pt").write_bytes(b"weights")
        return {"arm": spec.arm}

    monkeypatch.setattr(S, "execute", fake)
    assert S.weights_missing(pre, runs)
    S.run_all(runs)
    made = [c for c in calls if c[1]]
    assert made == [("lite0_rotation_2x2", True)]
    assert calls.index(made[0]) < calls.index(("lite0_hmtl_init_rotation", False))
    assert not S.weights_missing(pre, runs)  # its weights are back
    done = [r for r in runs if r.arm != "lite0_hmtl_init_rotation"]
    (Path(pre.out_dir) / "best.pt").unlink()
    assert not S.weights_missing(pre, done)  # nothing left that needs them


def test_an_arm_without_its_pre_training_is_refused(tmp_path: Path) -> None:
    runs = S.plan_runs(CLAIMS["C3-lite0"], tmp_path, folds=2, seeds=(0,))
    spec = next(r for r in runs if r.arm == "lite0_sl_init_rotation")
    with pytest.raises(ConfigError, match=r"pre-training weights missing: .*seed0/best\.pt"):
        S.execute(spec)
    assert not (Path(spec.out_dir) / "overrides.json").exists()


def test_pack_folds_results_into_one_file_and_runs_stay_finished(tmp_path: Path) -> None:
    """headpose-study pack: one results.jsonl instead of a result.json per run; report, plan
    and execute read it as before (a packed run is not trained again)."""
    root = tmp_path / "study"
    runs = S.plan_runs(CLAIMS["C1"], root, folds=2, seeds=(0,))
    for i, spec in enumerate(runs[:3]):
        out = Path(spec.out_dir)
        out.mkdir(parents=True)
        (out / S.RESULT).write_text(json.dumps({"arm": spec.arm, "fold": spec.fold, "i": i}))
    before = S.load_results(root)
    assert S.pack_results(root) == 3
    assert not list(root.rglob(S.RESULT)) and (root / S.ARCHIVE).is_file()
    assert S.load_results(root) == before  # same results, same order
    assert [r.state() for r in runs[:4]] == ["done", "done", "done", "todo"]
    assert S.execute(runs[1])["i"] == 1  # read back, not trained
    # a run finished with another epoch count than its config now asks is not reused
    (root / S.ARCHIVE).write_text(
        json.dumps({"key": f"{runs[0].arm}/fold0_seed0", "arm": runs[0].arm, "epochs": 9}) + "\n"
    )
    with pytest.raises(ConfigError, match="finished with 9 epochs, its config now asks 6"):
        S.execute(runs[0])
    (root / S.ARCHIVE).write_text("not json\n")
    with pytest.raises(ConfigError, match="line 1 is not a packed study result"):
        S.load_results(root)


_ORPHAN_SCRIPT = """
import os, sys, time
from headpose.training.engine.study import worker_pool
with worker_pool(1) as pool:
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(120)
"""


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_study_workers_exit_when_the_study_is_killed(signal_name: str) -> None:
    """A killed ``headpose-study run --jobs N`` leaves no worker training on (they resume later)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive, busy with the long task
        parent.send_signal(getattr(signal, signal_name))
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(worker, signal.SIGKILL)
        pytest.fail(f"worker {worker} outlived its killed study by 30 s")
    finally:
        parent.kill()


def test_report_rewrites_its_own_file_but_no_other_unasked(tmp_path: Path, capsys) -> None:
    """`headpose-study report --out notes.md` replaced any file (issue 40); an earlier report
    is still rewritten (the study reruns it after every run), and the results it is made from
    are never written."""
    from headpose.training.cli.study import main

    root = tmp_path / "runs"
    root.mkdir()
    archive = root / S.ARCHIVE
    archive.write_text("")
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    args = ["report", "--root", str(root), "--out"]
    assert main([*args, str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("headpose-study: error: report ") and "already exists" in err
    assert notes.read_text() == "my notes\n"
    assert main([*args, str(archive), "--overwrite"]) == 2
    assert "is an input of this run" in capsys.readouterr().err and archive.read_text() == ""
    report = tmp_path / "claims.md"
    assert main([*args, str(report)]) == 0 and R.is_report(report)
    assert main([*args, str(report)]) == 0  # its own earlier report: rewritten
    assert main([*args, str(notes), "--overwrite"]) == 0 and R.is_report(notes)
