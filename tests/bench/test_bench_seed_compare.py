"""bench/seed_compare.py: reads the seed MAE from real bench/accuracy.py tables, names bad files."""

from __future__ import annotations

from pathlib import Path

import accuracy
import pytest
import seed_compare

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
TABLE = RESULTS / "v2_long" / "accuracy_val_seed2.md"


def test_seed_mae_reads_the_headpose_rows() -> None:
    text = TABLE.read_text(encoding="utf-8")
    given = accuracy.table_mean(TABLE, "given")
    e2e = accuracy.table_mean(TABLE, "e2e")
    assert "| (a) given crops | 278 |" in text and f"**{given:.2f}**" in text
    assert f"**{e2e:.2f}**" in text and 1.0 < given < 20.0 and given != e2e


def test_a_file_without_the_row_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "notes.md"
    bad.write_text("| FSA-Net | (a) given crops | 278 | 1 | 2 | 3 | **2.00** | 1.0 |\n")
    with pytest.raises(ValueError, match="notes.md: no headpose row"):
        accuracy.table_mean(bad)
    assert seed_compare.main(["--a", str(bad), "--b", str(TABLE)]) == 2


def test_main_prints_the_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    tables = sorted((RESULTS / "v2_long").glob("accuracy_val_seed*.md"))
    assert seed_compare.main(["--a", *map(str, tables), "--b", *map(str, tables)]) == 0
    out = capsys.readouterr().out
    assert "A - B = +0.000 deg" in out and "no difference detected" in out
