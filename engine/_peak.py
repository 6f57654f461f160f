"""The peak memory a node adds to the process that runs it.

Private to :func:`foldgraph.engine.worker.execute`, which every backend
calls, so each :class:`~foldgraph.engine._protocol.Done` carries its node's
peak. One :class:`PeakMeter` per process (:func:`meter`; a forked child
makes its own) measures every node that runs in it:

- **Linux** (``/proc/self/clear_refs`` writable, the default for one's own
  processes): before the node, writing ``5`` there resets the kernel's
  high-water mark of the resident set (VmHWM) to the current RSS, read from
  ``/proc/self/statm``; after it, ``getrusage(RUSAGE_SELF).ru_maxrss`` is
  that high-water mark. ``peak_bytes`` = high-water mark after - RSS before:
  what the node added at its peak. About 6 us per node (a write, a read, a
  system call). ``ru_maxrss`` also keeps the RSS the process had before its
  ``exec`` (a worker spawned by a large parent): where a reading may be
  that one, the high-water mark is read from ``/proc/self/status`` (VmHWM)
  instead (~15 us more; see ``_Exact``).
- **Elsewhere** (or when ``clear_refs`` cannot be written): a helper thread
  samples the RSS with psutil every :data:`PERIOD` seconds while nodes run
  (and for a second after, so that a stream of short nodes does not wake it
  each time); the peak is the largest sample or start/end reading. It
  misses a spike shorter than the period: a node of a few ms is measured by
  its start and end RSS only.

Before a node that reads at least :data:`~foldgraph.engine._trim.TRIM_ABOVE`
bytes of rows (when no other node runs in the process), the heap's free
pages go back to the system (glibc's ``malloc_trim``): otherwise memory an
earlier node freed, still resident in the allocator's free lists, would be
reused by this node unseen and its peak would read near zero. Smaller nodes
are not trimmed for (a trim walks every free chunk of the heap: from ~10 us
to milliseconds on a fragmented one); process workers also trim after each
large node.

The error, both ways: the RSS counts pages touched, so memory allocated and
never written (``np.empty``) does not count; memory reused from free lists
that were not trimmed (small nodes, or no glibc: musl, macOS, Windows) does
not count either, so a node may read lower than it would in a fresh
process; the kernel updates a thread's RSS counters in steps of up to 64
pages, a few hundred KB. In a process where nodes overlap (threads, a dask
worker's other threads) the high-water mark is only reset when no node is
running, so a node's peak is the process's peak since then, minus the RSS
at the node's start: an upper bound on what the node itself added (exact
when nodes do not overlap, e.g. ``n_jobs=1``).
"""

from __future__ import annotations

import os
import threading
import time

from ._trim import load_trim

__all__ = ["PeakMeter", "meter", "PERIOD", "SLACK"]

#: seconds between two RSS samples of the fallback sampler (psutil)
PERIOD = 0.005
#: bytes of RSS the process may gain between two readings of one check (see _Exact)
SLACK = 2**20
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _maxrss() -> int:
    import resource  # Unix only, as this module's exact method (Linux)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


class _Exact:
    """The kernel's high-water mark: reset through ``clear_refs``, read via ``getrusage``.

    ``ru_maxrss`` is the larger of the high-water mark and ``S``, the RSS the
    process had before its ``exec``. Right after a reset it reads
    ``max(S, RSS)``: an upper bound on ``S`` (:attr:`bound`), taken again
    whenever the RSS at a reset is below it. A reading above the bound is
    the high-water mark; so is one within SLACK of it when the bound is
    within SLACK of the node's starting RSS (the high-water mark is never
    below that); otherwise VmHWM is read from ``/proc/self/status``.
    """

    def __init__(self):
        self.fds = (os.open("/proc/self/clear_refs", os.O_WRONLY),
                    os.open("/proc/self/statm", os.O_RDONLY),
                    os.open("/proc/self/status", os.O_RDONLY))  # fmt: skip
        self.bound = float("inf")
        try:
            os.write(self.fds[0], b"5")  # a sandbox may refuse the write itself
        except OSError:
            self.close()
            raise

    def start(self, reset: bool) -> int:
        """The RSS before a node (after resetting the high-water mark if ``reset``)."""
        if reset:
            os.write(self.fds[0], b"5")
        rss = int(os.pread(self.fds[1], 64, 0).split()[1]) * _PAGE
        if reset and rss + SLACK < self.bound:
            self.bound = _maxrss()  # max(S, RSS): see the class doc
        return rss

    def high_water(self, rss: int) -> int:
        """The high-water mark after a node that started at ``rss``."""
        peak = _maxrss()
        if peak > self.bound or self.bound <= rss + SLACK:
            return peak
        text = os.pread(self.fds[2], 4096, 0)
        at = text.index(b"VmHWM:") + 6
        return int(text[at : text.index(b"kB", at)]) * 1024

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


class PeakMeter:
    """Measures what each node adds to this process's resident memory at its peak.

    :meth:`begin` before a node returns a token, :meth:`end` after it
    returns ``(peak_bytes, peak_rss)``: bytes added at the peak and the
    process's absolute peak RSS during the node (both None if nothing can be
    measured here). Nodes may overlap (threads); see the module docstring
    for the method and its error.

    Parameters
    ----------
    sample : bool, default=False
        Use the psutil sampler even where ``/proc`` allows the exact method.

    Examples
    --------
    >>> import numpy as np
    >>> m = PeakMeter()
    >>> token = m.begin(trim=True)
    >>> block = np.ones(2**22)  # 32 MiB, written: resident
    >>> del block
    >>> peak, rss = m.end(token)
    >>> 30 * 2**20 < peak < 40 * 2**20, rss > peak
    (True, True)
    >>> m.close()
    """

    def __init__(self, sample: bool = False):
        self._lock = threading.Lock()
        self._running = 0  # nodes between begin and end
        self._trim = load_trim()
        self._exact: _Exact | None = None
        if not sample:
            try:
                self._exact = _Exact()
            except (OSError, AttributeError, ImportError):  # not Linux, or not allowed
                pass
        self._sampler = None if self._exact is not None else _Sampler.start()

    @property
    def method(self) -> str:
        """``"hwm"`` (the kernel's high-water mark), ``"sample"`` (psutil) or ``"none"``."""
        if self._exact is not None:
            return "hwm"
        return "sample" if self._sampler is not None else "none"

    def begin(self, trim: bool = False):
        """Start measuring a node (``trim``: a large one, see the module doc); returns
        the token :meth:`end` takes."""
        with self._lock:
            self._running += 1
            if self._running == 1:  # overlapping nodes would lose their peaks to a reset
                if trim and self._trim is not None:
                    self._trim(0)
            if self._exact is not None:
                return self._exact.start(reset=self._running == 1)
            return None if self._sampler is None else self._sampler.begin(self._running == 1)

    def end(self, token) -> tuple[int | None, int | None]:
        """``(peak_bytes, peak_rss)`` of the node begun with ``token``."""
        if self._exact is not None:
            peak = self._exact.high_water(token)
        elif self._sampler is not None:
            peak = self._sampler.end()
        with self._lock:
            self._running -= 1
        if token is None:
            return None, None
        return max(peak - token, 0), peak

    def close(self) -> None:
        """Close the files and stop the sampler thread (the meter measures no more)."""
        exact, self._exact = self._exact, None
        if exact is not None:
            exact.close()
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.stop()


class _Sampler:
    """A daemon thread sampling this process's RSS while nodes run (psutil)."""

    IDLE = 1.0  # seconds without a node before the thread sleeps until the next one

    def __init__(self, process):
        self._process = process
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._running = 0
        self._awake = False  # polling (so begin need not wake it)
        self._peak = 0
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="foldgraph-peak-sampler")  # fmt: skip
        self._thread.start()

    @classmethod
    def start(cls) -> _Sampler | None:
        try:
            import psutil

            return cls(psutil.Process())
        except Exception:  # noqa: BLE001 - no psutil, or no access to this process
            return None

    def _rss(self) -> int:
        return self._process.memory_info().rss

    def _poll(self) -> None:
        idle_since = time.monotonic()
        while not self._stopped:
            time.sleep(PERIOD)
            rss = self._rss()
            with self._lock:
                if self._running:
                    self._peak, idle_since = max(self._peak, rss), time.monotonic()
                elif time.monotonic() - idle_since > self.IDLE:
                    self._awake = False  # under the lock: begin sees it and wakes us
                    return

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait()
            self._wake.clear()
            self._poll()

    def begin(self, first: bool) -> int:
        rss = self._rss()
        with self._lock:
            self._running += 1
            self._peak = rss if first else max(self._peak, rss)  # reset when idle only
            if not self._awake:
                self._awake = True
                self._wake.set()
        return rss

    def end(self) -> int:
        now = self._rss()
        with self._lock:
            self._running -= 1
            self._peak = max(self._peak, now)
            return self._peak

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._thread.join()


_METER: list = [None]  # this process's meter
if hasattr(os, "register_at_fork"):  # a forked child measures itself: its own /proc/self
    os.register_at_fork(after_in_child=lambda: _METER.__setitem__(0, None))


def meter() -> PeakMeter:
    """This process's :class:`PeakMeter` (made on first use; anew in a forked child).

    Examples
    --------
    >>> meter() is meter(), meter().method in ("hwm", "sample", "none")
    (True, True)
    """
    found = _METER[0]
    if found is None:
        found = _METER[0] = PeakMeter()
    return found
