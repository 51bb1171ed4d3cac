"""headpose-webcam: live head pose from a camera (or a video file) with axes, angles and FPS.

headpose-webcam                     # camera 0, window; q or Esc quits
headpose-webcam --headless --frames 100   # no window: prints the FPS
headpose-webcam --source clip.avi   # a video file instead of a camera
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import click
import cv2

from headpose.cli.options import (
    COUNT,
    command,
    print_problem,
    runtime_options,
    usage_error,
    video_options,
    video_settings,
)
from headpose.cli.options import run as run_command
from headpose.draw import draw, draw_fps
from headpose.errors import HeadPoseError
from headpose.estimator import Estimator
from headpose.tracking import quiet_video_logs

PROG = "headpose-webcam"

WINDOW = "headpose (q to quit)"
NO_GUI_HELP = (
    "this OpenCV build has no GUI support (opencv-python-headless cannot open windows): run "
    "with --headless, or install the GUI build (the two provide the same cv2 module, so never "
    "both): pip uninstall -y opencv-python-headless opencv-contrib-python-headless && "
    "pip install opencv-python"
)


NO_DISPLAY_HELP = (
    "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): run with "
    "--headless (no window; prints the FPS), or from a desktop session (ssh -X for a remote one)"
)


def display_problem() -> str | None:
    """Why no window can open here, found before OpenCV's GUI is touched (its Qt backend aborts
    the whole process, exit 134, when it has no display), or ``None``. Only Linux and other X11
    / Wayland systems need a display variable; ``QT_QPA_PLATFORM`` set (e.g. ``offscreen``)
    is taken as the user's choice."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY_HELP


def gui_available() -> bool:
    """True if this OpenCV can open a window here (call after :func:`display_problem`)."""
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return False
    return True


def open_source(source: str | None, camera: int) -> Any:
    """A ``cv2.VideoCapture`` on the video file or camera; :class:`RuntimeError` if it cannot
    be opened."""
    with quiet_video_logs():
        cap = cv2.VideoCapture(source if source is not None else camera)
    if not cap.isOpened():
        cap.release()
        what = f"video file {source}" if source is not None else f"camera {camera}"
        hint = "" if source is not None else " (is it connected and free? try --camera 1)"
        raise RuntimeError(f"cannot open {what}{hint}")
    return cap


def run(
    capture: Any,
    estimator: Any,
    frames: int | None = None,
    show: Callable[[Any], bool] | None = None,
    smoothing: bool | None = None,
    cube: bool = False,
) -> tuple[int, float]:
    """Process frames from ``capture`` (anything with ``read() -> (ok, frame)``) until it ends,
    ``frames`` frames are done, or ``show(annotated_frame)`` returns False.

    ``smoothing``: ``None`` as the Estimator says, else on/off. Returns ``(frames processed,
    mean FPS of pose estimation incl. detection and drawing)``.
    """
    stream = estimator.video_tracker(smooth=smoothing)  # video mode: ROI search, identities
    count = 0
    busy = 0.0
    shown_fps = 0.0
    try:
        while frames is None or count < frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            t0 = time.perf_counter()
            faces = stream.process(frame, t=t0)
            annotated = draw(frame, faces, axes=not cube, cube=cube) if show is not None else None
            dt = max(time.perf_counter() - t0, 1e-6)
            busy += dt
            count += 1
            shown_fps = 1.0 / dt if shown_fps == 0 else 0.9 * shown_fps + 0.1 / dt
            if (
                show is not None
                and annotated is not None
                and not show(draw_fps(annotated, shown_fps))
            ):
                break
    except KeyboardInterrupt:  # Ctrl+C ends the run like q does
        pass
    return count, (count / busy if busy > 0 else 0.0)


_SIZED_WINDOWS: set[str] = set()
MAX_WINDOW = (1280, 800)  # width, height in pixels


def _show_window(frame: Any) -> bool:
    if WINDOW not in _SIZED_WINDOWS:  # open at the frame's size (Qt's default is 400x300)
        h, w = frame.shape[:2]
        scale = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
        cv2.resizeWindow(WINDOW, round(w * scale), round(h * scale))
        _SIZED_WINDOWS.add(WINDOW)
    cv2.imshow(WINDOW, frame)
    key = cv2.waitKey(1) & 0xFF
    return key not in (ord("q"), ord("Q"), 27)


@command(PROG)
@click.option(
    "--camera", type=click.IntRange(min=0), default=0, show_default=True, help="camera index"
)
@click.option("--source", help="a video file (or stream URL) to read instead of the camera")
@runtime_options("face detector", allow_no_detector=False)
@click.option("--headless", is_flag=True, help="no window; print the FPS at the end")
@click.option("--frames", type=COUNT, help="stop after N frames (default: until q / the end)")
@click.option("--cube", is_flag=True, help="draw a 3D cube instead of the axes")
@click.option("--no-smoothing", is_flag=True, help="raw angles, no angle filter")
@click.option(
    "--smoothing",
    type=click.FloatRange(min=0.0, min_open=True),
    metavar="STRENGTH",
    help="angle smoothing relative to the default: 2 = twice as smooth (more lag), 0.5 = half",
)
@video_options
def cli(**options: Any) -> int:
    """Live head pose from a camera or a video file (q or Esc quits the window)."""
    args = SimpleNamespace(**options)
    if args.no_smoothing and args.smoothing is not None:
        raise click.UsageError("--smoothing and --no-smoothing: give one of them")
    video = video_settings(args)
    if not args.headless:
        problem = display_problem() or (None if gui_available() else NO_GUI_HELP)
        if problem is not None:
            return usage_error(PROG, problem)
    try:
        est = Estimator(
            None if args.model is None else str(args.model),
            detector=args.detector,
            providers=args.providers,
            threads=args.threads,
            smoothing=not args.no_smoothing if args.smoothing is None else args.smoothing,
        )
        est.video = est.video.merged(video)
        capture = open_source(args.source, args.camera)
    except (HeadPoseError, RuntimeError) as exc:
        return usage_error(PROG, str(exc))
    try:
        count, fps = run(
            capture,
            est,
            frames=args.frames,
            show=None if args.headless else _show_window,
            cube=args.cube,
        )
    finally:
        capture.release()
        if not args.headless:
            cv2.destroyAllWindows()
    if count == 0:
        print_problem(PROG, "no frame could be read from the source")
        return 1
    print(f"{count} frames, {fps:.1f} FPS")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    return run_command(cli, argv, PROG)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
