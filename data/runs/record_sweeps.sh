#!/usr/bin/env bash
# How data/runs/shared and data/runs/pinned were recorded (run from the repo root).
# Resumable: rerunning skips runs already in each index.jsonl. One repetition of both
# sweeps is recorded first, then the second, so an interrupted recording still covers
# every configuration once.
set -u
cd "$(dirname "$0")/../.."
SD=.venv/bin/sparkdelay
P=1,2,4,5,8,9,12,16,20,30,40
COMMON=(--partitions "$P" --wait 0s,3s --eventlog-codec zstd --webui-port 0 --no-progress
        --state-dir .sparkdelay/sweep-cluster)
for reps in 1 2; do
  echo "== shared reps=$reps $(date -u +%FT%TZ)"
  $SD run --nodes 1-3 --reps $reps --out data/runs/shared "${COMMON[@]}"
  echo "== pinned reps=$reps $(date -u +%FT%TZ)"
  $SD run --nodes 1-2 --reps $reps --pin --out data/runs/pinned "${COMMON[@]}"
done
echo "== finished $(date -u +%FT%TZ)"
