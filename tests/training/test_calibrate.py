"""Per-class logit offsets: fitted on dev, written into the checkpoint's bias, never stacked."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from training.calibrate import Calibration, fit_offsets, write_offsets
from training.corpora import Labelled
from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier, stance_input

STANCE = models_dir() / "wirestream-stance"
SENTENCES = [
    ("Analysts praised Acme for its strong results.", "Acme"),
    ("Police said Bolt was arrested after the riot.", "Bolt"),
    ("Cato will visit Paris next week.", "Cato"),
]


def _inputs() -> list[tuple[str, str]]:
    return [stance_input(text, text.index(name), text.index(name) + len(name)) for text, name in SENTENCES]


def test_offsets_written_into_the_model_shift_its_log_probabilities_by_exactly_that_much(tmp_path):
    model = tmp_path / "stance"
    shutil.copytree(STANCE, model)
    before = TextClassifier.load(model).probabilities(_inputs()).log()
    calibration = Calibration({"negative": -0.5, "neutral": 0.0, "positive": 0.75}, 0.7, 0.71, {"rw": 0.71})
    write_offsets(model, calibration)

    after = TextClassifier.load(model).probabilities(_inputs()).log()
    shift = (after - before) - (after - before)[:, 1:2]  # log-softmax moves by a per-row constant
    assert torch.allclose(shift, torch.tensor([[-0.5, 0.0, 0.75]] * len(SENTENCES)), atol=0.01)
    assert json.loads((model / "training.json").read_text())["result"]["calibration"]["offsets"]["positive"] == 0.75
    with pytest.raises(ValueError, match="already calibrated"):
        write_offsets(model, calibration)


def test_fitted_offsets_never_lower_the_dev_figure_and_report_it_before_and_after():
    classifier = TextClassifier.load(STANCE)
    dev = {"dev": [Labelled(item, label) for item, label in zip(_inputs(), (2, 0, 1), strict=True)]}
    calibration = fit_offsets(classifier, dev, lambda scores: scores.accuracy)
    assert calibration.dev_after >= calibration.dev_before
    assert calibration.splits_after == {"dev": calibration.dev_after}
    assert calibration.offsets["neutral"] == 0.0


def test_calibrating_the_shipped_stance_model_on_dev_starts_from_its_recorded_figure(data_dir):
    """Fitting offsets on NewsMTSC dev scores the model as training selected it, and never lowers that.

    (The card's calibration experiment was run on the previous model; its offsets were not shipped.)
    """
    from training.train_classifier import ClassifierTrainingConfig, selection_metric, task_data

    _, dev, _ = task_data(ClassifierTrainingConfig(task="stance", data_dir=data_dir / "newsmtsc", output_dir=None))
    calibration = fit_offsets(TextClassifier.load(STANCE), dev, selection_metric("stance"))
    recorded = json.loads((STANCE / "training.json").read_text())["result"]["best_valid_f1"]
    assert calibration.dev_before == pytest.approx(recorded, abs=0.005)
    assert calibration.dev_after >= calibration.dev_before
    assert calibration.offsets["neutral"] == 0.0
