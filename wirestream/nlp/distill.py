"""Ensemble distillation for entity stance: many teachers' knowledge in one shippable model.

The stance model must be one small checkpoint, but an ensemble of fine-tuned runs is more accurate
than any member. The student learns from the ensemble's probabilities as well as the gold labels,
and also from targets nobody labelled: the other named entities of the NewsMTSC train sentences,
found by wirestream's NER model. Those extra targets turn one-target sentences into multi-target
ones, the case the test's ``mt`` split is hard on. Everything is built from train only.

>>> rows = [{"sentence": "Smith praised Acme.", "from": 0, "to": 5, "mention": "Smith"}]
>>> spans = {"Smith praised Acme.": [(0, 5), (14, 18)]}
>>> [(r["mention"], r["from"]) for r in unlabelled_targets(rows, spans)]
[('Acme', 14)]
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch

from wirestream.nlp.classify import TextClassifier, TextInput, stance_input


def unlabelled_targets(rows: Iterable[dict], spans: Mapping[str, Sequence[tuple[int, int]]]) -> list[dict]:
    """Entity spans of each labelled sentence that overlap none of its labelled targets."""
    labelled: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in rows:
        labelled[row["sentence"]].append((row["from"], row["to"]))
    found = []
    for sentence, taken in labelled.items():
        for start, end in spans.get(sentence, ()):
            if all(end <= a or start >= b for a, b in taken):
                found.append({"sentence": sentence, "from": start, "to": end, "mention": sentence[start:end]})
                taken.append((start, end))
    return found


TARGET_TYPES = frozenset({"PER", "ORG", "LOC"})  # NewsMTSC's targets are people, organisations, countries


def find_unlabelled_targets(train_file: Path, ner_model: str, output: Path, *, threads: int | None = None) -> int:
    """Run the NER model over the train sentences and write their unlabelled targets (JSON lines, gzip)."""
    from wirestream.nlp.inference import TokenClassifier

    rows = [json.loads(line) for line in Path(train_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    sentences = sorted({row["sentence"] for row in rows})
    ner = TokenClassifier.load(ner_model, threads=threads)
    spans = {s: [(e.start, e.end) for e in found if e.label in TARGET_TYPES]
             for s, found in zip(sentences, ner(sentences), strict=True)}
    targets = unlabelled_targets(rows, spans)
    with gzip.open(output, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in targets)
    return len(targets)


def read_unlabelled_targets(path: str | Path) -> list[TextInput]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [stance_input(r["sentence"], r["from"], r["to"]) for r in rows]


def ensemble_probabilities(teachers: Sequence[str], inputs: Sequence[TextInput], device: str) -> torch.Tensor:
    """The teachers' mean class probabilities, one row per input, in the model's label order."""
    total = torch.zeros((len(inputs), 3))
    for path in teachers:
        classifier = TextClassifier.load(path, device=device)
        total += torch.tensor([[p.probabilities[label] for label in classifier.labels] for p in classifier(inputs)])
        del classifier
    return total / len(teachers)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="find unlabelled stance targets in NewsMTSC train with NER")
    parser.add_argument("train_file", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--ner-model", default="models/wirestream-ner")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    print(find_unlabelled_targets(args.train_file, args.ner_model, args.output, threads=args.threads), "targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
