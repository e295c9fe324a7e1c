"""Theme codebooks and tagging: planted themes, negation, exclusions, hierarchy, formats."""
from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import personalab.text as text_module
from personalab.errors import CodebookError, ConfigError
from personalab.text import (WHITESPACE, can_fork, distinct_texts, effective_n_jobs, get_nlp,
                             lemmatize_word, map_blocks, normalize_series)
from personalab.themes import (SENTENCE_CONTEXT_TOKENS, SENTENCE_MAX_CHARS, Theme, ThemeCodebook,
                               load_themes, tag_answers)

ROOT = Path(__file__).resolve().parents[1]

CODEBOOK_YAML = """\
schema_version: 1
themes:
  - id: price
    label: Price and cost
    description: Complaints about price
    parent: null
    polarity: negative
    phrases: ["too expensive", "price", "subscription fee"]
    patterns: [[{LEMMA: cost}, {LOWER: too}, {LOWER: much}]]
    exclude: ["price match"]
  - id: reliability
    label: Reliability
    polarity: negative
    phrases: ["crash", "freeze"]
  - id: sync
    label: Sync problems
    parent: reliability
    polarity: negative
    phrases: ["sync", "bank connection"]
    patterns: [[{LEMMA: disconnect}]]
  - id: design
    label: Design
    polarity: positive
    phrases: ["design", "look great"]
  - id: shared
    label: Shared money
    phrases: ["my partner", "joint account"]
    patterns: [[{LEMMA: split}, {LOWER: the, OP: "?"}, {LEMMA: bill}]]
"""

# Planted sentences: the themes each one must get (children imply parents).
PLANTED = {
    "price": ["The subscription fee is too expensive for what it does.",
              "Prices keep going up.", "It costs too much for a budgeting app.",
              "TOO EXPENSIVE once the trial ends."],
    "sync": ["My bank connection keeps dropping.", "Transactions take days to sync.",
             "The app disconnects every week.", "Syncing with my bank is flaky."],
    "reliability": ["It crashes when I open it.", "The screen froze twice today."],
    "design": ["The design is lovely.", "Charts look great on my phone."],
    "shared": ["Split the bills with my housemates.", "We split bills every month.",
               "My partner and I share a joint account."],
}
NEGATED = {
    "price": ["It's not too expensive, to be fair.", "I don't mind the price.",
              "The price is not an issue for me.", "Honestly the subscription fee is not a problem.",
              "Never complained about the price."],
    "sync": ["Never had a problem with sync.", "The bank connection has never been a problem.",
             "No sync issues at all."],
    "design": ["I'm not a fan of the design."],
}
FILLERS = ["Overall the app is fine.", "Support was quick to reply.", "Keep up the good work.",
           "My supermarket does a price match which is nice.", "Thanks!"]


@pytest.fixture(scope="module")
def codebook(tmp_path_factory):
    path = tmp_path_factory.mktemp("cb") / "themes.yml"
    path.write_text(CODEBOOK_YAML, encoding="utf-8")
    return ThemeCodebook.load(path)


def planted_corpus(n=600, seed=1):
    """Answers of 1-4 sentences with their true theme sets (ancestors included)."""
    rng = random.Random(seed)
    parents = {"sync": "reliability"}
    texts, truth = [], []
    for _ in range(n):
        parts, themes = [], set()
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.5:
                theme = rng.choice(sorted(PLANTED))
                parts.append(rng.choice(PLANTED[theme]))
                themes.add(theme)
                if theme in parents:
                    themes.add(parents[theme])
            elif r < 0.7:
                parts.append(rng.choice(NEGATED[rng.choice(sorted(NEGATED))]))
            else:
                parts.append(rng.choice(FILLERS))
        texts.append(" ".join(parts))
        truth.append(themes)
    return pd.Series(texts, index=[f"R{i:04d}" for i in range(n)]), truth


def precision_recall(matrix: pd.DataFrame, truth: list[set], theme: str):
    pred = matrix[theme].to_numpy().astype(bool)
    true = np.array([theme in t for t in truth])
    tp = (pred & true).sum()
    return tp / max(pred.sum(), 1), tp / max(true.sum(), 1)


# ----------------------------------------------------------------------------- text pipeline
def test_default_pipeline_is_offline_blank_with_lower_lemmas():
    nlp = get_nlp("blank")
    doc = nlp("Prices were TOO expensive. Meetings ran late!")
    assert [t.lemma_ for t in doc][:4] == ["price", "be", "too", "expensive"]
    assert doc[5].lemma_ == "meeting"
    assert len(list(doc.sents)) == 2
    assert get_nlp("blank") is nlp  # cached
    assert lemmatize_word("Problems") == "problem"


def test_whitespace_is_pythons():
    # blank answers and the fast paths' "plain" test use this list in Arrow regexes
    assert set(WHITESPACE) == {chr(i) for i in range(0x110000) if chr(i).isspace()}


def test_distinct_texts_blank_missing_and_non_strings():
    for values in (["b", " ", None, "a\u3000", "b", np.nan, "\t\n", "\u2028"],
                   pd.Series(["b", " ", None, "a\u3000", "b", None, "\t\n", "\u2028"],
                             dtype="string")):
        d = distinct_texts(values)
        assert d.codes.tolist() == [0, -1, -1, 1, 0, -1, -1, -1]
        assert d.values() == ["b", "a\u3000"]
    d = distinct_texts(pd.Series(["x", 3, "x  y", "b\udc80"], dtype=object))  # no Arrow here
    assert d.arrow is None and d.codes.tolist() == [0, -1, 1, 2]
    assert d.plain().tolist() == [True, False, True]
    assert distinct_texts(pd.Series(["a b", " a", "a  b", "a\tb", "é b\xa0"])).plain().tolist() \
        == [True, False, False, False, False]


def test_normalize_series_blank_to_nan_and_keeps_emoji():
    s = normalize_series(pd.Series(["  great 👍🏽 ", "", None, "\ufeffok", "n/a"], index=list("abcde")),
                         na_values=["N/A"])
    assert s["a"] == "great 👍🏽"
    assert s[["b", "c", "e"]].isna().all()
    assert s["d"] == "ok"


# ----------------------------------------------------------------------------- tagging
def test_planted_themes_precision_recall(codebook):
    texts, truth = planted_corpus()
    result = tag_answers(texts, codebook)
    for theme in codebook.ids:
        p, r = precision_recall(result.matrix, truth, theme)
        assert p >= 0.85 and r >= 0.85, (theme, p, r)


@pytest.mark.parametrize("theme,text", [(t, s) for t, ss in NEGATED.items() for s in ss])
def test_negated_mentions_do_not_count(codebook, theme, text):
    result = tag_answers(pd.Series([text]), codebook)
    assert result.matrix.loc[0, theme] == 0
    rows = result.tags[result.tags.theme == theme]
    assert len(rows) >= 1 and rows.negated.all()  # kept for review, flagged


def test_negation_stays_in_its_clause(codebook):
    result = tag_answers(pd.Series(["I don't use it much, but the price is too high.",
                                    "Not sure why. The price went up again.",
                                    "Syncing is slow and not fixed yet.",
                                    "The app is not syncing"]), codebook)
    assert result.matrix.loc[0, "price"] == 1
    assert result.matrix.loc[1, "price"] == 1
    assert result.matrix.loc[2, "sync"] == 1  # a cue after the match: still a complaint
    assert result.matrix.loc[3, "sync"] == 0  # the documented limit of the rule...


def test_phrase_holding_the_cue_is_not_negated(codebook):
    # ...and its remedy: a phrase that holds the cue itself ("not sync", "doesn't sync")
    cb = ThemeCodebook([Theme(id=t.id, parent=t.parent, phrases=t.phrases + (
        ["not sync", "do n't sync"] if t.id == "sync" else []), patterns=t.patterns)
        for t in codebook.themes]).validate()
    result = tag_answers(pd.Series(["The app is not syncing", "It doesn't sync with my bank."]), cb)
    assert result.matrix["sync"].tolist() == [1, 1]


def test_exclusion_vetoes_overlapping_match_only(codebook):
    result = tag_answers(pd.Series(["They do a price match.",
                                    "They do a price match but the price is too high."]), codebook)
    assert result.matrix.loc[0, "price"] == 0
    assert result.matrix.loc[1, "price"] == 1
    assert "price match" not in result.tags.matched_text.str.lower().tolist()


def test_child_theme_implies_parent(codebook):
    result = tag_answers(pd.Series(["Transactions take days to sync.", "It crashes."]), codebook)
    assert result.matrix.loc[0, ["sync", "reliability"]].tolist() == [1, 1]
    assert result.matrix.loc[1, ["sync", "reliability"]].tolist() == [0, 1]
    assert set(result.tags[result.tags.answer_id == 0].theme) == {"sync"}  # tags: direct only


def test_tags_point_at_the_words(codebook):
    texts, _ = planted_corpus(200)
    result = tag_answers(texts, codebook)
    assert list(result.tags.columns) == ["answer_id", "theme", "start_char", "end_char",
                                         "matched_text", "negated", "sentence", "rule"]
    for row in result.tags.itertuples():
        text = texts[row.answer_id]
        assert text[row.start_char:row.end_char] == row.matched_text
        assert row.sentence in text and row.matched_text in row.sentence
    assert set(result.tags.answer_id) <= set(texts.index)
    assert list(result.matrix.index) == list(texts.index)


@pytest.mark.parametrize("engine", ["fast", "spacy"])
def test_long_answer_keeps_a_bounded_snippet_per_match(codebook, engine):
    # A 100 KB answer without sentence marks, mentioning a theme thousands of times: each
    # match used to keep the whole answer as its "sentence" (~1.2 GB for one answer).
    unit = "the price went up and the sync failed again while we waited "
    text = (unit * (100_000 // len(unit) + 1))[:100_000] + "é design"
    result = tag_answers(pd.Series([text, "Too expensive. The design is nice."]), codebook,
                         engine=engine)
    long = result.tags[result.tags.answer_id == 0]
    assert len(long) > 2_000
    widest_word = max(len(w) for w in text.split())
    bound = max(SENTENCE_MAX_CHARS, (2 * SENTENCE_CONTEXT_TOKENS + 3) * (widest_word + 1))
    assert long.sentence.str.len().max() <= bound < 1_000
    for row in long.iloc[[0, len(long) // 2, -1]].itertuples():
        assert row.matched_text in row.sentence and row.sentence in text
        assert text[row.start_char:row.end_char] == row.matched_text
    # sentences up to SENTENCE_MAX_CHARS are still whole
    short = result.tags[result.tags.answer_id == 1]
    assert set(short.sentence) == {"Too expensive.", "The design is nice."}
    words = " ".join(["word"] * 45)
    mid = f"{words} the price is high {words}."
    assert len(mid) <= SENTENCE_MAX_CHARS
    assert tag_answers(pd.Series([mid]), codebook, engine=engine).tags.sentence.tolist() == [mid]


def test_multiple_themes_and_pattern_with_optional_token(codebook):
    result = tag_answers(pd.Series(["Split the bill with my partner, and the design is nice.",
                                    "We split bills. Costs too much."]), codebook)
    assert result.matrix.loc[0, ["shared", "design"]].tolist() == [1, 1]
    assert result.matrix.loc[1, ["shared", "price"]].tolist() == [1, 1]


def test_blank_answers_and_shares(codebook):
    texts = pd.Series(["The price is too high.", None, "  ", "Lovely design.", "It crashes."],
                      index=["a", "b", "c", "d", "e"])
    result = tag_answers(texts, codebook)
    assert result.answered.tolist() == [True, False, False, True, True]
    assert result.matrix.loc[["b", "c"]].to_numpy().sum() == 0
    overall = result.shares()
    assert overall.loc["all", "price"] == pytest.approx(1 / 3)
    by = result.shares(by=pd.Series(["x", "x", "x", "y", "y"], index=texts.index))
    assert by.loc["x", "price"] == 1.0 and by.loc["y", "price"] == 0.0
    assert by.loc["y", "design"] == 0.5
    assert result.counts().loc["all", "reliability"] == 1


def test_same_input_same_tags_and_order_independent(codebook):
    texts, _ = planted_corpus(300, seed=5)
    a = tag_answers(texts, codebook)
    b = tag_answers(texts, codebook)
    pd.testing.assert_frame_equal(a.tags, b.tags)
    shuffled = texts.sample(frac=1.0, random_state=3)
    c = tag_answers(shuffled, codebook)
    key = ["answer_id", "start_char", "theme"]
    pd.testing.assert_frame_equal(
        a.tags.sort_values(key).reset_index(drop=True), c.tags.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(a.matrix, c.matrix.loc[texts.index])


def tricky_corpus(n=1500, seed=7) -> pd.Series:
    """Answers with odd whitespace, contractions, unicode, emoji, URLs, numbers, caps."""
    rng = random.Random(seed)
    pieces = [s for ss in PLANTED.values() for s in ss] + [s for ss in NEGATED.values() for s in ss]
    pieces += FILLERS + [
        "I can't believe the price!!", "DON'T mind the PRICE", "e-mail sync... broken?", "U.S. prices",
        "sync’s fine—mostly", "(price) [sync]", "price/cost ratio", "too-expensive", "wi-fi sync",
        "costs   too much", "costs\ttoo much", "split   the bill", "💸 price 😩", "Ünïcödé sync",
        "price.Sync", "don't.", "It's 3:00pm, sync at 5.", "$9.99 price", "Not!! the price",
        "dont like the price", "cannot sync", "no: price", "😅", "n't", "Splitting the bills",
        "https://example.com/price sync", "price\n\nsync", " leading space price",
    ]
    out = []
    for _ in range(n):
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 4))]
        sep = rng.choice([" ", " ", " ", "  ", "\n", ""])
        out.append(sep.join(parts))
    return pd.Series(out)


def test_fast_path_equals_spacy_matcher_path(codebook):
    texts = tricky_corpus()
    fast = tag_answers(texts, codebook, engine="fast")
    slow = tag_answers(texts, codebook, engine="spacy")
    assert len(fast.tags) > 500
    pd.testing.assert_frame_equal(fast.tags, slow.tags)
    pd.testing.assert_frame_equal(fast.matrix, slow.matrix)


def test_fast_path_equals_spacy_with_complex_patterns():
    cb = ThemeCodebook([
        Theme(id="slow", phrases=["slow"], patterns=[[{"LOWER": "takes"}, {"IS_DIGIT": True},
                                                      {"LEMMA": {"IN": ["day", "week"]}}]]),
        Theme(id="fee", phrases=["fee"], patterns=[[{"LEMMA": "pay"}, {"OP": "*"}, {"LOWER": "fee"}]]),
        Theme(id="any", patterns=[[{"IS_UPPER": True, "OP": "+"}, {"LOWER": "app"}]]),
    ]).validate()
    texts = pd.Series(["It takes 3 days to load.", "Sync takes 2 weeks, slow!", "I pay a big fee.",
                       "GREAT BIG app", "Pay the monthly fee. Slow app."] * 3 + list(tricky_corpus(300)))
    fast = tag_answers(texts, cb, engine="fast")
    slow = tag_answers(texts, cb, engine="spacy")
    pd.testing.assert_frame_equal(fast.tags, slow.tags)
    assert fast.matrix.iloc[:5].to_numpy().sum() >= 5


def test_fast_path_equals_spacy_on_the_sample_code_frame():
    # the bundled code frame: nested phrases ("savings" / "savings goal"), a phrase and a
    # pattern finding one span, exclusions, an optional-token pattern, a child theme
    cb = ThemeCodebook.load(ROOT / "data" / "sample" / "themes.yml")
    data, _ = sample_answers("sample_wave")
    rng = random.Random(3)
    pool = [t for q in ("Q8", "Q9") for t in data[q].dropna()]
    texts = pd.Series([" ".join(rng.sample(pool, rng.randint(1, 3))) for _ in range(1500)])
    fast = tag_answers(texts, cb, engine="fast")
    slow = tag_answers(texts, cb, engine="spacy")
    assert len(fast.tags) > 1500 and fast.tags.negated.any()
    pd.testing.assert_frame_equal(fast.tags, slow.tags)
    pd.testing.assert_frame_equal(fast.matrix, slow.matrix)


def test_fast_path_equals_spacy_with_a_large_vocabulary(codebook):
    # more distinct tokens than the fast path's first arrays hold (4,096)
    rng = random.Random(8)
    made_up = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
               for _ in range(6000)]
    pieces = [s for ss in PLANTED.values() for s in ss] + [s for ss in NEGATED.values() for s in ss]
    texts = pd.Series([" ".join(rng.sample(made_up, 6) + [rng.choice(pieces)] + rng.sample(made_up, 3))
                       for _ in range(2000)])
    fast = tag_answers(texts, codebook, engine="fast")
    assert fast.matrix.to_numpy().sum() > 1000
    pd.testing.assert_frame_equal(fast.tags, tag_answers(texts, codebook, engine="spacy").tags)


def test_tags_point_at_the_words_in_unicode_answers(codebook):
    texts = pd.Series(["Café price 💸 is too expensive. Ünïcödé sync… broken 😩",
                       "日本語 price, then 🇬🇧 sync; ok",
                       "naïve design — looks great! 👍🏽 Not a fan of the price though."])
    result = tag_answers(texts, codebook)
    assert len(result.tags) >= 6
    for row in result.tags.itertuples():
        text = texts[row.answer_id]
        assert text[row.start_char:row.end_char] == row.matched_text
        assert row.matched_text in row.sentence and row.sentence in text
    pd.testing.assert_frame_equal(result.tags, tag_answers(texts, codebook, engine="spacy").tags)


def test_answers_mixed_with_numbers_are_tagged(codebook):
    # a column Arrow cannot hold as strings: numbers are unanswered, the rest tagged
    texts = pd.Series(["The price is too high.", "It crashes.", 7, "Not the price."],
                      dtype=object)
    result = tag_answers(texts, codebook)
    assert result.answered.tolist() == [True, True, False, True]
    assert result.matrix["price"].tolist() == [1, 0, 0, 0]
    assert result.matrix["reliability"].tolist() == [0, 1, 0, 0]
    assert result.tags.matched_text.tolist() == ["price", "crashes", "price"]


# ----------------------------------------------------------------------------- worker processes
needs_fork = pytest.mark.skipif(not can_fork(), reason="worker processes are forked (Linux only)")


@needs_fork
def test_n_jobs_gives_the_same_tags(codebook):
    texts = pd.concat([tricky_corpus(1500, seed=11), planted_corpus(1500, seed=12)[0]],
                      ignore_index=True)
    one = tag_answers(texts, codebook, n_jobs=1)
    assert effective_n_jobs(2, texts.nunique()) == 2
    two = tag_answers(texts, codebook, n_jobs=2)
    assert len(one.tags) > 2000
    pd.testing.assert_frame_equal(one.tags, two.tags)
    pd.testing.assert_frame_equal(one.matrix, two.matrix)
    pd.testing.assert_frame_equal(tag_answers(texts, codebook, engine="spacy", n_jobs=2).tags,
                                  one.tags)


@needs_fork
def test_map_blocks_runs_blocks_in_child_processes_in_order():
    out = map_blocks(lambda i: (i, os.getpid()), 3)
    assert [i for i, _ in out] == [0, 1, 2]
    pids = [pid for _, pid in out]
    assert pids[0] == os.getpid() and len(set(pids)) == 3


@needs_fork
def test_map_blocks_reports_a_failing_worker():
    def fn(i):
        if i == 1:
            raise KeyError("boom in block 1")
        return i

    with pytest.raises(RuntimeError, match="boom in block 1"):
        map_blocks(fn, 2)


def test_n_jobs_none_forks_only_for_large_inputs(monkeypatch):
    monkeypatch.setattr(text_module, "available_cpus", lambda: 4)
    assert effective_n_jobs(None, 500) == 1
    assert effective_n_jobs(1, 10**6) == 1
    assert effective_n_jobs(2, 1) == 1  # never more processes than texts
    monkeypatch.setattr(text_module, "PARALLEL_MIN_TEXTS", 100)
    expected = 4 if can_fork() else 1
    assert effective_n_jobs(None, 500) == expected
    assert effective_n_jobs(-1, 500) == expected
    assert effective_n_jobs(-2, 500) == (3 if can_fork() else 1)
    with pytest.raises(ConfigError, match="n_jobs"):
        effective_n_jobs(0, 500)
    # off the main thread (a Dask worker's thread, say) nothing is forked
    seen = []
    worker = threading.Thread(target=lambda: seen.append(effective_n_jobs(2, 500)))
    worker.start()
    worker.join()
    assert seen == [1]


def test_duplicate_index_refused(codebook):
    with pytest.raises(ValueError, match="duplicate"):
        tag_answers(pd.Series(["a", "b"], index=[1, 1]), codebook)


# ----------------------------------------------------------------------------- formats
def test_yaml_round_trip(codebook, tmp_path):
    path = codebook.save(tmp_path / "out.yml")
    again = ThemeCodebook.load(path)
    assert [t.__dict__ for t in again.themes] == [t.__dict__ for t in codebook.themes]


def test_csv_round_trip(codebook, tmp_path):
    path = codebook.to_csv(tmp_path / "themes.csv")
    header = path.read_text().splitlines()[0]
    assert header.startswith("id,label,description,parent,polarity,phrases,exclude")
    again = load_themes(path)
    assert [t.__dict__ for t in again.themes] == [t.__dict__ for t in codebook.themes]
    # spreadsheet form without patterns
    plain = ThemeCodebook([Theme(id="a", label="A", phrases=["x y", "z"], exclude=["x y z"])])
    text = plain.to_csv()
    assert text.splitlines()[1] == "a,A,,,,x y;z,x y z"
    assert ThemeCodebook.from_csv(text).themes[0].phrases == ["x y", "z"]


def test_csv_accepts_taguette_tag_column():
    cb = ThemeCodebook.from_csv("tag,description,phrases\nprice,Price talk,price;cost\n")
    assert cb.ids == ["price"] and cb["price"].phrases == ["price", "cost"]


def test_yaml_with_python_tag_refused(tmp_path):
    path = tmp_path / "evil.yml"
    path.write_text("schema_version: 1\nthemes:\n  - id: !!python/object/apply:os.system ['echo hi']\n"
                    "    phrases: [x]\n")
    with pytest.raises(CodebookError, match="tag") as err:
        ThemeCodebook.load(path)
    assert "evil.yml" in str(err.value) and "Fix:" in str(err.value)


@pytest.mark.parametrize("body,needle", [
    ("  - id: a\n    phrases: [x]\n    parent: nope\n", "'a'"),
    ("  - id: a\n    phrases: [x]\n  - id: a\n    phrases: [y]\n", "more than one"),
    ("  - id: a\n    phrases: [x]\n    polarity: angry\n", "polarity"),
    ("  - id: a\n    phrase: [x]\n", "unknown key"),
    ("  - id: a\n    phrases: []\n", "no phrases"),
    ("  - id: a\n    patterns: [[{NOT_AN_ATTR: x}]]\n", "pattern"),
    ("  - id: a b\n    phrases: [x]\n", "valid id"),
])
def test_codebook_errors_name_file_theme_and_fix(tmp_path, body, needle):
    path = tmp_path / "themes.yml"
    path.write_text("schema_version: 1\nthemes:\n" + body)
    with pytest.raises(CodebookError) as err:
        ThemeCodebook.load(path)
    msg = str(err.value)
    assert needle in msg and "themes.yml" in msg and "Fix:" in msg


def test_codebook_error_gives_the_theme_line(tmp_path):
    path = tmp_path / "themes.yml"
    path.write_text("schema_version: 1\nthemes:\n  - id: a\n    phrases: [x]\n"
                    "  - id: b\n    phrases: [y]\n    polarity: angry\n")
    with pytest.raises(CodebookError) as err:
        ThemeCodebook.load(path)
    assert err.value.row == 5 and "'b'" in str(err.value)


# ----------------------------------------------------------------------------- the sample
SAMPLE_THEMES = ROOT / "data" / "sample" / "themes.yml"
TRUTH_DIR = ROOT / "tests" / "fixtures" / "sample_truth"
WAVES = ["sample_wave", "wave2"]


def sample_answers(wave):
    """(answers by question, truth) of a bundled sample wave; truth themes include ancestors."""
    from personalab.loaders import load_export

    data = load_export(ROOT / "data" / "sample" / f"{wave}.csv").data.set_index("ResponseId")
    truth = pd.read_csv(TRUTH_DIR / f"{wave}_truth.csv", dtype=str,
                        keep_default_na=False).set_index("ResponseId")
    return data, truth


@pytest.mark.skipif(not SAMPLE_THEMES.exists(), reason="data/sample/themes.yml not generated yet")
@pytest.mark.parametrize("wave", WAVES)
def test_sample_planted_themes_precision_recall(wave):
    cb = ThemeCodebook.load(SAMPLE_THEMES)
    data, truth = sample_answers(wave)
    checked = 0
    for q in ("Q8", "Q9"):
        result = tag_answers(data[q], cb)
        # the truth lists the planted (direct) themes; a child theme implies its parent
        planted = [set(t.split(";")) - {""} for t in truth.loc[data.index, f"{q}_themes"]]
        expected = [ts.union(*(cb.ancestors(t) for t in ts)) for ts in planted]
        for theme in cb.ids:
            if not any(theme in e for e in expected):
                continue
            p, r = precision_recall(result.matrix, expected, theme)
            assert p >= 0.85 and r >= 0.85, (wave, q, theme, p, r)
            checked += 1
        # planted negations never count as their theme
        for rid, negs in truth.loc[data.index, f"{q}_negated"].items():
            for theme in filter(None, negs.split(";")):
                if theme not in planted[data.index.get_loc(rid)]:
                    assert result.matrix.loc[rid, theme] == 0, (rid, theme, data.loc[rid, q])
    assert checked >= 10


def test_array_selection_equals_the_plain_rule_on_random_overlapping_matches():
    # The fast path's selection (exclusion veto, longest non-overlapping per theme) is
    # computed with sorted searches so that it stays linear in a long answer's matches;
    # it must keep exactly what the plain per-answer rule (_select) keeps.
    from types import SimpleNamespace

    from personalab.themes import _select, _select_arrays

    rule_theme = np.array([0, 1, 2, 0, 1, 0])
    rule_excl = np.array([False, False, False, True, True, False])
    compiled = SimpleNamespace(rules=[SimpleNamespace(theme=int(t), exclusion=bool(x))
                                      for t, x in zip(rule_theme, rule_excl)])
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        k = rng.integers(0, len(rule_theme), n)
        s = rng.integers(0, 40, n)
        e = s + rng.integers(1, 5, n)
        want = _select(list(zip(k.tolist(), s.tolist(), e.tolist())), compiled)
        _, theme, ks, ke, kk = _select_arrays(np.zeros(n, np.int64), k, s, e, rule_theme,
                                              rule_excl, 3)
        assert sorted(zip(theme.tolist(), ks.tolist(), ke.tolist(), kk.tolist())) == \
            sorted((t, a, b, r) for t, a, b, r in want)


# ------------------------------------------------------------------ hostile or mis-saved files
def test_a_yaml_alias_bomb_in_a_theme_codebook_is_refused_at_once(tmp_path):
    import time

    # seven levels of ten aliases in keys a theme takes: 10**7 nodes once expanded (nine
    # levels, 1.2 KB, are 10**9: str() of the description walked them all, to exhaustion)
    anchors = ", ".join(["&a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"&{c} [{', '.join(['*' + p] * 10)}]" for p, c in zip("abcdef", "bcdefg")])
    path = tmp_path / "themes.yml"
    path.write_text("schema_version: 1\nthemes:\n  - id: a\n    phrases: [x]\n"
                    f"    exclude: [{anchors}]\n    description: *g\n")
    t0 = time.perf_counter()
    with pytest.raises(CodebookError, match="alias bomb") as err:
        load_themes(path)
    assert time.perf_counter() - t0 < 5
    assert "themes.yml" in str(err.value) and err.value.fix


@pytest.mark.parametrize("name, text", [
    ("themes.yml", "schema_version: 1\nthemes:\n  - id: price\n    label: Café prices\n"
                   "    phrases: [price]\n"),
    ("themes.csv", "id,label,phrases\nprice,Café prices,price\n"),
])
def test_a_theme_codebook_saved_as_cp1252_names_line_byte_and_fix(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(CodebookError) as err:
        load_themes(path)
    msg = str(err.value)
    line = 4 if name.endswith(".yml") else 2
    assert err.value.row == line and name in msg and "not UTF-8" in msg
    assert r"byte b'\xe9'" in msg and "in Windows-1252 it would read 'é'" in msg
    assert "re-save the file as UTF-8" in err.value.fix and f"old{path.suffix}" in err.value.fix
    path.write_text(text, encoding="utf-8")                    # the same file as UTF-8 loads
    assert load_themes(path)["price"].label == "Café prices"


# ----------------------------------------------------------------------------- the quotes step
def _quotes_step(tmp_path, columns: dict, n_quotes=None):
    """Ingest ``{id: (wording, answers)}`` as one segment and run the quotes step:
    ``(QuotesResult, ArtifactStore)``."""
    from personalab import steps
    from personalab.artifacts import ArtifactStore
    from personalab.codebook import Codebook, Question, save_codebook

    answers = list(zip(*(a for _, a in columns.values())))
    rows = ["rid," + ",".join(columns)] + [
        f"r{i}," + ",".join(f'"{a}"' for a in row) for i, row in enumerate(answers)]
    (tmp_path / "wave.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cb = Codebook(survey="s", respondent_id="rid", questions=[
        Question("rid", "Respondent", "id", "ignore")] + [
        Question(q, wording, "text", "profile") for q, (wording, _) in columns.items()])
    save_codebook(cb, tmp_path / "cb.yml")
    out = tmp_path / "out"
    res = steps.ingest(tmp_path / "wave.csv", output_dir=out, codebook_path=tmp_path / "cb.yml")
    ids = res.survey.data.index
    store = ArtifactStore(out)
    store.save("labels", pd.Series(0, index=ids, name="segment"))
    store.save("embedding", pd.DataFrame(np.arange(2 * len(ids), dtype=float).reshape(-1, 2),
                                         index=ids))
    return steps.quotes(out, n_quotes=n_quotes or len(ids), seed=0), store


def test_quotes_step_scores_each_answer_with_its_questions_wording(tmp_path):
    # "Nothing" to "What could we improve?" is praise, to "What did you like?" a complaint;
    # scored without the wording (the column id 'improve' is no question) both were 0.0,
    # and "Nothing, it was perfect ..." was -0.51 (VADER reads 'nothing' as a negation)
    praise = "Nothing, it was perfect and I would not change a thing!"
    improve = [praise, "Nothing", "The checkout page kept freezing on my old phone",
               "Delivery took almost two weeks to reach our town",
               "Prices went up twice this year without any notice",
               "The app logs me out every single time I switch",
               "Customer support never answered my emails about the refund"]
    liked = ["Nothing", "The staff were friendly and quick to help me",
             "Fresh vegetables every week at a fair price for us",
             "Easy returns with a printed label in the box",
             "The weekly recipes gave us new ideas for dinner",
             "Reminders before each delivery so someone is home",
             "Reusable bags that they take back the next time"]
    got, store = _quotes_step(tmp_path, {"improve": ("What could we improve?", improve),
                                         "liked": ("What did you like?", liked)})
    assert got.sentiment.loc["r1", "improve"] == 0.5          # "Nothing": nothing to improve
    assert got.sentiment.loc["r0", "liked"] == -0.5           # "Nothing": nothing liked
    assert got.sentiment.loc["r0", "improve"] > 0.5           # the praise after "Nothing,"
    quoted = got.quotes.set_index(["respondent_id", "question"])
    assert quoted.loc[("r0", "improve"), "sentiment"] > 0.5
    assert store.load("sentiment").loc["r0", "improve"] > 0.5


def test_quotes_step_does_not_quote_other_please_specify_answers(tmp_path):
    """Cantera's headline quote was 'Full-time/Part-time employed by a government agency',
    the typed-in 'Other' of the employment question: a category, not a persona's voice."""
    other = [f"Employed part time by a government agency number {i} here" for i in range(8)]
    wish = ["Better support on Stack Overflow instead of the old mailing group",
            "A faster one dimensional flame solver for our lab models",
            "Easier installation on Windows without the conda detour please",
            "More examples that show surface chemistry with real reactors",
            "Clearer error messages when the mechanism file has typos",
            "A way to call the library from Fortran codes we maintain",
            "Documentation of the transport models with their references",
            "Sensitivity analysis for every reactor type out of the box"]
    got, _ = _quotes_step(tmp_path, {
        "job_other": ("What is your employment status? - Other", other),
        # (a question about the survey itself, "What question do you wish we had asked?",
        # would not be quoted either: test_report_real_shapes)
        "wish": ("What would make Cantera more useful to you?", wish)}, n_quotes=5)
    assert len(got.quotes) == 5 and set(got.quotes["question"]) == {"wish"}
    assert "job_other" in got.sentiment.columns          # still read and scored
