"""PII redaction: planted spans are found, ordinary words are left alone."""
from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.pii import find_pii, first_names, redact, redact_series

EMAILS = ["sarah.shah@example.com", "j_okafor+survey@mail.example.org", "TOM@EXAMPLE.NET",
          "mei.chen42@example.co.uk"]
PHONES = ["(312) 555-0147", "312-555-0147", "312.555.0147", "555-0123", "+1 312 555 0147",
          "+1-312-555-0147", "020 7946 0018", "0161 496 0000", "07700 900123", "+44 7700 900123",
          "+44 (0)20 7946 0018", "+49 30 901820", "+33 1 23 45 67 89", "07700900123"]
URLS = ["https://www.example.com/blog/budgeting-tips-3", "http://forum.example.org/t/review/42",
        "www.example.net/money/7", "example.com/signup?ref=abc"]
ADDRESSES = ["42 Maple St, Springfield, IL 62704", "1600 Oak Avenue, Portland, OR 97201",
             "7 Cedar Road, Austin, TX 78701", "12 Queen's Road, Leeds LS1 4AP",
             "221B Station Lane, Bristol BS1 5TR", "3 Mill Street, Manchester M1 2AB",
             "88 Pine Blvd, Columbus, OH 43004"]
POSTCODES = ["LS1 4AP", "SE1 7PB", "M1 2AB", "CF10 1EP", "G2 3BZ", "EC1A 1BB"]
NAMES = ["Sarah", "James Smith", "Priya Patel", "Mohammed", "Chloe Evans", "Kwame", "Tariq Ahmed",
         "Mei", "Carlos Garcia", "Grace", "Will", "Mark Brown", "May", "Ana", "Luca Rossi", "Bill"]

TEMPLATES = {
    "email": ["Email me at {} if you want to chat.", "Happy to do an interview, my email is {}",
              "Contact: {}."],
    "phone": ["Call me on {} for the interview.", "Text me at {} if you have questions.",
              "My number is {}, evenings are best."],
    "url": ["This guide helped me a lot {}", "I wrote about it here {}.", "See {} for details"],
    "address": ["Send the gift card to {} please.", "I live at {}."],
    "postcode": ["I'm near {}, is there a local meetup?", "Postcode {} if that helps."],
    "name": ["My manager {} said I should try a budgeting app.", "My accountant {} recommended it.",
             "{} from your support team was lovely.", "My sister {} uses it too.",
             "Great app overall - {}", "I spoke to {} at the bank and they were helpful.",
             "Thanks, {}"],
}
VALUES = {"email": EMAILS, "phone": PHONES, "url": URLS, "address": ADDRESSES,
          "postcode": POSTCODES, "name": NAMES}

# PII-free answers full of the traps: names that are words, numbers, amounts, dates.
CLEAN = [
    "Will this app ever get better at categories?", "May is always an expensive month for us.",
    "I got a bill in the mail and forgot to log it.", "Mark my words, budgeting apps are the future.",
    "The grace period on payments is too short.", "I hope the price stays the same.",
    "Frank feedback: the charts are confusing.", "Chase Bank syncs badly.",
    "It costs $12.99 a month, up from $9.99 in 2023.", "I save 15% of my salary, about 450 a month.",
    "We paid off 3 credit cards between 2019 and 2021.", "Version 2.4.1 broke the widget.",
    "Rose gold theme please!", "Joy is hard to find in a spreadsheet.", "Sunny days, cloudy budgets.",
    "Summer holidays wreck my budget every July.", "I read it in the Daily Mail.",
    "Bank of America and Wells Fargo both work.", "The April update fixed syncing.",
    "Save for a trip to Japan with Monzo and HSBC.", "Overall the app is fine.",
    "Dawn is when I check my balance.", "Grant applications for my business are tedious.",
    "Hunter green would be a nicer colour.", "The Young Savers account is great.",
    "Honestly I'd pay 5 dollars for this.", "Top 10 feature: the 50/30/20 rule.",
    "Stop living in my overdraft every month.", "Thanks for listening!",
    "Support was quick to reply.", "Love the design so far.", "Track my stocks and crypto in the same app.",
    "Budget for 2 kids, 1 dog and 3 cars.", "Page 3 of the settings is confusing.",
    "I use it daily, about 10 minutes each time.", "Price went from 4.99 to 7.99 this year.",
]


def planted(n=400, seed=11):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = rng.choice(sorted(TEMPLATES))
        value = rng.choice(VALUES[kind])
        template = rng.choice(TEMPLATES[kind])
        text = template.format(value)
        start = template.index("{}")
        rows.append((f"R{i:04d}", text, kind, start, start + len(value)))
    return pd.DataFrame(rows, columns=["answer_id", "text", "kind", "start", "end"])


def covered(spans, start, end):
    return any(s <= start and end <= e for _, s, e in spans)


def test_planted_pii_recall():
    df = planted()
    found = [find_pii(t) for t in df.text]
    hits = np.array([covered(f, s, e) for f, s, e in zip(found, df.start, df.end)])
    by_kind = pd.Series(hits).groupby(df.kind.to_numpy()).mean()
    assert hits.mean() >= 0.95, by_kind
    assert by_kind.min() >= 0.9, by_kind


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_every_planted_value_of_a_kind_is_found(kind):
    for value, template in itertools.product(VALUES[kind], TEMPLATES[kind][:2]):
        text = template.format(value)
        out = redact(text)
        assert value not in out, (text, out)


def test_placeholders_by_kind():
    assert redact("Email me at a.b@example.com.") == "Email me at [email]."
    assert redact("Call (312) 555-0147 today") == "Call [phone] today"
    assert redact("See https://example.com/x, thanks") == "See [url], thanks"
    assert redact("I'm near LS1 4AP now") == "I'm near [postcode] now"
    assert redact("Send it to 42 Maple St, Springfield, IL 62704 please.") == \
        "Send it to [address] please."
    assert redact("My manager Kwame Okafor said so") == "My manager [name] said so"


def test_clean_text_keeps_ordinary_words():
    changed = [(t, redact(t)) for t in CLEAN if redact(t) != t]
    # a few false positives are tolerable, not more than 1 answer in 20
    assert len(changed) <= len(CLEAN) // 20, changed
    words = sum(len(t.split()) for t in CLEAN)
    redacted = sum(len(find_pii(t)) for t in CLEAN)
    assert redacted / words <= 0.01


@pytest.mark.parametrize("text", ["Will this ever sync?", "May was expensive.", "I paid the bill.",
                                  "Mark it as income.", "Grace period please."])
def test_ambiguous_names_need_a_name_context(text):
    assert redact(text) == text


@pytest.mark.parametrize("text,expected", [
    ("My manager Will said to try it", "My manager [name] said to try it"),
    ("Grace from support fixed it", "[name] from support fixed it"),
    ("Bill Murphy recommended it", "[name] recommended it"),
    ("Great app - May", "Great app - [name]"),
])
def test_ambiguous_names_in_name_context(text, expected):
    assert redact(text) == expected


def test_redact_series_spans_point_into_original_text():
    df = planted(100, seed=3)
    texts = pd.Series(list(df.text) + [None, ""], index=list(df.answer_id) + ["X1", "X2"])
    red, spans = redact_series(texts, nlp=None)
    assert list(red.index) == list(texts.index)
    assert pd.isna(red["X1"]) and red["X2"] == ""
    assert list(spans.columns) == ["answer_id", "kind", "start_char", "end_char", "text"]
    for row in spans.itertuples():
        assert texts[row.answer_id][row.start_char:row.end_char] == row.text
    assert set(spans.kind) == set(VALUES)
    for answer_id, text in red.dropna().items():
        assert not re.search(r"@example\.", text)


def test_first_name_list_is_loaded():
    names = first_names()
    assert len(names) > 4000
    assert {"sarah", "james", "priya"} <= names


SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
TRUTH_DIR = Path(__file__).resolve().parent / "fixtures" / "sample_truth"


@pytest.mark.skipif(not (TRUTH_DIR / "sample_wave_pii.csv").exists(), reason="sample not generated")
@pytest.mark.parametrize("wave", ["sample_wave", "wave2"])
def test_sample_planted_pii_recall_and_false_positives(wave):
    from personalab.loaders import load_export

    data = load_export(SAMPLE_DIR / f"{wave}.csv").data.set_index("ResponseId")
    pii = pd.read_csv(TRUTH_DIR / f"{wave}_pii.csv", keep_default_na=False)
    planted = {}
    for row in pii.itertuples():
        planted.setdefault((row.ResponseId, row.question), []).append((row.start, row.end))
    hits, false_pos, words = [], 0, 0
    for q in ("Q8", "Q9"):
        for rid, text in data[q].dropna().items():
            spans = find_pii(text)
            words += len(text.split())
            truth = planted.get((rid, q), [])
            hits += [covered(spans, s, e) for s, e in truth]
            false_pos += sum(1 for _, s, e in spans if not any(s < te and ts < e for ts, te in truth))
    assert len(hits) == len(pii) and len(hits) > 20
    assert np.mean(hits) >= 0.95
    assert false_pos / words <= 0.002


# --------------------------------------------------------------------------- issue 14: names
NAMES_DIR = Path(__file__).resolve().parent / "fixtures" / "pii_names"


def name_words(path):
    """(gold, predicted) name words of every sentence of a ``{marked}`` fixture file."""
    gold_all, pred_all = set(), set()
    for i, marked in enumerate(pd.read_csv(path)["marked_text"]):
        text = marked.replace("{", "").replace("}", "")
        gold, shift = [], 0
        for m in re.finditer(r"\{([^}]*)\}", marked):
            gold.append((m.start() - shift, m.start() - shift + len(m.group(1))))
            shift += 2
        spans = [(s, e) for kind, s, e in find_pii(text) if kind == "name"]
        for w in re.finditer(r"[A-Za-z][\w'.-]*", text):
            if any(s < w.end() and w.start() < e for s, e in gold):
                gold_all.add((i, w.start()))
            if any(s < w.end() and w.start() < e for s, e in spans):
                pred_all.add((i, w.start()))
    return gold_all, pred_all


@pytest.mark.parametrize("fixture,min_precision,min_recall", [
    # built with the rules (235 sentences): measured 1.000 / 1.000; before 0.454 / 0.517
    ("pii_names.csv", 0.95, 0.95),
    # written after the rules, never tuned on (30 sentences): measured 0.926 / 1.000;
    # before 0.429 / 0.360
    ("pii_names_heldout.csv", 0.85, 0.9),
])
def test_name_redaction_precision_and_recall(fixture, min_precision, min_recall):
    gold, pred = name_words(NAMES_DIR / fixture)
    assert len(gold) > 20
    precision = len(gold & pred) / max(len(pred), 1)
    recall = len(gold & pred) / len(gold)
    assert precision >= min_precision and recall >= min_recall, (precision, recall)


@pytest.mark.parametrize("text,expected", [
    ("I wrote to Mayor Thompson about it.", "I wrote to Mayor [name] about it."),
    ("Dr. Okafor was kind.", "Dr. [name] was kind."),
    ("Senator Maria Delgado visited.", "Senator [name] visited."),
    ("Councillor O'Brien never replied.", "Councillor [name] never replied."),
    ("I spoke to Dr Patel on Monday.", "I spoke to Dr [name] on Monday."),
    ("Officer James Park helped.", "Officer [name] helped."),
])
def test_names_after_titles_are_redacted_and_the_title_kept(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "We moved here in June from Jackson Street.", "The meeting is on Tuesday on Maple Avenue.",
    "Jordan Park was closed in April.", "Potholes on Grant Lane again.",
    "My Honda Civic broke in January.", "I drive a Ford Focus.", "General Motors closed the plant.",
    "The Chief Executive resigned.", "St Mary's Hospital was great.", "Lincoln Park on Sunday.",
])
def test_months_streets_places_and_products_are_not_names(text):
    assert redact(text) == text
