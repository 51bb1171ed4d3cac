#!/usr/bin/env bash
# Reproduce the shipped model, headpose/models/headpose_default.onnx, from scratch on a CPU,
# with the project's own commands and the data in ../shared. Run from anywhere:
#   bash tools/reproduce_default_model.sh            # the shipped recipe
#   RECIPE=default/sl_lite0_128_sslinit bash tools/reproduce_default_model.sh
# Needs the README's install. Writes the runs under $HEADPOSE_RUNS (default: runs/).
# EXTRA="optim.epochs=1 data.low_data=64" adds config overrides to the training runs (a smoke
# test of the whole pipeline in minutes; the result is then not the shipped model).
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
RECIPE=${RECIPE:-default/hmtl_lite0_128}
OUT=${OUT:-headpose/models/headpose_default.onnx}
mkdir -p "$HEADPOSE_RUNS"
start=$(date +%s)

# 1. face boxes from the runtime's detector, so training crops faces as the runtime will
python -m headpose.training.data.detector_boxes "$HEADPOSE_SHARED/data/aflw2000-crops" \
    -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"

# 2. self-supervised pre-training, only for the recipes that start from it
if headpose-train --config "$RECIPE" --print-config | grep -q "default_ssl_rotation_lite0/best.pt"; then
    headpose-train --config default/ssl_rotation_lite0_utkface runtime.progress=false ${EXTRA:-}
fi

# 3. train (fixed epochs; the last checkpoint is shipped, not the best-on-validation one)
headpose-train --config "$RECIPE" runtime.progress=false ${EXTRA:-}
name=$(headpose-train --config "$RECIPE" --print-config | sed -n 's/^name: //p')

# 4. export (SSL branches stripped, parity with PyTorch verified) and measure against FSA-Net
headpose-export "$HEADPOSE_RUNS/$name/last.pt" -o "$OUT" --flip-average
headpose-eval --checkpoint "$HEADPOSE_RUNS/$name/last.pt" --split val --flip-average
python bench/accuracy.py --config "$RECIPE" --model "$OUT" --out "$HEADPOSE_RUNS/accuracy.md"
echo "reproduced $OUT in $(( ($(date +%s) - start) / 60 )) min"
