"""The HTTP API (http_listen) of strata-node and strata-proxy, driven with
curl (subprocess) and with Node.js's built-in fetch: every RESP3 reply
type mapped to JSON, binary values, pipelines, refused commands, errors
and their HTTP statuses, authentication, limits, CORS on and off, and a
pipeline through the proxy that spans groups."""
import base64
import json
import shutil
import subprocess
import time

import pytest

from harness import free_port
from proxy_util import ProxySetup, keys_for_group

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


def curl(port, path, method="GET", body=None, headers=(), user=None):
    """One request; returns (status, {header: value} lowercased, JSON or None)."""
    args = ["curl", "-s", "-i", "--max-time", "10", "-X", method]
    for h in headers:
        args += ["-H", h]
    if user is not None:
        args += ["-u", user]
    if body is not None:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        args += ["--data-binary", "@-"]
    args.append(f"http://127.0.0.1:{port}{path}")
    data = body.encode() if isinstance(body, str) else body
    out = subprocess.run(args, input=data, capture_output=True, timeout=20, check=True).stdout
    head, _, rest = out.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):   # curl's Expect: 100-continue
        head, _, rest = rest.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("content-type") != "application/json":
        return status, hdrs, rest.decode(errors="replace")   # evhttp's own pages
    return status, hdrs, (json.loads(rest) if rest.strip() else None)


def ok(port, path, **kw):
    status, _, j = curl(port, path, **kw)
    assert status == 200, (status, j)
    return j


def post(port, body, **kw):
    return curl(port, "/", method="POST", body=body, **kw)


@pytest.fixture
def node(cluster):
    port = free_port()
    n = cluster.node(args=["--http_listen", f"127.0.0.1:{port}"])
    n.http = port
    return n


def test_off_by_default(cluster):
    n = cluster.node()
    assert n.client().config_get("http_listen") == {"http_listen": ""}
    assert "http" not in " ".join(c["addr"] for c in n.client().client_list())


def test_reply_types(node):
    p = node.http
    assert ok(p, "/SET/s/hello") == "OK"
    assert ok(p, "/GET/s") == "hello"
    assert ok(p, "/GET/missing") is None
    assert ok(p, "/INCR/n") == 1
    assert ok(p, "/INCRBY/n/-9223372036854775807") == -9223372036854775806
    assert ok(p, "/ZADD/z/1.5/a/inf/b") == 2
    assert ok(p, "/ZSCORE/z/a") == 1.5           # RESP3 double
    assert ok(p, "/ZSCORE/z/b") == "inf"
    assert ok(p, "/ZRANGE/z/0/-1/WITHSCORES") == [["a", 1.5], ["b", "inf"]]
    assert ok(p, "/SADD/set/x/y") == 2
    assert sorted(ok(p, "/SMEMBERS/set")) == ["x", "y"]   # RESP3 set
    assert ok(p, "/HSET/h/f1/v1/f2/v2") == 2
    assert ok(p, "/HGETALL/h") == {"f1": "v1", "f2": "v2"}  # RESP3 map
    assert ok(p, "/CONFIG/GET/maxclients") == {"maxclients": "10000"}
    info = ok(p, "/INFO/server")                # RESP3 verbatim, without "txt:"
    assert info.startswith("# Server\r\n") and "redis_version:" in info
    assert ok(p, "/PING") == "PONG"
    assert ok(p, "/ECHO/x%20y") == "x y"
    assert ok(p, "/EXISTS/s/missing") == 1
    lua = [["EVAL", "redis.setresp(3); return true", 0],
           ["EVAL", "redis.setresp(3); return false", 0],
           ["EVAL", "return {double=3.25}", 0],
           ["EVAL", "return {big_number='123456789012345678901234567890'}", 0],
           ["EVAL", "return {map={[1]='one', two=2}}", 0],
           ["EVAL", "return {1, {2, {'three'}}}", 0],
           ["EVAL", "return nil", 0]]
    status, _, j = post(p, lua)
    assert status == 200
    assert j[0] is True and j[1] is False
    assert j[2] == 3.25
    assert j[3] == {"bignum": "123456789012345678901234567890"}
    # an integer key: the map cannot be an object, pairs keep their order
    assert sorted(j[4], key=str) == sorted([[1, "one"], ["two", 2]], key=str)
    assert j[5] == [1, [2, ["three"]]]
    assert j[6] is None


def test_errors_and_status(node):
    p = node.http
    ok(p, "/LPUSH/l/a")
    assert curl(p, "/GET/l")[::2] == (400, {"error": "WRONGTYPE Operation against a key holding the "
                                               "wrong kind of value"})
    s, _, j = curl(p, "/GET")
    assert (s, j) == (400, {"error": "ERR wrong number of arguments for 'get' command"})
    s, _, j = curl(p, "/NOSUCH/a/b")
    assert s == 404 and j == {"error": "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "}
    s, _, j = curl(p, "/SET/k/v/XX/NX")
    assert (s, j) == (400, {"error": "ERR syntax error"})
    s, _, j = curl(p, "/CLIENT/NOPE")
    assert s == 404 and j["error"].startswith("ERR unknown subcommand")
    s, h, j = curl(p, "/GET/l")
    assert h["content-type"] == "application/json"
    s, _, j = post(p, "not json")
    assert s == 400 and j["error"].startswith("ERR the body is not JSON: ")
    s, _, j = post(p, [])
    assert s == 400 and "non-empty JSON array" in j["error"]
    s, _, j = post(p, ["SET", "k", True])
    assert s == 400 and "must be a string, a number" in j["error"]
    s, _, j = curl(p, "/", method="GET")
    assert s == 400
    s, _, j = curl(p, "/GET/k", method="PUT", body="{}")
    assert s == 400 and j == {"error": "ERR PUT is for /set/{key}"}
    s, _, j = curl(p, "/GET/k", method="DELETE")
    assert s == 405
    s, _, _ = curl(p, "/GET/k", method="PATCH")
    assert s == 501          # evhttp's own answer to a method it is not told to take


@pytest.mark.parametrize("path,name", [
    ("/SUBSCRIBE/ch", "SUBSCRIBE"), ("/PSUBSCRIBE/c*", "PSUBSCRIBE"), ("/MONITOR", "MONITOR"),
    ("/HELLO/3", "HELLO"), ("/QUIT", "QUIT"), ("/AUTH/x", "AUTH"), ("/RESET", "RESET"),
    ("/SELECT/0", "SELECT"), ("/WATCH/k", "WATCH")], ids=lambda v: v.strip("/").replace("/", "-"))
def test_connection_commands_refused(node, path, name):
    s, _, j = curl(node.http, path)
    assert s == 400
    assert j == {"error": f"ERR {name} is not available over HTTP: it needs a connection that "
                          "lasts across requests (use RESP)"}


def test_blocking(node):
    p = node.http
    s, _, j = curl(p, "/BLPOP/q/0")
    assert s == 400 and j["error"].startswith("ERR BLPOP with a timeout of 0 would block for ever")
    s, _, j = curl(p, "/XREAD/BLOCK/0/STREAMS/st/$")
    assert s == 400 and "XREAD with a timeout of 0" in j["error"]
    t0 = time.monotonic()
    assert ok(p, "/BLPOP/q/0.2") is None        # a timeout: waits, then null
    assert time.monotonic() - t0 >= 0.19
    # a pop woken by a push from RESP
    proc = subprocess.Popen(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{p}/BRPOP/q2/5"],
                            stdout=subprocess.PIPE)
    time.sleep(0.3)
    node.client().rpush("q2", "woken")
    assert json.loads(proc.communicate(timeout=10)[0]) == ["q2", "woken"]


def test_binary_values(node):
    p = node.http
    raw = bytes(range(256))
    b64 = base64.b64encode(raw).decode()
    assert post(p, ["SET", "bin", {"base64": b64}])[0] == 200
    assert node.client().get("bin") == raw
    assert ok(p, "/GET/bin") == {"base64": b64}
    # URL-escaped bytes in the path, NUL included
    assert ok(p, "/SET/b%00k/%00%FF%2F") == "OK"
    assert node.client().get(b"b\x00k") == b"\x00\xff/"
    assert ok(p, "/GET/b%00k") == {"base64": base64.b64encode(b"\x00\xff/").decode()}
    # UTF-8 stays text, both ways
    assert ok(p, "/SET/u/%C3%A9t%C3%A9") == "OK"
    assert node.client().get("u") == "été".encode()
    assert post(p, ["GET", "u"])[2] == "été"
    assert post(p, ["SET", "u2", "\u20ac\n\"\\"])[0] == 200
    assert node.client().get("u2") == "\u20ac\n\"\\".encode()
    assert ok(p, "/GET/u2") == "\u20ac\n\"\\"
    # an empty argument: a '/' at the end
    assert ok(p, "/SET/empty/") == "OK"
    assert node.client().get("empty") == b""
    # numbers as arguments keep their text
    assert post(p, ["SET", "num", 12.50])[0] == 200
    assert post(p, ["INCRBYFLOAT", "num", 1])[2] == "13.5"
    s, _, j = post(p, ["SET", "k", {"base64": "@@"}])
    assert s == 400 and "invalid base64" in j["error"]


def test_pipelines(node):
    p = node.http
    s, _, j = post(p, [["SET", "a", "1"], ["INCR", "a"], ["HSET", "a", "f", "v"], ["GET", "a"],
                       ["NOSUCH"], ["MGET", "a", "zz"]])
    assert s == 200
    assert j == ["OK", 2, {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
                 "2", {"error": "ERR unknown command 'NOSUCH', with args beginning with: "}, ["2", None]]
    # a transaction inside one pipeline
    s, _, j = post(p, [["MULTI"], ["INCR", "t"], ["INCR", "t"], ["EXEC"]])
    assert (s, j) == (200, ["OK", "QUEUED", "QUEUED", [1, 2]])
    s, _, j = post(p, [["MULTI"], ["INCR", "t"]])
    assert s == 400 and "closed by EXEC or DISCARD in the same pipeline" in j["error"]
    assert node.client().get("t") == b"2"      # nothing of the refused pipeline ran
    # a pipeline with a refused command runs nothing
    s, _, j = post(p, [["INCR", "t"], ["SUBSCRIBE", "x"]])
    assert s == 400
    assert node.client().get("t") == b"2"
    # the next request on a kept link is not in a transaction
    assert ok(p, "/INCR/t") == 3
    # a long pipeline
    s, _, j = post(p, [["RPUSH", "big", str(i)] for i in range(2000)])
    assert s == 200 and j == list(range(1, 2001))


def test_kv_routes(node):
    p = node.http
    assert curl(p, "/set/kv", method="POST", body={"value": "v1"})[::2] == (200, "OK")
    assert curl(p, "/set/kv2", method="PUT", body={"value": {"base64": "AP8="}})[::2] == (200, "OK")
    assert node.client().get("kv2") == b"\x00\xff"
    assert curl(p, "/get/kv")[::2] == (200, "v1")
    assert curl(p, "/get/nothere")[::2] == (404, None)
    assert curl(p, "/delete/kv", method="DELETE")[::2] == (200, 1)
    assert curl(p, "/delete/kv", method="DELETE")[::2] == (200, 0)
    s, _, j = curl(p, "/set/kv", method="POST", body={"val": 1})
    assert s == 400 and "{\"value\": ...}" in j["error"]


def test_auth(cluster):
    port = free_port()
    n = cluster.node(args=["--http_listen", f"127.0.0.1:{port}", "--requirepass", "s3cret"])
    s, h, j = curl(port, "/PING")
    assert (s, j) == (401, {"error": "NOAUTH Authentication required."})
    assert h["www-authenticate"].startswith("Basic")
    wrong = {"error": "WRONGPASS invalid username-password pair or user is disabled."}
    assert curl(port, "/PING", user="default:nope")[::2] == (401, wrong)
    assert curl(port, "/PING", user="alice:s3cret")[::2] == (401, wrong)
    assert curl(port, "/PING", headers=["Authorization: Bearer nope"])[::2] == (401, wrong)
    assert curl(port, "/PING", user="default:s3cret")[::2] == (200, "PONG")
    assert curl(port, "/PING", user=":s3cret")[::2] == (200, "PONG")
    assert curl(port, "/SET/a/1", headers=["Authorization: Bearer s3cret"])[::2] == (200, "OK")
    assert n.client(password="s3cret").get("a") == b"1"
    # the password checked is the current one
    n.client(password="s3cret").config_set("requirepass", "other")
    assert curl(port, "/PING", headers=["Authorization: Bearer s3cret"])[0] == 401
    assert curl(port, "/PING", headers=["Authorization: Bearer other"])[::2] == (200, "PONG")
    # without a password, any password of the default user is accepted (as HELLO AUTH)
    n.client(password="other").config_set("requirepass", "")
    assert curl(port, "/PING")[::2] == (200, "PONG")
    assert curl(port, "/PING", user="alice:x")[::2] == (401, wrong)


def test_acl_users(node):
    """A named user is checked by the node itself (HELLO 3 AUTH on a fresh
    link), with its rights; refused credentials run nothing."""
    c = node.client()
    c.execute_command("ACL", "SETUSER", "alice", "on", ">pw1", "~app:*", "+@all", "-flushall")
    port = node.http
    wrong = {"error": "WRONGPASS invalid username-password pair or user is disabled."}
    assert curl(port, "/SET/app:1/v", user="alice:pw1")[::2] == (200, "OK")
    assert curl(port, "/ACL/WHOAMI", user="alice:pw1")[::2] == (200, "alice")
    s, _, j = curl(port, "/SET/other/v", user="alice:pw1")
    assert s == 403 and j["error"].startswith("NOPERM")
    s, _, j = post(port, [["SET", "app:2", "x"], ["FLUSHALL"]], user="alice:pw1")
    assert s == 200 and j[0] == "OK" and j[1]["error"].startswith("NOPERM")
    assert c.get("app:2") == b"x"
    # a wrong password, a user turned off and a changed password: 401 and
    # none of the request's commands ran
    assert curl(port, "/SET/app:3/v", user="alice:nope")[::2] == (401, wrong)
    assert post(port, [["SET", "app:3", "v"]], user="alice:nope")[::2] == (401, wrong)
    c.execute_command("ACL", "SETUSER", "alice", "resetpass", ">pw2")
    assert curl(port, "/SET/app:3/v", user="alice:pw1")[::2] == (401, wrong)
    assert c.exists("app:3") == 0
    assert curl(port, "/GET/app:1", user="alice:pw2")[::2] == (200, "v")
    c.execute_command("ACL", "SETUSER", "alice", "off")
    assert curl(port, "/GET/app:1", user="alice:pw2")[::2] == (401, wrong)
    # the default user with no password: requests without credentials run as it
    assert curl(port, "/ACL/WHOAMI")[::2] == (200, "default")
    # ACL LOG recorded the refusals made on HTTP's links
    log = c.execute_command("ACL", "LOG")
    reasons = {dict(zip(e[0::2], e[1::2]))[b"reason"] for e in log}
    assert {b"auth", b"key", b"command"} <= reasons


def test_limits(cluster):
    port = free_port()
    n = cluster.node(args=["--http_listen", f"127.0.0.1:{port}", "--client_query_buffer_limit", "2mb",
                           "--proto_max_bulk_len", "1mb"])
    big = "x" * (1024 * 1024 + 1)
    s, _, j = curl(port, "/set/k", method="POST", body={"value": big})
    assert (s, j) == (400, {"error": "ERR Protocol error: invalid bulk length"})
    assert n.client().exists("k") == 0
    s, _, _ = curl(port, "/set/k", method="POST", body={"value": "x" * (3 * 1024 * 1024)})
    assert s == 413
    assert curl(port, "/set/k", method="POST", body={"value": "x" * 1024 * 1024})[::2] == (200, "OK")
    assert n.client().strlen("k") == 1024 * 1024
    # HTTP links count against maxclients: with every slot taken by this
    # RESP client and one idle link, a second request at the same time
    # needs a new link and is refused
    r = n.client()
    assert ok(port, "/PING") == "PONG"
    r.config_set("maxclients", len(r.client_list()))
    proc = subprocess.Popen(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{port}/BLPOP/q/1"],
                            stdout=subprocess.PIPE)
    time.sleep(0.3)
    assert curl(port, "/PING")[::2] == (503, {"error": "ERR max number of clients reached"})
    assert json.loads(proc.communicate(timeout=10)[0]) is None
    assert ok(port, "/PING") == "PONG"   # the link is free again


def test_cors(cluster, node):
    s, h, _ = curl(node.http, "/PING", headers=["Origin: http://example.test"])
    assert s == 200 and "access-control-allow-origin" not in h
    s, h, _ = curl(node.http, "/PING", method="OPTIONS", headers=["Origin: http://example.test"])
    assert s == 204 and "access-control-allow-origin" not in h

    port = free_port()
    cluster.node(name="cors", args=["--http_listen", f"127.0.0.1:{port}",
                                    "--http_cors_origin", "http://app.test"])
    s, h, _ = curl(port, "/PING", headers=["Origin: http://app.test"])
    assert s == 200 and h["access-control-allow-origin"] == "http://app.test"
    assert h["vary"] == "Origin"
    s, h, _ = curl(port, "/SET/k/v", method="OPTIONS", headers=[
        "Origin: http://app.test", "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: authorization, content-type"])
    assert s == 204
    assert h["access-control-allow-origin"] == "http://app.test"
    assert "POST" in h["access-control-allow-methods"]
    assert "Authorization" in h["access-control-allow-headers"]
    # error replies carry the header too (a browser could not read them otherwise)
    s, h, _ = curl(port, "/NOSUCH")
    assert s == 404 and h["access-control-allow-origin"] == "http://app.test"


FETCH_JS = r"""
const base = process.argv[2];
const auth = process.argv[3];
async function call(path, init) {
  init = init || {};
  init.headers = Object.assign({}, init.headers || {}, auth ? {Authorization: auth} : {});
  const r = await fetch(base + path, init);
  return {status: r.status, cors: r.headers.get('access-control-allow-origin'),
          type: r.headers.get('content-type'), body: await r.json()};
}
(async () => {
  const out = [];
  out.push(await call('/SET/' + encodeURIComponent('fetch key/é') + '/' + encodeURIComponent('v\u0000w')));
  out.push(await call('/GET/' + encodeURIComponent('fetch key/é')));
  out.push(await call('/', {method: 'POST', headers: {'Content-Type': 'application/json'},
                            body: JSON.stringify([['HSET', 'fh', 'a', '1'], ['HGETALL', 'fh'],
                                                  ['ZADD', 'fz', '2.5', 'm'], ['ZSCORE', 'fz', 'm'],
                                                  ['GET', 'nope'], ['LPUSH', 'fh', 'x']])}));
  out.push(await call('/set/fk', {method: 'POST', body: JSON.stringify({value: 'fv'})}));
  out.push(await call('/get/fk'));
  out.push(await call('/delete/fk', {method: 'DELETE'}));
  out.push(await call('/get/fk'));
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


def run_fetch(cluster, port, auth=""):
    script = cluster.path("fetch.js")
    with open(script, "w") as f:
        f.write(FETCH_JS)
    out = subprocess.run(["node", script, f"http://127.0.0.1:{port}", auth], capture_output=True,
                         timeout=60, check=True, text=True).stdout
    return json.loads(out)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_fetch_node(cluster):
    port = free_port()
    n = cluster.node(args=["--http_listen", f"127.0.0.1:{port}", "--http_cors_origin", "*",
                           "--requirepass", "pw"])
    r = run_fetch(cluster, port, "Basic " + base64.b64encode(b"default:pw").decode())
    assert [x["status"] for x in r] == [200, 200, 200, 200, 200, 200, 404]
    assert all(x["cors"] == "*" and x["type"] == "application/json" for x in r)
    assert r[0]["body"] == "OK"
    assert n.client(password="pw").get("fetch key/é".encode()) == b"v\x00w"
    assert r[1]["body"] == "v\u0000w"
    assert r[2]["body"] == [1, {"a": "1"}, 1, 2.5, None,
                            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"}]
    assert [x["body"] for x in r[3:]] == ["OK", "fv", 1, None]
    # without the password, fetch gets 401
    out = subprocess.run(["node", "-e", f"fetch('http://127.0.0.1:{port}/PING').then(async r => "
                          "console.log(r.status, JSON.stringify(await r.json())))"],
                         capture_output=True, timeout=60, text=True, check=True).stdout
    assert out.strip() == '401 {"error":"NOAUTH Authentication required."}'


@pytest.fixture
def proxied(cluster):
    port = free_port()
    setup = ProxySetup(cluster, 2, proxy_opts={"http_listen": f"127.0.0.1:{port}",
                                               "http_cors_origin": '"*"'})
    setup.http = port
    return setup


def test_proxy_pipeline_across_groups(proxied):
    p = proxied.http
    a = keys_for_group(proxied.ranges, 0, 3, "h")
    b = keys_for_group(proxied.ranges, 1, 3, "h")
    cmds = [["SET", k, f"v-{k}"] for k in a + b] + [["MGET"] + a + b, ["DEL", a[0], b[0]],
                                                    ["EXISTS", a[0], b[0], a[1]]]
    s, h, j = post(p, cmds)
    assert s == 200 and h["access-control-allow-origin"] == "*"
    assert j[:6] == ["OK"] * 6
    assert j[6] == [f"v-{k}" for k in a + b]
    assert j[7:] == [2, 1]
    # each value is in the group its slot belongs to
    assert proxied.backends[0].client().get(a[1]) == f"v-{a[1]}".encode()
    assert proxied.backends[1].client().get(b[1]) == f"v-{b[1]}".encode()
    assert proxied.backends[0].client().get(b[1]) is None
    # the proxy's CROSSSLOT rule, as for RESP
    s, _, j = curl(p, f"/RENAME/{a[1]}/{b[1]}")
    assert (s, j) == (400, {"error": "CROSSSLOT Keys in request don't hash to the same slot"})
    # the reply types through the proxy (RESP3 links to the groups)
    assert ok(p, f"/HSET/{a[2]}x/f/v") == 1
    assert ok(p, f"/HGETALL/{a[2]}x") == {"f": "v"}
    assert ok(p, "/ZADD/pz/1.5/m") == 1
    assert ok(p, "/ZSCORE/pz/m") == 1.5
    assert ok(p, "/GET/nothere") is None
    assert curl(p, "/get/nothere")[0] == 404
    assert curl(p, "/SUBSCRIBE/x")[0] == 400
    s, _, j = curl(p, "/NOSUCH")
    assert s == 404 and j["error"].startswith("ERR unknown command")
    # a transaction in one pipeline, through the proxy
    s, _, j = post(p, [["MULTI"], ["INCR", "{t}1"], ["INCR", "{t}2"], ["EXEC"]])
    assert (s, j) == (200, ["OK", "QUEUED", "QUEUED", [1, 1]])
    # binary through the proxy
    assert post(p, ["SET", "pb", {"base64": "AP8A"}])[0] == 200
    assert ok(p, "/GET/pb") == {"base64": "AP8A"}


def test_proxy_auth(cluster):
    port = free_port()
    setup = ProxySetup(cluster, 2, password="tpw", proxy_opts={"http_listen": f"127.0.0.1:{port}"})
    assert curl(port, "/PING")[::2] == (401, {"error": "NOAUTH Authentication required."})
    assert curl(port, "/PING", user="default:bad")[0] == 401
    assert curl(port, "/SET/pa/1", user="default:tpw")[::2] == (200, "OK")
    assert curl(port, "/GET/pa", headers=["Authorization: Bearer tpw"])[::2] == (200, "1")
    assert setup.proxy.client(password="tpw").get("pa") == b"1"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_fetch_proxy(cluster, proxied):
    r = run_fetch(cluster, proxied.http)
    assert [x["status"] for x in r] == [200, 200, 200, 200, 200, 200, 404]
    assert r[1]["body"] == "v\u0000w"
    assert r[2]["body"][1] == {"a": "1"} and r[2]["body"][3] == 2.5


def test_bad_http_listen(cluster):
    n = cluster.node(args=["--http_listen", "nonsense:x"], start=False)
    n.start(wait=False)
    assert n.proc.wait(timeout=20) != 0
    assert "http_listen: 'nonsense:x' is not HOST:PORT or PORT" in n.tail()
