#!/usr/bin/env bash
# How the bundled real sweeps were recorded (run from the repo root; each command resumes:
# rerunning skips runs already in that folder's index.jsonl). Recorded in this order on
# 2026-11-29; see README.md beside this file for times and machine load.
set -u
cd "$(dirname "$0")/../.."
SD=.venv/bin/sparkdelay
COMMON=(--wait 0s,3s --eventlog-codec zstd --webui-port 0 --no-progress --state-dir .sparkdelay/sweep-cluster)

# 1. data/runs-busy/shared: workers share both CPUs, recorded while other jobs loaded the machine.
$SD run --nodes 1-3 --reps 1 --partitions 1,2,4,5,8,9,12,16,20,30,40 --out data/runs-busy/shared "${COMMON[@]}"
# 2. data/runs/pinned: worker i pinned to CPU i-1.
$SD run --nodes 1-2 --reps 1 --pin --partitions 1,2,4,5,8,9,12,16,20,30,40 --out data/runs/pinned "${COMMON[@]}"
# 3. data/runs/shared: workers share both CPUs, quiet machine; N = 2 and 3 first, then 1.
for n in 2 3 1; do
  $SD run --nodes $n --reps 1 --partitions 1,2,4,8,9,12,16,20,40 --out data/runs/shared "${COMMON[@]}"
done
