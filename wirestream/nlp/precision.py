"""The numeric precision a model runs in: float32, bfloat16 or float16 on a GPU; int8, or bfloat16 where
the CPU has bfloat16 instructions, on a CPU.

``WIRESTREAM_NLP_PRECISION`` picks it for every NLP stage. float32 is the default and what the
model cards' figures were measured in; each other precision's figures are in the cards too, and
one is offered only while it stays within half a point of float32 on every F1 and recall figure.

* ``bfloat16`` / ``float16``: the weights cast, for GPUs (tensor cores). ``bfloat16`` also runs on a
  CPU with bfloat16 dot-product instructions (AVX512-BF16 or AMX, as oneDNN reports them): on an
  AMD EPYC (Zen 5) the stance and tone models ran a 64 x 40-token batch in ~0.14 s against ~0.42 s
  in float32. Without them (an AVX2-only EPYC, earlier runs) bfloat16 was slower than float32, so
  there it is refused; ``float16`` is refused on every CPU (its matrix products ran ~4x slower than
  float32 on that Zen 5).
* ``int8``: torch's dynamic quantization (int8 weights per output channel, activations quantized
  per batch) of the encoder's linear layers, the fast path of a CPU without bfloat16; CPU only. The
  classification head stays float32, and so do the layers the model's config lists in
  ``wirestream_int8_float32`` (name fragments; by default the first encoder layer, ``.layer.0.``).
  On dev (CoNLL-2003 valid) quantizing every layer per tensor cost the NER model 1.2 points of F1,
  per channel 0.6, and per channel with the first layer kept 0.05. The sentiment model keeps its
  feed-forward output projections (``.output.dense``) float32: best of eight variants on dev
  (0.6987 vs 0.7012 float32). The stance model's config keeps its last encoder layer
  (``.layer.5.``) float32, but its card does not offer int8: activations are quantized with one
  scale per batch, so results move with a row's neighbours, and in the classifiers' length-tight
  batches its rw figure fell 1.5 points (see its card). ONNX Runtime int8 ran slower than torch
  int8 here (``bench/results/precision_cpu.md``).
* ``fast``: per model, the first of :func:`fast_candidates` that its card offers, else float32; one
  setting for a fleet of mixed machines.

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4))
>>> type(with_precision(model, "int8", torch.device("cpu"))[0]).__module__
'torch.ao.nn.quantized.dynamic.modules.linear'
>>> with_precision(model, "float16", torch.device("cpu"))
Traceback (most recent call last):
...
ValueError: precision float16 runs on a GPU only (device cpu); use float32 or int8 on a CPU
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

log = logging.getLogger(__name__)

Precision = Literal["float32", "bfloat16", "float16", "int8", "fast"]
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16", "float16", "int8")
FAST = "fast"  # the fastest precision the device runs that a model's card offers (fast_candidates)
_FLOATS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def with_precision(model: Any, precision: str, device: torch.device) -> Any:
    """``model`` on ``device`` in ``precision`` (one of :data:`PRECISIONS`: ``fast`` is :func:`resolved` first), in
    eval mode."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError(f"precision int8 runs on a CPU only (device {device}); use bfloat16 on a GPU")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        model = model.float().eval()
        kept = getattr(model.config, "wirestream_int8_float32", None) if hasattr(model, "config") else None
        kept = DEFAULT_FLOAT32 if kept is None else tuple(kept)
        chosen = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
                  if isinstance(module, torch.nn.Linear) and not _kept_in_float32(name, kept)}
        with warnings.catch_warnings():  # torch points eager quantization users at torchao; it still works
            warnings.simplefilter("ignore")
            return quantize_dynamic(model, chosen, dtype=torch.qint8)
    if device.type == "cpu" and precision == "float16":
        raise ValueError(f"precision float16 runs on a GPU only (device {device}); use float32 or int8 on a CPU")
    if device.type == "cpu" and precision == "bfloat16" and not cpu_has_bfloat16():
        raise ValueError(f"precision bfloat16 runs on a GPU, or on a CPU with bfloat16 instructions (AVX512-BF16, "
                         f"AMX), which this one lacks (device {device}); use float32 or int8 here")
    return model.to(device=device, dtype=_FLOATS[precision]).eval()


def cpu_has_bfloat16() -> bool:
    """Whether this CPU has bfloat16 dot products (AVX512-BF16 or AMX) that oneDNN uses for matrix products."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


DEFAULT_FLOAT32 = (".layer.0.",)


def _kept_in_float32(name: str, kept: tuple[str, ...] = DEFAULT_FLOAT32) -> bool:
    """The classification head (``classifier``, ``score``, ``head``) and modules matching ``kept``.

    >>> [_kept_in_float32(n) for n in ("bert.encoder.layer.0.attention.self.query",
    ...  "bert.encoder.layer.1.output.dense", "classifier", "0")]
    [True, False, True, False]
    >>> _kept_in_float32("bert.encoder.layer.0.output.dense", kept=())
    False
    """
    return any(part in f".{name}." for part in kept) or name.split(".")[0] in {
        "classifier", "score", "head", "pre_classifier"}


def resolved(precision: str, device: torch.device) -> str:
    """``precision``, with ``fast`` read as the first of :func:`fast_candidates` (a model without a card)."""
    return fast_candidates(device)[0] if precision == FAST else precision


def fast_candidates(device: str | torch.device) -> tuple[str, ...]:
    """What ``fast`` tries, fastest first: bfloat16 on a GPU or a CPU with bfloat16 instructions (on an
    AMD EPYC with AVX512-BF16 the NER model ran CoNLL in 14 s against 21 s in int8 and 42 s in
    float32), else int8.

    >>> fast_candidates("cuda")
    ('bfloat16',)
    """
    if torch.device(device).type != "cpu":
        return ("bfloat16",)
    return ("bfloat16", "int8") if cpu_has_bfloat16() else ("int8",)


def offered_precision(model_path: str | Path, precision: str, device: str | torch.device = "cpu") -> str:
    """``precision``, or float32 where the model's ``precision.json`` does not offer it.

    A shipped model's ``precision.json`` (``python -m bench.precision_figures``) lists the precisions
    that stay within half a point of float32 on its figures; asked for another one, the model runs
    in float32 and says so once. A model without that file (your own) runs as asked. ``fast``: the
    first of :func:`fast_candidates` the model offers (a model without the file: the first one),
    else float32.

    >>> offered_precision("/nowhere", "int8")
    'int8'
    """
    record = Path(model_path) / "precision.json"
    if precision == FAST:
        candidates = fast_candidates(device)
        if not record.is_file():
            return candidates[0]
        offered = json.loads(record.read_text()).get("offered", [])
        chosen = next((p for p in candidates if p in offered), "float32")
        log.info("%s: fast precision on %s is %s", Path(model_path).name, device, chosen)
        return chosen
    if precision == "float32" or not record.is_file():
        return precision
    measured = json.loads(record.read_text())
    if precision in measured.get("offered", []) or precision not in measured.get("figures", {}):
        return precision
    log.warning("%s: %s is not offered for this model (it loses more than half a point on its figures; see its "
                "card), so it runs in float32", Path(model_path).name, precision)
    return "float32"
