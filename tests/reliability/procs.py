"""Helpers of the reliability suite: find foldgraph's worker processes."""

import os

import psutil
from conftest import INFRASTRUCTURE


def workers() -> list:
    """foldgraph workers: live descendants of this process, except multiprocessing's helpers.

    ``conftest.leftover_children`` cannot tell them apart: a worker forked by
    the fork server (the default start method) has the fork server's command
    line, so it counts as a helper there. A helper is a *direct* child running
    the fork server or the resource tracker; everything else is a worker.
    """
    me, found = os.getpid(), []
    for proc in psutil.Process(me).children(recursive=True):
        try:
            cmdline = " ".join(proc.cmdline())
            helper = proc.ppid() == me and any(name in cmdline for name in INFRASTRUCTURE)
            if not helper and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
