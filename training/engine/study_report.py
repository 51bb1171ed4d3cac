"""The study's report: per claim a table of arms (test MAE, run time), the paired comparisons
with three 95% intervals and verdicts next to the paper's numbers, and a PNG (per-run box plot +
mean learning curves)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headpose.files import AtomicFile, atomic_write, check_output
from headpose.training.config import load_config
from headpose.training.engine.study import run_seconds, scores_by_arm
from headpose.training.engine.study_claims import ARMS, CLAIMS, SCALES, Claim, Comparison, Scale
from headpose.training.engine.study_stats import (
    Interval,
    agreed_verdict,
    clustered_interval,
    corrected_interval,
    mean_std,
    paired_differences,
    t_interval,
)

VERDICT_RULE = (
    "Verdict rule: a comparison is the paired difference of test MAE (degrees, the held-out fold, "
    "at the epoch picked on the tuning split) over every (fold, seed) pair, with three 95% "
    "intervals: the paired t-interval (the pairs taken as independent, which they are not), the "
    "seed-clustered one (the t-interval over the per-seed means: the seeds share one partition "
    "into folds and a pre-training is shared by the folds of its seed) and the Nadeau-Bengio "
    "corrected resampled t-interval (the variance times 1/n + n_test/n_train, the ratio of the "
    "compared arm with the fewest training images: the folds' training sets overlap). A verdict "
    "needs all three to give it, else *inconclusive*. *reproduced*: the whole interval has the paper's sign; *inconclusive*: it contains 0 (or "
    "fewer than 2 pairs or seeds); when the whole interval has the other sign: *refuted* only "
    "where the paper's own setting was met (ResNet-50 at 224 px, 122k 300W-LP images, 110 "
    "epochs), and *not reproduced at this scale* (the scale named) otherwise: a method that "
    "fails at a small scale has not been shown wrong at the paper's. No claim here meets the "
    "paper's setting. Comparisons the paper did not make (this project's variants, e.g. "
    "separate-input HMTL, its same-compute control, SL seeing each label twice, and "
    "diagnostics) read *differs* / *no difference detected*, with the mean's sign. A method's "
    "gain over SL also names its twin at equal compute (the same method against SL seeing each "
    "label twice an epoch): whether the gain holds there."
)


def scaled_verdict(verdict: str, scale: Scale, name_scale: bool = True) -> str:
    """``verdict`` as the report words it at ``scale``: *refuted* becomes *not reproduced at this
    scale (summary)* unless the scale meets the paper's own setting (``name_scale`` False: without
    the summary, for a sentence that names the scale once)."""
    if verdict == "refuted" and not scale.paper_setting:
        return "not reproduced at this scale" + (f" ({scale.summary})" if name_scale else "")
    return verdict


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


_RUN_KEYS = (
    "data.split.folds=",
    "data.split.fold=",
    "runtime.seed=",
    "runtime.out_dir=",
    "name=",
    "model.init=",
)


def extra_overrides(claim: Claim, results: Sequence[dict[str, Any]]) -> list[str]:
    """The overrides of ``claim``'s finished arm runs that neither their arm nor the study's
    per-run keys (fold, seed, folder, name, initial weights) set: ``--set`` values, which change
    the scale the report names."""
    extra: set[str] = set()
    for r in results:
        arm = ARMS.get(r.get("arm", ""))
        if r.get("pretrain") or arm is None or r["arm"] not in claim.arms:
            continue
        own = {o.replace("{fold}", str(r.get("fold"))) for o in arm.overrides}
        extra.update(
            o for o in r.get("overrides", ()) if o not in own and not o.startswith(_RUN_KEYS)
        )
    return sorted(extra)


def holdout_ratio(arm: str) -> float:
    """``n_test / n_train`` of one run of ``arm`` (the Nadeau-Bengio correction): the held-out
    fold is 1/k of the data; training keeps ``(1 - 1/k) (1 - tune_fraction) train_fraction``
    of it (distinct images: a repeat or added synthesized rows do not change it). A comparison
    uses the largest ratio of its arms (the smallest training set: the widest interval)."""
    cfg = load_config(SCALES[ARMS[arm].scale].base, ARMS[arm].overrides)
    k, split = cfg.data.split.folds, cfg.data.split
    train = (1.0 - 1.0 / k) * (1.0 - split.tune_fraction) * cfg.data.train_fraction
    return (1.0 / k) / train


@dataclass(frozen=True)
class Compared:
    """One comparison's paired differences, its three intervals and their agreed verdict."""

    comparison: Comparison
    paired: Interval
    clustered: Interval
    corrected: Interval
    verdict: str  # the raw verdict (refuted not yet worded by the scale), or "not run"


def compare(comparison: Comparison, scores: dict[str, Any]) -> Compared:
    """The three intervals of ``comparison`` from ``scores`` and the verdict they agree on."""
    diffs = paired_differences(scores, comparison.plus, comparison.minus)
    values = list(diffs.values())
    ratio = max(holdout_ratio(a) for a in (*comparison.plus, *comparison.minus))
    paired, clustered = t_interval(values), clustered_interval(diffs)
    corrected = corrected_interval(values, ratio)
    raw = agreed_verdict([paired, clustered, corrected], comparison.expect) if values else "not run"
    return Compared(comparison, paired, clustered, corrected, raw)


def _ci(i: Interval) -> str:
    return f"[{_fmt(i.low, 3)}, {_fmt(i.high, 3)}]"


def _better(c: Compared) -> int:
    """+1: the minus side has the lower MAE (the method beats the baseline), -1: the plus side,
    0: no verdict either way."""
    if c.verdict in ("reproduced", "refuted", "differs"):
        return 1 if c.paired.mean > 0 else -1
    return 0


def _worded(c: Compared, scale: Scale) -> str:
    """The verdict of ``c`` in a sentence: scaled, and with the mean's sign where the paper made
    no claim."""
    word = scaled_verdict(c.verdict, scale, name_scale=False)
    if c.verdict == "not run":
        return "not run"
    return f"{word} (mean {c.paired.mean:+.2f})" if c.comparison.expect == 0 else word


def _at_equal_compute(gain: Compared, twin: Compared, scale: Scale) -> str:
    """Whether ``gain`` (SL - method) holds against SL seeing each label twice (``twin``: that
    control - the method)."""
    if twin.verdict == "not run":
        return "not tested at equal compute (SL seeing each label twice not run)"
    head = f"against SL seeing each label twice (same compute): {_worded(twin, scale)}"
    if _better(gain) <= 0:
        return head
    if _better(twin) > 0:
        return f"{head}, so the gain holds at equal compute"
    if _better(twin) < 0:
        return f"{head}, so the gain does not hold at equal compute"
    return f"{head}, so the gain is not shown at equal compute"


def compared(claim: Claim, scores: dict[str, dict[tuple[int, int], float]]) -> bool:
    """Whether any comparison of ``claim`` has a finished pair (an arm shared with another
    claim, e.g. ``lite0_sl``, does not make a claim run)."""
    return any(paired_differences(scores, c.plus, c.minus) for c in claim.comparisons)


def claim_section(claim: Claim, results: Sequence[dict[str, Any]], plot: str | None) -> str:
    """The markdown section of ``claim`` from the finished ``results``."""
    scores = scores_by_arm(results)
    scale = SCALES[claim.scale]
    lines = [
        f"## {claim.key}: {claim.title}",
        "",
        f"Scale: {scale.summary} (`{scale.base}`).",
        "",
    ]
    extra = extra_overrides(claim, results)
    if extra:
        lines += [
            "These runs also used `--set` "
            + ", ".join(f"`{o}`" for o in extra)
            + ": the scale above is their base config's, not theirs.",
            "",
        ]
    if claim.notes:
        lines += [claim.notes, ""]
    ran = compared(claim, scores)
    retired = [a for a in claim.arms if ARMS[a].retired]
    if not ran and retired:  # it cannot be run any more: say so instead of how to run it
        lines += [
            f"No finished runs; arm `{retired[0]}` is retired: {ARMS[retired[0]].retired}.",
            "",
        ]
    elif not ran:
        lines += [
            f"Not run yet: `headpose-study run {claim.key}` (then this section is regenerated).",
            "",
        ]
    lines += [
        "| arm | setting | runs | test MAE (deg), mean +- std | run time (s), mean "
        "| best epoch = last |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for arm in claim.arms:
        mean, sd, n = mean_std(list(scores.get(arm, {}).values()))
        seconds = _arm_seconds(results, arm)
        lines.append(
            f"| `{arm}` | {ARMS[arm].description} | {n} | {_fmt(mean)} +- {_fmt(sd)} "
            f"| {_fmt(seconds, 0)} | {_last_best(results, arm)} |"
        )
    lines += [
        "",
        "| comparison (MAE difference) | pairs | mean | paired t 95% CI | seed-clustered 95% CI "
        "| corrected 95% CI | verdict | the paper |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    done = {c.label: compare(c, scores) for c in claim.comparisons}
    twins = {c.equal_compute for c in claim.comparisons if c.equal_compute}
    sentences = []
    for c in claim.comparisons:
        r = done[c.label]
        v = scaled_verdict(r.verdict, scale)
        lines.append(
            f"| {c.label} | {r.paired.n} | {_fmt(r.paired.mean, 3)} | {_ci(r.paired)} "
            f"| {_ci(r.clustered)} | {_ci(r.corrected)} | **{v}** | {c.paper} |"
        )
        if c.label in twins:
            continue  # said with the gain it is the twin of
        sentence = f"{c.label}: {_worded(r, scale)}"
        if c.equal_compute:
            sentence += "; " + _at_equal_compute(r, done[c.equal_compute], scale)
        sentences.append(sentence)
    variants = sorted({ARMS[a].variant for a in claim.arms if ARMS[a].variant})
    if ran:
        lines += ["", f"Verdict ({scale.summary}): " + "; ".join(sentences) + "."]
        if variants:
            lines += [
                "",
                "Not the paper's arms (their comparisons make no paper claim): "
                + "; ".join(variants)
                + ".",
            ]
    lines.append("")
    if plot:
        lines += [f"![{claim.key}]({plot})", ""]
    return "\n".join(lines)


def _last_best(results: Sequence[dict[str, Any]], arm: str) -> str:
    """``k of n``: how many of ``arm``'s finished runs picked their last epoch (on the tuning
    split), i.e. were still improving when they stopped."""
    runs = [r for r in results if r.get("arm") == arm and not r.get("pretrain")]
    known = [r for r in runs if r.get("best_epoch") is not None and r.get("epochs")]
    last = sum(r["best_epoch"] == r["epochs"] for r in known)
    return f"{last} of {len(known)}" if known else "n/a"


def _arm_seconds(results: Sequence[dict[str, Any]], arm: str) -> float:
    """Mean run time of ``arm``'s finished runs whose time is known (:func:`run_seconds`)."""
    known = [run_seconds(r) for r in results if r.get("arm") == arm and not r.get("pretrain")]
    values = [v for v in known if v is not None]
    return sum(values) / len(values) if values else math.nan


def plot_claim(claim: Claim, results: Sequence[dict[str, Any]], path: str | Path) -> bool:
    """Box plot of per-run test MAE per arm and mean test-MAE learning curves; False if no
    comparison of the claim has data."""
    scores = scores_by_arm(results)
    if not compared(claim, scores):
        return False
    arms = [a for a in claim.arms if scores.get(a)]
    import matplotlib  # import cost: only the plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg"): no GUI backend

    fig, (box, curve) = plt.subplots(1, 2, figsize=(11, 4))
    data = [[v for v in scores[a].values() if math.isfinite(v)] for a in arms]
    box.boxplot(data, showmeans=True)
    box.set_xticks(range(1, len(arms) + 1), arms, rotation=30, ha="right")
    box.set_ylabel("test MAE (deg), per fold and seed")
    box.set_title(f"{claim.key}: test MAE at the tuned epoch")
    for arm in arms:
        curves = [
            r["curve"]
            for r in results
            if r.get("arm") == arm and not r.get("pretrain") and r.get("curve")
        ]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        values = np.array([[row[2] for row in c[:length]] for c in curves], dtype=np.float64)
        curve.plot(range(1, length + 1), np.nanmean(values, axis=0), marker="o", label=arm)
    curve.set_xlabel("epoch")
    curve.set_ylabel("test MAE (deg), mean over runs")
    curve.set_title("learning curves")
    if curve.get_legend_handles_labels()[0]:
        curve.legend(fontsize=8)
    fig.tight_layout()
    with AtomicFile(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return True


TITLE = "# Does self-supervision help? The paper's claims, re-tested at small scale"


def is_report(path: str | Path) -> bool:
    """True when ``path`` is a report :func:`write_report` wrote (its first line is the title),
    which a later run rewrites without ``--overwrite``."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == TITLE
    except (OSError, UnicodeDecodeError):
        return False


def check_report(
    out: str | Path,
    claims: Sequence[str] | None = None,
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Check that :func:`write_report` may write ``out`` and its plots (see there)."""
    out = Path(out)
    replace = overwrite or is_report(out)
    check_output(out, replace, inputs, "report ")
    for key in list(claims) if claims else list(CLAIMS):
        check_output(out.with_name(f"{out.stem}_{key}.png"), replace, inputs, "report plot ")
    return out


def write_report(
    results: Sequence[dict[str, Any]],
    out: str | Path,
    claims: Sequence[str] | None = None,
    command: str = "headpose-study report",
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write the markdown report (and one ``<stem>_<claim>.png`` per claim with data) to ``out``.

    By :func:`headpose.files.check_output`: an input (``inputs``) is never written; an existing
    file is replaced when it is an earlier report (:func:`is_report`, with its plots) or with
    ``overwrite``; anything else is refused before anything is written."""
    out = check_report(out, claims, overwrite, inputs)
    keys = list(claims) if claims else list(CLAIMS)
    parts = [
        TITLE,
        "",
        f"Generated by `{command}` from the finished runs (do not edit by hand). Every run starts "
        "from its claim's scale: "
        + "; ".join(f"`{s.base}` ({s.summary})" for s in SCALES.values())
        + " (training/configs/paper/), and differs only by its arm's overrides "
        "(training/engine/study_claims.py); arms are paired by fold and seed.",
        "",
        VERDICT_RULE,
        "",
    ]
    for key in keys:
        claim = CLAIMS[key]
        png = out.with_name(f"{out.stem}_{key}.png")
        plotted = plot_claim(claim, results, png)
        parts.append(claim_section(claim, results, png.name if plotted else None))
    atomic_write(out, "\n".join(parts).rstrip() + "\n")
    return out
