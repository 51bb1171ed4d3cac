"""``headpose-study``: the paper's claims as paired, seeded, resumable k-fold experiments.

Examples::

    headpose-study list                       # the claims and their arms
    headpose-study plan C1                    # runs, finished / partial, estimated time left
    headpose-study run C1 --jobs 2            # train what is missing, then write the report
    headpose-study run C1-lite0 --jobs 2      # the same claim at the shipped models' recipe
    headpose-study report                     # rewrite bench/results/paper_claims.md

Interrupt a study at any time and run the same command again: finished runs are skipped and a
killed run resumes from its last checkpoint. Run from the repository root (the data default is
``../shared``; set ``HEADPOSE_SHARED`` otherwise).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from headpose.cli.options import missing_extra, version_option
from headpose.errors import HeadPoseError, first_line

PROG = "headpose-study"
DEFAULT_ROOT = "runs/study"
DEFAULT_REPORT = "bench/results/paper_claims.md"
OVERWRITE = click.option(
    "--overwrite",
    is_flag=True,
    help="replace an existing report file that is not an earlier headpose-study report "
    "(an earlier report is always rewritten)",
)

_common = [
    click.option("--root", default=DEFAULT_ROOT, show_default=True, help="folder of the runs"),
    click.option("--folds", default=5, show_default=True, help="k of the k-fold split"),
    click.option("--seeds", default=3, show_default=True, help="seeds 0..N-1 per fold"),
    click.option(
        "--only-fold",
        "only_folds",
        multiple=True,
        type=int,
        help="run only these folds (repeatable; e.g. to split a study across machines)",
    ),
    click.option(
        "--only-arm",
        "only_arms",
        multiple=True,
        help="run only these arms (repeatable; pre-trainings they need still run)",
    ),
    click.option(
        "--set",
        "extra",
        multiple=True,
        metavar="KEY=VALUE",
        help="config override for every run (e.g. optim.epochs=2); part of each run's identity",
    ),
]


def common(fn):
    for option in reversed(_common):
        fn = option(fn)
    return fn


def _plan(
    claim_key: str,
    root: str,
    folds: int,
    seeds: int,
    extra: Sequence[str],
    only_folds: Sequence[int] = (),
    only_arms: Sequence[str] = (),
):
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import get_claim, plan_runs
    from headpose.training.engine.study_claims import ARMS

    if folds < 2 or seeds < 1:
        raise click.BadParameter("need --folds >= 2 and --seeds >= 1")
    bad = [f for f in only_folds if not 0 <= f < folds]
    if bad:
        raise click.BadParameter(f"--only-fold {bad}: expected 0 <= fold < --folds={folds}")
    claim = get_claim(claim_key)
    unknown = sorted(set(only_arms) - set(claim.arms))
    if unknown:
        raise click.BadParameter(f"--only-arm {unknown}: {claim.key} has arms {list(claim.arms)}")
    runs = plan_runs(claim, root, folds, tuple(range(seeds)), tuple(extra))
    for spec in {r.arm: r for r in runs}.values():
        spec.config()  # a bad --set fails here, before any training
    if only_arms:
        needed = {ARMS[a].init_from for a in only_arms}
        runs = [r for r in runs if r.arm in only_arms or (r.pretrain and r.arm in needed)]
    return [r for r in runs if not only_folds or r.fold is None or r.fold in only_folds]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@version_option(PROG)
def cli() -> None:
    """Re-test the paper's claims (C1-C5, O1; C1-lite0, C3-lite0, C5-lite0 at the shipped
    recipe, C1-lite0-long and C3-lite0-long trained longer) with folds, seeds and confidence
    intervals."""


@cli.command("list")
def list_claims() -> None:
    """List the claims, their arms and comparisons."""
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study_claims import ARMS, CLAIMS, SCALES

    for claim in CLAIMS.values():
        click.echo(f"{claim.key}: {claim.title}  [{SCALES[claim.scale].summary}]")
        for arm in claim.arms:
            retired = " [retired: reported, not run]" if ARMS[arm].retired else ""
            click.echo(f"    {arm:<24} {ARMS[arm].description}{retired}")


@cli.command()
@click.argument("claim")
@common
def plan(
    claim: str,
    root: str,
    folds: int,
    seeds: int,
    only_folds: tuple[int, ...],
    only_arms: tuple[str, ...],
    extra: tuple[str, ...],
) -> None:
    """Show the runs of CLAIM, what is done, and the time left (from the finished runs)."""
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import (
        get_claim,
        load_results,
        run_seconds,
        weights_missing,
    )

    runs = _plan(claim, root, folds, seeds, extra, only_folds, only_arms)
    claim = get_claim(claim).key
    # a finished pre-training whose weights are gone is made again when an arm still needs them
    states = ["todo" if weights_missing(r, runs) else r.state() for r in runs]
    # the time per run from the finished runs of this claim's own arms (scales differ in cost)
    names = {r.arm for r in runs}
    done = {(r["arm"], r.get("fold"), r["seed"]): r for r in load_results(root)}
    seconds = [run_seconds(r) for r in done.values() if r["arm"] in names]
    seconds = [s for s in seconds if s is not None]
    per_run = sum(seconds) / len(seconds) if seconds else None
    # an unfinished run of a retired arm never starts: not in the time left
    never = [r for r, s in zip(runs, states, strict=True) if s != "done" and r.retired]
    left = len(runs) - states.count("done") - len(never)
    click.echo(
        f"{claim}: {len(runs)} runs ({sum(r.pretrain for r in runs)} pre-trainings), "
        f"{states.count('done')} done, {states.count('partial')} partial, {states.count('todo')} to do"
    )
    for arm, message in {r.arm: r.retired for r in never}.items():
        click.echo(f"{message} ({sum(r.arm == arm for r in never)} runs never start)")
    if per_run is None:
        click.echo(
            "time left: unknown until a run has finished (see docs/PAPER_STUDY.md: cost per claim)"
        )
    else:
        click.echo(
            f"time left: ~{left * per_run / 3600:.1f} h at {per_run:.0f} s per run "
            "(mean of the finished runs under --root; divide by --jobs on free cores)"
        )


@cli.command()
@click.argument("claim")
@common
@click.option("--jobs", default=1, show_default=True, help="runs at a time (processes)")
@click.option("--threads", default=1, show_default=True, help="torch threads per run")
@click.option("--report", "report_path", default=DEFAULT_REPORT, show_default=True)
@OVERWRITE
@click.option(
    "--keep-checkpoints",
    is_flag=True,
    help="keep each finished run's last.pt/best.pt (~270 MB a run; deleted by default)",
)
def run(
    claim: str,
    root: str,
    folds: int,
    seeds: int,
    only_folds: tuple[int, ...],
    only_arms: tuple[str, ...],
    extra: tuple[str, ...],
    jobs: int,
    threads: int,
    report_path: str,
    overwrite: bool,
    keep_checkpoints: bool,
) -> None:
    """Train the missing runs of CLAIM (resuming partial ones), then write the report."""
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import get_claim, run_all
    from headpose.training.engine.study_report import check_report

    check_report(report_path, overwrite=overwrite, inputs=_inputs(root))  # before hours of work
    runs = _plan(claim, root, folds, seeds, extra, only_folds, only_arms)
    claim = get_claim(claim).key
    total = len(runs)
    count = [0]

    def done(spec, result) -> None:
        count[0] += 1
        test = (result.get("test") or {}).get("mean", float("nan"))
        click.echo(
            f"[{count[0]}] {spec.label}: test MAE {test:.2f} deg, {result.get('seconds', 0):.0f} s"
        )

    click.echo(f"{claim}: {total} runs under {root} ({jobs} at a time)")
    run_all(runs, jobs=jobs, threads=threads, on_done=done, keep_checkpoints=keep_checkpoints)
    _write(root, report_path, f"headpose-study run {claim}", overwrite)


@cli.command()
@click.option("--root", default=DEFAULT_ROOT, show_default=True, help="folder of the runs")
def pack(root: str) -> None:
    """Fold the result.json of every finished run under --root into one file,
    ROOT/results.jsonl (what bench/results/study keeps); the runs stay finished."""
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import ARCHIVE, pack_results

    click.echo(f"{Path(root) / ARCHIVE}: {pack_results(root)} finished runs")


@cli.command()
@click.option("--root", default=DEFAULT_ROOT, show_default=True, help="folder of the runs")
@click.option("--out", "report_path", default=DEFAULT_REPORT, show_default=True)
@OVERWRITE
def report(root: str, report_path: str, overwrite: bool) -> None:
    """Rewrite the markdown report and plots from the finished runs under --root."""
    _write(root, report_path, "headpose-study report", overwrite)


def _inputs(root: str) -> list[Path]:
    """The files the report is made from (what load_results reads): never written."""
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import ARCHIVE, RESULT

    return [Path(root) / ARCHIVE, *Path(root).rglob(RESULT)]


def _write(root: str, report_path: str, command: str, overwrite: bool = False) -> None:
    # pyyaml, scipy: optional, the [train] extra (main() names it); -h needs neither
    from headpose.training.engine.study import load_results
    from headpose.training.engine.study_report import write_report

    path = write_report(
        load_results(root), report_path, command=command, overwrite=overwrite, inputs=_inputs(root)
    )
    click.echo(f"report: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; bad input ends with exit code 2 and a one-line message."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo(f"{PROG}: interrupted; run the same command again to continue", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {first_line(exc.format_message())}", err=True)
        return 2
    except (HeadPoseError, ValueError, OSError, FloatingPointError) as exc:
        message = first_line(exc)
        click.echo(f"{PROG}: error: {message}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted; run the same command again to continue", err=True)
        return 130
    except ImportError as exc:
        return missing_extra(PROG, exc, "train")
    return 0


if __name__ == "__main__":
    sys.exit(main())
