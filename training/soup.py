"""Model soups: the mean of several fine-tunes' weights, one checkpoint of the same size and speed.

Fine-tunes of one encoder that start from the same new weights (one ``--seed``) and differ only in
data order and dropout (``--order-seed``) stay in one basin of the loss, so the element-wise mean
of their weights is a model too, and often a better one than each of them (Wortsman et al., "Model
soups", ICML 2022). Unlike an ensemble it costs nothing at inference: the soup is an ordinary
float16 checkpoint that ``transformers`` loads alone. The *greedy* soup takes the ingredients
best-first by their dev figure and keeps each only where the mean's dev figure does not fall, so
dev data, never test, decides what goes in.

Run: ``wirestream-training soup stance OUTPUT MODEL_DIR [MODEL_DIR ...]``

>>> a, b = {"w": torch.tensor([0.0, 2.0])}, {"w": torch.tensor([2.0, 4.0])}
>>> mean_weights([a, b])["w"].tolist()
[1.0, 3.0]
>>> dev = {("a",): 0.70, ("b",): 0.72, ("c",): 0.60, ("b", "a"): 0.74, ("b", "a", "c"): 0.73}
>>> greedy(["a", "b", "c"], lambda kept: dev[tuple(kept)])
(['b', 'a'], 0.74, {'a': 0.7, 'b': 0.72, 'c': 0.6})
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"


def mean_weights(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean (in float32) of state dicts with the same names and shapes."""
    names = set(states[0])
    if any(set(state) != names for state in states[1:]):
        raise ValueError("the models do not have the same weights; a soup needs one architecture")
    return {name: sum(state[name].float() for state in states) / len(states) for name in states[0]}


def greedy(ingredients: Sequence[str], figure: Callable[[list[str]], float]) -> tuple[list[str], float, dict]:
    """Ingredients kept best-first while the soup's figure does not fall; the figure; each one's own."""
    alone = {name: figure([name]) for name in ingredients}
    ranked = sorted(ingredients, key=lambda name: -alone[name])
    kept, best = [ranked[0]], alone[ranked[0]]
    for name in ranked[1:]:
        value = figure([*kept, name])
        if value >= best:
            kept, best = [*kept, name], value
    return kept, best, alone


def write_soup(models: Sequence[Path], output: Path) -> Path:
    """The first model's folder, its weights replaced by the mean of all the models', in float16."""
    output = Path(output)
    if output.exists():
        shutil.rmtree(output)
    shutil.copytree(models[0], output, ignore=shutil.ignore_patterns("README.md"))
    states = [load_file(Path(model) / WEIGHTS) for model in models]
    dtypes = {name: tensor.dtype for name, tensor in states[0].items()}
    mean = {name: tensor.to(dtypes[name]).contiguous() for name, tensor in mean_weights(states).items()}
    save_file(mean, output / WEIGHTS, metadata={"format": "pt"})
    return output


def dev_figures(task: str, model_dir: Path, data_dir: Path, threads: int | None = None) -> dict[str, Any]:
    """A model folder's dev figures as its training run reports them (the selection figure first)."""
    from training.train_classifier import ClassifierTrainingConfig, dev_details, task_data
    from wirestream.nlp.classify import TextClassifier

    trained = json.loads((Path(model_dir) / "training.json").read_text())["config"]
    config = ClassifierTrainingConfig(task=task, data_dir=data_dir, output_dir=None,  # type: ignore[arg-type]
                                      seed=trained["seed"])  # sentiment's held-out part of train follows the seed
    _, dev, _ = task_data(config)
    classifier = TextClassifier.load(model_dir, threads=threads, max_length=trained["max_length"])
    return dev_details(config, classifier, dev)[1]


def greedy_soup(task: str, models: Sequence[Path], output: Path, data_dir: Path, *, threads: int | None = None,
                progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Cook the greedy soup of ``models`` into ``output`` and record how dev chose it in ``training.json``."""
    seen: dict[tuple[str, ...], dict[str, Any]] = {}

    def figure(kept: list[str]) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            details = dev_figures(task, write_soup([Path(m) for m in kept], Path(tmp) / "soup"), data_dir, threads)
        seen[tuple(kept)] = details
        progress(f"{' + '.join(kept)}: dev {details}")
        return details["selection"]

    kept, best, _ = greedy([str(m) for m in models], figure)
    write_soup([Path(m) for m in kept], output)
    record = json.loads((output / "training.json").read_text())
    record["result"]["soup"] = {
        "ingredients": [{"model": Path(m).name, **_run_of(Path(m)), "dev": seen[(str(m),)]} for m in models],
        "kept": [Path(m).name for m in kept],
        "dev": seen[tuple(kept)],
        "tried": [{"models": [Path(m).name for m in key], "dev": value["selection"]} for key, value in seen.items()],
    }
    record["result"]["best_valid_f1"] = best
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    return record["result"]["soup"]


def _run_of(model: Path) -> dict[str, Any]:
    config = json.loads((model / "training.json").read_text())["config"]
    return {"seed": config["seed"], "order_seed": config.get("order_seed")}
