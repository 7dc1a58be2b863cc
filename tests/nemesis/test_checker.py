"""Unit tests of the nemesis checker (tests/nemesis/checker.py): hand-made
histories with and without violations, so the checker itself can fail."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import checker  # noqa: E402


def op(f, key, inv, ret, value=None, result=None, ok=True, final=False):
    return {"p": 0, "f": f, "key": key, "value": value, "inv": inv, "ret": ret, "ok": ok,
            "result": result, "final": final}


def test_register_sequential_ok():
    h = [op("write", "a:r0", 0, 1, value="x"), op("read", "a:r0", 2, 3, result="x"),
         op("write", "a:r0", 4, 5, value="y"), op("read", "a:r0", 6, 7, result="y")]
    assert checker.linearizable_register(h)
    assert checker.check(h)["violations"] == []


def test_register_stale_read_is_a_violation():
    h = [op("write", "a:r0", 0, 1, value="x"), op("write", "a:r0", 2, 3, value="y"),
         op("read", "a:r0", 4, 5, result="x")]
    assert not checker.linearizable_register(h)
    r = checker.check(h)
    assert len(r["violations"]) == 1


def test_register_concurrent_write_either_order():
    # The read overlaps both writes: either value is fine, nothing else.
    base = [op("write", "a:r0", 0, 10, value="x"), op("write", "a:r0", 1, 9, value="y")]
    assert checker.linearizable_register(base + [op("read", "a:r0", 2, 8, result="x")])
    assert checker.linearizable_register(base + [op("read", "a:r0", 2, 8, result="y")])
    assert checker.linearizable_register(base + [op("read", "a:r0", 2, 8, result=None)])
    assert not checker.linearizable_register(base + [op("read", "a:r0", 2, 8, result="z")])


def test_register_reads_cannot_flip_back():
    # x then y concurrently; a reader sees y, a later reader sees x: only if
    # x was written after y, but then a third read of y after x is wrong.
    h = [op("write", "a:r0", 0, 10, value="x"), op("write", "a:r0", 0, 10, value="y"),
         op("read", "a:r0", 1, 2, result="y"), op("read", "a:r0", 3, 4, result="x"),
         op("read", "a:r0", 5, 6, result="y")]
    assert not checker.linearizable_register(h)


def test_register_indeterminate_write_may_or_may_not_happen():
    w = op("write", "a:r0", 0, None, value="x", ok=None)
    assert checker.check([w, op("read", "a:r0", 5, 6, result="x")])["violations"] == []
    assert checker.check([w, op("read", "a:r0", 5, 6, result=None)])["violations"] == []
    # ...but once seen, it cannot vanish.
    h = [w, op("read", "a:r0", 5, 6, result="x"), op("read", "a:r0", 7, 8, result=None)]
    assert checker.check(h)["violations"]


def test_register_lost_acknowledged_write_in_final_read():
    h = [op("write", "a:r0", 0, 1, value="x"), op("write", "a:r0", 2, 3, value="y"),
         op("read", "a:r0", 10, 11, result="x", final=True)]
    r = checker.check(h)
    assert len(r["lost"]) == 1 and r["violations"] == []


def test_register_search_bound_reports_unknown():
    h = [op("write", "a:r0", 0, None, value=str(i), ok=None) for i in range(14)]
    h += [op("read", "a:r0", 1, 2, result="nope")]
    with pytest.raises(checker.Unknown):
        checker.linearizable_register([dict(o, ret=None if not o["ok"] else o["ret"]) for o in h],
                                      max_steps=50)


def test_counter():
    ok = [op("incr", "a:c0", 0, 1, result=1), op("incr", "a:c0", 2, 3, result=2),
          op("incr", "a:c0", 4, None, ok=None), op("read", "a:c0", 5, 6, result="3"),
          op("read", "a:c0", 9, 10, result="3", final=True)]
    assert checker.check(ok) == {"violations": [], "lost": [], "unknown": [], "keys": 1}
    lost = ok[:2] + [op("read", "a:c0", 9, 10, result="1", final=True)]
    assert len(checker.check(lost)["lost"]) == 1
    dup = [op("incr", "a:c0", 0, 1, result=1), op("incr", "a:c0", 2, 3, result=1)]
    assert checker.check(dup)["violations"]
    too_high = [op("incr", "a:c0", 0, 1, result=1), op("read", "a:c0", 2, 3, result="5")]
    assert checker.check(too_high)["violations"]
    backwards = [op("incr", "a:c0", 0, 1, result=1), op("incr", "a:c0", 1, 2, result=2),
                 op("read", "a:c0", 3, 4, result="1")]
    assert checker.check(backwards)["violations"]


def test_list():
    pushes = [op("rpush", "a:l0", 0, 1, value="e1", result=1),
              op("rpush", "a:l0", 2, 3, value="e2", result=2),
              op("rpush", "a:l0", 4, None, value="e3", ok=None)]
    good = pushes + [op("lrange", "a:l0", 3.5, 4, result=["e1", "e2"]),
                     op("lrange", "a:l0", 8, 9, result=["e1", "e2", "e3"], final=True)]
    assert checker.check(good)["violations"] == [] and checker.check(good)["lost"] == []
    lost = pushes + [op("lrange", "a:l0", 8, 9, result=["e1"], final=True)]
    assert len(checker.check(lost)["lost"]) == 1
    order = pushes + [op("lrange", "a:l0", 3.5, 4, result=["e1", "e2"]),
                      op("lrange", "a:l0", 5, 6, result=["e2", "e1", "e3"])]
    assert checker.check(order)["violations"]
    stale = pushes + [op("lrange", "a:l0", 3.5, 4, result=["e1"])]
    assert checker.check(stale)["violations"]
    ghost = pushes + [op("lrange", "a:l0", 3.5, 4, result=["e1", "e2", "e9"])]
    assert checker.check(ghost)["violations"]
    dup = pushes + [op("lrange", "a:l0", 3.5, 4, result=["e1", "e1", "e2"])]
    assert checker.check(dup)["violations"]


def test_unavailability():
    h = [op("write", "a:r0", 0, t, value="x") for t in (1, 2, 10, 11)]
    u = checker.unavailability(h, lambda k: k.split(":")[0], 0, 12)
    assert u["a"][0] == 8


def test_unread_indeterminate_writes_do_not_blow_up_the_search():
    h = [op("write", "a:r0", 0, None, value=str(i), ok=None) for i in range(40)]
    h += [op("write", "a:r0", 0, 1, value="x"), op("read", "a:r0", 2, 3, result="x"),
          op("read", "a:r0", 4, 5, result="3")]
    r = checker.check(h, max_steps=2000)
    assert r["unknown"] == [] and r["violations"] == []
    # A refused write (ok False) is not a possible value.
    h = [op("write", "a:r0", 0, 1, value="x", ok=False), op("read", "a:r0", 2, 3, result="x")]
    assert checker.check(h)["violations"]


def test_run_verdict_fails_on_loss_violation_error_and_slow_recovery():
    # run.py's exit status (and so CI's nemesis step) comes from verdict().
    import run
    ok = {"lost": 0, "violations": 0, "recovered_after_s": {"g1": 0.1, "g2": 2.0}}
    assert run.verdict(ok, 30) == []
    assert run.verdict(dict(ok, lost=1), 30) == ["lost"]
    assert run.verdict(dict(ok, violations=3), 30) == ["violations"]
    assert run.verdict({"error": "RuntimeError('x')"}, 30) == ["error"]
    assert run.verdict(dict(ok, recovered_after_s={"g1": None, "g2": 1}), 30) == ["not recovered"]
    assert run.verdict(dict(ok, recovered_after_s={"g1": 31, "g2": 1}), 30) == ["not recovered"]
