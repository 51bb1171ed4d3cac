#!/usr/bin/env bash
# Out-of-fold calibration of the shipped default model's uncertainty (issue 8, item 6):
#   JOBS=2 bash tools/calibrate_default_oof.sh
# The default model's recipe (RECIPES: its two networks, exported as one mirror-averaged ensemble
# with input zoom 0.9, as tools/reproduce_default_model.sh makes it) is trained FOLDS times, each
# time without another fold of the training split (data.split.tune_folds / tune_fold), so every
# training crop is predicted once by an ensemble that never trained on it. Those rows (end to
# end: detector box + crop rule) fit the map from spread to expected error and the 90% interval
# of headpose/models/headpose_default.onnx (python -m headpose.export.calibrate --faces ...),
# each fold's spreads first scaled into the shipped model's units (--faces-ref / --model-ref:
# the models' median spreads on their own training faces). The fit is then checked on the
# validation split, never used for fitting. Writes under $HEADPOSE_RUNS/calib_oof (never over
# the shipped model: copy by hand after reading the check).
# Resumable: rerun it after a stop; finished folds are kept. JOBS=2 trains a fold's two networks
# side by side (about 35 min a fold on 2 cores). EXTRA="optim.epochs=1 data.low_data=64" is a
# smoke test of the pipeline in minutes (the result is then meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
RECIPES=${RECIPES:-"default/hmtl_lite0_128_clean default/hmtl_lite0_128_sslinit_clean"}
MODEL=${MODEL:-headpose/models/headpose_default.onnx}
FOLDS=${FOLDS:-3}
ZOOM=${ZOOM:-0.9}
OUT=${OUT:-$HEADPOSE_RUNS/calib_oof}
source tools/common.sh  # name_of, train (resumable), side_by_side (JOBS at a time)
mkdir -p "$OUT"
start=$(date +%s)

# face boxes from the runtime's detector (the training configs crop from them)
[ -f "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv" ] || python -m headpose.training.data.detector_boxes \
    "$HEADPOSE_SHARED/data/aflw2000-crops" -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"
# the rotation pre-training a recipe starts from, once
for recipe in $RECIPES; do
    if headpose-train --config "$recipe" --print-config | grep -q "default_ssl_rotation_lite0/best.pt"; then
        train default/ssl_rotation_lite0_utkface
        break
    fi
done

faces=()
for fold in $(seq 0 $((FOLDS - 1))); do
    split="data.split.tune_folds=$FOLDS data.split.tune_fold=$fold"
    lines=()
    for recipe in $RECIPES; do
        lines+=("$recipe $split name=$(name_of "$recipe")_oof${fold}of$FOLDS")
    done
    printf '%s\n' "${lines[@]}" | side_by_side train
    checkpoints=()
    for line in "${lines[@]}"; do
        # shellcheck disable=SC2086
        checkpoints+=("$HEADPOSE_RUNS/$(name_of $line)/last.pt")
    done
    model="$OUT/fold${fold}of$FOLDS.onnx"
    [ -f "$model" ] || headpose-export "${checkpoints[@]}" -o "$model" --flip-average --input-zoom "$ZOOM"
    rows="$OUT/fold${fold}of${FOLDS}_faces.csv"
    # the held-out fold, end to end, as the fold's own saved config splits it
    [ -f "$rows" ] || python -m headpose.export.calibrate "$model" \
        --config "$(dirname "${checkpoints[0]}")/config.yaml" --split tune --detect --save-faces "$rows"
    faces+=(--faces "$rows")
    # the fold ensemble on the faces it trained on: its median spread there scales its rows
    rows_train="$OUT/fold${fold}of${FOLDS}_train_faces.csv"
    [ -f "$rows_train" ] || python -m headpose.export.calibrate "$model" \
        --config "$(dirname "${checkpoints[0]}")/config.yaml" --split train --detect \
        --save-faces "$rows_train"
    faces+=(--faces-ref "$rows_train")
    echo "fold $fold of $FOLDS done ($(( ($(date +%s) - start) / 60 )) min)"
done

# the shipped model on the faces it trained on (its first recipe's training split)
first=${RECIPES%% *}
model_train="$OUT/model_train_faces.csv"
[ -f "$model_train" ] || python -m headpose.export.calibrate "$MODEL" --config "$first" \
    --split train --detect --save-faces "$model_train"
# fit on every out-of-fold row, each fold's spreads scaled into the shipped model's units (the
# ratio of the two models' median spreads on their own training faces), then check on the
# validation split
python -m headpose.export.calibrate "$MODEL" "${faces[@]}" --model-ref "$model_train" \
    -o "$OUT/default_calibrated.onnx" --overwrite
python -m headpose.export.calibrate --check "$OUT/default_calibrated.onnx" --config "$first" \
    --split val --detect --per-angle || echo "calibration outside its target on validation (see above)"
echo "made $OUT/default_calibrated.onnx in $(( ($(date +%s) - start) / 60 )) min"
