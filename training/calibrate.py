"""Per-class logit offsets fitted on dev, written into the classifier's bias.

A classifier learns train's label mix (NewsMTSC train is 27 % positive, its test sets 15 and
24 %), so it can sit off the best decision boundary for other data. Adding a constant to each
class's logit moves the boundary without changing what the model reads. The offsets are fitted on
the same dev sets and selection figure that chose the checkpoint (a grid with step 0.1, the middle
class fixed at 0) and added to the output layer's bias, so the checkpoint still loads in
``transformers`` alone and every reader of it gets the calibrated decisions.

The shipped models carry no offsets: on the stance model, dev's 785 targets chose offsets that
then lowered every test figure (see its card). Fit them on dev data from your own feed.

>>> import torch
>>> log_probs = torch.tensor([[0.0, -0.2], [0.0, -0.1], [-0.3, 0.0]])
>>> def accuracy(shift: torch.Tensor) -> float:
...     return float(((log_probs + shift).argmax(1) == torch.tensor([1, 1, 1])).float().mean())
>>> grid_offsets(accuracy, classes=2, fixed=0, low=-0.5, high=0.5)
((0.0, 0.3), 1.0)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.corpora import Labelled
from training.metrics import ClassScores
from wirestream.nlp.classify import TextClassifier


@dataclass(frozen=True)
class Calibration:
    offsets: dict[str, float]  # added to each class's logit
    dev_before: float  # the selection figure without offsets
    dev_after: float
    splits_after: dict[str, float]  # each dev set's figure with the offsets


def grid_offsets(
    figure: Callable[[torch.Tensor], float], *, classes: int, fixed: int, low: float = -1.0, high: float = 1.0,
    step: float = 0.1,
) -> tuple[tuple[float, ...], float]:
    """The offsets (class ``fixed`` at 0) that maximise ``figure``; ties go to the smallest shift."""
    values = [round(low + i * step, 4) for i in range(round((high - low) / step) + 1)]
    best: tuple[float, float, tuple[float, ...]] | None = None
    for free in itertools.product(values, repeat=classes - 1):
        offsets = (*free[:fixed], 0.0, *free[fixed:])
        value = figure(torch.tensor(offsets))
        key = (value, -sum(abs(o) for o in offsets))
        if best is None or key > best[:2]:
            best = (*key, offsets)
    assert best is not None
    return best[2], best[0]


def fit_offsets(
    classifier: TextClassifier, dev: Mapping[str, Sequence[Labelled]], metric: Callable[[ClassScores], float],
) -> Calibration:
    """Offsets maximising the mean of ``metric`` over the dev sets (their selection figure)."""
    labels = classifier.labels
    log_probs = {name: classifier.probabilities([e.input for e in rows]).clamp_min(1e-12).log()
                 for name, rows in dev.items()}
    gold = {name: [e.label for e in rows] for name, rows in dev.items()}

    def per_split(shift: torch.Tensor) -> dict[str, float]:
        return {name: metric(ClassScores.of(gold[name], (lp + shift).argmax(1).tolist(), labels))
                for name, lp in log_probs.items()}

    def figure(shift: torch.Tensor) -> float:
        values = per_split(shift)
        return sum(values.values()) / len(values)

    offsets, after = grid_offsets(figure, classes=len(labels), fixed=len(labels) // 2)
    return Calibration(
        offsets=dict(zip(labels, offsets, strict=True)),
        dev_before=round(figure(torch.zeros(len(labels))), 4),
        dev_after=round(after, 4),
        splits_after={name: round(v, 4) for name, v in per_split(torch.tensor(offsets)).items()},
    )


def output_bias_name(tensors: Mapping[str, torch.Tensor], classes: int) -> str:
    """The output layer's bias: the one ``classifier.bias`` with one entry per class."""
    names = [n for n, t in tensors.items() if n.endswith("classifier.bias") and t.shape == (classes,)]
    if len(names) != 1:
        raise ValueError(f"expected one classifier bias of size {classes}, found {names}")
    return names[0]


def write_offsets(model_dir: Path, calibration: Calibration) -> None:
    """Add the offsets to the checkpoint's output bias and record them in ``training.json``.

    Refuses a model that already carries offsets, so running it twice cannot stack them.
    """
    model_dir = Path(model_dir)
    record = json.loads((model_dir / "training.json").read_text())
    if "calibration" in record["result"]:
        raise ValueError(f"{model_dir} is already calibrated: {record['result']['calibration']['offsets']}")
    labels = [json.loads((model_dir / "config.json").read_text())["id2label"][str(i)]
              for i in range(len(calibration.offsets))]
    tensors = load_file(model_dir / "model.safetensors")
    name = output_bias_name(tensors, len(labels))
    shift = torch.tensor([calibration.offsets[label] for label in labels])
    tensors[name] = (tensors[name].float() + shift).to(tensors[name].dtype)
    save_file(tensors, model_dir / "model.safetensors", metadata={"format": "pt"})
    record["result"]["calibration"] = asdict(calibration)
    (model_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
