"""The NER layer's decoding as shipped up to 2b8428e: per word, in torch, one small op at a time.

Kept as the reference the vectorised layer (:mod:`wirestream.nlp.decoding`) must agree with:
same spans and labels, scores within 1e-4. It reads the classifier's model and tokenizer and
nothing else of the new code but what did not change: windows and batches, the casing classes of a
run, the word pattern, :func:`wirestream.nlp.inference.consistent` and the acronym rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from wirestream.nlp.acronyms import with_expansions
from wirestream.nlp.casing import _classify
from wirestream.nlp.decoding import WORD, EntitySpan
from wirestream.nlp.inference import TokenClassifier, consistent

LOWER = 0


def casing_ids(text: str, offsets: Sequence[tuple[int, int]]) -> list[int]:
    classes = [LOWER] * len(text)
    for match in re.finditer(r"[^\W_]+", text):
        cls = _classify(match.group())
        classes[match.start() : match.end()] = [cls] * (match.end() - match.start())
    return [classes[start] if end > start else LOWER for start, end in offsets]


def _word_pieces(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    word_at = {}
    for number, match in enumerate(WORD.finditer(text)):
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


@torch.inference_mode()
def reference_spans(ner: TokenClassifier, texts: Sequence[str]) -> list[list[EntitySpan]]:
    encoded = ner.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    ids: list[list[int]] = encoded["input_ids"]
    offsets: list[list[tuple[int, int]]] = encoded["offset_mapping"]
    types = [casing_ids(text, offs) if ner.uses_casing else [0] * len(offs)
             for text, offs in zip(texts, offsets, strict=True)]
    windows = [w for index, token_ids in enumerate(ids) for w in ner._windows(index, len(token_ids))]
    best: list[list[tuple[int, torch.Tensor | None]]] = [[(-1, None)] * len(t) for t in ids]
    for batch in ner._batches(windows):  # windows and batches are unchanged: the layer's own
        probabilities = _run(ner, batch, ids, types)
        for window, probs in zip(batch, probabilities, strict=True):
            text, start, size = window.text, window.start, window.end - window.start
            for position in range(size):
                token = start + position
                centrality = min(position, size - 1 - position)
                if centrality > best[text][token][0]:
                    best[text][token] = (centrality, probs[position + 1])
    spans = [_spans(ner, text, offs, [p for _, p in chosen]) for text, offs, chosen in zip(
        texts, offsets, best, strict=True)]
    if ner.consistent:
        spans = [with_expansions(text, consistent(text, found)) for text, found in zip(texts, spans, strict=True)]
    return spans


def _run(ner: TokenClassifier, batch, ids, types) -> list[torch.Tensor]:
    width = max(w.end - w.start for w in batch) + 2
    input_ids = torch.full((len(batch), width), ner.tokenizer.pad_token_id, dtype=torch.long)
    type_ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, window in enumerate(batch):
        text, start, end = window.text, window.start, window.end
        tokens = [ner.tokenizer.cls_token_id, *ids[text][start:end], ner.tokenizer.sep_token_id]
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        type_ids[row, 1 : len(tokens) - 1] = torch.tensor(types[text][start:end])
        mask[row, : len(tokens)] = 1
    logits = ner.model(input_ids=input_ids.to(ner.device), attention_mask=mask.to(ner.device),
                       token_type_ids=type_ids.to(ner.device)).logits
    return list(torch.softmax(logits.float(), dim=-1).cpu())


def _spans(ner: TokenClassifier, text: str, offsets, probs) -> list[EntitySpan]:
    labels: list[str] = []
    scores: list[float] = []
    for first, last in _word_pieces(text, offsets):
        mean = torch.stack([p for p in probs[first:last] if p is not None]).mean(dim=0)
        kinds = {"O": float(mean[ner.label2id["O"]])}
        for label, index in ner.label2id.items():
            if label != "O":
                kinds[label[2:]] = kinds.get(label[2:], 0.0) + float(mean[index])
        kind = max(kinds, key=kinds.__getitem__)
        if kind == "O":
            labels.extend(["O"] * (last - first))
        else:
            begin = "B" if mean[ner.label2id[f"B-{kind}"]] >= mean[ner.label2id[f"I-{kind}"]] else "I"
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
