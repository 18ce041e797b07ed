"""The study's findings F1..F13 as checks over a simulated grid: each gives a verdict and the numbers.

Every check turns the paper's sentence into a rule stated next to the verdict (`rule`), reads
only the grid (means over repetitions, or every repetition where the paper says "every"), and
reports the numbers it used (`evidence`). A check whose points are not in the grid (a small test
grid, say) says "not testable" instead of guessing. The thresholds translate the paper's words
("about 1/3", "slightly", "almost the same") and are the same for every grid, so running the
checks on the Spark 4.0 grid shows which findings today's scheduler would still produce.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from statistics import mean
from typing import Callable, Sequence

from sparkdelay.sim.model.engine import simulate

from sparkdelay.app.presets import preset
from sparkdelay.app.report.grids import Grid, hash_sizes

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable"


@dataclass
class Finding:
    id: str
    statement: str
    rule: str
    status: str
    evidence: str
    short: str = ""      # a compact form of the evidence for headlines (default: the evidence)

    def __post_init__(self) -> None:
        self.short = self.short or self.evidence

    @property
    def reproduced(self) -> bool | None:
        return None if self.status == NOT_TESTABLE else self.status == REPRODUCED


STATEMENTS = {
    "F1": "Execution time falls to about 1/3 as P grows and flattens around P = 25 (wait 3 s).",
    "F2": "Adding nodes reduces time only slightly.",
    "F3": "For P = 1..25 time falls until P = 8, then moves up and down within a band.",
    "F4": "With wait 0 s or 1 s times barely change; N >= 2 is faster than N = 1, more nodes give no further gain.",
    "F5": "Tasks are unevenly spread even where time fell; fairness changes most between P = 5 and P = 15.",
    "F6": "N = 2 and N = 3 give almost the same times; from P >= 9 tasks spread over several nodes.",
    "F7": "For P >= 14 fairness is very high, yet fairness and time are not inversely related.",
    "F8": "With wait 3 s, up to P = 8 every task runs on one node.",
    "F9": "The most tasks on one node is the same for N = 2 and N = 3 up to P = 17.",
    "F10": "Wait 1 s spreads tasks like 3 s; wait 0 s spreads them evenly from P >= 2.",
    "F11": "N = 3, P = 9: wait 3 s gives 8 + 1 tasks (one node full first), wait 0 s gives 3/3/3.",
    "F12": "With P = 40, waits 3 s and 0 s behave almost the same.",
    "F13": "partitionBy(P) splits the 40 items unevenly; the largest partition bounds the job.",
}


def _na(fid: str, rule: str, missing: str) -> Finding:
    return Finding(fid, STATEMENTS[fid], rule, NOT_TESTABLE, f"grid lacks {missing}")


def _verdict(ok: bool) -> str:
    return REPRODUCED if ok else NOT_REPRODUCED


def _f(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n < 3:
        return float("nan")
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def _ps(grid: Grid, lo: int, hi: int) -> list[int]:
    return [P for P in grid.partitions if lo <= P <= hi]


def _multi(grid: Grid) -> list[int]:
    return [n for n in grid.nodes if n >= 2]


# ------------------------------------------------------------------------------- checks
def f1(g: Grid) -> Finding:
    rule = ("wait 3 s, every N: mean time over P = 25, 30, 35, 40 (the paper's step-5 grid) is 0.2..0.5 x "
            "the time at P = 1, and those times stay within +-15 % of their mean")
    flat = [P for P in (25, 30, 35, 40) if P in g.partitions]
    if 3.0 not in g.waits or 1 not in g.partitions or len(flat) < 2:
        return _na("F1", rule, "P = 1, two P >= 25 or wait 3 s")
    ratios, spreads = [], []
    for n in g.nodes:
        d1 = g.get(n, 1, 3.0).mean_duration
        tail = [p.mean_duration for p in g.series(n, 3.0, flat)]
        m = mean(tail)
        ratios.append(m / d1)
        spreads.append(max(abs(t - m) for t in tail) / m)
    ok = all(0.2 <= r <= 0.5 for r in ratios) and all(s <= 0.15 for s in spreads)
    return Finding("F1", STATEMENTS["F1"], rule, _verdict(ok),
                   f"time(P=25..40 step 5)/time(P=1) = {', '.join(_f(r) for r in ratios)} for N = "
                   f"{', '.join(map(str, g.nodes))}; largest deviation among those P: {max(spreads) * 100:.0f} %")


def f2(g: Grid) -> Finding:
    rule = ("wait 3 s, mean over P >= 2: time with the most nodes >= 0.7 x time with N = 1 "
            "(a gain under 30 %, where N-fold nodes could give up to 1 - 1/N)")
    nmax = max(g.nodes, default=1)
    ps = [P for P in g.partitions if P >= 2 and g.get(1, P, 3.0) and g.get(nmax, P, 3.0)]
    if nmax < 2 or not ps:
        return _na("F2", rule, "N = 1 and N >= 2 at wait 3 s with P >= 2")
    ratio = mean(g.get(nmax, P, 3.0).mean_duration / g.get(1, P, 3.0).mean_duration for P in ps)
    return Finding("F2", STATEMENTS["F2"], rule, _verdict(ratio >= 0.7),
                   f"time(N={nmax}) / time(N=1) = {_f(ratio)} on average over {len(ps)} values of P "
                   f"(gain {100 * (1 - ratio):.0f} %, ideal {100 * (1 - 1 / nmax):.0f} %)")


def f3(g: Grid) -> Finding:
    rule = ("wait 3 s, every N: time at P = 8 < 0.6 x time at P = 1, and no P in 9..25 is faster "
            "than 0.8 x the time at P = 8 (no further fall, only a band)")
    band = _ps(g, 9, 25)
    if 3.0 not in g.waits or 1 not in g.partitions or 8 not in g.partitions or not band:
        return _na("F3", rule, "P = 1, P = 8 and P in 9..25")
    falls, floors = [], []
    for n in g.nodes:
        d1, d8 = g.get(n, 1, 3.0).mean_duration, g.get(n, 8, 3.0).mean_duration
        falls.append(d8 / d1)
        floors.append(min(p.mean_duration for p in g.series(n, 3.0, band)) / d8)
    ok = all(x < 0.6 for x in falls) and all(x >= 0.8 for x in floors)
    return Finding("F3", STATEMENTS["F3"], rule, _verdict(ok),
                   f"time(P=8)/time(P=1) = {', '.join(_f(x) for x in falls)}; fastest P in 9..25 / time(P=8) = "
                   f"{', '.join(_f(x) for x in floors)} (N = {', '.join(map(str, g.nodes))})")


def f4(g: Grid) -> Finding:
    rule = ("P = 1..25: time at wait 0 s and 1 s within 15 % of wait 3 s on average; at waits 0 s/1 s, "
            "N = 2 faster than N = 1 and N >= 3 not more than 10 % faster than N = 2")
    ps = _ps(g, 1, 25)
    waits = [w for w in (0.0, 1.0) if w in g.waits]
    if not waits or 3.0 not in g.waits or not ps or not {1, 2} <= set(g.nodes):
        return _na("F4", rule, "wait 0 s or 1 s next to 3 s, and N = 1, 2")
    rel = [abs(g.get(n, P, w).mean_duration / g.get(n, P, 3.0).mean_duration - 1)
           for w in waits for n in g.nodes for P in ps]
    wait_change = mean(rel)
    d = {(n, w): mean(p.mean_duration for p in g.series(n, w, ps)) for n in g.nodes for w in waits}
    two_faster = all(d[(2, w)] < d[(1, w)] for w in waits)
    more = [d[(n, w)] / d[(2, w)] for w in waits for n in g.nodes if n >= 3]
    no_gain = all(x >= 0.9 for x in more)
    ok = wait_change <= 0.15 and two_faster and no_gain
    gains = ", ".join(f"{w:g} s: N=1 {d[(1, w)]:.1f} s, N=2 {d[(2, w)]:.1f} s, best N>=3 "
                      f"{min((d[(n, w)] for n in g.nodes if n >= 3), default=float('nan')):.1f} s" for w in waits)
    return Finding("F4", STATEMENTS["F4"], rule, _verdict(ok),
                   f"mean |time(wait)/time(3 s) - 1| = {wait_change * 100:.0f} %; mean time over P<=25: {gains}")


def f5(g: Grid) -> Finding:
    rule = ("wait 3 s, N = 2 and 3: fairness at P = 8 (time has fallen) <= 1/N + 0.05, and the rise of "
            "fairness from P = 5 to P = 15 is at least half its whole range over the grid")
    ns = [n for n in (2, 3) if n in g.nodes]
    if not ns or 3.0 not in g.waits or not {5, 8, 15} <= set(g.partitions):
        return _na("F5", rule, "N = 2 or 3 and P = 5, 8, 15")
    parts = []
    ok = True
    for n in ns:
        j = {P: g.get(n, P, 3.0).mean_fairness for P in g.partitions}
        j8 = j[8]
        span = max(j.values()) - min(j.values())
        share = (j[15] - j[5]) / span if span > 0 else 0.0
        ok &= j8 <= 1 / n + 0.05 and share >= 0.5
        parts.append(f"N={n}: J(P=8) = {_f(j8)}, J(15) - J(5) = {_f(j[15] - j[5])} of range {_f(span)}")
    return Finding("F5", STATEMENTS["F5"], rule, _verdict(ok), "; ".join(parts))


def f6(g: Grid) -> Finding:
    rule = ("wait 3 s: time of N = 3 within 10 % of N = 2 on average over P; every run with P <= 8 "
            "uses one node and the mean number of nodes used exceeds 1 from P = 9 on")
    if not {2, 3} <= set(g.nodes) or 3.0 not in g.waits:
        return _na("F6", rule, "N = 2 and 3 at wait 3 s")
    diff = mean(abs(g.get(3, P, 3.0).mean_duration / g.get(2, P, 3.0).mean_duration - 1) for P in g.partitions)
    firsts = []
    ok_spread = True
    for n in (2, 3):
        series = g.series(n, 3.0)
        first = next((p.partitions for p in series if p.mean_hosts_used > 1), None)
        firsts.append(first)
        ok_spread &= all(max(p.hosts_used) == 1 for p in series if p.partitions <= 8)
        ok_spread &= all(p.mean_hosts_used > 1 for p in series if p.partitions >= 9)
    ok = diff <= 0.10 and ok_spread
    return Finding("F6", STATEMENTS["F6"], rule, _verdict(ok),
                   f"mean |time(N=3)/time(N=2) - 1| = {diff * 100:.0f} %; first P with tasks on several nodes: "
                   f"N=2 {firsts[0]}, N=3 {firsts[1]}")


def f7(g: Grid) -> Finding:
    rule = ("wait 3 s, N = 2 and 3, P >= 14: mean fairness >= 0.9 at every P, and the correlation of "
            "fairness with time over those P is not strongly negative (r > -0.5)")
    ns = [n for n in (2, 3) if n in g.nodes]
    ps = _ps(g, 14, 40)
    if not ns or 3.0 not in g.waits or len(ps) < 3:
        return _na("F7", rule, "N = 2 or 3 and three P >= 14")
    ok, parts = True, []
    for n in ns:
        series = g.series(n, 3.0, ps)
        jmin = min(p.mean_fairness for p in series)
        r = _pearson([p.mean_fairness for p in series], [p.mean_duration for p in series])
        ok &= jmin >= 0.9 and not (r <= -0.5)
        parts.append(f"N={n}: lowest J = {_f(jmin)}, r(J, time) = {_f(r)}")
    return Finding("F7", STATEMENTS["F7"], rule, _verdict(ok), "; ".join(parts))


def f8(g: Grid) -> Finding:
    rule = "wait 3 s, P <= 8: the most tasks on one host == P in every run, for every N"
    pts = [g.get(n, P, 3.0) for n in g.nodes for P in _ps(g, 1, 8)]
    pts = [p for p in pts if p is not None]
    if not pts:
        return _na("F8", rule, "wait 3 s with P <= 8")
    runs = sum(p.runs for p in pts)
    hits = sum(1 for p in pts for m in p.max_tasks if m == p.partitions)
    return Finding("F8", STATEMENTS["F8"], rule, _verdict(hits == runs),
                   f"{hits} of {runs} runs (N = {min(g.nodes)}..{max(g.nodes)}, "
                   f"P = {min(p.partitions for p in pts)}..{max(p.partitions for p in pts)}) put all P tasks on one host",
                   short=f"all tasks on one host in {hits}/{runs} runs with P <= 8")


def f9(g: Grid) -> Finding:
    rule = "wait 3 s, P <= 17: mean most-tasks-on-one-host of N = 2 and N = 3 within 1 task at every P"
    ps = _ps(g, 1, 17)
    if not {2, 3} <= set(g.nodes) or 3.0 not in g.waits or not ps:
        return _na("F9", rule, "N = 2 and 3 with P <= 17")
    diffs = {P: abs(g.get(2, P, 3.0).mean_max_tasks - g.get(3, P, 3.0).mean_max_tasks) for P in ps}
    bad = [P for P, d in diffs.items() if d > 1.0]
    return Finding("F9", STATEMENTS["F9"], rule, _verdict(not bad),
                   f"largest difference {max(diffs.values()):.1f} tasks over {len(ps)} values of P"
                   + (f"; differ by > 1 at P = {', '.join(map(str, bad))}" if bad else ""))


def f10(g: Grid) -> Finding:
    rule = ("mean most-tasks-on-one-host at wait 1 s within 1 task of wait 3 s at >= 90 % of points; "
            "wait 0 s, P = 2..8, N >= 2: it equals ceil(P/N) (an even spread) at every P (mean within 0.5)")
    if 1.0 not in g.waits or 0.0 not in g.waits or 3.0 not in g.waits or not _multi(g):
        return _na("F10", rule, "waits 0 s, 1 s and 3 s and N >= 2")
    keys = [(n, P) for n in g.nodes for P in g.partitions]
    like = sum(1 for n, P in keys if abs(g.get(n, P, 1.0).mean_max_tasks - g.get(n, P, 3.0).mean_max_tasks) <= 1.0)
    share = like / len(keys)
    even_pts = [(n, P) for n in _multi(g) for P in _ps(g, 2, 8)]
    even = [abs(g.get(n, P, 0.0).mean_max_tasks - math.ceil(P / n)) <= 0.5 for n, P in even_pts]
    ok = share >= 0.9 and bool(even_pts) and all(even)
    return Finding("F10", STATEMENTS["F10"], rule, _verdict(ok),
                   f"wait 1 s like 3 s at {share * 100:.0f} % of {len(keys)} points; wait 0 s even at "
                   f"{sum(even)} of {len(even)} points with P = 2..8, N >= 2")


def f11(g: Grid) -> Finding:
    rule = "N = 3, P = 9: tasks per host (sorted) are 8/1/0 at wait 3 s and 3/3/3 at wait 0 s, in most runs"
    p3, p0 = g.get(3, 9, 3.0), g.get(3, 9, 0.0)
    if p3 is None or p0 is None:
        return _na("F11", rule, "N = 3, P = 9 at waits 3 s and 0 s")
    a = sum(1 for t in p3.tasks_per_host if sorted(t, reverse=True) == [8, 1, 0])
    b = sum(1 for t in p0.tasks_per_host if sorted(t) == [3, 3, 3])
    ok = a > p3.runs / 2 and b > p0.runs / 2
    common3 = _most_common(p3.tasks_per_host)
    common0 = _most_common(p0.tasks_per_host)
    return Finding("F11", STATEMENTS["F11"], rule, _verdict(ok),
                   f"8/1/0 in {a} of {p3.runs} runs at 3 s (most common {common3}); "
                   f"3/3/3 in {b} of {p0.runs} runs at 0 s (most common {common0})",
                   short=f"8/1/0 in {a}/{p3.runs} runs at 3 s, 3/3/3 in {b}/{p0.runs} at 0 s")


def f12(g: Grid) -> Finding:
    rule = ("N = 3, P = 40 (the paper's figures 17/18): mean fairness >= 0.85 at both waits and within 0.1, "
            "most tasks on one host within 3 tasks, and the job at wait 3 s at most one wait plus one revive "
            "interval (4 s) longer: the paper compares behaviour (its timelines), and at 3 s the non-local tasks "
            "can only start one wait later")
    a, b = g.get(3, 40, 3.0), g.get(3, 40, 0.0)
    if a is None or b is None:
        return _na("F12", rule, "N = 3, P = 40 at waits 3 s and 0 s")
    ja, jb = a.mean_fairness, b.mean_fairness
    dt = abs(a.mean_duration - b.mean_duration)
    ok = min(ja, jb) >= 0.85 and abs(ja - jb) <= 0.1 and abs(a.mean_max_tasks - b.mean_max_tasks) <= 3 and dt <= 4.0
    others = [f"N={n}: {p3.mean_duration:.1f} vs {p0.mean_duration:.1f} s" for n in _multi(g) if n != 3
              and (p3 := g.get(n, 40, 3.0)) is not None and (p0 := g.get(n, 40, 0.0)) is not None]
    return Finding("F12", STATEMENTS["F12"], rule, _verdict(ok),
                   f"3 s vs 0 s: time {a.mean_duration:.1f} vs {b.mean_duration:.1f} s, fairness {ja:.2f} vs {jb:.2f}, "
                   f"max/host {a.mean_max_tasks:.1f} vs {b.mean_max_tasks:.1f}"
                   + (f" (other N: {'; '.join(others)})" if others else ""))


def f13(g: Grid, critical: "CriticalPath | None" = None) -> Finding:
    rule = ("P = 40: the largest hash partition holds more than ceil(40/P) = 1 item, and in most simulated "
            "runs (N = 3, wait 3 s) the result stage's last task to finish is one of the largest partitions")
    sizes = hash_sizes(40)
    biggest = max(sizes)
    text = f"at P = 40 the largest partition holds {biggest} items, {sum(1 for s in sizes if s == 0)} partitions are empty"
    if critical is None:
        return Finding("F13", STATEMENTS["F13"], rule, NOT_TESTABLE, text + "; no critical-path runs")
    ok = biggest > 1 and critical.hits > critical.runs / 2
    return Finding("F13", STATEMENTS["F13"], rule, _verdict(ok),
                   text + f"; the last task to finish held {biggest} items in {critical.hits} of {critical.runs} runs "
                   f"(on average it held {critical.last_items:.1f} items and started {critical.last_launch_s - critical.first_launch_s:.1f} s "
                   f"after the stage's first task)")


def _most_common(rows: list[list[int]]) -> str:
    (best, _), = Counter(tuple(sorted(r, reverse=True)) for r in rows).most_common(1)
    return "/".join(map(str, best))


@dataclass
class CriticalPath:
    """How often the last-finishing result task of a run holds one of the largest partitions."""

    runs: int
    hits: int
    last_items: float = float("nan")     # mean items of the last task to finish
    last_launch_s: float = float("nan")  # mean launch time of that task (s since the action)
    first_launch_s: float = float("nan") # mean first launch of the result stage


def critical_path(version: str, nodes: int, partitions: int, wait: str, seeds: Sequence[int],
                  model=None) -> CriticalPath:
    cluster, job = preset("study2017", nodes=nodes, partitions=partitions, wait=wait, spark_version=version)
    biggest = max(len(m) for m in job.pyspark.reduce_members)
    hits, items, launch, first = 0, [], [], []
    for seed in seeds:
        res = simulate(cluster, job, model, seed)
        tasks = res.stage_tasks()
        last = max(tasks, key=lambda t: t.finish_time)
        hits += last.items == biggest
        items.append(last.items)
        launch.append(last.launch_time)
        first.append(min(t.launch_time for t in tasks))
    return CriticalPath(len(seeds), hits, mean(items), mean(launch), mean(first))


CHECKS: list[Callable[[Grid], Finding]] = [f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12]


def evaluate(grid: Grid, critical: CriticalPath | None = None) -> list[Finding]:
    return [check(grid) for check in CHECKS] + [f13(grid, critical)]
