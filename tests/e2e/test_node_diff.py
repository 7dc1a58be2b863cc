"""Differential tests: random command sequences against strata-node and a
real redis-server side by side; every reply must match (see difftest.py).

The seed of each run is printed and appears in any failure message; set
STRATA_SEED=N to replay a run.  STRATA_DIFF_COUNT scales the run lengths.
The same runs in RESP3 (same generators and seeds) are in test_node_resp3.py.
"""

import pytest

import difftest
from difftest import BASE_SEED, Differ, Mismatch, n, run_diff



# --- the differ itself -------------------------------------------------------

def test_differ_finds_no_difference_between_two_redis_servers(cluster):
    a, b = cluster.redis("redis-a"), cluster.redis("redis-b")
    _, done = run_diff(a.port, b.port, BASE_SEED, n(1500))
    assert done == n(1500)


def test_differ_reports_seed_index_and_history(cluster):
    a, b = cluster.redis("redis-a"), cluster.redis("redis-b")
    # The string family never flushes.  Plant a value under every key the
    # generator uses, so the first read of any key not yet overwritten
    # differs (one planted key could be overwritten before it is read).
    d = Differ(a.port, b.port, seed=BASE_SEED, families=["string"])
    try:
        for k in difftest.Ctx.KEYS:
            b.client().set(k, b"only in the reference")
        with pytest.raises(Mismatch) as e:
            d.run(20000)
    finally:
        d.close()
    text = str(e.value)
    print(text)
    assert f"STRATA_SEED={BASE_SEED}" in text
    assert "command #" in text and "strata:" in text and "reference:" in text


def test_generators_cover_every_family_and_are_reproducible(monkeypatch):
    # Some generators build absolute expire times from the clock: freeze it
    # so that only the seed decides the arguments.
    monkeypatch.setattr(difftest.time, "time", lambda: 1_700_000_000.0)
    assert {"string", "keys", "server"} <= set(difftest.GENERATORS)
    c1, c2 = difftest.Ctx(1234), difftest.Ctx(1234)
    gens = [fn for fam in sorted(difftest.GENERATORS) for fn, _ in difftest.GENERATORS[fam]]
    for _ in range(200):
        for g in gens:
            assert g(c1).args == g(c2).args


# --- strata-node against redis-server --------------------------------------------

def test_node_diff_all_families(pair):
    node, ref = pair
    d, done = run_diff(node.port, ref.port, BASE_SEED, n(6000))
    assert done == n(6000)


@pytest.mark.parametrize("offset", [1, 2])
def test_node_diff_more_seeds(pair, offset):
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + offset, n(2500))


def test_node_diff_strings(pair):
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + 10, n(3000), families=["string"])


def test_node_diff_keys_and_expiry(pair):
    """Weighted towards expiry, so many keys expire during the run."""
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + 20, n(3000), families=["keys", "string"],
             weights={"keys": 3.0})
