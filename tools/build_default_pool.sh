#!/usr/bin/env bash
# The shipped default model: our network pooled with public peers, chosen and calibrated out of
# fold on the training crops (docs/MODEL_CARD.md, "The default model").
#
#   bash tools/build_default_pool.sh
#
# 1. Out-of-fold rows of our network (the rotation-pre-trained HMTL Lite0, one plain pass):
#    tools/calibrate_oof.sh trains its recipe three times, each without a third of the training
#    crops, and predicts each held-out third end to end (about 75 min on 2 cores; resumable).
# 2. bench/pool_select.py chooses the members, weights and spread weight on those rows and the
#    peers' predictions on the same crops (bench/results/pool_select.md). PEERS, WEIGHTS and
#    SPREAD below are what it chose; change them only after rerunning it.
# 3. Each fold's pool (the fold network + the same peers) predicts its held-out third: the
#    pool's own out-of-fold rows, which fit its calibration (spreads scaled into the shipped
#    pool's units, as tools/calibrate_oof.sh does); the fit is then checked once on validation.
# Writes under $HEADPOSE_RUNS/pool_default; copy the four files into headpose/models by hand
# after reading the check. NET: the shipped network (first built from the old default's second
# network, `git show 4fadc5f:headpose/models/headpose_default.onnx` + "#1").
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
RECIPE=default/hmtl_lite0_128_sslinit_clean
OOF=${OOF:-$HEADPOSE_RUNS/oof_member}
NET=${NET:-headpose/models/headpose_default.lite0.onnx}
PEERS=${PEERS:-"peer:fsanet peer:shaw-b66 peer:3ddfa-v2-mb05"}
WEIGHTS=${WEIGHTS:-1,1,1,1}
SPREAD=${SPREAD:-0.1}
OUT=${OUT:-$HEADPOSE_RUNS/pool_default}
PEERS_DIR="$HEADPOSE_SHARED/peers"
mkdir -p "$OUT"

# 1. our network's out-of-fold rows (one plain pass, input zoom 0.9, as shipped)
[ -f "$OOF/fold2of3_faces.csv" ] || RECIPES=$RECIPE EXPORT_OPTS="--input-zoom 0.9" \
    SHIPPED="$NET" OUT="$OOF" JOBS=${JOBS:-2} bash tools/calibrate_oof.sh

# 2. the choice (read bench/results/pool_select.md; PEERS/WEIGHTS/SPREAD must match it)
[ -f bench/results/pool_select.md ] || python bench/pool_select.py \
    --faces "$OOF/fold0of3_faces.csv" --faces "$OOF/fold1of3_faces.csv" \
    --faces "$OOF/fold2of3_faces.csv"

# the members, weights and spread weight built below must be the ones chosen there
chosen="MEMBER $PEERS --weights $WEIGHTS --spread-weight $SPREAD "
if ! grep -qF -- "$chosen" bench/results/pool_select.md; then
    echo "build_default_pool.sh: PEERS/WEIGHTS/SPREAD ($chosen) are not what" \
        "bench/results/pool_select.md chose (its last line): set them to its choice" >&2
    exit 2
fi

pool() {  # pool OUTFILE NET
    # shellcheck disable=SC2086
    [ -f "$1" ] || python -m headpose.export.pool -o "$1" "lite0=$2" $PEERS \
        --weights "$WEIGHTS" --spread-weight "$SPREAD" --peers-dir "$PEERS_DIR"
}

# 3. every fold's pool on its held-out third and on its own training crops
source tools/common.sh  # name_of: the run name tools/calibrate_oof.sh gave the fold trainings
run_name=$(name_of "$RECIPE")
faces=()
for fold in 0 1 2; do
    mkdir -p "$OUT/fold$fold"
    model="$OUT/fold$fold/pool.onnx"
    pool "$model" "$OOF/fold${fold}of3.onnx"
    config="$HEADPOSE_RUNS/${run_name}_oof${fold}of3/config.yaml"
    rows="$OUT/fold${fold}of3_faces.csv"
    [ -f "$rows" ] || python -m headpose.export.calibrate "$model" --config "$config" \
        --split tune --detect --save-faces "$rows"
    rows_train="$OUT/fold${fold}of3_train_faces.csv"
    [ -f "$rows_train" ] || python -m headpose.export.calibrate "$model" --config "$config" \
        --split train --detect --save-faces "$rows_train"
    faces+=(--faces "$rows" --faces-ref "$rows_train")
done

# the shipped pool, on the crops its network trained on; fit, then the one check on validation
mkdir -p "$OUT/uncalibrated"
pool "$OUT/uncalibrated/headpose_default.onnx" "$NET"
model_train="$OUT/model_train_faces.csv"
[ -f "$model_train" ] || python -m headpose.export.calibrate "$OUT/uncalibrated/headpose_default.onnx" \
    --config "$RECIPE" --split train --detect --save-faces "$model_train"
mkdir -p "$OUT/calibrated"
for f in "$OUT"/uncalibrated/headpose_default.*.onnx; do
    cp -n "$f" "$OUT/calibrated/"
done
python -m headpose.export.calibrate "$OUT/uncalibrated/headpose_default.onnx" "${faces[@]}" \
    --model-ref "$model_train" -o "$OUT/calibrated/headpose_default.onnx" --overwrite
python -m headpose.export.calibrate --check "$OUT/calibrated/headpose_default.onnx" \
    --config "$RECIPE" --split val --detect --per-angle \
    || echo "calibration outside its target on validation (see above)"
echo "made $OUT/calibrated/headpose_default.onnx and its members"
