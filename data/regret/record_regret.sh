#!/usr/bin/env bash
# The regret sitting (issue 15): the configurations whose ranking decides the regret, repeated in
# one sitting, so "best measured" is a mean of repetitions and not the luckiest single run of the
# corpus grid. Per workload: the 5 fastest configurations of its corpus grid (single runs) and
# every configuration `recommend --corpus` chose (fixed and span designs, linear and trace fits,
# inside and outside the calibrated range), 3 repetitions each. Spark's defaults and N1 P1 are
# left out: their corpus runs are 70-160 % slower than the best, beyond any noise.
# Run from the repo root on a QUIET machine; resumes (rows already in an index are skipped);
# `touch /tmp/record.stop` stops at the next chunk boundary.
set -u
cd "$(dirname "$0")/../.."
SD=.venv/bin/sparkdelay
REPS=${REPS:-3}
# job  nodes  wait  partitions
CHUNKS="
lenet 1 0s 4,8
lenet 1 3s 4
lenet 2 0s 4
lenet 2 3s 4
lenet 3 0s 4
mlp 1 0s 2,4,8
mlp 1 3s 2,4
mlp 2 0s 2
mlp 2 3s 2
mlp 3 3s 2
mlp-blas 1 0s 4,8
mlp-blas 1 3s 8
mlp-blas 2 0s 4
mlp-blas 2 3s 4
mlp-blas 3 0s 4
mlp-blas 3 3s 4
pyloop 1 0s 4,8
pyloop 1 3s 4,8
pyloop 2 3s 8
sleep 1 0s 4,8
sleep 1 3s 8
sleep 2 0s 8
sleep 2 3s 8
sleep 3 0s 8
"
echo "$CHUNKS" | while read -r job n w ps; do
  [ -z "$job" ] && continue
  [ -e /tmp/record.stop ] && { echo "stop requested"; exit 0; }
  mkdir -p "data/regret/$job"
  cp -n "data/corpus/$job/shared/cluster.yaml" "data/regret/$job/cluster.yaml"
  echo "=== $(date -u +%H:%M:%S) $job N=$n wait $w P $ps (load $(cut -d' ' -f1 /proc/loadavg))"
  $SD run --job "$job" --nodes "$n" --partitions "$ps" --wait "$w" --reps "$REPS" \
      --out "data/regret/$job" --no-progress || echo "chunk failed: $?"
done
echo "=== $(date -u +%H:%M:%S) all done"
