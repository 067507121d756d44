"""Training is seeded and deterministic: the same seed gives the same loss curve."""

from __future__ import annotations

import torch

from training.train_ner import NerTrainingConfig, train_ner


def test_twenty_steps_twice_with_the_same_seed_give_the_same_losses(data_dir):
    def run() -> list[float]:
        config = NerTrainingConfig(
            data_dir=data_dir / "conll2003", output_dir=None, max_steps=20, max_documents=12, batch_size=4,
            max_length=128, evaluate=False, device="cpu", seed=7,
        )
        return train_ner(config).losses

    first, second = run(), run()
    assert len(first) == 20
    assert first == second
    assert first[-1] < first[0], "the loss should fall over 20 steps"


def test_the_order_seed_reorders_the_batches_and_is_itself_reproducible(data_dir):
    """Runs for a soup share ``seed`` (their new weights) and differ only in ``order_seed``."""
    from training.train_classifier import ClassifierTrainingConfig, train_classifier

    def run(order_seed: int) -> list[float]:
        config = ClassifierTrainingConfig(
            task="stance", data_dir=data_dir / "newsmtsc", output_dir=None, max_examples=48, max_steps=3,
            batch_size=8, max_length=96, evaluate=False, device="cpu", seed=7, order_seed=order_seed,
        )
        return train_classifier(config).losses

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other


def test_a_weight_average_is_scored_beside_the_weights_and_kept_when_dev_prefers_it(tmp_path):
    """``average_decay``: each epoch scores the trained weights and their moving average; the better stays."""
    from types import SimpleNamespace

    import torch

    from training.trainer import Trainer, TrainingConfig

    class Line(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> SimpleNamespace:
            return SimpleNamespace(loss=((self.weight * x - y) ** 2).mean())

    torch.manual_seed(0)
    model = Line()
    config = TrainingConfig(data_dir=tmp_path, output_dir=None, learning_rate=0.1, warmup_ratio=0.0,
                            weight_decay=0.0, average_decay=0.9)
    trainer = Trainer(model, config, total_steps=40, progress=lambda line: None)
    x = torch.linspace(-1, 1, 8)
    for _ in range(40):  # noisy targets around y = 2x: the weights wander, the average lags and smooths
        trainer.train_step(1, {"x": x, "y": 2 * x + 0.5 * torch.randn(8)})
    trained = model.weight.item()
    seen = []

    def score() -> tuple[float, dict]:  # a dev set that happens to prefer whatever is not the trained weight
        seen.append(model.weight.item())
        return (0.0 if model.weight.item() == trained else 1.0), {}

    trainer.select_scored(1, score)
    assert seen[0] == trained and seen[1] != trained, "the trained weights, then their average"
    assert model.weight.item() == trained, "training goes on from the trained weights"
    result = trainer.finish()
    assert model.weight.item() == seen[1] and result.best_weights == "average"
    assert [e["weights"] for e in result.epochs] == ["last", "average"]


def test_layer_decay_gives_each_layer_a_fraction_of_the_rate_above_it():
    from transformers import BertConfig, BertForTokenClassification

    from training.trainer import optimiser

    model = BertForTokenClassification(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2,
                                                  num_attention_heads=2, intermediate_size=16, num_labels=3))
    optimizer, _ = optimiser(model, 1e-4, 0.01, total_steps=10, warmup_ratio=0.0, layer_decay=0.5)
    rate = {id(p): group["initial_lr"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["classifier.weight"])] == 1e-4
    assert rate[id(named["bert.encoder.layer.1.output.dense.weight"])] == 0.5e-4
    assert rate[id(named["bert.encoder.layer.0.output.dense.weight"])] == 0.25e-4
    assert rate[id(named["bert.embeddings.word_embeddings.weight"])] == 0.125e-4
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert decay[id(named["bert.encoder.layer.0.output.LayerNorm.weight"])] == 0.0
    assert len(rate) == len(named), "every parameter in exactly one group"


def test_a_place_aware_model_built_from_the_shipped_one_starts_out_reading_text_as_it_does():
    """``--places`` on a wirestream NER model: the casing rows are kept and copied for the place flag."""
    from tests.wirestream.nlp.conftest import NER_MODEL
    from training.train_ner import build_model
    from wirestream.nlp.inference import TokenClassifier

    model, tokenizer = build_model(str(NER_MODEL), places=True)
    assert model.config.type_vocab_size == 8 and model.config.wirestream_places
    rows = model.base_model.embeddings.token_type_embeddings.weight
    assert rows.dtype == torch.float32 and torch.equal(rows[:4], rows[4:])
    text = "Militants attacked a convoy in Pulwama, police in Srinagar said; Kigali and Nairobi condemned it."
    places = TokenClassifier(model.eval(), tokenizer)
    assert places.uses_places
    shipped = TokenClassifier.load(NER_MODEL)
    assert [(s.start, s.end, s.label) for s in places([text])[0]] == [
        (s.start, s.end, s.label) for s in shipped([text])[0]]
