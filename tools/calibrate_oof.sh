#!/usr/bin/env bash
# Out-of-fold calibration of a shipped model's uncertainty:
#   JOBS=2 bash tools/calibrate_oof.sh            # the default model (MODEL=default)
#   MODEL=fast JOBS=2 bash tools/calibrate_oof.sh # the one-pass fast model
# The model's recipe (RECIPES, exported with EXPORT_OPTS as the shipped file was made) is
# trained FOLDS times, each time without another fold of the training split
# (data.split.tune_folds / tune_fold), so every training crop is predicted once by a model that
# never trained on it. Those rows (end to end: detector box + crop rule) fit the map from spread
# to expected error and the 90% interval of the shipped model (python -m
# headpose.export.calibrate --faces ...), each fold's spreads first scaled into the shipped
# model's units (--faces-ref / --model-ref: the models' median spreads on their own training
# faces). The fit is then checked on the validation split, never used for fitting. Writes
# under $HEADPOSE_RUNS/calib_oof[_fast] (never over the shipped model: copy by hand after
# reading the check). Resumable: rerun it after a stop; finished trainings and rows are kept.
# JOBS=2 trains two networks side by side (about 35 min a fold for the default model's two on
# 2 cores). EXTRA="optim.epochs=1 data.low_data=64" is a smoke test of the pipeline in minutes
# (the result is then meaningless). A candidate before it ships: RECIPES=its recipe,
# SHIPPED=its uncalibrated ONNX file, OUT=a new folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
MODEL=${MODEL:-default}
case "$MODEL" in
    default)  # two networks, one mirror-averaged graph with input zoom 0.9
        RECIPES=${RECIPES:-"default/hmtl_lite0_128_clean default/hmtl_lite0_128_sslinit_clean"}
        EXPORT_OPTS=${EXPORT_OPTS:-"--flip-average --input-zoom 0.9"}
        FOLD_OVERRIDES=${FOLD_OVERRIDES:-}
        OUT=${OUT:-$HEADPOSE_RUNS/calib_oof} ;;
    fast)  # one network, one pass; its recipe holds out a tuning fraction, replaced by folds
        RECIPES=${RECIPES:-default/semi_aa_lite0_112_long}
        EXPORT_OPTS=${EXPORT_OPTS:-}
        FOLD_OVERRIDES=${FOLD_OVERRIDES:-data.split.tune_fraction=0}
        OUT=${OUT:-$HEADPOSE_RUNS/calib_oof_fast} ;;
    *) echo "calibrate_oof.sh: MODEL: expected default or fast, got '$MODEL'" >&2; exit 2 ;;
esac
SHIPPED=${SHIPPED:-headpose/models/headpose_$MODEL.onnx}  # the model calibrated
FOLDS=${FOLDS:-3}
source tools/common.sh  # name_of, train (resumable), side_by_side (JOBS at a time), config_path
mkdir -p "$OUT"
start=$(date +%s)

# face boxes from the runtime's detector (the training configs crop from them)
[ -f "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv" ] || python -m headpose.training.data.detector_boxes \
    "$HEADPOSE_SHARED/data/aflw2000-crops" -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"
declare -A run_name  # each recipe's run name, read once (name_of starts headpose-train)
for recipe in $RECIPES; do
    run_name[$recipe]=$(name_of "$recipe")
    # the rotation pre-training a recipe starts from, once
    if headpose-train --config "$recipe" --print-config | grep -q "default_ssl_rotation_lite0/best.pt"; then
        train default/ssl_rotation_lite0_utkface
    fi
    # pseudo-labels come from tools/train_default_v2.sh (they need its teacher)
    pseudo=$(config_path "$recipe" semi.pseudo_labels)
    if [ -n "$pseudo" ] && [ ! -f "$pseudo" ]; then
        echo "calibrate_oof.sh: $recipe needs pseudo-labels $pseudo: run tools/train_default_v2.sh first" >&2
        exit 2
    fi
done

# every fold's networks, JOBS at a time
lines=()
for fold in $(seq 0 $((FOLDS - 1))); do
    for recipe in $RECIPES; do
        lines+=("$recipe $FOLD_OVERRIDES data.split.tune_folds=$FOLDS data.split.tune_fold=$fold name=${run_name[$recipe]}_oof${fold}of$FOLDS")
    done
done
printf '%s\n' "${lines[@]}" | side_by_side train

faces=()
for fold in $(seq 0 $((FOLDS - 1))); do
    checkpoints=()
    for recipe in $RECIPES; do
        checkpoints+=("$HEADPOSE_RUNS/${run_name[$recipe]}_oof${fold}of$FOLDS/last.pt")
    done
    fold_config="$(dirname "${checkpoints[0]}")/config.yaml"
    model="$OUT/fold${fold}of$FOLDS.onnx"
    # shellcheck disable=SC2086
    [ -f "$model" ] || headpose-export "${checkpoints[@]}" -o "$model" $EXPORT_OPTS
    # the held-out fold, end to end, as the fold's own saved config splits it
    rows="$OUT/fold${fold}of${FOLDS}_faces.csv"
    [ -f "$rows" ] || python -m headpose.export.calibrate "$model" \
        --config "$fold_config" --split tune --detect --save-faces "$rows"
    # the fold model on the faces it trained on: its median spread there scales its rows
    rows_train="$OUT/fold${fold}of${FOLDS}_train_faces.csv"
    [ -f "$rows_train" ] || python -m headpose.export.calibrate "$model" \
        --config "$fold_config" --split train --detect --save-faces "$rows_train"
    faces+=(--faces "$rows" --faces-ref "$rows_train")
    echo "fold $fold of $FOLDS done ($(( ($(date +%s) - start) / 60 )) min)"
done

# the shipped model on the faces it trained on (its first recipe's training split)
first=${RECIPES%% *}
model_train="$OUT/model_train_faces.csv"
[ -f "$model_train" ] || python -m headpose.export.calibrate "$SHIPPED" --config "$first" \
    --split train --detect --save-faces "$model_train"
# fit on every out-of-fold row, each fold's spreads scaled into the shipped model's units, then
# check on the validation split
python -m headpose.export.calibrate "$SHIPPED" "${faces[@]}" --model-ref "$model_train" \
    -o "$OUT/${MODEL}_calibrated.onnx" --overwrite
python -m headpose.export.calibrate --check "$OUT/${MODEL}_calibrated.onnx" --config "$first" \
    --split val --detect --per-angle || echo "calibration outside its target on validation (see above)"
echo "made $OUT/${MODEL}_calibrated.onnx in $(( ($(date +%s) - start) / 60 )) min"
