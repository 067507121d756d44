"""Cutting the teacher down: what is kept computes exactly what it did, and the result loads alone."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import AutoModelForTokenClassification, AutoTokenizer, MPNetConfig, MPNetForTokenClassification

from training.prune import prune

SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]"]
WORDS = ["the", "news", "wire", "praised", "blasted", "acme", "bolt", "##ed", "paris"]
LETTERS = sorted(set("".join(WORDS).replace("#", "")))
VOCAB = SPECIAL + WORDS + LETTERS + [f"##{c}" for c in LETTERS] + ["<mask>"]


def _teacher(folder: Path) -> Path:
    """A tiny fine-tuned-teacher look-alike: MPNet token classifier with the <t> markers added."""
    folder.mkdir()
    wordpiece = models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]")
    tokenizer = Tokenizer(wordpiece)
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer.add_special_tokens([*SPECIAL, "<mask>", "<t>", "</t>"])
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "MPNetTokenizer", "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
        "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "[UNK]", "mask_token": "<mask>",
        "do_lower_case": True, "extra_special_tokens": ["<t>", "</t>"]}))
    torch.manual_seed(0)
    config = MPNetConfig(vocab_size=len(VOCAB) + 2, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=66, num_labels=3,
                         pad_token_id=1, bos_token_id=0, eos_token_id=2)
    MPNetForTokenClassification(config).eval().save_pretrained(folder)
    return folder


def _data(folder: Path) -> Path:
    """The three train files the vocabulary is counted on, a few lines each."""
    rows = [{"sentence": "Acme praised Bolt", "from": 0, "to": 4, "mention": "Acme", "polarity": 1},
            {"sentence": "the news wire blasted Acme", "from": 21, "to": 25, "mention": "Acme", "polarity": -1}]
    (folder / "newsmtsc" / "hf" / "rw").mkdir(parents=True)
    (folder / "newsmtsc" / "hf" / "rw" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "conll2003").mkdir()
    (folder / "conll2003" / "train.txt").write_text("-DOCSTART- -X- -X- O\n\nAcme NNP B-NP B-ORG\npraised VBD O O\n")
    tweets = folder / "sentiment" / "semeval2017_task4a" / "train_2013-2016"
    tweets.mkdir(parents=True)
    (tweets / "a.tsv").write_text("1\tpositive\tthe news praised acme\n")
    return folder


def _logits(folder: Path, text: tuple[str, str]) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    with torch.no_grad():
        return model(**tokenizer(*text, return_tensors="pt")).logits


def test_nothing_cut_computes_what_the_teacher_did(tmp_path):
    teacher, data = _teacher(tmp_path / "teacher"), _data(tmp_path / "data")
    whole = prune(teacher, tmp_path / "whole", layers=3, intermediate=64, vocabulary=len(VOCAB) + 2, data=data)
    text = ("Acme", "the news wire praised <t>Acme</t>")
    assert torch.allclose(_logits(whole, text), _logits(teacher, text), atol=2e-2)  # float16 on save


def test_a_cut_model_keeps_its_specials_and_seen_words_and_loads_as_a_standard_checkpoint(tmp_path):
    teacher, data = _teacher(tmp_path / "teacher"), _data(tmp_path / "data")
    size = len(SPECIAL) + 3 + len(LETTERS) * 2 + 3  # specials, <mask>, <t>, </t>, one-letter pieces, 3 words
    cut = prune(teacher, tmp_path / "cut", layers=2, intermediate=16, vocabulary=size, data=data)

    config = json.loads((cut / "config.json").read_text())
    assert (config["num_hidden_layers"], config["intermediate_size"], config["vocab_size"]) == (2, 16, size)
    tokenizer = AutoTokenizer.from_pretrained(cut, local_files_only=True)
    assert len(tokenizer) == size
    assert tokenizer.convert_ids_to_tokens(tokenizer("x")["input_ids"])[::2] == ["<s>", "</s>"]
    kept = tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(["<t>", "</t>", "<pad>"]))
    assert kept == ["<t>", "</t>", "<pad>"]
    # The most frequent words stay whole; a word whose token was cut still reads, in letter pieces.
    assert tokenizer.tokenize("acme praised paris") == ["acme", "praised", "p", "##a", "##r", "##i", "##s"]
    assert _logits(cut, ("Acme", "<t>Acme</t> praised paris")).shape == (1, 14, 3)
