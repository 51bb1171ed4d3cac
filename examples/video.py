"""Smoothed head pose over a video (or a camera index), one line per face and frame.

python examples/video.py clip.mp4
"""

from __future__ import annotations

import sys

import cv2

from headpose import Estimator


def main(source: str) -> None:
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    est = Estimator()
    for index, faces in enumerate(est.track(capture)):
        for face in faces:
            print(index, face.track_id, f"{face.yaw:+.1f} {face.pitch:+.1f} {face.roll:+.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
