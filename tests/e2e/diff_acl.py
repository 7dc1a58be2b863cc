"""Generator of ACL command sequences for the ACL differential
(test_acl.py): seeded sequences of ACL SETUSER / GETUSER / LIST / DRYRUN /
CAT / WHOAMI / USERS / DELUSER / GENPASS / LOG, AUTH and commands run as
users, sent to strata-node and to redis-server side by side.

What may differ and is normalised (normalise()):
  - the command part of rules ("-@all +get +set ..."): Redis lists single
    commands in its hash order, and counts categories over its own,
    larger, command set; the semantics are compared instead, through ACL
    DRYRUN of PROBES on both servers (probe_users()).
  - ACL LOG's age-seconds and client-info (times, ids, buffer sizes);
    count, reason, context, object and username are compared.
  - ACL GENPASS: the length only.
"""
import random
import re

from difftest import Double, Error, Map, Push, RespConn, Set

# What both servers' ACL files hold at the start.
START_FILE = "user default on nopass ~* &* +@all\nuser carol off resetchannels -@all\n"
USERS = [b"alice", b"bob", b"carol", b"default"]
PASSWORDS = [b"pw1", b"pw2", b"", b"p w"]
KEYS = [b"k1", b"k2", b"r1", b"w1", b"x"]
CHANNELS = [b"c1", b"c2", b"news.a"]
RULES = [b"on", b"off", b"nopass", b"resetpass", b">pw1", b">pw2", b"<pw1", b"<nosuch",
         b"#" + b"a" * 64, b"!" + b"a" * 64, b"#zz", b"allkeys", b"resetkeys", b"~k*", b"%R~r*",
         b"%W~w*", b"%RW~x", b"%~x", b"%R", b"allchannels", b"resetchannels", b"&c1", b"&news.*",
         b"allcommands", b"nocommands", b"+@all", b"-@all", b"+@read", b"-@read", b"+@write",
         b"+@hash", b"-@hash", b"+@string", b"+@pubsub", b"+get", b"-get", b"+set", b"-set",
         b"+hget", b"+config|get", b"+select|0", b"+config|get|x", b"-get|x", b"+nosuch",
         b"+@nosuch", b"foo", b"reset", b"clearselectors", b"(~x* +get)", b"(+set ~w*)",
         b"sanitize-payload", b"skip-sanitize-payload"]
# Lines ACL DRYRUN checks on both servers to compare the command rules.
PROBES = [[b"get", b"k1"], [b"get", b"x"], [b"get", b"r1"], [b"set", b"w1", b"v"], [b"set", b"r1", b"v"],
          [b"set", b"x", b"v"], [b"hget", b"k1", b"f"], [b"hset", b"k1", b"f", b"v"],
          [b"hdel", b"k1", b"f"], [b"config", b"get", b"x"], [b"config", b"set", b"x", b"y"],
          [b"select", b"0"], [b"select", b"1"], [b"publish", b"c1", b"m"], [b"publish", b"news.x", b"m"],
          [b"subscribe", b"c2"], [b"psubscribe", b"news.*"], [b"lpush", b"k2", b"a"],
          [b"incr", b"k1"], [b"mget", b"k1", b"x"], [b"lmove", b"r1", b"w1", b"left", b"left"],
          [b"ping"], [b"client", b"list"], [b"acl", b"whoami"]]


def gen_step(r):
    """One step: a list of commands (argv lists)."""
    x = r.random()
    u = r.choice(USERS[:3]) if r.random() < 0.9 else b"default"
    if x < 0.45:
        return [[b"acl", b"setuser", u] + [r.choice(RULES) for _ in range(r.randint(0, 4))]]
    if x < 0.55:
        return [[b"acl", b"getuser", r.choice(USERS + [b"nouser"])]]
    if x < 0.6:
        return [[b"acl", b"list"]]
    if x < 0.65:
        return [[b"acl", b"users"]]
    if x < 0.75:
        return [[b"acl", b"dryrun", r.choice(USERS + [b"nouser"])] + r.choice(PROBES + [[b"nosuch"], [b"get"]])]
    if x < 0.78:
        return [[b"acl", b"deluser", r.choice(USERS[:3] + [b"nouser", b"default"])]]
    if x < 0.82:
        return [[b"acl", b"cat"] + ([r.choice([b"hash", b"pubsub", b"nosuch"])] if r.random() < 0.5 else [])]
    if x < 0.85:
        return [[b"acl", b"genpass"] + ([r.choice([b"1", b"5", b"0", b"4097", b"x", b"128"])]
                                        if r.random() < 0.6 else [])]
    if x < 0.95:
        # run as a user: AUTH then a command (on a separate connection)
        # (SELECT 1: strata-node has one database, a known difference;
        # CLIENT LIST: ids and buffer sizes differ)
        return [[b"@as", u, r.choice(PASSWORDS)] + r.choice([p for p in PROBES if p[0] != b"client" and
                                                             p != [b"select", b"1"]])]
    if x < 0.97:
        return [[b"acl", b"log"] + r.choice([[b"5"], [b"1"], [b"-1"], [b"x"], [], [b"reset"], [b"reset", b"x"]])]
    return [r.choice([[b"acl", b"help"], [b"acl", b"nosuch"], [b"acl", b"whoami"], [b"acl", b"whoami", b"x"],
                      [b"acl", b"deluser", b"alice", b"bob"], [b"acl", b"dryrun", b"alice"],
                      [b"acl", b"save"], [b"acl", b"load"], [b"acl", b"save"], [b"acl", b"load"]])]


def shape(v):
    """The RESP types of a reply (RESP3 map, set, double, simple or bulk
    string...), with the element types of an array as a set: compared
    exactly where the values themselves are normalised."""
    for t, name in ((Map, "map"), (Set, "set"), (Push, "push")):
        if isinstance(v, t):
            return (name, [shape(x) for x in v])
    if isinstance(v, list):
        return ("array", sorted({repr(shape(x)) for x in v}))
    for t, name in ((Error, "error"), (Double, "double"), (bytes, "bulk"), (str, "simple"), (bool, "bool"),
                    (int, "int")):
        if isinstance(v, t):
            return name
    return "null" if v is None else type(v).__name__


RULES_RE = re.compile(rb"(?:^| )([+-]@all(?: [+-][^ ()]+)*)")


def normalise(cmd, reply):
    """The comparable form of a reply (see the module's comment)."""
    if cmd[:2] == [b"acl", b"genpass"] and isinstance(reply, bytes) and not isinstance(reply, Error):
        return ("genpass", len(reply))
    if cmd[:2] == [b"acl", b"list"] and isinstance(reply, list):
        return [RULES_RE.sub(b" <rules>", line) for line in reply]
    if cmd[:2] == [b"acl", b"getuser"] and isinstance(reply, list):
        return _getuser(reply)
    if cmd[:2] == [b"acl", b"log"] and isinstance(reply, list):
        out = []
        for e in reply:
            d = dict(zip(e[0::2], e[1::2]))
            out.append([d.get(k) for k in (b"count", b"reason", b"context", b"object", b"username")])
        return out
    if cmd[:2] == [b"acl", b"cat"] and isinstance(reply, list) and len(cmd) == 3:
        return ("cat", "nonempty" if reply else "empty")
    return reply


def _getuser(reply):
    d = list(reply)
    out = []
    for i in range(0, len(d) - 1, 2):
        k, v = d[i], d[i + 1]
        if k == b"commands":
            v = v.split(b" ")[0]
        elif k == b"selectors":
            v = [[(sv.split(b" ")[0] if sk == b"commands" else sv) for sk, sv in zip(s[0::2], s[1::2])]
                 for s in v]
        elif k == b"flags":
            v = sorted(v)
        out.append((k, v))
    return out


def _flatten(v):
    if isinstance(v, (Map, list)):
        return [_flatten(x) for x in v]
    return v


def _as_user(port, proto, user, pw, argv):
    """AUTH (RESP2) or HELLO 3 AUTH (RESP3) as a user on a new connection,
    then ACL WHOAMI and the command: their replies (HELLO's map by its
    shape and the user's name in ACL LOG, its values hold ids and
    versions)."""
    c = RespConn("127.0.0.1", port, proto=2)
    try:
        if proto == 3:
            h = c.call(b"hello", b"3", b"auth", user, pw)
            a = h if isinstance(h, Error) else ("hello", shape(h))
        else:
            a = c.call(b"auth", user, pw)
        w = c.call(b"acl", b"whoami")
        r = c.call(*argv)
        return [a, w, r, shape(r)]
    finally:
        c.close()


def _probe(conn, users):
    out = {}
    for u in users:
        for p in PROBES:
            out[(u, tuple(p))] = conn.call(b"acl", b"dryrun", u, *p)
    return out


def _proxy_limit(reply):
    """A refusal of strata-proxy's that is no ACL matter: keys of two
    slots, or a command it does not serve."""
    return isinstance(reply, Error) and (reply.startswith(b"CROSSSLOT") or b"not supported by strata-proxy" in reply)


def run(a_port, b_port, files, seed, proto, steps, proxy=False):
    """The differential: `steps` seeded steps sent to a Strata program
    (a_port) and to redis-server (b_port), replies compared after
    normalise(); every 25 steps the users' rules are compared through ACL
    DRYRUN of PROBES, and the ACL files (files[0] a's, files[1] b's) as
    the last ACL SAVE left them.  proxy: a_port is strata-proxy, whose own
    limits (_proxy_limit) may answer a command a user may run (one redis
    refuses with NOPERM the proxy refuses so too: it checks the user
    first)."""
    print(f"ACL diff seed {seed}")
    r = random.Random(seed)
    a = RespConn("127.0.0.1", a_port, proto=proto)
    b = RespConn("127.0.0.1", b_port, proto=proto)
    history = []
    for i in range(steps):
        for cmd in gen_step(r):
            if cmd[0] == b"@as":
                ra = _as_user(a_port, proto, cmd[1], cmd[2], cmd[3:])
                rb = _as_user(b_port, proto, cmd[1], cmd[2], cmd[3:])
                if proxy and _proxy_limit(ra[2]):
                    assert not (isinstance(rb[2], Error) and rb[2].startswith(b"NOPERM")), (
                        f"seed {seed} step {i}: {cmd!r}\n strata: {ra!r}\n redis:  {rb!r}")
                    ra, rb = ra[:2], rb[:2]
            else:
                ra, rb = a.call(*cmd), b.call(*cmd)
                sa, sb = shape(ra), shape(rb)
                assert sa == sb, (f"seed {seed} step {i}: {cmd!r}: reply types differ\n strata: {ra!r}\n"
                                  f" redis:  {rb!r}")
                ra, rb = _flatten(ra), _flatten(rb)
            history.append(cmd)
            na, nb = normalise(cmd, ra), normalise(cmd, rb)
            assert na == nb, (f"seed {seed} step {i}: {cmd!r}\n strata: {ra!r}\n redis:  {rb!r}\n"
                              f" history: {history[-15:]!r}")
        if i % 25 == 24:
            users = [u for u in USERS if a.call(b"acl", b"getuser", u) is not None]
            pa, pb = _probe(a, users), _probe(b, users)
            assert pa == pb, f"seed {seed} step {i}: DRYRUN differs: " + repr(
                {k: (pa[k], pb.get(k)) for k in pa if pa[k] != pb.get(k)})
            # what ACL SAVE wrote, user by user, commands as their DRYRUN above
            fa, fb = ([RULES_RE.sub(b" <rules>", ln) for ln in f.read_bytes().splitlines()]
                      for f in files)
            assert sorted(fa) == sorted(fb), f"seed {seed} step {i}: ACL files differ"
    a.close()
    b.close()


