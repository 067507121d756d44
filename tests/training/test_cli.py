"""``wirestream-training``: one command for building and evaluating the models."""

from __future__ import annotations

import pytest

from training.cli import build_parser, main


def test_every_training_step_is_a_subcommand():
    action = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(action.choices) == [
        "build", "calibrate", "distill", "eval", "prune", "soup", "sweep", "teacher-encoder", "train",
    ]


def test_a_research_step_gets_its_own_arguments_untouched(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["prune", "--help"])
    assert exited.value.code == 0
    assert "usage: wirestream-training prune" in capsys.readouterr().out
    assert main(["teacher-encoder"]) == 2  # its own usage check: one DEST
    assert "usage: wirestream-training teacher-encoder DEST" in capsys.readouterr().err


def test_missing_data_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WIRESTREAM_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["calibrate", "stance", str(tmp_path / "model"), "--dry-run"]) == 2
    assert "wirestream-training calibrate:" in capsys.readouterr().err
