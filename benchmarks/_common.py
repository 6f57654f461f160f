"""The prologue and helpers every benchmark script shares (not a public module).

A script imports it before anything that loads numpy::

    import _common  # noqa: F401  (first: one BLAS/OpenMP thread per process)

Importing it sets ``OMP_NUM_THREADS=1`` (and friends, :data:`THREAD_VARS`)
in ``os.environ`` when numpy is not loaded yet, so the reference figures use
one thread per process: the workers are the parallelism. When numpy is
already loaded (a test importing a script) it is too late to matter, and the
environment is left alone. A script run as ``python benchmarks/NAME.py`` has
this folder on ``sys.path`` already; tests insert it themselves.

Results go under ``FOLDGRAPH_BENCH_OUT`` when set (``foldgraph bench`` sets
it to the current directory or ``--out``), else ``benchmarks/results/``;
:func:`write_json` writes them and :func:`markdown_table` prints the tables.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: where results go: benchmarks/results/ when a script is run from the repository;
#: ``foldgraph bench`` points this at the current directory (or ``--out``)
OUT_ENV = "FOLDGRAPH_BENCH_OUT"
RESULTS = Path(os.environ.get(OUT_ENV) or HERE / "results")
PLOTS = Path(os.environ[OUT_ENV]) / "plots" if os.environ.get(OUT_ENV) else HERE / "plots"

#: the variables every script sets to "1" before importing numpy
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

if "numpy" not in sys.modules:  # once numpy is loaded the variables no longer matter
    for _var in THREAD_VARS:
        os.environ[_var] = "1"


def environment() -> dict:
    """Versions and machine facts for the JSON results (no paths, no host name)."""
    import numpy as np
    import psutil
    import sklearn

    import foldgraph
    from foldgraph.engine.manager import available_cpus

    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": available_cpus(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "foldgraph": foldgraph.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "threads": {var: os.environ.get(var) for var in THREAD_VARS},
        **git_state(),
    }


def git_state() -> dict:
    """The commit the benchmark ran on, and whether source files differed from it."""
    import subprocess

    def git(*args):
        out = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks")
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None}
    return {"git_commit": commit, "source_modified_since_commit": bool(dirty)}


def display(path: Path) -> str:
    """``path`` relative to the working directory when possible (never absolute in reports)."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return Path(path).name


def write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON, atomically (write a temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not on Unix
        return None


def median(values):
    """Median of the non-None values (None when there are none)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def slope(xs, ys) -> float | None:
    """Least-squares slope of ``ys`` over ``xs`` (None with fewer than two points)."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def rnd(value, digits: int = 3):
    """Round floats (None passes through)."""
    return None if value is None else round(float(value), digits)


def markdown_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A markdown table; ``align`` is one char per column, "l" or "r" (default: l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def classify_children(proc) -> dict:
    """Descendants of ``proc`` (psutil.Process), split into multiprocessing helpers and others.

    The forkserver and the resource tracker are long-lived helpers of
    :mod:`multiprocessing` that stay until the interpreter exits; a worker
    forked by the forkserver inherits its command line, so it is told apart
    by its parent: anything below the forkserver is a leftover.

    Returns ``{"forkserver": [...], "resource_tracker": [...], "other": [...]}``,
    each a list of ``{"pid", "ppid", "status", "kind"}``.
    """
    import psutil

    out: dict = {"forkserver": [], "resource_tracker": [], "other": []}
    for child in proc.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
            info = {"pid": child.pid, "ppid": child.ppid(), "status": child.status()}
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if "resource_tracker" in cmd and info["ppid"] == proc.pid:
            kind = "resource_tracker"
        elif "multiprocessing.forkserver" in cmd and info["ppid"] == proc.pid:
            kind = "forkserver"
        else:
            kind = "other"
        info["kind"] = "worker or other" if kind == "other" else kind
        out[kind].append(info)
    return out


def _tree_cpu(proc) -> dict:
    """CPU seconds (user + system) of ``proc`` and each living descendant, by pid."""
    import psutil

    out = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        out[p.pid] = t.user + t.system
    return out


class CpuMeter:
    """How busy the machine was with *other* work while we measured.

    ``start()`` and ``stop()`` bracket a measurement; ``stop()`` returns the
    wall seconds, the CPU seconds of this process tree, the CPU seconds the
    whole machine spent busy, the difference ("foreign" CPU seconds, i.e.
    other users' processes), that difference per wall second (in CPUs), and
    the hypervisor's steal time. CPU time of a descendant that exits before
    ``stop()`` is lost (counted as foreign). On a shared 2-core machine a foreign load of
    0.5 CPU means our two workers did not have two whole cores.
    """

    def __init__(self):
        import psutil

        self._proc = psutil.Process()
        self._start = None

    @staticmethod
    def _machine():
        import psutil

        t = psutil.cpu_times()
        idle = t.idle + getattr(t, "iowait", 0.0)
        return sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0), getattr(
            t, "steal", 0.0
        )

    def start(self) -> None:
        import time

        busy, steal = self._machine()
        self._start = (time.perf_counter(), _tree_cpu(self._proc), busy, steal)

    def stop(self) -> dict:
        import time

        wall0, own0, busy0, steal0 = self._start
        busy, steal = self._machine()
        wall = time.perf_counter() - wall0
        now = _tree_cpu(self._proc)
        # processes alive at both ends: their delta; new ones: all their time; a
        # process that exited in between (e.g. an idle loky worker timing out) is lost
        own = sum(cpu - own0.get(pid, 0.0) for pid, cpu in now.items())
        machine = busy - busy0
        foreign = max(machine - own - (steal - steal0), 0.0)
        return {
            "wall_s": wall,
            "own_cpu_s": own,
            "machine_busy_cpu_s": machine,
            "foreign_cpu_s": foreign,
            "foreign_load_cpus": foreign / wall if wall > 0 else 0.0,
            "steal_s": steal - steal0,
            "processes_exited": len(set(own0) - set(now)),
        }


def wait_for_quiet(threshold: float = 0.25, window: float = 1.0, timeout: float = 120.0) -> dict:
    """Wait until other processes use less than ``threshold`` CPUs over ``window`` seconds.

    Gives up after ``timeout`` seconds (the measurement then runs anyway).
    Returns ``{"waited_s", "load_cpus", "quiet"}`` for the record.
    """
    import time

    meter = CpuMeter()
    t0 = time.perf_counter()
    while True:
        meter.start()
        time.sleep(window)
        load = meter.stop()["foreign_load_cpus"]
        waited = time.perf_counter() - t0
        if load < threshold or waited >= timeout:
            return {
                "waited_s": round(waited, 1),
                "load_cpus": round(load, 3),
                "quiet": load < threshold,
            }
