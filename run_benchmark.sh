#!/usr/bin/env bash
# The main job: the six-way benchmark on the default model (small), then the tables and figures in results/.
# Extra arguments go to pytest, e.g. ./run_benchmark.sh --ckpt-model tiny --ckpt-dir /mnt/nvme
source "$(dirname "$0")/scripts/setup.sh"
python -m pytest bench/ --benchmark-only "$@"
python -m plotting --out results
