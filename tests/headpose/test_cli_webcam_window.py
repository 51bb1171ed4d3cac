"""headpose-webcam as a person sees it: a real OpenCV window on an X server (Xvfb), showing the
video with the face box, pose axes and angles drawn. Skips, saying why, where Xvfb, ``xwd`` or
OpenCV's GUI build is missing (.ci/run installs the Debian packages ``xvfb`` and ``x11-apps``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from headpose.draw import BOX_COLOUR, GREEN, RED

FRAMES = 90  # about 3 s of the clip: many screenshots even on a loaded machine


def _gui_build() -> bool:
    return "GUI:                           NONE" not in cv2.getBuildInformation()


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb server (1280x800, 24 bit); yields its DISPLAY."""
    if shutil.which("Xvfb") is None or shutil.which("xwd") is None:
        pytest.skip("Xvfb or xwd not installed (Debian: apt-get install xvfb x11-apps)")
    if not _gui_build():
        pytest.skip("this OpenCV is a headless build (opencv-python-headless): no windows")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def screenshot(display: str) -> np.ndarray:
    """The whole X screen as BGR uint8, read from ``xwd -root`` (ZPixmap, 24 or 32 bits per
    pixel; the header is 25 big-endian 32-bit fields, then the window name and colour map)."""
    raw = subprocess.run(
        ["xwd", "-root", "-silent", "-display", display], capture_output=True, check=True
    ).stdout
    header = np.frombuffer(raw[:100], ">u4")
    header_size, width, height = int(header[0]), int(header[4]), int(header[5])
    bits_per_pixel, bytes_per_line, ncolors = int(header[11]), int(header[12]), int(header[19])
    assert bits_per_pixel in (24, 32), f"xwd: {bits_per_pixel} bits per pixel"
    step = bits_per_pixel // 8
    start = header_size + 12 * ncolors
    pixels = np.frombuffer(raw[start : start + bytes_per_line * height], np.uint8)
    pixels = pixels.reshape(height, bytes_per_line)[:, : width * step].reshape(height, width, step)
    if int(header[7]) == 1:  # MSB first: (X)RGB
        return np.ascontiguousarray(pixels[:, :, [step - 1, step - 2, step - 3]])
    return np.ascontiguousarray(pixels[:, :, :3])  # LSB first: BGR(X)


def colour_pixels(image: np.ndarray, colour: tuple[int, int, int], tol: int = 60) -> int:
    """How many pixels are within ``tol`` (per channel) of the BGR ``colour``."""
    diff = np.abs(image.astype(np.int16) - np.array(colour, np.int16)).max(axis=2)
    return int((diff <= tol).sum())


def annotated(image: np.ndarray) -> bool:
    """The drawn face box (yellow), red and green pose axes are all visible."""
    return (
        colour_pixels(image, BOX_COLOUR) >= 40
        and colour_pixels(image, RED) >= 8
        and colour_pixels(image, GREEN) >= 8
    )


def test_webcam_window_shows_the_annotated_face(
    display: str, shared_dir: Path, tmp_path: Path
) -> None:
    video = shared_dir / "data" / "video" / "webcam_roll_nod.mp4"
    exe = Path(sys.executable).with_name("headpose-webcam")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "headpose.cli.webcam"]
    env = {**os.environ, "DISPLAY": display, "OMP_NUM_THREADS": "1"}
    raw = cv2.VideoCapture(str(video)).read()[1]
    assert raw is not None
    # the raw video has (almost) none of the annotation colours: they come from the drawing
    assert not annotated(raw)
    proc = subprocess.Popen(
        [*cmd, "--source", str(video), "--frames", str(FRAMES)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shot = last = None
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            last = screenshot(display)
            seen += 1
            if annotated(last):
                shot = last
                break
            time.sleep(0.2)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.startswith(f"{FRAMES} frames,"), out
    if shot is None and last is not None:
        cv2.imwrite(str(tmp_path / "last_screenshot.png"), last)
    counts = None if last is None else [colour_pixels(last, c) for c in (BOX_COLOUR, RED, GREEN)]
    assert shot is not None, (
        f"none of {seen} screenshots showed the face box and pose axes; last one: box/red/green "
        f"pixels {counts}, saved in {tmp_path}"
    )
    cv2.imwrite(str(tmp_path / "webcam_window.png"), shot)
    keep = os.environ.get("HEADPOSE_SCREENSHOT")
    if keep:
        cv2.imwrite(keep, shot)
    # a real window with the video in it: varied pixel content, not a blank screen
    ys, xs = np.nonzero(shot.max(axis=2) > 0)
    window = shot[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert window.shape[0] >= 100 and window.shape[1] >= 100
    assert float(window.std()) > 30.0
