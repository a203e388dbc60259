#!/usr/bin/env bash
# On a lent CUDA machine (see benchmarks/gpu_check.py): wheels carried in .whl/ (bitsandbytes,
# llguidance, transformers, peft, jsonschema) go to /tmp/site; the repo's folders are laid out as
# the installed `ledgerlens` package would be; then the check runs. Usage: bash benchmarks/gpu_check.sh OUT_DIR
set -euo pipefail
out=${1:-build/gpu-check}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r ledgerlens /tmp/pkg/
for d in pipeline flows schemas models; do ln -s "$PWD/$d" "/tmp/pkg/ledgerlens/$d"; done
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv
export PYTHONPATH=/tmp/site:/tmp/pkg HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 benchmarks/gpu_check.py "$out"
