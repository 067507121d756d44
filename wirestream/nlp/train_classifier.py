"""Fine-tune the sentence-tone and entity-stance classifiers (negative / neutral / positive).

* ``stance``: NewsMTSC train; input is the target mention, then the sentence with that mention
  wrapped in ``<t>…</t>`` (two new special tokens), so two entities of one sentence get their own
  labels. Selected on the mean macro F1 of the ``rw`` and ``mt`` dev splits.
* ``sentiment``: SemEval-2017 4A tweets 2013-2016, deduplicated by id; selected on macro-averaged
  recall of a seeded 5 % held out from train.

Batches are length-bucketed (little padding), the run is seeded and deterministic.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from wirestream.nlp.classify import POLARITIES, TARGET_CLOSE, TARGET_OPEN, TextClassifier
from wirestream.nlp.corpora import Labelled, read_newsmtsc, semeval_train_and_heldout
from wirestream.nlp.evaluation_sets import score
from wirestream.nlp.inference import resolve_device
from wirestream.nlp.metrics import ClassScores
from wirestream.nlp.training import (
    TrainingResult,
    default_base_model,
    hardware,
    optimiser,
    save_model,
    seed_everything,
)

log = logging.getLogger(__name__)
Task = Literal["stance", "sentiment"]


@dataclass
class ClassifierTrainingConfig:
    task: Task
    data_dir: Path
    output_dir: Path | None
    base_model: str | None = None
    epochs: int = 4
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 160
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 13
    device: str = "auto"
    threads: int | None = None
    max_steps: int | None = None
    max_examples: int | None = None
    evaluate: bool = True


def task_data(config: ClassifierTrainingConfig) -> tuple[list[Labelled], dict[str, list[Labelled]], str]:
    """Training examples, the dev sets that choose the checkpoint, and the data's description."""
    if config.task == "stance":
        hf = Path(config.data_dir) / "hf"
        dev = {"rw": read_newsmtsc(hf / "rw" / "dev.jsonl"), "mt": read_newsmtsc(hf / "mt" / "dev.jsonl")}
        return read_newsmtsc(hf / "rw" / "train.jsonl"), dev, "NewsMTSC (../shared/data/newsmtsc/hf)"
    train, heldout = semeval_train_and_heldout(Path(config.data_dir), seed=config.seed)
    return train, {"heldout": heldout}, "SemEval-2017 Task 4A 2013-2016 (../shared/data/sentiment/semeval2017_task4a)"


def selection_metric(task: Task) -> Callable[[ClassScores], float]:
    return (lambda s: s.macro_f1) if task == "stance" else (lambda s: s.macro_recall)


def build_model(base: str, task: Task) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(POLARITIES),
        id2label=dict(enumerate(POLARITIES)), label2id={label: i for i, label in enumerate(POLARITIES)},
    )
    if task == "stance":
        tokenizer.add_special_tokens({"additional_special_tokens": [TARGET_OPEN, TARGET_CLOSE]})
        model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within pools of 50 batches by length, cut into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def train_classifier(config: ClassifierTrainingConfig, progress: Callable[[str], None] = log.info) -> TrainingResult:
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    model, tokenizer = build_model(config.base_model or default_base_model(), config.task)
    model.to(device)
    train, dev, data_name = task_data(config)
    train = train[: config.max_examples]
    firsts = [e.input[0] if isinstance(e.input, tuple) else e.input for e in train]
    seconds = [e.input[1] for e in train if isinstance(e.input, tuple)] or None
    encoded = tokenizer(firsts, seconds, truncation=True, max_length=config.max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    steps_per_epoch = (len(train) + config.batch_size - 1) // config.batch_size
    total = config.max_steps or steps_per_epoch * config.epochs
    progress(f"{config.task}: {len(train)} examples, {steps_per_epoch} steps/epoch, {total} steps on {device}")
    optimizer, scheduler = optimiser(model, config.learning_rate, config.weight_decay, total, config.warmup_ratio)
    rng = random.Random(config.seed)
    metric = selection_metric(config.task)
    result = TrainingResult(hardware=hardware(device))
    best_state = None
    started = time.monotonic()
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        for batch in _batches(lengths, config.batch_size, rng):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            types = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = torch.tensor(encoded["input_ids"][i])
                types[row, : lengths[i]] = torch.tensor(encoded["token_type_ids"][i])
                mask[row, : lengths[i]] = 1
            labels = torch.tensor([train[i].label for i in batch])
            loss = model(input_ids=ids.to(device), token_type_ids=types.to(device), attention_mask=mask.to(device),
                         labels=labels.to(device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            result.losses.append(round(float(loss.detach()), 6))
            step += 1
            if step % 50 == 0:
                progress(f"epoch {epoch} step {step}/{total} loss {sum(result.losses[-50:]) / 50:.4f} "
                         f"({time.monotonic() - started:.0f}s)")
            if config.max_steps and step >= config.max_steps:
                break
        if config.evaluate:
            model.eval()
            classifier = TextClassifier(model, tokenizer, max_length=config.max_length, device=str(device))
            figures = {name: score(classifier, examples) for name, examples in dev.items()}
            value = sum(metric(s) for s in figures.values()) / len(figures)
            entry: dict[str, Any] = {"epoch": epoch, "step": step, "selection": round(value, 4),
                                     "seconds": round(time.monotonic() - started, 1)}
            for name, scores in figures.items():
                entry[f"{name}_macro_f1"] = round(scores.macro_f1, 4)
                entry[f"{name}_macro_recall"] = round(scores.macro_recall, 4)
                entry[f"{name}_accuracy"] = round(scores.accuracy, 4)
            result.epochs.append(entry)
            progress(f"epoch {epoch}: {entry}")
            if result.best_valid_f1 is None or value > result.best_valid_f1:
                result.best_valid_f1, result.best_epoch = round(value, 4), epoch
                best_state = copy.deepcopy(model.state_dict())
        if config.max_steps and step >= config.max_steps:
            break
    result.seconds = round(time.monotonic() - started, 1)
    if config.output_dir is not None:
        if best_state is not None:
            model.load_state_dict(best_state)
        save_model(model, tokenizer, config.output_dir, asdict(config), result, data_name)
    return result
