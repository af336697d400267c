# SPDX-License-Identifier: Apache-2.0
"""Reliability of the storage path through the real daemon: a write answered
204 in durable mode survives kill -9 (during sustained concurrent ingest,
flushes included); a full disk gives a clear 507 (or 503), no corruption, and
every acknowledged point is there once space is back; a torn or garbage WAL
tail never keeps the daemon from starting. Presence is checked through /query
(SELECT ... WHERE time >= X AND time <= Y, epoch=ns)."""
import glob
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import TOKEN

HDRS = {"Authorization": f"Token {TOKEN}"}


# ---- helpers ----

def query_points(inst, measurement, lo, hi, db="default"):
    """{(tag w, time ns): v} of measurement in [lo, hi], read through /query."""
    q = f"SELECT * FROM {measurement} WHERE time >= {lo} AND time <= {hi}"
    r = requests.get(inst.url + "/query", params={"db": db, "q": q, "epoch": "ns"},
                     headers=HDRS, timeout=120)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    res = body["results"][0]
    assert "error" not in res, res
    out = {}
    for s in res.get("series", []):
        cols = s["columns"]
        it, iw, iv = cols.index("time"), cols.index("w"), cols.index("v")
        for row in s["values"]:
            key = (row[iw], row[it])
            assert key not in out, f"point {key} returned twice"
            out[key] = row[iv]
    return out


def check_present(inst, measurement, acked, lo, hi):
    """Every acknowledged (w, ts) -> v is in the store with its value."""
    got = query_points(inst, measurement, lo, hi)
    missing = [k for k in acked if k not in got]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged points lost, e.g. {sorted(missing)[:5]}"
    wrong = [(k, acked[k], got[k]) for k in acked if got[k] != acked[k]]
    assert not wrong, f"acknowledged points with another value: {wrong[:5]}"
    return got


def post_lines(session, url, lines, timeout=30):
    return session.post(url + "/write", params={"db": "default", "precision": "ns"},
                        data="\n".join(lines).encode(), headers=HDRS, timeout=timeout)


# ---- kill -9 during sustained ingest ----

def ingest_until_killed(inst, trial, n_threads, lines_per_batch, seconds, acked, lock):
    """n_threads clients write batches until the daemon is killed after
    `seconds`; every batch answered 204 goes into acked. Returns the number of
    acknowledged batches and the non-204 answers seen before the kill."""
    stop = threading.Event()
    bad = []
    counts = [0] * n_threads

    def client(w):
        s = requests.Session()
        seq = 0
        while not stop.is_set():
            # distinct timestamps per trial, thread and batch; value = batch number
            base = (trial * 1000 + w) * 10**12 + seq * lines_per_batch
            batch = {(f"t{w}", base + i): seq for i in range(lines_per_batch)}
            lines = [f"rel,w={k[0]} v={v}i {k[1]}" for k, v in batch.items()]
            try:
                r = post_lines(s, inst.url, lines, timeout=10)
            except requests.RequestException:
                continue  # the daemon is gone (or going): outcome unknown
            if r.status_code == 204:
                with lock:
                    acked.update(batch)
                counts[w] += 1
            elif not stop.is_set():
                bad.append((r.status_code, r.text[:200]))
            seq += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(n_threads)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    inst.kill9()  # SIGKILL while the clients are writing
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return sum(counts), bad


def test_reliability_kill9_during_ingest_keeps_acked_writes(loom_factory):
    first = loom_factory()
    data = first.data_dir
    acked, lock = {}, threading.Lock()
    rng = random.Random()
    inst = first
    for trial in range(5):
        # every other trial with a small head, so flushes run during the kill
        extra = ["--head-max-mb", "1"] if trial % 2 else []
        if trial:
            inst = loom_factory(data_dir=data, extra_args=extra)
        inst.start()
        # the last trials with bodies under 1 KiB: logged uncompressed (engine.c WAL_Z_MIN)
        n, bad = ingest_until_killed(inst, trial, n_threads=4, lines_per_batch=3 if trial >= 3 else 100,
                                     seconds=rng.uniform(1.2, 2.2), acked=acked, lock=lock)
        assert not bad, f"writes failed before the kill: {bad[:3]}"
        assert n > 10, f"only {n} batches acknowledged in trial {trial}"
        # restart on the same data: everything acknowledged so far is there
        inst = loom_factory(data_dir=data)
        inst.start()
        check_present(inst, "rel", acked, 0, 10**16)
        inst.stop()


# ---- full disk ----

def mount_tmpfs(path, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True, text=True)


def test_reliability_disk_full_gives_507_and_keeps_acked(loom_factory):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="loom-full-")
    r = mount_tmpfs(mnt, "4m")
    if r.returncode:
        shutil.rmtree(mnt, ignore_errors=True)
        pytest.skip("cannot mount a tmpfs: " + r.stderr.strip())
    data = os.path.join(mnt, "data")
    logdir = tempfile.mkdtemp(prefix="loom-full-log-")
    inst = None
    try:
        inst = loom_factory(data_dir=data, extra_args=["--head-max-mb", "1"])
        inst.log_path = os.path.join(logdir, "loom.log")  # the log must not fill the disk too
        inst.start()
        s = requests.Session()
        acked = {}
        full = None
        statuses = {}
        # random values, so that neither the WAL's zstd nor the block codecs
        # shrink them: 2000 points take ~16 KiB on disk, 4 MiB fill in a few hundred writes
        rng = random.Random(7)
        for seq in range(3000):
            batch = {("a", seq * 10000 + i): rng.getrandbits(62) for i in range(2000)}
            r = post_lines(s, inst.url, [f"rel,w=a v={v}i {k[1]}" for k, v in batch.items()])
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 204:
                acked.update(batch)
                continue
            assert r.status_code in (507, 503), (r.status_code, r.text)
            full = r
            break
        assert full is not None, f"the disk never filled: {statuses}"
        assert acked, "nothing was written before the disk filled"
        err = full.json()["error"]
        assert "no space left on device" in err or "read-only" in err, err
        # while full: still a clear answer, never a crash, never a 204 for a write that does not fit
        for seq in range(3000, 3010):
            batch = {("a", seq * 10000 + i): rng.getrandbits(62) for i in range(2000)}
            r = post_lines(s, inst.url, [f"rel,w=a v={v}i {k[1]}" for k, v in batch.items()])
            assert r.status_code in (204, 507, 503), (r.status_code, r.text)
            if r.status_code == 204:
                acked.update(batch)
        assert requests.get(inst.url + "/ping", timeout=5).status_code == 204
        # a crash while the disk is full; a restart on the full disk either
        # works or fails with a message that names the cause
        inst.kill9()
        inst = loom_factory(data_dir=data)
        inst.log_path = os.path.join(logdir, "loom.log")
        try:
            inst.start()
            r = post_lines(s, inst.url, ["rel,w=c v=1i 1"])
            assert r.status_code in (204, 507, 503), (r.status_code, r.text)
            if r.status_code == 204:
                acked[("c", 1)] = 1
            assert inst.stop() is not None
        except RuntimeError as e:
            assert "no space left on device" in str(e), str(e)
        # free space: grow the file system, start again
        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        inst = loom_factory(data_dir=data)
        inst.log_path = os.path.join(logdir, "loom.log")
        inst.start()
        check_present(inst, "rel", acked, 0, 10**9)
        # and it takes writes again
        r = post_lines(s, inst.url, ["rel,w=b v=1i 1"])
        assert r.status_code == 204, r.text
        assert requests.get(inst.url + "/health", timeout=5).json()["status"] == "pass"
    finally:
        if inst is not None:
            inst.stop(sig=signal.SIGKILL)
        subprocess.run(["umount", mnt], check=False)
        shutil.rmtree(mnt, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)


# ---- damaged WAL tails ----

def last_wal(data):
    """The WAL file with the highest id that holds records (more than the 24-byte header)."""
    files = sorted(glob.glob(os.path.join(data, "wal", "wal-*.log")))
    files = [f for f in files if os.path.getsize(f) > 24]
    assert files, "no WAL file with records"
    return files[-1]


def write_batches_then_kill(inst, n):
    """n acknowledged batches of 20 points (batch k at ts k*100 + i, v=k), then kill -9."""
    s = requests.Session()
    for k in range(n):
        r = post_lines(s, inst.url, [f"rel,w=a v={k}i {k * 100 + i}" for i in range(20)])
        assert r.status_code == 204, r.text
    inst.kill9()


def expected(batches):
    return {("a", k * 100 + i): k for k in batches for i in range(20)}


def test_reliability_torn_wal_tail_starts(loom_factory):
    inst = loom_factory().start()
    data = inst.data_dir
    write_batches_then_kill(inst, 10)
    path = last_wal(data)
    size = os.path.getsize(path)
    os.truncate(path, size - 3)  # the last record (batch 9) is torn
    inst = loom_factory(data_dir=data).start()
    got = check_present(inst, "rel", expected(range(9)), 0, 10**6)
    assert not any(k[1] >= 900 for k in got), "a torn record was replayed"
    # the repaired store goes on: new writes, and another crash, recover too
    s = requests.Session()
    r = post_lines(s, inst.url, [f"rel,w=a v=99i {9900 + i}" for i in range(20)])
    assert r.status_code == 204
    inst.kill9()
    inst = loom_factory(data_dir=data).start()
    want = expected(range(9))
    want.update({("a", 9900 + i): 99 for i in range(20)})
    check_present(inst, "rel", want, 0, 10**6)


def test_reliability_garbage_after_wal_tail_starts(loom_factory):
    inst = loom_factory().start()
    data = inst.data_dir
    write_batches_then_kill(inst, 5)
    with open(last_wal(data), "ab") as f:
        f.write(os.urandom(777))
        f.write(b"\0" * 4096)
    inst = loom_factory(data_dir=data).start()
    check_present(inst, "rel", expected(range(5)), 0, 10**6)
