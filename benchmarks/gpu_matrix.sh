#!/usr/bin/env bash
# The reproduction matrix and the CUDA mixed-precision tests on one GPU machine, as run for docs/results.md.
# Expects, beside the checkout: .whl/ (transformers 5.24, datasets 5.2, evaluate 0.4.6, dill, multiprocess
# wheels for the machine's Python) and .devdata/ (a copy of the offline data folder). Writes to $OUT.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export LWKD_DATA_DIR=$PWD/.devdata
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
python3 -c "import torch, transformers, datasets, pyarrow, accelerate; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'pyarrow', pyarrow.__version__, 'accelerate', accelerate.__version__)" || exit 1
[ -n "${SKIP_GPU_TESTS:-}" ] || (timeout 90 python3 -m pytest tests/test_gpu.py -q -p no:cacheprovider 2>&1 || true) | tail -15 | tee "$OUT/gpu_tests.log"
RESULTS=/tmp/results
timeout "${MATRIX_SECONDS:-400}" python3 benchmarks/reproduce.py --data-root .devdata --output-dir $RESULTS \
  --seeds 0 1 2 --epochs "${EPOCHS:-5}" --jobs "${JOBS:-10}" --pairs ${PAIRS:-thucnews:textcnn toutiao:textcnn thucnews:dpcnn}
python3 benchmarks/reproduce.py --data-root .devdata --output-dir $RESULTS --report-only \
  --pairs ${PAIRS:-thucnews:textcnn toutiao:textcnn thucnews:dpcnn} > "$OUT/report.md" 2>&1
cp $RESULTS/results.json $RESULTS/results.csv $RESULTS/fig4.png "$OUT/"
tar czf "$OUT/records.tar.gz" -C $RESULTS --exclude='*.safetensors' --exclude='*.pt' --exclude='*.bin' --exclude='checkpoint-*' .
ls -la "$OUT"
