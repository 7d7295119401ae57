#!/usr/bin/env bash
# The next part of benchmarks/study.py on a GPU machine, resuming from what the repository records.
# Here, once:  mkdir -p runs/study && tar xzf docs/results/study/records.tar.gz -C runs/study \
#                && tar xzf docs/results/study/teachers.tar.gz -C runs/study
# Then on the device (carry .whl .devdata runs/study; see benchmarks/gpu.sh), within a 600 s call:
#   SKIP_GPU_TESTS=1 bash benchmarks/gpu.sh bash benchmarks/gpu_study.sh
# It starts no new run after DEADLINE seconds (default 360), stops at 470, and writes to $OUT the run folders
# finished so far (JSON only) and the report; back here, extract $OUT/records.tar.gz into runs/study and run
#   python benchmarks/study.py --report-only --runs-dir runs/study --results-dir docs/results/study --report docs/results.md
set -uo pipefail
timeout "${STOP:-470}" python3 benchmarks/study.py --data-root .devdata --runs-dir runs/study --results-dir /tmp/res \
  --jobs "${JOBS:-15}" --deadline "${DEADLINE:-360}" > "$OUT/study.log" 2>&1
python3 benchmarks/study.py --report-only --data-root .devdata --runs-dir runs/study --results-dir /tmp/res \
  --report /tmp/res/report.md > /dev/null 2>&1
cp /tmp/res/report.md /tmp/res/grid.md /tmp/res/records.tar.gz "$OUT/"
grep -c finished "$OUT/study.log"; grep FAILED "$OUT/study.log" | head
