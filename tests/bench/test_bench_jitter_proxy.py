"""bench/jitter_proxy.py: still faces made into clips of a drifting, noisy camera."""

from __future__ import annotations

import numpy as np
import pytest
from accuracy import SHARED
from jitter_proxy import main, still_clip


def test_without_drift_noise_or_codec_every_frame_is_the_image() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    frames = still_clip(image, 4, rng, step_px=0.0, zoom=0.0, noise=0.0, quality=100)
    assert len(frames) == 4 and all(np.array_equal(f, image) for f in frames)


def test_the_camera_drifts_and_the_frames_stay_images() -> None:
    image = np.zeros((60, 60, 3), dtype=np.uint8)
    image[:, 30] = 255  # a vertical line in column 30
    frames = still_clip(image, 30, np.random.default_rng(1), step_px=1.0, zoom=0.0, noise=0.0)
    centres = [
        float((f[..., 0].mean(axis=0) * np.arange(60)).sum() / f[..., 0].mean(axis=0).sum())
        for f in frames
    ]
    assert max(centres) - min(centres) > 1.0  # the line moved by more than a pixel
    assert all(f.dtype == np.uint8 and f.shape == image.shape for f in frames)


def test_too_few_frames_is_an_error() -> None:
    with pytest.raises(SystemExit):
        main(["--models", "fast", "--frames", "2"])


def test_a_rolling_head_turns_by_the_given_angle() -> None:
    image = np.zeros((81, 81, 3), dtype=np.uint8)
    image[40, 10:71] = 255  # a horizontal line through the centre
    rng = np.random.default_rng(0)
    frames = still_clip(
        image,
        9,
        rng,
        step_px=0.0,
        zoom=0.0,
        noise=0.0,
        quality=100,
        roll_amp=30.0,
        roll_period=36.0,
    )
    assert np.array_equal(frames[0], image)  # sin(0) = 0: not turned
    ys, xs = np.nonzero(frames[8][..., 0] > 128)
    slope = np.polyfit(xs - 40, ys - 40, 1)[0]
    # frame 8 of a 36-frame period: 30 * sin(2 pi 8 / 36) = 29.5 deg counter-clockwise on screen
    assert np.degrees(np.arctan(-slope)) == pytest.approx(
        30.0 * np.sin(2 * np.pi * 8 / 36), abs=1.5
    )


def test_the_table_gives_raw_jitter_and_the_equal_lag_ratio(tmp_path) -> None:
    out = tmp_path / "proxy.md"
    images = SHARED / "data" / "aflw2000-crops" / "images"
    args = ["--models", "fast", "--images", str(images), "--limit", "2", "--frames", "6"]
    args += ["--roll", "5", "--out", str(out)]
    assert main(args) == 0
    row = next(line for line in out.read_text().splitlines() if line.startswith("| fast"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    raw = [float(v) for v in cells[1].split(" / ")]
    assert all(0 < v < 10 for v in raw) and float(cells[2]) == pytest.approx(np.mean(raw), abs=2e-3)
    assert 0 < float(cells[3].rstrip("x")) <= 1.0  # its best setting against its own default one
