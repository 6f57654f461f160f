"""The node cache's directory: private modes, signed entries, and only its own files deleted.

A cache entry is a pickle, and loading a pickle runs code: these tests plant
entries that would create a marker file when loaded and check that they
never are.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import stat
import threading
import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from foldgraph import FoldIndex, Learner, NodeCache, ParallelProcessing
from foldgraph.engine.cache import MAGIC, SUFFIX, Entry
from foldgraph.tasks.ops import NodeResult
from foldgraph.testing import OLS

POSIX = hasattr(os, "geteuid")
posix_only = pytest.mark.skipif(not POSIX, reason="POSIX owners and modes")


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    """Each test gets its own key, so none writes to the home directory."""
    path = tmp_path / "keys" / "node-cache.key"
    monkeypatch.setenv("FOLDGRAPH_CACHE_KEY_FILE", str(path))
    return path


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=60)


def entry(n: int, value: float = 1.0) -> Entry:
    return Entry(NodeResult(OLS(offset=value), 0.5), np.full((n, 1), value, dtype=np.float32))


def ran(manager) -> set:
    return {e.key for e in manager.trace.events}


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class Payload:
    """Loading its pickle creates ``marker``: what a planted entry would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def evil_pickle(marker) -> bytes:
    return pickle.dumps(Payload(marker))


def fit_ridge(pp, X, y):
    return pp.map(Learner(Ridge(), FoldIndex(2), name="r"), "fit", X, y, return_preds=True)


# -- planted and tampered entries ----------------------------------------------------
@pytest.mark.parametrize("plant", ["old-format", "current-magic", "forged-key", "renamed"])
def test_a_planted_entry_is_never_loaded_and_the_node_is_recomputed(data, tmp_path, plant):
    """An entry with a valid SHA-256 (anyone can compute one), one signed with
    another key, and a genuine entry copied under another node's name are all
    refused: never unpickled, warned about by name, recomputed, rewritten."""
    X, y = data
    marker = tmp_path / "pwned"
    exploit = tmp_path / "exploit-works"
    pickle.loads(evil_pickle(exploit)).close()
    assert exploit.exists()  # loading such a payload does run code
    evil = evil_pickle(marker)
    cache_dir = tmp_path / "cache"
    with ParallelProcessing("sequential", cache=cache_dir) as pp:
        P1 = fit_ridge(pp, X, y)
        fp, other = pp.fingerprints["r/fit/fold-1"], pp.fingerprints["r/fit/fold-0"]
        path = cache_dir / f"{fp}{SUFFIX}"
        if plant == "old-format":
            raw = b"FGNC1\n" + hashlib.sha256(evil).digest() + evil
        elif plant == "current-magic":
            raw = MAGIC + hashlib.sha256(evil).digest() + evil
        elif plant == "forged-key":
            from foldgraph.engine._cachefs import seal

            raw = seal(os.urandom(32), fp, evil)
        else:  # fold-0's entry passed off as fold-1's: same shape, other numbers
            raw = (cache_dir / f"{other}{SUFFIX}").read_bytes()
        path.write_bytes(raw)
        counted = fp in NodeCache(cache_dir)
        with pytest.warns(RuntimeWarning, match=rf"entry {fp}{SUFFIX} is unreadable") as record:
            P2 = fit_ridge(pp, X, y)
        assert not marker.exists()
        assert not counted  # a plan does not count it as cached either
        assert any("never unpickled" in str(w.message) for w in record)
        assert ran(pp) == {"r/fit/fold-1"}
        np.testing.assert_array_equal(P1, P2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit_ridge(pp, X, y)  # recomputed and rewritten: all hits now
        assert ran(pp) == set() and not marker.exists()


def test_a_flipped_byte_in_a_signed_entry_is_refused(tmp_path):
    cache = NodeCache(tmp_path / "c")
    cache["ab"] = entry(3)
    path = tmp_path / "c" / f"ab{SUFFIX}"
    raw = bytearray(path.read_bytes())
    raw[len(MAGIC) + 1] ^= 0xFF  # inside the signature
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match=rf"entry ab{SUFFIX} is unreadable"):
        assert cache.get("ab") is None
    assert "ab" not in cache and cache.keys() == []


def test_entries_are_verified_with_the_key_on_disk(tmp_path, key_file):
    """Another key (a copied directory, a new key) makes every entry unsigned."""
    cache = NodeCache(tmp_path / "c")
    cache["ab"] = entry(2, 3.0)
    assert cache.key_file == key_file and key_file.stat().st_size == 32
    assert NodeCache(tmp_path / "c")["ab"].result.estimator.offset == 3.0
    key_file.write_bytes(os.urandom(32))
    fresh = NodeCache(tmp_path / "c")
    assert "ab" not in fresh and len(fresh) == 0
    with pytest.warns(RuntimeWarning, match=r"entry ab\.fgc is unreadable.*never unpickled"):
        assert fresh.get("ab") is None
    assert (tmp_path / "c" / f"ab{SUFFIX}").exists()  # not provably ours: not deleted


def test_the_key_is_created_once_by_racing_writers(tmp_path, key_file):
    caches = [NodeCache(tmp_path / "c") for _ in range(8)]
    errors: list = []

    def write(i):
        try:
            caches[i][f"e{i}"] = entry(2, float(i))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader = NodeCache(tmp_path / "c")
        assert sorted(reader.keys()) == [f"e{i}" for i in range(8)]
        assert [reader[f"e{i}"].result.estimator.offset for i in range(8)] == list(range(8))


def test_the_key_is_not_pickled_with_the_cache(tmp_path):
    cache = NodeCache(tmp_path / "c")
    cache["ab"] = entry(2)
    key = cache.key_file.read_bytes()
    blob = pickle.dumps(cache)
    assert key not in blob
    assert pickle.loads(blob)["ab"].result.fit_time == 0.5


def test_a_name_that_is_not_a_fingerprint_writes_nothing(tmp_path):
    cache = NodeCache(tmp_path / "c")
    with pytest.warns(RuntimeWarning, match=r"could not write entry \.\./escape"):
        cache["../escape"] = entry(2)
    assert not (tmp_path / f"escape{SUFFIX}").exists() and os.listdir(tmp_path / "c") == []
    assert "../escape" not in cache and cache.get("../escape") is None


# -- modes and owners -----------------------------------------------------------------
@posix_only
@pytest.mark.parametrize("umask", [0o000, 0o277])
def test_directory_entries_and_key_are_private_whatever_the_umask(tmp_path, key_file, umask):
    old = os.umask(umask)
    try:
        cache = NodeCache(tmp_path / "c")
        cache["ab"] = entry(2)
        cache.evict()
    finally:
        os.umask(old)
    assert mode(tmp_path / "c") == 0o700
    assert mode(tmp_path / "c" / f"ab{SUFFIX}") == 0o600
    assert mode(key_file) == 0o600 and mode(key_file.parent) == 0o700
    assert NodeCache(tmp_path / "c")["ab"].result.fit_time == 0.5


@posix_only
@pytest.mark.parametrize("loose", [0o777, 0o770, 0o702, 0o1777])
def test_a_directory_other_users_can_write_is_refused(tmp_path, loose):
    where = tmp_path / "shared"
    where.mkdir()
    os.chmod(where, loose)
    pattern = (rf"{re.escape(str(where))}.*writable by other users \(mode {loose:04o}\)"
               rf".*chmod 700 {re.escape(str(where))}")  # fmt: skip
    with pytest.raises(PermissionError, match=pattern):
        NodeCache(where)
    with pytest.raises(PermissionError, match=pattern):
        ParallelProcessing("sequential", cache=str(where))
    os.chmod(where, 0o755)  # readable by others is fine: only writing runs code
    assert len(NodeCache(where)) == 0


@posix_only
def test_a_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    owner = os.stat(tmp_path).st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)
    with pytest.raises(PermissionError, match=rf"{re.escape(str(tmp_path))}.*owned by uid {owner}"):
        NodeCache(tmp_path)


@posix_only
def test_the_owner_and_mode_checks(tmp_path):
    """The checks on a stat result, with owners no test could create for real."""
    from foldgraph.engine._cachefs import UnsafeCacheError, check_private

    me = os.geteuid()

    def st(mode, uid=me):
        return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))

    check_private(tmp_path, st(stat.S_IFDIR | 0o700), "directory")
    check_private(tmp_path, st(stat.S_IFDIR | 0o755), "directory")
    with pytest.raises(UnsafeCacheError, match=rf"owned by uid {me + 7}, not by you"):
        check_private(tmp_path, st(stat.S_IFDIR | 0o700, me + 7), "directory")
    with pytest.raises(UnsafeCacheError, match=r"writable by other users \(mode 0720\)"):
        check_private(tmp_path, st(stat.S_IFDIR | 0o720), "directory")
    with pytest.raises(UnsafeCacheError, match=rf"owned by uid {me + 7}"):
        check_private(tmp_path / "k", st(stat.S_IFREG | 0o600, me + 7), "key")
    with pytest.raises(UnsafeCacheError, match=r"readable or writable by other users "
                                               r"\(mode 0640\).*chmod 600"):  # fmt: skip
        check_private(tmp_path / "k", st(stat.S_IFREG | 0o640), "key")
    assert issubclass(UnsafeCacheError, PermissionError)


@posix_only
def test_a_key_other_users_can_read_is_refused(tmp_path, key_file):
    key_file.parent.mkdir()
    key_file.write_bytes(os.urandom(32))
    os.chmod(key_file, 0o644)
    with pytest.raises(PermissionError, match=rf"{re.escape(str(key_file))}.*readable or "
                                              rf"writable by other users \(mode 0644\)"):  # fmt: skip
        NodeCache(tmp_path / "c")["ab"] = entry(2)


def test_the_default_key_is_per_user_data(tmp_path, monkeypatch):
    monkeypatch.delenv("FOLDGRAPH_CACHE_KEY_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    cache = NodeCache(tmp_path / "c")
    assert cache.key_file == tmp_path / "share" / "foldgraph" / "node-cache.key"
    cache["ab"] = entry(2)
    assert cache.key_file.is_file() and os.listdir(tmp_path / "c") == [f"ab{SUFFIX}"]


# -- only its own files ---------------------------------------------------------------
FOREIGN = {
    "results.fgc": b"the user's results",
    "0123456789abcdef0123456789abcdef.fgc": b"FGNC1\n" + hashlib.sha256(b"x").digest() + b"x",
    "notes.txt": b"notes",
    ".draft.tmp": b"draft",
    ".bashrc.swp.tmp": b"swap",
    ".results.fgc.tmp": b"half a download",
}


def plant_foreign(where):
    for name, content in FOREIGN.items():
        (where / name).write_bytes(content)
        os.utime(where / name, (0, 0))  # older than any stale-file limit
    outside = where.parent / "outside.fgc"
    outside.write_bytes(b"precious")
    os.symlink(outside, where / "link.fgc")
    return outside


def assert_foreign_intact(where, outside):
    for name, content in FOREIGN.items():
        assert (where / name).read_bytes() == content, name
    assert os.path.islink(where / "link.fgc") and outside.read_bytes() == b"precious"


@pytest.mark.parametrize("how", ["clear", "evict", "max_bytes"])
def test_clear_and_eviction_delete_only_the_caches_own_files(tmp_path, how):
    where = tmp_path / "c"
    cache = NodeCache(where)
    outside = plant_foreign(where)
    for i in range(3):
        cache[f"e{i}"] = entry(50, float(i))
    size = (where / f"e0{SUFFIX}").stat().st_size
    assert sorted(cache.keys()) == ["e0", "e1", "e2"] and cache.nbytes == 3 * size
    if how == "clear":
        cache.clear()
    elif how == "evict":
        cache.evict(max_bytes=1)
    else:  # the foreign files count for nothing against the bound
        limited = NodeCache(where, max_bytes=int(1.5 * size))
        limited["e3"] = entry(50, 3.0)
        assert limited.keys() == ["e3"]
        limited.clear()
    assert len(cache) == 0
    assert_foreign_intact(where, outside)
    assert sorted(os.listdir(where)) == sorted([*FOREIGN, "link.fgc"])


def test_stale_temp_files_of_other_programs_survive(tmp_path):
    where = tmp_path / "c"
    cache = NodeCache(where)
    ours = where / f".{'ab' * 16}.4242.0a1b2c3d.tmp"
    ours.write_bytes(b"a writer died here")
    for path in (where / ".draft.tmp", where / ".bashrc.swp.tmp", where / ".x.1.zz.tmp", ours):
        path.touch()
        os.utime(path, (0, 0))
    cache.evict()
    assert not ours.exists()
    assert sorted(os.listdir(where)) == [".bashrc.swp.tmp", ".draft.tmp", ".x.1.zz.tmp"]
