"""Fine-tune the sentence-tone and entity-stance classifiers (negative / neutral / positive).

* ``stance``: NewsMTSC train; input is the target mention, then the sentence with that mention
  wrapped in ``<t>…</t>`` (two new special tokens), so two entities of one sentence get their own
  labels, read at the ``<t>`` marker. Optional contrast examples built from train (joined sentence
  pairs, repeated and role-swapped differing-target sentences; :mod:`training.contrast`) push
  it to look there, optional teachers make it a distilled student (:mod:`training.distill`;
  with ``hint_weight`` it also learns the teacher's hidden states at the marker, ``distill.Hints``;
  with ``pair_weight``, how the teacher tells apart two targets of one sentence, :func:`pair_loss`),
  and ``init_from`` continues a trained stance model instead of starting from the encoder.
  Selected on the mean macro F1 of the ``rw`` and ``mt`` dev splits; the mt dev opposite-pair rate
  is logged beside it.
* ``sentiment``: SemEval-2017 4A tweets 2013-2016, deduplicated by id; selected on macro-averaged
  recall of a seeded 5 % held out from train.

Batches are length-bucketed (little padding), the run is seeded and deterministic.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch

from training.contrast import with_contrast
from training.corpora import Labelled, read_newsmtsc, semeval_train_and_heldout
from training.distill import (
    Hints,
    ensemble_probabilities,
    hint_pairs,
    read_unlabelled_targets,
    teacher_marker_states,
)
from training.evaluation_sets import opposite_pairs_both_right, score
from training.metrics import ClassScores
from training.trainer import (
    Trainer,
    TrainingConfig,
    TrainingResult,
    default_base_model,
    order_generator,
    prepare,
    save_model,
)
from wirestream.config import cache_dir
from wirestream.nlp.classify import (
    POLARITIES,
    TARGET_CLOSE,
    TARGET_OPEN,
    TextClassifier,
    marker_positions,
    target_marker_id,
    unmark,
)

log = logging.getLogger(__name__)
Task = Literal["stance", "sentiment"]


@dataclass(kw_only=True)
class ClassifierTrainingConfig(TrainingConfig):
    task: Task
    max_length: int = 160
    max_examples: int | None = None  # train on the first N examples (smoke tests)
    contrast_pairs: int = 0  # stance: joined two-sentence texts (see training.contrast); off by default
    contrast_repeats: int = 0  # stance: extra copies of train sentences whose targets differ
    swap_repeats: int = 0  # stance: copies of those sentences with two differing targets' names swapped
    init_from: str | None = None  # stance: continue training this wirestream-stance model, not the bare encoder
    teachers: tuple[str, ...] = ()  # stance: learn from these models' mean probabilities too
    unlabelled_targets: str | None = None  # stance, with teachers: extra targets (training.distill)
    distill_weight: float = 0.5  # the teachers' share of a labelled example's training target
    hint_weight: float = 0.0  # stance, one teacher: also match its states at the marker (distill.Hints); 0: off
    pair_weight: float = 0.0  # stance, with teachers: also match how they tell apart two targets of one sentence
    teacher_cache: str | None = field(  # keeps the teachers' probabilities and states between runs; None: never
        default_factory=lambda: str(cache_dir() / "teacher-probabilities"))

    @property
    def teacher_cache_dir(self) -> Path | None:
        return Path(self.teacher_cache) if self.teacher_cache else None


def task_data(config: ClassifierTrainingConfig) -> tuple[list[Labelled], dict[str, list[Labelled]], str]:
    """Training examples, the dev sets that choose the checkpoint, and the data's description."""
    if config.task == "stance":
        hf = Path(config.data_dir) / "hf"
        dev = {"rw": read_newsmtsc(hf / "rw" / "dev.jsonl"), "mt": read_newsmtsc(hf / "mt" / "dev.jsonl")}
        train = read_newsmtsc(hf / "rw" / "train.jsonl")[: config.max_examples]
        train = with_contrast(train, pairs=config.contrast_pairs, repeats=config.contrast_repeats,
                              swaps=config.swap_repeats, seed=config.seed)
        return train, dev, "NewsMTSC (../shared/data/newsmtsc/hf)"
    train, heldout = semeval_train_and_heldout(Path(config.data_dir), seed=config.seed)
    name = "SemEval-2017 Task 4A 2013-2016 (../shared/data/sentiment/semeval2017_task4a)"
    return train[: config.max_examples], {"heldout": heldout}, name


def selection_metric(task: Task) -> Callable[[ClassScores], float]:
    return (lambda s: s.macro_f1) if task == "stance" else (lambda s: s.macro_recall)


def build_model(base: str, task: Task) -> tuple[Any, Any]:
    """Sentiment: a sequence classifier on [CLS]. Stance: read at the target's ``<t>`` marker.

    A [CLS] classifier learns the sentence's overall tone and gives every target in it the same
    label; classifying the marker token's representation (entity-marker pooling) makes the label
    the target's own. That model is a standard ``BertForTokenClassification`` whose one labelled
    position is the marker (``config.wirestream_target_marker``).
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    labels = {"num_labels": len(POLARITIES), "id2label": dict(enumerate(POLARITIES)),
              "label2id": {label: i for i, label in enumerate(POLARITIES)}}
    labels["dtype"] = torch.float32  # train in float32 whatever the base was saved in
    if task == "sentiment":
        return AutoModelForSequenceClassification.from_pretrained(base, local_files_only=True, **labels), tokenizer
    model = AutoModelForTokenClassification.from_pretrained(base, local_files_only=True, **labels)
    tokenizer.add_special_tokens({"additional_special_tokens": [TARGET_OPEN, TARGET_CLOSE]})
    model.resize_token_embeddings(len(tokenizer))
    model.config.wirestream_target_marker = TARGET_OPEN
    return model, tokenizer


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within pools of 50 batches by length, cut into batches, shuffle the batches."""
    return _packed([[i] for i in range(len(lengths))], lengths, batch_size, rng)


def sentence_batches(lengths: list[int], sentences: list[str], batch_size: int,
                     rng: random.Random) -> list[list[int]]:
    """Like :func:`_batches`, but the targets of one sentence share a batch, so they can be compared."""
    groups: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        groups.setdefault(sentence, []).append(i)
    units = [g[k : k + batch_size] for g in groups.values() for k in range(0, len(g), batch_size)]
    return _packed(units, lengths, batch_size, rng)


def _packed(units: list[list[int]], lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle the units (examples that must share a batch), sort pools of about 50 batches by the
    units' longest example, pack them into batches of at most ``batch_size``, shuffle the batches."""
    rng.shuffle(units)
    batches: list[list[int]] = []
    pool: list[list[int]] = []
    for n, unit in enumerate(units):
        pool.append(unit)
        if sum(map(len, pool)) < batch_size * 50 and n < len(units) - 1:
            continue
        current: list[int] = []
        for member in sorted(pool, key=lambda u: max(lengths[i] for i in u)):
            if len(current) + len(member) > batch_size:
                batches.append(current)
                current = []
            current += member
        batches.append(current)
        pool = []
    rng.shuffle(batches)
    return batches


def soft_targets(config: ClassifierTrainingConfig, train: list[Labelled], device: str) -> tuple[
        list[Labelled], torch.Tensor | None, torch.Tensor | None]:
    """With teachers: train plus the unlabelled targets, and each example's probability target.

    A labelled example's target mixes its gold label with the teachers' mean probabilities
    (``distill_weight``); an unlabelled one (label -1) learns the teachers' probabilities alone.
    """
    if not config.teachers:
        return train, None, None
    extra = read_unlabelled_targets(config.unlabelled_targets) if config.unlabelled_targets else []
    examples = train + [Labelled(item, -1) for item in extra]
    teacher = ensemble_probabilities(config.teachers, [e.input for e in examples], device,
                                     cache_dir=config.teacher_cache_dir)
    gold = torch.nn.functional.one_hot(torch.tensor([e.label for e in train]), len(POLARITIES)).float()
    labelled = (1 - config.distill_weight) * gold + config.distill_weight * teacher[: len(train)]
    return examples, torch.cat([labelled, teacher[len(train) :]]), teacher


def sentence_of(example: Labelled) -> str:
    """The sentence a stance example is about, without its target's markers: what its targets share."""
    return unmark(example.input[1])[0]


def pair_loss(teacher: torch.Tensor, sentences: list[str], batch: list[int], positions: torch.Tensor,
              weight: float) -> Callable[[Any], torch.Tensor]:
    """Squared error between the student's and the teacher's log-odds of two targets of one sentence.

    The student's failure is giving every target of a sentence the sentence's tone. Matching each
    target's probabilities only weakly asks for the *difference* between two of them; this asks
    for it directly: for every pair of targets of one sentence in the batch, the student's
    per-class log-probability differences, centred, should be the teacher's.
    """
    pairs = [(a, b) for a in range(len(batch)) for b in range(a + 1, len(batch))
             if sentences[batch[a]] == sentences[batch[b]]]

    def loss(outputs: Any) -> torch.Tensor:
        if not pairs:
            return torch.zeros((), device=outputs.logits.device)
        logits = outputs.logits[torch.arange(len(batch)), positions.to(outputs.logits.device)]
        mine = torch.log_softmax(logits.float(), dim=-1)
        theirs = teacher[batch].to(mine.device).clamp_min(1e-6).log()
        first, second = torch.tensor(pairs, device=mine.device).T
        gap = (mine[first] - mine[second]) - (theirs[first] - theirs[second])
        return weight * (gap - gap.mean(dim=-1, keepdim=True)).pow(2).sum(dim=-1).mean()

    return loss


def hints(config: ClassifierTrainingConfig, model: Any, examples: list[Labelled], device: str) -> Hints | None:
    """With ``hint_weight``: the student wrapped to match its one teacher's marker states on ``examples``."""
    if not config.hint_weight:
        return None
    if len(config.teachers) != 1:
        raise ValueError(f"hints need exactly one teacher, got {len(config.teachers)}")
    from transformers import AutoConfig

    teacher = config.teachers[0]
    pairs = hint_pairs(model.config.num_hidden_layers,
                       AutoConfig.from_pretrained(teacher, local_files_only=True).num_hidden_layers)
    states = teacher_marker_states(teacher, [e.input for e in examples], [t for _, t in pairs], device,
                                   max_length=config.max_length,
                                   cache_dir=config.teacher_cache_dir)
    return Hints(model, pairs, states, config.hint_weight).to(device)


def soft_loss(targets: torch.Tensor, positions: torch.Tensor,
              *extras: Callable[[Any], torch.Tensor]) -> Callable[[Any], torch.Tensor]:
    """Cross-entropy against probability targets, read at each row's marker position, plus each ``extra(outputs)``."""

    def loss(outputs: Any) -> torch.Tensor:
        logits = outputs.logits[torch.arange(len(targets)), positions.to(outputs.logits.device)]
        value = -(targets.to(logits.device) * torch.log_softmax(logits.float(), dim=-1)).sum(dim=-1).mean()
        return value + sum(extra(outputs) for extra in extras)

    return loss


def dev_details(config: ClassifierTrainingConfig, classifier: TextClassifier,
                dev: dict[str, list[Labelled]]) -> tuple[float, dict[str, Any]]:
    """The selection figure (mean over the dev sets), and it with each dev set's figures, rounded for the record."""
    figures = {name: score(classifier, examples) for name, examples in dev.items()}
    metric = selection_metric(config.task)
    value = sum(metric(s) for s in figures.values()) / len(figures)
    details: dict[str, Any] = {"selection": round(value, 4)}
    for name, scores in figures.items():
        details[f"{name}_macro_f1"] = round(scores.macro_f1, 4)
        details[f"{name}_macro_recall"] = round(scores.macro_recall, 4)
        details[f"{name}_accuracy"] = round(scores.accuracy, 4)
    mt_dev = Path(config.data_dir) / "hf" / "mt" / "dev.jsonl"
    if config.task == "stance" and mt_dev.exists():  # reported, not selected on
        details["mt_opposite_pairs"] = round(opposite_pairs_both_right(classifier, mt_dev)[0], 4)
    return value, details


def train_classifier(config: ClassifierTrainingConfig, progress: Callable[[str], None] = log.info) -> TrainingResult:
    device = prepare(config)
    model, tokenizer = build_model(config.init_from or config.base_model or default_base_model(), config.task)
    model.to(device)
    train, dev, data_name = task_data(config)
    train, targets, teacher = soft_targets(config, train, str(device))
    hinted = hints(config, model, train, str(device))
    firsts = [e.input[0] if isinstance(e.input, tuple) else e.input for e in train]
    seconds = [e.input[1] for e in train if isinstance(e.input, tuple)] or None
    encoded = tokenizer(firsts, seconds, truncation=True, max_length=config.max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    segments = "token_type_ids" in encoded
    rng = order_generator(config)
    sentences = [sentence_of(e) for e in train] if config.pair_weight and teacher is not None else None
    plan = [_batches(lengths, config.batch_size, rng) if sentences is None
            else sentence_batches(lengths, sentences, config.batch_size, rng) for _ in range(config.epochs)]
    total = config.max_steps or sum(map(len, plan))
    progress(f"{config.task}: {len(train)} examples, {len(plan[0])} steps/epoch, {total} steps on {device}")
    trainer = Trainer(hinted or model, config, total, progress)
    marker = target_marker_id(model, tokenizer)
    for epoch, batches in enumerate(plan, start=1):
        model.train()
        for batch in batches:
            width = max(lengths[i] for i in batch)
            inputs = {
                "input_ids": torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long),
                "attention_mask": torch.zeros((len(batch), width), dtype=torch.long),
            }
            if segments:  # BERT-style encoders; others (MPNet, RoBERTa) have no segment ids
                inputs["token_type_ids"] = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                inputs["input_ids"][row, : lengths[i]] = torch.tensor(encoded["input_ids"][i])
                if segments:
                    inputs["token_type_ids"][row, : lengths[i]] = torch.tensor(encoded["token_type_ids"][i])
                inputs["attention_mask"][row, : lengths[i]] = 1
            gold = torch.tensor([train[i].label for i in batch])
            positions = None if marker is None else marker_positions(inputs["input_ids"], marker)
            if positions is None:
                inputs["labels"] = gold
                trainer.train_step(epoch, inputs)
            elif targets is not None:  # distillation: probability targets at the marker
                extras = [] if hinted is None else [partial(hinted.loss, batch=batch, positions=positions)]
                if sentences is not None:
                    extras.append(pair_loss(teacher, sentences, batch, positions, config.pair_weight))
                trainer.train_step(epoch, inputs, soft_loss(targets[batch], positions, *extras))
            else:  # one labelled position per row: the target's marker
                inputs["labels"] = torch.full((len(batch), width), -100, dtype=torch.long)
                inputs["labels"][torch.arange(len(batch)), positions] = gold
                trainer.train_step(epoch, inputs)
            if trainer.done:
                break
        if config.evaluate:
            model.eval()
            classifier = TextClassifier(model, tokenizer, max_length=config.max_length, device=str(device))
            trainer.select_scored(epoch, partial(dev_details, config, classifier, dev))
        if trainer.done:
            break
    result = trainer.finish()
    if config.output_dir is not None:
        recorded = {k: v for k, v in asdict(config).items() if k != "teacher_cache"}  # a machine's path
        save_model(model, tokenizer, config.output_dir, recorded, result, data_name)
    return result
