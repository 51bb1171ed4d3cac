"""data_setup.split_images: the image lists benchmarks and calibration read (train/tune/val)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headpose.training.config import ConfigError, load_config
from headpose.training.data.run_split import split_images


def _cfg(crops_dir: Path, tune: float):
    return load_config(
        "default/hmtl_lite0_128_clean",
        [f"data.root={crops_dir}", f"data.split.tune_fraction={tune}"],
    )


def test_parts_are_disjoint_and_validation_never_moves(crops_dir: Path) -> None:
    plain = {p: split_images(_cfg(crops_dir, 0.0), p) for p in ("train", "val")}
    parts = {p: split_images(_cfg(crops_dir, 0.2), p) for p in ("train", "tune", "val")}
    assert len(plain["val"][0]) == 278 and parts["val"][0] == plain["val"][0]
    names = {p: set(v[0]) for p, v in parts.items()}
    assert not (names["train"] & names["tune"]) and not (names["tune"] & names["val"])
    assert names["train"] | names["tune"] == set(plain["train"][0])  # tune comes out of train
    assert 200 < len(names["tune"]) < 240  # 20% of the 1,111 training crops, |angle| <= 99
    assert parts["tune"][1].shape == (len(names["tune"]), 3)


def test_empty_or_unknown_part_is_a_clear_error(crops_dir: Path) -> None:
    with pytest.raises(ConfigError, match="tune_fraction and tune_folds are 0"):
        split_images(_cfg(crops_dir, 0.0), "tune")
    with pytest.raises(ConfigError, match="expected one of"):
        split_images(_cfg(crops_dir, 0.0), "test")


def test_tune_folds_partition_the_training_split(crops_dir: Path) -> None:
    plain = split_images(_cfg(crops_dir, 0.0), "train")[0]
    tunes = []
    for fold in range(3):
        cfg = load_config(
            "default/hmtl_lite0_128_clean",
            [f"data.root={crops_dir}", "data.split.tune_folds=3", f"data.split.tune_fold={fold}"],
        )
        train, tune = set(split_images(cfg, "train")[0]), set(split_images(cfg, "tune")[0])
        assert not train & tune and train | tune == set(plain)
        assert split_images(cfg, "val")[0] == split_images(_cfg(crops_dir, 0.0), "val")[0]
        tunes.append(tune)
    assert set().union(*tunes) == set(plain)  # every training crop is held out once
    assert sum(len(t) for t in tunes) == len(plain)
    assert min(len(t) for t in tunes) > 0.32 * len(plain)  # three near-equal parts


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["data.split.tune_folds=1"], "tune_folds >= 2"),
        (["data.split.tune_folds=3", "data.split.tune_fold=3"], "got 3 / 3"),
        (["data.split.tune_folds=3", "data.split.tune_fraction=0.2"], "give one of them"),
    ],
)
def test_bad_tune_folds_are_named(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config("default/hmtl_lite0_128_clean", overrides)
