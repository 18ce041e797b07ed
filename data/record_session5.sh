#!/usr/bin/env bash
# Recordings of 2026-12-02 evening, on a QUIET machine (nothing else running), in one sitting;
# every command resumes (rerun skips finished runs), `touch /tmp/record.stop` stops between steps.
set -u
cd "$(dirname "$0")/.."
SD=.venv/bin/sparkdelay
step() { [ -e /tmp/record.stop ] && { echo "stop requested"; exit 0; }; echo "=== $(date -u +%H:%M:%S) $* (load $(cut -d' ' -f1 /proc/loadavg))"; }
# 1. pyloop N = 1 in a sitting of its own (its 05:09 grid is in pyloop/other-sitting), with a
#    bridge run (N2 P8 w3s rep 4) to compare with the 17:xx sitting of its N = 2-3 runs.
step pyloop N=1 grid and repetitions
$SD run --job pyloop --nodes 1 --partitions 1,4,8,9,14,20,40 --wait 0s,3s --reps 1 --out data/corpus/pyloop/shared --no-progress
$SD run --job pyloop --nodes 1 --partitions 8,40 --wait 3s --reps 3 --out data/corpus/pyloop/shared --no-progress
$SD run --job pyloop --nodes 2 --partitions 8 --wait 3s --reps 4 --out data/corpus/pyloop/shared --no-progress
# 2. The multi-stage jobs of issue 12: N = 1-3 x P in {2, 4} x waits 0 s / 3 s.
for job in wordcount sqlagg; do
  step $job
  $SD run --job $job --nodes 1-3 --partitions 2,4 --wait 0s,3s --reps 1 --out data/dagjobs/$job --no-progress
done
# 3. Even vs hash partitioning where the model predicts the largest and a typical gain (mlp).
step even vs hash
for part in hash even; do
  $SD run --job mlp --nodes 2 --partitions 2 --wait 0s --reps 3 --partitioner $part --out data/even --no-progress
  $SD run --job mlp --nodes 3 --partitions 6 --wait 3s --reps 3 --partitioner $part --out data/even --no-progress
  $SD run --job mlp --nodes 2 --partitions 9 --wait 3s --reps 3 --partitioner $part --out data/even --no-progress
done
step all done
