"""The durable broker alone: does its log keep every acknowledged record through kill -9?

    python benchmarks/drill_broker_log.py [--cycles 6] [--victim all|tansu] [--no-idempotence] [--json PATH]

Design note. No kappa here: this isolates the broker (``kappa broker start --data DIR``: Tansu
0.6 keeping its log on SeaweedFS). A producer (:class:`drill_kills.AckedProducer`, ``acks=all``,
idempotent unless ``--no-idempotence``) writes ``{"id": i}`` to a 2-partition topic without
pause while the broker is killed with SIGKILL (Tansu and SeaweedFS, or Tansu only) every 2-5 s,
kept down 3 s and restarted on the same data and Kafka port, ``--cycles`` times. Afterwards the
whole topic is read back: acknowledged ids missing from the log (with when each was
acknowledged, relative to the nearest kill and its restart) and records stored twice are
printed, and merged into ``--json`` (drill_outages.json's format) as scenario
``broker alone: N kill -9 (...)``.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from drill_kills import AckedProducer, kill_group  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--victim", choices=("all", "tansu"), default="all")
    parser.add_argument("--no-idempotence", dest="idempotent", action="store_false")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work")
    args = parser.parse_args(argv)
    from kappa.broker_durable import DurableBroker
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, consume_all

    args.work_dir.mkdir(parents=True, exist_ok=True)
    broker = DurableBroker(tempfile.mkdtemp(prefix="broker-log-", dir=args.work_dir)).start()
    rng, kills = random.Random(1), []
    try:
        create_topic(conf_for(broker.bootstrap_servers), "drill", 2)
        producer = AckedProducer(broker.bootstrap_servers, "drill", 10, 0.02, args.idempotent).start()
        for _ in range(args.cycles):
            time.sleep(rng.uniform(2, 5))
            procs = [broker._tansu._proc] + ([broker._s3.process] if args.victim == "all" else [])
            killed = time.monotonic()
            for proc in procs:
                kill_group(proc.pid)
            for proc in procs:
                proc.wait()
            time.sleep(3)
            broker.stop()
            broker.start()
            kills.append((killed, time.monotonic()))
        time.sleep(3)
        unreported = producer.stop()
        values = consume_all(broker.bootstrap_servers, "drill").column("value").to_pylist()
    finally:
        broker.stop()
    log = collections.Counter(json.loads(v)["id"] for v in values)
    lost = sorted(producer.acked - log.keys())

    def when(i: int) -> str:
        at = producer.acked_at[i]
        killed, up = min(kills, key=lambda k: abs(at - k[0]))
        return f"acknowledged {at - killed:+.2f} s from a kill ({at - up:+.2f} s from its restart)"

    victim = "Tansu + SeaweedFS" if args.victim == "all" else "Tansu only"
    result = {
        "scenario": f"broker alone: {args.cycles} kill -9 ({victim}, idempotence {'on' if args.idempotent else 'off'})",
        "engine": "-", "trials": 1, "kills": args.cycles, "sent": producer.sent, "acked": len(producer.acked),
        "failed": len(producer.failed), "unreported": unreported, "broker_lost": len(lost),
        "broker_duplicated": sum(c - 1 for c in log.values()),
        "lost_batches": [[b[0], b[-1], when(b[0])] for b in _runs(lost)],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        from drill_outages import merge_entries

        merge_entries(args.json, [result])
    return 0 if not lost else 1


def _runs(ids: list[int]) -> list[list[int]]:
    """Consecutive ids grouped (a lost produce batch)."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
