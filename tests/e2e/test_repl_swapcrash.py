"""A crash in the middle of a full sync's directory swap loses nothing.

server_store_replace renames dir -> dir.old, then dir.sync -> dir.  The
test recreates both states a crash between the two renames can leave on
disk (with real LevelDB directories) and starts the node on them."""
import os
import shutil

from harness import Cluster


def _node_with(cluster, name, data):
    """A stopped node whose data directory holds `data` (key -> value)."""
    node = cluster.node(name)
    c = node.client()
    for k, v in data.items():
        c.set(k, v)
    assert node.stop() == 0
    return node.args[node.args.index("--dir") + 1]


def test_swap_interrupted_after_first_rename_uses_the_synced_copy(cluster):
    old_dir = _node_with(cluster, "old", {"k": "old", "only-old": "1"})
    new_dir = _node_with(cluster, "new", {"k": "new", "only-new": "1"})
    other = Cluster(prefix="strata-swap-")
    try:
        node = other.node("n", start=False)
        d = node.args[node.args.index("--dir") + 1]
        shutil.rmtree(d, ignore_errors=True)
        # dir was renamed to dir.old; the complete dir.sync was not yet renamed.
        shutil.copytree(old_dir, d + ".old")
        shutil.copytree(new_dir, d + ".sync")
        node.start()
        c = node.client()
        assert c.get("k") == b"new" and c.get("only-new") == b"1" and c.get("only-old") is None
        assert os.path.isdir(d) and not os.path.exists(d + ".sync")
    finally:
        other.close()


def test_swap_interrupted_without_synced_copy_restores_the_old_data(cluster):
    old_dir = _node_with(cluster, "old", {"k": "old"})
    other = Cluster(prefix="strata-swap-")
    try:
        node = other.node("n", start=False)
        d = node.args[node.args.index("--dir") + 1]
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(old_dir, d + ".old")
        node.start()
        assert node.client().get("k") == b"old"
    finally:
        other.close()
