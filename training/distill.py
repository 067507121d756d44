"""Ensemble distillation for entity stance: many teachers' knowledge in one shippable model.

The stance model must be one small checkpoint, but an ensemble of fine-tuned runs is more accurate
than any member. The student learns from the ensemble's probabilities as well as the gold labels,
and also from targets nobody labelled: the other named entities of the NewsMTSC train sentences,
found by wirestream's NER model, and optionally every person, organisation and place of the
CoNLL-2003 train sentences that name two or more (gold spans, no NER needed; dev did not choose the
student trained with them). Those extra targets turn one-target
sentences into multi-target ones, the case the test's ``mt`` split is hard on. With :class:`Hints` the
student also matches the teacher's hidden states at each target's marker, not only its
probabilities. Everything is built from train splits only.

>>> rows = [{"sentence": "Smith praised Acme.", "from": 0, "to": 5, "mention": "Smith"}]
>>> spans = {"Smith praised Acme.": [(0, 5), (14, 18)]}
>>> [(r["mention"], r["from"]) for r in unlabelled_targets(rows, spans)]
[('Acme', 14)]
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from training.conll import Document, entities, read_conll
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


def find_unlabelled_targets(train_file: Path, ner_model: str, output: Path, *, threads: int | None = None,
                            conll_train: Path | None = None) -> int:
    """Run the NER model over the train sentences and write their unlabelled targets (JSON lines, gzip).

    With ``conll_train``, the CoNLL-2003 train sentences' targets (:func:`conll_targets`) follow them.
    """
    from wirestream.nlp.inference import TokenClassifier

    rows = [json.loads(line) for line in Path(train_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    sentences = sorted({row["sentence"] for row in rows})
    ner = TokenClassifier.load(ner_model, threads=threads)
    spans = {s: [(e.start, e.end) for e in found if e.label in TARGET_TYPES]
             for s, found in zip(sentences, ner(sentences), strict=True)}
    targets = unlabelled_targets(rows, spans)
    if conll_train is not None:
        targets += conll_targets(read_conll(conll_train))
    write_targets(targets, output)
    return len(targets)


_NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "?", "!", ")", "%", "'", "'s", "n't", "'m", "'re", "'ve", "'ll",
                              "'d"})
_NO_SPACE_AFTER = frozenset({"(", "$"})


def detokenize(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """CoNLL's space-separated tokens as ordinary prose, with each token's character span.

    NewsMTSC's sentences are prose, so the student should not learn that targets come with
    spaces before commas. Double quotes alternate between opening and closing.

    >>> print(detokenize(['"', "I", "'m", "in", "(", "U.S.", ")", ",", '"', "Smith", "said", "."])[0])
    "I'm in (U.S.)," Smith said.
    """
    text, spans, quotes = "", [], 0
    glue = True
    for token in tokens:
        opening_quote = token == '"' and quotes % 2 == 0
        if text and not glue and not (token in _NO_SPACE_BEFORE or (token == '"' and not opening_quote)):
            text += " "
        spans.append((len(text), len(text) + len(token)))
        text += token
        glue = token in _NO_SPACE_AFTER or opening_quote
        quotes += token == '"'
    return text, spans


def conll_targets(documents: Iterable[Document], *, min_targets: int = 2, min_tokens: int = 12,
                  min_lowercase_words: int = 6) -> list[dict]:
    """Every PER/ORG/LOC mention of the CoNLL prose sentences that name at least ``min_targets``.

    Lowercase words tell prose from the corpus's many result tables and headlines.

    >>> doc = Document([[("Acme", "B-ORG"), ("sued", "O"), ("Smith", "B-PER"), (".", "O")]])
    >>> [(t["mention"], t["from"]) for t in conll_targets([doc], min_tokens=3, min_lowercase_words=1)]
    [('Acme', 0), ('Smith', 10)]
    """
    found = []
    for document in documents:
        for sentence in document.sentences:
            tokens = [token for token, _ in sentence]
            mentions = sorted(e for e in entities([tag for _, tag in sentence]) if e[2] in TARGET_TYPES)
            lowercase = sum(token.isalpha() and token.islower() for token in tokens)
            if len(mentions) < min_targets or len(tokens) < min_tokens or lowercase < min_lowercase_words:
                continue
            text, spans = detokenize(tokens)
            for first, end, _ in mentions:
                start, stop = spans[first][0], spans[end - 1][1]
                found.append({"sentence": text, "from": start, "to": stop, "mention": text[start:stop]})
    return found


def write_targets(targets: Iterable[dict], output: Path) -> None:
    with gzip.open(output, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in targets)


def read_unlabelled_targets(path: str | Path) -> list[TextInput]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [stance_input(r["sentence"], r["from"], r["to"]) for r in rows]


def _cache_key(teachers: Sequence[str], inputs: Sequence[TextInput], *extra: object) -> str:
    """A digest of the teachers' weights and the inputs: a retrained teacher never reads old figures."""
    digest = hashlib.sha256()
    for path in teachers:
        for weights in sorted(Path(path).glob("*.safetensors")):
            with weights.open("rb") as data:
                digest.update(hashlib.file_digest(data, "sha256").digest())
        digest.update(b"\0")
    digest.update(json.dumps(list(inputs), ensure_ascii=False).encode())
    if extra:  # what else the figures depend on (the layers of marker states)
        digest.update(json.dumps(extra).encode())
    return digest.hexdigest()


def _cached(cache_dir: Path | None, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``compute()``, kept under ``cache_dir`` as ``key``: a large teacher takes minutes to an hour on CPU."""
    cached = Path(cache_dir) / f"{key}.pt" if cache_dir is not None else None
    if cached is not None and cached.exists():
        return torch.load(cached)
    value = compute()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tmp")
        torch.save(value, partial)
        partial.replace(cached)
    return value


def ensemble_probabilities(teachers: Sequence[str], inputs: Sequence[TextInput], device: str,
                           cache_dir: Path | None = None) -> torch.Tensor:
    """The teachers' mean class probabilities, one row per input, in the model's label order.

    A large teacher takes minutes on CPU for the same inputs every time, so with ``cache_dir`` the
    result is kept there under a digest of the teachers' weights and the inputs.
    """

    def compute() -> torch.Tensor:
        total = torch.zeros((len(inputs), 3))
        for path in teachers:
            classifier = TextClassifier.load(path, device=device)
            total += torch.tensor([[p.probabilities[label] for label in classifier.labels]
                                   for p in classifier(inputs)])
            del classifier
        return total / len(teachers)

    return _cached(cache_dir, _cache_key(teachers, inputs), compute)


def hint_pairs(student_layers: int, teacher_layers: int, count: int = 3) -> list[tuple[int, int]]:
    """Which student layer matches which teacher layer: ``count`` evenly spaced pairs, the last layers last.

    >>> hint_pairs(6, 12)
    [(2, 4), (4, 8), (6, 12)]
    """
    return [(round(k * student_layers / count), round(k * teacher_layers / count)) for k in range(1, count + 1)]


def teacher_marker_states(teacher: str, inputs: Sequence[TextInput], layers: Sequence[int], device: str, *,
                          max_length: int, cache_dir: Path | None = None) -> torch.Tensor:
    """The teacher's hidden states at each input's target marker after ``layers``, in float16, cached."""

    def compute() -> torch.Tensor:
        classifier = TextClassifier.load(teacher, device=device, max_length=max_length)
        return classifier.marker_states(inputs, layers).half()

    return _cached(cache_dir, _cache_key([teacher], inputs, "marker states", list(layers), max_length), compute)


class Hints(torch.nn.Module):
    """The student trained to match the teacher's target representations too, not only its probabilities.

    Three probabilities say little about *why* the teacher labels a target; its hidden state at the
    target's marker says more. At each pair of :func:`hint_pairs` a linear map takes the student's
    state at its marker to the teacher's width, and the loss is their cosine distance (hints as in
    FitNets, layer pairs as in patient knowledge distillation), times ``weight``. The maps train
    along with the student and are not saved with it. ``forward`` runs the student with its hidden
    states, so this module stands in for the student in the training loop.
    """

    def __init__(self, student: Any, pairs: Sequence[tuple[int, int]], teacher_states: torch.Tensor,
                 weight: float) -> None:
        super().__init__()
        self.student, self.pairs, self.weight = student, list(pairs), weight
        self.teacher_states = teacher_states  # (examples, pairs, teacher width), float16; not a parameter
        width = student.config.hidden_size
        self.projections = torch.nn.ModuleList(
            torch.nn.Linear(width, teacher_states.shape[-1]) for _ in self.pairs)

    def forward(self, **inputs: torch.Tensor) -> Any:
        return self.student(**inputs, output_hidden_states=True)

    def loss(self, outputs: Any, batch: Sequence[int], positions: torch.Tensor) -> torch.Tensor:
        """The weighted sum over layer pairs of the mean cosine distance to the teacher, for ``batch``'s examples."""
        device = outputs.hidden_states[0].device
        rows, positions = torch.arange(len(batch), device=device), positions.to(device)
        teacher = self.teacher_states[list(batch)].float().to(device)
        total = torch.zeros((), device=device)
        for k, (layer, _) in enumerate(self.pairs):
            mine = self.projections[k](outputs.hidden_states[layer][rows, positions])
            total = total + (1 - torch.nn.functional.cosine_similarity(mine, teacher[:, k], dim=-1)).mean()
        return self.weight * total


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="find unlabelled stance targets in NewsMTSC train with NER")
    parser.add_argument("train_file", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--ner-model", default="models/wirestream-ner")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--conll-train", type=Path, help="also every target of these CoNLL-2003 sentences")
    args = parser.parse_args(argv)
    count = find_unlabelled_targets(args.train_file, args.ner_model, args.output, threads=args.threads,
                                    conll_train=args.conll_train)
    print(count, "targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
