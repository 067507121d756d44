"""``wirestream``: one command with a subcommand for every service and tool.

Each command group is one module here (``broker``, ``produce``, ``stages``, ``query``, ``operate``) with a
``register`` that adds its subcommands; this module builds the parser, runs the chosen command and turns
the failures a user can act on into one line and an exit code. Building the models is another command,
``wirestream-training`` (the ``training`` package).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from wirestream.cli import broker, operate, produce, query, stages
from wirestream.config import ENV_PREFIX

log = logging.getLogger("wirestream")

GROUPS = (broker, produce, stages, query, operate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wirestream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default=os.environ.get(f"{ENV_PREFIX}LOG_LEVEL", "INFO"))
    parser.add_argument("--log-format", choices=["text", "json"],
                        default=os.environ.get(f"{ENV_PREFIX}LOG_FORMAT", "text"), help="json: one object per line")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser by name; the compose-file test checks commands against it."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from wirestream.logs import configure

    configure(args.log_level, args.log_format)
    try:
        return int(args.func(args) or 0)
    except Exception as error:
        code = _explained(args.command, error)
        if code is None:
            raise
        return code


def _explained(command: str, error: Exception) -> int | None:
    """Print one line for a failure the user can act on and return its exit code; None for anything else."""
    from wirestream.connect import EXIT_UNAVAILABLE, BrokerUnavailable
    from wirestream.nlp import EXIT_CONFIG, ModelUnavailable
    from wirestream.service import EXIT_SETUP_FAILED, StageSetupFailed

    cause = error.__cause__ if isinstance(error, StageSetupFailed) else error
    if isinstance(cause, BrokerUnavailable):
        print(f"wirestream {command}: {cause.args[0]}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if isinstance(cause, ModelUnavailable):
        from wirestream.config import Settings

        tier = Settings().model_tier
        hint = f"; WIRESTREAM_MODEL_TIER={tier}: `wirestream-training build {tier}` builds it" if tier != "default" \
            else ""
        print(f"wirestream {command}: {cause} (see WIRESTREAM_NER_MODEL, WIRESTREAM_SENTIMENT_MODEL, "
              f"WIRESTREAM_STANCE_MODEL{hint})", file=sys.stderr)
        return EXIT_CONFIG
    if isinstance(error, StageSetupFailed):
        log.debug("the setup's traceback", exc_info=cause)
        print(f"wirestream {command}: {error}; --log-level DEBUG shows its traceback", file=sys.stderr)
        return EXIT_SETUP_FAILED
    return None
