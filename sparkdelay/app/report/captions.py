"""Every figure of the report in one table: figure id -> file name, title and caption.

Titles and captions are `str.format` templates; the drawing functions (`figures.py`,
`measured_figures.py`) fill in the numbers they computed (`{reps}`, `{version}`, ...), so the
words live here and the numbers stay computed. `build.py` draws the figures in this table's order
and `markdown.py` shows them by id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FigureText:
    file: str
    title: str
    caption: str

    def filled(self, **numbers) -> tuple[str, str]:
        """(title, caption) with the computed numbers put in."""
        return self.title.format(**numbers), self.caption.format(**numbers)


def _per_partition(what: str) -> str:
    """The caption of a metric-vs-partitions figure (fields: version, description, reps)."""
    return (what + " against the number of partitions P, one line per number of worker nodes N, one panel per "
            "locality wait; Spark {version} rules, {description}. Each point is the mean of {reps}; error bars: "
            "95 % interval of the mean.")


FIGURES: dict[str, FigureText] = {
    # 1. The study re-made (Spark 2.1 rules)
    "time": FigureText(
        "fig01_time_vs_partitions.png", "The study re-made: execution time vs partitions (Spark 2.1)",
        _per_partition("Simulated job execution time")),
    "fairness": FigureText(
        "fig02_fairness_vs_partitions.png", "The study re-made: Jain's fairness index vs partitions (Spark 2.1)",
        _per_partition("Jain's fairness index of result-stage tasks over the N nodes")),
    "max_tasks": FigureText(
        "fig03_max_tasks_vs_partitions.png", "The study re-made: most tasks on one node vs partitions (Spark 2.1)",
        _per_partition("The largest number of result-stage tasks any one node ran")),
    "timelines": FigureText(
        "fig04_timelines_n3.png", "The study re-made: per-task timelines, N = 3 (Spark 2.1)",
        "Simulated timelines of single runs (the grid's first seed for each point): a row per executor thread that "
        "ran a task (nodes node1..node3, 8 threads each), a bar per task coloured by partition (colours repeat "
        "after 20), the map side of partitionBy hatched. Compare the study's figures 15-18."),
    # 2. Today's Spark (4.0 rules)
    "today_max": FigureText(
        "fig05_today_max_tasks.png", "Today's Spark (4.0 rules): most tasks on one node vs partitions",
        _per_partition("The largest number of result-stage tasks any one node ran")),
    "today_time": FigureText(
        "fig06_today_time.png", "Today's Spark (4.0 rules): execution time vs partitions",
        _per_partition("Simulated job execution time")),
    "versions": FigureText(
        "fig07_wait0_2.1_vs_4.0.png", "Wait 0 s, N = 3, P = 9: Spark 2.1 vs 4.0 rules",
        "One simulated run each (same seed) of N = 3, P = 9, locality wait 0 s; the panel titles give the tasks per "
        "node. Spark 2.1 drops a locality level whose wait is 0, so bulk offers ignore locality; 4.0 keeps the "
        "level, so the map host's free threads are offered node-local tasks first (SPEC.md). Rows: executor "
        "threads; bars: tasks coloured by partition; map side hatched."),
    # 4. The study's future work (drawn with the grid figures; section 3 needs real runs)
    "even": FigureText(
        "fig08_even_partitions_gain.png", "Future work, quantified: even partitions vs partitionBy's hash",
        "Predicted gain of spreading the 40 items evenly over the P partitions (ceil/floor(40/P) each) instead of "
        "hash partitioning them: 100 x (1 - time_even / time_hash), Spark {version} rules. Each point is the mean "
        "over {reps} paired runs (the same seed for both jobs); error bars: 95 % interval of the mean gain. Above "
        "0: even partitioning is faster."),
    # 3. Model vs measurement (only with real runs)
    "scatter": FigureText(
        "fig09_predicted_vs_measured.png", "Model vs measurement: job duration on this machine",
        "Predicted against measured Spark job duration, one marker per real run ({runs} runs). Hollow: in-sample "
        "model; filled: a model fitted without that run's part of the data, one marker shape per held-out test "
        "(test runs: {held}). Each prediction is the mean of {reps} simulated runs (vertical bars: their standard "
        "deviation); colour: worker nodes N. Dashed: y = x."),
    "errors": FigureText(
        "fig10_error_per_config.png", "Model vs measurement: error per configuration",
        "Signed error of the predicted job duration per configuration ({configs} configurations, {runs} real "
        "runs): mean of {reps} simulated runs per real run against the mean of the configuration's real runs. "
        "Light: in-sample model; dark: each held-out test that predicted the configuration without having fitted "
        "it. Positive: the model is too slow."),
    "hosts": FigureText(
        "fig11_tasks_per_host.png", "Model vs measurement: tasks per host",
        "Tasks of the result stage per host, measured (left bar of each pair, mean over the configuration's real "
        "runs) and predicted (right, hatched: the most frequent sorted tasks-per-host vector of {reps} simulated "
        "runs, in-sample model). Segments are hosts from the busiest (dark, bottom) to the least busy, since which "
        "host holds the map output differs between runs; \"differs\" marks a configuration where a real run's "
        "vector is not the predicted one. Configurations with N >= 2 nodes when any."),
    "real_timeline": FigureText(
        "fig12_timeline_real_vs_sim.png", "Model vs measurement: timeline of {label}",
        "One real run and one simulated run of the same configuration ({label}, Spark {version}; the simulated "
        "cluster and job are read from that run's event log): a row per executor thread (real threads numbered in "
        "launch order), a bar per task coloured by partition (colours repeat after 20), map side hatched. Single "
        "runs, not averages."),
}
