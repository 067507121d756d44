"""The numeric precision a model runs in: float32, bfloat16 or float16 on a GPU, int8 on a CPU.

``WIRESTREAM_NLP_PRECISION`` picks it for every NLP stage. float32 is the default and what the
model cards' figures were measured in; each other precision's figures are in the cards too, and
one is offered only while it stays within half a point of float32 on every test figure.

* ``bfloat16`` / ``float16``: the weights cast, for GPUs (tensor cores). On a CPU both are
  slower than float32 here, so they are refused there.
* ``int8``: torch's dynamic quantization of every linear layer (int8 weights, activations
  quantized per batch), the CPU fast path; it runs on the CPU only.

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4))
>>> type(with_precision(model, "int8", torch.device("cpu"))[0]).__name__
'Linear'
>>> with_precision(model, "float16", torch.device("cpu"))
Traceback (most recent call last):
...
ValueError: precision float16 runs on a GPU only (device cpu); use float32 or int8 on a CPU
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch

Precision = Literal["float32", "bfloat16", "float16", "int8"]
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16", "float16", "int8")
_FLOATS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def with_precision(model: Any, precision: str, device: torch.device) -> Any:
    """``model`` on ``device`` in ``precision``, in eval mode."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError(f"precision int8 runs on a CPU only (device {device}); use bfloat16 on a GPU")
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # torch points eager quantization users at torchao; it still works
            warnings.simplefilter("ignore")
            return quantize_dynamic(model.float().eval(), {torch.nn.Linear}, dtype=torch.qint8)
    if precision != "float32" and device.type == "cpu":
        raise ValueError(f"precision {precision} runs on a GPU only (device {device}); use float32 or int8 on a CPU")
    return model.to(device=device, dtype=_FLOATS[precision]).eval()
