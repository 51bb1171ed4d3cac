"""Head pose of every face in an image, printed and drawn.

python examples/quickstart.py ../shared/data/pose-photos/pose_left_0.jpg out.jpg
"""

from __future__ import annotations

import sys

import cv2

from headpose import Estimator
from headpose.draw import draw


def main(path: str, out: str | None = None) -> None:
    est = Estimator()
    image = cv2.imread(path)
    faces = est.predict(image)
    for face in faces:
        print(
            f"box={[round(v) for v in face.box]} yaw={face.yaw:+.1f} pitch={face.pitch:+.1f} "
            f"roll={face.roll:+.1f} (±{face.uncertainty:.1f} deg)"
        )
    if out:
        cv2.imwrite(out, draw(image, faces, cube=True))


if __name__ == "__main__":
    main(*sys.argv[1:3])
