"""The multi-host scenario of tests/integration/test_hosts.py, longer and heavier, by hand.

    sudo .venv/bin/python benchmarks/hosts.py                       # 12 learners, 3 coaches
    sudo .venv/bin/python benchmarks/hosts.py --uploaders 8 --bookers 8 --coaches 4 --hold 60

It needs root (network namespaces), iproute2, HAProxy, PostgreSQL's server binaries, redis-server
and weed (scripts/test.sh installs them all). It builds the same hosts as the test (two web hosts
behind HAProxy, two worker hosts, one beat, PostgreSQL, Redis and SeaweedFS each on a host of its
own), with every setting at its shipped default, runs the same checks under a steady mixed load
(uploads and downloads, bookings and cancellations, coaches' reviews), then the same faults one at
a time, each watched for ``--hold`` seconds of load after it recovered, and prints the fault
table. Not part of scripts/test.sh's smoke runs: even a short run takes minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support_hosts import Cluster, Scenario, Shape  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploaders", type=int, default=6)
    parser.add_argument("--bookers", type=int, default=6)
    parser.add_argument("--coaches", type=int, default=3)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds of load after a fault")
    parser.add_argument("--burst", type=int, default=12, help="uploads before a worker is killed")
    parser.add_argument("--keep", action="store_true", help="keep the hosts' logs (printed path)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("it makes network namespaces: run it as root")
    if missing := Cluster.missing_tools():
        parser.error(f"missing: {', '.join(missing)} (scripts/test.sh installs them)")
    shape = Shape(
        uploaders=args.uploaders,
        bookers=args.bookers,
        coaches=args.coaches,
        hold=args.hold,
        burst=args.burst,
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-hosts-"))
    cluster = Cluster(folder / "hosts")
    try:
        cluster.start()
        report = Scenario(cluster, shape).run()
    finally:
        cluster.close()
        if args.keep:
            print(f"hosts' logs: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    lost = sum(row.work_lost for row in report.rows)
    twice = sum(row.duplicates for row in report.rows)
    return 1 if lost or twice else 0


if __name__ == "__main__":
    raise SystemExit(main())
