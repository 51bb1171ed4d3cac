#!/usr/bin/env bash
# Train, evaluate and export a small model on CPU in minutes (ResNet-18, 128 px, HMTL puzzle 3x3
# at flag point 3) on the AFLW2000 crops in ../shared; then use it from Python.
set -euo pipefail
headpose-train --config cpu/hmtl_puzzle3_flag3_resnet18_128 name=small optim.epochs=5
headpose-eval --checkpoint runs/small/last.pt --split val
headpose-export runs/small/last.pt -o small.onnx
python -c "from headpose import Estimator; print(Estimator('small.onnx').predict('../shared/data/pose-photos/pose_left_0.jpg'))"
