"""NLP stages against their bare models, without Kafka: how much of the model's speed a stage keeps.

For each NLP stage (``ner``; ``sentiment``, which runs the tone and stance models) on BBC articles:

* **stage**: ``Service.process`` over the articles in batches, as the runtime calls it;
* **bare model**: the same model calls on the same inputs, replayed from tensors already on the
  device (recorded during a stage pass), so nothing but the forward passes is timed;
* **host ms/article**: stage time minus the time inside the model calls, over the articles, in
  passes where every model call is timed (synchronised on a GPU; on the CPU these are the stage
  passes themselves); the median over the repeats, and the fastest pass. This is the per-article
  work on the host (tokenizing, windows, decoding, building records) that the stage adds. On a
  shared 2-core VM one process's median moves by 0.1-0.2 ms from run to run (neighbours, caches
  the model call just flushed); the fastest pass shows the work with the least interference.

Repeated runs alternate stage and bare; the medians are reported.

    python -m bench.stage_speed [--device cpu|cuda] [--precision float32,int8] [--batch 16,64]
                                [--articles 64] [--repeats 3] [--name cpu]

Writes bench/results/stage_speed_NAME.{csv,md}. On a lent GPU, ``bench/gpu.sh`` runs it in one call.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.articles import bbc_articles
from bench.environment import describe
from schemas import Article
from services.ner import NerService
from services.sentiment import SentimentService
from training.settings import TrainingSettings
from wirestream.allocator import preload
from wirestream.config import Settings
from wirestream.service import close_quietly, set_up

RESULTS = Path(__file__).parent / "results"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ModelCalls:
    """Wraps a model's ``forward``: records its inputs, and in timed mode its time, call by call."""

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model, self.device = model, device
        self.forward = model.forward
        self.recorded: list[dict[str, torch.Tensor]] = []
        self.seconds = 0.0
        self.record = self.timed = False
        model.forward = self._call

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        if self.record:
            self.recorded.append(kwargs)
        if not self.timed:
            return self.forward(*args, **kwargs)
        synchronize(self.device)
        started = time.perf_counter()
        out = self.forward(*args, **kwargs)
        synchronize(self.device)
        self.seconds += time.perf_counter() - started
        return out

    @torch.inference_mode()
    def replay(self) -> None:
        for kwargs in self.recorded:
            self.forward(**kwargs)


@contextmanager
def mode(calls: Sequence[ModelCalls], **flags: bool):
    for call in calls:
        for name, value in flags.items():
            setattr(call, name, value)
    try:
        yield
    finally:
        for call in calls:
            call.record = call.timed = False


def in_batches(service: Any, articles: Sequence[Article], batch: int) -> list[Article]:
    out: list[Article] = []
    for first in range(0, len(articles), batch):
        out.extend(service.process(articles[first : first + batch]))
    return out


def measure(stage: str, service: Any, calls: list[ModelCalls], articles: Sequence[Article], batch: int,
            repeats: int, device: torch.device) -> dict[str, float]:
    for call in calls:
        call.recorded, call.seconds = [], 0.0
    with mode(calls, record=True):
        in_batches(service, articles, batch)

    host_runs: list[float] = []

    def stage_run() -> float:
        for call in calls:
            call.seconds = 0.0
        with mode(calls, timed=True):  # on a GPU each call is synchronised: the stage's time is the untimed run
            started = time.perf_counter()
            in_batches(service, articles, batch)
            synchronize(device)
            timed = time.perf_counter() - started
        host_runs.append(timed - sum(call.seconds for call in calls))
        if device.type != "cuda":
            return timed
        started = time.perf_counter()
        in_batches(service, articles, batch)
        synchronize(device)
        return time.perf_counter() - started

    def bare_run() -> float:
        started = time.perf_counter()
        for call in calls:
            call.replay()
        synchronize(device)
        return time.perf_counter() - started

    stage_runs, bare_runs = [], []
    for repeat in range(repeats):
        for run, into in ((stage_run, stage_runs), (bare_run, bare_runs))[:: 1 if repeat % 2 == 0 else -1]:
            into.append(run())
    n = len(articles)
    stage_s, bare_s = statistics.median(stage_runs), statistics.median(bare_runs)
    return {
        "stage": stage, "batch": batch, "articles": n,
        "stage_articles_per_s": round(n / stage_s, 2), "bare_articles_per_s": round(n / bare_s, 2),
        "stage_over_bare": round(bare_s / stage_s, 3),
        "host_ms_per_article": round(statistics.median(host_runs) / n * 1000, 3),
        "host_ms_fastest": round(min(host_runs) / n * 1000, 3),
        "model_calls": sum(len(call.recorded) for call in calls),
    }


def services(settings: Settings) -> dict[str, tuple[Any, Callable[[Any], list[Any]]]]:
    return {
        "ner": (NerService(settings), lambda s: [s.classifier]),
        "sentiment": (SentimentService(settings), lambda s: [s.tone, s.stance]),
    }


def main() -> None:
    preload(Settings().allocator)  # the allocator `wirestream run` gives a stage (re-executes once)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="float32", help="comma-separated: float32,bfloat16,float16,int8")
    parser.add_argument("--batch", default="16,64", help="comma-separated stage batch sizes")
    parser.add_argument("--articles", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", default="ner,sentiment")
    parser.add_argument("--name", default="cpu", help="results file suffix")
    args = parser.parse_args()
    rows = []
    base = Settings(nlp_device=args.device)
    articles = bbc_articles(TrainingSettings().data_dir, args.articles)
    for precision in args.precision.split(","):
        settings = base.model_copy(update={"nlp_precision": precision})
        ner_outputs: list[Article] = []
        for stage, (service, models) in services(settings).items():
            if stage not in args.stages.split(",") and not (stage == "ner" and "sentiment" in args.stages):
                continue
            set_up(service)  # as the runtime does: setup, then its heap settled (wirestream.service.settle)
            device = torch.device(args.device if args.device != "auto" else "cuda")
            calls = [ModelCalls(layer.model, device) for layer in models(service)]
            ran = "+".join(dict.fromkeys(layer.precision for layer in models(service)))
            if stage == "ner":
                ner_outputs = in_batches(service, articles, 64)
                if "ner" not in args.stages.split(","):
                    continue
            inputs = articles if stage == "ner" else ner_outputs
            for batch in (int(b) for b in args.batch.split(",")):
                figures = measure(stage, service, calls, inputs, batch, args.repeats, device)
                row = {"precision": precision, "ran_in": ran, **figures}
                rows.append({**row, **describe()})
                print({k: row[k] for k in row}, flush=True)
            close_quietly(service)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"stage_speed_{args.name}.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    env = describe()
    lines = [
        f"# NLP stages against their bare models ({args.name})",
        "",
        f"{args.articles} BBC articles from `../shared/data/news/bbc`; device {env['device']}; "
        f"CPU {env['cpu']} ({env['cpu_capability']}), "
        f"torch {env['torch']}, {env['torch_threads']} threads, {env['allocator']}; commit {env['commit']}; "
        f"medians of {args.repeats} alternating runs. `python -m bench.stage_speed` with "
        f"`--device {args.device} --precision {args.precision} --batch {args.batch} --articles {args.articles}`.",
        "",
        "| stage | precision asked | ran in | batch | stage articles/s | bare model articles/s | stage / bare "
        "| host ms/article | fastest pass |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['stage']} | {r['precision']} | {r['ran_in']} | {r['batch']} | {r['stage_articles_per_s']} | "
              f"{r['bare_articles_per_s']} | {r['stage_over_bare']} | {r['host_ms_per_article']} | "
              f"{r['host_ms_fastest']} |" for r in rows]
    (RESULTS / f"stage_speed_{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
