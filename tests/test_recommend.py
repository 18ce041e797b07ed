"""`sparkdelay recommend`: the best configuration found by successive halving, with its reasons.

The search must find what an exhaustive sweep with as many seeds finds, give the same answer
for the same seed whatever the order of the space, respect `--max-nodes` and `--deadline`, and
put the winner next to Spark's defaults; over the recorded corpus it reports the measured regret.
"""

from __future__ import annotations

import json

from sparkdelay.app.cli import main
from sparkdelay.app.presets import preset
from sparkdelay.app.recommend import Config, Space, pareto, search
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate

from conftest import REPO


def study_builder(c: Config):
    cluster, job = preset("study2017", nodes=c.nodes, partitions=c.partitions, wait=c.wait)
    return cluster, job, CostModel()


SPACE = Space(nodes=(1, 2, 3), partitions=tuple(range(1, 17)), waits=("0s", "3s"), cores=(8,))


def exhaustive_best(space: Space, reps: int, seed: int) -> Config:
    means = {}
    for c in space.configs():
        cluster, job, model = study_builder(c)
        means[c] = sum(simulate(cluster, job, model, seed=c.seed(seed, r)).job_duration_s for r in range(reps)) / reps
    return min(means, key=lambda c: (means[c], c))


def test_successive_halving_finds_the_exhaustive_best_with_fewer_simulations():
    result = search(SPACE, study_builder, reps=9, seed=3)
    assert result["best"][0].config == exhaustive_best(SPACE, 9, 3)
    assert result["simulations"] < 9 * len(SPACE.configs())


def test_the_answer_depends_on_the_seed_only_not_on_the_order_of_the_space():
    a = search(SPACE, study_builder, reps=6, seed=1)
    b = search(Space(SPACE.nodes[::-1], SPACE.partitions[::-1], SPACE.waits[::-1], SPACE.cores), study_builder,
               reps=6, seed=1)
    assert [e.config for e in a["best"]] == [e.config for e in b["best"]]
    assert [e.times for e in a["best"]] == [e.times for e in b["best"]]


def test_max_nodes_and_deadline_bound_the_answer():
    r = search(SPACE, study_builder, reps=3, seed=0, max_nodes=2)
    assert all(e.config.nodes <= 2 for e in r["ranked"])
    fastest = search(SPACE, study_builder, reps=3, seed=0)["best"][0].mean_s
    cheap = search(SPACE, study_builder, objective="cost", reps=3, seed=0, deadline_s=fastest * 1.2)
    assert cheap["best"][0].mean_s <= fastest * 1.2
    assert cheap["best"][0].cost("executor") <= min(e.cost("executor") for e in cheap["ranked"]
                                                    if e.mean_s <= fastest * 1.2) + 1e-9


def test_the_pareto_front_has_no_point_beaten_on_both_time_and_cost():
    r = search(SPACE, study_builder, objective="cost", reps=3, seed=0)
    front = pareto(r["all"], "executor")
    for e in front:
        assert not any(o.mean_s < e.mean_s and o.cost("executor") < e.cost("executor") for o in r["all"])
    times = [e.mean_s for e in front]
    assert times == sorted(times)


def test_recommend_prints_the_winner_its_reason_and_the_references(capsys, tmp_path):
    png = tmp_path / "front.png"
    assert main(["recommend", "--preset", "study2017", "--nodes", "1-3", "--partitions", "1-24", "--wait", "0s,3s",
                 "--reps", "6", "--no-progress", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "1. N=" in out and "why:" in out and "than Spark's defaults (N=3 P=24 wait=3s" in out
    assert "best per node count" in out and "N=1:" in out and "Pareto front" in out
    assert png.stat().st_size > 10_000


def test_recommend_json_and_a_deadline_nothing_meets(capsys):
    assert main(["recommend", "--preset", "study2017", "--nodes", "1-2", "--partitions", "8,9", "--wait", "3s",
                 "--reps", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["best"][0]["config"]["partitions"] in (8, 9) and doc["best"][0]["reason"]
    assert main(["recommend", "--preset", "study2017", "--nodes", "1", "--partitions", "8", "--wait", "3s",
                 "--reps", "3", "--deadline", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--deadline: no configuration of the search meets 0.5 s" in err and err.count("\n") == 1


def test_recommend_from_an_event_log_searches_its_shuffle_partitions(capsys):
    log = REPO / "data/runs/shared/eventlogs/app-20261129183350-0009.zstd"
    assert main(["recommend", "--log", str(log), "--cluster", str(REPO / "data/runs/shared/cluster.yaml"),
                 "--nodes", "1-2", "--partitions", "4,9,20", "--wait", "0s,3s", "--reps", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["configs"] == 12 and doc["best"][0]["config"]["partitions"] in (4, 9, 20)


def test_the_spanning_few_shot_design_calibrates_the_whole_range_the_search_asks_about():
    """Three calibration runs between P = 8 and P = 40 leave the best configurations of most
    corpus workloads (P = 2-4) outside what the model may recommend; the spanning design takes
    the fewest partitions on the fewest nodes, the geometric middle, the most on the most nodes."""
    from types import SimpleNamespace

    from sparkdelay.calibration.corpus import few_shot_runs, spanning_design

    runs = [SimpleNamespace(row={"nodes": n, "partitions": p, "wait": w})
            for n in (1, 2, 3) for p in (1, 4, 8, 9, 14, 20, 40) for w in ("0s", "3s")]
    assert spanning_design(runs) == ((1, 1), (2, 8), (3, 40))
    assert [(r.row["nodes"], r.row["partitions"], r.row["wait"]) for r in few_shot_runs(runs, spanning_design(runs))] \
        == [(1, 1, "3s"), (2, 8, "3s"), (3, 40, "3s")]
    assert spanning_design(runs[:2]) == ((1, 1), (1, 1), (1, 1))     # one configuration: nothing to span,
    assert len(few_shot_runs(runs[:2], spanning_design(runs[:2]))) == 1   # and one run, not three
