"""Classification figures: macro F1, macro-averaged recall (SemEval's AvgRec), accuracy.

>>> scores = ClassScores.of([0, 1, 2, 2], [0, 2, 2, 2], ("neg", "neu", "pos"))
>>> round(scores.macro_f1, 3), round(scores.macro_recall, 3), scores.accuracy
(0.6, 0.667, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassScores:
    labels: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    accuracy: float

    @classmethod
    def of(cls, gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> ClassScores:
        p, r, f, s = [], [], [], []
        for k in range(len(labels)):
            tp = sum(1 for g, q in zip(gold, predicted, strict=True) if g == k and q == k)
            predicted_k = sum(1 for q in predicted if q == k)
            gold_k = sum(1 for g in gold if g == k)
            precision = tp / predicted_k if predicted_k else 0.0
            recall = tp / gold_k if gold_k else 0.0
            p.append(precision)
            r.append(recall)
            f.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
            s.append(gold_k)
        accuracy = sum(1 for g, q in zip(gold, predicted, strict=True) if g == q) / len(gold) if gold else 0.0
        return cls(tuple(labels), tuple(p), tuple(r), tuple(f), tuple(s), accuracy)

    @property
    def macro_f1(self) -> float:
        return sum(self.f1) / len(self.f1)

    @property
    def macro_recall(self) -> float:
        return sum(self.recall) / len(self.recall)

    def report(self) -> str:
        lines = [f"macro F1 {self.macro_f1:.4f}  macro recall {self.macro_recall:.4f}  accuracy {self.accuracy:.4f}"]
        for label, p, r, f, s in zip(self.labels, self.precision, self.recall, self.f1, self.support, strict=True):
            lines.append(f"{label:<9} precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  (gold {s})")
        return "\n".join(lines)
