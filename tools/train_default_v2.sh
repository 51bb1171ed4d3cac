#!/usr/bin/env bash
# The v2 default-model pipeline (one network, one pass; NOT shipped yet: see
# bench/results/default_model_v2.md), from scratch on a CPU with the project's own commands and
# the data in ../shared (tools/reproduce_default_model.sh reproduces the shipped v1 model):
#   bash tools/train_default_v2.sh
# Steps: (1) YuNet boxes for the labelled crops; (2) the teacher: the v1 recipe (two HMTL
# networks, one of them from UTKFace rotation pre-training, exported as one mirror-averaged
# ensemble); (3) the teacher pseudo-labels the 9,780 unlabelled UTKFace faces; (4) the student
# (default/semi_lite0_112) trains on the labelled crops + the pseudo-labels; (5) export, with the
# uncertainty calibrated on the tuning split, and the benchmarks.
# TEACHER=path.onnx skips step 2 (e.g. the v1 model from git history:
#   git show 71361d0:headpose/models/headpose_default.onnx > runs/teacher_v1.onnx).
# EXTRA="optim.epochs=1 data.low_data=64 semi.max_images=200" adds overrides to every training run
# (a smoke test of the whole pipeline in minutes; the result is then not the shipped model).
# SEED=N trains the student with another seed. Writes under $HEADPOSE_RUNS (default runs/).
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
OUT=${OUT:-$HEADPOSE_RUNS/headpose_default_v2.onnx}
STUDENT=${STUDENT:-default/semi_lite0_112}
SEED=${SEED:-0}
mkdir -p "$HEADPOSE_RUNS"
start=$(date +%s)
name_of() { headpose-train --config "$1" --print-config "${@:2}" | sed -n 's/^name: //p'; }
train() {  # resumable: a finished run is kept, a killed one continues
    local out; out="$HEADPOSE_RUNS/$(name_of "$@")"
    if [ -f "$out/last.pt" ]; then headpose-train --config "$@" --resume runtime.progress=false ${EXTRA:-}
    else headpose-train --config "$@" runtime.progress=false ${EXTRA:-}; fi
}

# 1. face boxes from the runtime's detector, so training crops faces as the runtime will
[ -f "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv" ] || python -m headpose.training.data.detector_boxes \
    "$HEADPOSE_SHARED/data/aflw2000-crops" -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"

# 2. the teacher (v1 recipe): rotation pre-training, two HMTL networks, mirror-averaged ensemble
TEACHER=${TEACHER:-$HEADPOSE_RUNS/teacher_v1.onnx}
if [ ! -f "$TEACHER" ]; then
    train default/ssl_rotation_lite0_utkface
    train default/hmtl_lite0_128_clean
    train default/hmtl_lite0_128_sslinit_clean
    headpose-export "$HEADPOSE_RUNS/default_hmtl_lite0_128_clean/last.pt" \
        "$HEADPOSE_RUNS/default_hmtl_lite0_128_sslinit_clean/last.pt" \
        -o "$TEACHER" --flip-average --input-zoom 0.9
fi

# 3. pseudo-labels of the unlabelled faces (the teacher's angles, boxes and spreads)
[ -f "$HEADPOSE_RUNS/utkface-pseudo.csv" ] || python -m headpose.training.data.pseudo_labels \
    "$HEADPOSE_SHARED/data/utkface" --teacher "$TEACHER" -o "$HEADPOSE_RUNS/utkface-pseudo.csv"

# 4. the student: one network, trained on labelled crops + pseudo-labels (fixed epochs; last.pt)
seed_args=(runtime.seed="$SEED")
[ "$SEED" = 0 ] || seed_args+=(name="default_semi_lite0_112_seed$SEED")
train "$STUDENT" "${seed_args[@]}"
run="$HEADPOSE_RUNS/$(name_of "$STUDENT" "${seed_args[@]}")"

# 5. export (SSL branches stripped, parity with PyTorch verified), calibrate the uncertainty on
#    the tuning split (training-side images never trained on), then the benchmarks on validation
rm -f "$run/model_uncalibrated.onnx"  # this script's own intermediate file
headpose-export "$run/last.pt" -o "$run/model_uncalibrated.onnx"
python -m headpose.export.calibrate "$run/model_uncalibrated.onnx" --config "$STUDENT" \
    --split tune --detect -o "$run/model.onnx" --overwrite
python -m headpose.export.calibrate --check "$run/model.onnx" --config "$STUDENT" --split val \
    --detect || echo "calibration outside its target on validation (see above)"
cp "$run/model.onnx" "$OUT"
python bench/accuracy.py --config "$STUDENT" --model "$OUT" --out "$HEADPOSE_RUNS/accuracy.md"
echo "reproduced $OUT in $(( ($(date +%s) - start) / 60 )) min"
