"""Each shipped model's dev and test figures in each CPU precision, and the speed each one buys.

A precision other than float32 is offered for a model only if none of its F1 or recall figures falls
more than ``TOLERANCE`` (half a point) below float32's: dev decides, test is reported. The figures go into
each model's ``precision.json``, which its card shows (``wirestream-training eval ... --write-card``), and
into bench/results/precision_NAME.md.

    python -m bench.precision_figures [--precisions float32,int8] [--tasks ner,stance,sentiment] [--name cpu]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.environment import describe
from training.card import write_precision_section
from training.evaluate import evaluate_file
from training.evaluation_sets import classifier_figures, score
from training.settings import TrainingSettings
from training.train_classifier import ClassifierTrainingConfig, task_data
from wirestream.config import Settings, models_dir
from wirestream.nlp.classify import TextClassifier
from wirestream.nlp.inference import TokenClassifier, load_pretrained

RESULTS = Path(__file__).parent / "results"
TOLERANCE = 0.005
MODELS = {"ner": "wirestream-ner", "stance": "wirestream-stance", "sentiment": "wirestream-sentiment"}
TEST = {
    "ner": ["conll2003/test.txt"],
    "stance": ["newsmtsc/hf/rw/test.jsonl", "newsmtsc/hf/mt/test.jsonl"],
    "sentiment": ["sentiment/semeval2017_task4a/test_2017/SemEval2017-task4-test.subtask-A.english.txt"],
}
DATA = {"stance": "newsmtsc", "sentiment": "sentiment/semeval2017_task4a"}


def figures(task: str, precision: str, settings: Settings) -> dict[str, float]:
    """``dev_*`` and ``test_*`` figures of one model in one precision, and its seconds over them."""
    started = time.perf_counter()
    path = models_dir() / MODELS[task]
    data = TrainingSettings().data_dir
    if task == "ner":
        # the constructors, not .load: .load would run a precision the card does not offer in float32
        ner = TokenClassifier(*load_pretrained("token", path, settings.torch_threads), precision=precision)
        out = {"dev_micro_f1": evaluate_file(data / "conll2003" / "valid.txt", ner).micro()[2],
               "test_micro_f1": evaluate_file(data / TEST["ner"][0], ner).micro()[2]}
    else:
        classifier = TextClassifier(*load_pretrained("sequence", path, settings.torch_threads), precision=precision)
        seed = json.loads((path / "training.json").read_text())["config"]["seed"]  # the model's own held-out
        _, dev, _ = task_data(ClassifierTrainingConfig(task=task, data_dir=data / DATA[task], output_dir=None,
                                                       seed=seed))
        metric = "macro_f1" if task == "stance" else "macro_recall"
        out = {f"dev_{metric}_{name}": getattr(score(classifier, examples), metric) for name, examples in dev.items()}
        _, keys, _ = classifier_figures(task, classifier, [data / f for f in TEST[task]])
        out.update(keys)
    return {key: round(value, 4) for key, value in out.items()} | {"seconds": round(time.perf_counter() - started, 1)}


def offered(base: dict[str, float], other: dict[str, float]) -> bool:
    """Within ``TOLERANCE`` of float32 on every judged figure (dev chooses; test must agree to be offered).

    The judged figures are the F1 and recall scores (NER CoNLL, stance NewsMTSC rw and mt, sentiment
    SemEval). The stance model's opposite-pair figure counts 40 mt-test pairs, so one pair is 2.5
    points, a step no half-point tolerance can judge: it is measured and shown beside, not judged.

    >>> offered({"test_f1": 0.80, "test_opposite_pairs_both_right_mt": 0.175},
    ...         {"test_f1": 0.796, "test_opposite_pairs_both_right_mt": 0.15})
    True
    >>> offered({"test_f1": 0.80}, {"test_f1": 0.794})
    False
    """
    return all(other[key] >= base[key] - TOLERANCE for key in base if judged(key))


def judged(key: str) -> bool:
    """Whether a figure decides if a precision is offered (see :func:`offered`)."""
    return key != "seconds" and "opposite_pairs" not in key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="float32,int8")
    parser.add_argument("--tasks", default="ner,stance,sentiment")
    parser.add_argument("--name", default="cpu")
    args = parser.parse_args()
    settings = Settings()
    precisions = args.precisions.split(",")
    for task in args.tasks.split(","):
        results = {precision: figures(task, precision, settings) for precision in precisions}
        base = results["float32"]
        env = describe()
        record = {"tolerance": TOLERANCE, "device": env["device"], "cpu": env["cpu"],
                  "cpu_capability": env["cpu_capability"], "commit": env["commit"], "figures": results,
                  "offered": [p for p in precisions if offered(base, results[p])]}
        (models_dir() / MODELS[task] / "precision.json").write_text(json.dumps(record, indent=2) + "\n")
        write_precision_section(models_dir() / MODELS[task])
        print(task, record["offered"], results, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"precision_{args.name}.md").write_text(table())


def table() -> str:
    """Every shipped model's figures per precision, from their ``precision.json``."""
    lines = ["# Figures per precision", "",
             "`python -m bench.precision_figures`: dev and test figures of each shipped model in each precision, "
             f"through the inference layer; offered where no F1 or recall figure falls more than "
             f"{TOLERANCE * 100:.1f} points below float32's (the stance model's opposite-pair share, 40 pairs, "
             "is shown, not judged).", "", "| model | precision | figures | seconds | offered | measured on |",
             "|---|---|---|---|---|---|"]
    for name in MODELS.values():
        path = models_dir() / name / "precision.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        for precision, result in record["figures"].items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "seconds")
            lines.append(f"| {name} | {precision} | {shown} | {result['seconds']} | "
                         f"{'yes' if precision in record['offered'] else 'no'} | {record['cpu']} "
                         f"{record.get('cpu_capability', '')}, "
                         f"commit {record.get('commit', '?')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
