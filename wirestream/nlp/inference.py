"""Token classification over texts of any length: batched, windowed, offsets into the original text.

A text is tokenized once; its sub-tokens are cut into overlapping windows of ``window``
tokens (``overlap`` tokens shared between neighbours). Every sub-token takes its prediction
from the window in which it sits farthest from an edge, so an entity that straddles one
window's edge is read from the next window, whole, and is neither lost nor doubled.
Windows from all texts of a call are sorted by length and packed into batches of at most
``max_tokens`` tokens. The model is loaded once per :class:`TokenClassifier`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wirestream.nlp import ModelUnavailable
from wirestream.nlp.casing import CASING_CLASSES, casing_ids


@dataclass(frozen=True)
class EntitySpan:
    """An entity mention: ``text[start:end]``, its type and the model's mean probability."""

    start: int
    end: int
    label: str
    score: float
    text: str


@dataclass(frozen=True)
class _Window:
    text: int
    start: int  # first sub-token of the window, in the text's sub-tokens
    end: int


# Inner apostrophes and hyphens join a word ("Sa'ar", "Jaish-e-Mohammed"); a possessive 's does not.
_WORD = re.compile(r"[^\W_]+(?:(?:['’](?![sS]\b)|-)[^\W_]+)*")


def _word_pieces(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Group sub-token indexes ``[first, last)`` by the word (see ``_WORD``) they start in.

    >>> _word_pieces("Sa'ar (IANS)", [(0, 2), (2, 3), (3, 5), (6, 7), (7, 11), (11, 12)])
    [(0, 3), (3, 4), (4, 5), (5, 6)]
    >>> _word_pieces("India's", [(0, 5), (5, 6), (6, 7)])
    [(0, 1), (1, 2), (2, 3)]
    """
    word_at = {}
    for number, match in enumerate(_WORD.finditer(text)):
        for position in range(match.start(), match.end()):
            word_at[position] = number
    groups: list[tuple[int, int]] = []
    previous = None
    for index, (start, _) in enumerate(offsets):
        word = word_at.get(start)
        if word is not None and word == previous and groups:
            groups[-1] = (groups[-1][0], index + 1)
        else:
            groups.append((index, index + 1))
        previous = word
    return groups


def consistent(text: str, spans: list[EntitySpan], min_score: float = 0.9, unsure: float = 0.8) -> list[EntitySpan]:
    """One text, one reading of each name: the classic document-level consistency pass.

    An unsure mention (score below ``unsure``) gets the type most mentions of the same name got, and
    a confidently found name (``min_score``) is also found where it recurs untagged (whole words,
    same case). Both thresholds were chosen on CoNLL-2003 valid.

    >>> text = "PoK is disputed. Talks on PoK and PoK failed. IANS said; IANS added."
    >>> found = [EntitySpan(0, 3, "ORG", 0.7, "PoK"), EntitySpan(26, 29, "LOC", 0.95, "PoK"),
    ...          EntitySpan(34, 37, "LOC", 0.93, "PoK"), EntitySpan(57, 61, "ORG", 0.97, "IANS")]
    >>> [(s.start, s.label, s.text) for s in consistent(text, found)]
    [(0, 'LOC', 'PoK'), (26, 'LOC', 'PoK'), (34, 'LOC', 'PoK'), (46, 'ORG', 'IANS'), (57, 'ORG', 'IANS')]
    """
    votes: dict[str, dict[str, float]] = {}
    for span in spans:
        votes.setdefault(span.text, {}).setdefault(span.label, 0.0)
        votes[span.text][span.label] += span.score
    majority = {name: max(kinds, key=kinds.__getitem__) for name, kinds in votes.items()}
    # Only an unsure mention is outvoted: one name can carry two types in one text (a city and its team).
    result = [
        EntitySpan(s.start, s.end, majority[s.text] if s.score < unsure else s.label, s.score, s.text) for s in spans
    ]
    taken = [(s.start, s.end) for s in spans]
    confident = {s.text: (s.score, majority[s.text]) for s in spans
                 if s.score >= min_score and len(s.text) > 1 and s.text[0].isupper()}
    for name, (score, label) in confident.items():
        for match in re.finditer(rf"(?<![\w'’-]){re.escape(name)}(?![\w-]|['’][^\W_s])", text):
            if not any(match.start() < end and start < match.end() for start, end in taken):
                result.append(EntitySpan(match.start(), match.end(), label, round(score, 4), name))
                taken.append((match.start(), match.end()))
    return sorted(result, key=lambda s: s.start)


# transformers resolves its names lazily, and that is not safe when two threads load models at once.
_LOADING = threading.Lock()


def load_pretrained(kind: str, path: str | Path, threads: int | None) -> tuple[Any, Any]:
    """Model (float32, whatever it was saved in) and tokenizer from a directory or Hugging Face id.

    ``kind`` is ``"token"`` or ``"sequence"``; a sequence model whose config names a target marker
    (``wirestream_target_marker``) is read at that marker and stored as a token classifier.
    Anything that stops the loading is a :class:`ModelUnavailable`.

    >>> load_pretrained("token", "/nowhere/ner", None)
    Traceback (most recent call last):
    ...
    wirestream.nlp.ModelUnavailable: no model at /nowhere/ner: no such directory
    """
    name = str(path)
    local = Path(name).expanduser()
    if not local.is_dir() and (local.is_absolute() or name.startswith((".", "~")) or local.exists()):
        raise ModelUnavailable(f"no model at {name}: no such directory")
    try:
        return _load(kind, str(local) if local.is_dir() else name, threads)
    except (OSError, ValueError) as error:  # what transformers raises for a missing or broken model
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ModelUnavailable(f"could not load the model {name}: {reason}") from error


def _load(kind: str, path: str, threads: int | None) -> tuple[Any, Any]:
    with _LOADING:
        import transformers

        if threads:
            torch.set_num_threads(threads)
        if kind == "sequence" and getattr(
            transformers.AutoConfig.from_pretrained(path), "wirestream_target_marker", None
        ):
            kind = "token"
        auto = {"token": transformers.AutoModelForTokenClassification,
                "sequence": transformers.AutoModelForSequenceClassification}[kind]
        model = auto.from_pretrained(path, dtype=torch.float32)
        return model, transformers.AutoTokenizer.from_pretrained(path)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


WARM_UP_TEXT = "The committee met in Geneva on Monday. "  # 8 sub-tokens


class TokenClassifier:
    """Named-entity recognition with any Hugging Face token-classification model."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        window: int = 256,
        overlap: int = 64,
        max_tokens: int = 8192,
        device: str = "cpu",
        name: str = "",
        consistent: bool = True,
    ) -> None:
        if not 0 <= overlap < window - 2 - 1:
            raise ValueError(f"overlap {overlap} must be smaller than the window {window} minus 3")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.window = min(window, int(getattr(model.config, "max_position_embeddings", window)))
        self.overlap = overlap
        self.max_tokens = max(max_tokens, self.window)
        self.name = name
        self.consistent = consistent
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        self.label2id = {v: k for k, v in self.id2label.items()}
        tokenizer.model_max_length = 1 << 30  # texts are windowed here; silence the length warning
        self.uses_casing = bool(getattr(model.config, "wirestream_casing", False))
        if self.uses_casing and model.config.type_vocab_size < CASING_CLASSES:
            raise ValueError("model says it uses casing ids but its type vocabulary is too small")

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, **options: Any) -> TokenClassifier:
        """Load a local directory or Hugging Face model id once; ``threads`` sets torch's CPU threads."""
        model, tokenizer = load_pretrained("token", path, threads)
        return cls(model, tokenizer, name=str(path), **options)

    def warm_up(self) -> None:
        """Run the largest call the layer makes: ``max_tokens`` worth of full windows.

        The first real batch then pays neither torch's one-off set-up nor the memory allocator
        growing to its working size (measured: a cold first batch of 16 BBC articles took 30 %
        longer than the next ones).
        """
        full_window = WARM_UP_TEXT * ((self.window - 2) // 8)
        self([full_window] * max(1, self.max_tokens // self.window))

    # --- windows ------------------------------------------------------------------------------
    def _windows(self, text_index: int, length: int) -> list[_Window]:
        content = self.window - 2  # room for [CLS] and [SEP]
        if length <= content:
            return [_Window(text_index, 0, length)]
        step = content - self.overlap
        count = math.ceil((length - content) / step) + 1
        starts = [min(i * step, length - content) for i in range(count)]
        return [_Window(text_index, start, start + content) for start in sorted(set(starts))]

    def _batches(self, windows: list[_Window]) -> list[list[_Window]]:
        ordered = sorted(windows, key=lambda w: w.end - w.start)
        batches: list[list[_Window]] = []
        current: list[_Window] = []
        for window in ordered:
            longest = window.end - window.start + 2
            if current and longest * (len(current) + 1) > self.max_tokens:
                batches.append(current)
                current = []
            current.append(window)
        if current:
            batches.append(current)
        return batches

    # --- prediction -------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> list[list[EntitySpan]]:
        encoded = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        ids: list[list[int]] = encoded["input_ids"]
        offsets: list[list[tuple[int, int]]] = encoded["offset_mapping"]
        types = [
            casing_ids(text, offs) if self.uses_casing else [0] * len(offs)
            for text, offs in zip(texts, offsets, strict=True)
        ]
        windows = [w for index, token_ids in enumerate(ids) for w in self._windows(index, len(token_ids))]
        # Per text and sub-token: (distance from the nearest window edge, probabilities).
        best: list[list[tuple[int, torch.Tensor | None]]] = [[(-1, None)] * len(t) for t in ids]
        for batch in self._batches(windows):
            probabilities = self._run(batch, ids, types)
            for window, probs in zip(batch, probabilities, strict=True):
                size = window.end - window.start
                for position in range(size):
                    token = window.start + position
                    centrality = min(position, size - 1 - position)
                    if centrality > best[window.text][token][0]:
                        best[window.text][token] = (centrality, probs[position + 1])
        spans = [self._spans(text, offs, [p for _, p in chosen]) for text, offs, chosen in zip(
            texts, offsets, best, strict=True)]
        if self.consistent:
            spans = [consistent(text, found) for text, found in zip(texts, spans, strict=True)]
        return spans

    def _run(self, batch: list[_Window], ids: list[list[int]], types: list[list[int]]) -> list[torch.Tensor]:
        width = max(w.end - w.start for w in batch) + 2
        input_ids = torch.full((len(batch), width), self.tokenizer.pad_token_id, dtype=torch.long)
        type_ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, window in enumerate(batch):
            tokens = [
                self.tokenizer.cls_token_id,
                *ids[window.text][window.start : window.end],
                self.tokenizer.sep_token_id,
            ]
            input_ids[row, : len(tokens)] = torch.tensor(tokens)
            type_ids[row, 1 : len(tokens) - 1] = torch.tensor(types[window.text][window.start : window.end])
            mask[row, : len(tokens)] = 1
        logits = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            token_type_ids=type_ids.to(self.device),
        ).logits
        return list(torch.softmax(logits.float(), dim=-1).cpu())

    def _spans(self, text: str, offsets: list[tuple[int, int]], probs: list[torch.Tensor | None]) -> list[EntitySpan]:
        """IOB decoding over sub-tokens, one decision per word.

        A word is a run of letters and digits joined by inner apostrophes or hyphens ("Sa'ar",
        "Jaish-e-Mohammed"): its pieces' probabilities are averaged and the word gets one type, so
        an entity never ends or changes type inside a word.
        """
        labels: list[str] = []
        scores: list[float] = []
        for first, last in _word_pieces(text, offsets):
            mean = torch.stack([p for p in probs[first:last] if p is not None]).mean(dim=0)
            kinds = {"O": float(mean[self.label2id["O"]])}
            for label, index in self.label2id.items():
                if label != "O":
                    kinds[label[2:]] = kinds.get(label[2:], 0.0) + float(mean[index])
            kind = max(kinds, key=kinds.__getitem__)
            if kind == "O":
                labels.extend(["O"] * (last - first))
            else:
                begin = "B" if mean[self.label2id[f"B-{kind}"]] >= mean[self.label2id[f"I-{kind}"]] else "I"
                labels.extend([f"{begin}-{kind}"] + [f"I-{kind}"] * (last - first - 1))
            scores.extend([kinds[kind]] * (last - first))
        spans: list[EntitySpan] = []
        start = None
        kind = ""
        for index, label in enumerate([*labels, "O"]):
            prefix, _, tag_type = label.partition("-")
            continues = start is not None and prefix == "I" and tag_type == kind
            if start is not None and not continues:
                begin, end = offsets[start][0], offsets[index - 1][1]
                score = sum(scores[start:index]) / (index - start)
                spans.append(EntitySpan(begin, end, kind, round(score, 4), text[begin:end]))
                start = None
            if prefix in {"B", "I"} and not continues:
                start, kind = index, tag_type
        return spans
