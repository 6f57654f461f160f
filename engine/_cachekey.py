"""The node cache's trust anchor: a private directory, a per-user key, signed entries.

Who may write what the cache unpickles (see :mod:`foldgraph.engine._cachefs`
for the design): the directory and key checks, the key file itself, and the
HMAC that signs and verifies an entry's first ``HEAD`` bytes.
:class:`~foldgraph.engine._cachefs.NodeCache` builds on these; they read
and write no entry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import time
from pathlib import Path

from foldgraph.errors import FoldgraphError

MAGIC = b"FGNC2\n"
#: environment variable naming the key file (default: see :func:`key_file`)
KEY_ENV = "FOLDGRAPH_CACHE_KEY_FILE"
_KEY_BYTES = 32
#: an entry's signed head: MAGIC, the tag, the payload's digest
HEAD = len(MAGIC) + 64
#: whether files have POSIX owners (uid) to check
POSIX = hasattr(os, "geteuid")
BINARY = getattr(os, "O_BINARY", 0)
#: open flags of a new private file: never an existing one, never through a symlink
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | BINARY


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
    if not POSIX:
        return
    bits, access, risk, fix = _UNSAFE[kind]
    me, mode = os.geteuid(), stat.S_IMODE(st.st_mode)
    what = f"node cache {kind} {str(path)!r}"
    if st.st_uid != me:
        raise UnsafeCacheError(
            f"{what} is owned by uid {st.st_uid}, not by you (uid {me}): its "
            f"owner can make you run code; use a {kind} of your own"
        )
    if mode & bits:
        raise UnsafeCacheError(
            f"{what} is {access} by other users (mode {mode:04o}): {risk}; run `{fix} {path}`"
        )


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
            fd = os.open(path, os.O_RDONLY | BINARY)
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
    raise ValueError(
        f"node cache key {str(path)!r} holds {len(key)} bytes, not {_KEY_BYTES}: "
        f"delete it (a new one is made; cached nodes are recomputed)"
    )


def _create_key(path: Path) -> bytes | None:
    """A new random key in ``path`` (0600); None if the file exists already."""
    try:
        path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode went through the umask
    except FileExistsError:
        pass
    try:
        fd = os.open(path, CREATE, 0o600)
    except FileExistsError:
        return None
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        fchmod(fd, 0o600)
        os.write(fd, key)
        os.fsync(fd)  # entries signed with a key lost in a crash would all be refused
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)
    return key


def fchmod(fd: int, mode: int) -> None:
    """Set the mode of the open file ``fd`` where the OS can (not on Windows)."""
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
    if key is None or len(head) < HEAD or head[: len(MAGIC)] != MAGIC:
        return False
    tag, digest = head[len(MAGIC) : len(MAGIC) + 32], head[len(MAGIC) + 32 : HEAD]
    return hmac.compare_digest(tag, _tag(key, name, digest))
