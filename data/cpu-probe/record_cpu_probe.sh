#!/usr/bin/env bash
# Where the CPU of a run goes (issue 11): real runs of `sleep` and `pyloop` at N = 1 and 3 with
# every Spark and PySpark process's CPU sampled 10 times a second (cpu_sampler.py), so the cost
# of a cold executor's first wave can be split between the executor JVMs, the Python daemons,
# the forked workers and the tasks' own work, and the workers' fork times read off their create
# times. Run from the repo root on a QUIET machine; resumes (rows already in an index are skipped).
set -u
cd "$(dirname "$0")/../.."
SD=.venv/bin/sparkdelay
OUT=data/cpu-probe
STAMP=$(date -u +%Y%m%dT%H%M%S)
.venv/bin/python $OUT/cpu_sampler.py "$OUT/cpu-$STAMP.jsonl" &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null' EXIT
# job  nodes  partitions  reps
CHUNKS="
sleep 1 40 2
sleep 3 40 2
pyloop 1 40 2
pyloop 3 40 2
sleep 3 20 1
pyloop 3 20 1
sleep 2 40 1
pyloop 2 40 1
"
echo "$CHUNKS" | while read -r job n ps reps; do
  [ -z "$job" ] && continue
  mkdir -p "$OUT/$job"
  cp -n "data/corpus/$job/shared/cluster.yaml" "$OUT/$job/cluster.yaml"
  echo "=== $(date -u +%H:%M:%S) $job N=$n P=$ps x$reps (load $(cut -d' ' -f1 /proc/loadavg))"
  $SD run --job "$job" --nodes "$n" --partitions "$ps" --wait 0s --reps "$reps" \
      --out "$OUT/$job" --no-progress || echo "chunk failed: $?"
done
kill $SAMPLER; wait $SAMPLER
# Bundled compactly: the samples as zstd (about 15x smaller), read by analyse.py.
.venv/bin/python -c "import sys, zstandard; d = open(sys.argv[1], 'rb').read(); open(sys.argv[1] + '.zst', 'wb').write(zstandard.ZstdCompressor(level=19).compress(d))" "$OUT/cpu-$STAMP.jsonl" && rm "$OUT/cpu-$STAMP.jsonl"
echo "=== $(date -u +%H:%M:%S) all done"
