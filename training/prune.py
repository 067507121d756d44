"""Cut the fine-tuned stance teacher down to a start for a student that fits the 50 MB budget.

A student built on all-MiniLM-L6-v2 (384 wide) learns the teacher's labels but not its habit of telling
two targets of one sentence apart. This keeps the teacher's own representation instead: its bottom
``layers`` layers at their full 768 width and all 12 heads, each feed-forward block cut to its
``intermediate`` most active neurons, and the vocabulary cut to the ``vocabulary`` sub-tokens most
frequent in the training text (plus every one-character piece, so any word still splits into known
pieces, and the special tokens). The result is a standard, smaller ``MPNetForTokenClassification`` with
its tokenizer, which ``wirestream-training train stance --base-model`` then distils from the whole teacher.

Run: ``wirestream-training prune TEACHER OUTPUT --layers 6 --intermediate 560 --vocabulary 8000``.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from training.conll import read_conll
from training.corpora import read_newsmtsc, read_semeval
from training.settings import TrainingSettings


def kept_ids(counts: collections.Counter, vocab: dict[str, int], special: Iterable[int], size: int) -> list[int]:
    """Ids to keep, in their old order: specials, one-character pieces, then the most frequent.

    >>> vocab = {"[UNK]": 0, "a": 1, "##b": 2, "the": 3, "news": 4, "##wire": 5}
    >>> kept_ids(collections.Counter({3: 9, 5: 4, 4: 1}), vocab, [0], 5)
    [0, 1, 2, 3, 5]
    """
    keep = set(special) | {i for token, i in vocab.items() if len(token.removeprefix("##")) == 1}
    for token_id, _ in counts.most_common():
        if len(keep) >= size:
            break
        keep.add(token_id)
    return sorted(keep)


def pruned_tokenizer(tokenizer_json: dict[str, Any], kept: Sequence[int]) -> dict[str, Any]:
    """The tokenizer.json of the cut vocabulary: kept tokens renumbered in order, specials included.

    >>> t = {"model": {"vocab": {"<s>": 0, "x": 1, "y": 2}}, "added_tokens": [{"id": 3, "content": "<t>"}],
    ...      "post_processor": {"cls": ["<s>", 0], "sep": ["<s>", 0]}}
    >>> p = pruned_tokenizer(t, [0, 2, 3])
    >>> p["model"]["vocab"], p["added_tokens"][0]["id"]
    ({'<s>': 0, 'y': 1}, 2)
    """
    new_id = {old: new for new, old in enumerate(kept)}
    result = copy.deepcopy(tokenizer_json)
    result["model"]["vocab"] = {t: new_id[i] for t, i in tokenizer_json["model"]["vocab"].items() if i in new_id}
    for token in result["added_tokens"]:
        token["id"] = new_id[token["id"]]
    for key in ("cls", "sep"):
        if key in (result.get("post_processor") or {}):
            result["post_processor"][key][1] = new_id[result["post_processor"][key][1]]
    return result


def training_text(data: Path) -> list[str]:
    """The text the vocabulary is counted on: NewsMTSC, CoNLL-2003 and SemEval-2017 train, never dev or test."""
    targets = read_newsmtsc(data / "newsmtsc" / "hf" / "rw" / "train.jsonl")
    texts = sorted({t.key for t in targets}) + [t.input[0] for t in targets]
    texts += [document.text()[0] for document in read_conll(data / "conll2003" / "train.txt")]
    tweets = sorted((data / "sentiment" / "semeval2017_task4a" / "train_2013-2016").glob("*.tsv"))
    return texts + [str(t.input) for t in read_semeval(tweets)]


def neuron_activity(encoder: Any, tokenizer: Tokenizer, texts: Sequence[Any], batch: int = 32) -> list[torch.Tensor]:
    """Per layer, each feed-forward neuron's summed absolute activation over ``texts``."""
    totals = [torch.zeros(layer.intermediate.dense.out_features) for layer in encoder.encoder.layer]

    def count(n: int) -> Any:
        def hook(_module: Any, _inputs: Any, output: torch.Tensor) -> None:  # None: the output stays as it is
            totals[n] += output.abs().sum(dim=(0, 1)).float()
        return hook

    hooks = [layer.intermediate.register_forward_hook(count(n)) for n, layer in enumerate(encoder.encoder.layer)]
    pad = encoder.embeddings.padding_idx
    encoded = tokenizer.encode_batch(list(texts))
    with torch.no_grad():
        for k in range(0, len(encoded), batch):
            chunk = encoded[k : k + batch]
            width = max(len(e.ids) for e in chunk)
            ids = torch.tensor([e.ids + [pad] * (width - len(e.ids)) for e in chunk])
            encoder(input_ids=ids, attention_mask=(ids != pad).long())
    for hook in hooks:
        hook.remove()
    return totals


def _select(linear: torch.nn.Linear, index: torch.Tensor, dim: int) -> torch.nn.Linear:
    """``linear`` with only the outputs (dim 0) or inputs (dim 1) at ``index``."""
    weight = linear.weight.data.index_select(dim, index).clone()
    cut = torch.nn.Linear(weight.shape[1], weight.shape[0])
    cut.weight.data = weight
    cut.bias.data = linear.bias.data[index].clone() if dim == 0 else linear.bias.data.clone()
    return cut


def keep_bottom_layers(model: Any, layers: int) -> Any:
    """Drop every encoder layer above the bottom ``layers`` (before measuring activity: less to run)."""
    model.base_model.encoder.layer = model.base_model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return model


def prune_model(model: Any, intermediate: int, activity: Sequence[torch.Tensor], kept: Sequence[int]) -> Any:
    """Keep each FFN's ``intermediate`` most important neurons and the ``kept`` token rows.

    A neuron's importance is its activity times the norm of the weights that carry it back to the
    residual stream: a neuron that fires often but writes almost nothing matters little.
    """
    encoder = model.base_model
    for layer, active in zip(encoder.encoder.layer, activity, strict=True):
        importance = active * layer.output.dense.weight.float().norm(dim=0)
        top = importance.topk(intermediate).indices.sort().values
        layer.intermediate.dense = _select(layer.intermediate.dense, top, 0)
        layer.output.dense = _select(layer.output.dense, top, 1)
    old = encoder.embeddings.word_embeddings
    new_id = {o: n for n, o in enumerate(kept)}
    pad = new_id[old.padding_idx] if old.padding_idx is not None else None
    words = torch.nn.Embedding(len(kept), old.embedding_dim, padding_idx=pad)
    words.weight.data = old.weight.data[list(kept)].clone()
    encoder.embeddings.word_embeddings = words
    config = model.config
    config.intermediate_size, config.vocab_size = intermediate, len(kept)
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(config, key, None) is not None:
            setattr(config, key, new_id[getattr(config, key)])
    return model


def prune(teacher: Path, output: Path, layers: int, intermediate: int, vocabulary: int, data: Path) -> Path:
    """Write the cut model and its tokenizer under ``output``; returns it."""
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    tokenizer_json = json.loads((teacher / "tokenizer.json").read_text())
    tokenizer = Tokenizer.from_file(str(teacher / "tokenizer.json"))
    counts: collections.Counter = collections.Counter()
    for encoding in tokenizer.encode_batch(training_text(data), add_special_tokens=False):
        counts.update(encoding.ids)
    special = [token["id"] for token in tokenizer_json["added_tokens"]]
    kept = kept_ids(counts, tokenizer_json["model"]["vocab"], special, vocabulary)
    model = AutoModelForTokenClassification.from_pretrained(teacher, local_files_only=True, dtype=torch.float32).eval()
    sample = [t.input for t in read_newsmtsc(data / "newsmtsc" / "hf" / "rw" / "train.jsonl")[::8]]
    keep_bottom_layers(model, layers)
    activity = neuron_activity(model.base_model, tokenizer, sample)
    prune_model(model, intermediate, activity, kept)
    output.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(output)
    (output / "tokenizer.json").write_text(json.dumps(pruned_tokenizer(tokenizer_json, kept), ensure_ascii=False))
    shutil.copy(teacher / "tokenizer_config.json", output / "tokenizer_config.json")
    return output


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wirestream-training prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("teacher", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--intermediate", type=int, default=560)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--data", type=Path, default=None, help="default: WIRESTREAM_DATA_DIR")
    args = parser.parse_args(argv)
    out = prune(args.teacher, args.output, args.layers, args.intermediate, args.vocabulary,
                args.data or TrainingSettings().data_dir)
    size = (out / "model.safetensors").stat().st_size
    print(f"{out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
