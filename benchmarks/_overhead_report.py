"""The tables, verdicts, profiles and environment record of overhead.py."""

from __future__ import annotations

import cProfile
import importlib.metadata
import importlib.util
import io
import os
import pstats
import sys
from pathlib import Path

from _common import HERE, environment, loadavg, markdown_table, median
from _overhead_base import (
    BACKENDS,
    BASELINES,
    DASK_BASELINES,
    FLAT_RATIO,
    REFERENCES,
    SHAPES,
    TARGET_MP,
    TARGET_SEQ,
    builder_of,
    make_tasks,
    warmup_graph,
)

from foldgraph import ParallelProcessing

# -- reporting --------------------------------------------------------------------


def finish_row(row: dict) -> None:
    n = row["nodes"]
    row["median_us_per_node"] = {
        k: round(median(v) / n * 1e6, 2) for k, v in row["samples_s"].items() if v
    }
    row["median_cpu_us_per_node"] = {
        k: round(median(v) / n * 1e6, 2) for k, v in row["cpu_s"].items() if v
    }
    row["median_gc_us_per_node"] = {
        k: round(median(v) / n * 1e6, 2) for k, v in row["gc_s"].items() if v
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
    """Median µs per node: one row per (shape, size), one column per backend or baseline."""
    body = []
    for r in rows:
        m = r["median_us_per_node"]
        cells = []
        for key, _ in cols:
            if key in m:
                cells.append(_fmt(m[key]))
            else:
                cells.append("skipped" if key in r.get("skipped", {}) or key in DASK_BASELINES
                             else "n/a")  # fmt: skip
        body.append([r["shape"], f"{r['nodes']:,}", f"{r['edges']:,}", *cells])
    return markdown_table(["shape", "nodes", "edges", *(h for _, h in cols)], body)


def diagnostics_table(rows: list[dict], cols) -> str:
    """Per column: wall time, the parent's CPU time and the GC's share, per node."""
    header = ["shape", "nodes", "column", "wall µs/node", "parent CPU µs/node", "GC µs/node",
              "full GCs per run"]  # fmt: skip
    body = []
    for r in rows:
        for key, name in cols:
            if key not in r["median_us_per_node"]:
                continue
            full = median(r["gc_full"][key])
            body.append([r["shape"], f"{r['nodes']:,}", name,
                         f"{r['median_us_per_node'][key]:,.1f}",
                         f"{r['median_cpu_us_per_node'][key]:,.1f}",
                         f"{r['median_gc_us_per_node'][key]:,.1f}", f"{full:g}"])  # fmt: skip
    return markdown_table(header, body, align="lrlrrrr")


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
            out[key] = {"median_s": round(median(values), 3),
                        "min_s": round(min(values), 3), "max_s": round(max(values), 3),
                        "n": len(values)}  # fmt: skip
    return out


def start_table(starts: dict, forkserver_s) -> str:
    body = [[START_NAMES[key], f"{s['median_s']:.3f}", f"{s['min_s']:.3f}-{s['max_s']:.3f}",
             s["n"]] for key, s in starts.items()]  # fmt: skip
    if forkserver_s is not None:
        body.append(["first foldgraph pool of the process (also starts the forkserver)",
                     f"{forkserver_s:.3f}", "", 1])  # fmt: skip
    return markdown_table(["pool", "start, median s", "min-max s", "starts"], body)


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
    header = ["target", "shape", "nodes", "µs/node", "ratio", "verdict",
              "mp / ProcessPoolExecutor", "mp / loky", "mp / LocalCluster"]  # fmt: skip
    body = []
    for v in lines:
        verdict = "met" if v["met"] else "**missed**"
        if v.get("informative"):
            verdict = ("flat" if v["met"] else "grows") + " (no target)"
        cmp = [v.get(f"vs_{b}") for b in ("ppe", "loky", "dask_distributed")]
        cmp = ["" if "vs_ppe" not in v else ("n/a" if c is None else f"{c:.2f}x") for c in cmp]
        body.append([v["target"], v["shape"], f"{v['nodes']:,}", f"{v['measured_us']:,.1f}",
                     f"{v['ratio']:.2f}x", verdict, *cmp])  # fmt: skip
    return markdown_table(header, body, align="llrrrlrrr")


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


def overhead_environment() -> dict:
    """The shared record (:func:`_common.environment`) and what this benchmark adds:
    ``commit`` ("+dirty" when sources differ from it), the executors' versions, the load."""
    env = environment()
    commit = env.get("git_commit")
    if commit is not None and env.get("source_modified_since_commit"):
        commit += "+dirty"
    return {
        **env,
        "commit": commit,
        "networkx": _version("networkx"),
        "joblib": _version("joblib"),
        "dask": _version("dask") if importable("dask") else None,
        "distributed": _version("distributed") if importable("distributed") else None,
        "pythonpath_set": bool(os.environ.get("PYTHONPATH")),
        "loadavg_start": loadavg(),
        "other_benchmarks_running_at_start": other_benchmarks(),
    }
