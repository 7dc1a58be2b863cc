"""The nemesis checker: reads a history of client operations and says
which acknowledged writes were lost and which reads no linearizable
execution explains.

An operation is a dict:
    {"p": process id, "f": op name, "key": key, "value": argument,
     "inv": invocation time (s), "ret": completion time (s) or None,
     "ok": True (acknowledged), False (definitely not applied: only used
           for reads) or None (indeterminate: an error, a timeout or a
           closed connection; the write may or may not have happened),
     "result": the reply for ok operations}

Op names: "write" (SET key value), "read" (GET), "incr" (INCR, result the
new value), "rpush" (RPUSH one unique element, result the new length),
"lrange" (LRANGE 0 -1, result the list).  A MULTI transaction is recorded
as its parts, each with the transaction's times and outcome (every part
is per-key; the checks are per key).

Checks:
  registers  per-key linearizability (Wing & Gong search with Lowe's
             memoization, as Knossos and Porcupine do): writes with an
             indeterminate outcome may take effect at any time after their
             invocation, or never.  The search is bounded (max_steps per
             key): a key it could not decide is reported as unknown, not as
             passed.  The final read after healing is part of the history,
             so a lost acknowledged write shows as a violation of that read
             and is also counted in "lost".
  counters   acknowledged INCRs return distinct values; a read or the final
             value is never below the result of an INCR acknowledged before
             it began (lost otherwise), never above the number of INCRs
             invoked before it ended.
  lists      elements are unique; every read, and the final list, is a
             prefix of a longer one (one total order of elements); every
             element acknowledged before a read began is in it (the final
             read: lost otherwise); nothing appears that no RPUSH sent.
"""
import math

INF = math.inf


class Unknown(Exception):
    pass


# ---------------------------------------------------------------- registers

def linearizable_register(ops, init=None, max_steps=2_000_000):
    """True if the register history is linearizable, False if not; raises
    Unknown past max_steps.  ops: dicts with inv, ret (None = inf), f in
    (write, read), value / result.  Reads that did not complete must be
    left out by the caller."""
    n = len(ops)
    if n == 0:
        return True
    # Events: (time, order, op index, is_return).  Calls sort before returns
    # at the same instant (the more permissive reading).
    events = []
    for i, o in enumerate(ops):
        ret = o["ret"] if o["ret"] is not None else INF
        events.append((o["inv"], 0, i, False))
        events.append((ret, 1, i, True))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    # Doubly linked list over event slots; index 0 is the head sentinel.
    m = len(events)
    nxt = list(range(1, m + 2))
    prv = list(range(-1, m + 1))
    op_of = [0] * (m + 1)
    is_ret = [False] * (m + 1)
    match = [0] * (m + 1)
    call_slot = {}
    for s, (_, _, i, r) in enumerate(events, start=1):
        op_of[s] = i
        is_ret[s] = r
        if not r:
            call_slot[i] = s
        else:
            match[call_slot[i]] = s
    nxt[m] = 0  # end marker: slot 0 used as None after the last
    END = 0

    def unlink(s):
        p, q = prv[s], nxt[s]
        nxt[p] = q
        if q != END:
            prv[q] = p

    def relink(s):
        p, q = prv[s], nxt[s]
        nxt[p] = s
        if q != END:
            prv[q] = s

    def lift(s):
        unlink(s)
        unlink(match[s])

    def unlift(s):
        relink(match[s])
        relink(s)

    def step(state, o):
        if o["f"] == "write":
            return True, o["value"]
        return o["result"] == state, state

    cache = set()
    stack = []
    lin = 0
    state = init
    entry = nxt[0]
    steps = 0
    while nxt[0] != END:
        steps += 1
        if steps > max_steps:
            raise Unknown(f"more than {max_steps} steps")
        if entry == END:
            # Only pending returns of indeterminate ops remain past here.
            if not stack:
                return False
            entry, state = stack.pop()
            lin &= ~(1 << op_of[entry])
            unlift(entry)
            entry = nxt[entry]
            continue
        if not is_ret[entry]:
            i = op_of[entry]
            ok, st2 = step(state, ops[i])
            if ok:
                lin2 = lin | (1 << i)
                key = (lin2, st2)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state, lin = st2, lin2
                    lift(entry)
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            # A return whose call is not linearized yet: backtrack.
            if not stack:
                return False
            entry, state = stack.pop()
            lin &= ~(1 << op_of[entry])
            unlift(entry)
            entry = nxt[entry]
    return True


def first_bad_read(ops, init=None):
    """A read no write explains at all (cheap check, for the report)."""
    written = {init} | {o["value"] for o in ops if o["f"] == "write"}
    for o in ops:
        if o["f"] == "read" and o["result"] not in written:
            return o
    return None


# ---------------------------------------------------------------- counters

def check_counter(ops, key):
    """Returns (violations, lost) lists of strings."""
    viol, lost = [], []
    incrs = [o for o in ops if o["f"] == "incr"]
    reads = [o for o in ops if o["f"] == "read" and o["ok"]]
    acked = [o for o in incrs if o["ok"]]
    seen = {}
    for o in acked:
        r = o["result"]
        if r in seen:
            viol.append(f"{key}: two acknowledged INCRs returned {r}")
        seen[r] = o
    for o in acked + reads:
        v = int(o["result"]) if o["result"] is not None else 0
        ret = o["ret"]
        # Floor: INCRs acknowledged before this op began.
        floor = max((int(a["result"]) for a in acked if a["ret"] < o["inv"]), default=0)
        # Ceiling: INCRs invoked before this op completed.
        ceil = sum(1 for a in incrs if a["inv"] <= ret)
        if v < floor:
            what = "final read" if o.get("final") else o["f"]
            msg = f"{key}: {what} at {o['inv']:.3f} saw {v}, but INCR acknowledged {floor} before"
            (lost if o.get("final") else viol).append(msg)
        if v > ceil:
            viol.append(f"{key}: {o['f']} at {o['inv']:.3f} saw {v}, only {ceil} INCRs invoked")
    return viol, lost


# ---------------------------------------------------------------- lists

def check_list(ops, key):
    viol, lost = [], []
    pushes = [o for o in ops if o["f"] == "rpush"]
    sent = {o["value"] for o in pushes}
    reads = sorted((o for o in ops if o["f"] == "lrange" and o["ok"]), key=lambda o: o["inv"])
    for o in reads:
        lst = o["result"]
        if len(set(lst)) != len(lst):
            viol.append(f"{key}: read at {o['inv']:.3f} has a duplicate element")
        extra = [e for e in lst if e not in sent]
        if extra:
            viol.append(f"{key}: read at {o['inv']:.3f} has elements no RPUSH sent: {extra[:3]}")
        pos = {e: j for j, e in enumerate(lst)}
        for p in pushes:
            if p["ok"] and p["ret"] < o["inv"] and p["value"] not in pos:
                if o.get("final"):
                    lost.append(f"{key}: acknowledged RPUSH {p['value']} missing from the final list")
                else:
                    viol.append(f"{key}: read at {o['inv']:.3f} misses {p['value']} acknowledged "
                                f"at {p['ret']:.3f}")
    # One order: sort by length, each a prefix of the next.
    by_len = sorted(reads, key=lambda o: len(o["result"]))
    for a, b in zip(by_len, by_len[1:]):
        la, lb = a["result"], b["result"]
        if lb[:len(la)] != la:
            viol.append(f"{key}: reads at {a['inv']:.3f} and {b['inv']:.3f} disagree on the order")
            break
    # RPUSH's reply is the new length: acknowledged lengths are distinct.
    lens = [o["result"] for o in pushes if o["ok"]]
    if len(set(lens)) != len(lens):
        viol.append(f"{key}: two acknowledged RPUSHes returned the same length")
    return viol, lost


# ---------------------------------------------------------------- all

def kind_of(key):
    """Key families: ...:r<n> registers, ...:c<n> counters, ...:l<n> lists."""
    tail = key.rsplit(":", 1)[-1]
    return {"r": "register", "c": "counter", "l": "list"}.get(tail[:1], "register")


def check(history, max_steps=2_000_000):
    """Returns a dict: violations, lost, unknown (keys the search could not
    decide), per-kind counts."""
    by_key = {}
    for o in history:
        by_key.setdefault(o["key"], []).append(o)
    viol, lost, unknown = [], [], []
    for key, ops in sorted(by_key.items()):
        kind = kind_of(key)
        if kind == "register":
            use = [o for o in ops if o["f"] == "write" or (o["f"] == "read" and o["ok"])]
            # A write known not to have happened is left out.
            use = [o for o in use if not (o["f"] == "write" and o["ok"] is False)]
            # An indeterminate write whose value no read returned can be
            # left out: placing it last (it never took effect) explains
            # the same reads.  (Not an acknowledged one: its completion
            # still constrains what later reads may return.)
            seen = {o["result"] for o in use if o["f"] == "read"}
            use = [o for o in use if o["f"] == "read" or o["ok"] or o["value"] in seen]
            # An indeterminate write completes at infinity.
            h = [dict(o, ret=(o["ret"] if o["ok"] else None)) for o in use]
            try:
                if not linearizable_register(h, None, max_steps):
                    bad = first_bad_read(h)
                    final = [o for o in h if o.get("final")]
                    fin_ok = True
                    if final:
                        # Is the history without the final read linearizable?
                        # Then the final read is what fails: a lost write.
                        try:
                            fin_ok = not linearizable_register(
                                [o for o in h if not o.get("final")], None, max_steps)
                        except Unknown:
                            fin_ok = True
                        if not fin_ok:
                            lost.append(f"{key}: the final read {final[0]['result']!r} is not "
                                        f"linearizable (an acknowledged write was lost)")
                    if fin_ok:
                        viol.append(f"{key}: not linearizable"
                                    + (f" (read {bad['result']!r} at {bad['inv']:.3f} matches no "
                                       f"write)" if bad else ""))
            except Unknown as e:
                unknown.append(f"{key}: {e}")
        elif kind == "counter":
            v, l = check_counter(ops, key)
            viol += v
            lost += l
        else:
            v, l = check_list(ops, key)
            viol += v
            lost += l
    return {"violations": viol, "lost": lost, "unknown": unknown, "keys": len(by_key)}


def unavailability(history, group_of, t_start, t_end):
    """Longest time (s) within [t_start, t_end] during which a group had no
    acknowledged operation, per group: {group: (seconds, from, to)}."""
    out = {}
    groups = {group_of(o["key"]) for o in history}
    for g in groups:
        times = sorted(o["ret"] for o in history
                       if o["ok"] and group_of(o["key"]) == g and o["ret"] is not None
                       and t_start <= o["ret"] <= t_end)
        pts = [t_start] + times + [t_end]
        best = (0.0, t_start, t_start)
        for a, b in zip(pts, pts[1:]):
            if b - a > best[0]:
                best = (b - a, a, b)
        out[g] = best
    return out
