#!/usr/bin/env bash
# The distributed benchmark: the same methods at 1 and 2 ranks (torchrun, gloo on CPU) on `small`, then the scaling
# figure and table in results/scaling/. Extra arguments go to pytest, e.g. ./run_scaling.sh --ckpt-model tiny.
# WORLD_SIZES="1 2 4" sets the world sizes (ranks on this host; at most one per GPU on CUDA).
source "$(dirname "$0")/scripts/setup.sh"
out=results/scaling
mkdir -p "$out"
methods=pytorch,safetensors,dcp,t5x,ts+tuned
runs=()
for n in ${WORLD_SIZES:-1 2}; do
  run="$out/ranks-$n.json"
  rm -f "$run"  # a failed run must not leave an earlier run's file to report
  echo "ckpt-bench: $n rank(s)"
  python -m torch.distributed.run --standalone --nproc-per-node "$n" -m pytest bench/ --benchmark-only \
    --ckpt-model small --ckpt-methods "$methods" --benchmark-json="$run" "$@" || exit $?
  runs+=("$run")
done
python -m plotting scaling "${runs[@]}" --out "$out"
