"""Run logs: a CSV of every logged row, optional TensorBoard, and a learning-curve PNG.

Rows are dicts: ``{"kind": "step"|"epoch", "epoch", "step", "lr", <loss parts>, <val metrics>}``.
The CSV is rewritten atomically from the full history at every row, so it always matches the
history saved in the checkpoints (a resumed run continues it without duplicates) and its columns
grow as new parts appear. Only rank 0 creates a :class:`RunLog`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from headpose.files import atomic_write

FIRST_COLUMNS = ("kind", "epoch", "step", "lr", "seconds")


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text with the union of the rows' keys (fixed columns first, then in order of appearance)."""
    columns: list[str] = [c for c in FIRST_COLUMNS if any(c in r for r in rows)]
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    return buffer.getvalue()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


class RunLog:
    """Writes ``log.csv``, ``learning_curve.png`` and (if installed) TensorBoard events."""

    def __init__(
        self, out_dir: str | Path, tensorboard: bool = True, history: Sequence[dict] = ()
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / "log.csv"
        self.png_path = self.out_dir / "learning_curve.png"
        self.rows: list[dict[str, Any]] = [dict(r) for r in history]
        self.writer = None
        if tensorboard:
            try:
                # tensorboard: optional (not in any extra), and torch's import cost
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: CSV + PNG only
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        if self.rows:
            self._write_csv()

    def log(self, row: Mapping[str, Any]) -> None:
        """Append one row and rewrite the CSV (and send the numbers to TensorBoard)."""
        self.rows.append(dict(row))
        self._write_csv()
        if self.writer is not None:
            prefix = "epoch/" if row.get("kind") == "epoch" else ""
            for key, value in row.items():
                if key not in FIRST_COLUMNS[:3] and isinstance(value, (int, float)):
                    self.writer.add_scalar(prefix + key, value, int(row.get("step", 0)))
            self.writer.flush()

    def _write_csv(self) -> None:
        atomic_write(self.csv_path, rows_to_csv(self.rows))

    def plot(self, title: str = "") -> Path:
        """Write the learning curve: train loss per step (left), validation metric per epoch (right)."""
        import matplotlib  # import cost: only the learning-curve plot needs it

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure  # after use("Agg"): no GUI backend

        steps = [r for r in self.rows if r.get("kind") == "step" and "train/loss" in r]
        epochs = [r for r in self.rows if r.get("kind") == "epoch"]
        fig = Figure(figsize=(10, 4), dpi=100)
        left, right = fig.subplots(1, 2)
        if steps:
            left.plot(
                [r["step"] for r in steps], [r["train/loss"] for r in steps], label="train loss"
            )
        if epochs and "train/loss" in epochs[0]:
            left.plot(
                [r["step"] for r in epochs],
                [r.get("train/loss") for r in epochs],
                "o-",
                label="epoch mean",
            )
        left.set_xlabel("step")
        left.set_ylabel("loss")
        left.set_yscale("log" if steps and min(r["train/loss"] for r in steps) > 0 else "linear")
        left.legend(loc="upper right")
        metric_keys = [
            k
            for k in ("val/mae_mean", "val/mae_yaw", "val/mae_pitch", "val/mae_roll", "val/loss")
            if any(k in r for r in epochs)
        ]
        for key in metric_keys:
            pts = [(r["epoch"], r[key]) for r in epochs if key in r and not _isnan(r[key])]
            if pts:
                right.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=key)
        right.set_xlabel("epoch")
        right.set_ylabel(
            "validation MAE (degrees)" if any("mae" in k for k in metric_keys) else "validation"
        )
        if metric_keys:
            right.legend(loc="upper right")
        fig.suptitle(title)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        atomic_write(self.png_path, buffer.getvalue())
        return self.png_path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
