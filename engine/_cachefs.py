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
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import re
import secrets
import stat
import time
import uuid
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from foldgraph.errors import FoldgraphError
from foldgraph.tasks.ops import NodeResult

from .worker import dumps

MAGIC = b"FGNC2\n"
SUFFIX = ".fgc"
#: temp files of writers that died are removed by eviction after this many seconds
STALE_TMP = 3600.0
#: environment variable naming the key file (default: see :func:`key_file`)
KEY_ENV = "FOLDGRAPH_CACHE_KEY_FILE"
_KEY_BYTES = 32
_HEAD = len(MAGIC) + 64
# any safe file name, not only hex digests: the signature, not the name, proves ownership
_NAME = re.compile(r"[0-9A-Za-z_-]{1,128}")
_ENTRY = re.compile(rf"({_NAME.pattern}){re.escape(SUFFIX)}")
_TMP = re.compile(rf"\.{_NAME.pattern}\.[0-9]+\.[0-9a-f]{{1,32}}\.tmp")
_POSIX = hasattr(os, "geteuid")
# symlinks and FIFOs are never entries: don't follow the one, don't block on the other
_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | _BINARY


class Entry(NamedTuple):
    """What a cached node restores: its result and the prediction block it wrote."""

    result: NodeResult
    block: np.ndarray | None = None


class UnsafeCacheError(FoldgraphError, PermissionError):
    """A cache directory or key through which another user could run code as you.

    A ``PermissionError`` too; the message names the path, what is wrong
    and the fix.

    Examples
    --------
    >>> issubclass(UnsafeCacheError, PermissionError)
    True
    """


_UNSAFE = {  # kind: (mode bits others must not have, what they could do, the fix)
    "directory": (0o022, "writable", "anyone who can write to it can run code as you in "
                  "every process that uses the cache", "chmod 700"),
    "key": (0o077, "readable or writable", "anyone who can read it can sign entries that "
            "run code as you", "chmod 600"),
}  # fmt: skip


def check_private(path, st: os.stat_result, kind: str = "directory") -> None:
    """Refuse ``path`` (its stat ``st``) if another user owns it or could misuse it.

    ``kind`` is ``"directory"`` (others must not write) or ``"key"`` (nor
    read). Raises :class:`UnsafeCacheError`. No check without POSIX owners.
    """
    if not _POSIX:
        return
    bits, access, risk, fix = _UNSAFE[kind]
    me, mode = os.geteuid(), stat.S_IMODE(st.st_mode)
    what = f"node cache {kind} {str(path)!r}"
    if st.st_uid != me:
        raise UnsafeCacheError(f"{what} is owned by uid {st.st_uid}, not by you (uid {me}): its "
                               f"owner can make you run code; use a {kind} of your own")  # fmt: skip
    if mode & bits:
        raise UnsafeCacheError(f"{what} is {access} by other users (mode {mode:04o}): {risk}; "
                               f"run `{fix} {path}`")  # fmt: skip


def private_dir(path: Path) -> None:
    """Create ``path`` 0700 (with its parents), or check that an existing one is private."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700)  # mkdir's mode went through the umask
    check_private(path, os.stat(path), "directory")


def key_file() -> Path:
    """Where this user's cache key is kept.

    ``$FOLDGRAPH_CACHE_KEY_FILE`` if set, else ``foldgraph/node-cache.key`` in
    ``$XDG_DATA_HOME`` (``~/.local/share`` by default). It is kept out of
    ``~/.config``, which people publish with their dotfiles.
    """
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "foldgraph" / "node-cache.key"


def load_key(path: Path, create: bool = False) -> bytes | None:
    """The key in ``path``, created first if missing and ``create`` (else None).

    Raises :class:`UnsafeCacheError` for a key another user owns or others
    can read, ``ValueError`` for a file that holds no key.
    """
    key = b""
    for _ in range(200):
        try:
            fd = os.open(path, os.O_RDONLY | _BINARY)
        except FileNotFoundError:
            if not create:
                return None
            made = _create_key(path)
            if made is not None:
                return made
            continue  # another process created it first: read theirs
        with open(fd, "rb") as fh:
            check_private(path, os.fstat(fd), "key")
            key = fh.read(_KEY_BYTES + 1)
        if len(key) == _KEY_BYTES:
            return key
        time.sleep(0.01)  # its creator may not have written it yet
    raise ValueError(f"node cache key {str(path)!r} holds {len(key)} bytes, not {_KEY_BYTES}: "
                     f"delete it (a new one is made; cached nodes are recomputed)")  # fmt: skip


def _create_key(path: Path) -> bytes | None:
    """A new random key in ``path`` (0600); None if the file exists already."""
    try:
        path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode went through the umask
    except FileExistsError:
        pass
    try:
        fd = os.open(path, _CREATE, 0o600)
    except FileExistsError:
        return None
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        _fchmod(fd, 0o600)
        os.write(fd, key)
        os.fsync(fd)  # entries signed with a key lost in a crash would all be refused
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)
    return key


def _fchmod(fd: int, mode: int) -> None:
    if hasattr(os, "fchmod"):  # O_CREAT's mode went through the umask
        os.fchmod(fd, mode)


def _tag(key: bytes, name: str, digest: bytes) -> bytes:
    return hmac.new(key, MAGIC + name.encode() + b"\0" + digest, hashlib.sha256).digest()


def seal(key: bytes, name: str, payload: bytes) -> bytes:
    """The bytes of an entry file holding ``payload`` under ``name``, signed with ``key``."""
    digest = hashlib.sha256(payload).digest()
    return MAGIC + _tag(key, name, digest) + digest + payload


def signed(key: bytes | None, name: str, head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) begins an entry ``key`` signed as ``name``."""
    if key is None or len(head) < _HEAD or head[: len(MAGIC)] != MAGIC:
        return False
    tag, digest = head[len(MAGIC) : len(MAGIC) + 32], head[len(MAGIC) + 32 : _HEAD]
    return hmac.compare_digest(tag, _tag(key, name, digest))


def _read(path, size: int = -1) -> bytes:
    fd = os.open(path, _READ | _BINARY)
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
            return signed(self._signing_key(), fp, _read(path, _HEAD))
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
            return self._bad(path, "its signature does not match your cache key: planted, "
                             "tampered with or signed with another key", default, ours=False)  # fmt: skip
        if hashlib.sha256(data[_HEAD:]).digest() != data[_HEAD - 32 : _HEAD]:
            return self._bad(path, "checksum mismatch (truncated or corrupted)", default)
        try:
            entry = pickle.loads(data[_HEAD:])
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
        warnings.warn(f"node cache entry {path.name} is unreadable ({reason}): {done}, the "
                      f"node is recomputed", RuntimeWarning, stacklevel=3)  # fmt: skip
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
            warnings.warn(f"node cache: cannot create the key {str(self.key_file)!r} "
                          f"({type(exc).__name__}: {exc}); nothing is cached. Set {KEY_ENV} "
                          f"to a writable path", RuntimeWarning, stacklevel=2)  # fmt: skip
            return
        for fp, entry in entries.items():
            try:
                self._write(key, fp, entry)
            except Exception as exc:  # noqa: BLE001 - pickling or disk errors: skip, warn
                warnings.warn(f"node cache: could not write entry {fp} ({type(exc).__name__}: "
                              f"{exc}); the node will run again next time", RuntimeWarning,
                              stacklevel=2)  # fmt: skip
        if self.max_bytes is not None:
            self.evict()

    def _write(self, key: bytes, fp: str, entry: Entry) -> None:
        if not _is_name(fp):
            raise ValueError(f"{fp!r} is not a fingerprint (letters, digits, '_', '-')")
        data = seal(key, fp, dumps(entry))
        tmp = self.path / f".{fp}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        fd = os.open(tmp, _CREATE, 0o600)
        try:
            with open(fd, "wb") as fh:
                _fchmod(fd, 0o600)
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
        now, me = time.time(), os.geteuid() if _POSIX else None
        for item in self._scan():
            if not _TMP.fullmatch(item.name):
                continue
            try:
                st = item.stat(follow_symlinks=False)
                if (stat.S_ISREG(st.st_mode) and (me is None or st.st_uid == me)
                        and now - st.st_mtime > STALE_TMP):  # fmt: skip
                    os.unlink(item.path)
            except OSError:
                pass

    def clear(self) -> None:
        """Remove every entry (the directory, and any file the cache did not write, stay)."""
        self.evict(max_bytes=0)
