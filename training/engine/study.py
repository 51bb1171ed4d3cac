"""The reproduction study: plan, run (resumably) and collect the runs of a claim.

A claim (:mod:`.study_claims`) is a set of arms; each arm is trained on every (fold, seed) pair
with the same config apart from its overrides, so arms compare paired. Runs live in
``<root>/<arm>/fold<F>_seed<S>/`` (pre-trainings in ``<root>/_pretrain/<name>/seed<S>/``):

* ``overrides.json``: the exact overrides of the run; a later study with different settings for
  the same directory stops with an error instead of mixing results;
* the trainer's files (``last.pt``, ``best.pt``, ``log.csv``, ...);
* ``result.json``, written last and atomically: the run is finished.

``headpose-study pack`` folds the ``result.json`` files under a root into one
``<root>/results.jsonl`` (what ``bench/results/study`` commits); a run found there counts as
finished too. Running a study again skips finished runs, resumes a killed run from its ``last.pt`` through the
trainer's exact resume, and starts the others.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from headpose.files import atomic_write
from headpose.training.config import Config, ConfigError, load_config
from headpose.training.engine.study_claims import (
    ARMS,
    CLAIMS,
    PRETRAINS,
    SCALES,
    STUDY_BASE,
    Arm,
    Claim,
)

RESULT = "result.json"
OVERRIDES = "overrides.json"
ARCHIVE = "results.jsonl"  # packed results: one JSON object per line, with its run's "key"


def read_archive(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{key: result}`` of a packed archive (key: the run's folder relative to the archive's,
    e.g. ``hmtl/fold0_seed1``); empty when there is no such file. Read once per version of the
    file (planning asks it for every run)."""
    path = Path(path)
    if not path.is_file():
        return {}
    return copy.deepcopy(_parse_archive(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parse_archive(path: Path, mtime_ns: int) -> dict[str, dict[str, Any]]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[str(row.pop("key"))] = row
        except (ValueError, KeyError, AttributeError):
            raise ConfigError(f"{path}: line {n} is not a packed study result") from None
    return out


def archived_result(out_dir: str | Path) -> dict[str, Any] | None:
    """The packed result of the run in ``out_dir`` from the nearest ``results.jsonl`` up to
    three folders above it, or ``None``."""
    out = Path(out_dir).absolute()
    for parent in list(out.parents)[:3]:
        archive = parent / ARCHIVE
        if archive.is_file():
            found = _parse_archive(archive, archive.stat().st_mtime_ns)
            entry = found.get(out.relative_to(parent).as_posix())
            return None if entry is None else copy.deepcopy(entry)
    return None


@dataclass(frozen=True)
class RunSpec:
    """One training run of the study: an arm (or a pre-training) on a fold and seed."""

    arm: str
    fold: int | None  # None for a pre-training (label-free, shared by the folds)
    seed: int
    out_dir: str
    overrides: tuple[str, ...]
    pretrain: bool = False
    base: str = STUDY_BASE  # the config the overrides apply to (the scale's base)

    @property
    def label(self) -> str:
        where = f"seed {self.seed}" if self.fold is None else f"fold {self.fold}, seed {self.seed}"
        return f"{'pretrain ' if self.pretrain else ''}{self.arm} ({where})"

    @property
    def arm_spec(self) -> Arm | None:
        """The study arm this run trains (``None`` for a pre-training)."""
        return None if self.pretrain else ARMS.get(self.arm)

    @property
    def retired(self) -> str | None:
        """Why this run may not start, in one line (its arm is retired: ``Arm.retired``), or
        ``None`` for a run that may."""
        arm = self.arm_spec
        if arm is None or not arm.retired:
            return None
        return f"arm '{arm.name}' is retired: {arm.retired}"

    def config(self) -> Config:
        """The resolved config of this run (its scale's base config + overrides)."""
        return load_config(self.base, self.overrides)

    def state(self) -> str:
        """``done`` (result.json), ``partial`` (last.pt, no result) or ``todo``."""
        out = Path(self.out_dir)
        if (out / RESULT).is_file() or archived_result(out) is not None:
            return "done"
        if (out / "last.pt").is_file():
            return "partial"
        return "todo"


def run_seconds(result: dict[str, Any]) -> float | None:
    """The run time of a finished run (seconds, one process), or None when it is not known: a
    run resumed before results recorded ``seconds_before_resume`` counted only its last part."""
    if result.get("resumed") and "seconds_before_resume" not in result:
        return None
    seconds = result.get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def get_claim(key: str) -> Claim:
    """The claim ``key`` (case-insensitive), or a ValueError listing the known ones."""
    claim = next((c for k, c in CLAIMS.items() if k.upper() == key.upper()), None)
    if claim is None:
        raise ConfigError(f"unknown claim '{key}': expected one of {', '.join(CLAIMS)}")
    return claim


def pretrain_dir(root: Path, name: str, seed: int) -> Path:
    return root / "_pretrain" / name / f"seed{seed}"


def plan_runs(
    claim: Claim,
    root: str | Path,
    folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    extra: Sequence[str] = (),
) -> list[RunSpec]:
    """Every run of ``claim``: its pre-trainings (one per seed) first, then arms x folds x seeds.

    ``extra``: overrides applied to every run after the arm's (e.g. tiny settings in tests).
    ``{fold}`` in an arm's override becomes the run's fold (data made per fold).
    """
    root = Path(root)
    runs: list[RunSpec] = []
    for name in claim.pretrains:
        for seed in seeds:
            out = pretrain_dir(root, name, seed)
            overrides = (
                *PRETRAINS[name].overrides,
                *extra,
                f"runtime.seed={seed}",
                f"runtime.out_dir={out}",
                f"name=pretrain-{name}-s{seed}",
            )
            base = SCALES[PRETRAINS[name].scale].base
            runs.append(RunSpec(name, None, seed, str(out), overrides, pretrain=True, base=base))
    for arm_name in claim.arms:
        arm = ARMS[arm_name]
        for fold in range(folds):
            for seed in seeds:
                out = root / arm_name / f"fold{fold}_seed{seed}"
                init = ()
                if arm.init_from is not None:
                    init = (f"model.init={pretrain_dir(root, arm.init_from, seed) / 'best.pt'}",)
                overrides = (
                    *(o.replace("{fold}", str(fold)) for o in arm.overrides),
                    *init,
                    *extra,
                    f"data.split.folds={folds}",
                    f"data.split.fold={fold}",
                    f"runtime.seed={seed}",
                    f"runtime.out_dir={out}",
                    f"name={arm_name}-f{fold}-s{seed}",
                )
                base = SCALES[arm.scale].base
                runs.append(RunSpec(arm_name, fold, seed, str(out), overrides, base=base))
    return runs


def refuse_retired(runs: Iterable[RunSpec]) -> None:
    """Raise ConfigError (one line) when a run of ``runs`` still to train (not finished) belongs
    to a retired arm: called before any run starts. Finished runs of a retired arm are only read
    (reported)."""
    todo = [spec for spec in runs if spec.retired and spec.state() != "done"]
    if todo:
        count = sum(spec.arm == todo[0].arm for spec in todo)
        raise ConfigError(
            f"{todo[0].retired}; none of its {count} unfinished runs starts "
            "(--only-arm runs the claim's other arms; its finished runs are still reported)"
        )


def _check_overrides(spec: RunSpec) -> None:
    """Record the run's overrides; refuse a directory that holds a run made with others."""
    out = Path(spec.out_dir)
    path = out / OVERRIDES
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if list(saved) != list(spec.overrides):
            changed = sorted(set(saved) ^ set(spec.overrides))
            raise ConfigError(
                f"{path}: this run was made with other settings (differing: {changed}); use "
                "another --root, or delete the directory to redo it"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(list(spec.overrides), indent=1))


def summarize_history(history: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The result of a run from the trainer's epoch rows.

    ``best_epoch``: the epoch with the lowest tuning MAE (``val/mae_mean``: the epoch of
    best.pt); ``test``: the held-out fold's MAE per angle at that epoch; ``final_test``: at the
    last epoch; ``curve``: ``[epoch, val mean, test mean]`` per epoch.
    """
    rows = [r for r in history if r.get("kind") == "epoch"]
    if not rows:
        return {"epochs": 0}

    def value(row: dict[str, Any], key: str) -> float:
        v = row.get(key)
        return float(v) if isinstance(v, (int, float)) else math.nan

    def test_of(row: dict[str, Any]) -> dict[str, float]:
        return {k.split("/mae_", 1)[1]: value(row, k) for k in row if k.startswith("test/mae_")}

    curve = [[int(r["epoch"]), value(r, "val/mae_mean"), value(r, "test/mae_mean")] for r in rows]
    out: dict[str, Any] = {"epochs": int(rows[-1]["epoch"]), "curve": curve}
    tuned = [(value(r, "val/mae_mean"), i) for i, r in enumerate(rows)]
    tuned = [(v, i) for v, i in tuned if math.isfinite(v)]
    if tuned:
        best = rows[min(tuned)[1]]
        out.update(best_epoch=int(best["epoch"]), test=test_of(best))
    out["final_test"] = test_of(rows[-1])
    out["final_val"] = {k[4:]: value(rows[-1], k) for k in rows[-1] if k.startswith("val/")}
    return out


def same_length(spec: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` of the finished run ``spec``, or a ConfigError when it trained another number
    of epochs than its config now asks (e.g. the long scale's one setting changed after runs
    were packed): such results are not mixed in, nor silently reused."""
    epochs, want = result.get("epochs"), spec.config().optim.epochs
    if isinstance(epochs, int) and epochs and epochs != want:
        raise ConfigError(
            f"{spec.label}: finished with {epochs} epochs, its config now asks {want}; use "
            "another --root, or remove its result to train it again"
        )
    return result


def weights_missing(spec: RunSpec, runs: Sequence[RunSpec]) -> bool:
    """Whether ``spec`` is a finished pre-training whose weights (``best.pt``) are gone (a packed
    study keeps no checkpoints) while a run of ``runs`` still to train starts from them: then
    it is made again (same settings and seed)."""
    weights = Path(spec.out_dir) / "best.pt"
    if not spec.pretrain or weights.is_file():
        return False
    init = f"model.init={weights}"
    return any(init in r.overrides and r.state() != "done" for r in runs if not r.pretrain)


def execute(
    spec: RunSpec, threads: int = 0, keep_checkpoints: bool = False, redo: bool = False
) -> dict[str, Any]:
    """Run (or resume, or skip) one run and return its result (also in ``result.json``).

    Once the result is written the checkpoints go (a ResNet-18 run leaves ~270 MB: the whole
    study would fill ~70 GB) unless ``keep_checkpoints``; a pre-training keeps its ``best.pt``,
    which the arms load. ``redo``: train even if finished (a pre-training whose weights are
    gone, :func:`weights_missing`).
    """
    out = Path(spec.out_dir)
    if not redo and (out / RESULT).is_file():
        return same_length(spec, json.loads((out / RESULT).read_text(encoding="utf-8")))
    packed = None if redo else archived_result(out)
    if packed is not None:
        return same_length(spec, packed)
    if threads:
        import torch  # import cost: plan, list and report need no torch; a run does

        torch.set_num_threads(threads)
    # import cost (torch), as above
    from headpose.training.engine import distributed as D
    from headpose.training.engine.trainer import Trainer

    if spec.retired:  # run_all refuses first; this guards a direct call
        raise ConfigError(f"{spec.label}: {spec.retired}; no new run of it starts")
    cfg = spec.config()
    arm = spec.arm_spec
    if arm is not None and arm.init_from is not None and not Path(cfg.model.init).is_file():
        raise ConfigError(f"{spec.label}: pre-training weights missing: {cfg.model.init}")
    _check_overrides(spec)
    resumed = (out / "last.pt").is_file()
    started = time.time()
    trainer = Trainer(cfg, resume=resumed)
    try:
        trainer.fit()
    finally:
        D.shutdown(trainer.dist)
    # a resumed run's time includes what it took before it was stopped (up to its last
    # checkpoint: the trainer's "elapsed"), not only this process's part
    result = {
        **asdict(spec),
        "resumed": resumed,
        **({"seconds_before_resume": round(trainer.resumed_seconds, 1)} if resumed else {}),
        "seconds": round(time.time() - started + trainer.resumed_seconds, 1),
        "train_images": len(trainer.data.train),
        **summarize_history(trainer.history),
    }
    atomic_write(out / RESULT, json.dumps(result, indent=1))
    if not keep_checkpoints:
        for name in ("last.pt",) if spec.pretrain else ("last.pt", "best.pt"):
            (out / name).unlink(missing_ok=True)
    return result


def _exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Pool initializer: a daemon thread ends this worker once ``parent_pid`` is gone (the
    study killed by SIGTERM or SIGKILL), so no orphan keeps training; the run resumes from its
    atomically written ``last.pt`` next time."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` spawned worker processes that exit when this process dies."""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def run_all(
    runs: Sequence[RunSpec],
    jobs: int = 1,
    threads: int = 1,
    on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None,
    keep_checkpoints: bool = False,
) -> list[dict[str, Any]]:
    """Execute ``runs`` (pre-trainings first), ``jobs`` at a time in separate processes
    (``jobs`` 1: in this process), each with ``threads`` torch threads; finished runs are
    skipped, except a pre-training whose weights a run still to train needs and that are gone
    (:func:`weights_missing`); an unfinished run of a retired arm stops it before any run starts
    (:func:`refuse_retired`). Returns the results in the order of ``runs``."""
    refuse_retired(runs)
    results: dict[int, dict[str, Any]] = {}
    phases = [
        [i for i, r in enumerate(runs) if r.pretrain],
        [i for i, r in enumerate(runs) if not r.pretrain],
    ]
    for phase in phases:
        redo = {i for i in phase if weights_missing(runs[i], runs)}
        todo = [i for i in phase if i in redo or runs[i].state() != "done"]
        for i in phase:
            if i not in todo:
                results[i] = execute(runs[i])
        if jobs <= 1:
            for i in todo:
                results[i] = execute(runs[i], threads, keep_checkpoints, i in redo)
                if on_done:
                    on_done(runs[i], results[i])
            continue
        with worker_pool(jobs) as pool:
            futures = {
                pool.submit(execute, runs[i], threads, keep_checkpoints, i in redo): i for i in todo
            }
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_done:
                    on_done(runs[i], results[i])
    return [results[i] for i in range(len(runs))]


def _results_by_key(root: Path) -> dict[str, dict[str, Any]]:
    found = read_archive(root / ARCHIVE)
    for p in root.rglob(RESULT):
        found[p.parent.relative_to(root).as_posix()] = json.loads(p.read_text(encoding="utf-8"))
    return found


def load_results(root: str | Path) -> list[dict[str, Any]]:
    """Every finished run under ``root`` (its ``result.json``, or its line of the packed
    ``results.jsonl``), pre-trainings included, in the order of their folders."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = _results_by_key(root)
    return [found[k] for k in sorted(found, key=lambda k: Path(k).parts)]


def pack_results(root: str | Path) -> int:
    """Fold every ``result.json`` under ``root`` into ``<root>/results.jsonl`` (written
    atomically, merged with what it held) and delete those files; returns the number of runs
    the archive holds. The runs stay finished (:func:`archived_result`)."""
    root = Path(root)
    found = _results_by_key(root)
    lines = [json.dumps({"key": k, **found[k]}) for k in sorted(found, key=lambda k: Path(k).parts)]
    atomic_write(root / ARCHIVE, "".join(line + "\n" for line in lines))
    for p in root.rglob(RESULT):
        p.unlink()
    return len(lines)


def scores_by_arm(
    results: Iterable[dict[str, Any]], metric: str = "mean", which: str = "test"
) -> dict[str, dict[tuple[int, int], float]]:
    """``{arm: {(fold, seed): MAE}}`` of the finished arm runs; ``which``: ``test`` (at the
    epoch picked on the tuning split) or ``final_test`` (last epoch)."""
    out: dict[str, dict[tuple[int, int], float]] = {}
    for r in results:
        if r.get("pretrain") or r.get("fold") is None:
            continue
        value = (r.get(which) or {}).get(metric)
        out.setdefault(r["arm"], {})[(int(r["fold"]), int(r["seed"]))] = (
            float(value) if value is not None else math.nan
        )
    return out
