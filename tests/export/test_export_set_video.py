"""python -m headpose.export.set_video: a copy of a model recommending other video settings, the
network and the rest of the metadata unchanged, read back by the runtime; nothing overwritten."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import onnx
import pytest

from headpose.errors import InvalidInputError
from headpose.estimator import Estimator
from headpose.export.set_video import main, set_video
from headpose.metadata import read_metadata

EXIT_BAD_INPUT = 2


def _meta(path: Path):
    return read_metadata({p.key: p.value for p in onnx.load(str(path)).metadata_props})


def test_sets_the_video_settings_and_copies_the_rest(exported, tmp_path: Path) -> None:
    source = Path(exported.path)
    out = tmp_path / "shift.onnx"
    argv = [str(source), "-o", str(out), "--video", "detect_every=4", "--video", "box_shift=true"]
    assert main(argv + ["--video", "box_shift_gain=0.5"]) == 0
    before, after = _meta(source), _meta(out)
    assert after.extra["video"] == {"detect_every": 4, "box_shift": True, "box_shift_gain": 0.5}
    assert dataclasses.replace(after, extra=before.extra) == before
    assert (
        onnx.load(str(out)).graph.SerializeToString()
        == onnx.load(str(source)).graph.SerializeToString()
    )
    video = Estimator(model=out, detector=None).video
    assert video.detect_every == 4 and video.box_shift and video.box_shift_gain == 0.5
    # the settings given are the whole entry: none given, none recommended
    bare = tmp_path / "bare.onnx"
    set_video(out, bare, {})
    assert "video" not in _meta(bare).extra
    assert Estimator(model=bare, detector=None).video.detect_every == 1


def test_refuses_bad_settings_and_existing_files(exported, tmp_path: Path, capsys) -> None:
    source = Path(exported.path)
    out = tmp_path / "new.onnx"
    assert main([str(source), "-o", str(out), "--video", "box_shift_gain=2"]) == EXIT_BAD_INPUT
    assert "box_shift_gain: expected a number in (0, 1], got 2.0" in capsys.readouterr().err
    assert main([str(source), "-o", str(out), "--video", "fps=3"]) == EXIT_BAD_INPUT
    assert "--video: unknown key 'fps'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(InvalidInputError, match="is an input of this run"):
        set_video(source, source, {"detect_every": 2})
    set_video(source, out, {"detect_every": 2})
    assert main([str(source), "-o", str(out), "--video", "detect_every=3"]) == EXIT_BAD_INPUT
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert _meta(out).extra["video"] == {"detect_every": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.onnx"]
