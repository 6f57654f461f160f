"""The baselines of overhead.py: the same no-op work on other executors, and a raw pipe.

Each baseline is three functions, ``start() -> handle``, ``run(handle,
shape, n) -> count`` and ``stop(handle)`` (see :func:`baseline_funcs`);
:func:`measure_baselines` times them like foldgraph's runs. dask and
distributed are imported only when their column runs.
"""

from __future__ import annotations

import pickle
import time

from _common import loadavg, median
from _overhead_base import N_WORKERS, WARMUP_NODES, Timed, make_tasks, mp_context, record

from foldgraph import map_graph


def ppe_start():
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(N_WORKERS, mp_context=mp_context())
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
    row["loadavg_after_baselines"] = loadavg()


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
    ctx = mp_context()
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_echo, args=(child, answer_size), daemon=True)
    proc.start()
    child.close()
    message = b"R" + b"x" * max(send_size - 1, 0)
    try:
        for _ in range(100):  # warm-up: the child imports this module first
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
    return {"us_per_round_trip": round(median(samples), 2),
            "samples_us": [round(s, 2) for s in samples]}  # fmt: skip
