"""Token classification over texts of any length: batched, windowed, offsets into the original text.

A text is tokenized once; its sub-tokens are cut into overlapping windows of ``window``
tokens (``overlap`` tokens shared between neighbours). Every sub-token takes its prediction
from the window in which it sits farthest from an edge, so an entity that straddles one
window's edge is read from the next window, whole, and is neither lost nor doubled.
Windows from the texts of a call (a chunk of texts at a time) are sorted by length and packed
into batches of at most ``max_tokens`` tokens. Decoding to spans is :mod:`wirestream.nlp.decoding`.
The model is loaded once per :class:`TokenClassifier`.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirestream.nlp import ModelUnavailable
from wirestream.nlp.acronyms import with_expansions
from wirestream.nlp.casing import CASING_CLASSES, casing_array
from wirestream.nlp.decoding import EntitySpan, SpanDecoder, TextRuns
from wirestream.nlp.gazetteer import PLACE
from wirestream.nlp.plaintext import PlainEncoder
from wirestream.nlp.precision import offered_precision, resolved, with_precision
from wirestream.nlp.transfer import HostCopy, to_device

__all__ = ["EntitySpan", "TokenClassifier", "consistent", "load_pretrained"]


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
    result = [s if s.score >= unsure or majority[s.text] == s.label
              else EntitySpan(s.start, s.end, majority[s.text], s.score, s.text) for s in spans]
    taken = bytearray(len(text) + 1)  # 1 where a span already covers the character
    for span in spans:
        taken[span.start : span.end] = b"\x01" * (span.end - span.start)
    confident = {s.text: (s.score, majority[s.text]) for s in spans
                 if s.score >= min_score and len(s.text) > 1 and s.text[0].isupper()}
    for name, (score, label) in confident.items():
        for start in whole_word_occurrences(text, name):
            end = start + len(name)
            if 1 not in taken[start:end]:
                result.append(EntitySpan(start, end, label, round(score, 4), name))
                taken[start:end] = b"\x01" * len(name)
    return sorted(result, key=lambda s: s.start)


def _word_character(c: str) -> bool:  # what the regex class \w matches in a str
    return c.isalnum() or c == "_"


def whole_word_occurrences(text: str, name: str) -> list[int]:
    """Where ``name`` stands as a whole word: no word character, apostrophe or hyphen joined to it.

    A possessive stays a match ("Kashmir's"), a longer word does not ("Kashmiri", "Sa'ar" in
    "Sa'ar-led" or "O'Sa'ar"). ``str.find`` rather than a regex per name: the NER stage runs this
    for every confident name of every article, and compiling a pattern each time cost more than the
    rest of the decoding.

    >>> whole_word_occurrences("Kashmir, Kashmir's, Kashmiri, pre-Kashmir, Kashmir'd", "Kashmir")
    [0, 9]
    """
    found = []
    position = text.find(name)
    while position != -1:
        end = position + len(name)
        before = text[position - 1] if position else " "
        after, next_after = text[end : end + 1], text[end + 1 : end + 2]
        if (
            not (_word_character(before) or before in "'’-")
            and not (after and (_word_character(after) or after == "-"))
            and not (after in ("'", "’") and next_after and _word_character(next_after) and next_after not in "_s")
        ):
            found.append(position)
            position = text.find(name, end)
        else:
            position = text.find(name, position + 1)
    return found


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
    """Named-entity recognition with any Hugging Face token-classification model.

    One call runs in a pipeline of host and device work: texts are prepared (tokenized, casing
    ids, windows) a chunk at a time, each model call's probabilities come back in one transfer,
    and a text is decoded as soon as its last window is back. The host launches a model call
    before it decodes the one before, so on a GPU decoding and the next chunk's tokenization run
    while the device computes.
    """

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
        precision: str = "float32",
    ) -> None:
        if not 0 <= overlap < window - 2 - 1:
            raise ValueError(f"overlap {overlap} must be smaller than the window {window} minus 3")
        self.device = resolve_device(device)
        self.precision = resolved(precision, self.device)
        self.model = with_precision(model, self.precision, self.device)
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self.encoder = (PlainEncoder(backend) if backend is not None and backend.truncation is None
                        and backend.padding is None else None)
        self.window = min(window, int(getattr(model.config, "max_position_embeddings", window)))
        self.overlap = overlap
        self.max_tokens = max(max_tokens, self.window)
        self.name = name
        self.consistent = consistent
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        self.label2id = {v: k for k, v in self.id2label.items()}
        self.decoder = SpanDecoder(self.id2label)
        tokenizer.model_max_length = 1 << 30  # texts are windowed here; silence the length warning
        self.uses_casing = bool(getattr(model.config, "wirestream_casing", False))
        if self.uses_casing and model.config.type_vocab_size < CASING_CLASSES:
            raise ValueError("model says it uses casing ids but its type vocabulary is too small")
        self.uses_places = bool(getattr(model.config, "wirestream_places", False))
        if self.uses_places and model.config.type_vocab_size < PLACE + CASING_CLASSES:
            raise ValueError("model says it uses place flags but its type vocabulary is too small")
        self.chunk_chars = CHARS_PER_TOKEN * CHUNK_CALLS * self.max_tokens

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, **options: Any) -> TokenClassifier:
        """Load a local directory or Hugging Face model id once; ``threads`` sets torch's CPU threads."""
        model, tokenizer = load_pretrained("token", path, threads)
        if "precision" in options:
            options["precision"] = offered_precision(path, options["precision"],
                                                   resolve_device(options.get("device", "cpu")))
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
    def __call__(self, texts: Sequence[str]) -> list[list[EntitySpan]]:
        results: list[list[EntitySpan]] = [[] for _ in texts]
        in_flight: deque[_Launched] = deque()
        with torch.inference_mode():
            for chunk in self._chunks(texts):
                prepared = self._prepare(texts, chunk)
                for batch in prepared.batches:
                    in_flight.append(self._launch(prepared, batch))
                    while len(in_flight) > 1:  # the device has the next call; decode the one before
                        self._finish(in_flight.popleft(), results)
            while in_flight:
                self._finish(in_flight.popleft(), results)
        return results

    def _chunks(self, texts: Sequence[str]) -> list[range]:
        """Runs of consecutive texts of about ``CHUNK_CALLS`` model calls each."""
        chunks, first, size = [], 0, 0
        for index, text in enumerate(texts):
            size += len(text)
            if size >= self.chunk_chars:
                chunks.append(range(first, index + 1))
                first, size = index + 1, 0
        if first < len(texts):
            chunks.append(range(first, len(texts)))
        return chunks

    def _tokenize(self, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Sub-token ids and character offsets, without special tokens, truncation or padding.

        A fast tokenizer's Rust backend is called directly: transformers' conversion of its output
        into Python lists (masks, type ids, offsets) took more time than the rest of the host work;
        plain texts skip its normalizer (:mod:`wirestream.nlp.plaintext`).
        """
        if self.encoder is not None:
            encodings = self.encoder.encode(texts)
            return ([np.array(e.ids, dtype=np.int64) for e in encodings],
                    [np.fromiter(itertools.chain.from_iterable(e.offsets), dtype=np.int64, count=2 * len(e.ids))
                     .reshape(-1, 2) for e in encodings])
        encoded = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return ([np.asarray(token_ids, dtype=np.int64) for token_ids in encoded["input_ids"]],
                [np.asarray(offs, dtype=np.int64).reshape(-1, 2) for offs in encoded["offset_mapping"]])

    def _prepare(self, texts: Sequence[str], chunk: range) -> _Prepared:
        own = [texts[i] for i in chunk]
        ids, offsets = self._tokenize(own)
        runs = TextRuns.of_texts(own)  # one pass over the texts, for the casing ids and the decoding
        types = [casing_array(text, offs, run, self.uses_places) if self.uses_casing
                 else np.zeros(len(offs), dtype=np.int64) for text, offs, run in zip(own, offsets, runs, strict=True)]
        windows = [w for index, token_ids in enumerate(ids) for w in self._windows(index, len(token_ids))]
        remaining = [0] * len(own)
        for window in windows:
            remaining[window.text] += 1
        return _Prepared(
            chunk=chunk, texts=own, ids=ids, offsets=offsets, runs=runs, types=types, owned=_owned(windows, ids),
            probs=[np.empty((len(t), len(self.id2label)), dtype=np.float32) for t in ids],
            remaining=remaining, batches=self._batches(windows),
        )

    def _launch(self, prepared: _Prepared, batch: list[_Window]) -> _Launched:
        """Start the model on one batch of windows; on a GPU this returns before the device is done."""
        width = max(w.end - w.start for w in batch) + 2
        input_ids = np.full((len(batch), width), self.tokenizer.pad_token_id, dtype=np.int64)
        type_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, window in enumerate(batch):
            size = window.end - window.start
            input_ids[row, 0] = self.tokenizer.cls_token_id
            input_ids[row, 1 : size + 1] = prepared.ids[window.text][window.start : window.end]
            input_ids[row, size + 1] = self.tokenizer.sep_token_id
            type_ids[row, 1 : size + 1] = prepared.types[window.text][window.start : window.end]
            mask[row, : size + 2] = 1
        logits = self.model(
            input_ids=to_device(input_ids, self.device),
            attention_mask=to_device(mask, self.device),
            token_type_ids=to_device(type_ids, self.device),
        ).logits
        return _Launched(prepared, batch, HostCopy.of(torch.softmax(logits.float(), dim=-1)))

    def _finish(self, launched: _Launched, results: list[list[EntitySpan]]) -> None:
        """Take one call's probabilities in; decode every text whose last window this was, together."""
        probabilities = launched.probs.numpy()
        prepared = launched.prepared
        done = []
        for row, window in enumerate(launched.batch):
            positions = prepared.owned[window]
            prepared.probs[window.text][window.start + positions] = probabilities[row, positions + 1]
            prepared.remaining[window.text] -= 1
            if prepared.remaining[window.text] == 0:
                done.append(window.text)
        decoded = self.decoder.spans_of_texts(
            [prepared.texts[i] for i in done], [prepared.offsets[i] for i in done],
            [prepared.probs[i] for i in done], [prepared.runs[i] for i in done])
        for index, found in zip(done, decoded, strict=True):
            text = prepared.texts[index]
            if self.consistent:
                found = with_expansions(text, consistent(text, found))
            results[prepared.chunk[index]] = found


CHARS_PER_TOKEN = 4  # English news: about 4.5 characters per word piece
CHUNK_CALLS = 4  # texts are prepared in chunks of about this many full model calls


@dataclass(frozen=True)
class _Window:
    text: int
    start: int  # first sub-token of the window, in the text's sub-tokens
    end: int


def _owned(windows: list[_Window], ids: list[np.ndarray]) -> dict[_Window, np.ndarray]:
    """Per window, the positions in it whose prediction it gives: where it is farthest from an edge.

    Ties go to the earlier window. Only the windows' geometry decides, so this is known before
    any model call.
    """
    best = [np.full(len(t), -1, dtype=np.int64) for t in ids]
    owner = [np.full(len(t), -1, dtype=np.int64) for t in ids]
    for number, window in enumerate(windows):
        size = window.end - window.start
        positions = np.arange(size)
        centrality = np.minimum(positions, size - 1 - positions)
        farther = centrality > best[window.text][window.start : window.end]
        best[window.text][window.start : window.end][farther] = centrality[farther]
        owner[window.text][window.start : window.end][farther] = number
    return {window: np.flatnonzero(owner[window.text][window.start : window.end] == number)
            for number, window in enumerate(windows)}


@dataclass
class _Prepared:
    """One chunk's texts, ready for the model, and the per-text state its decoding fills in."""

    chunk: range  # the texts' indexes in the call
    texts: list[str]
    ids: list[np.ndarray]
    offsets: list[np.ndarray]
    runs: list[TextRuns]
    types: list[np.ndarray]
    owned: dict[_Window, np.ndarray]
    probs: list[np.ndarray]  # per text: sub-tokens x labels, filled in as windows come back
    remaining: list[int]  # per text: windows not back yet
    batches: list[list[_Window]]


@dataclass
class _Launched:
    prepared: _Prepared
    batch: list[_Window]
    probs: HostCopy
