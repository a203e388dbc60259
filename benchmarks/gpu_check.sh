#!/usr/bin/env bash
# On a lent CUDA machine (see benchmarks/gpu_check.py): wheels carried in .whl/ (bitsandbytes,
# llguidance, transformers, peft, accelerate, jsonschema) go to /tmp/site; the repo's folders are laid out as
# the installed `ledgerlens` package would be; then the check runs, then a QLoRA training run on the
# full-size Qwen2-VL-2B architecture with random weights (benchmarks/bench_train.py full --qlora:
# steps/s, peak GPU memory). Usage: bash benchmarks/gpu_check.sh OUT_DIR
# Fill .whl/ (ignored by git) beforehand where pip works, for the machine's Python (3.12 there):
#   pip download --no-deps -d .whl bitsandbytes==0.50.2 transformers==5.24.0 peft==0.21.2 llguidance==1.9.1 \
#       accelerate==1.15.0
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d .whl \
#       jsonschema==4.26.0 referencing==0.37.0 jsonschema-specifications==2025.9.1 rpds-py
set -euo pipefail
out=${1:-build/gpu-check}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r ledgerlens /tmp/pkg/
for d in pipeline flows schemas models; do ln -s "$PWD/$d" "/tmp/pkg/ledgerlens/$d"; done
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv
export PYTHONPATH=/tmp/site:/tmp/pkg HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 benchmarks/gpu_check.py "$out"
# QLoRA: the random 2B model saved in bf16 (~4.4 GB under /tmp), loaded back in 4 bits by the engine's
# loader, LoRA attached as `ledgerlens train --qlora` does; 5 steps, the first one is warm-up.
python3 benchmarks/bench_train.py full --qlora --steps 5 --out "$out/bench-train.json"
