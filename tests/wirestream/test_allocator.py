"""The stages' allocator switch: tcmalloc found, preloaded by re-executing, or left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wirestream import allocator

PROBE = "from wirestream.allocator import preload, tcmalloc_loaded; preload({choice!r}); print(tcmalloc_loaded())"


def probe(choice: str) -> subprocess.CompletedProcess:
    """A fresh interpreter that calls ``preload(choice)`` and says whether tcmalloc is then loaded."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, "-c", PROBE.format(choice=choice)], capture_output=True, text=True,
                          env=env, timeout=60)


def test_find_tcmalloc_looks_in_the_search_path(tmp_path: Path) -> None:
    assert allocator.find_tcmalloc((str(tmp_path),)) is None
    library = tmp_path / "libtcmalloc_minimal.so.4"
    library.write_bytes(b"")
    assert allocator.find_tcmalloc((str(tmp_path / "missing"), str(tmp_path))) == library


@pytest.mark.skipif(allocator.find_tcmalloc() is None, reason="tcmalloc is not installed (libtcmalloc-minimal4)")
def test_auto_re_executes_the_command_on_tcmalloc() -> None:
    result = probe("auto")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_system_keeps_glibc_malloc() -> None:
    result = probe("system")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_insisting_on_a_missing_tcmalloc_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "tcmalloc_loaded", lambda: False)
    monkeypatch.setattr(allocator, "find_tcmalloc", lambda: None)
    with pytest.raises(SystemExit, match="libtcmalloc-minimal4"):
        allocator.preload("tcmalloc")
    allocator.preload("auto")  # auto without tcmalloc: carries on with glibc's malloc
