"""Contact sheet of face-profiling renders: a few training-split faces turned from -90 to 90 degrees
of yaw, each tile labelled with its exact label and self-occlusion share, plus the render time
and how well a face-mesh refit on each render recovers the turn.

    python bench/profiling_sheet.py [-o bench/results/profiling_contact_sheet.png]

Sources: ``--faces`` near-frontal (|yaw| <= 15, |pitch| <= 15) AFLW2000 crops spread over the
training part of the shipped fast model's split (never tuning or validation images), each turned
as the profiling command would (mirrored first when the target's yaw has the other sign). Tile text:
``yaw/pitch/roll`` of the label (source pose turned by delta), ``h`` the hidden share (renders
above the default limit 0.06 are framed red: the command would draw those again).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from headpose.rotation import euler_to_matrix, matrix_to_euler
from headpose.training.data.detector_boxes import best_box
from headpose.training.data.face_mesh import FaceMesh
from headpose.training.data.profile import (
    DEFAULT_SPLIT_CONFIG,
    DEFAULT_SPLIT_DATA,
    Settings,
    held_out_images,
    plan_turn,
)
from headpose.training.data.profiling import lift, recover_rotation, render, rotation_angle

FLIP = np.diag([-1.0, 1.0, 1.0])  # x -> -x: the mirror of camera coordinates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="bench/results/profiling_contact_sheet.png")
    parser.add_argument("--data", default=DEFAULT_SPLIT_DATA, help="AFLW2000 crops (labels.csv)")
    parser.add_argument("--faces", type=int, default=4)
    parser.add_argument("--tile", type=int, default=104)
    args = parser.parse_args(argv)
    from headpose.detectors import get_detector

    data = Path(args.data)
    held = held_out_images(DEFAULT_SPLIT_CONFIG, data)
    rows = []
    with open(data / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            path = (data / row["image"]).resolve()
            if str(path) in held or not (row["pitch"] and row["roll"]):
                continue
            pose = tuple(float(row[a]) for a in ("yaw", "pitch", "roll"))
            if abs(pose[0]) <= 15 and abs(pose[1]) <= 15:
                rows.append((path, pose))
    detector, mesh = get_detector("yunet"), FaceMesh()
    yaws = list(range(-90, 91, 30))
    lines, times, errors = [], [], []
    limit = Settings().max_hidden
    step = max(1, len(rows) // args.faces)  # spread over the list: different people
    chosen = rows[::step][: args.faces]
    for path, pose in chosen:
        image = cv2.imread(str(path))
        fit = mesh(image, best_box(detector, image))
        model = lift(fit.points, image.shape[:2])
        models = {False: (model, image), True: (model.mirrored(), image[:, ::-1].copy())}
        tiles = []
        for yaw in yaws:
            mirror, start_pose, delta = plan_turn(pose, (float(yaw), pose[1], pose[2]))
            m, img = models[mirror]
            start = euler_to_matrix(*start_pose)
            t0 = time.perf_counter()
            out = render(img, m, delta)
            times.append(1000.0 * (time.perf_counter() - t0))
            # refit on the render as the source faced (a mirrored render flipped back), so
            # that the points keep their meaning; the turn seen there is S delta S
            seen, guess, truth = out.image, out.face_points.copy(), delta
            if mirror:
                seen = out.image[:, ::-1].copy()
                guess[:, 0] = image.shape[1] - 1 - guess[:, 0]
                truth = FLIP @ delta @ FLIP
            refit = mesh.refit(seen, guess)
            found, _ = recover_rotation(fit.points, refit.points[:, :2])
            errors.append((yaw - start_pose[0], rotation_angle(found, truth)))
            label = matrix_to_euler(delta @ start)
            tile = cv2.resize(out.image, (args.tile, args.tile), interpolation=cv2.INTER_AREA)
            text = f"{label[0]:.0f}/{label[1]:.0f}/{label[2]:.0f} h{out.hidden:.2f}"
            cv2.putText(tile, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 3)
            cv2.putText(tile, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
            colour = (0, 0, 255) if out.hidden > limit else (255, 255, 255)
            cv2.rectangle(tile, (0, 0), (args.tile - 1, args.tile - 1), colour, 2)
            tiles.append(tile)
        lines.append(np.hstack(tiles))
    sheet = np.vstack(lines)
    out_path = Path(args.output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_path), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(
        f"wrote {out_path} ({out_path.stat().st_size // 1024} KB), {len(rows[: args.faces])} faces"
    )
    print(
        f"render: median {np.median(times):.1f} ms per render ({image.shape[1]}x{image.shape[0]})"
    )
    print("turn recovered by a mesh refit on the render (degrees of error), by |delta yaw|:")
    errs = np.array(errors)
    for lo, hi in ((0, 15), (15, 35), (35, 65), (65, 181)):
        sel = (np.abs(errs[:, 0]) >= lo) & (np.abs(errs[:, 0]) < hi)
        if sel.any():
            e = errs[sel, 1]
            print(
                f"  {lo:3d}-{hi:3d}: n={sel.sum():2d} median {np.median(e):.1f} max {e.max():.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
