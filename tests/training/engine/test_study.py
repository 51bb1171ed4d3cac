"""The study machinery on tiny settings: pairing, resume/skip, the report and its plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from headpose.training.config import ConfigError, expand_path, load_config
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
    assert "| `sl` | supervised only | 4 | 12.50 +- 1.29 |" in text
    assert "| SL - HMTL | 4 | 2.500 | [0.446, 4.554] | **reproduced** |" in text
    assert (
        "Verdict (ResNet-18, 64 px, random init, 6 epochs, ~1k labels): SL - HMTL: reproduced."
        in text
    )
    assert (tmp_path / "r_T1.png").is_file()


def test_against_the_paper_reads_not_reproduced_at_this_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SL - HMTL = -1, -2, -3, -4: the whole interval against the paper's sign
    results = [
        {"arm": arm, "fold": i, "seed": 0, "pretrain": False, "test": {"mean": value}}
        for i in range(4)
        for arm, value in (("sl", 10.0), ("hmtl", 11.0 + i))
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


def test_each_scale_summary_matches_its_config() -> None:
    for scale in SCALES.values():
        cfg = load_config(scale.base)
        init = "random init" if cfg.model.init == "random" else "ImageNet init"
        for part in (f"{cfg.model.input_size} px", f"{cfg.optim.epochs} epochs", init):
            assert part in scale.summary, (scale.base, part)
        assert not scale.paper_setting


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
    for key in CLAIMS:
        assert f"Not run yet: `headpose-study run {key}`" in text
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
    assert "C3: 21 runs (6 pre-trainings)" in capsys.readouterr().out
    assert main(["plan", "c1-LITE0", "--root", str(tmp_path)]) == 0
    assert "C1-lite0: 45 runs (0 pre-trainings)" in capsys.readouterr().out
    assert main(["plan", "C3-lite0", "--root", str(tmp_path)]) == 0
    assert "C3-lite0: 48 runs (3 pre-trainings)" in capsys.readouterr().out
    assert main(["plan", "C9", "--root", str(tmp_path)]) == 2
    assert "unknown claim 'C9'" in capsys.readouterr().err
    assert main(["plan", "C1", "--root", str(tmp_path), "--set", "optim.lrr=1"]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert set(ARMS) >= set(CLAIMS["O1"].arms)


def test_profiled_arm_reads_its_folds_own_data(
    tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_num_threads(1)
    profiled = tmp_path / "profiled"
    (profiled / "fold0").mkdir(parents=True)
    (profiled / "fold0" / "images").symlink_to(tiny_data / "images")
    rows = (tiny_data / "labels.csv").read_text(encoding="utf-8").splitlines()
    (profiled / "fold0" / "labels.csv").write_text("\n".join(rows[:9]) + "\n", encoding="utf-8")
    monkeypatch.setenv("HEADPOSE_PROFILED", str(profiled))
    extra = (*tiny_extra(tiny_data), "model.init=random", "synth.per_epoch=4")
    runs = S.plan_runs(CLAIMS["P1-lite0"], tmp_path / "runs", folds=2, seeds=(0,), extra=extra)
    arm = [r for r in runs if r.arm == "lite0_sl_profiled"]
    assert [expand_path(r.config().synth.labels) for r in arm] == [
        f"{profiled}/fold0",
        f"{profiled}/fold1",
    ]
    plain = next(r for r in runs if r.arm == "lite0_sl" and r.fold == 0)
    with_faces = S.execute(arm[0])
    assert with_faces["train_images"] == S.execute(plain)["train_images"] + 4
    with pytest.raises(ConfigError, match=r"synth.labels.*not found.*fold1"):
        S.execute(arm[1])


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
