"""A full disk: writes fail cleanly, nothing acknowledged is lost, the node
lives, and it accepts writes again once there is room.

The data directory sits on a tmpfs of a few MiB that the test mounts (root
only; skipped elsewhere) and later grows with a remount."""
import os
import subprocess
import tempfile
import time

import pytest
import redis

from harness import wait_until


def _mount_tmpfs(path, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_fs():
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tempfile.mkdtemp(prefix="strata-fullfs-")
    if not _mount_tmpfs(mnt, "3m"):
        os.rmdir(mnt)
        pytest.skip("mounting a tmpfs is not permitted here")
    yield mnt
    subprocess.run(["umount", "-l", mnt], capture_output=True)
    os.rmdir(mnt)


def test_disk_full_then_room_again(cluster, small_fs):
    data = os.path.join(small_fs, "data")
    node = cluster.node(args=["--dir", data, "--fsync", "always"])
    r = node.client()
    acked, errors = {}, set()
    for i in range(400):
        v = os.urandom(20000)
        try:
            r.set(f"k{i}", v)
            acked[f"k{i}"] = v
        except redis.ResponseError as e:
            errors.add(str(e).split(" ")[0])
        except redis.ConnectionError:
            # The client whose write was in the failed batch is closed
            # without a reply: it is not told a lost write succeeded.
            errors.add("closed")
            r = node.client()
    assert errors, "the disk never filled up"
    assert errors <= {"MISCONF", "closed"}, errors
    assert node.alive()
    assert r.ping()
    for k, v in acked.items():
        assert r.get(k) == v, k
    # Reads keep being served while writes are refused: for 1.5 s (more
    # than a dozen cron ticks, where background work such as trimming or
    # dropping the replication log runs) no reader is disconnected.
    t = time.monotonic()
    keys = list(acked)
    n = 0
    while time.monotonic() - t < 1.5:
        k = keys[n % len(keys)]
        assert r.get(k) == acked[k], k
        n += 1
    with pytest.raises(redis.ResponseError, match="^MISCONF"):
        r.set("more", "x")

    # Room again: writes are accepted without a restart.
    subprocess.run(["mount", "-o", "remount,size=64m", small_fs], check=True)
    wait_until(lambda: r.set("after", "room"), 15, what="writes accepted again")
    assert r.get("after") == b"room"

    # And everything acknowledged survives a restart.
    assert node.stop() == 0
    node.start()
    r = node.client()
    for k, v in acked.items():
        assert r.get(k) == v, k
    assert r.get("after") == b"room"
