#!/usr/bin/env bash
# The v2 default-model pipeline (one network, one pass per face), from scratch on a CPU with the
# project's own commands and the data in ../shared:
#   bash tools/train_default_v2.sh
# Steps: (1) YuNet boxes for the labelled crops; (2) the teacher: the v1 recipe (two HMTL
# networks, one of them from UTKFace rotation pre-training, exported as one mirror-averaged
# ensemble) trained WITHOUT the tuning split (default/teacher_hmtl_lite0_128*), so the tuning
# split stays fair for choosing and calibrating students; (3) the teacher
# pseudo-labels the 9,780 unlabelled UTKFace faces; (4) the student trains with each seed of
# SEEDS on the labelled crops + the pseudo-labels; (5) every seed is exported and scored on the TUNING split (never trained on); the
# best there is calibrated on the tuning split, checked on validation and copied to OUT; every
# seed is then scored on validation (the reported mean +- std).
# The pseudo-label file is the student config's (semi.pseudo_labels); the teacher is TEACHER
# (default $HEADPOSE_RUNS/teacher_clean.onnx). An existing teacher file skips step 2. The shipped `fast`
# model was made with TEACHER=runs/teacher_v1.onnx, the v1 model from git history (it trained on
# the tuning split):
#   git show 71361d0:headpose/models/headpose_default.onnx > runs/teacher_v1.onnx
# STUDENT: distill/pilot_lite0_112 (the fast recipe taught by the pooled default:
#   TEACHER=headpose/models/headpose_default.onnx; also labels the student's own training crops;
#   its pilot failed its rule: bench/results/distill_pilot.md),
#   default/semi_aa_lite0_112_long (default: pseudo-labels only with an anti-aliased
#   backbone, the shipped `fast` recipe; seed 0 of 0-5 was chosen; shipped after
#   `headpose-export RUN/last.pt --video detect_every=4` and MODEL=fast tools/calibrate_oof.sh),
#   default/semi_lite0_112_long (the same with the plain backbone: the first `fast`).
# SEEDS="0 1 2" (default) trains one student per seed; JOBS=3 trains them side by side, the
# cores shared out (OMP_NUM_THREADS); the two teacher networks also train side by side when
# JOBS > 1.
# EXPORT_OPTS="--flip-average" exports every seed with those headpose-export options (as
#   tools/calibrate_oof.sh does).
# EXTRA="optim.epochs=1 data.low_data=64 semi.per_epoch=64" adds overrides to every training run
# (a smoke test of the whole pipeline in minutes; the result is then not the shipped model).
# Writes under $HEADPOSE_RUNS (default runs/) and never over the shipped model: copy OUT to
# headpose/models/ by hand after reading the tables. Resumable: rerun it after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADPOSE_SHARED=${HEADPOSE_SHARED:-../shared}
export HEADPOSE_RUNS=${HEADPOSE_RUNS:-runs}
OUT=${OUT:-$HEADPOSE_RUNS/headpose_default_v2.onnx}
STUDENT=${STUDENT:-default/semi_aa_lite0_112_long}
SEEDS=${SEEDS:-0 1 2}
EXPORT_OPTS=${EXPORT_OPTS:-}
mkdir -p "$HEADPOSE_RUNS"
start=$(date +%s)
source tools/common.sh  # name_of, train (resumable), side_by_side (JOBS at a time)

# the student's teacher and pseudo-label files, as its config resolves them
TEACHER=${TEACHER:-$HEADPOSE_RUNS/teacher_clean.onnx}
PSEUDO=$(config_path "$STUDENT" semi.pseudo_labels)
TEACHER_LABELS=$(config_path "$STUDENT" semi.teacher_labels)
if [ ! -f "$TEACHER" ] && [ "$(basename "$TEACHER")" != teacher_clean.onnx ]; then
    echo "train_default_v2.sh: teacher $TEACHER not found; this script makes only teacher_clean.onnx" \
        "(for teacher_v1.onnx see the header)" >&2
    exit 2
fi

# 1. face boxes from the runtime's detector, so training crops faces as the runtime will
[ -f "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv" ] || python -m headpose.training.data.detector_boxes \
    "$HEADPOSE_SHARED/data/aflw2000-crops" -o "$HEADPOSE_RUNS/aflw2000-crops-yunet.csv"

# 2. the teacher (the v1 recipe without the tuning split): rotation pre-training, two HMTL
#    networks, mirror-averaged ensemble
if [ ! -f "$TEACHER" ]; then
    train default/ssl_rotation_lite0_utkface
    recipes=(default/teacher_hmtl_lite0_128 default/teacher_hmtl_lite0_128_sslinit)
    printf '%s\n' "${recipes[@]}" | side_by_side train
    checkpoints=()
    for recipe in "${recipes[@]}"; do checkpoints+=("$HEADPOSE_RUNS/$(name_of "$recipe")/last.pt"); done
    headpose-export "${checkpoints[@]}" -o "$TEACHER" --flip-average --input-zoom 0.9
fi

# 3. pseudo-labels of the unlabelled faces (the teacher's angles, boxes and spreads)
[ -z "$PSEUDO" ] || [ -f "$PSEUDO" ] || python -m headpose.training.data.pseudo_labels \
    "$HEADPOSE_SHARED/data/utkface" --teacher "$TEACHER" -o "$PSEUDO"

# 3b. distillation students (semi.teacher_labels): the teacher's answers on the student run's own
#     labelled training crops (never its tuning or validation images)
[ -z "$TEACHER_LABELS" ] || [ -f "$TEACHER_LABELS" ] || python -m headpose.training.data.pseudo_labels \
    "$HEADPOSE_SHARED/data/aflw2000-crops" --teacher "$TEACHER" -o "$TEACHER_LABELS" \
    --split-config "$STUDENT"

# 4. the students: one network each, trained on labelled crops + pseudo-labels (fixed epochs;
#    last.pt is the model: nothing is picked on validation)
base=$(name_of "$STUDENT")
seed_name() { if [ "$1" = 0 ]; then echo "$base"; else echo "${base}_seed$1"; fi; }
run_of() { echo "$HEADPOSE_RUNS/$(seed_name "$1")"; }
for seed in $SEEDS; do echo "$STUDENT runtime.seed=$seed name=$(seed_name "$seed")"; done | side_by_side train
for seed in $SEEDS; do
    # export (SSL branches stripped, parity with PyTorch verified); no input zoom: the training
    # crops are the runtime's (box jitter, no central zoom)
    run=$(run_of "$seed")
    [ -f "$run/model_uncalibrated.onnx" ] || headpose-export "$run/last.pt" -o "$run/model_uncalibrated.onnx" $EXPORT_OPTS
done

# 5. choose the seed on the tuning split (given crops), never on validation
best=""; best_mae=""
for seed in $SEEDS; do
    run=$(run_of "$seed")
    mae=$(headpose-eval --model "$run/model_uncalibrated.onnx" --config "$STUDENT" --split tune --json \
        | python -c 'import json,sys; print(json.load(sys.stdin)["mean"])')
    echo "seed $seed: tuning-split MAE $mae"
    if [ -z "$best" ] || python -c "import sys; sys.exit(not $mae < $best_mae)"; then best=$seed; best_mae=$mae; fi
done
run=$(run_of "$best")
echo "chosen on the tuning split: seed $best ($run)"
# calibrate the uncertainty on the tuning split, then check it on validation
python -m headpose.export.calibrate "$run/model_uncalibrated.onnx" --config "$STUDENT" \
    --split tune --detect -o "$run/model.onnx" --overwrite
python -m headpose.export.calibrate --check "$run/model.onnx" --config "$STUDENT" --split val \
    --detect || echo "calibration outside its target on validation (see above)"
cp "$run/model.onnx" "$OUT"
# 6. the reported numbers: every seed on validation (given crops and end to end, FSA-Net beside)
for seed in $SEEDS; do
    python bench/accuracy.py --config "$STUDENT" --model "$(run_of "$seed")/model_uncalibrated.onnx" \
        --out "$(run_of "$seed")/accuracy_val.md"
done
echo "made $OUT in $(( ($(date +%s) - start) / 60 )) min"
