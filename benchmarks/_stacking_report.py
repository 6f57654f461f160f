"""The summaries, targets and tables of stacking.py (and its configurations' names)."""

from __future__ import annotations

from _common import markdown_table, median, rnd

STRATEGIES = ("fifo", "lpt", "critical_path")
CONFIGS = ("sequential", *STRATEGIES, "lpt-2nd", "sklearn-1", "sklearn-2")
LABELS = {
    "sequential": "foldgraph sequential",
    "fifo": "foldgraph multiprocessing n_jobs=2, fifo",
    "lpt": "foldgraph multiprocessing n_jobs=2, lpt",
    "critical_path": "foldgraph multiprocessing n_jobs=2, critical_path",
    "lpt-2nd": "foldgraph multiprocessing n_jobs=2, lpt, 2nd fit (measured costs)",
    "sklearn-1": "sklearn StackingRegressor n_jobs=1",
    "sklearn-2": "sklearn StackingRegressor n_jobs=2",
}
NUMERIC = (
    "startup_s",
    "layer1_wall_s",
    "meta_wall_s",
    "pipeline_wall_s",
    "work_s",
    "longest_node_s",
    "ideal_s",
    "makespan_over_ideal",
    "pipeline_ideal_s",
    "utilization",
    "trace_makespan_s",
    "first_start_s",
    "idle_tail_s",
    "dispatch_gap_median_ms",
    "dispatch_gap_total_s",
    "own_cpu_s",
    "foreign_load_cpus",
    "steal_s",
)


def summarize(runs: list[dict]) -> dict | None:
    """Median of each numeric measure over repetitions; the median-wall run's details."""
    if not runs:
        return None
    out = {"repetitions": len(runs)}
    for key in NUMERIC:
        values = [r.get(key) for r in runs]
        if any(v is not None for v in values):
            out[key] = rnd(median(values), 4)
            out[key + "_samples"] = [rnd(v, 4) for v in values]
    by_wall = sorted(runs, key=lambda r: r["pipeline_wall_s"])
    mid = by_wall[(len(by_wall) - 1) // 2]
    for key in (
        "backend",
        "strategy",
        "n_jobs",
        "longest_node",
        "nodes",
        "workers",
        "meta_nodes_with_measured_cost",
    ):
        if key in mid:
            out[key] = mid[key]
    out["quiet_wait"] = [r.get("quiet_wait") for r in runs]
    if "_order" in mid:
        out["start_order"] = mid["_order"]
    return out


def _fmt(v, spec=".2f", suffix=""):
    return "–" if v is None else f"{v:{spec}}{suffix}"


def add_ratios(summary: dict, identical: dict) -> None:
    """Speed-up over sequential and ratio to sklearn n_jobs=2 (ratios of the medians)."""
    seq, sk2 = summary["sequential"], summary["sklearn-2"]
    for config in CONFIGS:
        s = summary[config]
        if s is None:
            continue
        if "layer1_wall_s" in s:
            s["speedup_vs_sequential"] = (
                rnd(seq["layer1_wall_s"] / s["layer1_wall_s"], 3) if seq else None
            )
            s["oof_identical_to_sequential"] = identical[config]
        s["pipeline_vs_sklearn_n_jobs_2"] = (
            rnd(s["pipeline_wall_s"] / sk2["pipeline_wall_s"], 3) if sk2 else None
        )


def check_targets(summary: dict) -> dict:
    fg = [c for c in (*STRATEGIES, "lpt-2nd") if summary[c] is not None]
    sk2 = summary["sklearn-2"]
    return {
        "makespan_over_ideal_le_1.05": {c: summary[c]["makespan_over_ideal"] <= 1.05 for c in fg},
        "speedup_ge_1.9": {
            c: summary[c]["speedup_vs_sequential"] >= 1.9
            for c in fg
            if summary[c]["speedup_vs_sequential"] is not None
        },
        "faster_than_sklearn_n_jobs_2": {
            c: summary[c]["pipeline_wall_s"] < sk2["pipeline_wall_s"] for c in fg if sk2
        },
    }


def per_repetition_table(runs: dict, threshold: float) -> str:
    reps = max(len(v) for v in runs.values())
    header = ["configuration"] + [f"rep {i + 1}: wall s (foreign CPUs)" for i in range(reps)]
    rows = []
    for config in CONFIGS:
        cells = []
        for r in runs[config]:
            wall = r.get("layer1_wall_s", r["pipeline_wall_s"])
            mark = "" if r["foreign_load_cpus"] < threshold else " †"
            cells.append(f"{wall:.2f} ({r['foreign_load_cpus']:.2f}){mark}")
        rows.append([LABELS[config], *cells])
    return markdown_table(header, rows)


def table(summary: dict) -> str:
    seq = summary["sequential"]
    sk2 = summary["sklearn-2"]
    if seq is None or sk2 is None:
        return "(no repetition of sequential or sklearn n_jobs=2 in this selection)"
    header = [
        "configuration",
        "layer 1 makespan s",
        "W s",
        "longest node s",
        "ideal s",
        "makespan / ideal",
        "speed-up vs sequential",
        "pipeline s",
        "pipeline vs sklearn n_jobs=2",
        "foreign load (CPUs)",
    ]
    rows = []
    for config in CONFIGS:
        s = summary[config]
        if s is None:
            rows.append([LABELS[config]] + ["–"] * (len(header) - 1))
            continue
        is_fg = "layer1_wall_s" in s
        layer1 = s.get("layer1_wall_s")
        rows.append(
            [
                LABELS[config],
                _fmt(layer1),
                _fmt(s.get("work_s")),
                _fmt(s.get("longest_node_s")),
                _fmt(s.get("ideal_s")),
                _fmt(s.get("makespan_over_ideal"), ".3f") if is_fg else "–",
                _fmt(seq["layer1_wall_s"] / layer1, ".2f", "x")
                if is_fg
                else _fmt(seq["pipeline_wall_s"] / s["pipeline_wall_s"], ".2f", "x (pipeline)"),
                _fmt(s["pipeline_wall_s"]),
                _fmt(s["pipeline_wall_s"] / sk2["pipeline_wall_s"], ".3f"),
                _fmt(s.get("foreign_load_cpus")),
            ]
        )
    return markdown_table(header, rows)
