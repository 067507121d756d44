"""Training is seeded and deterministic: the same seed gives the same loss curve."""

from __future__ import annotations

from wirestream.nlp.train_ner import NerTrainingConfig, train_ner


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
    from wirestream.nlp.train_classifier import ClassifierTrainingConfig, train_classifier

    def run(order_seed: int) -> list[float]:
        config = ClassifierTrainingConfig(
            task="stance", data_dir=data_dir / "newsmtsc", output_dir=None, max_examples=48, max_steps=3,
            batch_size=8, max_length=96, evaluate=False, device="cpu", seed=7, order_seed=order_seed,
        )
        return train_classifier(config).losses

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other
