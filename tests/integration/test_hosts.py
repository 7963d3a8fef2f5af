"""The whole system across hosts on one machine (the short form; benchmarks/hosts.py runs the long
one): network namespaces made here (ip netns, veth, a bridge), two web hosts behind HAProxy (round
robin, health-checked on /readyz), two worker hosts, one beat, and PostgreSQL, Redis and SeaweedFS
each on a host of its own at its own address. No host shares a folder with another: uploads live in
SeaweedFS, every host has its own scratch and instance folders. Nothing is mocked, and every
setting is the shipped default (recovery is measured as it would be in production).

Under a steady load of uploads, downloads, bookings and reviews from many clients it checks that a
session from one web host is accepted by the other, that the sign-in rate limit holds across both,
that a résumé uploaded through one host is parsed by a worker on another and downloaded through the
first, and that every email goes out once (counted at a real SMTP server); then, each under its own
load, one fault at a time: a web host killed, a worker host killed mid-batch, a second beat, Redis
restarted, SeaweedFS restarted. It prints what it measured: the fault table
(tests/support_hosts.py holds the scenario)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_DIR
from tests.support_hosts import Cluster, Scenario, Shape

pytestmark = pytest.mark.hosts


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("the multi-host test makes network namespaces: run it as root")
    if missing := Cluster.missing_tools():
        pytest.fail(f"missing for the multi-host test: {', '.join(missing)} (scripts/test.sh)")
    made = Cluster(RUN_DIR / "hosts")
    try:
        made.start()
        yield made
    finally:
        made.close()


@pytest.mark.timeout(900)
def test_the_system_across_hosts_with_one_fault_at_a_time(cluster: Cluster) -> None:
    report = Scenario(cluster, Shape()).run()
    by_fault = {row.fault: row for row in report.rows}
    assert list(by_fault) == [
        "web host killed",
        "worker host killed",
        "second beat",
        "Redis restarted",
        "SeaweedFS restarted",
    ]
    # Nothing a client was told was done is lost, and nothing happens twice, whatever the fault.
    assert all(row.work_lost == 0 and row.duplicates == 0 for row in report.rows), report.table()
    # A worker host's jobs finish on the other within 60 s (the scenario waits no longer).
    assert float(by_fault["worker host killed"].recovered.split()[0]) < 60
