"""Model soups: averaged weights load as an ordinary checkpoint, and dev decides what goes in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.soup import greedy_soup, write_soup
from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier, stance_input

STANCE = models_dir() / "wirestream-stance"
DEV = [  # (sentence, target, polarity) the shipped model gets right
    ("Analysts praised Acme for its strong results.", "Acme", 1),
    ("Police said Bolt was arrested after the riot.", "Bolt", -1),
    ("Cato will visit Paris next week.", "Cato", 0),
    ("Voters blamed Dole for the crisis and thanked Eve for the rescue.", "Dole", -1),
    ("Voters blamed Dole for the crisis and thanked Eve for the rescue.", "Eve", 1),
]


def _copy_with(tmp: Path, name: str, change) -> Path:
    """A copy of the shipped stance model with its output layer changed by ``change``."""
    model = tmp / name
    shutil.copytree(STANCE, model)
    weights = load_file(model / "model.safetensors")
    for key in ("classifier.weight", "classifier.bias"):
        weights[key] = change(weights[key].float()).to(weights[key].dtype)
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    return model


def _inputs() -> list[tuple[str, str]]:
    return [stance_input(text, text.index(name), text.index(name) + len(name)) for text, name, _ in DEV]


def test_a_soup_is_the_mean_of_its_ingredients_weights_and_loads_as_an_ordinary_checkpoint(tmp_path):
    shifted = _copy_with(tmp_path, "shifted", lambda w: w + 0.5)
    soup = write_soup([STANCE, shifted], tmp_path / "soup")

    original, mixed = load_file(STANCE / "model.safetensors"), load_file(soup / "model.safetensors")
    assert {t.dtype for t in mixed.values()} == {torch.float16}
    assert torch.allclose(mixed["classifier.bias"].float(), original["classifier.bias"].float() + 0.25, atol=1e-2)
    assert torch.equal(mixed["bert.embeddings.word_embeddings.weight"],
                       original["bert.embeddings.word_embeddings.weight"])
    # Every class logit moved by the same 0.25 + 0.25 * sum(features): the decisions do not change.
    before = [p.label for p in TextClassifier.load(STANCE)(_inputs())]
    assert [p.label for p in TextClassifier.load(soup)(_inputs())] == before


def test_the_greedy_soup_leaves_out_an_ingredient_that_lowers_the_dev_figure(tmp_path):
    data = tmp_path / "newsmtsc"
    rows = [{"sentence": text, "from": text.index(name), "to": text.index(name) + len(name), "mention": name,
             "polarity": polarity} for text, name, polarity in DEV]
    for split in ("rw/train", "rw/dev", "mt/dev"):
        path = data / "hf" / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    flipped = _copy_with(tmp_path, "flipped", lambda w: -w)  # every decision turned to its least likely class

    soup = greedy_soup("stance", [flipped, STANCE], tmp_path / "soup", data, progress=lambda _: None)

    assert soup["kept"] == [STANCE.name]
    assert soup["dev"]["selection"] == 1.0 and soup["dev"]["mt_opposite_pairs"] == 1.0
    assert [t["models"] for t in soup["tried"]] == [["flipped"], [STANCE.name], [STANCE.name, "flipped"]]
    assert torch.equal(load_file(tmp_path / "soup" / "model.safetensors")["classifier.weight"],
                       load_file(STANCE / "model.safetensors")["classifier.weight"])
    recorded = json.loads((tmp_path / "soup" / "training.json").read_text())["result"]
    assert recorded["best_valid_f1"] == 1.0 and recorded["soup"]["kept"] == [STANCE.name]


def test_a_soups_card_gives_each_ingredients_training_command_and_what_dev_kept():
    from training.card import soup_section

    config = {"epochs": 2, "learning_rate": 6e-05, "batch_size": 16, "max_length": 160, "seed": 13,
              "order_seed": None}
    soup = {
        "ingredients": [{"model": "s13", "seed": 13, "order_seed": None, "dev": {"selection": 0.79}},
                        {"model": "o14", "seed": 13, "order_seed": 14, "dev": {"selection": 0.78}}],
        "kept": ["s13", "o14"], "dev": {"selection": 0.80},
        "tried": [{"models": ["s13"], "dev": 0.79}, {"models": ["o14"], "dev": 0.78},
                  {"models": ["s13", "o14"], "dev": 0.80}],
    }
    section = soup_section("stance", config, soup)
    assert "--seed 13 --output s13`" in section
    assert "--seed 13 --order-seed 14 --output o14`" in section
    assert "| o14 | 14 | 0.7800 | - | yes |" in section
    assert "s13 + o14: 0.8000" in section
