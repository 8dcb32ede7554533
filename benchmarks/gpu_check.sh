#!/usr/bin/env bash
# GPU check: batched vs one-at-a-time adapter training on an SD 1.5-architecture UNet with random
# weights (no download), 64x64 latents. Needs a CUDA machine with torch, diffusers and peft (the
# project installed with `pip install -e .`, or this checkout's src/ on PYTHONPATH).
#
#   bash benchmarks/gpu_check.sh            # writes benchmarks/results/gpu_throughput.json
#   bash benchmarks/gpu_check.sh --out F    # extra arguments go to benchmarks/gpu_throughput.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" "$PY" benchmarks/gpu_throughput.py "$@"
