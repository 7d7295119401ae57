#!/usr/bin/env bash
# Runs a command on a GPU machine that reaches no package registry: installs the wheels carried in .whl/
# (transformers 5.24, datasets 5.2, evaluate 0.4.6, dill, multiprocess for the machine's Python), points
# LWKD_DATA_DIR at .devdata/ (a copy of the offline data folder), prints the machine, runs the CUDA tests
# (unless SKIP_GPU_TESTS is set), then runs "$@". $OUT receives gpu_tests.log.
#   bash benchmarks/gpu.sh python3 benchmarks/efficiency.py --data-root .devdata ...
# The study and lwkd compare run here without Ray, which the GPU image lacks and whose wheel (79 MB for cp311) is
# over what a call can carry: benchmarks/gpu_study.sh.
set -uo pipefail
[ ! -d .whl ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 LWKD_DATA_DIR=$PWD/.devdata
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
python3 -c "import torch, transformers, datasets, accelerate; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'accelerate', accelerate.__version__)" || exit 1
[ -n "${SKIP_GPU_TESTS:-}" ] || (timeout 120 python3 -m pytest tests -m cuda -q -p no:cacheprovider 2>&1 || true) | tail -15 | tee "${OUT:-/tmp}/gpu_tests.log"
"$@"
