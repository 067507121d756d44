"""What checking each commit's markers costs a transactional batch.

``ExactlyOnce.confirm_markers`` runs before every transaction (one DescribeProducers request when
the markers are in, the usual case). This delivers the same batches with and without it, in
alternating rounds on one broker, and reports the median time per batch of each and the time of
the check alone.

    python -m bench.marker_check [--batches 200] [--rounds 5] [--messages 8]

Needs a broker (KAFKA_BOOTSTRAP_SERVERS, else the local one is started). Writes
bench/results/marker_check.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.environment import describe
from wirestream.clients import ensure_topics, make_consumer
from wirestream.delivery import ExactlyOnce, Message
from wirestream.testing import isolated_settings, kafka_bootstrap

RESULTS = Path(__file__).parent / "results"


class Unchecked(ExactlyOnce):
    """The delivery as it was before the check."""

    def confirm_markers(self, wait_s: float = 1.0) -> None:
        self._committed = None


class Timed(ExactlyOnce):
    """The delivery with the check, timing the check alone."""

    checks: list[float]

    def confirm_markers(self, wait_s: float = 1.0) -> None:
        started = time.perf_counter()
        super().confirm_markers(wait_s)
        self.checks.append(time.perf_counter() - started)


def per_batch(delivery: ExactlyOnce, topic: str, batches: int, messages: int) -> list[float]:
    times = []
    for b in range(batches):
        batch = [Message(topic, f"{b}-{m}".encode(), b"x" * 2000) for m in range(messages)]
        started = time.perf_counter()
        delivery.deliver(batch, {}, lambda: None)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=8)
    args = parser.parse_args()
    env = describe()
    load = os.getloadavg()[0]
    with kafka_bootstrap() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        settings = isolated_settings(bootstrap, Path(tmp), partitions=6)
        ensure_topics(settings)
        consumer = make_consumer(settings, settings.group_id("bench"))
        timed = Timed(settings, consumer, f"{settings.group_prefix}-checked")
        timed.checks = []
        unchecked = Unchecked(settings, consumer, f"{settings.group_prefix}-unchecked")
        with_check: list[float] = []
        without: list[float] = []
        try:
            for _ in range(args.rounds):
                without += per_batch(unchecked, settings.topic_ner, args.batches, args.messages)
                with_check += per_batch(timed, settings.topic_ner, args.batches, args.messages)
        finally:
            timed.close()
            unchecked.close()
            consumer.close()
    ms = [statistics.median(x) * 1000 for x in (without, with_check, timed.checks)]
    lines = [
        "# Marker check: cost per transactional batch",
        "",
        f"{datetime.now():%Y-%m-%d %H:%M}, {env['cpu']}, commit {env['commit']}",
        "",
        f"{args.rounds} alternating rounds of {args.batches} batches, {args.messages} messages of 2 kB each,"
        f" over 6 partitions of one local broker; medians. Load average at the start: {load:.1f}.",
        "",
        "| delivery | ms per batch |",
        "|---|---|",
        f"| without the check | {ms[0]:.2f} |",
        f"| with the check | {ms[1]:.2f} |",
        f"| the check alone | {ms[2]:.2f} |",
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "marker_check.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
