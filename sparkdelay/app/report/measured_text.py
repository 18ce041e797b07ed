"""Section 3 of the report as Markdown ("Model vs measurement on this machine"), its headline and its
paragraph for the top README, from a `measured.Measured`. Every number is computed here from the
comparisons; the sentence on each held-out split says whether the model or the naive log(P) baseline
is closer, on which runs the model gains most (tasks on one host or spread over several), and what
only the model predicts (placement). The run-to-run spread of the measurements is the noise floor.
"""

from __future__ import annotations

import os
import statistics

from sparkdelay.calibration.heldout import INTERPOLATION_TRAIN_PARTITIONS
from sparkdelay.calibration.validate import error_summary

from sparkdelay.real.history import DEFAULT_PORT, stages_url

from sparkdelay.app.bundled import shown
from sparkdelay.app.report.measured import SPLITS, Measured, config_key, config_label, example_run, percent

TITLE = {"interpolation": "Interpolation", "more_nodes": "More nodes than seen", "other_hardware": "Other hardware"}
# What the baseline has to go on in each split: why it can be hard to beat there.
BASELINE_HAS = {
    "interpolation": "measured times of the neighbouring partition counts at the same N and wait, which already "
                     "carry this machine's background load",
    "more_nodes": "the measured times of the nearest trained node count, which already carry this machine's "
                  "background load",
    "other_hardware": "the shared sweep's measured time of the same configuration",
}
# Why the model can gain on a group of runs (the groups are computed from the measured placement).
MODEL_GAINS = {
    "spread": "there the job time depends on how many tasks each host ran and how the hosts share the cores, which "
              "the model simulates and a curve over log(P) cannot know",
    "one host": "there the time grows with the tasks per busy core, which the fitted per-task costs carry to "
                "configurations the fit never saw",
}
GROUP_TEXT = {"spread": "the tasks spread over several hosts", "one host": "every task ran on one host"}


def _group(c) -> str:
    return "spread" if sum(1 for v in c.measured.tasks_per_host.values() if v) > 1 else "one host"


def _lead(split) -> str:
    d = split.description
    return f"**{TITLE.get(split.name, split.name)}.** {d[:1].upper()}{d[1:]}."


def verdict(split) -> str:
    """One or two sentences: model vs baseline on this split, where the model gains most, and placement."""
    s = split.summary()
    if not split.comparisons:
        return f"{_lead(split)} Not run: {split.note}."
    pairs = list(zip(split.comparisons, split.baseline_apes))
    wins = sum(1 for c, b in pairs if c.ape < b)
    better = s["median_ape"] < s["baseline_median_ape"]
    text = (f"{_lead(split)} The model's median error is "
            f"{percent(s['median_ape'])} against the baseline's {percent(s['baseline_median_ape'])} on the same "
            f"{len(pairs)} runs, so the {'model' if better else 'baseline'} is closer on the median; the model is "
            f"the closer of the two on {wins} of {len(pairs)} runs.")
    groups: dict[str, list] = {}
    for c, b in pairs:
        groups.setdefault(_group(c), []).append((c.ape, b))
    gaps = {g: (statistics.median(b for _, b in v), statistics.median(a for a, _ in v), len(v)) for g, v in groups.items()}
    best = max(gaps, key=lambda g: gaps[g][0] - gaps[g][1])
    base, model, n = gaps[best]
    worst = min(gaps, key=lambda g: gaps[g][0] - gaps[g][1])
    if model < base:
        text += (f" Its advantage is largest where {GROUP_TEXT[best]} ({n} runs: {percent(model)} against "
                 f"{percent(base)}): {MODEL_GAINS[best]}.")
        if gaps[worst][1] > gaps[worst][0]:
            text += (f" Where {GROUP_TEXT[worst]} the baseline is closer ({gaps[worst][2]} runs: "
                     f"{percent(gaps[worst][1])} against {percent(gaps[worst][0])}).")
    else:
        text += (f" The baseline is closer on the median in every group of runs (tasks on one host or spread): it "
                 f"has {BASELINE_HAS.get(split.name, 'measured times of similar runs')}, while the model predicts "
                 f"from per-task costs.")
    return text + (f" Only the model says where the tasks run: its most frequent sorted tasks-per-host vector equals "
                   f"the measured one in {percent(s['placement_match'])} of the test runs, which a curve fit of job "
                   f"time cannot know.")


def _in_sample_on_test_runs(m: Measured) -> str:
    """The in-sample model on each split's test runs: does fitting on those runs too lower their error?"""
    ape = {c.log: c.ape for c in m.in_sample}
    parts = [f"{len(s.comparisons)} {TITLE.get(s.name, s.name).lower()} test runs: "
             f"{percent(statistics.median(ape[c.log] for c in s.comparisons))} in-sample against "
             f"{percent(s.summary()['median_ape'])} held out" for s in m.heldout["splits"] if s.comparisons]
    if not parts:
        return ""
    return ("**The same runs, in-sample.** Median error of the in-sample model (which saw these runs) on the "
            "held-out test runs: " + "; ".join(parts) + ".")


def noise_floor(m: Measured) -> str:
    parts = []
    for name, spread in m.heldout["spread"].items():
        if spread.get("configs_with_reps"):
            parts.append(f"`{name}`: {spread['configs_with_reps']} configurations measured more than once, a single "
                         f"run sits a median {percent(spread['median_abs_dev_from_config_mean'])} (p90 "
                         f"{percent(spread['p90_abs_dev_from_config_mean'])}) from its configuration's mean")
    if not parts:
        return ("**Noise floor.** No configuration has been measured more than once yet, so the run-to-run spread "
                "(how close any predictor of single runs can get) is not known.")
    return ("**Noise floor** (run-to-run spread of the measurements at equal configuration): " + "; ".join(parts)
            + ". No predictor of single runs can be expected to get much below that.")


def _table(m: Measured) -> list[str]:
    L = ["| test | fitted on / predicted (runs) | model median APE | model p90 APE | placement match | "
         "baseline median APE | baseline p90 APE |", "|---|---|---|---|---|---|---|"]
    ins = error_summary(m.in_sample)
    L.append(f"| in-sample (every run) | all / {ins['runs']} | {percent(ins['median_ape'])} | {percent(ins['p90_ape'])} | "
             f"{percent(ins['placement_match'])} | | |")
    for split in m.heldout["splits"]:
        s = split.summary()
        L.append(f"| held-out: {TITLE.get(split.name, split.name).lower()} | {s['train_runs']} / {s['test_runs']} | "
                 f"{percent(s['median_ape'])} | {percent(s['p90_ape'])} | {percent(s['placement_match'])} | "
                 f"{percent(s['baseline_median_ape'])} | {percent(s['baseline_p90_ape'])} |")
    return L


def _sweeps_text(m: Measured) -> str:
    parts = []
    for s in m.sweeps:
        versions = sorted({str(r.row.get("spark_version") or r.measured.cluster.spark_version) for r in s.runs})
        machines = ("its `cluster.yaml` says which hosts share a machine's cores" if s.cluster_file else
                    "no `cluster.yaml`: its loopback workers are modelled as sharing this machine's "
                    f"{os.cpu_count()} cores" + (", which a pinned sweep's do not" if s.pinned else ""))
        parts.append(f"`{shown(s.folder)}` ({'pinned, one CPU per worker' if s.pinned else 'workers sharing the machine'}; "
                     f"{len(s.runs)} usable runs of {s.rows} index rows"
                     + (f", {len(s.skipped)} left out: {'; '.join(s.skipped)}" if s.skipped else "")
                     + (f"; Spark {', '.join(versions)}" if versions else "") + f"; {machines})")
    text = "Real runs: " + "; ".join(parts) + "."
    if not any(s.pinned for s in m.sweeps):
        text += " No pinned sweep (a `pinned/` folder) has been recorded yet."
    return text + " A sweep may still have been growing: this is what existed when the report was made."


def _load_note(m: Measured) -> str:
    loads = [float(r.row["loadavg_1m"]) for r in m.runs if r.row.get("loadavg_1m") is not None]
    if not loads:
        return ""
    return (f" The machine's 1-minute load average when the runs started ranged {min(loads):.1f}..{max(loads):.1f} "
            f"(median {statistics.median(loads):.1f}) on {os.cpu_count()} cores: runs that shared the CPUs with other "
            f"work are slower and noisier than the model, which knows only the job's own tasks.")


def twins_section(m: Measured) -> list[str]:
    """Each real run with its simulated twin: application ids and History Server links."""
    made = [t for t in m.twins if t is not None]
    if not made:
        return []
    folder = shown(made[0].path.parent)
    pairs = sorted(zip(m.runs, m.twins), key=lambda rt: (config_key(rt[0]), rt[0].measured.app_id))
    multi = len(m.sweeps) > 1
    L = ["### Each real run next to its simulated twin, in Spark's History Server", "",
         f"`{folder}/` holds the simulated twin of each of the {len(made)} real runs above "
         f"(`calibration.twins`): the in-sample model's simulation of that run with the comparisons' first seed "
         f"(the one fig12 draws), as a Spark event log with the real run's configuration, stage names and job "
         f"submission time, marked `spark.sparkdelay.simulated=true` and `spark.sparkdelay.twinOf=<the real run's "
         f"id>`; its application id is the real one with `-twin` appended. Open the real runs and their twins "
         f"side by side in Spark's own History Server (every event log under each `--dir`, at any depth):", "",
         "```sh", m.history_command, "```", "",
         f"then follow a row's links (port {DEFAULT_PORT}, the default): each stage page has the event timeline "
         f"and the task table with each task's host and locality level.", "",
         f"<details><summary>The {len(pairs)} pairs: real application id, its twin, their stage pages</summary>", "",
         "| configuration | real run | simulated twin | History Server |", "|---|---|---|---|"]
    for run, twin in pairs:
        real = run.measured.app_id
        if twin is None:
            L.append(f"| {config_label(config_key(run), multi)} | `{real}` | the twin of its other copy (one id, "
                     f"one application in the History Server) | [real]({stages_url(real)}) |")
            continue
        L.append(f"| {config_label(config_key(run), multi)} | `{real}` | `{twin.app_id}` | "
                 f"[real]({stages_url(real)}) / [twin]({stages_url(twin.app_id)}) |")
    return L + ["", "</details>", ""]


def twins_sentence(m: Measured | None) -> str:
    """README_SECTION's pointer: the command, and the pair of the run fig12 shows."""
    if m is None or not any(m.twins):
        return ""
    run, _ = example_run(m)
    twin = next(t for t in m.twins if t is not None and t.real_app_id == run.measured.app_id)
    n = sum(1 for t in m.twins if t is not None)
    return (f"**Every real run next to its simulated twin.** `{m.history_command}` opens the {n} real runs "
            f"of this comparison and the model's simulation of each (its twin, `{shown(twin.path.parent)}/`) in "
            f"Spark's own History Server; e.g. {config_label(config_key(run), True)}: "
            f"[the real run]({stages_url(twin.real_app_id)}) and [its twin]({stages_url(twin.app_id)}). Every pair: "
            f"section 3 of the full report.")


def section(m: Measured | None) -> list[str]:
    """The section's text and tables; the caller appends the figures."""
    L = ["## 3. Model vs measurement on this machine", ""]
    if m is None or not m.in_sample:
        skipped = sum(len(s.skipped) for s in m.sweeps) if m else 0
        L += ["No finished real runs were found" + (f" ({skipped} skipped)" if skipped else "")
              + ", so there is nothing to compare yet. Record some with `make real-demo` (a small sweep on a local "
              "Spark Standalone cluster) or `sparkdelay run`, then `sparkdelay report --runs <folder>`.", ""]
        return L
    L += [_sweeps_text(m) + _load_note(m), "",
          f"Each run is simulated as its own event log describes it (`calibration.validate.measured_run`: executors, "
          f"hosts and cores, Spark version, locality wait, map and reduce task counts, hash seed), {m.reps} times "
          f"(`calibration.validate.compare`). The error of a run is the absolute percentage error (APE) of the mean "
          f"prediction; placement matches when the most frequent simulated sorted tasks-per-host vector equals the "
          f"measured one. **In-sample model:** {m.model_label}. **Held-out tests** "
          f"(`calibration.heldout.heldout_tests`, the same as `sparkdelay heldout`): the model is refitted on part of "
          f"the runs and predicts the others; the **naive baseline** knows no scheduling, it interpolates job time in "
          f"log(P) between the training runs of the same node count (the nearest trained one otherwise) and wait.", ""]
    L += _table(m)
    L += [""]
    for split in m.heldout["splits"]:
        L += [verdict(split), ""]
    L += [_in_sample_on_test_runs(m), ""]
    L += [noise_floor(m), "",
          "Per-run predictions: `data/validation.csv`; the held-out tests with their fitted models: `data/heldout.json`.",
          ""]
    L += twins_section(m)
    return L


def headline(m: Measured | None) -> str:
    if m is None or not m.in_sample:
        return "model vs real runs: no recorded real runs found, no comparison"
    ins = error_summary(m.in_sample)
    tail = f"in-sample {percent(ins['median_ape'])} over all {ins['runs']} runs"
    split = m.split(SPLITS[0])
    if split is None or not split.comparisons:
        return f"model vs real runs on this machine: median job-duration error {tail} (too few runs for the held-out tests)"
    s = split.summary()
    trained = ", ".join(map(str, INTERPOLATION_TRAIN_PARTITIONS))
    return (f"model vs real runs on this machine, held out: fitted on {s['train_runs']} runs at P = {trained}, the "
            f"model predicts the {s['test_runs']} runs at the other partition counts with a median job-duration error "
            f"of {percent(s['median_ape'])} (naive log(P) interpolation: {percent(s['baseline_median_ape'])}) and "
            f"the tasks-per-host vector right in {percent(s['placement_match'])} of them; {tail}")


def summary_paragraph(m: Measured | None) -> str:
    """The model-vs-reality sentences of README_SECTION.md."""
    if m is None or not m.in_sample:
        return ("**Model vs reality, and what the study could gain.** No recorded real runs were bundled when this "
                "report was made, so the model-vs-measurement section is empty (run `make real-demo`). ")
    split = m.split(SPLITS[0])
    text = f"**Model vs reality, and what the study could gain.** Against {len(m.in_sample)} real Chainer-on-Spark runs on this machine"
    if split is None or not split.comparisons:
        return text + f", the model's in-sample median error on job duration is {percent(error_summary(m.in_sample)['median_ape'])}. "
    s = split.summary()
    return (text + f", the model fitted on some partition counts predicts the {s['test_runs']} runs of the others with "
            f"a median job-duration error of {percent(s['median_ape'])} (a naive interpolation of job time in log(P): "
            f"{percent(s['baseline_median_ape'])}) and places the tasks on the hosts as Spark did in "
            f"{percent(s['placement_match'])} of them. ")
