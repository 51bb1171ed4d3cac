"""Bad checkpoints give one clear error naming the file and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headpose.errors import InvalidModelError
from headpose.export.checkpoint import load_checkpoint, metadata_from_checkpoint
from headpose.export.errors import CheckpointError
from headpose.export.onnx_export import export_onnx


def _variant(src: Path, dst: Path, **changes) -> Path:
    ckpt = torch.load(src, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del ckpt[key]
        else:
            ckpt[key] = value
    torch.save(ckpt, dst)
    return dst


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*nope\.pt"):
        export_onnx(tmp_path / "nope.pt", tmp_path / "m.onnx")
    assert issubclass(CheckpointError, InvalidModelError)


def test_truncated_and_garbage_files(tiny_checkpoint: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny_checkpoint.read_bytes()[:50_000])
    with pytest.raises(CheckpointError, match=r"cut\.pt: not a readable torch checkpoint"):
        load_checkpoint(cut)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"text\.pt: not a readable torch checkpoint"):
        load_checkpoint(text)


def test_not_a_headpose_checkpoint_names_missing_keys(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare.pt"
    torch.save(torch.load(tiny_checkpoint, weights_only=True)["model"], bare)  # a state dict
    with pytest.raises(CheckpointError, match=r"missing key\(s\) \['format', 'format_version'"):
        load_checkpoint(bare)
    no_meta = _variant(tiny_checkpoint, tmp_path / "nometa.pt", metadata=None)
    with pytest.raises(CheckpointError, match=r"missing key\(s\) \['metadata'\]"):
        load_checkpoint(no_meta)
    other = _variant(tiny_checkpoint, tmp_path / "other.pt", format="something-else")
    with pytest.raises(CheckpointError, match="format is 'something-else'"):
        load_checkpoint(other)
    future = _variant(tiny_checkpoint, tmp_path / "v9.pt", format_version=9)
    with pytest.raises(CheckpointError, match="format_version 9 is not supported"):
        load_checkpoint(future)
    a_list = tmp_path / "list.pt"
    torch.save([1, 2], a_list)
    with pytest.raises(CheckpointError, match="got list"):
        load_checkpoint(a_list)


def test_pickled_objects_refused_unless_trusted(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["history"] = [Path("x")]  # an arbitrary class: needs full unpickling
    odd = tmp_path / "odd.pt"
    torch.save(ckpt, odd)
    with pytest.raises(CheckpointError, match="trust-checkpoint"):
        load_checkpoint(odd)
    with pytest.warns(UserWarning, match="full unpickling"):
        assert load_checkpoint(odd, trusted=True)["history"] == [Path("x")]


def test_model_config_that_does_not_build(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    bad = _variant(
        tiny_checkpoint,
        tmp_path / "badcfg.pt",
        model_config={**ckpt["model_config"], "backbone": "no_such_net"},
    )
    with pytest.raises(
        CheckpointError, match=r"badcfg\.pt: model_config does not build.*no_such_net"
    ):
        export_onnx(bad, tmp_path / "m.onnx")
    typo = _variant(
        tiny_checkpoint, tmp_path / "typo.pt", model_config={**ckpt["model_config"], "bins": 3}
    )
    with pytest.raises(CheckpointError, match="model_config does not build.*bins"):
        export_onnx(typo, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_weights_that_do_not_fit(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    state = dict(ckpt["model"])
    state.pop(next(k for k in state if k.startswith("pose_head.")))
    missing = _variant(tiny_checkpoint, tmp_path / "missing.pt", model=state)
    with pytest.raises(CheckpointError, match=r"weights do not fit model_config: 1 missing"):
        export_onnx(missing, tmp_path / "m.onnx")
    other = _variant(
        tiny_checkpoint,
        tmp_path / "bins.pt",
        model_config={**ckpt["model_config"], "bin_count": 60, "bin_low": -90.0},
        metadata={**ckpt["metadata"], "bins": {"width": 3.0, "count": 60, "low": -90.0}},
    )
    with pytest.raises(CheckpointError, match="weights do not fit model_config.*size mismatch"):
        export_onnx(other, tmp_path / "m.onnx")


def test_metadata_checked_against_model_config(tiny_checkpoint: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    wrong_bins = {**ckpt, "metadata": {**ckpt["metadata"], "bins": {"width": 1.0, "count": 198}}}
    with pytest.raises(CheckpointError, match="metadata bins .* differ from the model_config"):
        metadata_from_checkpoint(wrong_bins, "ck")
    wrong_angles = {**ckpt, "metadata": {**ckpt["metadata"], "angles": ["yaw", "pitch"]}}
    with pytest.raises(CheckpointError, match="metadata angles"):
        metadata_from_checkpoint(wrong_angles, "ck")
    bad_value = {**ckpt, "metadata": {**ckpt["metadata"], "std": [0.2, 0.0, 0.2]}}
    with pytest.raises(InvalidModelError, match="std"):
        metadata_from_checkpoint(bad_value, "ck")
    # defaults and extras: a bare metadata dict still gives complete metadata
    meta = metadata_from_checkpoint({**ckpt, "metadata": {"input_size": 64, "notes": "x"}}, "ck")
    assert meta.input_size == (64, 64) and meta.bins.count == 66 and meta.extra == {"notes": "x"}
