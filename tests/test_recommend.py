"""`sparkdelay recommend`: the best configuration found by successive halving, with its reasons.

The search must find what an exhaustive sweep with as many seeds finds, give the same answer
for the same seed whatever the order of the space, respect `--max-nodes` and `--deadline`, and
put the winner next to Spark's defaults; over the recorded corpus it reports the measured regret.
"""

from __future__ import annotations

import json

from sparkdelay.app.cli import main
from sparkdelay.app.commands.recommend import print_corpus
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


def _runs(times: dict[tuple, list[float]]):
    from types import SimpleNamespace

    return [SimpleNamespace(row={"nodes": n, "partitions": p, "wait": w}, measured=SimpleNamespace(duration_s=t))
            for (n, p, w), ts in times.items() for t in ts]


def test_a_confirmation_sitting_judges_the_regret_by_means_of_repetitions_with_an_interval():
    """One lucky run made the grid's "best"; repeated, the chosen configuration is as fast, and
    the regret's interval straddles zero. A configuration slower in every repetition shows a
    regret whose whole interval is above zero."""
    from sparkdelay.calibration.regret import confirmed_regret

    sitting = _runs({(2, 2, "0s"): [13.1, 12.2, 13.4], (1, 2, "0s"): [12.9, 12.6, 13.0],
                     (1, 8, "0s"): [15.0, 15.4, 14.8]})
    tie = confirmed_regret((1, 2, "0s"), sitting, seed=0)
    assert tie["best"] == {"nodes": 1, "partitions": 2, "wait": "0s"} and tie["regret"] == 0.0
    assert tie["reps"] == 3 and tie["spread_s"] == [12.6, 13.0]
    assert tie["regret_95"][0] == 0.0 and tie["regret_95"][1] > 0.0      # the other may be faster by chance
    slow = confirmed_regret((1, 8, "0s"), sitting, seed=0)
    assert abs(slow["regret"] - (15.0667 / 12.8333 - 1)) < 1e-3 and slow["regret_95"][0] > 0.10
    assert confirmed_regret((1, 8, "0s"), sitting, seed=0) == slow                  # seeded
    assert confirmed_regret((3, 40, "3s"), sitting, seed=0)["note"] == "this configuration was not recorded in it"
    assert confirmed_regret((1, 8, "0s"), [], seed=0)["note"] == "none recorded for this workload"


def test_recommend_over_the_corpus_reports_the_regret_on_the_grid_and_in_the_confirmation_sitting(capsys):
    """`pyloop`, calibrated on three real runs: the choice, its single-run regret on the corpus
    grid, and its regret against means of repetitions recorded in another sitting, whose
    interval brackets it. The text form says the same in one line per workload."""
    args = ["recommend", "--corpus", str(REPO / "data/corpus"), "--only", "pyloop", "--confirm",
            str(REPO / "data/regret"), "--reps", "3"]
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["design"], doc["method"]) == ("span", "trace")          # the defaults
    (w,) = doc["workloads"]
    assert w["workload"] == "pyloop" and len(w["few_shot"]) == 3
    rec = w["recommended"]
    assert 0 <= rec["regret"] < w["references"]["Spark's defaults"]["regret"]
    confirmed = w["confirmed"]["recommended"]
    assert confirmed["config"] == rec["config"] and confirmed["reps"] == 3
    assert confirmed["regret_95"][0] <= confirmed["regret"] <= confirmed["regret_95"][1]
    assert confirmed["runs"] == 15 and confirmed["best_s"] <= confirmed["measured_s"]
    print_corpus(doc)      # what `recommend --corpus` prints without --json
    assert "confirmation sitting (5 configurations, 15 runs): recommended" in capsys.readouterr().out
    assert main(args[:-2] + ["--confirm", str(REPO / "data/regret/README.md")]) == 2
    assert "--confirm" in capsys.readouterr().err
    # No sitting for pyloop in that folder: the row says so (the linear fit, seconds, as the
    # sitting's rows do not depend on the fit).
    assert main(args[:5] + ["--confirm", str(REPO / "data/corpus"), "--reps", "3", "--method", "linear"]) == 0
    assert "confirmation sitting: none recorded for this workload" in capsys.readouterr().out
