"""pytest fixtures shared by every end-to-end test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster  # noqa: E402


@pytest.fixture
def cluster(request):
    c = Cluster(prefix=f"strata-{request.node.name[:40]}-")
    yield c
    failed = getattr(request.node, "rep_call", None)
    keep = failed is not None and failed.failed and os.environ.get("STRATA_KEEP_FAILED")
    if failed is not None and failed.failed:
        for p in c.procs:
            sys.stderr.write(f"\n--- {p.name} log (tail) ---\n{p.tail()}\n")
    c.close(keep=bool(keep))
    if c.sanitizer_reports:
        pytest.fail("sanitizer report in a server log:\n" + "\n".join(
            f"--- {name} ---\n{text}" for name, text in c.sanitizer_reports.items()))


@pytest.fixture
def pair(cluster):
    """(strata-node, redis-server), both fresh, for side-by-side tests."""
    return cluster.node(), cluster.redis()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
