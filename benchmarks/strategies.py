"""Scheduling strategies on graph families: simulated on 2 to 256 workers, checked by real runs.

For every graph family of ``benchmarks/families.py`` (wide super learner,
deep sequential ensemble, subsemble, heterogeneous costs, model-selection
grid, random layered DAG, independent stacks) x strategy (``fifo``, ``lpt``, ``critical_path``,
``memory``) x P workers in {2, 4, 16, 64, 256},
:func:`foldgraph.engine.simulate` gives the makespan, which is reported
over the lower bound ``max(critical path, work / P)``, the utilization and
the peak of live output-buffer bytes.

Real runs (P = 2, full mode only): the ``real`` preset of each family (about
60 nodes, 10 s of work, estimators that sleep for their node's cost) runs on
``ParallelProcessing("multiprocessing", n_jobs=2, strategy=...)``; the
simulation of the same graph with the intended costs is compared with the
measured makespan (the trace's first start to last end). The real runs
come last, after waiting (up to ``--wait`` seconds) until no other
benchmark script runs; the load average is recorded.

Targets (issue 7): on every family the best strategy is within 1.05 x the
lower bound at P = 2 and within 1.25 x at P = 64; the simulator is within
15 % of the measured makespan (median over families); building and
simulating 100,000 nodes takes under 10 s (``--scale``).

Usage::

    .venv/bin/python benchmarks/strategies.py            # simulations + real runs (~4 min)
    .venv/bin/python benchmarks/strategies.py --quick    # small graphs, P in {2, 16}, no real runs
    .venv/bin/python benchmarks/strategies.py --no-real  # simulations and plots only
    .venv/bin/python benchmarks/strategies.py --scale    # also: 100,000-node build + simulate,
                                                         # scheduler overhead per node
    .venv/bin/python benchmarks/strategies.py --scale-only   # just that (strategies_scale.json)

Writes ``benchmarks/results/strategies.json`` (``strategies_quick.json``
with ``--quick``) and, unless ``--quick``, the plots
``benchmarks/plots/strategies_*.png``; prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
import families as F
from _common import PLOTS, RESULTS, CpuMeter, display, environment, rnd, write_json
from _strategies_report import (
    plot_gantts,
    plot_metric,
    plot_ratio_by_family,
    plot_ratio_by_strategy,
    plot_real,
    table_flagged,
    table_graphs,
    table_metric,
    table_real,
    table_scale,
    table_targets,
)
from _strategies_runs import (
    QUICK_WORKERS,
    SIM_ERROR_TARGET,
    STRATEGIES,
    WORKERS,
    check_targets,
    flag_worse,
    packing_bound,
    real_runs,
    scale_check,
    simulate_families,
    summarize_real,
    wait_for_other_benchmarks,
)

#: what tests and docs/make_images.py use from this script
__all__ = ["main", "STRATEGIES", "packing_bound", "plot_ratio_by_family"]


# -- main ----------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small graphs, P in {2, 16}, no real runs, no plots (seconds)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real runs")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="also build and simulate 100,000 nodes; scheduler overhead per node",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the scale check (after waiting for other benchmarks); "
        "writes results/strategies_scale.json",
    )
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1, help="real runs per family x strategy")
    parser.add_argument(
        "--wait",
        type=float,
        default=900.0,
        help="seconds to wait for other benchmark scripts before the real runs",
    )
    parser.add_argument("--plots", action="store_true", help="write the plots even with --quick")
    parser.add_argument("--output", default=None, help="JSON file (default: results/...)")
    return parser.parse_args(argv)


def print_simulations(preset, workers, infos, rows, targets, flagged) -> None:
    print(f"## Graph families ({preset} preset)\n\n{table_graphs(infos)}\n")
    print(f"## Makespan / lower bound (simulated)\n\n"
          f"{table_metric(rows, workers, 'ratio', lambda v: f'{v:.3f}')}\n")  # fmt: skip
    print(
        f"## Utilization (simulated)\n\n"
        f"{table_metric(rows, workers, 'utilization', lambda v: f'{v:.0%}', best=max)}\n"
    )
    print(
        f"## Peak live buffer KiB (simulated)\n\n"
        f"{table_metric(rows, workers, 'peak_live_bytes', lambda v: f'{v / 1024:.0f}')}\n"
    )
    print(f"## Targets: best strategy / lower bound\n\n{table_targets(targets)}\n")
    if flagged:
        print(f"## Strategies above the target (P=2: 1.05, P=64: 1.25, else 1.10)\n\n"
              f"{table_flagged(flagged)}\n")  # fmt: skip


def write_plots(rows, infos, workers, flagged, results) -> dict:
    """The simulation plots and Gantt charts under PLOTS; returns their displayed paths."""
    PLOTS.mkdir(parents=True, exist_ok=True)
    plots = {
        "ratio_by_family": PLOTS / "strategies_ratio_by_family.png",
        "ratio_by_strategy": PLOTS / "strategies_ratio_by_strategy.png",
        "utilization": PLOTS / "strategies_utilization.png",
        "peak_memory": PLOTS / "strategies_peak_memory.png",
    }
    plot_ratio_by_family(rows, infos, workers, plots["ratio_by_family"])
    plot_ratio_by_strategy(rows, infos, workers, plots["ratio_by_strategy"])
    plot_metric(rows, infos, workers, "utilization", "utilization (work / P x makespan)",
                "Simulated utilization", plots["utilization"])  # fmt: skip
    plot_metric(rows, infos, workers, "peak_live_bytes", "peak live buffers KiB",
                "Simulated peak of live output-buffer bytes", plots["peak_memory"],
                scale=1024)  # fmt: skip
    out = {k: display(v) for k, v in plots.items()}
    out["gantt"] = plot_gantts(flagged, results, PLOTS)
    return out


def run_real(report: dict, repeat: int, quiet: dict) -> None:
    """The real runs at P=2 against the simulator, into ``report``; prints their table."""
    report["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    runs = real_runs(list(F.FAMILIES), STRATEGIES, repeat=repeat)
    report["real_seconds"] = time.perf_counter() - t0
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    report["real_runs"] = runs
    report["real_summary"] = summarize_real(runs)
    if "plots" in report:
        path = PLOTS / "strategies_real.png"
        plot_real(runs, path)
        report["plots"]["real"] = display(path)
    s = report["real_summary"]
    print(f"## Real runs at P=2 against the simulator\n\n{table_real(runs)}\n")
    print(
        f"Simulator error |simulated - measured| / measured: median over families "
        f"{s['abs_error_median']:.1%} (target {SIM_ERROR_TARGET:.0%}: "
        f"{'met' if s['met'] else 'NOT met'}), max {s['abs_error_max']:.1%}; replaying the "
        f"measured durations: median {s['replay_abs_error_median']:.1%}. Load average "
        f"before {report['loadavg_before']}, after {report['loadavg_after']}; waited "
        f"{quiet['waited_s']:.0f} s for other benchmarks (quiet: {quiet['quiet']}).\n"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    if args.scale_only:
        return scale_only(args, t_start)
    preset = "quick" if args.quick else "full"
    workers = QUICK_WORKERS if args.quick else WORKERS
    output = Path(args.output or RESULTS / ("strategies_quick.json" if args.quick
                                            else "strategies.json"))  # fmt: skip
    costs = F.load_costs()
    infos, rows, results = simulate_families(preset, workers)
    targets = check_targets(rows, workers)
    flagged = flag_worse(rows, results)
    sim_s = time.perf_counter() - t_start
    report = {"environment": environment(), "args": vars(args), "preset": preset,
              "workers": list(workers), "strategies": list(STRATEGIES),
              "cost_table_s": costs, "cost_table_source": display(F.COSTS_PATH),
              "graphs": infos, "simulations": rows, "targets": targets,
              "all_targets_met": all(t["met"] for t in targets), "flagged": flagged,
              "simulation_seconds": sim_s}  # fmt: skip
    print_simulations(preset, workers, infos, rows, targets, flagged)
    if not args.quick or args.plots:
        report["plots"] = write_plots(rows, infos, workers, flagged, results)
    real = not args.quick and not args.no_real
    quiet = None
    if real or (args.scale and not args.quick):  # timings: wait until no other benchmark runs
        quiet = report["quiet"] = wait_for_other_benchmarks(args.wait)
    if args.scale:
        report["loadavg_before_scale"] = [round(x, 2) for x in os.getloadavg()]
        report["scale"] = scale_check(tuple(args.scale_sizes))
        print(f"## Scale\n\n{table_scale(report['scale'])}\n")
        print(f"Load average before the scale check: {report['loadavg_before_scale']}\n")
    if real:
        run_real(report, args.repeat, quiet)
    report["total_seconds"] = time.perf_counter() - t_start
    write_json(output, rnd_tree(report))
    met = "all met" if report["all_targets_met"] else "NOT all met"
    print(f"Strategy targets: {met}. Wrote {display(output)} in {report['total_seconds']:.1f} s.")
    return 0


def scale_only(args, t_start: float) -> int:
    """``--scale-only``: wait for other benchmarks, run the scale check, write its JSON."""
    output = Path(args.output or RESULTS / "strategies_scale.json")
    report = {"environment": environment(), "args": vars(args)}
    report["quiet"] = wait_for_other_benchmarks(args.wait)
    report["loadavg_before_scale"] = [round(x, 2) for x in os.getloadavg()]
    meter = CpuMeter()
    meter.start()
    report["scale"] = scale_check(tuple(args.scale_sizes))
    report["cpu"] = meter.stop()
    report["loadavg_after_scale"] = [round(x, 2) for x in os.getloadavg()]
    print(f"## Scale\n\n{table_scale(report['scale'])}\n")
    print(
        f"Load average before {report['loadavg_before_scale']}, after "
        f"{report['loadavg_after_scale']}; other processes used "
        f"{report['cpu']['foreign_load_cpus']:.2f} CPUs on average meanwhile; waited "
        f"{report['quiet']['waited_s']:.0f} s for other benchmarks (quiet: {report['quiet']['quiet']})."
    )
    report["total_seconds"] = time.perf_counter() - t_start
    write_json(output, rnd_tree(report))
    print(f"Wrote {display(output)} in {report['total_seconds']:.1f} s.")
    return 0


def rnd_tree(obj, digits: int = 6):
    """Round the floats of a JSON tree."""
    if isinstance(obj, float):
        return rnd(obj, digits)
    if isinstance(obj, dict):
        return {str(k): rnd_tree(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rnd_tree(v, digits) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
