"""headpose-predict on folders, videos, bad files; JSONL/CSV outputs."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from headpose.cli.predict import main


@pytest.fixture
def folder(tmp_path: Path, pose_photos: list[Path], aflw_crops: list[Path]) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    shutil.copy(pose_photos[0], root / "a.jpg")
    shutil.copy(aflw_crops[0], root / "sub" / "b.jpg")
    (root / "notes.txt").write_text("not an image, ignored in folders")
    return root


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_folder_and_video_to_jsonl(
    folder: Path, tiny_video: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "poses.jsonl"
    code = main(
        [
            str(folder),
            str(tiny_video),
            "--detector",
            "none",
            "--model",
            str(tiny_model),
            "--output",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    records = _records(out)
    images = [r for r in records if r["frame"] is None]
    frames = [r for r in records if r["frame"] is not None]
    assert sorted(Path(r["file"]).name for r in images) == [
        "a.jpg",
        "b.jpg",
    ]  # recursive, .txt skipped
    assert [r["frame"] for r in frames] == list(range(6))
    assert all(r["file"] == str(tiny_video) for r in frames)
    first = images[0]
    assert set(first) == {
        "file",
        "frame",
        "face",
        "box",
        "score",
        "yaw",
        "pitch",
        "roll",
        "uncertainty",
    }
    assert first["box"] == [0.0, 0.0, 640.0, 480.0] and first["face"] == 0  # whole image = one crop
    assert all(isinstance(r["yaw"], float) for r in records)


def test_csv_output_and_annotations(folder: Path, tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "poses.csv"
    ann = tmp_path / "ann"
    code = main(
        [
            str(folder),
            "--detector",
            "none",
            "--model",
            str(tiny_model),
            "--output",
            str(out),
            "--annotate",
            str(ann),
            "-q",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2
    assert list(rows[0]) == [
        "file",
        "frame",
        "face",
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "yaw",
        "pitch",
        "roll",
        "uncertainty",
    ]
    assert rows[0]["frame"] == "" and float(rows[0]["x2"]) == 640.0
    written = sorted(str(p.relative_to(ann)) for p in ann.rglob("*") if p.is_file())
    assert written == ["a.jpg", "sub/b.jpg"]  # the input tree, mirrored


def test_annotate_mirrors_the_tree_and_never_overwrites(
    tmp_path: Path, pose_photos: list[Path], tiny_model: Path, capsys
) -> None:
    """a/x.jpg, a/x.png and b/x.jpg used to become one ann/x.jpg, overwritten silently."""
    one, two = tmp_path / "one", tmp_path / "two"
    for rel, src in (("a/x.jpg", 0), ("a/x.png", 1), ("b/x.jpg", 2)):
        (one / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pose_photos[src], one / rel)
    (two / "a").mkdir(parents=True)
    shutil.copy(pose_photos[3], two / "a" / "x.jpg")  # same relative name as one/a/x.jpg
    ann = tmp_path / "ann"
    args = [str(one), str(two), "--detector", "none", "--model", str(tiny_model)]
    assert main([*args, "--annotate", str(ann), "--json"]) == 0
    written = sorted(str(p.relative_to(ann)) for p in ann.rglob("*") if p.is_file())
    assert written == ["a/x-2.jpg", "a/x.jpg", "a/x.png", "b/x.jpg"]
    err = capsys.readouterr().err
    assert f"{two / 'a' / 'x.jpg'} maps to {ann / 'a' / 'x.jpg'}" in err
    assert (ann / "a/x.jpg").read_bytes() != (ann / "a/x-2.jpg").read_bytes()  # two photos
    before = {p: p.read_bytes() for p in ann.rglob("*") if p.is_file()}
    assert main([*args, "--annotate", str(ann), "--json"]) == 2  # again: refused, nothing touched
    assert "4 file(s) from an earlier run would be replaced" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in ann.rglob("*") if p.is_file()} == before
    assert main([*args, "--annotate", str(ann), "--json", "--overwrite"]) == 0
    assert "4 annotated file(s) from an earlier run replaced" in capsys.readouterr().err


def test_json_on_stdout_matches_file(
    folder: Path, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "poses.jsonl"
    assert (
        main(
            [
                str(folder),
                "--detector",
                "none",
                "--model",
                str(tiny_model),
                "--json",
                "--output",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == _records(out)


def test_video_frames_with_every(tiny_video: Path, tiny_model: Path, capsys) -> None:
    assert (
        main(
            [
                str(tiny_video),
                "--detector",
                "none",
                "--model",
                str(tiny_model),
                "--json",
                "--every",
                "2",
                "-q",
            ]
        )
        == 0
    )
    frames = [json.loads(line)["frame"] for line in capsys.readouterr().out.splitlines()]
    assert frames == [0, 2, 4]


def test_corrupt_and_missing_files_are_reported_and_skipped(
    folder: Path, tiny_model: Path, tmp_path: Path
) -> None:
    bad = folder / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    bad_video = folder / "broken.avi"
    bad_video.write_bytes(b"RIFF not a video")
    (folder / "truncated.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))  # no moov
    out = tmp_path / "poses.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "headpose.cli.predict",
            str(folder),
            str(tmp_path / "missing.png"),
            "--detector",
            "none",
            "--model",
            str(tiny_model),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr and "broken.avi" in result.stderr
    assert "missing.png: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()  # one line per failure and the summary, no more
    assert all(line.startswith("headpose-predict: error: ") for line in lines[:-1]), lines
    assert "truncated.mp4" in result.stderr and lines[-1].startswith("2 image(s)")
    assert len(_records(out)) == 2  # the good images still done


def test_bad_model_exits_2(folder: Path, tmp_path: Path, capsys) -> None:
    assert main([str(folder), "--detector", "none", "--model", str(tmp_path / "nope.onnx")]) == 2
    assert "nope.onnx' does not exist" in capsys.readouterr().err


def test_bad_output_suffix_exits_2(folder: Path, tiny_model: Path, tmp_path: Path, capsys) -> None:
    assert main([str(folder), "--model", str(tiny_model), "--output", str(tmp_path / "x.txt")]) == 2
    assert ".jsonl or .csv" in capsys.readouterr().err


def test_human_output_with_detector(folder: Path, tiny_model: Path, capsys) -> None:
    from headpose import detectors

    if "yunet" not in getattr(detectors, "available", lambda: [])():
        pytest.skip("yunet detector not available")
    assert main([str(folder / "a.jpg"), "--model", str(tiny_model)]) == 0
    captured = capsys.readouterr()
    assert "a.jpg face 0: yaw" in captured.out
    assert "1 face(s), 0 failed" in captured.err


def test_progress_falls_back_to_a_counter_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from headpose.cli.predict import Progress

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    short = Progress(total=3, enabled=True)
    assert not short.enabled  # short inputs: no progress at all
    long = Progress(total=50, enabled=True)
    assert long.enabled and long._bar is None
    long.step()
    long.close()
    assert "1/50" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        ([], {}),
        (["--video", "roi=false"], {"roi": False}),
        (
            ["--video", "detect_every=2", "--video", "redetect_every=3"],
            {"detect_every": 2, "redetect_every": 3},
        ),
        (
            ["--video", "box_shift=true", "--video", "box_shift_gain=0.5"],
            {"box_shift": True, "box_shift_gain": 0.5},
        ),
    ],
)
def test_video_mode_flags_reach_the_estimator(
    flags: list[str], want: dict, tiny_video: Path, tiny_model: Path, monkeypatch, capsys
) -> None:
    from headpose.tracking import VideoOptions

    made = _spy_on_video_options(monkeypatch)
    code = main([str(tiny_video), "--model", str(tiny_model), "--json", "-q", *flags])
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip()
    assert made == [VideoOptions(**want)]


def _spy_on_video_options(monkeypatch) -> list:  # type: ignore[no-untyped-def]
    """The video options of every VideoTracker made from now on (what reaches video mode)."""
    from headpose.tracking import VideoTracker

    made: list = []
    original = VideoTracker.__init__

    def spy(self, pipeline, options, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        original(self, pipeline, options, *args, **kwargs)
        made.append(options)

    monkeypatch.setattr(VideoTracker, "__init__", spy)
    return made


def test_box_shift_zero_turns_off_the_models_recommended_box_shift(
    tiny_video: Path, monkeypatch, capsys
) -> None:
    """``--model fast`` recommends the box shift (its metadata); ``--video box_shift=false``
    keeps the detector's boxes and the rest of its recommendation."""
    made = _spy_on_video_options(monkeypatch)
    for flags in ([], ["--video", "box_shift=false"]):
        code = main([str(tiny_video), "--model", "fast", "--json", "-q", *flags])
        assert code == 0 and capsys.readouterr().out.strip()
    recommended, off = made
    assert recommended.box_shift and recommended.box_shift_gain == 0.5
    assert not off.box_shift and off.detect_every == recommended.detect_every == 4


def test_bad_video_flag_is_a_usage_error(tiny_video: Path, tiny_model: Path, capsys) -> None:
    for flag in ("--no-roi", "--detect-every", "--box-smoothing", "--box-shift"):  # never released
        assert main([str(tiny_video), "--model", str(tiny_model), flag, "1"]) == 2
        assert f"No such option '{flag}'" in capsys.readouterr().err
    assert main([str(tiny_video), "--model", str(tiny_model), "--video", "detect_every=0"]) == 2
    assert "'--video': video detect_every: expected an integer >= 1" in capsys.readouterr().err
    assert main([str(tiny_video), "--model", str(tiny_model), "--video", "speed=2"]) == 2
    assert "unknown key 'speed'" in capsys.readouterr().err


def test_shipped_model_by_name(pose_photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "fast.jsonl"
    assert main([str(pose_photos[0]), "--model", "fast", "--output", str(out), "-q"]) == 0
    (record,) = _records(out)
    assert record["file"] == str(pose_photos[0]) and abs(record["yaw"]) < 90


def test_unknown_model_name_exits_2(folder: Path, capsys) -> None:
    assert main([str(folder), "--detector", "none", "--model", "fastest"]) == 2
    err = capsys.readouterr().err
    assert "'fastest' is neither a file nor a shipped model (default, fast)" in err


def _md5s(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_annotate_into_the_input_folder_is_refused(folder: Path, tiny_model: Path, capsys) -> None:
    """--annotate photos/ over photos/ used to overwrite the original photos, and with
    --overwrite it still did (issue 40): an input is never written."""
    before = _md5s(folder)
    args = [str(folder), "--detector", "none", "--model", str(tiny_model), "-q"]
    assert main([*args, "--annotate", str(folder)]) == 2
    assert f"--annotate {folder}: holds the input {folder}" in capsys.readouterr().err
    given_file = folder / "a.jpg"  # a file given directly, in the annotate folder
    assert main([str(given_file), *args[1:], "--annotate", str(folder)]) == 2
    assert _md5s(folder) == before  # originals untouched
    for flag in ("--overwrite", "--force"):
        assert main([*args, "--annotate", str(folder), flag]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"headpose-predict: error: --annotate {folder}: holds the input")
        assert "never written, even with --overwrite" in err and "(or pass" not in err
        assert main([str(given_file), *args[1:], "--annotate", str(folder), flag]) == 2
    assert _md5s(folder) == before


def test_annotate_inside_the_input_tree_never_reads_its_outputs(
    folder: Path, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    """--annotate photos/ann used to give photos/ann/ann/... and one more image on every run."""
    ann = folder / "ann"
    out = tmp_path / "poses.jsonl"
    args = [str(folder), "--detector", "none", "--model", str(tiny_model), "-q"]
    assert main([*args, "--annotate", str(ann)]) == 2
    assert "is inside the input folder" in capsys.readouterr().err
    assert not ann.exists()
    for _ in range(3):  # --overwrite: written, and never read back as inputs
        assert main([*args, "--annotate", str(ann), "--overwrite", "-o", str(out)]) == 0
        assert len(_records(out)) == 2
    assert sorted(_md5s(ann)) == ["a.jpg", "sub/b.jpg"]


def test_output_file_is_never_replaced_silently(
    folder: Path, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    keep = tmp_path / "keep.csv"
    keep.write_text("precious\n")
    args = ["--detector", "none", "--model", str(tiny_model), "-q", "-o", str(keep)]
    assert main([str(folder), *args]) == 2
    assert f"--output {keep}: already exists; pass --overwrite" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jpg"), *args, "--overwrite"]) == 1  # every input fails
    assert keep.read_text() == "precious\n"  # nothing replaced it
    assert main([str(folder), *args, "--force"]) == 0  # the ecosystem's spelling works too
    assert len(list(csv.DictReader(keep.open()))) == 2
    assert not list(tmp_path.glob(".keep.csv.tmp-*"))  # no temporary file left


def test_no_output_file_when_every_input_fails(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.jsonl"
    args = [str(tmp_path / "missing.jpg"), "--detector", "none", "--model", str(tiny_model)]
    assert main([*args, "-q", "-o", str(out)]) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_folder_without_images_is_reported(tmp_path: Path, tiny_model: Path, capsys) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("no image here")
    assert main([str(empty), "--detector", "none", "--model", str(tiny_model)]) == 1
    err = capsys.readouterr().err
    assert f"error: {empty}: no image or video in this folder (looked for " in err


def test_threads_zero_is_accepted(folder: Path, tiny_model: Path) -> None:
    args = [str(folder), "--detector", "none", "--model", str(tiny_model), "-q", "--json"]
    assert main([*args, "--threads", "0"]) == 0
    assert main([*args, "--threads", "-1"]) == 2


def test_output_to_dev_null_is_allowed(folder: Path, tiny_model: Path) -> None:
    """`-o /dev/null` was refused as "exists" (issue 40): a device is written, not replaced."""
    if os.name != "posix":
        pytest.skip("no /dev/null")
    args = [str(folder), "--detector", "none", "--model", str(tiny_model), "-q"]
    assert main([*args, "-o", os.devnull]) == 0
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


@pytest.fixture
def truncated_clip(shared_dir: Path, tmp_path: Path) -> Path:
    """The first tenth of webcam_roll_nod.mp4's bytes (its index comes first, so the file opens
    and states 325 frames, of which about 29 can be read)."""
    data = (shared_dir / "data" / "video" / "webcam_roll_nod.mp4").read_bytes()
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(data[: len(data) // 10])
    return clip


def test_a_video_that_ends_early_is_reported(
    truncated_clip: Path, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    """A truncated clip was half-read and reported as done: "29 of 325", "0 failed", exit 0
    (issue 40)."""
    out = tmp_path / "poses.jsonl"
    args = [str(truncated_clip), "--detector", "none", "--model", str(tiny_model)]
    assert main([*args, "--every", "10", "-o", str(out)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "frame/s]" not in line]
    err = [line for line in err if line.strip()]  # without the progress bar
    match = re.fullmatch(
        rf"headpose-predict: warning: {re.escape(str(truncated_clip))}: the video ended after "
        r"(\d+) of its 325 frames \(truncated or corrupt file\); the frames after were not read",
        err[0],
    )
    assert match and 0 < int(match.group(1)) < 325, err
    assert ", 0 failed, 1 video(s) ended early (named above)" in err[-1] and len(err) == 2
    frames = [r["frame"] for r in _records(out)]  # what was read is kept
    assert frames == list(range(0, int(match.group(1)), 10))


def test_track_warns_about_a_video_that_ends_early(truncated_clip: Path, tiny_model: Path) -> None:
    from headpose.errors import IncompleteVideoWarning
    from headpose.estimator import Estimator

    class WholeFrame:  # one face: the whole frame
        def detect(self, image):
            from headpose.detectors.base import Detections

            h, w = image.shape[:2]
            return Detections(np.array([[0, 0, w, h]], np.float32), np.array([0.9], np.float32))

    est = Estimator(str(tiny_model), detector=WholeFrame())
    with pytest.warns(
        IncompleteVideoWarning, match=r"cut\.mp4: the video ended after \d+ of its 325"
    ):
        frames = sum(1 for _ in est.track(truncated_clip))
    assert 0 < frames < 325


def test_a_damaged_jpeg_is_the_tools_warning_not_libjpegs_line(
    pose_photos: list[Path], tiny_model: Path, tmp_path: Path, capfd
) -> None:
    """libjpeg's own "Corrupt JPEG data: premature end of data segment" leaked (issue 40)."""
    data = pose_photos[0].read_bytes()
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(data[: len(data) // 2] + b"\xff\xd9")  # cut, then closed
    assert main([str(damaged), "--detector", "none", "--model", str(tiny_model), "-q"]) == 0
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [
        f"headpose-predict: warning: {damaged}: Corrupt JPEG data: premature end of data "
        "segment (decoder message)"
    ]
