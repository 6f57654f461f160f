"""Sampling the memory of a process tree for memory.py: PSS (from /proc) and /dev/shm bytes.

Not a script: ``memory.py`` runs the benchmark (see its docstring).
"""

from __future__ import annotations

import os
import threading
import time

HAS_ROLLUP = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")


# -- sampling -------------------------------------------------------------------
def _role(proc, parent_pid: int) -> str:
    try:
        cmd = " ".join(proc.cmdline())
        ppid = proc.ppid()
    except Exception:  # noqa: BLE001 - gone or a zombie
        return "gone"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "multiprocessing.forkserver" in cmd and ppid == parent_pid:
        return "forkserver"
    return "worker"


def _shm_bytes(pid: int) -> int:
    """Bytes in /dev/shm held by this process's segments and joblib memmap folders."""
    total = 0
    tag = str(pid)
    try:
        entries = list(os.scandir("/dev/shm"))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if tag not in entry.name:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                for root, _, files in os.walk(entry.path):
                    for f in files:
                        total += os.lstat(os.path.join(root, f)).st_blocks * 512
            else:
                total += entry.stat(follow_symlinks=False).st_blocks * 512
        except FileNotFoundError:
            continue
    return total


def _pss(pid: int) -> tuple[int, int] | None:
    """(PSS, Pss_Anon + Pss_Shmem) in bytes from /proc/<pid>/smaps_rollup
    (the file psutil's memory_full_info reads)."""
    pss = own = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith((b"Pss_Anon:", b"Pss_Shmem:")):
                    own += int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return pss, own


class Sampler:
    """Sum of PSS over this process and its descendants, every ``interval`` seconds.

    The list of descendants is refreshed every ``refresh`` seconds (listing
    every process of the machine is the slow part); PSS is read from
    ``/proc/<pid>/smaps_rollup``, the file psutil's ``memory_full_info().pss``
    parses, without psutil's other fields.
    """

    def __init__(self, interval: float = 0.02, refresh: float = 0.25):
        import psutil

        self.interval = interval
        self.refresh = refresh
        self.me = psutil.Process()
        # (t, total pss, {role: pss}, n procs, shm bytes, total anon+shmem pss)
        self.samples: list[tuple] = []
        self._stop = threading.Event()
        self._thread = None
        self._roles: dict = {}
        self._procs: list = []
        self._listed = -1e9

    def _descendants(self) -> list:
        now = time.perf_counter()
        if now - self._listed > self.refresh:
            self._procs = [self.me, *self.me.children(recursive=True)]
            self._listed = now
        return self._procs

    def sample(self):
        if not HAS_ROLLUP:
            return self._sample_psutil()
        by_role: dict = {}
        total = own = 0
        procs = self._descendants()
        for p in procs:
            read = _pss(p.pid)
            if read is None:
                continue
            role = self._role_of(p)
            by_role[role] = by_role.get(role, 0) + read[0]
            total += read[0]
            own += read[1]
        shm = _shm_bytes(self.me.pid)
        return (time.perf_counter(), total, by_role, len(procs), shm, own)

    def _role_of(self, p) -> str:
        if p.pid == self.me.pid:
            return "parent"
        role = self._roles.get(p.pid)
        if role is None:
            role = self._roles[p.pid] = _role(p, self.me.pid)
        return role

    def _sample_psutil(self):
        import psutil

        by_role: dict = {}
        total = 0
        procs = self._descendants()
        for p in procs:
            try:
                pss = p.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            role = self._role_of(p)
            by_role[role] = by_role.get(role, 0) + pss
            total += pss
        shm = _shm_bytes(self.me.pid)
        return (time.perf_counter(), total, by_role, len(procs), shm, None)

    def _loop(self):
        due = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append(self.sample())
            due = max(due + self.interval, time.perf_counter() - self.interval)
            self._stop.wait(max(due - time.perf_counter(), 0.0))

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="pss-sampler", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._listed = -1e9
        self.samples.append(self.sample())


def baseline(n: int = 5, interval: float = 0.05):
    s = Sampler()
    samples = []
    for _ in range(n):
        samples.append(s.sample())
        time.sleep(interval)
    return samples
