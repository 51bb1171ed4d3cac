"""The registries a config selects from (methods, SSL tasks, dataset kinds, backbones), each
tested over every registered entry (as timm's tests run over ``list_models()``), and a task
registered in the test itself selected by the config and trained through the normal trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headpose.training import plugins
from headpose.training.config import ConfigError, load_config
from headpose.training.data import DataError, build_dataset
from headpose.training.data.registry import available_datasets
from headpose.training.engine.methods import build_method
from headpose.training.ssl import build_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", list(plugins.METHODS))
def test_every_method_is_selectable_and_built_from_its_spec(name: str) -> None:
    spec = plugins.METHODS[name]
    kind = "csv" if spec.needs_labels else "unlabeled"
    cfg = load_config(None, [f"method={name}", f"data.kind={kind}", "data.root=x"])
    method = build_method(cfg)
    assert method.uses_pose_loss == spec.pose_loss and method.uses_ssl_loss == spec.ssl_loss
    assert (method.task is not None) == spec.task_input
    assert (method.ssl_heads is not None) == spec.ssl_loss


@pytest.mark.parametrize("name", list(plugins.TASKS))
def test_every_task_round_trips_and_has_heads(name: str) -> None:
    grid = 1 if name == "image_rotation" else 3
    task = build_task(name, grid)
    image = torch.randint(0, 255, (3, 48, 48), dtype=torch.uint8)
    out, labels = task(image, torch.Generator().manual_seed(0))
    assert set(labels) == set(task.heads)
    for branch, (heads, classes) in task.heads.items():
        assert labels[branch].shape == (heads,) and int(labels[branch].max()) < classes
    assert torch.equal(task.invert(out, labels), image)


@pytest.mark.parametrize("name", list(plugins.TASKS))
def test_every_task_is_accepted_where_it_may_feed_the_pose_heads(name: str) -> None:
    spec = plugins.TASKS[name]
    overrides = ["method=hmtl", f"ssl.task={name}", "data.root=x"]
    if spec.keeps_pose:
        assert load_config(None, overrides).ssl.task == name
    else:
        with pytest.raises(ConfigError, match="changes the pose label"):
            load_config(None, overrides)
        # the pose heads see the clean image: allowed
        assert load_config(None, [*overrides, "ssl.input=separate"]).ssl.task == name


@pytest.mark.parametrize("kind", available_datasets())
def test_every_dataset_kind_is_a_config_choice_and_names_a_missing_root(
    kind: str, tmp_path: Path
) -> None:
    method = "sl" if kind != "unlabeled" else "ssl-pretrain"
    assert load_config(None, [f"method={method}", f"data.kind={kind}", "data.root=x"])
    with pytest.raises((DataError, OSError), match="nowhere"):
        build_dataset(kind, tmp_path / "nowhere")


@pytest.mark.parametrize("name", list(plugins.BACKBONES))
def test_every_backbone_builds_a_posenet(name: str) -> None:
    from headpose.training.models import build_model

    assert load_config(None, [f"model.backbone={name}", "data.root=x"]).model.backbone == name
    model = build_model(name, ssl_heads={"puzzle": (4, 4)}, flag_point=3).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert out["pose"].shape == (1, 3, 66) and out["ssl"]["puzzle"].shape == (1, 4, 4)


def test_unknown_names_list_the_registry() -> None:
    with pytest.raises(ConfigError, match=r"'ssl.task'.*'puzzle'.*got 'mytask'"):
        load_config(None, ["ssl.task=mytask"])
    with pytest.raises(ConfigError, match="model.backbone.*got 'resnet1'.*did you mean"):
        load_config(None, ["model.backbone=resnet1"])


class HalvesTask:
    """A task defined in this test: swap the left and right halves of the image (or not);
    the branch ``halves`` predicts which."""

    def __init__(self, grid: int) -> None:
        self.grid = grid

    @property
    def heads(self) -> dict[str, tuple[int, int]]:
        return {"halves": (1, 2)}

    def __call__(self, image: torch.Tensor, generator: torch.Generator):
        swap = int(torch.randint(0, 2, (1,), generator=generator))
        if swap:
            half = image.shape[-1] // 2
            image = torch.cat([image[..., half:], image[..., :half]], dim=-1)
        return image, {"halves": torch.tensor([swap], dtype=torch.int64)}


def test_a_task_registered_here_trains_one_step(tmp_path: Path, crops_dir: Path) -> None:
    from headpose.training.checkpoint_io import load_checkpoint
    from headpose.training.engine.trainer import train

    with pytest.raises(ConfigError, match="ssl.task"):  # not selectable before it is registered
        load_config(None, ["ssl.task=halves"])
    plugins.register_task("halves", HalvesTask)
    try:
        cfg = load_config(
            "cpu/sl_resnet18_128",
            [
                "method=hmtl",
                "ssl.task=halves",
                f"data.root={crops_dir}",
                f"runtime.out_dir={tmp_path / 'run'}",
                "model.backbone=mobilenetv3_small_100",
                "model.input_size=48",
                "optim.batch_size=4",
                "data.low_data=8",
                "runtime.max_steps=1",
                "runtime.workers=0",
                "runtime.progress=false",
                "runtime.log_every=1",
            ],
        )
        train(cfg)
    finally:
        del plugins.TASKS["halves"]
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["step"] == 1
    assert any(k.startswith("ssl.halves.") for k in state["model"])
    assert "ssl/halves" in [k.split("train/", 1)[-1] for k in state["history"][0]]
