"""Every messaging backend in one run: throughput (interlink vs the raw client vs FastStream) on
NATS, Redis Streams, RabbitMQ and Kafka, then request/reply latency on NATS, Redis and RabbitMQ.

Each backend's own script runs in turn as a child process (each starts and stops its own server
on 127.0.0.1); their reports are printed as they come, then the summary lines (rates, ratios,
targets) of all of them together.

    python benchmarks/messaging_all.py                 # about 5-10 minutes
    python benchmarks/messaging_all.py --messages 5000 --requests 500
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMMARY = ("msg/s", "x", "target", "Target", "p50", "MISSED", "met")


def scripts(messages: int, requests: int) -> list[tuple[str, list[str]]]:
    n = str(messages)
    return [
        ("NATS", ["messaging.py", "--messages", n, "--requests", str(requests)]),
        ("Redis Streams", ["messaging_redis.py", "--messages", n]),
        ("RabbitMQ", ["messaging_rabbitmq.py", "--messages", n, "--repeats", "1"]),
        ("Kafka (Tansu)", ["messaging_kafka.py", "--messages", n]),
        ("request/reply", ["request_reply.py", "--requests", str(requests), "--repeats", "1"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=1_000)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE.parent / "src")]),
    }
    summaries: list[str] = []
    for name, argv in scripts(args.messages, args.requests):
        print(f"\n===== {name}: {' '.join(argv)}", flush=True)
        run = subprocess.run(
            [sys.executable, str(HERE / argv[0]), *argv[1:]],
            cwd=HERE.parent,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        print(run.stdout, end="", flush=True)
        if run.returncode != 0:
            print(run.stderr[-2000:], flush=True)
            summaries.append(f"{name}: FAILED (exit {run.returncode})")
            continue
        lines = [line for line in run.stdout.splitlines() if any(w in line for w in SUMMARY)]
        summaries += [f"{name}: {line.strip()}" for line in lines[-12:]]
    print("\n===== summary")
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
