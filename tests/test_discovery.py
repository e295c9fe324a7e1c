"""Discovery on planted data: an uncaught theme, segment words, segment themes."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from personalab.discovery import (ctfidf, discover_themes, distinctive_terms, distinctive_themes,
                                  split_sentences)

KNOWN = {"price": ["too expensive", "the price is high", "it costs too much for what it does"],
         "speed": ["the app is slow", "slow to start up", "pages are slow on my phone"]}
PARKING_NOUN = ["parking", "the parking lot", "parking near the store", "parking for visitors",
                "the parking garage"]
PARKING_PROBLEM = ["is always full", "is a nightmare", "costs more than the shopping", "is tiny and badly lit",
                   "is impossible to find", "takes forever to get into", "is too far from the entrance"]
PARKING_WHEN = ["on saturdays", "in the evening", "at lunchtime", "after work", "every single time", ""]
SUBJECTS = ["my neighbour", "my mother", "a friend", "my colleague", "my brother", "our team",
            "the students", "my partner", "the kids", "my boss", "the new intern", "my uncle"]
VERBS = ["told me about it", "uses it on weekends", "recommended the shop", "likes the newsletter",
         "visited last month", "signed up recently", "prefers the website", "asked about gift cards"]


def planted_answers(seed=0):
    rng = np.random.default_rng(seed)
    texts, kind = {}, {}
    for i in range(120):                                   # caught by the codebook
        theme = ["price", "speed"][i % 2]
        texts[f"K{i:03d}"] = f"{KNOWN[theme][i % 3].capitalize()}. {SUBJECTS[rng.integers(12)].capitalize()} {VERBS[rng.integers(8)]}."
        kind[f"K{i:03d}"] = theme
    for i in range(40):                                    # the planted uncaught theme
        parking = " ".join(filter(None, [PARKING_NOUN[rng.integers(5)], PARKING_PROBLEM[rng.integers(7)],
                                         PARKING_WHEN[rng.integers(6)]]))
        texts[f"P{i:03d}"] = (f"{parking.capitalize()}. "
                              f"{SUBJECTS[rng.integers(12)].capitalize()} {VERBS[rng.integers(8)]}.")
        kind[f"P{i:03d}"] = "parking"
    for i in range(40):                                    # uncaught, about nothing in particular
        texts[f"M{i:03d}"] = f"{SUBJECTS[rng.integers(12)].capitalize()} {VERBS[rng.integers(8)]}."
        kind[f"M{i:03d}"] = "misc"
    return pd.Series(texts), pd.Series(kind)


def rule_tags(texts):
    matrix = pd.DataFrame({t: texts.str.lower().map(lambda x: int(any(p in x for p in KNOWN[t])))
                           for t in KNOWN}, index=texts.index)
    return SimpleNamespace(matrix=matrix, tags=pd.DataFrame())


@pytest.fixture(scope="module")
def found():
    texts, kind = planted_answers()
    return discover_themes(texts, rule_tags(texts), random_state=0), texts, kind


def test_planted_uncaught_theme_is_one_cluster(found):
    result, texts, kind = found
    assert result.n_uncaught == 80 and result.n_answers == 200
    parking = set(kind.index[kind == "parking"])
    best = max(result.themes["candidate"], key=lambda c: len(parking & set(result.answers(c))))
    members = set(result.answers(best))
    assert len(parking & members) >= 0.9 * len(parking)           # recall
    assert len(parking & members) >= 0.9 * len(members)           # purity
    row = result.themes.set_index("candidate").loc[best]
    assert "parking" in row["key_phrases"][:3]
    assert all("parking" in e.lower() for e in row["examples"])   # typical examples
    assert len(row["examples"]) == len(set(row["examples"])) >= 5  # several, none repeated
    # caught answers are never clustered
    assert not set(result.assignments["answer_id"]) & set(kind.index[kind.isin(["price", "speed"])])


def test_a_capped_sample_of_uncaught_answers_still_finds_the_planted_theme():
    """max_answers: candidates come from a seeded sample; counts still say how many were
    uncaught."""
    texts, kind = planted_answers()
    result = discover_themes(texts, rule_tags(texts), max_answers=60, random_state=0)
    assert result.n_uncaught == 80 and result.params["max_answers"] == 60
    clustered = set(result.assignments["answer_id"])
    assert len(clustered) <= 60 and clustered <= set(kind.index[kind.isin(["parking", "misc"])])
    parking = set(kind.index[kind == "parking"]) & clustered
    best = max(result.themes["candidate"], key=lambda c: len(parking & set(result.answers(c))))
    assert len(parking & set(result.answers(best))) >= 0.8 * len(parking)
    again = discover_themes(texts, rule_tags(texts), max_answers=60, random_state=0)
    assert set(again.assignments["answer_id"]) == clustered


def test_codebook_entry_in_yaml_schema(found):
    result, _, kind = found
    parking = set(kind.index[kind == "parking"])
    best = max(result.themes["candidate"], key=lambda c: len(parking & set(result.answers(c))))
    entry = result.to_codebook_entry(best, id="parking", label="Parking")
    assert entry["id"] == "parking" and entry["label"] == "Parking"
    assert "parking" in entry["phrases"]
    assert set(entry) == {"id", "label", "description", "parent", "phrases", "patterns", "exclude"}
    auto = result.to_codebook_entry(best)
    assert auto["id"].startswith("candidate_") and " " not in auto["id"]
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(yaml.safe_dump({"schema_version": 1, "themes": [entry]}))["themes"][0] == entry
    with pytest.raises(ValueError, match="no candidate"):
        result.to_codebook_entry(999)


def test_discovery_is_deterministic(found):
    result, texts, _ = found
    again = discover_themes(texts, rule_tags(texts), random_state=0)
    pd.testing.assert_frame_equal(result.themes, again.themes)
    pd.testing.assert_frame_equal(result.examples, again.examples)


def test_kmeans_with_fixed_number_and_answer_units(found):
    _, texts, kind = found
    result = discover_themes(texts, rule_tags(texts), n_themes=3, unit="answer", min_size=3)
    assert len(result.themes) <= 3 and result.themes["size"].sum() <= 80
    assert any("parking" in phrases for phrases in result.themes["key_phrases"])
    with pytest.raises(ValueError, match="n_themes"):
        discover_themes(texts, rule_tags(texts), n_themes=0)


def test_nothing_uncaught_gives_empty_result():
    texts = pd.Series(["too expensive"] * 20, index=[f"A{i}" for i in range(20)])
    result = discover_themes(texts, rule_tags(texts))
    assert result.themes.empty and result.n_uncaught == 0


def test_split_sentences():
    assert split_sentences("Parking is awful. Staff are nice!\nOk") == ["Parking is awful.", "Staff are nice!", "Ok"]


def test_ctfidf_matches_formula():
    from scipy import sparse
    counts = sparse.csr_matrix(np.array([[2, 0], [1, 1], [0, 3]]))
    scores = ctfidf(counts, [np.array([0, 1]), np.array([2])])
    tf = np.array([[3, 1], [0, 3]], dtype=float)
    expected = tf / tf.sum(1, keepdims=True) * np.log(1 + tf.sum(1).mean() / tf.sum(0))
    np.testing.assert_allclose(scores, expected)


# --------------------------------------------------------------------------- segments
SEGMENT_WORDS = {0: ["budget", "discount", "cheaper"], 1: ["dashboard", "export", "spreadsheet"],
                 2: ["colours", "icons", "layout"]}
COMMON = ["app", "use", "really", "think", "work", "day", "good", "time"]


def segment_answers(n_per=50, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = {}, {}
    for s, words in SEGMENT_WORDS.items():
        for i in range(n_per):
            body = list(rng.choice(COMMON, 5)) + list(rng.choice(words, 2))
            rng.shuffle(body)
            texts[f"S{s}_{i:02d}"], labels[f"S{s}_{i:02d}"] = " ".join(body), s
    for i in range(10):
        texts[f"U{i}"], labels[f"U{i}"] = "unassigned zebra words " * 3, -1
    return pd.Series(texts), pd.Series(labels)


@pytest.mark.parametrize("method", ["log_odds", "ctfidf"])
def test_distinctive_terms_find_planted_words(method):
    texts, labels = segment_answers()
    terms = distinctive_terms(texts, labels, n=3, method=method)
    assert sorted(terms["segment"].unique()) == [0, 1, 2]            # -1 left out
    for s, words in SEGMENT_WORDS.items():
        top = terms[terms["segment"] == s].sort_values("rank")["term"].tolist()
        if method == "log_odds":
            assert set(top) == set(words), (s, top)
        else:                       # c-TF-IDF does not weigh against the other segments as hard
            assert len(set(top) & set(words)) >= 2, (s, top)
    if method == "log_odds":
        assert not terms["term"].isin(COMMON).any()
    assert "zebra" not in set(terms["term"])
    row = terms[(terms["segment"] == 0) & (terms["term"] == "budget")].iloc[0]
    assert row["doc_share"] > 0.3 and row["doc_share_rest"] == 0


def test_distinctive_terms_by_position_and_errors():
    texts, labels = segment_answers()
    by_pos = distinctive_terms(texts, labels.to_numpy(), n=3)
    pd.testing.assert_frame_equal(by_pos, distinctive_terms(texts, labels, n=3))
    with pytest.raises(ValueError, match="two segments"):
        distinctive_terms(texts, pd.Series(0, index=texts.index))
    with pytest.raises(ValueError, match="labels for"):
        distinctive_terms(texts, labels.to_numpy()[:5])


def test_distinctive_themes_test_and_index():
    rng = np.random.default_rng(0)
    n = 300
    labels = pd.Series(np.repeat([0, 1, 2], n // 3), index=[f"R{i}" for i in range(n)])
    base = rng.random((n, 3)) < 0.2
    matrix = pd.DataFrame(base.astype(int), index=labels.index, columns=["price", "speed", "design"])
    matrix.loc[labels == 0, "price"] = (rng.random(100) < 0.7).astype(int)     # planted
    matrix.loc[labels == 2, "design"] = (rng.random(100) < 0.03).astype(int)    # planted, under
    table = distinctive_themes(matrix, labels)
    over = table[table["over"]]
    assert (0, "price") in set(zip(over["segment"], over["theme"]))
    assert not over["theme"].eq("speed").any()                                  # not planted
    price0 = table[(table["segment"] == 0) & (table["theme"] == "price")].iloc[0]
    overall = matrix["price"].mean()
    assert price0["index"] == pytest.approx(100 * price0["share"] / overall)
    assert price0["test"] == "z" and price0["p_adjusted"] < 1e-6
    design2 = table[(table["segment"] == 2) & (table["theme"] == "design")].iloc[0]
    assert design2["index"] < 50 and not design2["over"] and design2["p_adjusted"] < 0.05
    assert {"share_rest", "statistic", "p_value", "diff", "n_theme"} <= set(table.columns)
    # small counts use Fisher's exact test
    small = distinctive_themes(matrix.iloc[::10], labels.iloc[::10])
    assert "fisher" in set(small["test"])
