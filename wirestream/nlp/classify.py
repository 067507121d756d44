"""Sequence classification (sentence tone, entity stance) in length-sorted, token-bounded batches.

As in :mod:`wirestream.nlp.inference`, each model call's probabilities leave the device in one
transfer, and the host builds and launches the next call before it waits for the last one.

>>> stance_input("Hamas rejected the offer.", 0, 5)
('Hamas', '<t>Hamas</t> rejected the offer.')
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirestream.nlp.inference import WARM_UP_TEXT, load_pretrained, resolve_device
from wirestream.nlp.precision import offered_precision, resolved, with_precision
from wirestream.nlp.targets import Encoded, Target, TargetEncoder, Words, template_items
from wirestream.nlp.transfer import HostCopy, to_device

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


def rounded(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """``round(v, digits)`` of every value, exactly as Python's ``round`` gives it, in one numpy pass.

    ``rint(v * 10**digits) / 10**digits`` is the nearest float to the integer the correctly
    rounded decimal has, wherever ``v * 10**digits`` is not within rounding error of a half; the
    few that are go through ``round`` itself.

    >>> values = np.array([0.12345, 0.99995, 2.675, 1e-9, 0.5])
    >>> rounded(values).tolist() == [round(v, 4) for v in values.tolist()]
    True
    """
    values = np.asarray(values, dtype=np.float64)
    scaled = values * 10.0**digits
    out = np.rint(scaled) / 10.0**digits
    near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if near.any():
        out[near] = [round(v, digits) for v in values[near].tolist()]
    return out


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Polarities:
    """Many inputs' predictions over :data:`POLARITIES` as arrays, for a stage to aggregate without
    one :class:`Prediction` per input (the same labels and figures)."""

    probabilities: np.ndarray  # (inputs, 3) float64: each probability rounded to 4 places, in POLARITIES order
    best: np.ndarray  # (inputs,) each input's label, a column: the top probability before rounding

    def scores(self) -> list[float]:
        """Each input's rounded probability of its label."""
        return self.probabilities[np.arange(len(self.best)), self.best].tolist()


MIN_FILL = 0.98  # a batch's share of real (not padding) tokens
MIN_ROWS = 16  # rows a batch holds before padding may cut it: each model call costs host work too


def filled_batches(lengths: Sequence[int], max_tokens: int, min_fill: float = MIN_FILL,
                   min_rows: int = MIN_ROWS) -> list[range]:
    """Consecutive rows of ascending ``lengths`` in batches of at most ``max_tokens`` padded tokens.

    A batch of more than ``min_rows`` rows also ends before a row whose length would make padding
    more than ``1 - min_fill`` of it: filled only up to ``max_tokens``, a batch of short sentences
    held rows up to half again as long as its first, and a fifth of the tone model's tokens were
    padding. ``min_rows`` keeps the calls few: each costs host work (on 64 BBC articles, 84 calls
    with 16, 103 with none). A row longer than ``max_tokens`` is a batch alone.

    >>> filled_batches([20, 20, 24, 30, 30], max_tokens=200, min_rows=1)
    [range(0, 2), range(2, 3), range(3, 5)]
    >>> filled_batches([20, 20, 24, 30, 30], max_tokens=200)
    [range(0, 5)]
    >>> filled_batches([20, 20, 24, 30, 30], max_tokens=200, min_fill=0.0)
    [range(0, 5)]
    >>> filled_batches([20, 20, 24, 30, 30], max_tokens=50, min_rows=1)
    [range(0, 2), range(2, 3), range(3, 4), range(4, 5)]
    """
    batches, start, real = [], 0, 0
    for index, length in enumerate(lengths):
        rows = index - start + 1
        if index > start and (length * rows > max_tokens
                              or (rows > min_rows and real + length < min_fill * length * rows)):
            batches.append(range(start, index))
            start, real = index, 0
        real += length
    if start < len(lengths):
        batches.append(range(start, len(lengths)))
    return batches


def padded(batch: Sequence[Encoded], pad_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, type ids and attention mask of encoded rows, padded on the right to the longest.

    Filled through one mask from the rows' plain lists, read once each (three slice assignments per
    row were a third of the sentiment stage's batching work; a numpy array per row, another 0.15
    ms/article).

    >>> [a.tolist() for a in padded([([5, 6, 7], [0, 1, 1]), ([8], [0])], 0)]
    [[[5, 6, 7], [8, 0, 0]], [[0, 1, 1], [0, 0, 0]], [[1, 1, 1], [1, 0, 0]]]
    """
    lengths = np.fromiter((len(row_ids) for row_ids, _ in batch), dtype=np.int64, count=len(batch))
    inside = np.arange(int(lengths.max())) < lengths[:, None]
    total = int(lengths.sum())
    ids = np.full(inside.shape, pad_id, dtype=np.int64)  # row-major fill: the rows, in order
    ids[inside] = np.fromiter(chain.from_iterable(row_ids for row_ids, _ in batch), dtype=np.int64, count=total)
    types = np.zeros(inside.shape, dtype=np.int64)
    types[inside] = np.fromiter(chain.from_iterable(row_types for _, row_types in batch), dtype=np.int64,
                                count=total)
    return ids, types, inside.astype(np.int64)


class TextClassifier:
    """Any Hugging Face sequence-classification model over single texts or text pairs."""

    def __init__(
        self, model: Any, tokenizer: Any, *, max_length: int = 256, max_tokens: int = 8192, device: str = "cpu",
        name: str = "", precision: str = "float32",
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolved(precision, self.device)
        self.model = with_precision(model, self.precision, self.device)
        self.tokenizer = tokenizer
        self.max_length = min(max_length, int(getattr(model.config, "max_position_embeddings", max_length)))
        self.max_tokens = max(max_tokens, self.max_length)
        self.name = name
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.marker = target_marker_id(model, tokenizer)
        self.backend = _truncating_backend(tokenizer, self.max_length)
        self.target_encoder = None
        if self.backend is not None and self.marker is not None:
            self.target_encoder = TargetEncoder(
                tokenizer.backend_tokenizer, self.max_length, whole=self._encode_targets,
                open_marker=TARGET_OPEN, close_marker=TARGET_CLOSE)

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, **options: Any) -> TextClassifier:
        model, tokenizer = load_pretrained("sequence", path, threads)
        if "precision" in options:
            options["precision"] = offered_precision(path, options["precision"],
                                                   resolve_device(options.get("device", "cpu")))
        return cls(model, tokenizer, name=str(path), **options)

    def warm_up(self) -> None:
        """Run the largest call the classifier makes (``max_tokens`` of full-length texts).

        The first real batch then pays neither torch's one-off set-up nor the memory allocator
        growing to its working size.
        """
        self([WARM_UP_TEXT * (self.max_length // 8 + 1)] * max(1, self.max_tokens // self.max_length))

    def _encode(self, inputs: Sequence[TextInput], words: SharedWords | None = None) -> list[Encoded]:
        firsts = [item[0] if isinstance(item, tuple) else item for item in inputs]
        seconds = [item[1] for item in inputs if isinstance(item, tuple)]
        if seconds and len(seconds) != len(inputs):
            raise ValueError("mix of single texts and pairs in one call")
        if words is not None and not seconds:
            return words.encode_single(firsts, self._encode)
        if self.backend is not None:  # the Rust tokenizer directly: transformers' conversion cost more than the rest
            encode = getattr(self.backend, "encode_batch_fast", self.backend.encode_batch)  # fast: no offsets
            encodings = encode(list(zip(firsts, seconds, strict=True)) if seconds else firsts)
            return [(e.ids, e.type_ids) for e in encodings]
        encoded = self.tokenizer(firsts, seconds or None, truncation=True, max_length=self.max_length)
        ids = encoded["input_ids"]
        types = encoded.get("token_type_ids") or [[0] * len(i) for i in ids]
        return list(zip(ids, types, strict=True))

    def _encode_targets(self, targets: Sequence[Target]) -> list[Encoded]:
        return self._encode([stance_input(*target) for target in targets])

    def __call__(self, inputs: Sequence[TextInput], words: SharedWords | None = None) -> list[Prediction]:
        """Each input's prediction; ``words``: the texts already tokenized for another classifier."""
        return self._predictions(self.probabilities(inputs, words))

    @torch.inference_mode()
    def targets(self, targets: Sequence[Target], words: SharedWords | None = None) -> list[Prediction]:
        """The same as ``self([stance_input(*t) for t in targets])``, tokenizing each distinct sentence once.

        A stance model reads one input per (sentence, entity): an article's sentences are tokenized
        once each, not once per entity they mention (:mod:`wirestream.nlp.targets`).
        """
        return self._predictions(self.target_probabilities(targets, words))

    @torch.inference_mode()
    def target_probabilities(self, targets: Sequence[Target], words: SharedWords | None = None) -> torch.Tensor:
        """:meth:`targets`' class probabilities, one row per target (as :meth:`probabilities`)."""
        encoded = [] if not targets else (
            self.target_encoder.encode(targets, words.words if words is not None else None)
            if self.target_encoder is not None else self._encode_targets(targets))
        return self._in_batches(encoded, (len(self.labels),), self._probabilities)

    def _predictions(self, probabilities: torch.Tensor) -> list[Prediction]:
        labels = self.labels
        best = probabilities.argmax(dim=1).tolist() if len(probabilities) else []  # ties: the first label
        predictions = []
        for row, top in zip(rounded(probabilities.numpy()).tolist(), best, strict=True):
            figures = dict(zip(labels, row, strict=True))
            predictions.append(Prediction(labels[top], figures[labels[top]], figures))
        return predictions

    def polarities(self, probabilities: torch.Tensor) -> Polarities:
        """:meth:`probabilities` (or :meth:`target_probabilities`) as :class:`Polarities`."""
        if sorted(self.labels) != sorted(POLARITIES):
            raise ValueError(f"{self.name or 'this model'} predicts {self.labels}, not {list(POLARITIES)}")
        columns = [self.labels.index(label) for label in POLARITIES]
        position = np.empty(len(columns), dtype=np.int64)  # a model column's place in POLARITIES
        position[columns] = np.arange(len(columns))
        best = position[probabilities.argmax(dim=1).numpy()]  # ties: the model's first label, as _predictions
        ordered = probabilities.numpy()[:, columns]
        return Polarities(rounded(ordered), best)

    @torch.inference_mode()
    def probabilities(self, inputs: Sequence[TextInput], words: SharedWords | None = None) -> torch.Tensor:
        """Class probabilities, one row per input in input order, computed in length-sorted batches."""
        return self._in_batches(self._encode(inputs, words) if inputs else [], (len(self.labels),),
                                self._probabilities)

    @torch.inference_mode()
    def marker_states(self, inputs: Sequence[TextInput], layers: Sequence[int]) -> torch.Tensor:
        """Each input's hidden state at its target marker after each of ``layers`` (0: the embeddings).

        A stance teacher's representation of the target, for a student to match
        (:class:`training.distill.Hints`); shape (inputs, layers, hidden size).
        """
        if self.marker is None:
            raise ValueError(f"{self.name or 'this model'} reads [CLS], not a target marker")

        def states(batch: list[Encoded]) -> torch.Tensor:
            outputs, positions = self._forward(batch, output_hidden_states=True)
            rows = torch.arange(len(batch), device=self.device)
            return torch.stack([outputs.hidden_states[layer][rows, positions] for layer in layers], dim=1).float()

        return self._in_batches(self._encode(inputs) if inputs else [], (len(layers), self.model.config.hidden_size),
                                states)

    def _in_batches(self, encoded: Sequence[Encoded], shape: tuple[int, ...],
                    run: Callable[[list[Encoded]], torch.Tensor]) -> torch.Tensor:
        """``run`` over length-sorted batches (:func:`filled_batches`), its rows put back in input order.

        Each batch is launched before the one before it is taken off the device, so the host's
        work on one call overlaps the device's on the next.
        """
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        results = np.empty((len(encoded), *shape), dtype=np.float32)
        in_flight: deque[tuple[list[int], HostCopy]] = deque()
        for rows in filled_batches([len(encoded[i][0]) for i in order], self.max_tokens):
            rows = [order[i] for i in rows]
            in_flight.append((rows, HostCopy.of(run([encoded[i] for i in rows]))))
            while len(in_flight) > 1:
                done, copy = in_flight.popleft()
                results[done] = copy.numpy()
        while in_flight:
            done, copy = in_flight.popleft()
            results[done] = copy.numpy()
        return torch.from_numpy(results)

    def _forward(self, batch: list[Encoded], **options: Any) -> tuple[Any, torch.Tensor | None]:
        """The model's outputs for encoded rows, and each row's marker position (None for [CLS] models)."""
        ids, types, mask = padded(batch, self.tokenizer.pad_token_id)
        outputs = self.model(input_ids=to_device(ids, self.device), token_type_ids=to_device(types, self.device),
                             attention_mask=to_device(mask, self.device), **options)
        positions = None
        if self.marker is not None:
            positions = to_device(marker_positions(torch.from_numpy(ids), self.marker).numpy(), self.device)
        return outputs, positions

    def _probabilities(self, batch: list[Encoded]) -> torch.Tensor:
        outputs, positions = self._forward(batch)
        logits = outputs.logits
        if positions is not None:  # token logits: read the target's marker
            logits = logits[torch.arange(len(batch), device=self.device), positions]
        return torch.softmax(logits.float(), dim=-1)


class WordSharing:
    """Whether a single-text classifier reads a target classifier's sub-token ids unchanged, and how.

    The sentiment stage's tone and stance models read the same sentences; where their tokenizers
    agree (the same normalizer, pre-tokenizer, vocabulary and post-processor: the same base encoder),
    each sentence is tokenized once, by the stance model's :class:`~wirestream.nlp.targets.TargetEncoder`,
    and the tone model builds its inputs from those ids. A text that holds an added token only one
    of the two has (the stance markers ``<t>``, ``</t>``) is tokenized by each model itself.
    """

    def __init__(self, single: TextClassifier, targets: TextClassifier) -> None:
        self.single, self.targets = single, targets
        spec = json.loads(single.tokenizer.backend_tokenizer.to_str())
        self.template = template_items(spec["post_processor"], "single")
        self.room = single.max_length - sum(len(item) for item, _ in self.template if item != "A")
        own = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
        other = {t["content"]: t["id"] for t in json.loads(targets.tokenizer.backend_tokenizer.to_str())
                 .get("added_tokens", [])}
        self.foreign = tuple(sorted(set(own) ^ set(other)))

    @classmethod
    def of(cls, single: TextClassifier, targets: TextClassifier) -> WordSharing | None:
        """The sharing between the two, or None where their tokenizers could split a text differently."""
        encoder = targets.target_encoder
        if single.backend is None or encoder is None or not encoder.shares or single.marker is not None:
            return None
        if getattr(single.tokenizer, "truncation_side", "right") != "right":
            return None
        mine = json.loads(single.tokenizer.backend_tokenizer.to_str())
        theirs = json.loads(targets.tokenizer.backend_tokenizer.to_str())
        parts = ("normalizer", "pre_tokenizer", "model", "post_processor")
        if any(mine.get(part) != theirs.get(part) for part in parts) or mine["post_processor"] is None:
            return None
        if mine["post_processor"].get("type") != "TemplateProcessing":
            return None
        own = {t["content"]: t for t in mine.get("added_tokens", [])}
        other = {t["content"]: t for t in theirs.get("added_tokens", [])}
        if any(own[c] != other[c] for c in set(own) & set(other)):
            return None
        return cls(single, targets)

    def words(self, texts: Sequence[str]) -> SharedWords:
        """The texts tokenized once, for both classifiers."""
        assert self.targets.target_encoder is not None
        return SharedWords(self.targets.target_encoder.words(texts), self)


@dataclass(frozen=True)
class SharedWords:
    """A batch's texts tokenized once (:meth:`WordSharing.words`)."""

    words: dict[str, Words]
    sharing: WordSharing

    def encode_single(self, texts: Sequence[str], encode: Callable[[list[str]], list[Encoded]]) -> list[Encoded]:
        """The single classifier's inputs for ``texts``: from the shared ids where it can read them, else
        ``encode`` (its own tokenizer)."""
        out: list[Encoded | None] = [None] * len(texts)
        rest = []
        template, room, foreign = self.sharing.template, self.sharing.room, self.sharing.foreign
        for n, text in enumerate(texts):
            found = self.words.get(text)
            if found is None or any(token in text for token in foreign):
                rest.append(n)
                continue
            ids: list[int] = []
            types: list[int] = []
            for item, type_id in template:
                piece = found[0][:room] if item == "A" else item
                ids += piece
                types += [type_id] * len(piece)
            out[n] = (ids, types)
        for n, encoded in zip(rest, encode([texts[n] for n in rest]) if rest else [], strict=True):
            out[n] = encoded
        return out  # type: ignore[return-value]


def _truncating_backend(tokenizer: Any, max_length: int) -> Any:
    """A copy of a fast tokenizer's Rust backend that truncates as ``truncation=True`` does, or None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.padding is not None:
        return None
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(backend.to_str())
    backend.enable_truncation(max_length, strategy="longest_first",
                              direction=getattr(tokenizer, "truncation_side", "right"))
    return backend
