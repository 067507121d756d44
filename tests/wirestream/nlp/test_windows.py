"""Long texts: many windows, entities across window edges neither lost nor doubled."""

from __future__ import annotations

from tests.conftest import SEEDS
from tests.wirestream.nlp.conftest import NER_MODEL
from wirestream.nlp.inference import TokenClassifier
from wirestream.wirefile import read_path

SEPARATOR = "\n\n"


def test_entities_of_each_article_are_found_again_at_their_shifted_offsets_in_the_concatenation():
    ner = TokenClassifier.load(NER_MODEL, window=48, overlap=12)  # small windows: many edges
    bodies = [article.body for article in read_path(SEEDS)]
    alone = ner(bodies)
    content = ner.window - 2
    step = content - ner.overlap

    # Find a filler that puts an entity of the first article across the first window edge.
    for filler_words in range(40):
        prefix = "Filler " * filler_words
        text = prefix + SEPARATOR.join(bodies)
        offsets = ner.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        edge_char = offsets[content - 1][1]  # end of the first window's last sub-token
        if any(s.start + len(prefix) < edge_char < s.end + len(prefix) for s in alone[0]):
            break
    else:
        raise AssertionError("no filler put an entity across the window edge")
    assert len(offsets) > 10 * step, "the text must span many windows"

    expected = []
    shift = len(prefix)
    for body, spans in zip(bodies, alone, strict=True):
        expected.extend((s.start + shift, s.end + shift, s.label, s.text) for s in spans)
        shift += len(body) + len(SEPARATOR)
    together = [(s.start, s.end, s.label, s.text) for s in ner([text])[0]]
    assert len(together) == len(set(together)), "an entity was doubled"
    missing = sorted(set(expected) - set(together))
    assert not missing, f"lost at their shifted offsets: {missing}"
    for start, end, _, mention in together:
        assert text[start:end] == mention
