"""Model cards: the figures a card states are the ones it was given, and its longer story comes along."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from training.card import card_figure, card_notes, write_classifier_card, write_precision_section
from training.metrics import ClassScores
from wirestream.config import models_dir

STANCE = models_dir() / "wirestream-stance"


def _model_dir(tmp_path: Path) -> Path:
    """The shipped stance model's record and config beside a stand-in weights file: all a card reads."""
    model = tmp_path / "stance"
    model.mkdir()
    for name in ("config.json", "training.json"):
        shutil.copy(STANCE / name, model / name)
    (model / "model.safetensors").write_bytes(b"\0" * 1_000_000)
    return model


def test_a_stance_card_states_its_figures_once_in_the_front_matter_and_tells_how_it_was_trained(tmp_path):
    labels = ("negative", "neutral", "positive")
    scores = ClassScores.of([0, 1, 2, 2], [0, 1, 2, 1], labels)
    keys = {"test_macro_f1_rw": 0.7, "test_macro_f1_mt": 0.6, "test_opposite_pairs_both_right_mt": 0.25}
    card = write_classifier_card(_model_dir(tmp_path), "stance", {"rw": scores, "mt": scores}, keys, meets=False)
    text = card.read_text()
    assert card_figure(card.parent, "test_macro_f1_mt") == 0.6
    assert text.count("test_macro_f1_mt: 0.6000") == 1
    assert "falls short of it" in text and "1.0 MB" in text
    notes = card_notes("cards/stance.md")
    assert notes.startswith("## How it was trained") and "## What else was tried" in notes
    assert notes in text
    assert text.index("## Test figures") < text.index("## How it was trained") < text.index("## Data and terms")


def test_a_card_shows_each_precisions_figures_once_and_which_are_offered(tmp_path):
    model = _model_dir(tmp_path)
    scores = ClassScores.of([0, 1, 2], [0, 1, 2], ("negative", "neutral", "positive"))
    write_classifier_card(model, "stance", {"rw": scores}, {"test_macro_f1_rw": 1.0}, meets=True)
    (model / "precision.json").write_text(json.dumps({
        "tolerance": 0.005, "device": "cpu", "cpu": "a test CPU", "offered": ["float32"],
        "figures": {"float32": {"test_macro_f1_rw": 0.8, "seconds": 10.0},
                    "int8": {"test_macro_f1_rw": 0.79, "seconds": 6.0}},
    }))
    write_precision_section(model)
    once = (model / "README.md").read_text()
    write_precision_section(model)  # refreshed in place, not added twice, no blank line gained
    text = (model / "README.md").read_text()
    assert text == once
    assert text.count("## Precisions") == 1
    assert "| int8 | 0.7900 | 6.0 | no |" in text and "| float32 | 0.8000 | 10.0 | yes |" in text
    assert text.index("## Precisions") < text.index("## Data and terms")


def test_a_ner_model_trained_on_from_another_shows_both_stages_first_stage_first():
    from training.card import ner_training_section

    first = json.loads((models_dir() / "wirestream-ner" / "training.json").read_text())
    second = json.loads(json.dumps(first))
    second["config"].update(epochs=2, learning_rate=3e-5, base_model="the first stage's checkpoint")
    second["result"]["epochs"] = second["result"]["epochs"][:2]
    assert "Second stage" not in ner_training_section(first)
    text = ner_training_section(second | {"continued_from": first})
    assert text.index("**First stage**") < text.index("| 7 | ") < text.index("**Second stage**")
    assert text.index("**Second stage**") < text.index("| learning rate | 3e-05")
