#!/usr/bin/env bash
# Reproduce the shipped model, headpose/models/headpose_default.onnx, from scratch on a CPU,
# with the project's own commands and the data in ../shared. Run from anywhere:
#   bash tools/reproduce_default_model.sh                                  # the shipped recipe
#   RECIPES=default/hmtl_lite0_128 bash tools/reproduce_default_model.sh   # one network only
# RECIPES: the training configs; each is trained, then all are exported into one ONNX model that
# averages them (headpose-export with several checkpoints). Needs the README's install. Writes
# the runs under $HEADPOSE_RUNS (default: runs/).
# EXTRA="optim.epochs=1 data.low_data=64" adds config overrides to the training runs (a smoke
# test of the whole pipeline in minutes; the result is then not the shipped model).
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
RECIPES=${RECIPES:-${RECIPE:-"default/hmtl_lite0_128_clean default/hmtl_lite0_128_sslinit_clean"}}
OUT=${OUT:-headpose/models/headpose_default.onnx}
mkdir -p "$HEADPOSE_RUNS"
start=$(date +%s)
source tools/common.sh  # name_of

# 1. face boxes from the runtime's detector, so training crops faces as the runtime will
python -m headpose.training.data.detector_boxes "$HEADPOSE_SHARED/data/aflw2000-crops" \
    -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"

# 2. self-supervised pre-training on UTKFace, once, if a recipe starts from it
for recipe in $RECIPES; do
    if headpose-train --config "$recipe" --print-config | grep -q "default_ssl_rotation_lite0/best.pt"; then
        headpose-train --config default/ssl_rotation_lite0_utkface runtime.progress=false ${EXTRA:-}
        break
    fi
done

# 3. train each network (fixed epochs; the last checkpoint is used, not the best on validation)
# ZOOM: the network looks at the centre 0.9 of the runtime's crop, the mean of the training
# augmentation's zoom (level 1 crops the centre 0.8-1.0 of each training crop)
ZOOM=${ZOOM:-0.9}
checkpoints=()
for recipe in $RECIPES; do
    headpose-train --config "$recipe" runtime.progress=false ${EXTRA:-}
    checkpoints+=("$HEADPOSE_RUNS/$(name_of "$recipe")/last.pt")
    headpose-eval --checkpoint "${checkpoints[-1]}" --split val --flip-average --input-zoom "$ZOOM"
done

# 4. export (SSL branches stripped, networks averaged in one graph, parity with PyTorch
#    verified) and measure against FSA-Net on the same validation images
headpose-export "${checkpoints[@]}" -o "$OUT" --flip-average --input-zoom "$ZOOM" --overwrite
first=${RECIPES%% *}
python bench/accuracy.py --config "$first" --model "$OUT" --out "$HEADPOSE_RUNS/accuracy.md"
echo "reproduced $OUT in $(( ($(date +%s) - start) / 60 )) min"
