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
import cProfile
import datetime as _dt
import gc
import importlib.metadata
import importlib.util
import io
import json
import multiprocessing as mp
import os
import pickle
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import foldgraph
from foldgraph import FullIndex, Learner, ParallelProcessing, map_graph, stack_graph
from foldgraph.engine.manager import available_cpus
from foldgraph.testing import Noop

HERE = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("FOLDGRAPH_BENCH_OUT") or HERE / "results")  # see _common
N_ROWS = 4
N_WORKERS = 2
WARMUP_NODES = 4
BACKENDS = {"sequential": 1, "threading": N_WORKERS, "multiprocessing": N_WORKERS}
SHAPES = ("independent", "chained")
#: baseline columns: (key, header)
BASELINES = (
    ("ppe", "ProcessPoolExecutor(2) forkserver"),
    ("loky", "loky unbatched (2)"),
    ("dask_threaded", "dask.threaded.get (2 threads)"),
    ("dask_distributed", "dask.distributed LocalCluster (2 procs)"),
)
DASK_BASELINES = ("dask_threaded", "dask_distributed")
#: LocalCluster runs at most this many nodes per graph by default (see --distributed-max-nodes)
DISTRIBUTED_MAX_NODES = 1_000

#: targets from the issue, microseconds per node
TARGET_MP = 100.0
TARGET_SEQ = 20.0
#: "flat": the per-node cost at the largest size is at most this times the smallest size's
FLAT_RATIO = 1.5
#: per-node references quoted in the issue (microseconds), for the verdict table
REFERENCES = {
    "ppe": (90.0, 115.0),
    "loky": (145.0, 190.0),
    "dask_distributed": (2000.0, 2000.0),
}


# -- foldgraph -------------------------------------------------------------------
def make_data(n_rows: int = N_ROWS):
    X = np.arange(float(n_rows)).reshape(n_rows, 1)
    y = np.zeros(n_rows)
    return X, y


def make_tasks(n: int, prefix: str = "noop") -> list:
    # explicit names keep the nodes readable ("noop-42/fit/full")
    return [Learner(Noop(), FullIndex(), name=f"{prefix}-{i}") for i in range(n)]


def builder_of(shape: str):
    return map_graph if shape == "independent" else stack_graph


class Timed:
    """Wall and parent-CPU seconds of a section, and the cyclic GC's work inside it.

    The garbage collector stays enabled: its pauses are part of what a user
    pays. ``gc_s`` is the time spent in collections (any thread), ``gc_full``
    the number of full (generation-2) collections.
    """

    def __enter__(self):
        self.gc_s, self.gc_full, self._gc_t0 = 0.0, 0, None
        gc.collect()
        gc.callbacks.append(self._on_gc)
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._cpu0
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase, info):
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self._gc_t0 is not None:
            self.gc_s += time.perf_counter() - self._gc_t0
            self.gc_full += info["generation"] == 2
            self._gc_t0 = None


def new_samples(keys) -> dict:
    return {what: {k: [] for k in keys} for what in ("samples_s", "cpu_s", "gc_s", "gc_full")}


def record(samples: dict, key: str, t: Timed) -> None:
    samples["samples_s"][key].append(t.wall)
    samples["cpu_s"][key].append(t.cpu)
    samples["gc_s"][key].append(t.gc_s)
    samples["gc_full"][key].append(t.gc_full)


def build(shape: str, n: int, X, y):
    """Build the graph of ``shape``; returns (graph, Timed)."""
    tasks = make_tasks(n)
    builder = builder_of(shape)
    with Timed() as t:
        graph = builder(tasks, "fit", X=X, y=y)
    return graph, t


def warmup_graph(X, y):
    # other task names than the timed graph's: the manager's cost model
    # remembers durations by task name, and the warm-up must not feed it
    return map_graph(make_tasks(WARMUP_NODES, "warmup"), "fit", X=X, y=y)


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
        "loadavg_after": _loadavg(),
    }


# -- baselines -------------------------------------------------------------------
def _mp_context():
    # the same forkserver as foldgraph's workers (one per parent process), with the same
    # preloaded modules should it start here (it only changes the pools' start times)
    from foldgraph.engine.processes import PRELOAD

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def ppe_start():
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(N_WORKERS, mp_context=_mp_context())
    for f in [pool.submit(int) for _ in range(WARMUP_NODES)]:
        f.result()
    return pool


def ppe_run(pool, shape: str, n: int) -> int:
    if shape == "independent":
        futures = [pool.submit(int) for _ in range(n)]
        return sum(1 for f in futures if f.result() == 0)
    prev, count = 0, 0
    for _ in range(n):
        prev = pool.submit(int, prev).result()
        count += 1
    return count


def ppe_stop(pool) -> None:
    pool.shutdown(wait=True)


def loky_start(shape: str):
    """Start (or reuse and check) the executor the timed section will use."""
    if shape == "independent":
        from joblib import Parallel, delayed

        Parallel(n_jobs=N_WORKERS, backend="loky", batch_size=1)(
            delayed(int)() for _ in range(WARMUP_NODES)
        )
        return None
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(N_WORKERS)
    for f in [executor.submit(int) for _ in range(WARMUP_NODES)]:
        f.result()
    return executor


def loky_run(executor, shape: str, n: int) -> int:
    if shape == "independent":
        from joblib import Parallel, delayed

        out = Parallel(n_jobs=N_WORKERS, backend="loky", batch_size=1)(
            delayed(int)() for _ in range(n)
        )
        return len(out)
    prev, count = 0, 0
    for _ in range(n):
        prev = executor.submit(int, prev).result()
        count += 1
    return count


def loky_stop(executor) -> None:
    # a fresh pool in every repetition, like the other pools; reuse=True returns the
    # current executor (joblib's included) instead of replacing it
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor(N_WORKERS, reuse=True).shutdown(wait=True, kill_workers=True)


def dask_graph(shape: str, n: int) -> dict:
    if shape == "independent":
        return {f"t{i}": (int,) for i in range(n)}
    dsk = {"t0": (int,)}
    dsk.update({f"t{i}": (int, f"t{i - 1}") for i in range(1, n)})
    return dsk


def dask_threaded_start():
    import dask.threaded

    dask.threaded.get(dask_graph("independent", WARMUP_NODES), ["t0"], num_workers=N_WORKERS)


def dask_threaded_run(_, shape: str, n: int) -> int:
    import dask.threaded

    dsk = dask_graph(shape, n)
    # building the dict is part of the work, like foldgraph's run validating its graph
    return len(dask.threaded.get(dsk, list(dsk), num_workers=N_WORKERS))


def distributed_start():
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=N_WORKERS, threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.CRITICAL,
    )  # fmt: skip
    client = Client(cluster)
    client.gather([client.submit(int, pure=False) for _ in range(WARMUP_NODES)])
    return client, cluster


def distributed_run(handle, shape: str, n: int) -> int:
    client, _ = handle
    if shape == "independent":
        futures = [client.submit(int, pure=False) for _ in range(n)]
        out = client.gather(futures)
        del futures
        return len(out)
    futures = [client.submit(int, 0, pure=False)]
    for _ in range(n - 1):
        futures.append(client.submit(int, futures[-1], pure=False))
    futures[-1].result()
    count = len(futures)
    del futures
    return count


def distributed_stop(handle) -> None:
    client, cluster = handle
    client.close()
    cluster.close()


def baseline_funcs(key: str, shape: str):
    """(start() -> handle, run(handle, shape, n) -> count, stop(handle))."""
    if key == "ppe":
        return ppe_start, ppe_run, ppe_stop
    if key == "loky":
        return (lambda: loky_start(shape)), loky_run, loky_stop
    if key == "dask_threaded":
        return dask_threaded_start, dask_threaded_run, (lambda _: None)
    if key == "dask_distributed":
        return distributed_start, distributed_run, distributed_stop
    raise ValueError(key)


def measure_baselines(row: dict, reps: int, keys, distributed_max: int) -> None:
    """Add the baselines' samples (seconds) and pool starts to ``row``."""
    shape, n = row["shape"], row["nodes"]
    for key in keys:
        if key == "dask_distributed" and n > distributed_max:
            row["skipped"][key] = f"over --distributed-max-nodes {distributed_max:,}"
            continue
        start_fn, run_fn, stop_fn = baseline_funcs(key, shape)
        for what in ("samples_s", "cpu_s", "gc_s", "gc_full"):
            row[what][key] = []
        row["start_s"][key] = []
        for _ in range(reps):
            t0 = time.perf_counter()
            handle = start_fn()
            row["start_s"][key].append(time.perf_counter() - t0)
            try:
                with Timed() as t:
                    count = run_fn(handle, shape, n)
            finally:
                stop_fn(handle)
            if count != n:
                raise RuntimeError(f"{key}: {count} of {n} tasks returned")
            record(row, key, t)
    row["loadavg_after_baselines"] = _loadavg()


# -- a raw pipe round trip ---------------------------------------------------------
def _echo(conn, answer_size: int) -> None:
    answer = b"x" * answer_size
    while True:
        msg = conn.recv_bytes()
        if msg == b"S":
            break
        conn.send_bytes(answer)
    conn.close()


def message_sizes(X, y) -> dict:
    """Pickled sizes (bytes) and costs of one real payload and its answer."""
    from foldgraph.engine.job import Job
    from foldgraph.engine.payload import make_payload
    from foldgraph.engine.worker import dumps, execute, pack_done

    graph = map_graph(make_tasks(1), "fit", X=X, y=y)
    key = next(iter(graph.nx))
    job = Job("fit", X, y)
    payload = make_payload(graph, key, None)
    done = execute(payload, job.allocate(graph))
    job.release()
    out = {"payload_bytes": len(dumps(payload)), "done_bytes": len(pack_done(done))}
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):
        pickle.loads(dumps(payload))
    out["payload_dumps_loads_us"] = round((time.perf_counter() - t0) / reps * 1e6, 2)
    t0 = time.perf_counter()
    for _ in range(reps):
        pickle.loads(pack_done(done))
    out["done_dumps_loads_us"] = round((time.perf_counter() - t0) / reps * 1e6, 2)
    return out


def pipe_round_trip(send_size: int, answer_size: int, n: int = 2000, reps: int = 3) -> dict:
    """Microseconds per round trip to a forkserver child over a duplex ``Pipe``."""
    ctx = _mp_context()
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_echo, args=(child, answer_size), daemon=True)
    proc.start()
    child.close()
    message = b"R" + b"x" * max(send_size - 1, 0)
    try:
        for _ in range(100):  # warm-up: the child imports this script first
            parent.send_bytes(message)
            parent.recv_bytes()
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                parent.send_bytes(message)
                parent.recv_bytes()
            samples.append((time.perf_counter() - t0) / n * 1e6)
    finally:
        parent.send_bytes(b"S")
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    return {"us_per_round_trip": round(statistics.median(samples), 2),
            "samples_us": [round(s, 2) for s in samples]}  # fmt: skip


# -- reporting --------------------------------------------------------------------
def finish_row(row: dict) -> None:
    n = row["nodes"]
    row["median_us_per_node"] = {
        k: round(statistics.median(v) / n * 1e6, 2) for k, v in row["samples_s"].items() if v
    }
    row["median_cpu_us_per_node"] = {
        k: round(statistics.median(v) / n * 1e6, 2) for k, v in row["cpu_s"].items() if v
    }
    row["median_gc_us_per_node"] = {
        k: round(statistics.median(v) / n * 1e6, 2) for k, v in row["gc_s"].items() if v
    }
    for what in ("samples_s", "cpu_s", "gc_s"):
        row[what] = {k: [round(s, 6) for s in v] for k, v in row[what].items()}
    row["start_s"] = {k: [round(s, 4) for s in v] for k, v in row["start_s"].items()}


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def columns(backends, baselines) -> list[tuple[str, str]]:
    cols = [("build", "build")]
    cols += [(b, f"{b}" + (f" (n_jobs={BACKENDS[b]})" if BACKENDS[b] > 1 else ""))
             for b in backends]  # fmt: skip
    cols += [(k, h) for k, h in BASELINES if k in baselines]
    return cols


def table(rows: list[dict], cols) -> str:
    head = "| shape | nodes | edges | " + " | ".join(h for _, h in cols) + " |"
    lines = [head, "|---|---:|---:|" + "---:|" * len(cols)]
    for r in rows:
        m = r["median_us_per_node"]
        cells = []
        for key, _ in cols:
            if key in m:
                cells.append(_fmt(m[key]))
            else:
                cells.append("skipped" if key in r.get("skipped", {}) or key in DASK_BASELINES
                             else "n/a")  # fmt: skip
        lines.append(
            f"| {r['shape']} | {r['nodes']:,} | {r['edges']:,} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def diagnostics_table(rows: list[dict], cols) -> str:
    """Per column: wall time, the parent's CPU time and the GC's share, per node."""
    lines = ["| shape | nodes | column | wall µs/node | parent CPU µs/node | GC µs/node "
             "| full GCs per run |", "|---|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        for key, header in cols:
            if key not in r["median_us_per_node"]:
                continue
            full = statistics.median(r["gc_full"][key])
            lines.append(
                f"| {r['shape']} | {r['nodes']:,} | {header} | {r['median_us_per_node'][key]:,.1f} "
                f"| {r['median_cpu_us_per_node'][key]:,.1f} "
                f"| {r['median_gc_us_per_node'][key]:,.1f} | {full:g} |"
            )
    return "\n".join(lines)


START_NAMES = {
    "multiprocessing": "foldgraph multiprocessing (2 workers)",
    "threading": "foldgraph threading (2 threads)",
    "ppe": "ProcessPoolExecutor(2) forkserver",
    "loky": "loky (2 workers)",
    "dask_distributed": "dask.distributed LocalCluster (2 workers)",
}


def start_summary(rows: list[dict]) -> dict:
    """Pool start (warm-up) seconds over every repetition of every row."""
    out = {}
    for key in START_NAMES:
        values = [s for r in rows for s in r["start_s"].get(key, [])]
        if values:
            out[key] = {"median_s": round(statistics.median(values), 3),
                        "min_s": round(min(values), 3), "max_s": round(max(values), 3),
                        "n": len(values)}  # fmt: skip
    return out


def start_table(starts: dict, forkserver_s) -> str:
    lines = ["| pool | start, median s | min-max s | starts |", "|---|---:|---:|---:|"]
    for key, s in starts.items():
        lines.append(f"| {START_NAMES[key]} | {s['median_s']:.3f} | "
                     f"{s['min_s']:.3f}-{s['max_s']:.3f} | {s['n']} |")  # fmt: skip
    if forkserver_s is not None:
        lines.append(f"| first foldgraph pool of the process (also starts the forkserver) "
                     f"| {forkserver_s:.3f} | | 1 |")  # fmt: skip
    return "\n".join(lines)


def _get(rows, shape, n, key):
    for r in rows:
        if r["shape"] == shape and r["nodes"] == n:
            return r["median_us_per_node"].get(key)
    return None


def verdicts(rows: list[dict]) -> list[dict]:
    """The issue's targets, one line per (target, shape, size)."""
    out = []
    sizes = sorted({r["nodes"] for r in rows})
    shapes = [s for s in SHAPES if any(r["shape"] == s for r in rows)]
    for key, target in (("multiprocessing", TARGET_MP), ("sequential", TARGET_SEQ)):
        for shape in shapes:
            for n in sizes:
                value = _get(rows, shape, n, key)
                if value is None:
                    continue
                line = {"target": f"{key} <= {target:g} µs/node", "shape": shape, "nodes": n,
                        "measured_us": value, "ratio": round(value / target, 2),
                        "met": value <= target}  # fmt: skip
                if key == "multiprocessing":
                    for base in ("ppe", "loky", "dask_distributed"):
                        ref = _get(rows, shape, n, base)
                        line[f"vs_{base}"] = None if ref is None else round(value / ref, 2)
                out.append(line)
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for key in ("sequential", "multiprocessing", "threading", "build"):
            for shape in shapes:
                a, b = _get(rows, shape, lo, key), _get(rows, shape, hi, key)
                if a is None or b is None:
                    continue
                out.append({"target": f"{key} flat {lo:,} -> {hi:,} (ratio <= {FLAT_RATIO:g})",
                            "shape": shape, "nodes": hi, "measured_us": b,
                            "ratio": round(b / a, 2), "met": b / a <= FLAT_RATIO,
                            "informative": key not in ("sequential", "multiprocessing")})  # fmt: skip
    return out


def verdict_table(lines: list[dict]) -> str:
    head = (
        "| target | shape | nodes | µs/node | ratio | verdict "
        "| mp / ProcessPoolExecutor | mp / loky | mp / LocalCluster |"
    )
    out = [head, "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for v in lines:
        verdict = "met" if v["met"] else "**missed**"
        if v.get("informative"):
            verdict = ("flat" if v["met"] else "grows") + " (no target)"
        ratio = f"{v['ratio']:.2f}x"
        cmp = [v.get(f"vs_{b}") for b in ("ppe", "loky", "dask_distributed")]
        cmp = ["" if "vs_ppe" not in v else ("n/a" if c is None else f"{c:.2f}x") for c in cmp]
        out.append(f"| {v['target']} | {v['shape']} | {v['nodes']:,} | {v['measured_us']:,.1f} "
                   f"| {ratio} | {verdict} | " + " | ".join(cmp) + " |")  # fmt: skip
    return "\n".join(out)


def reference_lines(rows: list[dict]) -> str:
    """Measured baselines beside the per-node figures quoted in the issue."""
    lines = []
    names = {"ppe": "ProcessPoolExecutor", "loky": "loky unbatched",
             "dask_distributed": "dask.distributed LocalCluster"}  # fmt: skip
    for key, (lo, hi) in REFERENCES.items():
        got = [f"{r['shape']} {r['nodes']:,}: {r['median_us_per_node'][key]:,.1f}"
               for r in rows if key in r["median_us_per_node"]]  # fmt: skip
        if got:
            ref = f"{lo:g}-{hi:g}" if lo != hi else f"about {lo:g}"
            lines.append(f"- {names[key]}: issue reference {ref} µs/node; here " + ", ".join(got))
    return "\n".join(lines)


# -- profiling ---------------------------------------------------------------------
def profile(shape: str, n: int, X, y, backends, top: int = 12) -> dict:
    """cProfile of one build and of one run per backend (parent process only)."""
    out = {}
    tasks = make_tasks(n)
    prof = cProfile.Profile()
    prof.enable()
    graph = builder_of(shape)(tasks, "fit", X=X, y=y)
    prof.disable()
    out["build"] = _top(prof, top, "cumulative")
    for backend in backends:
        if backend == "threading":
            continue  # cProfile sees the calling thread only
        with ParallelProcessing(backend, n_jobs=BACKENDS[backend]) as manager:
            manager.run(warmup_graph(X, y), X, y)
            prof = cProfile.Profile()
            prof.enable()
            manager.run(graph, X, y)
            prof.disable()
        out[f"run {backend}"] = _top(prof, top, "cumulative")
        out[f"run {backend} (by own time)"] = _top(prof, top, "tottime")
    return out


def _top(prof, top: int, sort: str) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(prof, stream=stream)
    stats.sort_stats(sort).print_stats(top)
    text = stream.getvalue()
    # keep the report free of this machine's paths
    for prefix in _path_prefixes():
        text = text.replace(prefix + os.sep, "")
    return "\n".join(line for line in text.splitlines() if line.strip())


def _path_prefixes() -> list[str]:
    """Directories to strip from profiled file names, longest first."""
    import sysconfig

    dirs = {str(HERE.parent), sys.prefix, sys.base_prefix}
    dirs.update(v for k, v in sysconfig.get_paths().items() if k.endswith("lib"))
    dirs.update(p for p in sys.path if p)
    return sorted({str(Path(d).resolve()) for d in dirs} | dirs, key=len, reverse=True)


# -- environment -------------------------------------------------------------------
def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Unix
        return None


def _version(dist: str):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def other_benchmarks() -> list[str]:
    """Other benchmark scripts running on this machine (script names only)."""
    import psutil

    names = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] == os.getpid():
            continue
        for arg in proc.info["cmdline"] or ():
            if "benchmarks" in arg and arg.endswith(".py") and "overhead" not in arg:
                names.append(Path(arg).name)
    return sorted(set(names))


def git_commit() -> str | None:
    """Short commit of the checkout, with "+dirty" if the library's sources differ from it."""
    import subprocess

    def git(*args):
        out = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "foldgraph", "engine", "graph", "tasks")
    except OSError:  # no git
        return None
    return None if commit is None else commit + ("+dirty" if dirty else "")


def environment() -> dict:
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": available_cpus(),
        "foldgraph": foldgraph.__version__,
        "commit": git_commit(),
        "numpy": np.__version__,
        "networkx": _version("networkx"),
        "scikit-learn": _version("scikit-learn"),
        "joblib": _version("joblib"),
        "dask": _version("dask") if importable("dask") else None,
        "distributed": _version("distributed") if importable("distributed") else None,
        "pythonpath_set": bool(os.environ.get("PYTHONPATH")),
        "loadavg_start": _loadavg(),
        "other_benchmarks_running_at_start": other_benchmarks(),
    }


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path.name


def main(argv=None) -> int:
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

    sizes = args.sizes or ([1000] if args.quick else [1000, 10000])
    reps = args.reps or (1 if args.quick else 3)
    if any(n < 1 for n in sizes) or reps < 1:
        parser.error("--sizes and --reps must be positive")
    output = args.output or RESULTS / ("overhead_quick.json" if args.quick else "overhead.json")
    backends = [b for b in BACKENDS if b in args.backends]
    baselines, notes = [], []
    if args.baselines:
        baselines = ["ppe", "loky"]
        if args.quick:
            notes.append("--quick: the dask baselines were not run.")
        else:
            for key, module in (("dask_threaded", "dask"), ("dask_distributed", "distributed")):
                if importable(module):
                    baselines.append(key)
                else:
                    notes.append(f"{module} is not importable: its column was skipped (it is "
                                 "not a dependency of foldgraph; see the README).")  # fmt: skip
    X, y = make_data()
    env = environment()

    started = time.perf_counter()
    forkserver_s = None
    if "multiprocessing" in backends:
        # the first pool of the process also starts the forkserver: pay it here, untimed
        t0 = time.perf_counter()
        with ParallelProcessing("multiprocessing", n_jobs=N_WORKERS) as manager:
            manager.run(warmup_graph(X, y), X, y)
        forkserver_s = time.perf_counter() - t0

    rows = []
    for n in sizes:
        for shape in args.shapes:
            rows.append(measure(shape, n, reps, backends, X, y))
            print(f"  measured foldgraph {shape} x {n:,} "
                  f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)  # fmt: skip

    pipe = None
    for row in rows:
        row["skipped"] = {}
    if baselines:
        for row in rows:
            measure_baselines(row, reps, baselines, args.distributed_max_nodes)
            print(f"  measured baselines {row['shape']} x {row['nodes']:,} "
                  f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)  # fmt: skip
        sizes_info = message_sizes(X, y)
        pipe = {**sizes_info, **pipe_round_trip(sizes_info["payload_bytes"],
                                                 sizes_info["done_bytes"])}  # fmt: skip
    for row in rows:
        finish_row(row)
    env["loadavg_end"] = _loadavg()
    env["other_benchmarks_running_at_end"] = other_benchmarks()

    cols = columns(backends, [k for k in baselines]
                   + [k for k in DASK_BASELINES if k not in baselines and args.baselines])  # fmt: skip
    starts = start_summary(rows)
    checks = verdicts(rows)
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

    profiles = {}
    if args.profile:
        n = max(sizes)
        for shape in args.shapes:
            profiles[shape] = profile(shape, n, X, y, backends)
            for what, text in profiles[shape].items():
                print(f"\n### cProfile: {shape}, {n:,} nodes, {what}\n")
                print(text)

    result = {
        "benchmark": "overhead",
        "environment": env,
        "reps": reps,
        "sizes": sizes,
        "quick": args.quick,
        "backends": backends,
        "baselines": baselines,
        "notes": notes,
        "measures": {
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
        },
        "unit": "median_*_us_per_node: microseconds per node; samples_s (wall), cpu_s (parent "
        "process CPU), gc_s (in cyclic GC collections), start_s: seconds; gc_full: full "
        "collections per timed section",
        "targets": {
            "multiprocessing_us": TARGET_MP,
            "sequential_us": TARGET_SEQ,
            "flat_ratio": FLAT_RATIO,
            "issue_references_us": REFERENCES,
        },  # fmt: skip
        "forkserver_first_pool_s": None if forkserver_s is None else round(forkserver_s, 3),
        "pool_start": starts,
        "pipe_round_trip": pipe,
        "verdicts": checks,
        "rows": rows,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    if profiles:
        result["profiles"] = profiles
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(output)
    print(f"\nwrote {_display(output)} ({result['total_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
