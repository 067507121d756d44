"""The runtime package holds the runtime: nothing in ``wirestream`` imports the ``training`` package."""

from __future__ import annotations

import ast
from pathlib import Path

import wirestream

RUNTIME = Path(wirestream.__file__).parent


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_runtime_module_imports_the_training_package():
    importers = sorted(str(p.relative_to(RUNTIME)) for p in RUNTIME.rglob("*.py") if "training" in _imported(p))
    assert importers == []


def test_the_inference_layer_is_all_that_is_left_of_the_nlp_package():
    assert sorted(p.stem for p in (RUNTIME / "nlp").glob("*.py")) == [
        "__init__", "acronyms", "casing", "classify", "dateline", "decoding", "entities",
        "gazetteer",  # read at inference by a model trained with --places
        "inference",
        "plaintext",  # the tokenizers' shortcut for plain texts
        "precision", "sentences", "targets", "transfer",
    ]
