"""Soak test: many small multiprocessing runs; leaks of segments, processes and memory.

Two phases on a tiny job (``map`` of two ``Learner(OLS(), FoldIndex(2))`` from
:mod:`foldgraph.testing` on 50 x 3 data, ``return_preds=True``):

1. ``reuse``: 1,000 consecutive runs on ONE
   ``ParallelProcessing("multiprocessing", n_jobs=2)`` manager (the workers
   start once and serve every run), cleared at the end;
2. ``fresh``: 200 runs, each with a fresh manager
   (``with ParallelProcessing("multiprocessing", n_jobs=2) as pp:``), i.e.
   200 worker start-ups and shutdowns.

After each phase: no shared-memory segment of this process left in
/dev/shm (``foldgraph.engine.buffers.segment_names(os.getpid())``), no
descendant process left but multiprocessing's forkserver and resource
tracker (psutil children + cmdline + parent pid: a worker forked by the
forkserver has the forkserver's command line, but the forkserver as parent).
Also checked on every run of phase 1: the same worker pids (no silent
respawn), the predictions equal to the first run's; in phase 2, that the workers
are gone when the ``with`` block exits.

Memory: this process's RSS (and USS) after every run (in phase 1 also the
workers' RSS, they live through the phase); reported is the
least-squares slope in KB per run over each phase, over the whole phase and
over its second half (after warm-up effects such as allocator pools and
import caches have settled).

Usage::

    .venv/bin/python benchmarks/soak.py            # 1,000 + 200 runs
    .venv/bin/python benchmarks/soak.py --quick    # 100 + 20 runs

Writes ``benchmarks/results/soak.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import numpy as np
import psutil
from _common import (
    RESULTS,
    classify_children,
    display,
    environment,
    markdown_table,
    median,
    rnd,
    slope,
    write_json,
)

from foldgraph import FoldIndex, Learner, ParallelProcessing
from foldgraph.engine.buffers import segment_names
from foldgraph.testing import OLS

KB = 1024


def make_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(50)
    return X, y


def tasks():
    return [
        Learner(OLS(), FoldIndex(2), name="ols-a"),
        Learner(OLS(offset=1.0), FoldIndex(2), name="ols-b"),
    ]


def memory(proc) -> tuple[int, int]:
    """(RSS, USS) of this process in bytes."""
    info = proc.memory_full_info()
    return info.rss, info.uss


def fd_count(proc) -> int:
    try:
        return proc.num_fds()
    except (AttributeError, psutil.Error):
        return -1


def check_after(proc, label: str) -> dict:
    """Leftover segments and processes after a phase (waits up to 5 s for exits)."""
    deadline = time.monotonic() + 5.0
    while True:
        segments = segment_names(os.getpid())
        children = classify_children(proc)
        if (not segments and not children["other"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    helpers = {}
    for kind in ("forkserver", "resource_tracker"):
        for c in children[kind]:
            try:
                helpers[f"{kind} {c['pid']}"] = rnd(
                    psutil.Process(c["pid"]).memory_info().rss / 1e6, 2
                )
            except psutil.Error:
                pass
    return {
        "phase": label,
        "helper_rss_mb": helpers,
        "segments_left": segments,
        "other_processes_left": children["other"],
        "forkserver": [c["pid"] for c in children["forkserver"]],
        "resource_tracker": [c["pid"] for c in children["resource_tracker"]],
        "ok": not segments and not children["other"],
    }


def phase_stats(name: str, rss: list[int], uss: list[int], seconds: list[float]) -> dict:
    n = len(rss)
    runs = list(range(1, n + 1))
    half = n // 2
    return {
        "phase": name,
        "runs": n,
        "rss_first_mb": rnd(rss[0] / 1e6, 2),
        "rss_last_mb": rnd(rss[-1] / 1e6, 2),
        "rss_max_mb": rnd(max(rss) / 1e6, 2),
        "rss_slope_kb_per_run": rnd(slope(runs, [r / KB for r in rss]), 3),
        "rss_slope_second_half_kb_per_run": rnd(
            slope(runs[half:], [r / KB for r in rss[half:]]), 3
        ),
        "uss_slope_kb_per_run": rnd(slope(runs, [u / KB for u in uss]), 3),
        "uss_slope_second_half_kb_per_run": rnd(
            slope(runs[half:], [u / KB for u in uss[half:]]), 3
        ),
        "run_ms_median": rnd(median(seconds) * 1e3, 2),
        "run_ms_max": rnd(max(seconds) * 1e3, 2),
        "total_s": rnd(sum(seconds), 2),
    }


def _rss(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0


def phase_reuse(n_runs: int, X, y, proc) -> tuple[dict, dict]:
    rss, uss, seconds, fds, workers_rss = [], [], [], [], []
    problems = []
    manager = ParallelProcessing("multiprocessing", n_jobs=2)
    reference = pids = None
    try:
        for i in range(n_runs):
            t0 = time.perf_counter()
            P = manager.map(tasks(), "fit", X, y, return_preds=True)
            seconds.append(time.perf_counter() - t0)
            if reference is None:
                reference, pids = P, manager.worker_pids
            else:
                if not np.array_equal(P, reference):
                    problems.append(f"run {i}: predictions differ from run 0")
                if manager.worker_pids != pids:
                    problems.append(f"run {i}: worker pids {manager.worker_pids} != {pids}")
                    pids = manager.worker_pids
            if segment_names(os.getpid()):
                problems.append(f"run {i}: segments left between runs")
            r, u = memory(proc)
            rss.append(r)
            uss.append(u)
            fds.append(fd_count(proc))
            workers_rss.append(sum(_rss(pid) for pid in manager.worker_pids))
    finally:
        manager.clear()
    gc.collect()
    stats = phase_stats("reuse", rss, uss, seconds)
    stats["open_fds_first_last"] = [fds[0], fds[-1]]
    stats["worker_pids"] = pids
    idx = list(range(1, n_runs + 1))
    half = n_runs // 2
    stats["workers_rss_first_last_mb"] = [
        rnd(workers_rss[0] / 1e6, 2),
        rnd(workers_rss[-1] / 1e6, 2),
    ]
    stats["workers_rss_slope_kb_per_run"] = rnd(slope(idx, [w / KB for w in workers_rss]), 3)
    stats["workers_rss_slope_second_half_kb_per_run"] = rnd(
        slope(idx[half:], [w / KB for w in workers_rss[half:]]), 3
    )
    stats["problems"] = problems[:20]
    stats["n_problems"] = len(problems)
    return stats, {"rss": rss, "uss": uss}


def phase_fresh(n_runs: int, X, y, proc) -> tuple[dict, dict]:
    rss, uss, seconds, fds = [], [], [], []
    problems, seen_pids = [], set()
    reference, recycled = None, 0
    for i in range(n_runs):
        t0 = time.perf_counter()
        with ParallelProcessing("multiprocessing", n_jobs=2) as pp:
            P = pp.map(tasks(), "fit", X, y, return_preds=True)
            pids = pp.worker_pids
        seconds.append(time.perf_counter() - t0)
        if reference is None:
            reference = P
        elif not np.array_equal(P, reference):
            problems.append(f"run {i}: predictions differ from run 0")
        recycled += len(seen_pids.intersection(pids))  # the OS recycled a pid: not a leak
        seen_pids.update(pids)
        alive = [p for p in pids if psutil.pid_exists(p) and _is_alive(p)]
        if alive:
            problems.append(f"run {i}: workers {alive} alive after the with block")
        if segment_names(os.getpid()):
            problems.append(f"run {i}: segments left after the with block")
        r, u = memory(proc)
        rss.append(r)
        uss.append(u)
        fds.append(fd_count(proc))
    gc.collect()
    stats = phase_stats("fresh", rss, uss, seconds)
    stats["open_fds_first_last"] = [fds[0], fds[-1]]
    stats["distinct_worker_pids"] = len(seen_pids)
    stats["recycled_pids"] = recycled
    stats["problems"] = problems[:20]
    stats["n_problems"] = len(problems)
    return stats, {"rss": rss, "uss": uss}


def _is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def table(phases: list[dict], checks: list[dict]) -> str:
    header = [
        "phase",
        "runs",
        "ms/run (median)",
        "RSS first → last MB",
        "RSS slope KB/run",
        "RSS slope, 2nd half",
        "USS slope KB/run",
        "open fds first → last",
        "segments left",
        "processes left (besides forkserver, tracker)",
        "problems",
    ]
    rows = []
    for s, c in zip(phases, checks):
        rows.append(
            [
                s["phase"],
                s["runs"],
                f"{s['run_ms_median']:.1f}",
                f"{s['rss_first_mb']:.1f} → {s['rss_last_mb']:.1f}",
                f"{s['rss_slope_kb_per_run']:+.2f}",
                f"{s['rss_slope_second_half_kb_per_run']:+.2f}",
                f"{s['uss_slope_kb_per_run']:+.2f}",
                f"{s['open_fds_first_last'][0]} → {s['open_fds_first_last'][1]}",
                len(c["segments_left"]),
                len(c["other_processes_left"]),
                s["n_problems"],
            ]
        )
    return markdown_table(header, rows)


DEFINITIONS = {
    "rss_slope_kb_per_run": "least-squares slope of this process's RSS (KiB) "
    "sampled after each run, over the run index",
    "second_half": "the same over the second half of the phase only",
    "processes left": "descendants other than multiprocessing's forkserver and "
    "resource tracker, after the phase (5 s grace)",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 + 20 runs")
    parser.add_argument("--reuse-runs", type=int, default=None, help="default 1,000")
    parser.add_argument("--fresh-runs", type=int, default=None, help="default 200")
    parser.add_argument("--output", default=None)
    return parser.parse_args(argv)


def print_report(result: dict, env: dict, out) -> None:
    (reuse, fresh), (reuse_check, fresh_check) = result["phases"], result["checks"]
    print(f"\nfoldgraph soak test, {env['cpus']} CPU(s), Python {env['python']}, {env['date']}\n")
    print(table([reuse, fresh], [reuse_check, fresh_check]))
    for phase, check in ((reuse, reuse_check), (fresh, fresh_check)):
        for problem in phase["problems"]:
            print(f"- {phase['phase']}: {problem}")
        for p in check["other_processes_left"]:
            print(f"- {check['phase']}: process left: {p}")
        if check["segments_left"]:
            print(f"- {check['phase']}: segments left: {check['segments_left']}")
    print(
        f"- reuse: RSS of the 2 workers (sum) {reuse['workers_rss_first_last_mb'][0]} → "
        f"{reuse['workers_rss_first_last_mb'][1]} MB, slope "
        f"{reuse['workers_rss_slope_kb_per_run']:+.2f} KB/run "
        f"(2nd half {reuse['workers_rss_slope_second_half_kb_per_run']:+.2f})"
    )
    for check in (result["before"], reuse_check, fresh_check):
        helpers = ", ".join(f"{k}: {v} MB" for k, v in check["helper_rss_mb"].items()) or "none"
        print(f"- RSS of multiprocessing helpers {check['phase']}: {helpers}")
    print(f"\n{'all checks passed' if result['ok'] else 'SOME CHECKS FAILED'}")
    print(f"wrote {display(out)} ({result['total_seconds']}s)")


def main(argv=None) -> int:
    args = parse_args(argv)
    n_reuse = args.reuse_runs or (100 if args.quick else 1000)
    n_fresh = args.fresh_runs or (20 if args.quick else 200)

    env = environment()
    proc = psutil.Process()
    X, y = make_data()
    started = time.perf_counter()
    before = check_after(proc, "before")

    reuse, reuse_series = phase_reuse(n_reuse, X, y, proc)
    reuse_check = check_after(proc, "after reuse")
    print(f"  reuse: {n_reuse} runs in {reuse['total_s']:.1f}s", file=sys.stderr)
    fresh, fresh_series = phase_fresh(n_fresh, X, y, proc)
    fresh_check = check_after(proc, "after fresh")
    print(f"  fresh: {n_fresh} runs in {fresh['total_s']:.1f}s", file=sys.stderr)

    ok = (
        reuse_check["ok"]
        and fresh_check["ok"]
        and reuse["n_problems"] == 0
        and fresh["n_problems"] == 0
    )
    result = {
        "benchmark": "soak",
        "environment": env,
        "quick": args.quick,
        "workload": "map of Learner(OLS(), FoldIndex(2)) and Learner(OLS(offset=1), "
        "FoldIndex(2)) on 50 x 3 float64, return_preds=True, multiprocessing n_jobs=2",
        "definitions": DEFINITIONS,
        "before": before,
        "phases": [reuse, fresh],
        "checks": [reuse_check, fresh_check],
        "ok": ok,
        "series_kb": {
            "reuse_rss": [r // KB for r in reuse_series["rss"]],
            "fresh_rss": [r // KB for r in fresh_series["rss"]],
        },
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    default = RESULTS / ("soak_quick.json" if args.quick else "soak.json")
    out = Path(args.output) if args.output else default
    write_json(out, result)
    print_report(result, env, out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
