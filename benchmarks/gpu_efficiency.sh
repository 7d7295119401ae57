#!/usr/bin/env bash
# Issue 9's GPU figures in one device call (carry .whl .devdata; see benchmarks/gpu.sh), about 6 minutes on an H100:
#   SKIP_GPU_TESTS=1 OMP_NUM_THREADS=16 bash benchmarks/gpu.sh bash benchmarks/gpu_efficiency.sh
# Writes to $OUT: the step ratios (Trainer, LWKDTrainer beta 0 and 0.1) for TextCNN and for a BERT-base-shaped
# student, TextCNN's op profile, then one round of benchmarks/efficiency.py (whole runs, teacher stage), each part
# under its own time limit so that a slow part leaves the others' results.
set -uo pipefail
cd "$(dirname "$0")"
timeout 90 python3 overhead.py --processes 3 --output "$OUT/overhead-textcnn.json" 2>&1 | grep -v USDT | tee "$OUT/overhead.log"
timeout 120 python3 overhead.py --student bert-base --processes 3 --steps 60 --output "$OUT/overhead-bert-base.json" 2>&1 \
  | grep -v USDT | tee -a "$OUT/overhead.log"
timeout 40 python3 overhead.py --profile 30 2>&1 | grep -v USDT > "$OUT/profile-textcnn.txt"
timeout "${EFFICIENCY_LIMIT:-330}" python3 efficiency.py --data-root ../.devdata --repeats 1 --step-processes 2 \
  --output "$OUT/efficiency.json" 2>&1 | grep -v "examples/s" | tee "$OUT/efficiency.log"
