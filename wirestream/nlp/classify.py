"""Sequence classification (sentence tone, entity stance) in length-sorted, token-bounded batches.

>>> stance_input("Hamas rejected the offer.", 0, 5)
('Hamas', '<t>Hamas</t> rejected the offer.')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wirestream.nlp.inference import WARM_UP_TEXT, load_pretrained, resolve_device

TARGET_OPEN, TARGET_CLOSE = "<t>", "</t>"
POLARITIES = ("negative", "neutral", "positive")

TextInput = str | tuple[str, str]


def stance_input(sentence: str, start: int, end: int) -> tuple[str, str]:
    """The stance model's input: the mention first, then the sentence with the mention marked.

    Marking the one occurrence in the sentence lets two entities of one sentence get different labels.
    """
    marked = f"{sentence[:start]}{TARGET_OPEN}{sentence[start:end]}{TARGET_CLOSE}{sentence[end:]}"
    return sentence[start:end], marked


def unmark(marked: str) -> tuple[str, int, int]:
    """The plain sentence and the target's span, from the marked half of a :func:`stance_input`.

    >>> unmark(stance_input("Critics blasted Dole.", 16, 20)[1])
    ('Critics blasted Dole.', 16, 20)
    """
    start = marked.index(TARGET_OPEN)
    end = marked.index(TARGET_CLOSE) - len(TARGET_OPEN)
    return marked.replace(TARGET_OPEN, "", 1).replace(TARGET_CLOSE, "", 1), start, end


def target_marker_id(model: Any, tokenizer: Any) -> int | None:
    """The token id a target-pooling model is read at, or None for a [CLS] classifier."""
    marker = getattr(model.config, "wirestream_target_marker", None)
    return int(tokenizer.convert_tokens_to_ids(marker)) if marker else None


def marker_positions(input_ids: torch.Tensor, marker: int) -> torch.Tensor:
    """Per row, the first position of ``marker`` (0, the [CLS] position, where it was truncated away)."""
    hits = input_ids == marker
    return torch.where(hits.any(dim=1), hits.int().argmax(dim=1), torch.zeros_like(hits[:, 0], dtype=torch.long))


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    probabilities: dict[str, float]


class TextClassifier:
    """Any Hugging Face sequence-classification model over single texts or text pairs."""

    def __init__(
        self, model: Any, tokenizer: Any, *, max_length: int = 256, max_tokens: int = 8192, device: str = "cpu",
        name: str = "",
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_length = min(max_length, int(getattr(model.config, "max_position_embeddings", max_length)))
        self.max_tokens = max(max_tokens, self.max_length)
        self.name = name
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.marker = target_marker_id(model, tokenizer)

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, **options: Any) -> TextClassifier:
        model, tokenizer = load_pretrained("sequence", path, threads)
        return cls(model, tokenizer, name=str(path), **options)

    def warm_up(self) -> None:
        """Run the largest call the classifier makes (``max_tokens`` of full-length texts).

        The first real batch then pays neither torch's one-off set-up nor the memory allocator
        growing to its working size.
        """
        self([WARM_UP_TEXT * (self.max_length // 8 + 1)] * max(1, self.max_tokens // self.max_length))

    def _encode(self, inputs: Sequence[TextInput]) -> list[list[int]]:
        firsts = [item[0] if isinstance(item, tuple) else item for item in inputs]
        seconds = [item[1] for item in inputs if isinstance(item, tuple)]
        if seconds and len(seconds) != len(inputs):
            raise ValueError("mix of single texts and pairs in one call")
        encoded = self.tokenizer(firsts, seconds or None, truncation=True, max_length=self.max_length)
        return [list(zip(ids, types, strict=True)) for ids, types in zip(
            encoded["input_ids"], encoded.get("token_type_ids", [[0] * len(i) for i in encoded["input_ids"]]),
            strict=True)]

    def __call__(self, inputs: Sequence[TextInput]) -> list[Prediction]:
        predictions = []
        for probs in self.probabilities(inputs):
            best = int(probs.argmax())
            predictions.append(Prediction(
                self.labels[best], round(float(probs[best]), 4),
                {label: round(float(p), 4) for label, p in zip(self.labels, probs, strict=True)},
            ))
        return predictions

    @torch.inference_mode()
    def probabilities(self, inputs: Sequence[TextInput]) -> torch.Tensor:
        """Class probabilities, one row per input in input order, computed in length-sorted batches."""
        return self._in_batches(inputs, (len(self.labels),), self._probabilities)

    @torch.inference_mode()
    def marker_states(self, inputs: Sequence[TextInput], layers: Sequence[int]) -> torch.Tensor:
        """Each input's hidden state at its target marker after each of ``layers`` (0: the embeddings).

        A stance teacher's representation of the target, for a student to match
        (:class:`wirestream.nlp.distill.Hints`); shape (inputs, layers, hidden size).
        """
        if self.marker is None:
            raise ValueError(f"{self.name or 'this model'} reads [CLS], not a target marker")

        def states(batch: list[list[tuple[int, int]]]) -> torch.Tensor:
            outputs, positions = self._forward(batch, output_hidden_states=True)
            rows = torch.arange(len(batch))
            return torch.stack([outputs.hidden_states[layer][rows, positions] for layer in layers], dim=1).cpu()

        return self._in_batches(inputs, (len(layers), self.model.config.hidden_size), states)

    def _in_batches(self, inputs: Sequence[TextInput], shape: tuple[int, ...],
                    run: Callable[[list[list[tuple[int, int]]]], torch.Tensor]) -> torch.Tensor:
        """``run`` over length-sorted batches of at most ``max_tokens``, its rows put back in input order."""
        encoded = self._encode(inputs) if inputs else []
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results = torch.empty((len(encoded), *shape))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and len(encoded[order[end]]) * (end - start + 1) <= self.max_tokens:
                end += 1
            results[order[start:end]] = run([encoded[i] for i in order[start:end]])
            start = end
        return results

    def _forward(self, batch: list[list[tuple[int, int]]], **options: Any) -> tuple[Any, torch.Tensor | None]:
        """The model's outputs for encoded rows, and each row's marker position (None for [CLS] models)."""
        width = max(len(row) for row in batch)
        ids = torch.full((len(batch), width), self.tokenizer.pad_token_id, dtype=torch.long)
        types = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, row in enumerate(batch):
            ids[r, : len(row)] = torch.tensor([i for i, _ in row])
            types[r, : len(row)] = torch.tensor([t for _, t in row])
            mask[r, : len(row)] = 1
        outputs = self.model(input_ids=ids.to(self.device), token_type_ids=types.to(self.device),
                             attention_mask=mask.to(self.device), **options)
        positions = None if self.marker is None else marker_positions(ids, self.marker).to(self.device)
        return outputs, positions

    def _probabilities(self, batch: list[list[tuple[int, int]]]) -> torch.Tensor:
        outputs, positions = self._forward(batch)
        logits = outputs.logits
        if positions is not None:  # token logits: read the target's marker
            logits = logits[torch.arange(len(batch)), positions]
        return torch.softmax(logits.float(), dim=-1).cpu()
