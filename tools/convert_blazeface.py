"""Convert MediaPipe's BlazeFace short-range ``.tflite`` to the ONNX file shipped in
``headpose/models/``, and check it against the TFLite interpreter.

Run it in a SEPARATE virtual environment (the converter is not a headpose dependency)::

    python3 -m venv /work/convert-venv
    /work/convert-venv/bin/pip install tflite2onnx==0.4.1 tflite==2.18.0 onnx onnxruntime numpy \
        ai-edge-litert            # ai-edge-litert only for the check against TFLite
    /work/convert-venv/bin/python tools/convert_blazeface.py \
        ../shared/models/face_detection_short_range.tflite headpose/models/blazeface_short_range.onnx

The converted graph takes ``input`` float32 ``(1, 3, 128, 128)`` RGB in [-1, 1] (tflite2onnx
turns the NHWC graph into NCHW) and gives ``regressors`` ``(1, 896, 16)`` and ``classificators``
``(1, 896, 1)`` exactly like the original. Weights stored as float16 in the ``.tflite`` become
float32. The full-range "sparse" model uses the TFLite DENSIFY op, which tflite2onnx 0.4.1 does
not support, so it is not converted.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

BLAZEFACE = "MediaPipe BlazeFace short-range face detector"
BLAZEFACE_INPUT = "RGB (1,3,128,128) in [-1,1]"


def convert(
    src: Path,
    dst: Path,
    what: str = BLAZEFACE,
    input_note: str = BLAZEFACE_INPUT,
    script: str = "tools/convert_blazeface.py",
) -> None:
    """Convert ``src`` (.tflite) to ``dst`` (.onnx) and record where it came from."""
    import tflite2onnx

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        tflite2onnx.convert(str(src), str(raw))
        model = onnx.load(str(raw))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    model.doc_string = (
        f"{what} (Apache-2.0, Google LLC), converted from "
        f"{src.name} (sha256 {digest}) with tflite2onnx {tflite2onnx.__version__} by "
        f"headpose {script}. Input: {input_note}."
    )
    for key, value in {
        "source": src.name,
        "source_sha256": digest,
        "license": "Apache-2.0 (Google LLC, MediaPipe)",
        "converter": f"tflite2onnx {tflite2onnx.__version__}",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))


def check_against_tflite(
    src: Path, dst: Path, seed: int = 0, size: int = 128, low: float = -1.0, high: float = 1.0
) -> float:
    """Largest absolute difference between TFLite and onnxruntime outputs on random inputs
    ``(1, size, size, 3)`` uniform in ``[low, high]``."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(str(src))
    interp.allocate_tensors()
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(3):
        x = rng.uniform(low, high, (1, size, size, 3)).astype(np.float32)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        ref = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
        name = session.get_inputs()[0].name
        outs = session.run(None, {name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
        for meta, out in zip(session.get_outputs(), outs, strict=True):
            expected = ref[meta.name]
            if out.ndim == 4:  # NCHW back to TFLite's NHWC
                out = out.transpose(0, 2, 3, 1)
            if out.shape != expected.shape:
                raise ValueError(f"output {meta.name}: shape {out.shape}, TFLite {expected.shape}")
            worst = max(worst, float(np.abs(out - expected).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="face_detection_short_range.tflite")
    parser.add_argument("dst", type=Path, help="output .onnx")
    parser.add_argument("--no-check", action="store_true", help="skip the TFLite comparison")
    args = parser.parse_args(argv)
    convert(args.src, args.dst)
    print(f"wrote {args.dst} ({args.dst.stat().st_size} bytes)")
    if not args.no_check:
        worst = check_against_tflite(args.src, args.dst)
        print(f"max |onnx - tflite| over 3 random inputs: {worst:.2e}")
        if worst > 1e-3:
            print("FAIL: converted model disagrees with TFLite", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
