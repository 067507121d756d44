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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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


def load_pretrained(auto_class: Any, path: str | Path, threads: int | None) -> tuple[Any, Any]:
    """Model (float32, whatever it was saved in) and tokenizer from a directory or Hugging Face id."""
    from transformers import AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    return auto_class.from_pretrained(str(path), dtype=torch.float32), AutoTokenizer.from_pretrained(str(path))


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        self.uses_casing = bool(getattr(model.config, "wirestream_casing", False))
        if self.uses_casing and model.config.type_vocab_size < CASING_CLASSES:
            raise ValueError("model says it uses casing ids but its type vocabulary is too small")

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, **options: Any) -> TokenClassifier:
        """Load a local directory or Hugging Face model id once; ``threads`` sets torch's CPU threads."""
        from transformers import AutoModelForTokenClassification

        model, tokenizer = load_pretrained(AutoModelForTokenClassification, path, threads)
        return cls(model, tokenizer, name=str(path), **options)

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
        return [
            self._spans(text, offs, [p for _, p in chosen], encoded.word_ids(i))
            for i, (text, offs, chosen) in enumerate(zip(texts, offsets, best, strict=True))
        ]

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

    def _spans(
        self, text: str, offsets: list[tuple[int, int]], probs: list[torch.Tensor | None], word_ids: list[int | None]
    ) -> list[EntitySpan]:
        """IOB decoding over sub-tokens; a word's continuation pieces follow its first piece."""
        labels: list[str] = []
        scores: list[float] = []
        previous_word = None
        for index, p in enumerate(probs):
            assert p is not None
            label_id = int(p.argmax())
            label, score = self.id2label[label_id], float(p[label_id])
            word = word_ids[index]
            if word is not None and word == previous_word and labels:
                # Same word as the previous piece: same entity, or none.
                label = "O" if labels[-1] == "O" else f"I-{labels[-1][2:]}"
            labels.append(label)
            scores.append(score)
            previous_word = word
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
