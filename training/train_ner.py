"""Fine-tune the NER model on CoNLL-2003: seeded, deterministic, GPU when present, CPU otherwise.

Two things lift a small uncased encoder on news NER:

* a casing signal (see :mod:`wirestream.nlp.casing`) in the token type ids;
* document context: training examples are whole ``-DOCSTART-`` documents cut into windows of
  up to ``max_length`` sub-tokens at sentence boundaries, so the model learns from the
  neighbouring sentences it also sees when it reads a whole article.

Every sub-token is labelled (continuation pieces of a word get ``I-``), so predictions map to
character spans directly. The checkpoint is selected on the validation split only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from training.conll import LABELS, Document, read_conll
from training.evaluate import evaluate_documents
from training.trainer import (
    Trainer,
    TrainingConfig,
    TrainingResult,
    default_base_model,
    order_generator,
    prepare,
    save_model,
)
from wirestream.nlp.casing import CASING_CLASSES, casing_ids
from wirestream.nlp.inference import TokenClassifier

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class NerTrainingConfig(TrainingConfig):
    epochs: int = 6
    learning_rate: float = 1e-4
    batch_size: int = 8
    max_length: int = 256
    max_documents: int | None = None  # train on the first N documents (smoke tests)
    places: bool = False  # known place names as a feature (wirestream.nlp.gazetteer): type vocabulary 8


Example = tuple[list[int], list[int], list[int]]  # input ids, type ids, labels (with [CLS]/[SEP])


def encode_document(document: Document, tokenizer: Any, max_length: int, places: bool = False) -> list[Example]:
    """A document as training windows of whole sentences, every sub-token labelled."""
    label_id = {label: i for i, label in enumerate(LABELS)}
    text, sentence_spans = document.text()
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets: list[tuple[int, int]] = encoded["offset_mapping"]
    types = casing_ids(text, offsets, places=places)
    token_at: dict[int, tuple[int, str]] = {}
    for sentence, spans in zip(document.sentences, sentence_spans, strict=True):
        for (_, tag), (start, end) in zip(sentence, spans, strict=True):
            for char in range(start, end):
                token_at[char] = (start, tag)
    labels: list[int] = []
    sentence_of: list[int] = []
    sentence_starts = [spans[0][0] for spans in sentence_spans]
    current = 0
    for start, _ in offsets:
        token_start, tag = token_at.get(start, (start, "O"))
        if tag != "O" and start != token_start:
            tag = f"I-{tag[2:]}"
        labels.append(label_id[tag])
        while current + 1 < len(sentence_starts) and start >= sentence_starts[current + 1]:
            current += 1
        sentence_of.append(current)
    room = max_length - 2
    examples: list[Example] = []
    begin = 0
    while begin < len(offsets):
        end = min(begin + room, len(offsets))
        if end < len(offsets):
            # Cut at the last sentence start inside the window, if there is one past `begin`.
            cut = end
            while cut > begin and sentence_of[cut] == sentence_of[cut - 1]:
                cut -= 1
            end = cut if cut > begin else end
        ids = [tokenizer.cls_token_id, *encoded["input_ids"][begin:end], tokenizer.sep_token_id]
        examples.append((ids, [0, *types[begin:end], 0], [-100, *labels[begin:end], -100]))
        begin = end
    return examples


def _collate(batch: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _, _ in batch)
    tensors = {
        name: torch.full((len(batch), width), fill, dtype=torch.long)
        for name, fill in (("input_ids", pad_id), ("token_type_ids", 0), ("attention_mask", 0), ("labels", -100))
    }
    for row, (ids, types, labels) in enumerate(batch):
        tensors["input_ids"][row, : len(ids)] = torch.tensor(ids)
        tensors["token_type_ids"][row, : len(ids)] = torch.tensor(types)
        tensors["attention_mask"][row, : len(ids)] = 1
        tensors["labels"][row, : len(ids)] = torch.tensor(labels)
    return tensors


def build_model(base: str, places: bool = False) -> tuple[Any, Any]:
    """The base encoder with a token-classification head and a type vocabulary for casing (4) and places (8).

    ``base`` may be a wirestream NER model (continued training): its casing rows are kept, and a
    place flag's rows start as copies of them, so the model starts out reading text as before.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        local_files_only=True,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        dtype=torch.float32,  # train in float32 whatever the base was saved in (the shipped model: float16)
    )
    embeddings = model.base_model.embeddings
    old = embeddings.token_type_embeddings.weight.detach()
    casing = old[:CASING_CLASSES] if getattr(model.config, "wirestream_casing", False) else (
        old[0].expand(CASING_CLASSES, -1))
    rows = torch.cat([casing, casing]) if places else casing
    embeddings.token_type_embeddings = torch.nn.Embedding.from_pretrained(rows.clone(), freeze=False)
    model.config.type_vocab_size = len(rows)
    model.config.wirestream_casing = True
    model.config.wirestream_places = places
    return model, tokenizer


def _valid_details(docs: list[Document], classifier: TokenClassifier) -> tuple[float, dict[str, float]]:
    """Entity micro F1 on the validation documents (the selection figure), with its precision and recall."""
    precision, recall, f1 = evaluate_documents(docs, classifier).micro()
    return f1, {"valid_precision": round(precision, 4), "valid_recall": round(recall, 4), "valid_f1": round(f1, 4)}


def train_ner(config: NerTrainingConfig, progress: Callable[[str], None] = log.info) -> TrainingResult:
    device = prepare(config)
    model, tokenizer = build_model(config.base_model or default_base_model(), places=config.places)
    model.to(device)
    model_max_length = tokenizer.model_max_length

    train_docs = read_conll(config.data_dir / "train.txt")[: config.max_documents]
    valid_docs = read_conll(config.data_dir / "valid.txt") if config.evaluate else []
    examples = [e for doc in train_docs for e in encode_document(doc, tokenizer, config.max_length, config.places)]
    steps_per_epoch = (len(examples) + config.batch_size - 1) // config.batch_size
    total = config.max_steps or steps_per_epoch * config.epochs
    progress(
        f"{len(train_docs)} documents, {len(examples)} windows, {steps_per_epoch} steps/epoch, "
        f"{total} steps on {device}"
    )
    trainer = Trainer(model, config, total, progress)
    shuffler = order_generator(config)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = list(range(len(examples)))
        shuffler.shuffle(order)
        for first in range(0, len(order), config.batch_size):
            batch = [examples[i] for i in order[first : first + config.batch_size]]
            trainer.train_step(epoch, _collate(batch, tokenizer.pad_token_id))
            if trainer.done:
                break
        if config.evaluate:
            model.eval()
            classifier = TokenClassifier(model, tokenizer, window=config.max_length, device=str(device))
            trainer.select_scored(epoch, partial(_valid_details, valid_docs, classifier))
        if trainer.done:
            break
    result = trainer.finish()
    tokenizer.model_max_length = model_max_length  # the evaluations' TokenClassifier lifts it; save the base's
    if config.output_dir is not None:
        save_model(model, tokenizer, config.output_dir, asdict(config), result, "CoNLL-2003 (../shared/data/conll2003)")
        if config.base_model:
            record_continuation(config.output_dir, Path(config.base_model))
    return result


def record_continuation(output_dir: Path, base: Path) -> None:
    """A model trained on from a wirestream NER model keeps that model's training record (its card shows both)."""
    earlier = base / "training.json"
    if not earlier.exists():
        return
    path = Path(output_dir) / "training.json"
    record = json.loads(path.read_text())
    record["config"]["base_model"] = "the first stage's checkpoint (`continued_from`)"
    record["continued_from"] = json.loads(earlier.read_text())
    path.write_text(json.dumps(record, indent=2) + "\n")
