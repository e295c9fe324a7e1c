"""Representative quotes on planted data: known answers for every promise quotes.py makes."""
from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from personalab.quotes import QUOTE_COLUMNS, pii_share, representative_quotes

SEGMENT_SENTENCES = {
    0: ["the price keeps going up every single month", "I compare the cost with cheaper budget apps",
        "the yearly plan is a better deal for my budget", "discounts for students would help my budget",
        "I cancel when the price rises again", "paying monthly adds up to a big cost"],
    1: ["the sync is slow when I open the big reports", "loading the dashboard takes far too long",
        "the app freezes when I export large files", "search results load slowly on my laptop",
        "speed matters most when I am in a meeting", "the reports are slow to refresh in the morning"],
    2: ["the new colours and fonts look lovely", "I enjoy the clean design of the home screen",
        "the icons and layout feel calm and modern", "dark mode makes the design easy on my eyes",
        "the animations and design are playful", "I love the colours of the calendar view"],
}
FAMILY = "my kids and family share the account at home"
FILLER = ["overall I would recommend it", "I use it most days", "that is all I can say",
          "it does the job for me", "I have used it for a while"]
EMAIL = "jane.doe@example.com"
PHONE = "555-201-7788"
PII_RE = re.compile(r"[\w.]+@[\w.]+\w|\b\d{3}-\d{3}-\d{4}\b")


def fake_redact(text: str) -> str:
    """Stand-in for personalab.pii.redact: emails and phone numbers only."""
    return PII_RE.sub(lambda m: "[EMAIL]" if "@" in m.group() else "[PHONE]", text)


def planted(n_per=60, seed=0):
    """Three segments with their own words, plus every trap the selection must avoid."""
    rng = np.random.default_rng(seed)
    texts, labels, tags = {}, {}, {}
    for s, sentences in SEGMENT_SENTENCES.items():
        for i in range(n_per):
            rid = f"S{s}R{i:03d}"
            parts = list(rng.choice(sentences, size=2, replace=False))
            has_family = s == 0 and i % 10 == 0         # 10% of segment 0, nowhere else
            if has_family:
                parts.append(FAMILY)
            parts.append(FILLER[rng.integers(len(FILLER))])
            texts[rid] = ". ".join(p.capitalize() for p in parts) + "."
            labels[rid] = s
            tags[rid] = {"price": int(s == 0), "speed": int(s == 1), "design": int(s == 2),
                         "family": int(has_family)}
    central0 = "The price keeps going up every single month. Paying monthly adds up to a big cost."
    # the most typical-looking answers of segment 0 belong to excluded/flagged respondents
    for k in range(4):
        texts[f"X{k}"], labels[f"X{k}"] = central0 + " I compare the cost with cheaper budget apps.", 0
        texts[f"F{k}"], labels[f"F{k}"] = central0 + " The yearly plan is a better deal for my budget.", 0
    # near-duplicates in segment 1: one typical answer pasted by ten respondents
    dup = "The sync is slow when I open the big reports. Loading the dashboard takes far too long."
    for k in range(10):
        texts[f"D{k}"], labels[f"D{k}"] = dup + (" Really." if k % 2 else ""), 1
    # personal data: a typical answer with an email, and one that is mostly personal data
    for k in range(6):   # several respondents give the same email, so it does not look atypical
        texts[f"P0{k}"], labels[f"P0{k}"] = f"{SEGMENT_SENTENCES[0][k].capitalize()}. {central0} Mail {EMAIL}", 0
    texts["P1"], labels["P1"] = f"Price: {EMAIL} {PHONE} {EMAIL} cost {PHONE}", 0
    # out of length range but on-topic
    texts["L0"], labels["L0"] = "Price and cost.", 0
    texts["L1"], labels["L1"] = ("The price keeps going up every single month and " * 10).strip() + ".", 0
    # unassigned respondents are never quoted
    texts["U0"], labels["U0"] = texts["S0R001"], -1
    for rid in list(texts):
        tags.setdefault(rid, {"price": int(labels[rid] == 0 and not rid.startswith("U")),
                              "speed": int(labels[rid] == 1), "design": int(labels[rid] == 2),
                              "family": 0})
    texts = pd.Series(texts, name="Q9")
    return (texts, pd.Series(labels).loc[texts.index],
            pd.DataFrame.from_dict(tags, orient="index").loc[texts.index])


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def quotes(data):
    texts, labels, tags = data
    return representative_quotes(texts, labels, n=5, tag_matrix=tags,
                                 exclude_ids=[f"X{k}" for k in range(4)],
                                 flagged_ids=pd.DataFrame({"respondent_id": [f"F{k}" for k in range(4)],
                                                           "flag": "speeder"}),
                                 redact=fake_redact, sentiment=False)


def test_shape_and_segments(data, quotes):
    texts, labels, _ = data
    assert list(quotes.columns) == QUOTE_COLUMNS
    assert sorted(quotes["segment"].unique()) == [0, 1, 2]          # never -1
    assert quotes.groupby("segment").size().tolist() == [5, 5, 5]
    assert (quotes["segment"].to_numpy() == labels.loc[quotes["respondent_id"]].to_numpy()).all()
    assert quotes.groupby("segment")["rank"].apply(list).tolist() == [[1, 2, 3, 4, 5]] * 3
    assert not quotes["respondent_id"].duplicated().any()
    assert (quotes["question"] == "Q9").all()
    assert quotes["typicality"].between(0, 1).all()


def test_never_excluded_flagged_or_unassigned(data, quotes):
    texts, labels, tags = data
    ids = set(quotes["respondent_id"])
    assert not ids & ({f"X{k}" for k in range(4)} | {f"F{k}" for k in range(4)} | {"U0"})
    # the guard matters: without the exclusions these respondents are picked
    unguarded = representative_quotes(texts, labels, n=5, tag_matrix=tags, redact=fake_redact,
                                      sentiment=False)
    assert set(unguarded["respondent_id"]) & ({f"X{k}" for k in range(4)} | {f"F{k}" for k in range(4)})


def test_no_planted_pii(data, quotes):
    texts, labels, tags = data
    for text in quotes["text"]:
        assert EMAIL not in text and PHONE not in text and not PII_RE.search(text)
    assert "P1" not in set(quotes["respondent_id"])            # mostly personal data: skipped
    # and redaction really runs: with it off, the planted email reaches the quotes
    raw = representative_quotes(texts, labels, n=5, tag_matrix=tags, redact=False, sentiment=False,
                                exclude_ids=[f"X{k}" for k in range(4)] + [f"F{k}" for k in range(4)])
    assert raw["text"].str.contains(EMAIL, regex=False).any()
    kept = representative_quotes(texts, labels, n=5, tag_matrix=tags, redact=fake_redact,
                                 sentiment=False,
                                 exclude_ids=[f"X{k}" for k in range(4)] + [f"F{k}" for k in range(4)])
    rows = kept[kept["respondent_id"].str.startswith("P0")]
    assert len(rows) >= 1 and rows["redacted"].all() and rows["text"].str.contains("[EMAIL]", regex=False).all()


def test_pii_share():
    assert pii_share("no personal data here", "no personal data here") == 0
    assert pii_share(f"{EMAIL} {PHONE}", fake_redact(f"{EMAIL} {PHONE}")) > 0.6
    assert pii_share(f"write to {EMAIL} about it please", fake_redact(f"write to {EMAIL} about it please")) < 0.6


def test_length_range(quotes):
    assert quotes["n_words"].between(6, 60).all()
    assert not {"L0", "L1"} & set(quotes["respondent_id"])
    short = representative_quotes(*planted()[:2], n=3, min_words=6, max_words=20, redact=fake_redact,
                                  sentiment=False)
    assert short["n_words"].between(6, 20).all()
    assert sorted(short["segment"].unique()) == [0, 1, 2] and len(short) >= 6
    assert short["n_words"].max() < quotes["n_words"].max()


def _jaccard(a, b):
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(wa & wb) / len(wa | wb)


def test_diverse_no_near_duplicates(quotes):
    assert sum(r.startswith("D") for r in quotes["respondent_id"]) <= 1
    for _, group in quotes.groupby("segment"):
        for a, b in combinations(group["text"], 2):
            assert _jaccard(a, b) < 0.7, (a, b)


def test_without_diversity_duplicates_win(data):
    """The planted duplicates are the most typical answers: diversity is what keeps them out."""
    texts, labels, _ = data
    plain = representative_quotes(texts, labels, n=5, diversity=0.0, max_similarity=1.01,
                                  redact=fake_redact, sentiment=False)
    assert sum(r.startswith("D") for r in plain["respondent_id"]) >= 2


def test_covers_distinctive_theme(data, quotes):
    texts, labels, tags = data
    seg0 = quotes[quotes["segment"] == 0]
    assert seg0["themes"].map(lambda t: "family" in t).any()
    assert any("family" in c for c in seg0["covers"])
    assert not quotes[quotes["segment"] != 0]["themes"].map(lambda t: "family" in t).any()
    # the bonus is what brings it in: typicality alone does not
    no_bonus = representative_quotes(texts, labels, n=5, tag_matrix=tags, coverage=0.0, diversity=0.0,
                                     exclude_ids=[f"X{k}" for k in range(4)] + [f"F{k}" for k in range(4)],
                                     redact=fake_redact, sentiment=False)
    assert not no_bonus[no_bonus["segment"] == 0]["themes"].map(lambda t: "family" in t).any()


def test_identical_across_runs_and_row_order(data, quotes):
    texts, labels, tags = data
    kwargs = dict(n=5, tag_matrix=tags, exclude_ids=[f"X{k}" for k in range(4)],
                  flagged_ids=[f"F{k}" for k in range(4)], redact=fake_redact, sentiment=False)
    again = representative_quotes(texts, labels, **kwargs)
    pd.testing.assert_frame_equal(quotes, again)
    order = np.random.default_rng(3).permutation(len(texts))
    shuffled = representative_quotes(texts.iloc[order], labels.iloc[order], **kwargs)
    pd.testing.assert_frame_equal(quotes, shuffled)


def test_embedding_typicality(data):
    texts, labels, _ = data
    rng = np.random.default_rng(1)
    centres = {0: (0, 0), 1: (10, 0), 2: (0, 10)}
    emb = pd.DataFrame([np.add(centres[labels[r]] if labels[r] >= 0 else (5, 5), rng.normal(0, 1, 2))
                        for r in texts.index], index=texts.index, columns=["d1", "d2"])
    q = representative_quotes(texts, labels, n=5, embedding=emb, redact=fake_redact, sentiment=False,
                              diversity=0.0, max_similarity=1.01)
    assert q["typicality_answers"].notna().all()
    # the same call with positions instead of a DataFrame gives the same quotes
    q2 = representative_quotes(texts, labels, n=5, embedding=emb.to_numpy(), redact=fake_redact,
                               sentiment=False, diversity=0.0, max_similarity=1.01)
    pd.testing.assert_frame_equal(q, q2)
    # a respondent at the very centre of a segment's embedding becomes more typical
    far = emb.copy()
    seg2 = labels.index[labels == 2]
    pick = sorted(seg2)[-1]
    far.loc[pick] = emb.loc[seg2.drop(pick)].mean().to_numpy()   # exactly the segment's centre
    q3 = representative_quotes(texts, labels, n=len(texts), embedding=far, redact=fake_redact,
                               sentiment=False, diversity=0.0, max_similarity=1.01)
    row = q3[q3["respondent_id"] == pick]
    assert len(row) == 1 and row["typicality_answers"].item() == 1.0


def test_multi_question_dataframe(data):
    texts, labels, _ = data
    frame = pd.DataFrame({"Q9": texts, "Q10": texts.map(lambda t: "Also: " + t.lower())})
    sent = pd.Series(np.linspace(-1, 1, len(texts)), index=texts.index)
    q = representative_quotes(frame, labels, n=6, redact=fake_redact, sentiment=sent)
    assert set(q["question"]) <= {"Q9", "Q10"}
    assert not q["respondent_id"].duplicated().any()
    assert (q["sentiment"].to_numpy() == sent.loc[q["respondent_id"]].to_numpy()).all()
    assert q.groupby("segment").size().tolist() == [6, 6, 6]


def test_sentiment_default_uses_sentiment_module(data):
    pytest.importorskip("personalab.sentiment")
    texts, labels, _ = data
    q = representative_quotes(texts, labels, n=2, redact=fake_redact)
    assert q["sentiment"].between(-1, 1).all()


def test_real_redaction_removes_planted_pii(data):
    pytest.importorskip("personalab.pii")
    texts, labels, tags = data
    q = representative_quotes(texts, labels, n=5, tag_matrix=tags, redact=True, sentiment=False,
                              exclude_ids=[f"X{k}" for k in range(4)] + [f"F{k}" for k in range(4)])
    assert not q["text"].str.contains(EMAIL, regex=False).any()
    assert not q["text"].str.contains(PHONE, regex=False).any()


def test_bad_input_errors(data):
    texts, labels, _ = data
    with pytest.raises(ValueError, match="labels for"):
        representative_quotes(texts, labels.to_numpy()[:-1], redact=False)
    with pytest.raises(ValueError, match="min_words"):
        representative_quotes(texts, labels, min_words=10, max_words=5, redact=False)


def test_a_survey_without_open_questions_gives_no_quotes():
    texts = pd.DataFrame(index=pd.Index(["a", "b"], name="respondent_id"))
    out = representative_quotes(texts, pd.Series([0, 1], index=texts.index))
    assert out.empty and list(out.columns) == QUOTE_COLUMNS


def test_large_groups_are_sampled_before_the_text_space(data, monkeypatch):
    import personalab.quotes as qmod

    texts, labels, tags = data
    kwargs = dict(n=3, tag_matrix=tags, exclude_ids=[f"X{k}" for k in range(4)],
                  flagged_ids=[f"F{k}" for k in range(4)], redact=fake_redact, sentiment=False)
    full = representative_quotes(texts, labels, max_answers=None, **kwargs)
    # a cap above every group changes nothing
    pd.testing.assert_frame_equal(full, representative_quotes(texts, labels, max_answers=10_000,
                                                              **kwargs))
    seen = []
    real = qmod.TfidfVectorizer.fit_transform

    def counting(self, docs, y=None):
        seen.append(len(docs))
        return real(self, docs, y)

    monkeypatch.setattr(qmod.TfidfVectorizer, "fit_transform", counting)
    capped = representative_quotes(texts, labels, max_answers=20, random_state=7, **kwargs)
    # three segments and the unassigned respondent: at most 20 answers each enter the space
    assert seen == [61]
    assert capped.groupby("segment").size().tolist() == [3, 3, 3]
    assert not capped["respondent_id"].str.match(r"[XFU]").any()
    # the sample is seeded and drawn in id order: same seed, any row order, same quotes
    order = np.random.default_rng(5).permutation(len(texts))
    again = representative_quotes(texts.iloc[order], labels.iloc[order], max_answers=20,
                                  random_state=7, **kwargs)
    pd.testing.assert_frame_equal(capped, again)
    other = representative_quotes(texts, labels, max_answers=20, random_state=8, **kwargs)
    assert set(other["respondent_id"]) != set(capped["respondent_id"])
    with pytest.raises(Exception, match="max_answers"):
        representative_quotes(texts, labels, max_answers=0, **kwargs)


def test_sentiment_of_quotes_knows_the_question():
    """Issue 14: "Nothing really" to "what could we improve?" is positive, to "what did
    you like?" negative; the quotes' own sentiment uses each question's wording."""
    ids = [f"R{i}" for i in range(6)]
    texts = pd.DataFrame({"Q1": ["Nothing really", "Nothing", "No complaints", "None", "n/a",
                                 "Nothing at all"],
                          "Q2": ["Nothing", "None really", "Nothing at all", "Not really", "no",
                                 "Nothing comes to mind"]}, index=ids)
    labels = pd.Series([0] * 6, index=ids)
    q = representative_quotes(texts, labels, n=6, redact=False, max_similarity=1.01,
                              min_words=1, questions={"Q1": "What could we improve?",
                                                      "Q2": "What did you like most?"})
    assert set(q["question"]) == {"Q1", "Q2"}
    by_question = q.groupby("question")["sentiment"].agg(["min", "max"])
    assert by_question.loc["Q1", "min"] > 0.3
    assert by_question.loc["Q2", "max"] < -0.3
