"""Pipeline benchmark on BBC articles, with exactly the weights the model cards evaluate.

(a) each NLP stage draining a pre-filled input topic, against the same model run directly on the
    same texts with the same batch size, in the same run: seven alternating pairs of runs, the
    median of the paired ratios reported (one run on a shared 2-core machine varies by about 10 %);
(b) the whole pipeline's sustainable rate, and produce-to-stored latency percentiles at 25 %, 50 %
    and 80 % of it;
(c) each NLP stage with 1 and 2 consumer processes.

Stage throughput is read from the records' traces (first batch start to last batch end), so it
counts the stage's own work, not process start-up or model loading.

    python -m bench.pipeline [--articles 48] [--seconds 45]

Needs a broker (KAFKA_BOOTSTRAP_SERVERS, else the local one is started). Writes
bench/results/pipeline.{csv,md,png}.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bench.articles import bbc_articles
from bench.environment import describe
from schemas import Article, EnrichedArticle
from services.ner import NerService
from services.sentiment import SentimentService
from training.settings import TrainingSettings
from wirestream.allocator import preload
from wirestream.clients import ensure_topics, make_producer
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.producer import stamp
from wirestream.testing import (
    committed_offsets,
    isolated_settings,
    kafka_bootstrap,
    read_topic,
    start_stage_process,
    stop_processes,
    wait_for,
)

RESULTS = Path(__file__).parent / "results"


def trace_window(records: Sequence[EnrichedArticle], stage: str) -> tuple[float, set[str]]:
    steps = [step for r in records for step in r.trace if step.service == stage]
    start = min(s.started_at for s in steps)
    end = max(s.finished_at for s in steps)
    return (end - start).total_seconds(), {s.instance for s in steps}


def run_processes(settings: Settings, stage: str, count: int, threads: int) -> list[subprocess.Popen]:
    return [start_stage_process(settings, stage, f"{stage}-{n}", threads) for n in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    stop_processes(processes, timeout=30)


def drain(
    settings: Settings, stage: str, source_topic: str, records: Sequence[Article], processes: int, threads: int
) -> tuple[float, list[EnrichedArticle], set[str]]:
    """Pre-fill the stage's input topic, let ``processes`` workers drain it; seconds from the traces."""
    ensure_topics(settings)
    producer = make_producer(settings)
    for record in records:
        producer.send(source_topic, key=record.story_id.encode(), value=record.model_dump_json().encode())
    producer.flush()
    producer.close()
    output = settings.topic_ner if stage == "ner" else settings.topic_enriched
    workers = run_processes(settings, stage, processes, threads)
    try:
        # Watch the group's committed offsets, not the output, and seldom: a reader fetching and decoding
        # the output while the stage runs would take CPU from the stage under test on a 2-core machine.
        wait_for(lambda: sum(committed_offsets(settings, stage, source_topic).values()) >= len(records),
                 timeout=900, interval=5.0, what=f"{stage} to commit all {len(records)} inputs")
    finally:
        stop(workers)
    out = read_topic(settings, output, expect=len(records), timeout=120)
    enriched = [EnrichedArticle.model_validate_json(r.value) for r in out]
    seconds, instances = trace_window(enriched, stage)
    return seconds, enriched, instances


def bare(service, records: Sequence[Article], batch_size: int) -> float:
    started = time.perf_counter()
    for first in range(0, len(records), batch_size):
        service.process(records[first : first + batch_size])
    return time.perf_counter() - started


STAGES = ("ner", "sentiment", "storage")


def stage_threads(spec: str) -> dict[str, int]:
    """``--threads``: torch threads per stage process in part (b), e.g. ``ner=1,sentiment=2``; 1 by default.

    >>> stage_threads("sentiment=2")
    {'ner': 1, 'sentiment': 2, 'storage': 1}
    """
    threads = dict.fromkeys(STAGES, 1)
    for item in filter(None, spec.split(",")):
        stage, _, count = item.partition("=")
        if stage not in threads:
            raise ValueError(f"--threads: unknown stage {stage!r} (one of {', '.join(STAGES)})")
        threads[stage] = int(count)
    return threads


def threads_note(threads: dict[str, int]) -> str:
    """``threads`` for a results row: empty for the default (one torch thread per stage).

    >>> threads_note(stage_threads("sentiment=2"))
    ', torch threads ner 1, sentiment 2, storage 1'
    """
    if set(threads.values()) == {1}:
        return ""
    return ", torch threads " + ", ".join(f"{stage} {count}" for stage, count in threads.items())


def pipeline_run(settings: Settings, articles: Sequence[Article], rate: float | None,
                 threads: dict[str, int] | None = None) -> dict[str, float]:
    """Run ner, sentiment and storage processes; produce at ``rate`` articles/s (None: all at once).

    ``threads``: torch threads per stage process (1 each by default: the stages share the machine).
    """
    ensure_topics(settings)
    threads = threads or stage_threads("")
    workers = [p for stage in STAGES for p in run_processes(settings, stage, 1, threads[stage])]
    store = open_store(settings)
    try:
        # Let every stage join before producing, so start-up is not counted as latency.
        time.sleep(20)
        producer = make_producer(settings)
        started = time.perf_counter()
        for n, article in enumerate(articles):
            if rate:
                time.sleep(max(0.0, started + n / rate - time.perf_counter()))
            stamped = stamp(article, "bench")
            producer.send(settings.topic_raw, key=stamped.story_id.encode(), value=stamped.model_dump_json().encode())
            producer.flush()
        producer.close()
        distinct = len({a.id for a in articles})  # the BBC data holds a few texts twice: one id, one row
        wait_for(lambda: store.count() == distinct, timeout=1800, interval=0.5, what="all articles stored")
    finally:
        stop(workers)
    stored = [store.get(a.id) for a in articles]
    latencies = []
    for item in stored:
        produced = item.article.trace[0].finished_at
        latencies.append((item.first_stored_at - produced).total_seconds())
    first = min(i.article.trace[0].finished_at for i in stored)
    last = max(i.first_stored_at for i in stored)
    service = sum(step.duration_ms / step.batch_size for i in stored for step in i.article.trace[1:]) / len(stored)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "throughput": len(stored) / (last - first).total_seconds(),
        "p50": quantiles[49],
        "p95": quantiles[94],
        "p99": quantiles[98],
        "mean_service_s": service / 1000,
    }


def fresh(bootstrap: str, tmp: Path, name: str, **overrides) -> Settings:
    folder = tmp / name
    folder.mkdir()
    return isolated_settings(bootstrap, folder, **overrides)


def main() -> None:
    # The bare-model side runs in this process: give it the allocator the stage processes get.
    preload(Settings().allocator)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each paced load run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--stage-articles", type=int, default=96, help="articles for part (a)")
    parser.add_argument("--repeats", type=int, default=7, help="part (a) runs; the median is reported")
    parser.add_argument("--parts", default="abc", help="which parts to run (e.g. 'a')")
    parser.add_argument("--loads", default="0.25,0.5,0.8", help="part (b)'s paced loads ('': saturation only)")
    parser.add_argument("--name", default="pipeline", help="results file name (bench/results/NAME.md)")
    parser.add_argument("--threads", default="", help="part (b)'s torch threads per stage, e.g. 'sentiment=2'")
    args = parser.parse_args()
    threads = stage_threads(args.threads)
    base = Settings()
    articles = bbc_articles(TrainingSettings().data_dir, max(args.articles, args.stage_articles))
    env = describe()
    rows: list[dict] = []
    with kafka_bootstrap() as bootstrap, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        common = {"batch_size": args.batch_size, "partitions": 6, "torch_threads": 2}

        # (a) stage vs bare model, same texts, same batch size, same run; repeated, median reported.
        stage_articles = articles[: args.stage_articles]
        part_a, enriched, notes = [], [], []
        if "a" in args.parts:
            part_a, enriched, notes = stage_versus_bare(bootstrap, tmp, common, stage_articles, args.batch_size,
                                                        args.repeats)
        rows += part_a
        articles = articles[: args.articles]
        enriched = enriched[: args.articles]
        tokens = sub_tokens(base, articles)

        # (c) 1 and 2 consumer processes per stage (threads split so both use the 2 cores).
        for stage, source, inputs in (("ner", "raw", articles), ("sentiment", "ner", enriched)):
            if "c" not in args.parts:
                break
            for processes in (1, 2):
                settings = fresh(bootstrap, tmp, f"c-{stage}-{processes}", **common)
                topic = settings.topic_raw if source == "raw" else settings.topic_ner
                seconds, _, instances = drain(settings, stage, topic, inputs, processes, max(1, 2 // processes))
                rows.append(
                    {
                        "part": "c",
                        "stage": stage,
                        "setup": f"{processes} process(es), {len(instances)} active",
                        "processes": processes,
                        "articles_per_s": round(len(inputs) / seconds, 3),
                        "tokens_per_s": round(tokens / seconds),
                        "ratio_to_bare": "",
                    }
                )

        # (b) sustainable rate (all at once), then paced loads at 25/50/80 % of it.
        if "b" not in args.parts:
            write(rows, env, len(articles), tokens, notes, part_a=len(stage_articles), repeats=args.repeats,
                  batch_size=args.batch_size, name=args.name)
            return
        saturated = pipeline_run(fresh(bootstrap, tmp, "b-saturation", **common), articles, None, threads)
        capacity = saturated["throughput"]
        rows.append(
            {
                "part": "b",
                "stage": "pipeline",
                "setup": "saturation" + threads_note(threads),
                "processes": 1,
                "articles_per_s": round(capacity, 3),
                "tokens_per_s": round(tokens / len(articles) * capacity),
                "ratio_to_bare": "",
                "mean_service_s": round(saturated["mean_service_s"], 3),
            }
        )
        for load in (float(x) for x in args.loads.split(",") if x):
            rate = capacity * load
            count = max(8, min(len(articles), int(rate * args.seconds)))
            figures = pipeline_run(fresh(bootstrap, tmp, f"b-{load}", **common), articles[:count], rate, threads)
            rows.append(
                {
                    "part": "b",
                    "stage": "pipeline",
                    "setup": f"{load:.0%} load ({rate:.2f}/s, {count} articles)" + threads_note(threads),
                    "processes": 1,
                    "articles_per_s": round(figures["throughput"], 3),
                    "tokens_per_s": "",
                    "ratio_to_bare": "",
                    "p50_s": round(figures["p50"], 3),
                    "p95_s": round(figures["p95"], 3),
                    "p99_s": round(figures["p99"], 3),
                    "mean_service_s": round(figures["mean_service_s"], 3),
                }
            )
            print(rows[-1], flush=True)
    write(rows, env, len(articles), tokens, notes, part_a=len(stage_articles), repeats=args.repeats,
          batch_size=args.batch_size, name=args.name)


def sub_tokens(settings: Settings, articles: Sequence[Article]) -> int:
    """The articles' bodies in the NER model's sub-tokens: the unit of the tokens/s columns."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(settings.ner_model))
    return sum(len(tokenizer(a.body)["input_ids"]) for a in articles)


def stage_versus_bare(
    bootstrap: str, tmp: Path, common: dict, articles: Sequence[Article], batch_size: int, repeats: int
) -> tuple[list[dict], list[EnrichedArticle], list[str]]:
    """Part (a): each stage draining its topic against its bare model, ``repeats`` times, medians reported.

    Bare and stage runs alternate (bare first, then stage first, ...) so a slow spell of the shared
    machine does not land on one side only. Both models are warmed up, as a stage's ``setup`` does.
    """
    settings = fresh(bootstrap, tmp, "a-models", **common)
    ner, sentiment = NerService(settings), SentimentService(settings)
    ner.setup()
    sentiment.setup()
    tokens = sub_tokens(settings, articles)
    ner_outputs = list(ner.process(articles))
    enriched: list[EnrichedArticle] = []  # the NER stage's outputs, in article order
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for repeat in range(repeats):
        for stage, service in (("ner", ner), ("sentiment", sentiment)):
            for side in ("bare", "stage") if repeat % 2 == 0 else ("stage", "bare"):
                if side == "bare":
                    inputs = articles if stage == "ner" else ner_outputs
                    seconds[(stage, "bare model")].append(bare(service, inputs, batch_size))
                    continue
                settings = fresh(bootstrap, tmp, f"a-{stage}-{repeat}", **common)
                topic, inputs = (settings.topic_raw, articles) if stage == "ner" else (settings.topic_ner, enriched)
                took, outputs, _ = drain(settings, stage, topic, inputs, 1, 2)
                seconds[(stage, "stage draining topic")].append(took)
                if stage == "ner" and not enriched:
                    by_id = {record.id: record for record in outputs}
                    enriched = [by_id[article.id] for article in articles]
    rows, notes = [], []
    for stage in ("ner", "sentiment"):
        bare_runs, stage_runs = seconds[(stage, "bare model")], seconds[(stage, "stage draining topic")]
        # Each repeat pairs a bare run with the stage run next to it, so a slow spell of the machine
        # lands on both sides of a ratio; the median of the paired ratios is the figure.
        ratios = [b / s for b, s in zip(bare_runs, stage_runs, strict=True)]
        of_medians = statistics.median(bare_runs) / statistics.median(stage_runs)
        notes.append(f"{stage}: stage/bare per repeat {', '.join(f'{r:.3f}' for r in ratios)};"
                     f" median {statistics.median(ratios):.3f}; ratio of the median rates {of_medians:.3f}")
        for setup, runs in (("bare model", bare_runs), ("stage draining topic", stage_runs)):
            median = statistics.median(runs)
            rows.append({
                "part": "a", "stage": stage, "setup": f"{setup} (median of {repeats})", "processes": 1,
                "articles_per_s": round(len(articles) / median, 3), "tokens_per_s": round(tokens / median),
                "ratio_to_bare": 1.0 if setup == "bare model" else round(statistics.median(ratios), 3),
            })
    return rows, enriched, notes


def write(rows: list[dict], env: dict[str, str], articles: int, tokens: int, notes: Sequence[str], *,
          part_a: int, repeats: int, batch_size: int, name: str = "pipeline") -> None:
    RESULTS.mkdir(exist_ok=True)
    fields = [
        "part",
        "stage",
        "setup",
        "processes",
        "articles_per_s",
        "tokens_per_s",
        "ratio_to_bare",
        "p50_s",
        "p95_s",
        "p99_s",
        "mean_service_s",
    ]
    with open(RESULTS / f"{name}.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[*fields, *env])
        writer.writeheader()
        for row in rows:
            writer.writerow({**{f: row.get(f, "") for f in fields}, **env})
    lines = [
        "# Pipeline benchmark",
        "",
        f"BBC articles from `../shared/data/news/bbc`: part (a) {part_a} articles, medians of {repeats} "
        f"alternating runs (stage / bare: the median of the {repeats} paired ratios), batch size {batch_size};"
        f" parts (b) and (c) {articles} articles ({tokens} sub-tokens, "
        f"{tokens / articles:.0f} per article);"
        f" CPU {env['cpu']} ({env['cpu_capability']}); torch {env['torch']}; {env['allocator']};"
        f" precision {Settings().nlp_precision};"
        f" commit {env['commit']}; run {datetime.now():%Y-%m-%d %H:%M}.",
        "",
        "| part | stage | setup | articles/s | tokens/s | stage / bare | p50 s | p95 s | p99 s | mean service s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['part']} | {r['stage']} | {r['setup']} | {r['articles_per_s']} | {r.get('tokens_per_s', '')} "
            f"| {r.get('ratio_to_bare', '')} | {r.get('p50_s', '')} | {r.get('p95_s', '')} "
            f"| {r.get('p99_s', '')} | {r.get('mean_service_s', '')} |"
        )
    lines += ["", *(f"- {note}" for note in notes)]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    if any(r["part"] in {"a", "c"} for r in rows):
        plot(rows)


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    bars = [r for r in rows if r["part"] in {"a", "c"}]
    left.barh([f"{r['stage']}: {r['setup']}" for r in bars], [r["articles_per_s"] for r in bars], color="#4477aa")
    left.set_xlabel("articles/s")
    left.set_title("stage throughput")
    loads = [r for r in rows if r["part"] == "b" and "p50_s" in r]
    x = [r["setup"].split(" ")[0] for r in loads]
    for key in ("p50_s", "p95_s", "p99_s"):
        right.plot(x, [r[key] for r in loads], marker="o", label=key.removesuffix("_s"))
    right.set_ylabel("produce to stored, seconds")
    right.set_title("pipeline latency by load")
    right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "pipeline.png", dpi=110)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
