"""NER model throughput at batch 1 and 32 on 128-token inputs (BBC news text).

Two rows per batch size: ``model`` is the bare forward pass on ready tensors; ``layer`` is
wirestream's inference layer on the same texts (tokenizing, windows, decoding to spans).

    python -m bench.ner_throughput [--model DIR] [--texts N]

Writes bench/results/ner_throughput.csv and .md.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from bench.environment import describe
from training.settings import TrainingSettings
from wirestream.config import Settings, models_dir
from wirestream.nlp.inference import TokenClassifier

RESULTS = Path(__file__).parent / "results"
TOKENS = 128


def bbc_texts(data_dir: Path, tokenizer, count: int) -> list[str]:
    """BBC article openings cut to exactly TOKENS sub-tokens with [CLS] and [SEP]."""
    texts = []
    for path in sorted((data_dir / "news" / "bbc").rglob("*.txt")):
        body = path.read_text(encoding="latin-1")
        offsets = tokenizer(body, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) >= TOKENS - 2:
            texts.append(body[: offsets[TOKENS - 3][1]])
        if len(texts) == count:
            break
    return texts


def timed(run, repeats: int) -> float:
    run()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(models_dir() / "wirestream-ner"))
    parser.add_argument("--texts", type=int, default=256)
    args = parser.parse_args()
    settings = Settings()
    ner = TokenClassifier.load(args.model, threads=settings.torch_threads, device=settings.nlp_device)
    texts = bbc_texts(TrainingSettings().data_dir, ner.tokenizer, args.texts)
    rows = []
    for batch_size in (1, 32):
        batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        if batch_size == 1:
            batches = batches[:64]
        encoded = [ner.tokenizer(b, padding=True, return_tensors="pt") for b in batches]
        for item in encoded:
            assert item["input_ids"].shape[1] == TOKENS, item["input_ids"].shape

        def bare(encoded=encoded) -> None:
            with torch.inference_mode():
                for item in encoded:
                    ner.model(**{k: v.to(ner.device) for k, v in item.items()})

        def layer(batches=batches) -> None:
            for batch in batches:
                ner(batch)

        n_texts = sum(len(b) for b in batches)
        for kind, run in (("model", bare), ("layer", layer)):
            seconds = timed(run, repeats=2)
            rows.append(
                {
                    "path": kind,
                    "batch": batch_size,
                    "texts": n_texts,
                    "tokens_per_text": TOKENS,
                    "texts_per_s": round(n_texts / seconds, 1),
                    "tokens_per_s": round(n_texts * TOKENS / seconds),
                    **describe(),
                }
            )
            print(rows[-1])
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "ner_throughput.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    env = describe()
    lines = [
        f"# NER throughput ({TOKENS}-token BBC inputs)",
        "",
        f"CPU: {env['cpu']}; torch {env['torch']}, {env['torch_threads']} threads; device {env['device']}; "
        f"commit {env['commit']}; model `{Path(args.model).name}`.",
        "",
        "| path | batch | texts/s | tokens/s |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['path']} | {r['batch']} | {r['texts_per_s']} | {r['tokens_per_s']} |" for r in rows]
    (RESULTS / "ner_throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
