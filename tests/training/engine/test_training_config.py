"""Config: YAML load with base inheritance, dotted overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from headpose.training.config import (
    ConfigError,
    config_from_dict,
    expand_path,
    list_builtin_configs,
    load_config,
)


def test_defaults_follow_the_paper() -> None:
    cfg = load_config()
    assert cfg.optim.name == "adabelief" and cfg.optim.lr == 1e-3
    assert cfg.optim.batch_size == 64 and cfg.optim.epochs == 110
    assert cfg.ssl.weight == 50.0 and cfg.loss.alpha == 2.0
    assert cfg.runtime.amp == "auto" and cfg.runtime.device == "auto"


def test_base_inheritance_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "model: {backbone: resnet18, input_size: 64}\noptim: {lr: 0.5}\n"
    )
    (tmp_path / "child.yaml").write_text("base: base.yaml\nmethod: hmtl\noptim: {batch_size: 8}\n")
    cfg = load_config(tmp_path / "child.yaml", ["optim.lr=1e-2", "model.angles=[yaw, pitch]"])
    assert cfg.name == "child"
    assert cfg.method == "hmtl" and cfg.model.backbone == "resnet18" and cfg.model.input_size == 64
    assert cfg.optim.batch_size == 8 and cfg.optim.lr == pytest.approx(0.01)
    assert cfg.model.angles == ["yaw", "pitch"]
    again = config_from_dict(cfg.to_dict())
    assert again == cfg


def test_builtin_configs_load_by_name() -> None:
    names = list_builtin_configs()
    assert "cpu/sl_resnet18_128" in names and "cpu/hmtl_puzzle3_flag3_resnet18_128" in names
    assert "cpu/ssl_pretrain_rotation_utkface" in names
    assert sum(n.startswith("paper/") for n in names) >= 15
    for name in names:
        load_config(name)  # every shipped config is valid
    hmtl = load_config("cpu/hmtl_puzzle3_flag3_resnet18_128.yaml")
    assert (hmtl.method, hmtl.ssl.task, hmtl.ssl.grid, hmtl.model.flag_point) == (
        "hmtl",
        "puzzle",
        3,
        3,
    )
    assert hmtl.model.input_size == 128  # inherited from sl_resnet18_128


def test_unknown_key_names_key_file_and_closest(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  backbon: resnet18\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "model.backbon" in msg and str(path) in msg and "model.backbone" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match=r"unknown config key 'lr'.*optim\.lr"):
        load_config(None, ["lr=0.1"])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lr=fast", "expected a number, got 'fast'"),
        ("optim.batch_size=1.5", "expected an integer, got 1.5"),
        ("runtime.tensorboard=3", "expected true/false, got 3"),
        ("model.angles=yaw", "expected a list of a string"),
    ],
)
def test_wrong_type_names_key_expected_and_got(override: str, expected: str) -> None:
    key = override.split("=")[0]
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert f"'{key}'" in str(info.value) and expected in str(info.value)


def test_bad_values_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'hmtl'"):
        load_config(None, ["method=hmlt"])
    with pytest.raises(ConfigError, match="model.flag_point"):
        load_config(None, ["model.flag_point=7"])
    bad = tmp_path / "broken.yaml"
    bad.write_text("model: {backbone: [\n")
    with pytest.raises(ConfigError, match="broken.yaml.*invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found: nope.yaml"):
        load_config("nope.yaml")


def test_expand_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(None, ["name=demo"])
    monkeypatch.delenv("HP_TEST_ROOT", raising=False)
    assert expand_path("${HP_TEST_ROOT:-../shared}/x", cfg) == "../shared/x"
    monkeypatch.setenv("HP_TEST_ROOT", "/data")
    assert expand_path("${HP_TEST_ROOT:-../shared}/x", cfg) == "/data/x"
    assert expand_path("runs/${name}", cfg) == "runs/demo"
    monkeypatch.delenv("HP_TEST_ROOT")
    with pytest.raises(ConfigError, match="HP_TEST_ROOT is not set"):
        expand_path("${HP_TEST_ROOT}/x", cfg)


def test_removed_keys_are_refused_but_old_checkpoints_configs_still_read(tmp_path: Path) -> None:
    """``semi.max_images`` is gone: a config that sets it is refused, naming it; a checkpoint
    written before holds it at 0 (off), and its config still reads back (``headpose-eval
    --checkpoint CKPT --split val``)."""
    path = tmp_path / "old.yaml"
    path.write_text("semi: {max_images: 100}\n")
    with pytest.raises(ConfigError, match="semi.max_images"):
        load_config(path)
    with pytest.raises(ConfigError, match="semi.max_images"):
        load_config(None, ["semi.max_images=0"])
    saved = load_config().to_dict()
    old = {**saved, "semi": {**saved["semi"], "max_images": 0}}
    assert config_from_dict(old) == load_config()
    assert "max_images" in old["semi"]  # the caller's dict is left as it was
    with pytest.raises(ConfigError, match="semi.max_images"):
        config_from_dict({**saved, "semi": {**saved["semi"], "max_images": 5}})
