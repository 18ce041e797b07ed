"""Print a table of recorded runs: job duration and reduce-task placement per configuration.

Usage: `python data/runs/summarize.py data/runs/shared/index.jsonl`. For each (nodes,
partitions, wait): runs by status, mean job duration from the event log (s), and the
reduce tasks per host of each ok run (the study's "tasks per node"; a single entry means
every task stayed on the host holding the map output). The index is read by the tool's own
reader (`sparkdelay.eventlog.run_index`), leniently: a row torn by a crash is reported, not read.
"""

import sys
from collections import defaultdict

from sparkdelay.eventlog.run_index import read_index
from sparkdelay.ground.errors import UserError


def main(path: str) -> None:
    index = read_index(path, lenient=True)
    if index.torn_note:
        print(index.torn_note, file=sys.stderr)
    groups = defaultdict(list)
    for row in index.rows:
        r = row.fields
        groups[(r["nodes"], r["partitions"], r["wait_ms"])].append(r)
    print(f"{'N':>2} {'P':>3} {'wait':>5} {'runs':>9} {'job s':>6}  reduce tasks per host (per run)")
    for (n, p, w), rows in sorted(groups.items()):
        ok = [r for r in rows if r["status"].startswith("ok")]
        mean = sum(r["job_duration_ms"] for r in ok) / len(ok) / 1000 if ok else float("nan")
        hosts = "  ".join("/".join(str(v) for v in r["reduce_tasks_per_host"].values()) for r in ok)
        status = f"{len(ok)}/{len(rows)} ok"
        print(f"{n:>2} {p:>3} {w / 1000:>4g}s {status:>9} {mean:>6.1f}  {hosts}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python data/runs/summarize.py data/runs/shared/index.jsonl", file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except UserError as exc:
        print(f"summarize: error: {exc}", file=sys.stderr)
        sys.exit(2)
