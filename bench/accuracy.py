"""Side-by-side accuracy and speed: the shipped headpose model vs FSA-Net, on the same images.

    python bench/accuracy.py --config default/hmtl_lite0_128 [--model M.onnx] [--out FILE.md]

Images: the validation split of ``--config`` (the images its training never saw; ``--split tune``:
its tuning split, for choices that must not look at validation), read from the
original AFLW2000 crops in ``../shared``. Each method is measured

* (a) on the given crops: the whole loose crop is the model input, resized;
* (b) end to end: the runtime's default detector finds the face in the crop, then each method
  crops that box with its own input recipe. Images where the detector finds no face are left out
  of (b) for every method alike (the count is printed).

Speed: ms per face for the pose network alone (batch 1, onnxruntime, preprocessing included),
timed in the same run for every method. FSA-Net (``../shared/peers``, MIT) is the average of its
two published ONNX models, input: BGR 64x64, ``(x - 127.5) / 128``. Peers live only in bench/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from headpose.detectors import DEFAULT_DETECTOR, get_detector
from headpose.metadata import CropRule
from headpose.pose_model import PoseModel
from headpose.preprocess import crop_face
from headpose.runtime import import_onnxruntime
from headpose.training.config import load_config
from headpose.training.data.detector_boxes import best_box
from headpose.training.data.run_split import split_images
from headpose.training.engine.metrics import mae_per_angle

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEADPOSE_SHARED", REPO.parent / "shared"))
ANGLES = ("yaw", "pitch", "roll")
Predict = Callable[[np.ndarray], np.ndarray]  # BGR crop -> (3,) yaw, pitch, roll degrees


#: the table's input settings: (a) the given crops, (b) end to end through the default detector
SETTINGS = {"given": "(a) given crops", "e2e": f"(b) {DEFAULT_DETECTOR} + crop"}
_BOLD = re.compile(r"\*\*([-+0-9.]+)\*\*")


def table_mean(path: Path, which: str = "given") -> float:
    """Mean MAE (degrees) of the headpose row for setting ``which`` (:data:`SETTINGS`) in a table
    this script wrote; ``ValueError`` naming the file when the row is not there."""
    label = SETTINGS[which]
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0].startswith("headpose") and cells[1] == label:
            found = _BOLD.search(cells[6])
            if found:
                return float(found.group(1))
    raise ValueError(f"{path}: no headpose row for '{label}' (a bench/accuracy.py table?)")


def headpose_method(model_path: Path) -> tuple[Predict, CropRule]:
    model = PoseModel(model_path, threads=1)

    def predict(crop: np.ndarray) -> np.ndarray:
        return model.to_yaw_pitch_roll(model.predict_crops([crop])[0])[0]

    return predict, model.meta.crop


def fsanet_method(peers: Path) -> tuple[Predict, CropRule]:
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sessions = [
        ort.InferenceSession(str(peers / name), opts, providers=["CPUExecutionProvider"])
        for name in ("fsanet-1x1-iter-688590.onnx", "fsanet-var-iter-688590.onnx")
    ]

    def predict(crop: np.ndarray) -> np.ndarray:
        x = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        x = ((x - 127.5) / 128.0).transpose(2, 0, 1)[None]
        return np.mean([s.run(None, {"input": x})[0][0] for s in sessions], axis=0)

    # FSA-Net was trained on loose 300W-LP crops; the same rule as the given crops
    return predict, CropRule(scale=1.5)


def run(predict: Predict, crops: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Predictions (N, 3) and the median ms per face."""
    out, times = [], []
    for crop in crops:
        t0 = time.perf_counter()
        out.append(np.asarray(predict(crop), dtype=np.float64))
        times.append(time.perf_counter() - t0)
    return np.stack(out), 1000.0 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default/hmtl_lite0_128", help="training config")
    parser.add_argument("--model", default=str(REPO / "headpose/models/headpose_default.onnx"))
    parser.add_argument("--out", default=str(REPO / "bench/results/accuracy.md"))
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument(
        "--split",
        choices=("val", "tune"),
        default="val",
        help="the config's validation split (reported) or its tuning split (for choosing)",
    )
    args = parser.parse_args(argv)

    paths, target = split_images(load_config(args.config), args.split)
    if args.limit:
        paths, target = paths[: args.limit], target[: args.limit]
    val = paths
    images = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]

    detector = get_detector("auto")
    boxes = [best_box(detector, im) for im in images]
    found = [i for i, b in enumerate(boxes) if b is not None]

    methods = {
        f"headpose ({Path(args.model).name})": headpose_method(Path(args.model)),
        "FSA-Net (2-model average)": fsanet_method(SHARED / "peers"),
    }
    rows = []
    for name, (predict, rule) in methods.items():
        pred_a, ms_a = run(predict, images)
        crops_b = [crop_face(images[i], boxes[i], rule, (256, 256)) for i in found]
        pred_b, _ = run(predict, crops_b)
        for setting, pred, tgt in (
            (SETTINGS["given"], pred_a, target),
            (SETTINGS["e2e"], pred_b, target[found]),
        ):
            mae = mae_per_angle(pred, tgt, ANGLES)
            rows.append((name, setting, mae, ms_a))

    lines = [
        "# Accuracy and speed, side by side",
        "",
        f"Command: `python bench/accuracy.py --config {args.config}"
        + (f" --split {args.split}" if args.split != "val" else "")
        + (f" --limit {args.limit}" if args.limit else "")
        + "`  ",
        f"Run: {dt.datetime.now().isoformat(timespec='minutes')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.  ",
        f"Images: {'tuning' if args.split == 'tune' else 'validation'} split of `{args.config}` ({len(val)} AFLW2000 crops from ../shared, "
        f"never trained on; {int(np.isnan(target[:, 1]).sum())} of them have yaw only). "
        f"The detector found a face in {len(found)} of {len(val)}; (b) uses those.",
        "",
        "| method | input | n | yaw | pitch | roll | mean MAE (°) | ms / face |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, setting, mae, ms in rows:
        lines.append(
            f"| {name} | {setting} | {mae['n']} | {mae['yaw']:.2f} | {mae['pitch']:.2f} | "
            f"{mae['roll']:.2f} | **{mae['mean']:.2f}** | {ms:.2f} |"
        )
    lines += [
        "",
        "ms / face: pose network only, batch 1, one thread, median over the images, preprocessing "
        "included; measured in this run for all methods.",
    ]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
