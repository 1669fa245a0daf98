#!/usr/bin/env bash
# The main job: the six-way benchmark on the default model (small), then the tables and figures in results/.
# Extra arguments go to pytest, e.g. ./run_benchmark.sh --ckpt-model tiny --ckpt-dir /mnt/nvme
source "$(dirname "$0")/scripts/setup.sh"
# The report reads exactly the run just made (not the newest under some storage): this run's --benchmark-json,
# the user's own if one is given.
run=results/run.json
previous=""
for arg in "$@"; do
  case $arg in --benchmark-json=*) run=${arg#*=} ;; esac
  [ "$previous" = "--benchmark-json" ] && run=$arg
  previous=$arg
done
mkdir -p results "$(dirname "$run")"
started=results/.run-started  # a run file older than this marker is an earlier run's: a failed run reports nothing
touch "$started"
status=0
python -m pytest bench/ --benchmark-only --benchmark-json=results/run.json "$@" || status=$?
if [ -s "$run" ] && [ "$run" -nt "$started" ]; then
  python -m plotting "$run" --out results || status=$((status ? status : $?))
else
  echo "ckpt-bench: this run stored nothing in $run, so there is no report" >&2
fi
exit "$status"
