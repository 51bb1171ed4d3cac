"""How a checkpoint runs (--weights, --flip-average, --input-zoom, --trust-checkpoint) is one set
of options made from RunOptions: headpose-eval and headpose-export show the same flags with the
same defaults and help, and the Python functions behind them take the same defaults."""

from __future__ import annotations

import dataclasses
import inspect

import click
import pytest

from headpose.export import cli as export_cli
from headpose.export.onnx_export import export_onnx
from headpose.training.checkpoint_io import TRUST_FLAG, CheckpointError, RunOptions
from headpose.training.cli import eval as eval_cli
from headpose.training.cli import train as train_cli
from headpose.training.engine.evaluate import checkpoint_predictor


def options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}


@pytest.mark.parametrize("command", [eval_cli.cli, export_cli.cli], ids=["eval", "export"])
def test_both_commands_show_one_set_of_run_options(command: click.Command) -> None:
    shown = options(command)
    for field in dataclasses.fields(RunOptions):
        option = shown[field.name]
        assert option.opts == ["--" + field.name.replace("_", "-")]
        assert option.default == field.default
        assert option.help == field.metadata["help"]
    assert TRUST_FLAG in shown["trust_checkpoint"].opts
    assert options(train_cli.cli)["trust_checkpoint"].help == shown["trust_checkpoint"].help


def test_the_python_functions_take_the_same_defaults() -> None:
    export = inspect.signature(export_onnx).parameters
    predictor = inspect.signature(checkpoint_predictor).parameters
    defaults = RunOptions()
    for name, value in dataclasses.asdict(defaults).items():
        key = "trusted" if name == "trust_checkpoint" else name
        assert export[key].default == value and predictor[key].default == value, name


def test_bad_values_are_refused_in_python_and_on_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(CheckpointError, match="weights: expected one of"):
        RunOptions(weights="best")
    with pytest.raises(ValueError, match=r"input zoom: expected a number in \(0, 1\]"):
        RunOptions(input_zoom=0.0)
    assert eval_cli.main(["--input-zoom", "0", "--model", "x.onnx"]) == 2
    assert "Invalid value for '--input-zoom'" in capsys.readouterr().err
    assert export_cli.main(["x.pt", "--weights", "best"]) == 2
    assert "Invalid value for '--weights'" in capsys.readouterr().err
