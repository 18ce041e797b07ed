#!/usr/bin/env bash
# How the corpus is recorded (run from the repo root on a QUIET machine: nothing else running).
# Every command resumes: rerunning skips runs already in that folder's index.jsonl, so the
# recording can be spread over several sittings; `touch /tmp/record.stop` stops it at the next
# chunk boundary (one workload x one node count), losing nothing. Each row records the 1-minute
# load at its start (`loadavg_1m`).
set -u
cd "$(dirname "$0")/../.."
SD=.venv/bin/sparkdelay
JOBS=${JOBS:-"lenet sleep pyloop mlp-blas"}
# The grid: N = 1-3 x P in {1, 4, 8, 9, 14, 20, 40} x waits {0 s, 3 s}, workers sharing both cores.
for job in $JOBS; do
  for n in 1 2 3; do
    [ -e /tmp/record.stop ] && { echo "stop requested"; exit 0; }
    echo "=== $(date -u +%H:%M:%S) $job N=$n (load $(cut -d' ' -f1 /proc/loadavg))"
    $SD run --job "$job" --nodes $n --partitions 1,4,8,9,14,20,40 --wait 0s,3s --reps 1 \
        --out "data/corpus/$job/shared" --no-progress || echo "chunk failed: $?"
  done
done
# The noise floor: 3 repetitions of 6 configurations (rep 1 is the grid's own run).
for job in $JOBS; do
  [ -e /tmp/record.stop ] && { echo "stop requested"; exit 0; }
  echo "=== $(date -u +%H:%M:%S) $job repetitions"
  $SD run --job "$job" --nodes 1-3 --partitions 8,40 --wait 3s --reps 3 --out "data/corpus/$job/shared" --no-progress \
      || echo "chunk failed: $?"
done
echo "=== $(date -u +%H:%M:%S) all done"
