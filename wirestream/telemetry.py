"""What a running stage tells its operators: Prometheus metrics, health and readiness over HTTP.

Each stage process serves, on ``WIRESTREAM_METRICS_PORT`` (off when unset):

* ``/metrics``: records in/out, dead letters by reason, retries, batch size and batch/process
  time histograms, consumer lag per partition, all labelled with stage and instance;
* ``/health``: 200 while the consumer loop has polled recently, 503 when it is stuck;
* ``/ready``: 200 once the stage is set up and owns partitions (or has joined with nothing to own).

>>> t = Telemetry("ner", "host-1")
>>> t.batch_done(size=4, out=3, dead={"invalid_json": 1}, batch_s=0.5, process_s=0.4)
>>> b"wirestream_records_out_total" in t.render()
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Telemetry:
    """The stage's collectors, in a registry of its own (several stages may share a test process)."""

    def __init__(self, stage: str, instance: str, stuck_after_s: float = 120.0) -> None:
        self.registry = CollectorRegistry()
        labels = {"stage": stage, "instance": instance}
        names = list(labels)

        def counter(name: str, doc: str, *extra: str) -> Any:
            return Counter(name, doc, [*names, *extra], registry=self.registry)

        self._in = counter("wirestream_records_in", "Records polled from the input topic").labels(**labels)
        self._out = counter("wirestream_records_out", "Records delivered downstream").labels(**labels)
        self._dead = counter("wirestream_dead_lettered", "Records sent to the dead-letter topic", "reason")
        self._retries = counter("wirestream_batch_retries", "Batches retried after an outage").labels(**labels)
        self._hanging = counter("wirestream_hanging_transactions_ended",
                                "Hanging transactions this stage ended, by the marker it wrote", "ending")
        self._batch_size = Histogram("wirestream_batch_size", "Records per batch", names, buckets=_SIZES,
                                     registry=self.registry).labels(**labels)
        self._batch_s = Histogram("wirestream_batch_seconds", "Poll-to-commit time per batch", names,
                                  buckets=_SECONDS, registry=self.registry).labels(**labels)
        self._process_s = Histogram("wirestream_process_seconds", "Service (model inference) time per batch",
                                    names, buckets=_SECONDS, registry=self.registry).labels(**labels)
        self._lag = Gauge("wirestream_consumer_lag", "Records behind the end of each input partition",
                          [*names, "topic", "partition"], registry=self.registry)
        self._assigned = Gauge("wirestream_assigned_partitions",
                               "Input partitions this process owns (0: the group has more members than partitions)",
                               names, registry=self.registry).labels(**labels)
        self._failing = Gauge("wirestream_failures_in_a_row",
                              "Records that raised in process one after another; past "
                              "WIRESTREAM_MAX_FAILURES_IN_A_ROW the stage holds its batch", names,
                              registry=self.registry).labels(**labels)
        self._owned: set[tuple[str, int]] = set()
        self._labels = labels
        self.stuck_after_s = stuck_after_s
        self.last_poll = time.monotonic()
        self.ready = False
        self._server: ThreadingHTTPServer | None = None

    # --- what the runtime reports ---------------------------------------------------------
    def polled(self, records: int) -> None:
        self.last_poll = time.monotonic()
        if records:
            self._in.inc(records)

    def batch_done(self, *, size: int, out: int, dead: dict[str, int], batch_s: float, process_s: float) -> None:
        self._out.inc(out)
        for reason, count in dead.items():
            self._dead.labels(**self._labels, reason=reason).inc(count)
        self._batch_size.observe(size)
        self._batch_s.observe(batch_s)
        self._process_s.observe(process_s)

    def retried(self) -> None:
        self._retries.inc()

    def failures_in_a_row(self, count: int) -> None:
        self._failing.set(count)

    def hanging_ended(self, ending: str) -> None:
        """A hanging transaction ended with a ``commit`` or ``abort`` marker: worth an alert, as
        each one means a broker lost a transaction marker."""
        self._hanging.labels(**self._labels, ending=ending).inc()

    def assigned(self, partitions: Iterable[Any]) -> None:
        """The input partitions this process owns now. A partition that moved to another member takes
        its lag series along: left standing, its last value would be counted twice in a sum."""
        owned = {(tp.topic, tp.partition) for tp in partitions}
        for topic, partition in self._owned - owned:
            self._lag.remove(self._labels["stage"], self._labels["instance"], topic, str(partition))
        self._owned = owned
        self._assigned.set(len(owned))

    def lag(self, consumer: Any) -> None:
        """Lag per owned partition: the partition's end offset minus this consumer's position."""
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                self._lag.labels(**self._labels, topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, end - consumer.position(tp))
                )

    # --- HTTP ---------------------------------------------------------------------------------
    def render(self) -> bytes:
        return generate_latest(self.registry)

    def healthy(self) -> bool:
        return time.monotonic() - self.last_poll < self.stuck_after_s

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics, /health and /ready in a daemon thread; returns the bound port."""
        telemetry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, telemetry.render(), CONTENT_TYPE_LATEST)
                elif self.path == "/health":
                    ok = telemetry.healthy()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"stuck: no poll recently\n")
                elif self.path == "/ready":
                    self._send(200 if telemetry.ready else 503, b"ready\n" if telemetry.ready else b"starting\n")
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="telemetry", daemon=True).start()
        return self._server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
