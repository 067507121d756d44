"""Chaos soak: the whole pipeline through repeated broker restarts, then an exactly-once audit.

Two processes per NLP stage, each holding every transaction open ``--commit-delay-ms`` between its
offset commit and its commit (so restarts land inside transactions), one storage process;
``--articles`` published, then the local broker restarted ``--restarts`` times at random moments.
Afterwards every article must be stored, and on the exactly-once topics (ner, enriched) a
``read_committed`` reader must see every id exactly once. Each run appends a row to
``bench/results/soak.csv`` and rewrites ``soak.md``; a failed run also saves its stage logs' events
and the pipeline report there. This is how the kafka-python pending-offsets bug was found (8 of
300 records lost); it is a soak, not a test: one run takes minutes and restarts the broker.

    python -m bench.soak [--articles 300] [--restarts 8] [--seeds 1 2 3]

Needs the local broker (it is restarted); uses the NLP models, so ``WIRESTREAM_DATA_DIR`` is not needed.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from bench.environment import describe
from wirestream.clients import ensure_topics
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.testing import (
    isolated_settings,
    local_test_broker,
    pipeline_report,
    read_topic,
    start_stage_process,
    stop_processes,
    wait_for,
)
from wirestream.wirefile import parse_wire_text

RESULTS = Path(__file__).parent / "results"
CITIES = ["Lima", "Oslo", "Nairobi", "Tokyo", "Paris", "Quito"]
PEOPLE = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Omar Haddad", "Ingrid Berg"]
FIELDS = ["run", "commit", "seed", "articles", "restarts", "commit_delay_ms", "stored", "exactly_once",
          "hanging_aborted", "seconds", "outcome"]


def soak_once(seed: int, articles: int, restarts: int, commit_delay_ms: int, work: Path) -> dict:
    rng = random.Random(seed)
    broker = local_test_broker()
    broker.start()
    settings = isolated_settings(broker.bootstrap, work).model_copy(
        update={"partitions": 4, "batch_size": 8, "transaction_timeout_ms": 10_000})
    ensure_topics(settings)
    logs = work / "stage-logs"
    slow = settings.model_copy(update={"fault_commit_delay_ms": commit_delay_ms})
    processes: list[subprocess.Popen] = [
        start_stage_process(slow, stage, f"{stage}-{n}", log_dir=logs)
        for stage in ("ner", "sentiment") for n in "ab"
    ]
    processes.append(start_stage_process(settings, "storage", "storage-a", log_dir=logs))
    sent = [parse_wire_text(f"date 2025-05-{n % 28 + 1:02d} {CITIES[n % 6]}, May {n % 28 + 1} (Reuters) "
                            f"{PEOPLE[n % 5]} praised the new plan in {CITIES[(n + 1) % 6]}, soak {seed}-{n}.",
                            source=f"soak-{seed}-{n}") for n in range(articles)]
    started = time.monotonic()
    assert publish(sent, settings).ok
    store = open_store(settings)
    row = {"seed": seed, "articles": articles, "restarts": restarts, "commit_delay_ms": commit_delay_ms}
    try:
        wait_for(lambda: store.count() >= 10, timeout=300, what="the pipeline under way")
        for _ in range(restarts):
            time.sleep(rng.uniform(6, 14))
            broker.stop()
            time.sleep(rng.uniform(0.5, 2))
            broker.start()
        wait_for(lambda: store.count() == articles, timeout=300, interval=1, what="every article stored")
        once = True
        for topic in (settings.topic_ner, settings.topic_enriched):
            ids = Counter(json.loads(r.value)["id"] for r in read_topic(settings, topic, expect=articles, timeout=60))
            once = once and len(ids) == articles and max(ids.values()) == 1
        row["outcome"] = "ok" if once else "duplicates or gaps on an exactly-once topic"
        row["exactly_once"] = once
    except TimeoutError as error:
        row["outcome"] = str(error).splitlines()[0]
        row["exactly_once"] = False
        (RESULTS / f"soak-failed-{seed}.txt").write_text(f"{error}\n{pipeline_report(settings, logs)}\n")
    finally:
        row["stored"] = store.count()
        row["seconds"] = round(time.monotonic() - started)
        stop_processes(processes)
    row["hanging_aborted"] = sum(path.read_text().count("aborted a hanging transaction")
                                 for path in logs.glob("*.log"))
    return row


def write_results(rows: list[dict]) -> None:
    path = RESULTS / "soak.csv"
    old = list(csv.DictReader(path.open())) if path.exists() else []
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(old + rows)
    every = old + rows
    machine = ", ".join(f"{key} {value}" for key, value in describe().items())
    lines = ["# Chaos soak", "", f"`python -m bench.soak`; last run on {machine}.", "",
             "| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS)]
    lines += ["| " + " | ".join(str(r.get(f, "")) for f in FIELDS) + " |" for r in every]
    passed = sum(1 for r in every if r.get("outcome") == "ok")
    lines += ["", f"{passed} of {len(every)} runs stored every article with every id exactly once on the "
              "exactly-once topics."]
    (RESULTS / "soak.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--restarts", type=int, default=8)
    parser.add_argument("--commit-delay-ms", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as work:
            row = soak_once(seed, args.articles, args.restarts, args.commit_delay_ms, Path(work))
        row.update(run=datetime.now().strftime("%Y-%m-%d %H:%M"), commit=commit)
        print(row, flush=True)
        write_results([row])


if __name__ == "__main__":
    main()
