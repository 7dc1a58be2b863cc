"""Big (chunked) strings met by the commands of the other types: a string
over the inline limit keeps its bytes in chunks, not in the meta record,
so every command that reads a string's bytes must go through the chunks.
Compared with redis-server: PF* on a big non-HyperLogLog string, SORT BY
and GET through big string keys, OBJECT ENCODING, and DUMP/RESTORE of a
big string in both directions."""
import redis


def run(r, *c):
    try:
        return r.execute_command(*c)
    except redis.ResponseError as e:
        return ("error", str(e))


def test_big_strings_through_other_commands(pair):
    node, ref = pair
    a, b = node.client(), ref.client()
    big = b"x" * 40000
    for r in (a, b):
        r.set("big", big)
        r.set("bhll", b"HYLL" + b"\x00" * 30000)  # looks like a HyperLogLog, but too long
        r.rpush("l", "3", "1", "2")
        r.set("w_1", b"9" * 20000)
        r.set("w_2", "5")
        r.set("w_3", "7")
    for c in [("PFCOUNT", "bhll"), ("PFADD", "bhll", "a"), ("PFMERGE", "dst", "bhll"),
              ("PFCOUNT", "big"), ("SORT", "l", "BY", "w_*"), ("SORT", "l", "GET", "w_*"),
              ("SORT", "l", "BY", "nosort", "GET", "w_*"), ("STRLEN", "big"),
              ("GETRANGE", "big", "39990", "-1")]:
        assert run(a, *c) == run(b, *c), c
    for k in ("big", "bhll"):
        assert a.object("encoding", k) == b.object("encoding", k) == b"raw"
    # DUMP/RESTORE of a chunked string, both ways and onto itself
    assert b.restore("from_strata", 0, a.dump("big")) and b.get("from_strata") == big
    assert a.restore("from_redis", 0, b.dump("big")) and a.get("from_redis") == big
    assert a.restore("again", 0, a.dump("big")) and a.get("again") == big
