"""Convert MediaPipe's Face Mesh landmark ``.tflite`` to the ONNX file the face-profiling data
step reads (``training/assets/face_landmark.onnx``), and check it against the TFLite interpreter.

Run it in a SEPARATE virtual environment (the converter is not a headpose dependency), the same
one as ``tools/convert_blazeface.py``::

    python3 -m venv /work/convert-venv
    /work/convert-venv/bin/pip install tflite2onnx==0.4.1 tflite==2.18.0 onnx onnxruntime numpy \
        ai-edge-litert            # ai-edge-litert only for the check against TFLite
    /work/convert-venv/bin/python tools/convert_face_landmark.py \
        ../shared/models/face_landmark.tflite training/assets/face_landmark.onnx

The converted graph takes ``input_1`` float32 ``(1, 3, 192, 192)`` RGB in [0, 1] (tflite2onnx
turns the NHWC graph into NCHW) and gives the 468 landmarks ``(1, 1, 1, 1404)`` (x, y, z in
pixels of the 192x192 input, z relative, larger = farther) and the face-flag logit
``(1, 1, 1, 1)``, exactly like the original.

tflite2onnx 0.4.1 fails on this model's PReLU slopes as stored (float16 ``(1, 1, C)`` behind a
DEQUANTIZE: the slope gets no batch axis before the NHWC -> NCHW transpose, an IndexError);
:func:`patch_prelu_slopes` gives such 3-D constants the missing leading axis first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from convert_blazeface import check_against_tflite, convert  # noqa: E402

WHAT = "MediaPipe Face Mesh landmark model (468 points)"
INPUT = "RGB (1,3,192,192) in [0,1]"


def patch_prelu_slopes() -> None:
    """Make tflite2onnx transpose 3-D constants ``(1, 1, C)`` as ``(1, 1, 1, C)`` (NHWC)."""
    from tflite2onnx import tensor

    original = tensor.Tensor.transform

    def transform(self: tensor.Tensor) -> None:
        if self.isInitializer and len(self.shape) == 3 and len(self.layout.perm) == 4:
            self.shape = [1, *self.shape]
        original(self)

    tensor.Tensor.transform = transform


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="face_landmark.tflite")
    parser.add_argument("dst", type=Path, help="output .onnx")
    parser.add_argument("--no-check", action="store_true", help="skip the TFLite comparison")
    args = parser.parse_args(argv)
    patch_prelu_slopes()
    convert(args.src, args.dst, WHAT, INPUT, "tools/convert_face_landmark.py")
    print(f"wrote {args.dst} ({args.dst.stat().st_size} bytes)")
    if not args.no_check:
        worst = check_against_tflite(args.src, args.dst, size=192, low=0.0, high=1.0)
        print(f"max |onnx - tflite| over 3 random inputs: {worst:.2e}")
        if worst > 1e-3:
            print("FAIL: converted model disagrees with TFLite", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
