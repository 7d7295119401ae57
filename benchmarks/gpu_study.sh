#!/usr/bin/env bash
# The study's pending runs (issue 27) on a lent GPU machine, in one device call with carry [".whl", ".devdata",
# ".gitcarry"]:
#   MINUTES=8 bash benchmarks/gpu_study.sh [study.py options, e.g. --cells protocol-b protocol-a-rerun]
# Prepared here first: LWKD_DATA_DIR=../shared/data bash benchmarks/gpu_prepare.sh (the data, the code's .git, the
#   wheels of the versions installed here, which the records hold: a finished run whose arguments, defaults
#   included, parse otherwise under another transformers stops the study, lwkd compare's check).
# The runs are planned with absolute paths that their records hold (/work/shared/data, /work/runs/study), so the
# script links /work/shared/data to .devdata and restores the committed records and teachers into STUDY_RUNS
# (RESTORE=0: start from an empty folder). benchmarks/study.py then runs through benchmarks/gpu.sh without Ray,
# which the GPU image lacks (lwkd compare's run_in_pool: a process per run, JOBS at once, each 1/JOBS of the GPU),
# and is stopped after MINUTES (the runs under way finish: leave the call's limit a run's time beyond MINUTES).
# Every run finished here goes to $OUT/study-runs.tar.gz: its records and log, and a teacher's weights (no student
# weights, no pickles). protocol-a-rerun needs a clean git checkout there (its runs exist to record their commit).
# Back here:
#   python benchmarks/study.py --merge study-runs.tar.gz --runs-dir /work/runs/study --results-dir docs/results/study \
#       --report docs/results.md   # whole run folders; one finished here too is kept
set -uo pipefail
runs=${STUDY_RUNS:-/work/runs/study} jobs=${JOBS:-8} minutes=${MINUTES:-8}
mkdir -p /work/shared "$runs" "${OUT:-/tmp}"
[ -e /work/shared/data ] || ln -s "$PWD/.devdata" /work/shared/data
if ! git rev-parse HEAD >/dev/null 2>&1; then  # a copy without .git: the carried shallow clone's makes it a checkout
    { [ -d .gitcarry/.git ] && mv .gitcarry/.git .git && git reset -q; } ||
        echo "no .git and no .gitcarry: the runs record no commit" >&2
fi
echo "code: $(git rev-parse HEAD 2>/dev/null || echo none), changes to tracked files: $(git status --porcelain \
    --untracked-files=no 2>/dev/null | wc -l)"
if [ "${RESTORE:-1}" = 1 ]; then
    tar xzf docs/results/study/records.tar.gz -C "$runs" && tar xzf docs/results/study/teachers.tar.gz -C "$runs" || exit 1
fi
start=$(date +%s)
SKIP_GPU_TESTS=1 bash benchmarks/gpu.sh timeout --foreground --signal=INT $((minutes * 60)) python3 benchmarks/study.py \
    --data-root /work/shared/data --runs-dir "$runs" --results-dir /tmp/study-results --jobs "$jobs" \
    --gpus-per-run "$(python3 -c "print(1 / $jobs)")" "$@"
echo "study.py stopped with status $?"
python3 - "$runs" "$start" "${OUT:-/tmp}/study-runs.tar.gz" <<'EOF'
import sys
import tarfile
from pathlib import Path

root, start, archive = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
new = sorted(m.parent for m in root.rglob("compare_run.json") if m.stat().st_mtime >= start)
with tarfile.open(archive, "w:gz") as tar:
    for directory in new:
        teacher = directory.relative_to(root).parts[0] in ("teachers", "kd_teacher")
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.name != "training_args.bin" and (teacher or path.name != "model.safetensors"):
                tar.add(path, arcname=str(path.relative_to(root)))
print(f"{len(new)} runs finished here, in {archive}:", *(d.relative_to(root) for d in new), sep="\n  ")
EOF
