"""Per-node overhead of foldgraph on no-op nodes, against process pools and dask.

foldgraph builds and runs graphs of no-op nodes; the baselines do the same
no-op work with other executors.

What is measured, per shape and size (median of ``--reps`` repetitions in
one process, reported in microseconds per node):

- ``build``: ``map_graph`` (independent shape) or ``stack_graph`` (chained
  shape) over N ``Learner(Noop(), FullIndex())`` tasks, i.e. N nodes. The
  builders validate the graph, so validation is included. ``Noop`` is
  :class:`foldgraph.testing.Noop` (importable, so it pickles by reference:
  a class defined in this script would travel by value through cloudpickle).
- ``sequential`` / ``threading`` / ``multiprocessing``:
  ``ParallelProcessing(backend, n_jobs).run(graph, X, y)`` on the graph
  built in the same repetition (not an end-to-end ``map``/``stack``), with
  ``n_jobs=2`` for threading and multiprocessing. Every manager is new in
  each repetition and first runs a 4-node warm-up graph (which starts its
  workers); only the second run is timed. The warm-up run of the
  multiprocessing manager is reported separately as its *pool start*.
  The timed run includes what ``run`` does around the scheduler loop:
  re-validating the graph, allocating the buffers (shared memory for
  multiprocessing), cloning one estimator per node and attaching the fitted
  estimators to the tasks.

Baselines, in the same run, after every foldgraph measurement (so that
importing dask cannot slow foldgraph down), each on the equivalent work: one
no-op call per node. The no-op is the built-in ``int``: ``int()`` for an
independent task, ``int(previous result)`` for a chain link. It pickles by
reference, like ``Noop``. Chains submit each task after the previous one
completed (``.result()`` then submit), except dask, which gets the whole
dependency graph.

- ``ProcessPoolExecutor``: ``concurrent.futures.ProcessPoolExecutor(2,
  mp_context=forkserver)``; independent: submit all, then ``.result()`` each.
- ``loky``: independent: ``joblib.Parallel(n_jobs=2, backend="loky",
  batch_size=1)`` (unbatched); chains: ``joblib.externals.loky.
  get_reusable_executor(2)`` submit/result.
- ``dask.threaded``: ``dask.threaded.get(dsk, all keys, num_workers=2)`` on a
  dict graph (``{"t1": (int, "t0"), ...}`` for the chain).
- ``dask.distributed``: ``LocalCluster(n_workers=2, threads_per_worker=1,
  processes=True)`` and ``client.submit(int, pure=False)``; chains pass the
  previous future as the argument, results are gathered.
- a raw pipe round trip: the parent sends one message of the size of a
  pickled foldgraph payload to a forkserver child, which answers with a
  message of the size of a pickled ``Done``. This is the floor of one
  foldgraph node on the multiprocessing backend when nothing overlaps.

Process pools (foldgraph's included) are started and warmed up before the
timer, in every repetition, and their start times are reported separately.
dask and distributed are optional (not dependencies): their columns read
``skipped`` when they are not importable. ``--quick`` skips dask.

Usage::

    .venv/bin/python benchmarks/overhead.py               # 1,000 and 10,000 nodes, 3 reps
    .venv/bin/python benchmarks/overhead.py --quick       # 1,000 nodes, 1 rep, no dask (CI smoke)
    .venv/bin/python benchmarks/overhead.py --backends multiprocessing --no-baselines
    .venv/bin/python benchmarks/overhead.py --profile     # + cProfile of build and runs

Prints markdown tables and the verdicts against the targets, and writes
JSON to ``benchmarks/results/overhead.json`` (``overhead_quick.json`` with
``--quick``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (first: it sets one BLAS thread per process before numpy loads)
from _common import RESULTS, display, loadavg, write_json
from _overhead_base import (
    BACKENDS,
    DASK_BASELINES,
    DISTRIBUTED_MAX_NODES,
    FLAT_RATIO,
    N_WORKERS,
    REFERENCES,
    SHAPES,
    TARGET_MP,
    TARGET_SEQ,
    WARMUP_NODES,
    Timed,
    builder_of,
    make_data,
    make_tasks,
    new_samples,
    record,
    warmup_graph,
)
from _overhead_baselines import measure_baselines, message_sizes, pipe_round_trip
from _overhead_report import (
    columns,
    diagnostics_table,
    finish_row,
    importable,
    other_benchmarks,
    overhead_environment,
    profile,
    reference_lines,
    start_summary,
    start_table,
    table,
    verdict_table,
    verdicts,
)

from foldgraph import ParallelProcessing


# -- foldgraph -------------------------------------------------------------------
def build(shape: str, n: int, X, y):
    """Build the graph of ``shape``; returns (graph, Timed)."""
    tasks = make_tasks(n)
    builder = builder_of(shape)
    with Timed() as t:
        graph = builder(tasks, "fit", X=X, y=y)
    return graph, t


def run(graph, backend: str, X, y) -> tuple[Timed, float]:
    """Run a prebuilt graph on a new, warmed-up manager.

    Returns (the timed ``manager.run``, seconds of the warm-up run, which
    starts the workers).
    """
    with ParallelProcessing(backend, n_jobs=BACKENDS[backend]) as manager:
        t0 = time.perf_counter()
        manager.run(warmup_graph(X, y), X, y)
        start = time.perf_counter() - t0
        with Timed() as t:
            manager.run(graph, X, y)
        if len(manager.trace) != len(graph):
            raise RuntimeError(f"{backend}: ran {len(manager.trace)} of {len(graph)} nodes")
    return t, start


def measure(shape: str, n: int, reps: int, backends, X, y) -> dict:
    samples = new_samples(["build", *backends])
    starts: dict[str, list[float]] = {b: [] for b in backends}
    edges = None
    for _ in range(reps):
        graph, t = build(shape, n, X, y)
        record(samples, "build", t)
        edges = graph.nx.number_of_edges()
        for backend in backends:
            t, start = run(graph, backend, X, y)
            record(samples, backend, t)
            starts[backend].append(start)
        del graph
    return {
        "shape": shape,
        "nodes": n,
        "edges": edges,
        **samples,
        "start_s": starts,
        "loadavg_after": loadavg(),
    }


# -- baselines -------------------------------------------------------------------
#: what each column measures, for the JSON record
MEASURES = {
    "build": "map_graph (independent) / stack_graph (chained) over N "
    "Learner(foldgraph.testing.Noop(), FullIndex()), validation included",
    "sequential/threading/multiprocessing": "ParallelProcessing(backend, n_jobs=1/2/2)"
    ".run(graph, X, y) on the prebuilt graph, on a new manager warmed up by a "
    f"{WARMUP_NODES}-node run (its time is start_s)",
    "ppe": "concurrent.futures.ProcessPoolExecutor(2, forkserver): submit(int) x N then "
    ".result(); chains: submit(int, prev).result() one after the other",
    "loky": "joblib.Parallel(n_jobs=2, backend='loky', batch_size=1)(delayed(int)() x N);"
    " chains: loky get_reusable_executor(2).submit(int, prev).result()",
    "dask_threaded": "dask.threaded.get(dsk, all keys, num_workers=2) on a dict graph "
    "of int tasks",
    "dask_distributed": "LocalCluster(n_workers=2, threads_per_worker=1, processes=True);"
    " client.submit(int, pure=False) x N, gather; chains: submit(int, previous future)",
    "pipe_round_trip": "send_bytes/recv_bytes to a forkserver child echoing a "
    "Done-sized answer, one at a time",
}
UNIT = (
    "median_*_us_per_node: microseconds per node; samples_s (wall), cpu_s (parent "
    "process CPU), gc_s (in cyclic GC collections), start_s: seconds; gc_full: full "
    "collections per timed section"
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help="1,000 nodes, 1 repetition, no dask (CI smoke); writes overhead_quick.json",
    )  # fmt: skip
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=None, help="node counts (default: 1000 10000)"
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions, the median is reported (default: 3)"
    )
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument(
        "--backends", nargs="+", choices=list(BACKENDS), default=list(BACKENDS),
        help="foldgraph backends to run (default: all three)",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", action=argparse.BooleanOptionalAction, default=True,
        help="run the baselines: ProcessPoolExecutor, loky, dask (if importable) and a raw "
        "pipe round trip (default: on)",
    )  # fmt: skip
    parser.add_argument(
        "--distributed-max-nodes", type=int, default=DISTRIBUTED_MAX_NODES,
        help=f"skip dask.distributed above this many nodes (default: {DISTRIBUTED_MAX_NODES:,})",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=None,
        help="JSON file (default: benchmarks/results/overhead.json, overhead_quick.json "
        "with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="also print cProfile top functions (build and runs) at the largest size",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([1000] if args.quick else [1000, 10000])
    args.reps = args.reps or (1 if args.quick else 3)
    if any(n < 1 for n in args.sizes) or args.reps < 1:
        parser.error("--sizes and --reps must be positive")
    args.output = args.output or RESULTS / (
        "overhead_quick.json" if args.quick else "overhead.json"
    )
    args.backends = [b for b in BACKENDS if b in args.backends]
    return args


def choose_baselines(args) -> tuple[list[str], list[str]]:
    """The baseline columns to run, and notes on those skipped."""
    baselines, notes = [], []
    if not args.baselines:
        return baselines, notes
    baselines = ["ppe", "loky"]
    if args.quick:
        notes.append("--quick: the dask baselines were not run.")
        return baselines, notes
    for key, module in (("dask_threaded", "dask"), ("dask_distributed", "distributed")):
        if importable(module):
            baselines.append(key)
        else:
            notes.append(f"{module} is not importable: its column was skipped (it is "
                         "not a dependency of foldgraph; see the README).")  # fmt: skip
    return baselines, notes


def first_pool_seconds(X, y) -> float:
    """Seconds of the process's first pool, which also starts the forkserver (untimed later)."""
    t0 = time.perf_counter()
    with ParallelProcessing("multiprocessing", n_jobs=N_WORKERS) as manager:
        manager.run(warmup_graph(X, y), X, y)
    return time.perf_counter() - t0


def measure_all(args, baselines, X, y, started: float) -> tuple[list[dict], dict | None]:
    """foldgraph's rows first, then the baselines on each row, then the raw pipe."""
    rows = []
    for n in args.sizes:
        for shape in args.shapes:
            rows.append(measure(shape, n, args.reps, args.backends, X, y))
            print(f"  measured foldgraph {shape} x {n:,} "
                  f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)  # fmt: skip
    for row in rows:
        row["skipped"] = {}
    pipe = None
    if baselines:
        for row in rows:
            measure_baselines(row, args.reps, baselines, args.distributed_max_nodes)
            print(f"  measured baselines {row['shape']} x {row['nodes']:,} "
                  f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)  # fmt: skip
        sizes = message_sizes(X, y)
        pipe = {**sizes, **pipe_round_trip(sizes["payload_bytes"], sizes["done_bytes"])}
    for row in rows:
        finish_row(row)
    return rows, pipe


def print_header(env: dict, reps: int) -> None:
    la0, la1 = env["loadavg_start"], env["loadavg_end"]
    print(
        f"foldgraph overhead, µs per node, median of {reps} repetition(s), {env['date']}, "
        f"{env['cpus']} CPU(s), Python {env['python']}, commit {env['commit']}, "
        f"load average (1/5/15 min) "
        f"{la0} at start, {la1} at end"
    )
    if env["other_benchmarks_running_at_start"] or env["other_benchmarks_running_at_end"]:
        print("warning: other benchmarks were running: "
              + ", ".join(sorted(set(env["other_benchmarks_running_at_start"]
                                     + env["other_benchmarks_running_at_end"]))))  # fmt: skip
    print(
        "build: map_graph/stack_graph (validated); foldgraph runs: ParallelProcessing.run on "
        "the prebuilt graph, workers warmed up; baselines: one no-op call per node\n"
    )


def print_report(rows, cols, starts, forkserver_s, pipe, checks, notes) -> None:
    print(table(rows, cols))
    if starts:
        print("\nPool start (warm-up run on a fresh pool, not in the table above):\n")
        print(start_table(starts, forkserver_s))
    print(
        "\nWhere the time goes (medians; parent CPU is the CPU time of this process, all its "
        "threads, so not the worker processes'; GC is the time in cyclic-GC collections):\n"
    )
    print(diagnostics_table(rows, cols))
    if pipe:
        print(
            f"\nRaw pipe round trip to a forkserver child ({pipe['payload_bytes']} bytes out, "
            f"{pipe['done_bytes']} back, one at a time): {pipe['us_per_round_trip']:.1f} µs; "
            f"pickle dumps+loads of a payload {pipe['payload_dumps_loads_us']:.1f} µs, "
            f"of an answer {pipe['done_dumps_loads_us']:.1f} µs"
        )
    if checks:
        print("\nTargets (from the issue):\n")
        print(verdict_table(checks))
        refs = reference_lines(rows)
        if refs:
            print("\n" + refs)
    for note in notes:
        print(f"\nnote: {note}")


def print_profiles(args, X, y) -> dict:
    """cProfile of the largest size, printed; returns the texts by shape."""
    profiles = {}
    n = max(args.sizes)
    for shape in args.shapes:
        profiles[shape] = profile(shape, n, X, y, args.backends)
        for what, text in profiles[shape].items():
            print(f"\n### cProfile: {shape}, {n:,} nodes, {what}\n")
            print(text)
    return profiles


def main(argv=None) -> int:
    args = parse_args(argv)
    baselines, notes = choose_baselines(args)
    X, y = make_data()
    env = overhead_environment()
    started = time.perf_counter()
    forkserver_s = first_pool_seconds(X, y) if "multiprocessing" in args.backends else None
    rows, pipe = measure_all(args, baselines, X, y, started)
    env["loadavg_end"] = loadavg()
    env["other_benchmarks_running_at_end"] = other_benchmarks()

    cols = columns(args.backends, [k for k in baselines]
                   + [k for k in DASK_BASELINES if k not in baselines and args.baselines])  # fmt: skip
    starts, checks = start_summary(rows), verdicts(rows)
    print_header(env, args.reps)
    print_report(rows, cols, starts, forkserver_s, pipe, checks, notes)
    profiles = print_profiles(args, X, y) if args.profile else {}

    result = {
        "benchmark": "overhead",
        "environment": env,
        "reps": args.reps,
        "sizes": args.sizes,
        "quick": args.quick,
        "backends": args.backends,
        "baselines": baselines,
        "notes": notes,
        "measures": MEASURES,
        "unit": UNIT,
        "targets": {
            "multiprocessing_us": TARGET_MP,
            "sequential_us": TARGET_SEQ,
            "flat_ratio": FLAT_RATIO,
            "issue_references_us": REFERENCES,
        },
        "forkserver_first_pool_s": None if forkserver_s is None else round(forkserver_s, 3),
        "pool_start": starts,
        "pipe_round_trip": pipe,
        "verdicts": checks,
        "rows": rows,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    if profiles:
        result["profiles"] = profiles
    write_json(args.output, result)
    print(f"\nwrote {display(args.output)} ({result['total_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
