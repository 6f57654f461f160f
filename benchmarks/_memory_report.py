"""The summaries, ratios and table of memory.py (and its configurations' names)."""

from __future__ import annotations

from _common import markdown_table, median, rnd

CONFIGS = (
    "foldgraph-sequential",
    "foldgraph-multiprocessing",
    "sklearn-n_jobs=1",
    "sklearn-n_jobs=2",
    "foldgraph-sequential-npy",
    "foldgraph-multiprocessing-npy",
)
LABELS = {
    "foldgraph-sequential": "foldgraph sequential",
    "foldgraph-multiprocessing": "foldgraph multiprocessing, 2 workers",
    "sklearn-n_jobs=1": "sklearn StackingRegressor n_jobs=1",
    "sklearn-n_jobs=2": "sklearn StackingRegressor n_jobs=2",
    "foldgraph-sequential-npy": "foldgraph sequential, X as a .npy path (memory-mapped)",
    "foldgraph-multiprocessing-npy": "foldgraph multiprocessing, 2 workers, X as a .npy path",
}
MB = 1e6
NUMERIC = (
    "fit_s", "baseline_mb", "peak_mb", "peak_above_baseline_mb", "shm_peak_mb",
    "shm_baseline_mb", "peak_processes", "sample_interval_median_ms",
    "sample_interval_max_ms", "baseline_anon_shmem_mb", "peak_anon_shmem_mb",
)  # fmt: skip


def summarize(runs: list[dict]) -> dict:
    out = {"repetitions": len(runs)}
    for key in NUMERIC:
        values = [r.get(key) for r in runs]
        if None in values:  # no smaps_rollup: psutil gives no anon/shmem split
            continue
        out[key] = rnd(median(values), 1)
        out[key + "_samples"] = [rnd(v, 1) for v in values]
    mid = sorted(runs, key=lambda r: r["peak_mb"])[(len(runs) - 1) // 2]
    out["peak_by_role_mb"] = {k: rnd(v, 1) for k, v in mid["peak_by_role_mb"].items()}
    out["baseline_by_role_mb"] = {k: rnd(v, 1) for k, v in mid["baseline_by_role_mb"].items()}
    return out


#: (numerator, denominator, what) of the reported ratios
RATIOS = (
    ("foldgraph-multiprocessing", "foldgraph-sequential", "foldgraph multiprocessing / sequential"),
    ("sklearn-n_jobs=2", "sklearn-n_jobs=1", "sklearn n_jobs=2 / n_jobs=1"),
    (
        "foldgraph-multiprocessing-npy",
        "foldgraph-sequential-npy",
        "foldgraph multiprocessing / sequential, both with X as a .npy path",
    ),
    (
        "foldgraph-multiprocessing-npy",
        "foldgraph-sequential",
        "foldgraph multiprocessing with X as a .npy path / sequential with X in memory",
    ),
)
REFERENCE = {
    "foldgraph-multiprocessing": "foldgraph-sequential",
    "sklearn-n_jobs=2": "sklearn-n_jobs=1",
    "foldgraph-multiprocessing-npy": "foldgraph-sequential-npy",
}


def ratios(summary: dict) -> list[dict]:
    out = []
    for num, den, what in RATIOS:
        if num in summary and den in summary:
            a, b = summary[num], summary[den]
            found = {
                "what": what,
                "peak": rnd(a["peak_mb"] / b["peak_mb"], 3),
                "above_baseline": rnd(
                    a["peak_above_baseline_mb"] / b["peak_above_baseline_mb"], 3
                ),
            }
            if "peak_anon_shmem_mb" in a and "peak_anon_shmem_mb" in b:
                found["anon_shmem"] = rnd(a["peak_anon_shmem_mb"] / b["peak_anon_shmem_mb"], 3)
            out.append(found)
    return out


def table(summary: dict) -> str:
    header = [
        "configuration",
        "peak PSS MB",
        "idle baseline MB",
        "peak above baseline MB",
        "ratio (peak)",
        "ratio (above baseline)",
        "peak anon+shmem MB",
        "ratio (anon+shmem)",
        "/dev/shm peak MB",
        "processes",
        "fit s",
    ]
    rows = []
    for config, s in summary.items():
        ref = summary.get(REFERENCE.get(config, config))
        rows.append(
            [
                LABELS[config],
                f"{s['peak_mb']:.0f}",
                f"{s['baseline_mb']:.0f}",
                f"{s['peak_above_baseline_mb']:.0f}",
                f"{s['peak_mb'] / ref['peak_mb']:.2f}x" if ref else "–",
                f"{s['peak_above_baseline_mb'] / ref['peak_above_baseline_mb']:.2f}x"
                if ref
                else "–",
                f"{s['peak_anon_shmem_mb']:.0f}" if "peak_anon_shmem_mb" in s else "–",
                f"{s['peak_anon_shmem_mb'] / ref['peak_anon_shmem_mb']:.2f}x"
                if ref and "peak_anon_shmem_mb" in s and "peak_anon_shmem_mb" in ref
                else "–",
                f"{s['shm_peak_mb']:.0f}",
                f"{s['peak_processes']:.0f}",
                f"{s['fit_s']:.1f}",
            ]
        )
    return markdown_table(header, rows)
