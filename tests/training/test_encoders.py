"""Classifier training is not tied to BERT: encoders without segment ids (MPNet, RoBERTa) train too.

A stronger encoder than the shipped one is how a larger stance teacher is trained (for example
all-mpnet-base-v2, whose tokenizer returns no ``token_type_ids``). A tiny randomly initialised MPNet
with the stance model's vocabulary stands in for it, so the test needs no downloaded weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoTokenizer, MPNetConfig, MPNetForMaskedLM

from training.train_classifier import ClassifierTrainingConfig, train_classifier
from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier, stance_input


def tiny_mpnet(folder: Path) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(  # no segment ids, as MPNet's own tokenizer
        models_dir() / "wirestream-sentiment", model_input_names=["input_ids", "attention_mask"])
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, pad_token_id=tokenizer.pad_token_id)
    MPNetForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_stance_model_trains_on_an_encoder_without_segment_ids(data_dir, tmp_path):
    base = tiny_mpnet(tmp_path / "base")
    assert "token_type_ids" not in AutoTokenizer.from_pretrained(base)("a text")
    config = ClassifierTrainingConfig(
        task="stance", data_dir=data_dir / "newsmtsc", output_dir=tmp_path / "stance", base_model=str(base),
        max_examples=8, batch_size=4, max_steps=2, evaluate=False, device="cpu",
    )
    assert len(train_classifier(config).losses) == 2
    assert json.loads((tmp_path / "stance" / "training.json").read_text())["config"]["base_model"] == str(base)
    classifier = TextClassifier.load(tmp_path / "stance")
    probs = classifier.probabilities([stance_input("Smith met Jones in Paris.", 0, 5)])
    assert probs.shape == (1, 3)
