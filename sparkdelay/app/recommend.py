"""Recommend a configuration: search nodes x partitions x executor cores x `spark.locality.wait`
(x partitionBy's function, hash or even, for a PySpark-form job) with the model, and say which
configuration wins, by how much, and why.

The search is successive halving on seeds: every configuration of the space is simulated with
a few seeds, the best third (at least `KEEP_AT_LEAST`) get more seeds, and so on until the
survivors have `reps` seeds each, enough for a 95 % interval of their mean; a large space thus
costs a few simulations per configuration, not `reps`. Each simulation's seed is derived from
the base seed and the configuration (SHA-256), so the answer never depends on the order or the
size of the search. The objective is the mean job time (`time`) or its cost (`cost`:
executor-seconds, or core-seconds with `cost_unit="core"`), optionally under `max_nodes` and a
`deadline` on the mean time.

For every recommendation the result carries its placement (the most frequent sorted
tasks-per-host vector, mean tasks per locality level), the Pareto front of time vs cost over
everything evaluated, the best configuration per node count (what fewer nodes give up), and
two references: Spark's defaults (`spark.default.parallelism` = total cores as the partition
count, wait 3 s, the most nodes) and "most partitions, most nodes".
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec
from sparkdelay.sim.model.metrics import mean_interval

KEEP_AT_LEAST = 8
FIRST_RUNG_SEEDS = 3
SPARK_DEFAULT_WAIT = "3s"


@dataclass(frozen=True, order=True)
class Config:
    nodes: int
    partitions: int
    wait: str
    cores: int
    partitioner: str = "hash"   # partitionBy's function: hash (Spark's default) or even

    def label(self) -> str:
        label = f"N={self.nodes} P={self.partitions} wait={self.wait} cores={self.cores}"
        # hash is what every job without the option runs: named only when it is not the default
        return label if self.partitioner == "hash" else f"{label} partitioner={self.partitioner}"

    def seed(self, base_seed: int, rep: int) -> int:
        text = f"{base_seed}|{self.nodes}|{self.partitions}|{parse_duration_ms(self.wait, 'wait'):g}|{self.cores}|{rep}"
        if self.partitioner != "hash":   # hash configurations keep the seeds they had before the option
            text += f"|{self.partitioner}"
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


# What to simulate for a configuration: (cluster, job, cost model).
Builder = Callable[[Config], tuple[ClusterSpec, JobSpec, CostModel]]


@dataclass
class Evaluated:
    config: Config
    executors: int
    total_cores: int
    times: list[float] = field(default_factory=list)
    vectors: Counter = field(default_factory=Counter)      # sorted tasks-per-host -> simulations
    locality: Counter = field(default_factory=Counter)     # level -> tasks, summed over simulations
    hosts_used: Counter = field(default_factory=Counter)

    @property
    def mean_s(self) -> float:
        return sum(self.times) / len(self.times)

    def interval_s(self) -> tuple[float, float]:
        _, lo, hi = mean_interval(self.times)
        return lo, hi

    def cost(self, unit: str) -> float:
        """Executor-seconds (or core-seconds) of the mean job time."""
        return self.mean_s * (self.total_cores if unit == "core" else self.executors)

    def placement(self) -> dict:
        n = len(self.times)
        vector, _ = self.vectors.most_common(1)[0]
        return {"tasks_per_host": list(vector), "locality_counts": {k: v / n for k, v in sorted(self.locality.items())},
                "hosts_used": self.hosts_used.most_common(1)[0][0]}

    def add(self, cluster: ClusterSpec, job: JobSpec, model: CostModel, seed: int) -> None:
        r = simulate(cluster, job, model, seed=seed)
        self.times.append(r.job_duration_s)
        m = r.metrics()
        self.vectors[tuple(sorted(m["tasks_per_host"].values(), reverse=True))] += 1
        self.locality.update(m["locality_counts"])
        self.hosts_used[m["hosts_used"]] += 1


@dataclass(frozen=True)
class Space:
    nodes: tuple[int, ...]
    partitions: tuple[int, ...]
    waits: tuple[str, ...]
    cores: tuple[int, ...]
    partitioners: tuple[str, ...] = ("hash",)

    def configs(self, max_nodes: int | None = None) -> list[Config]:
        return [Config(n, p, w, c, q) for n in self.nodes if max_nodes is None or n <= max_nodes
                for p in self.partitions for w in self.waits for c in self.cores for q in self.partitioners]


def _objective(e: Evaluated, objective: str, unit: str) -> float:
    return e.mean_s if objective == "time" else e.cost(unit)


def search(space: Space, build: Builder, objective: str = "time", cost_unit: str = "executor", reps: int = 20,
           seed: int = 0, max_nodes: int | None = None, deadline_s: float | None = None, top: int = 3,
           progress: Callable[[int], None] | None = None) -> dict:
    """Successive halving over the space; the best `top` configurations and the references."""
    if objective not in ("time", "cost"):
        raise UserError(f"--objective: expected time or cost, got {objective!r}")
    configs = space.configs(max_nodes)
    if not configs:
        raise UserError(f"--max-nodes: no node count of the search ({', '.join(map(str, space.nodes))}) "
                        f"is at most {max_nodes}")
    built: dict[Config, tuple] = {}
    evals: dict[Config, Evaluated] = {}

    def evaluate(c: Config, n: int) -> Evaluated:
        if c not in built:
            built[c] = build(c)
        cluster, job, model = built[c]
        e = evals.get(c)
        if e is None:
            e = evals[c] = Evaluated(c, len(cluster.executors), sum(x.cores for x in cluster.executors))
        while len(e.times) < n:
            e.add(cluster, job, model, c.seed(seed, len(e.times)))
            if progress is not None:
                progress(1)
        return e

    def rank(es: list[Evaluated]) -> list[Evaluated]:
        ok = [e for e in es if deadline_s is None or e.mean_s <= deadline_s]
        late = [e for e in es if e not in ok]
        return sorted(ok, key=lambda e: (_objective(e, objective, cost_unit), e.config)) + \
            sorted(late, key=lambda e: (e.mean_s, e.config))

    alive = configs
    n = min(FIRST_RUNG_SEEDS, reps)
    while True:
        ranked = rank([evaluate(c, n) for c in alive])
        if n >= reps:
            break
        keep = max(KEEP_AT_LEAST, math.ceil(len(ranked) / 3), top)
        alive = [e.config for e in ranked[:keep]]
        n = min(reps, n * 3)
    best = [e for e in ranked if deadline_s is None or e.mean_s <= deadline_s][:top]
    if not best:
        fastest = ranked[0]
        raise UserError(f"--deadline: no configuration of the search meets {deadline_s:g} s; the fastest is "
                        f"{fastest.config.label()} at {fastest.mean_s:.2f} s")
    top_nodes = max(c.nodes for c in configs)
    refs = {}
    for name, cfg in _references(space, top_nodes, build).items():
        refs[name] = evaluate(cfg, reps)
    # The best of each node count among everything evaluated, topped up to `reps` seeds.
    per_nodes = {}
    for e in rank(list(evals.values())):
        per_nodes.setdefault(e.config.nodes, e)
    per_nodes = {n: evaluate(e.config, reps) for n, e in per_nodes.items()}
    return {"best": best, "ranked": ranked, "all": list(evals.values()), "references": refs,
            "per_nodes": dict(sorted(per_nodes.items())), "pareto": pareto(list(evals.values()), cost_unit),
            "objective": objective, "cost_unit": cost_unit, "reps": reps,
            "simulations": sum(len(e.times) for e in evals.values()), "configs": len(configs)}


def _references(space: Space, nodes: int, build: Builder) -> dict[str, Config]:
    cores = max(space.cores)
    cluster, _, _ = build(Config(nodes, max(space.partitions), SPARK_DEFAULT_WAIT, cores))
    total = sum(e.cores for e in cluster.executors)
    return {"Spark's defaults": Config(nodes, total, SPARK_DEFAULT_WAIT, cores),
            "most partitions, most nodes": Config(nodes, max(space.partitions), SPARK_DEFAULT_WAIT, cores)}


def pareto(evals: Sequence[Evaluated], unit: str) -> list[Evaluated]:
    """The configurations no other one beats on both mean time and cost."""
    front, best_cost = [], math.inf
    for e in sorted(evals, key=lambda e: (e.mean_s, e.cost(unit), e.config)):
        if e.cost(unit) < best_cost:
            front.append(e)
            best_cost = e.cost(unit)
    return front


def reason(e: Evaluated, result: dict) -> str:
    """Why a configuration wins, in the scheduler's terms."""
    c = e.config
    p = e.placement()
    slots = e.total_cores
    parts = []
    if c.nodes > 1 and p["hosts_used"] == 1:
        parts.append(f"delay scheduling at wait {c.wait} keeps all {c.partitions} tasks on the host holding the "
                     f"shuffle output; the other {c.nodes - 1} node(s) only add cost")
    elif c.partitions <= slots:
        parts.append(f"one wave: P = {c.partitions} <= {slots} task slots, {p['hosts_used']} of {c.nodes} hosts used")
    else:
        parts.append(f"{math.ceil(c.partitions / slots)} waves of {slots} slots, {p['hosts_used']} of {c.nodes} hosts used")
    unit = result["cost_unit"]
    for name, ref in result["references"].items():
        if ref.config == c:
            parts.append(f"it is {name}")
            continue
        parts.append(f"{_than(e.mean_s, ref.mean_s, 'faster', 'slower')}, "
                     f"{_than(e.cost(unit), ref.cost(unit), 'cheaper', 'dearer')} than {name} "
                     f"({ref.config.label()}: {ref.mean_s:.2f} s)")
    return "; ".join(parts)


def _than(mine: float, theirs: float, better: str, worse: str) -> str:
    change = 1 - mine / theirs
    return f"{abs(change):.0%} {better if change >= 0 else worse}"
