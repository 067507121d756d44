"""What a benchmark ran on: CPU model, threads, versions and the commit, recorded with every result."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

from wirestream.allocator import tcmalloc_loaded
from wirestream.nlp.precision import cpu_has_bfloat16


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def describe() -> dict[str, str]:
    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability() + ("+BF16" if cpu_has_bfloat16() else ""),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "device": "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "commit": commit(),
        "allocator": "tcmalloc" if tcmalloc_loaded() else "glibc malloc",
    }
