"""Replication over TLS (tls_replication, Redis's tls-replication).

The master serves TLS on tls_port with client certificates required; the
replica has tls_replication yes and replicates from the master's TLS port
(replicaof or REPLICAOF), checking the master's certificate against its
CA and the address it was given, and presenting a client certificate of
its own (tls_client_cert_file/key_file).  Checked: a full sync of every
type and of a value of a few MB, live writes streamed, a replica
restarted (SIGTERM, then SIGKILL under load) continuing with a partial
resync over TLS, REPLICAOF at runtime, masterauth inside TLS and a
config file with Redis's spelling, and the failures: a replica trusting another CA, a
master whose certificate names another host, a replica with no client
certificate or one from an unknown CA, a replica given the master's plain
port, each logged by the replica with OpenSSL's reason and retried, while
the master goes on serving; and settings that refuse to start.  The certs
fixture (conftest.py) gives the CA and the certificates.
"""
import os
import subprocess
import time

import pytest

from harness import free_port, wait_until
from test_repl_common import Writer, assert_identical, fill_all_types, info, wait_synced
from tls_util import redis_cli


def cert_path(certs, name):
    """Any file of the certs fixture's directory (other.crt: a CA no node trusts)."""
    return certs.get(name) or os.path.join(os.path.dirname(certs["ca.crt"]), name)


def master_args(certs, tls_port, cert="server"):
    return ["--tls-port", str(tls_port), "--tls-cert-file", certs[f"{cert}.crt"],
            "--tls-key-file", certs[f"{cert}.key"], "--tls-ca-cert-file", certs["ca.crt"],
            "--tls-auth-clients", "yes"]


def start_master(cluster, certs, name="master", cert="server"):
    tls_port = free_port()
    m = cluster.node(name, args=master_args(certs, tls_port, cert))
    m.tls_port = tls_port
    return m


def replica_args(certs, ca="ca.crt", cert="client"):
    a = ["--tls-replication", "yes", "--tls-ca-cert-file", cert_path(certs, ca)]
    if cert:
        a += ["--tls-client-cert-file", certs[f"{cert}.crt"], "--tls-client-key-file", certs[f"{cert}.key"]]
    return a


def start_tls_replica(cluster, certs, m, name="replica", host="127.0.0.1", **kw):
    return cluster.node(name, args=["--replicaof", f"{host}:{m.tls_port}"] + replica_args(certs, **kw))


def log_text(node):
    with open(node.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def link_errors(node, m):
    """The replica's log lines about failed attempts on its link to m."""
    return [l for l in log_text(node).splitlines()
            if f"replication link to 127.0.0.1:{m.tls_port}" in l]


def replica_conns(m):
    return [c for c in m.client().client_list() if "S" in c["flags"]]


def test_full_sync_stream_restart_over_tls(cluster, certs):
    m = start_master(cluster, certs)
    mc = m.client()
    fill_all_types(mc, "base")
    big = os.urandom(3 << 20)
    mc.set("big:before", big)                   # a few MB in the snapshot
    r = start_tls_replica(cluster, certs, m)
    wait_synced(m, r)
    ri = info(r)
    assert ri["master_port"] == m.tls_port and ri["master_link_tls"] == "yes"
    assert ri["master_link_tls_protocol"] == "TLSv1.3"
    assert ri["repl_full_syncs"] == 1
    # The master sees its replica on the TLS port.
    conns = replica_conns(m)
    assert len(conns) == 1 and conns[0]["laddr"] == f"127.0.0.1:{m.tls_port}", conns
    assert r.client().get("big:before") == big

    # Live writes, streamed: every type, a pipeline, a value of 5 MB.
    fill_all_types(mc, "after", n=80)
    mc.delete("base:h:1")
    mc.incr("counter")
    p = mc.pipeline(transaction=False)
    for i in range(500):
        p.set(f"pipe:{i}", "x" * (i % 50))
    p.execute()
    big2 = os.urandom(5 << 20)
    mc.set("big:live", big2)
    wait_synced(m, r)
    assert r.client().get("big:live") == big2
    assert_identical(cluster, m, r)

    # A clean restart: the replica continues where it was, over TLS.
    r.stop()
    fill_all_types(mc, "while-down", n=20)
    r.start()
    wait_synced(m, r)
    ri = info(r)
    assert (ri["repl_full_syncs"], ri["repl_partial_syncs"]) == (0, 1), ri
    assert f"replicating from 127.0.0.1:{m.tls_port} over TLSv1.3, continuing" in log_text(r)
    assert ri["master_link_tls_protocol"] == "TLSv1.3"

    # SIGKILL under load, then a partial resync as well.
    full_before = info(m)["sync_full"]
    w = Writer(m.port, "load", limit=50000, seconds=30, pipeline=8).start()
    wait_until(lambda: len(w.acked) > 1000, 20, what="writes under way")
    r.kill()
    wait_until(lambda: len(w.acked) > 3000, 20, what="writes while the replica is down")
    r.start()
    wait_until(lambda: info(r)["master_link_status"] == "up", 20, what="link up again")
    time.sleep(0.2)
    w.stop()
    assert w.errors == 0
    wait_synced(m, r)
    assert info(r)["repl_partial_syncs"] == 1
    assert info(m)["sync_full"] == full_before
    assert_identical(cluster, m, r)


def test_replicaof_at_runtime_and_back(cluster, certs):
    """REPLICAOF host tls_port on a running node with tls_replication;
    REPLICAOF NO ONE then closes the TLS link."""
    m = start_master(cluster, certs)
    m.client().set("k", "v")
    r = cluster.node("replica", args=replica_args(certs))
    assert info(r)["role"] == "master"
    assert r.client().execute_command("REPLICAOF", "127.0.0.1", str(m.tls_port)) == b"OK"
    wait_synced(m, r)
    assert r.client().get("k") == b"v"
    assert len(replica_conns(m)) == 1
    assert r.client().execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    wait_until(lambda: not replica_conns(m), 10, what="the master sees the link gone")
    assert f"full sync from 127.0.0.1:{m.tls_port} over TLSv1.3" in log_text(r)


def test_masterauth_over_tls(cluster, certs):
    """The AUTH of the handshake (masterauth) travels inside TLS; the
    replica's settings in a config file with Redis's spelling."""
    tls_port = free_port()
    m = cluster.node("master", args=master_args(certs, tls_port) + ["--requirepass", "s3cret"])
    m.tls_port = tls_port
    mc = m.client(password="s3cret")
    mc.set("k", "v")
    conf = cluster.path("replica.yaml")
    with open(conf, "w") as f:
        f.write(f"replicaof: 127.0.0.1:{tls_port}\ntls-replication: yes\n"
                f"tls-ca-cert-file: {certs['ca.crt']}\ntls-client-cert-file: {certs['client.crt']}\n"
                f"tls-client-key-file: {certs['client.key']}\n")
    r = cluster.node("replica", args=["--config", conf])
    wait_until(lambda: f"master 127.0.0.1:{tls_port} refused: NOAUTH" in log_text(r),
               20, what="the master refusing a replica without masterauth")
    r.stop()
    r.args += ["--masterauth", "s3cret"]
    r.start()
    wait_until(lambda: r.client().get("k") == b"v", 20, what="synced with masterauth")
    assert info(r)["master_link_status"] == "up" and info(r)["master_link_tls"] == "yes"


def assert_master_unharmed(m, certs):
    mc = m.client()
    assert mc.set("still", "fine") and mc.get("still") == b"fine"
    assert info(m)["connected_slaves"] == 0
    r = redis_cli(m, certs, "GET", "still")
    assert r.stdout.strip() == "fine", r
    assert m.alive()


def wait_failures(r, m, want, n=2):
    """Wait for n failed attempts logged with `want` (retried: more than one)."""
    def ok():
        return len([l for l in link_errors(r, m) if want in l]) >= n
    wait_until(ok, 20, interval=0.1, what=f"'{want}' in the replica's log")
    i = info(r)
    assert i["master_link_status"] == "down" and i["repl_full_syncs"] == 0
    return [l for l in link_errors(r, m) if want in l][0]


def test_replica_trusting_another_ca_fails_clearly(cluster, certs):
    m = start_master(cluster, certs)
    m.client().set("k", "v")
    r = start_tls_replica(cluster, certs, m, ca="other.crt")
    line = wait_failures(r, m, "certificate verify failed")
    # The master sends its chain up to the CA (OpenSSL builds it from the
    # CA it trusts for clients); without that CA it would be the other reason.
    assert ("self-signed certificate in certificate chain" in line
            or "unable to get local issuer certificate" in line), line
    assert r.client().get("k") is None
    assert_master_unharmed(m, certs)


def test_master_certificate_for_another_host_fails(cluster, certs, tmp_path):
    # A certificate from the right CA, but for a name that is not the
    # master's address: the replica must refuse it (IP SAN check).
    (tmp_path / "ext").write_text("subjectAltName=DNS:elsewhere.example\n")
    key, csr, crt = tmp_path / "else.key", tmp_path / "else.csr", tmp_path / "else.crt"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=elsewhere.example"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", certs["ca.crt"],
                    "-CAkey", cert_path(certs, "ca.key"), "-CAcreateserial", "-out", crt, "-days", "2",
                    "-extfile", tmp_path / "ext"], check=True, capture_output=True)
    c = dict(certs, **{"else.crt": str(crt), "else.key": str(key)})
    m = start_master(cluster, c, cert="else")
    r = start_tls_replica(cluster, certs, m)
    line = wait_failures(r, m, "certificate verify failed")
    assert "IP address mismatch" in line, line
    assert_master_unharmed(m, certs)


@pytest.mark.parametrize("cert,want", [(None, "alert certificate required"), ("stranger", "alert unknown ca")])
def test_master_refuses_the_replicas_certificate(cluster, certs, cert, want):
    m = start_master(cluster, certs)
    m.client().set("k", "v")
    r = start_tls_replica(cluster, certs, m, cert=cert)
    wait_failures(r, m, want)
    assert r.client().get("k") is None
    assert_master_unharmed(m, certs)


def test_tls_replica_given_the_plain_port_fails(cluster, certs):
    """A TLS ClientHello on the master's plain port (a REPLICAOF naming
    the plain port): the master answers it as a bad RESP request and
    closes; the replica logs the TLS error and retries."""
    m = start_master(cluster, certs)
    m.client().set("k", "v")
    r = cluster.node("replica", args=["--replicaof", f"127.0.0.1:{m.port}"] + replica_args(certs))
    def failures():
        return [l for l in log_text(r).splitlines()
                if f"replication link to 127.0.0.1:{m.port} (connecting): TLS handshake" in l
                and "wrong version number (not a TLS port? with tls_replication" in l]
    wait_until(lambda: len(failures()) >= 2, 20, interval=0.1, what="TLS failures on the plain port")
    assert info(r)["master_link_status"] == "down" and r.client().get("k") is None
    assert_master_unharmed(m, certs)


def test_bad_settings_refuse_to_start(cluster, certs):
    cases = [
        (["--tls-replication", "yes"], "tls-ca-cert-file"),
        (["--tls-replication", "yes", "--tls-ca-cert-file", certs["ca.crt"],
          "--tls-client-cert-file", certs["client.crt"]], "tls-client-cert-file and tls-client-key-file go together"),
        (["--tls-replication", "yes", "--tls-ca-cert-file", certs["ca.crt"],
          "--tls-client-cert-file", certs["client.crt"], "--tls-client-key-file", certs["server.key"]],
         "key values mismatch"),
    ]
    for i, (args, want) in enumerate(cases):
        n = cluster.node(f"bad{i}", args=args, start=False)
        n.start(wait=False)
        assert n.proc.wait(timeout=20) != 0
        assert want in n.tail(), n.tail()
