"""Run the model stages on tcmalloc instead of glibc's malloc.

Why: torch on CPU allocates and frees its large activation buffers on every model call. glibc
hands big blocks back to the kernel and takes fresh zeroed pages on the next call: 250,000 to
700,000 page faults per 16-article batch on the benchmark machine, a sixth of the batch's time,
and a source of run-to-run noise. tcmalloc keeps the memory: 236,000 faults for a whole
96-article sentiment run instead of 3.5 million, and the run takes about 15 % less time.

An allocator has to be in place before the process starts, so :func:`preload` re-executes the
current command once with ``LD_PRELOAD`` set. ``allocator`` (``WIRESTREAM_ALLOCATOR``) chooses:
``auto`` uses tcmalloc where it is installed (Debian: ``libtcmalloc-minimal4``), ``tcmalloc``
insists on it, ``system`` keeps glibc's.

>>> preload_env({"LD_PRELOAD": "libother.so"}, Path("/lib/libtcmalloc_minimal.so.4"))["LD_PRELOAD"]
'/lib/libtcmalloc_minimal.so.4:libother.so'
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

LIBRARIES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
SEARCH_PATH = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")
_REEXECUTED = "WIRESTREAM_ALLOCATOR_REEXECUTED"  # set in the child: never re-execute twice


def find_tcmalloc(search_path: tuple[str, ...] = SEARCH_PATH) -> Path | None:
    """The first tcmalloc shared library found, or None."""
    for folder in search_path:
        for name in LIBRARIES:
            candidate = Path(folder) / name
            if candidate.is_file():
                return candidate
    return None


def tcmalloc_loaded() -> bool:
    """Whether this process has tcmalloc mapped (through ``LD_PRELOAD`` or otherwise)."""
    try:
        return "tcmalloc" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def preload_env(environ: Mapping[str, str], library: Path) -> dict[str, str]:
    """``environ`` with ``library`` first in ``LD_PRELOAD`` (keeping what was there)."""
    env = dict(environ)
    env["LD_PRELOAD"] = ":".join(p for p in (str(library), environ.get("LD_PRELOAD", "")) if p)
    env[_REEXECUTED] = "1"
    # tcmalloc warns on stderr about every allocation over 1 GiB; a long-article batch may make one.
    env.setdefault("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD", str(1 << 40))
    return env


def preload(choice: str) -> None:
    """Re-execute this command on tcmalloc unless ``choice`` is ``system`` or it is already loaded.

    Returns only when no re-execution is needed or possible; otherwise the process image is
    replaced and the command starts again from the top with the same arguments.
    """
    if choice == "system" or not sys.platform.startswith("linux") or tcmalloc_loaded():
        return
    library = find_tcmalloc()
    if library is None or os.environ.get(_REEXECUTED):
        if choice == "tcmalloc":
            raise SystemExit("allocator=tcmalloc, but tcmalloc is not installed (Debian: libtcmalloc-minimal4)"
                             if library is None else f"allocator=tcmalloc, but {library} did not load")
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], preload_env(os.environ, library))
