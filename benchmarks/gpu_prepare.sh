#!/usr/bin/env bash
# Prepares, here, what benchmarks/gpu_study.sh carries to a lent GPU machine (carry [".whl", ".devdata", ".gitcarry"],
# all three ignored by git): .devdata, a copy of the data folder ($LWKD_DATA_DIR); .gitcarry, a shallow clone of HEAD
# (a copy of the tree without .git would record no commit); .whl, wheels of the library versions installed here,
# which the study's records hold, for the machine's Python (3.12: .library/device/KINDS.md), without dependencies
# beyond those the GPU image lacks in a version they need (huggingface_hub for transformers).
#   LWKD_DATA_DIR=../shared/data bash benchmarks/gpu_prepare.sh
set -euo pipefail
data=${LWKD_DATA_DIR:?set LWKD_DATA_DIR to the data folder}
version() { python3 -c "from importlib.metadata import version; print(version('$1'))"; }
rm -rf .devdata .gitcarry .whl
cp -rL "$data" .devdata
git clone -q --depth 1 --no-checkout "file://$PWD" .gitcarry  # its .git alone, 11 MB
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "warning: the tree has changes that .gitcarry lacks" >&2
wheels=()
for name in transformers datasets accelerate evaluate dill multiprocess huggingface_hub; do
    wheels+=("$name==$(version "$name")")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "${wheels[@]}"
ls .whl
du -sch .whl .devdata .gitcarry | tail -1
