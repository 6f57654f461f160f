"""The node cache on disk: a private directory of signed entries.

An entry is a pickle, and loading a pickle runs code: whoever can write to a
cache directory could run code in every process that reads it. So:

- **The directory is private**: created 0700 whatever the umask; an existing
  one that another user owns or other users can write to is refused
  (:class:`UnsafeCacheError`), as ssh refuses a loose key file.
- **Every entry is signed** with HMAC-SHA256 under a per-user key
  (:func:`key_file`, created 0600 on first write). Anyone can recompute a
  checksum, not this; an entry that fails it is never unpickled.
- **The cache deletes only what it wrote**: files named ``<name>.fgc`` whose
  signature verifies, and dead writers' temporary files by their exact name.

An entry file is ``MAGIC | tag | sha256(payload) | payload`` with
``tag = HMAC(key, MAGIC + name + b"\\0" + sha256(payload))``. Signing the
digest, not the payload, lets the first 70 bytes prove who wrote a file, so
eviction never reads whole entries; signing the name refuses an entry copied
under another node's name. The key is kept per user, not in the directory:
the directory is then exactly its entries, a cache in a temporary directory
leaves no key behind, and a directory whose parent is read-only still works.

The key, the directory checks and the signature are in
:mod:`foldgraph.engine._cachekey`; this module reads, writes and evicts entries.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import stat
import time
import uuid
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from foldgraph.tasks.ops import NodeResult

from ._cachekey import (
    BINARY,
    CREATE,
    HEAD,
    KEY_ENV,
    MAGIC,
    POSIX,
    UnsafeCacheError,
    check_private,
    fchmod,
    key_file,
    load_key,
    private_dir,
    seal,
    signed,
)
from .worker import dumps

__all__ = [
    "MAGIC",
    "SUFFIX",
    "STALE_TMP",
    "KEY_ENV",
    "Entry",
    "UnsafeCacheError",
    "NodeCache",
    "check_private",
    "private_dir",
    "key_file",
    "load_key",
    "seal",
    "signed",
]

SUFFIX = ".fgc"
#: temp files of writers that died are removed by eviction after this many seconds
STALE_TMP = 3600.0
# any safe file name, not only hex digests: the signature, not the name, proves ownership
_NAME = re.compile(r"[0-9A-Za-z_-]{1,128}")
_ENTRY = re.compile(rf"({_NAME.pattern}){re.escape(SUFFIX)}")
_TMP = re.compile(rf"\.{_NAME.pattern}\.[0-9]+\.[0-9a-f]{{1,32}}\.tmp")
# symlinks and FIFOs are never entries: don't follow the one, don't block on the other
_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class Entry(NamedTuple):
    """What a cached node restores: its result and the prediction block it wrote."""

    result: NodeResult
    block: np.ndarray | None = None


def _read(path, size: int = -1) -> bytes:
    fd = os.open(path, _READ | BINARY)
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.path.basename(path)} is not a regular file")
        return fh.read(size)


def _is_name(fp) -> bool:
    return isinstance(fp, str) and _NAME.fullmatch(fp) is not None


class NodeCache:
    """A private directory of signed node results, shared safely between processes.

    One file per node fingerprint. Writes go to a temporary file in the same
    directory and are renamed into place (atomic), so a reader sees a whole
    entry or none. An entry holds a pickle, so every entry is signed with
    HMAC-SHA256 under a per-user key (:attr:`key_file`). An entry that is
    not signed with that key is never unpickled, and one that is corrupt or
    cannot be read is not used either. Either way the node is recomputed
    with a warning naming the entry. With ``max_bytes``, the least recently
    used entries (by modification time, refreshed on every hit) are removed
    after each write until the directory holds at most ``max_bytes`` of
    entries. Only files the cache can prove it wrote are ever deleted.

    Parameters
    ----------
    path : str or Path
        The directory: created 0700 if missing; if it exists, you must own
        it and no other user may write to it.
    max_bytes : int, optional
        Bound on the total size of the entries; no bound by default.

    Attributes
    ----------
    key_file : Path
        The key that signs entries (see :func:`key_file`); created 0600 on
        the first write.

    Raises
    ------
    ValueError
        ``path`` is an existing file, or ``max_bytes`` is not a positive int.
    UnsafeCacheError
        A ``PermissionError``: ``path`` or the key is another user's, or
        other users can write to ``path`` (or read the key).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from foldgraph import NodeCache, ParallelProcessing, Learner, FoldIndex
    >>> from foldgraph.testing import OLS
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cache = NodeCache(tmp, max_bytes=10**6)
    ...     with ParallelProcessing("sequential", cache=cache) as pp:
    ...         _ = pp.map(Learner(OLS(), FoldIndex(2)), "fit", X, y)
    ...         _ = pp.map(Learner(OLS(), FoldIndex(2)), "fit", X, y)
    ...     len(cache), len(pp.trace.events), len(pp.trace.cached)
    (3, 0, 3)
    """

    def __init__(self, path, max_bytes: int | None = None):
        if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0
        ):
            raise ValueError(f"max_bytes={max_bytes!r}: pass a positive number of bytes or None")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"cache path {str(self.path)!r} is a file: pass a directory")
        private_dir(self.path)
        self.max_bytes = max_bytes
        self.key_file = key_file()
        self._key = load_key(self.key_file)  # a loose key is refused now, not mid-fit

    def __repr__(self) -> str:
        return f"NodeCache({str(self.path)!r}, max_bytes={self.max_bytes!r})"

    def __getstate__(self) -> dict:
        # an ensemble pickled with its cache= must not carry the key along
        return {**self.__dict__, "_key": None}

    def _signing_key(self, create: bool = False) -> bytes | None:
        if self._key is None:
            self._key = load_key(self.key_file, create)
        return self._key

    def _file(self, fp: str) -> Path:
        return self.path / f"{fp}{SUFFIX}"

    def _own(self) -> list[tuple[str, Path, int, float]]:
        """``(fingerprint, path, size, mtime)`` of each entry this cache's key signed."""
        out = []
        for item in self._scan():
            match = _ENTRY.fullmatch(item.name)
            if match and self._signed(match[1], item.path):
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:  # removed by another process meanwhile
                    continue
                out.append((match[1], Path(item.path), st.st_size, st.st_mtime))
        return out

    def _signed(self, fp: str, path) -> bool:
        try:
            return signed(self._signing_key(), fp, _read(path, HEAD))
        except OSError:
            return False

    def _scan(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.path) as items:
                return list(items)
        except FileNotFoundError:
            return []

    def __contains__(self, fp) -> bool:
        return _is_name(fp) and self._signed(fp, self._file(fp))

    def keys(self) -> list[str]:
        """Fingerprints of the entries on disk (files signed with this cache's key)."""
        return [fp for fp, *_ in self._own()]

    def __len__(self) -> int:
        return len(self.keys())

    @property
    def nbytes(self) -> int:
        """Total size of the entries on disk."""
        return sum(size for *_, size, _ in self._own())

    def get(self, fp: str, default=None):
        """The :class:`Entry` of ``fp``, or ``default`` if missing, unsigned or unreadable (warned)."""
        if not _is_name(fp):
            return default
        path, key = self._file(fp), self._signing_key()
        try:
            data = _read(path)
        except FileNotFoundError:
            return default
        except OSError as exc:
            return self._bad(path, f"{type(exc).__name__}: {exc}", default, ours=False)
        if data[: len(MAGIC)] != MAGIC:
            return self._bad(path, "not a signed foldgraph cache entry", default, ours=False)
        if not signed(key, fp, data):
            reason = "its signature does not match your cache key: planted, tampered with"
            return self._bad(path, f"{reason} or signed with another key", default, ours=False)
        if hashlib.sha256(data[HEAD:]).digest() != data[HEAD - 32 : HEAD]:
            return self._bad(path, "checksum mismatch (truncated or corrupted)", default)
        try:
            entry = pickle.loads(data[HEAD:])
        except Exception as exc:  # noqa: BLE001 - a class that moved, a missing module...
            return self._bad(path, f"cannot unpickle: {type(exc).__name__}: {exc}", default)
        if not isinstance(entry, Entry):
            return self._bad(path, f"holds a {type(entry).__name__}, not an Entry", default)
        try:
            os.utime(path)  # least recently used goes first
        except OSError:
            pass
        return entry

    def _bad(self, path: Path, reason: str, default, ours: bool = True):
        # a file the key did not sign may not be ours to delete: a rewrite replaces it
        done = "deleted" if ours else "never unpickled"
        warnings.warn(
            f"node cache entry {path.name} is unreadable ({reason}): {done}, the node is "
            f"recomputed",
            RuntimeWarning,
            stacklevel=3,
        )
        if ours:
            try:
                path.unlink()
            except OSError:
                pass
        return default

    def __getitem__(self, fp: str) -> Entry:
        entry = self.get(fp)
        if entry is None:
            raise KeyError(fp)
        return entry

    def __setitem__(self, fp: str, entry: Entry) -> None:
        self.update({fp: entry})

    def update(self, entries: dict) -> None:
        """Write ``{fingerprint: Entry}`` (each atomically), then evict down to ``max_bytes``.

        An entry that cannot be pickled or written is skipped with a warning.
        """
        try:
            key = self._signing_key(create=True)
        except UnsafeCacheError:
            raise
        except OSError as exc:  # a read-only home, say: run on, uncached
            warnings.warn(
                f"node cache: cannot create the key {str(self.key_file)!r} "
                f"({type(exc).__name__}: {exc}); nothing is cached. Set {KEY_ENV} "
                f"to a writable path",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        for fp, entry in entries.items():
            try:
                self._write(key, fp, entry)
            except Exception as exc:  # noqa: BLE001 - pickling or disk errors: skip, warn
                warnings.warn(
                    f"node cache: could not write entry {fp} ({type(exc).__name__}: "
                    f"{exc}); the node will run again next time",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if self.max_bytes is not None:
            self.evict()

    def _write(self, key: bytes, fp: str, entry: Entry) -> None:
        if not _is_name(fp):
            raise ValueError(f"{fp!r} is not a fingerprint (letters, digits, '_', '-')")
        data = seal(key, fp, dumps(entry))
        tmp = self.path / f".{fp}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        fd = os.open(tmp, CREATE, 0o600)
        try:
            with open(fd, "wb") as fh:
                fchmod(fd, 0o600)
                fh.write(data)
            os.replace(tmp, self._file(fp))
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise

    def evict(self, max_bytes: int | None = None) -> int:
        """Remove least recently used entries until at most ``max_bytes`` remain.

        Also removes temporary files left by writers that died long ago.
        Only entries signed with this cache's key count and are removed.
        Returns the number of entries removed.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        self._remove_stale_temps()
        if limit is None:
            return 0
        entries = sorted(self._own(), key=lambda e: e[3])
        total = sum(size for *_, size, _ in entries)
        removed = 0
        for _, path, size, _ in entries:
            if total <= limit:
                break
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError:
                continue
            total -= size
        return removed

    def _remove_stale_temps(self) -> None:
        # a dead writer left no signature to check: its exact name pattern is the proof
        now, me = time.time(), os.geteuid() if POSIX else None
        for item in self._scan():
            if not _TMP.fullmatch(item.name):
                continue
            try:
                st = item.stat(follow_symlinks=False)
                mine = me is None or st.st_uid == me
                if stat.S_ISREG(st.st_mode) and mine and now - st.st_mtime > STALE_TMP:
                    os.unlink(item.path)
            except OSError:
                pass

    def clear(self) -> None:
        """Remove every entry (the directory, and any file the cache did not write, stay)."""
        self.evict(max_bytes=0)
