"""The classifiers' test figures, named as the model cards and CI tests name them."""

from __future__ import annotations

from pathlib import Path

from wirestream.nlp.classify import POLARITIES, TextClassifier
from wirestream.nlp.corpora import Labelled, read_newsmtsc, read_semeval
from wirestream.nlp.metrics import ClassScores

TARGETS = {"stance": {"rw": 0.80, "mt": 0.78}, "sentiment": {"test": 0.66}}


def score(classifier: TextClassifier, examples: list[Labelled]) -> ClassScores:
    predictions = classifier([e.input for e in examples])
    return ClassScores.of([e.label for e in examples], [POLARITIES.index(p.label) for p in predictions], POLARITIES)


def split_name(path: Path) -> str:
    """``.../hf/rw/test.jsonl`` -> ``rw``; anything else -> ``test``."""
    return path.parent.name if path.parent.name in {"rw", "mt"} else "test"


def classifier_figures(
    task: str, classifier: TextClassifier, files: list[Path]
) -> tuple[dict[str, ClassScores], dict[str, float], bool]:
    """Scores per test file, the card's machine-read figures, and whether the targets are met."""
    figures: dict[str, ClassScores] = {}
    keys: dict[str, float] = {}
    meets = True
    for path in files:
        name = split_name(path)
        if task == "stance":
            scores = score(classifier, read_newsmtsc(path))
            keys[f"test_macro_f1_{name}"] = scores.macro_f1
            meets &= scores.macro_f1 >= TARGETS["stance"].get(name, 0.0)
        else:
            scores = score(classifier, read_semeval([path]))
            keys["test_macro_recall"] = scores.macro_recall
            meets &= scores.macro_recall >= TARGETS["sentiment"]["test"]
        figures[name] = scores
    return figures, keys, meets
