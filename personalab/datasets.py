"""Synthetic survey waves with known answers, in the spirit of scikit-learn's ``make_blobs``.

:func:`make_survey` draws a product-research survey for "Coinpath", a fictional budgeting
app, as a Qualtrics choice-text export would hold it, together with everything a test needs
to know about it: the planted segment of every respondent, the planted data-quality problems,
the planted themes and negations of every open-text answer and the exact span of every piece
of planted personal data.

The survey itself (questions, segment profiles) lives in ``resources/synthetic_survey.yml``
and the text banks (themes, sentences, names) in ``resources/synthetic_text.yml``, so the
content can be read and reviewed without reading code.

Everything is vectorised: a million respondents take seconds, and the same arguments always
give byte-identical files.

Examples
--------
>>> from personalab.datasets import make_survey
>>> wave = make_survey(300, random_state=1)
>>> wave.raw.shape[0]
300
>>> sorted(wave.truth["segment"].dropna().unique())[:2]
['freelancers', 'goal_savers']

Regenerate the bundled sample (``data/sample``) and its ground truth
(``tests/fixtures/sample_truth``)::

    python -m personalab.datasets data/sample
"""
from __future__ import annotations

import argparse
import copy
import csv
import functools
import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from . import paths

__all__ = ["SyntheticWave", "make_survey", "write_qualtrics_csv", "write_sample",
           "WAVE2_SHARES", "META_COLUMNS"]

#: Qualtrics metadata columns, in export order: (column id, row-2 label, row-3 ImportId JSON).
_META = [
    ("StartDate", "Start Date", {"ImportId": "startDate", "timeZone": "America/Denver"}),
    ("EndDate", "End Date", {"ImportId": "endDate", "timeZone": "America/Denver"}),
    ("Status", "Response Type", {"ImportId": "status"}),
    ("IPAddress", "IP Address", {"ImportId": "ipAddress"}),
    ("Progress", "Progress", {"ImportId": "progress"}),
    ("Duration (in seconds)", "Duration (in seconds)", {"ImportId": "duration"}),
    ("Finished", "Finished", {"ImportId": "finished"}),
    ("RecordedDate", "Recorded Date", {"ImportId": "recordedDate", "timeZone": "America/Denver"}),
    ("ResponseId", "Response ID", {"ImportId": "_recordId"}),
    ("DistributionChannel", "Distribution Channel", {"ImportId": "distributionChannel"}),
    ("UserLanguage", "User Language", {"ImportId": "userLanguage"}),
]
META_COLUMNS = [c for c, _, _ in _META]

#: Planted segment shares of the bundled second wave: every wave-1 segment shifts and the
#: emerging ``investors`` segment (absent from wave 1) takes 8%.
WAVE2_SHARES = {"planners": 0.21, "goal_savers": 0.20, "overwhelmed": 0.205, "household": 0.14,
                "freelancers": 0.11, "privacy_first": 0.055, "investors": 0.08}

# Default number of planted problems, as a share of n_respondents (1,500 -> 15, 12, 9, 6, 22, 18).
_DEFAULT_RATES = {"n_speeders": 0.01, "n_straightliners": 0.008, "n_duplicates": 0.006,
                  "n_test_rows": 0.004, "n_incomplete": 0.015, "n_attention_failures": 0.012}

_LIKERT_NOISE = 0.85      # sd of an answer around the segment mean, on the 1..5 scale
_RESPONDENT_SHIFT = 0.30  # sd of a respondent's overall lean (acquiescence), same scale
_MEDIAN_DURATION = 560    # seconds an ordinary complete response takes (median)
# a full stop that ends a sentence (not the one in "£7.99"), dropped by hurried typists
_FULL_STOP = re.compile(r"\.(\s|$)")

# Answer-style rates of the open-text questions.
_TEXT_RATES = {"blank": {"Q8": 0.07, "Q9": 0.09}, "one_word": 0.04, "second_theme": 0.22,
               "negation": 0.05, "filler": 0.10, "typo": 0.10, "lower": 0.12, "emoji": 0.06,
               "pii": 0.04, "unlisted": 0.12}


@dataclass
class SyntheticWave:
    """A synthetic survey wave: the raw export plus everything known about it.

    Attributes
    ----------
    raw : DataFrame
        The export as a Qualtrics choice-text CSV holds it: one row per response (RangeIndex),
        metadata columns first, every value a string (missing = NaN).
    labels : dict
        Column id -> question text (row 2 of the Qualtrics header).
    import_ids : dict
        Column id -> the row-3 ``{"ImportId": ...}`` JSON of the Qualtrics header.
    codebook : dict
        The survey codebook (schema_version 1, see docs/design.md).
    themes : dict
        The theme codebook for the open-text questions (schema_version 1).
    truth : DataFrame
        One row per ``raw`` row, same order: ``ResponseId``, ``segment`` (NaN for test rows),
        the planted quality problems (``is_test``, ``is_duplicate``, ``duplicate_of``,
        ``is_speeder``, ``is_straightliner``, ``is_incomplete``, ``fails_attention``),
        ``is_emerging`` and, per open-text question, the planted themes (``Q8_themes``,
        ``';'``-joined theme ids, child themes without their parent) and the negated theme
        (``Q8_negated``: a theme that is mentioned under a negation and must not count) and
        the themes said in words the theme codebook does not list (``Q8_unlisted``: a
        paraphrase that rules cannot find, but that still counts as the theme).
    pii : DataFrame
        Every planted piece of personal data in the open text: ``ResponseId``, ``question``,
        ``start``, ``end`` (Python string offsets: ``text[start:end]`` is the span), ``kind``
        (email, phone, person, url, address, postcode) and ``text``.
    segments : DataFrame
        One row per planted segment: ``segment``, ``name``, ``planted_share``, ``n``
        (genuine respondents) and ``n_rows`` (rows, near-duplicates included).
    planted : dict
        Counts of each planted quality problem.
    wave : str
        The wave name.
    params : dict
        The arguments it was made with.
    """

    raw: pd.DataFrame
    labels: dict
    import_ids: dict
    codebook: dict
    themes: dict
    truth: pd.DataFrame
    pii: pd.DataFrame
    segments: pd.DataFrame
    planted: dict = field(default_factory=dict)
    wave: str = "sample"
    params: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- resources
@functools.lru_cache(maxsize=None)
def _spec() -> dict:
    with open(paths.RESOURCES_DIR / "synthetic_survey.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@functools.lru_cache(maxsize=None)
def _text_spec() -> dict:
    with open(paths.RESOURCES_DIR / "synthetic_text.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _expand(template: str, slots: dict) -> list[str]:
    """Every filling of a template's ``{slot}`` placeholders, in a fixed order."""
    names = re.findall(r"\{(\w+)\}", template)
    if not names:
        return [template]
    out = []
    for combo in itertools.product(*(slots[n] for n in names)):
        s = template
        for n, v in zip(names, combo):
            s = s.replace("{" + n + "}", str(v), 1)
        out.append(s)
    return out


def _typo(sentence: str, typos: dict, protected: set) -> str:
    """The sentence with its first common word misspelt (never a word of a theme phrase)."""
    words = sentence.split(" ")
    for i, w in enumerate(words):
        core = w.strip(".,?!").lower()
        if core in typos and core not in protected:
            bad = typos[core]
            if w[:1].isupper():
                bad = bad[:1].upper() + bad[1:]
            words[i] = w.replace(w.strip(".,?!"), bad, 1)
            return " ".join(words)
    # no common word to misspell: a sloppy variant instead (no capital, no full stop)
    return sentence[:1].lower() + sentence[1:].rstrip(".")


@functools.lru_cache(maxsize=None)
def _banks() -> dict:
    """Sentence banks as flat arrays with per-theme offsets (independent of the seed)."""
    spec = _text_spec()
    theme_ids = [t["id"] for t in spec["themes"]]
    protected = {w.lower() for t in spec["themes"] for p in t["phrases"] for w in p.split()}
    out = {"theme_ids": theme_ids}
    for q in ("Q8", "Q9"):
        qthemes = [t for t in theme_ids if t in spec["sentences"][q]]

        def flat(section):
            sents, offs, sizes = [], [], []
            for t in qthemes:
                expanded = [s for tpl in section[t] for s in _expand(tpl, spec["slots"])]
                offs.append(len(sents))
                sizes.append(len(expanded))
                sents.extend(expanded)
            return sents, offs, sizes

        sents, offs, sizes = flat(spec["sentences"][q])
        # phrasings the theme codebook does not list, for every theme of the question
        usents, uoffs, usizes = flat(spec["unlisted"][q])
        neg_themes = [t for t in theme_ids if t in spec["negations"].get(q, {})]
        negs, neg_theme = [], []
        for t in neg_themes:
            for s in spec["negations"][q][t]:
                negs.append(s)
                neg_theme.append(t)
        words = list(spec["one_word"][q])
        out[q] = {
            "themes": qthemes,
            "sentences": np.array(sents, dtype=object),
            "typos": np.array([_typo(s, spec["typos"], protected) for s in sents], dtype=object),
            "offsets": np.array(offs), "sizes": np.array(sizes),
            "unlisted": np.array(usents, dtype=object),
            "unlisted_typos": np.array([_typo(s, spec["typos"], protected) for s in usents],
                                       dtype=object),
            "unlisted_offsets": np.array(uoffs), "unlisted_sizes": np.array(usizes),
            "negations": np.array(negs, dtype=object),
            "negation_theme": np.array(neg_theme, dtype=object),
            "fillers": np.array(spec["fillers"][q], dtype=object),
            "one_word": np.array(words, dtype=object),
            "one_word_theme": np.array([spec["one_word"][q][w] for w in words], dtype=object),
        }
    return out


# ----------------------------------------------------------------------------- helpers
def _draw(rng, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """One categorical draw per row, from the probability row of its group."""
    cum = np.cumsum(probs, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(len(groups))
    return (u[:, None] >= cum[groups]).sum(axis=1)


def _largest_remainder(shares: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n that are as close to shares * n as possible."""
    exact = shares * n
    counts = np.floor(exact).astype(int)
    rest = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _response_ids(rng, n: int) -> np.ndarray:
    """Qualtrics-style ids, ``R_`` and 15 letters or digits, unique; a bytes (S17) array."""
    alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                             dtype=np.uint8)
    while True:
        digits = rng.integers(0, 62, size=(n, 15))
        # the first 10 characters as one base-62 number: unique numbers, unique ids
        key = (digits[:, :10] * 62 ** np.arange(10, dtype=np.int64)).sum(1)
        if len(np.unique(key)) == n:
            break  # 62**10 makes another round practically impossible
    codes = np.empty((n, 17), dtype=np.uint8)
    codes[:, :2] = np.frombuffer(b"R_", dtype=np.uint8)
    codes[:, 2:] = alphabet[digits]
    return codes.view("S17").ravel()


def _str_series(values: pa.Array) -> pd.Series:
    """A pandas string Series straight from Arrow (object arrays convert 10x slower)."""
    return pd.Series(values, dtype="str")


def _joined(options: list[str]) -> np.ndarray:
    """Lookup: bit pattern of ticked options -> Qualtrics joined answer (None when empty)."""
    out = np.empty(2 ** len(options), dtype=object)
    for code in range(len(out)):
        chosen = [o for i, o in enumerate(options) if code >> i & 1]
        out[code] = ",".join(chosen) if chosen else None
    return out


def _multi(rng, probs: np.ndarray, seg: np.ndarray, exclusive: int | None,
           p_fill: float) -> np.ndarray:
    """Bit patterns of a multi-select question."""
    ticks = rng.random((len(seg), probs.shape[1])) < probs[seg]
    fill = rng.random(len(seg)) < p_fill
    if exclusive is not None:
        # an exclusive option ("Nothing in particular") clears the others
        alone = ticks[:, exclusive].copy()
        ticks[alone] = False
        ticks[alone, exclusive] = True
        none = ~ticks.any(1)
        ticks[none & fill, exclusive] = True
    else:
        none = ~ticks.any(1)
        ticks[none & fill, -1] = True
    return (ticks * (1 << np.arange(probs.shape[1]))).sum(1)


def _seed_sequence(random_state):
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2 ** 63)))
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2 ** 31)))
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.SeedSequence(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got "
                    f"{type(random_state).__name__}")


def _resolve_shares(segments: list[dict], segment_shares) -> np.ndarray:
    ids = [s["id"] for s in segments]
    if segment_shares is None:
        shares = np.array([s["share"] for s in segments], dtype=float)
        if "investors" in ids:
            # the emerging segment takes its share from the others, proportionally
            base = shares[:-1] / shares[:-1].sum() * (1 - shares[-1])
            shares = np.append(base, shares[-1])
        return shares / shares.sum()
    if isinstance(segment_shares, dict):
        unknown = set(segment_shares) - set(ids)
        if unknown or len(segment_shares) != len(ids):
            raise ValueError(f"segment_shares must give a share for each of {ids}, got "
                             f"{sorted(segment_shares)}")
        shares = np.array([segment_shares[i] for i in ids], dtype=float)
    else:
        shares = np.asarray(segment_shares, dtype=float)
        if shares.shape != (len(ids),):
            raise ValueError(f"segment_shares needs {len(ids)} values (one per segment: {ids}), "
                             f"got {shares.shape[0] if shares.ndim else 'a scalar'}")
    if (shares <= 0).any() or abs(shares.sum() - 1) > 1e-6:
        raise ValueError(f"segment_shares must be positive and sum to 1, got {shares.tolist()}")
    return shares


# ----------------------------------------------------------------------------- open text
def _answers(rng, q: str, seg: np.ndarray, segments: list[dict]):
    """Open-text answers of one question, with their planted themes and negations.

    Returns text (object array, None = blank), themes (';'-joined ids), negated theme id,
    unlisted themes (';'-joined ids of the themes said in words the codebook does not list)
    and kind (0 blank, 1 one-word, 2 sentence).
    """
    bank = _banks()[q]
    rates = _TEXT_RATES
    n = len(seg)
    qthemes = bank["themes"]
    # theme probabilities per segment: the listed weights plus the rest spread evenly
    probs = np.zeros((len(segments), len(qthemes)))
    for k, s in enumerate(segments):
        w = s["text"][q]
        probs[k] = (1 - sum(w.values())) / len(qthemes)
        for t, p in w.items():
            probs[k, qthemes.index(t)] += p
    names = np.array(qthemes, dtype=object)

    def sentence(t, u_pick, u_typo, unlisted):
        i = bank["offsets"][t] + np.floor(u_pick * bank["sizes"][t]).astype(int)
        out = np.where(u_typo < rates["typo"], bank["typos"][i], bank["sentences"][i])
        j = bank["unlisted_offsets"][t] + np.floor(u_pick * bank["unlisted_sizes"][t]).astype(int)
        return np.where(unlisted, np.where(u_typo < rates["typo"], bank["unlisted_typos"][j],
                                           bank["unlisted"][j]), out)

    u = rng.random((n, 12))
    t1 = _draw(rng, probs, seg)
    t2 = _draw(rng, probs, seg)
    # blanks and one-word answers replace the sentence (decided first: see `unlisted` below)
    kind_u = rng.random(n)
    blank = kind_u < rates["blank"][q]
    one = (kind_u >= rates["blank"][q]) & (kind_u < rates["blank"][q] + rates["one_word"])
    two = (u[:, 2] < rates["second_theme"]) & (t1 != t2)
    # unlisted phrasings: exactly round(rate * mentions) of each theme's sentence mentions,
    # those with the smallest uniforms, so that every theme has the same share of them
    said = ~blank & ~one
    m_theme = np.concatenate([t1[said], t2[said & two]])
    m_u = np.concatenate([u[said, 10], u[said & two, 11]])
    order = np.lexsort((m_u, m_theme))
    per_theme = np.bincount(m_theme, minlength=len(qthemes))
    first = np.concatenate([[0], np.cumsum(per_theme)[:-1]])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first[m_theme[order]]
    chosen = rank < np.rint(rates["unlisted"] * per_theme[m_theme])
    un1 = np.zeros(n, bool)
    un2 = np.zeros(n, bool)
    un1[said] = chosen[:said.sum()]
    un2[said & two] = chosen[said.sum():]
    text = sentence(t1, u[:, 0], u[:, 1], un1)
    text[two] = text[two] + " " + sentence(t2[two], u[two, 3], u[two, 4], un2[two])
    # themes in codebook order (qthemes is), so the truth string is canonical
    themes = np.where(two, names[np.minimum(t1, t2)] + ";" + names[np.maximum(t1, t2)],
                      names[t1])
    # the unlisted ones among them, in the same order
    swap = two & (t2 < t1)
    un_a, un_b = np.where(swap, un2, un1), two & np.where(swap, un1, un2)
    name_a, name_b = names[np.where(swap, t2, t1)], names[np.where(swap, t1, t2)]
    unlisted = np.where(un_a, name_a, "").astype(object)
    unlisted[un_a & un_b] = unlisted[un_a & un_b] + ";"
    unlisted[un_b] = unlisted[un_b] + name_b[un_b]
    negated = np.full(n, "", dtype=object)
    if len(bank["negations"]):
        j = np.floor(u[:, 5] * len(bank["negations"])).astype(int)
        nt = bank["negation_theme"][j]
        clash = (nt == names[t1]) | (two & (nt == names[t2]))
        neg = (u[:, 6] < rates["negation"]) & ~clash
        before = neg & (u[:, 6] < 0.4 * rates["negation"])  # 40% open with the negation
        after = neg & ~before
        text[after] = text[after] + " " + bank["negations"][j[after]]
        text[before] = bank["negations"][j[before]] + " " + text[before]
        negated[neg] = nt[neg]
    filler = u[:, 7] < rates["filler"]
    fi = np.floor(u[:, 8] * len(bank["fillers"])).astype(int)
    text[filler] = text[filler] + " " + bank["fillers"][fi[filler]]
    # styles: all lower case without full stops; an emoji at the end
    style = u[:, 9]
    low = np.flatnonzero(style < rates["lower"])
    text[low] = [_FULL_STOP.sub(r"\1", s.lower()) for s in text[low]]
    emo = (style > 1 - rates["emoji"])
    emojis = np.array(_text_spec()["emoji"], dtype=object)
    text[emo] = text[emo] + " " + emojis[rng.integers(0, len(emojis), n)[emo]]
    # one-word answers and blanks replace the sentence
    wi = rng.integers(0, len(bank["one_word"]), n)
    text[one] = bank["one_word"][wi[one]]
    themes[one] = bank["one_word_theme"][wi[one]]
    negated[one | blank] = ""
    unlisted[one | blank] = ""
    text[blank] = None
    themes[blank] = ""
    kind = np.full(n, 2, dtype=np.int8)
    kind[one] = 1
    kind[blank] = 0
    return text, themes, negated, unlisted, kind


class _Draws:
    """Pre-drawn uniforms, consumed one at a time (scalar Generator calls are slow)."""

    def __init__(self, u):
        self.u = iter(u)

    def pick(self, seq):
        return seq[int(next(self.u) * len(seq))]

    def int(self, lo, hi):  # lo <= x < hi
        return lo + int(next(self.u) * (hi - lo))


@functools.lru_cache(maxsize=None)
def _pii_templates() -> tuple:
    """Each PII template split once into text pieces and slot names: (template, pieces)."""
    out = []
    for tpl in _text_spec()["pii"]["templates"]:
        pieces = [(p[1:-1], True) if re.fullmatch(r"\{\w+\}", p) else (p, False)
                  for p in re.split(r"(\{\w+\})", tpl) if p]
        out.append((tpl, tuple(pieces)))
    return tuple(out)


def _pii_sentence(d: _Draws, spec: dict):
    """One PII sentence and its spans [(start, end, kind, text)], from a random template."""
    tpl, pieces = d.pick(_pii_templates())
    out, spans = "", []
    for piece, is_slot in pieces:
        if not is_slot:
            out += piece
            continue
        value = _pii_value(d, piece, spec, tpl)
        spans.append((len(out), len(out) + len(value), piece, value))
        out += value
    return out, spans


def _pii_value(d: _Draws, kind: str, spec: dict, tpl: str) -> str:
    first, last = d.pick(spec["first_names"]), d.pick(spec["last_names"])
    if kind == "email":
        local = d.pick([f"{first}.{last}", f"{first}{last[0]}{d.int(70, 99)}",
                        f"{first}_{last}{d.int(1, 9)}"]).lower()
        return f"{local}@{d.pick(spec['email_domains'])}"
    if kind == "phone":
        nn, nnn, area = d.int(0, 100), d.int(0, 1000), d.pick([212, 415, 312, 617, 503, 737])
        return d.pick([f"({area}) 555-01{nn:02d}", f"{area}-555-01{nn:02d}",
                       f"+1 {area} 555 01{nn:02d}", f"07700 900{nnn:03d}",
                       f"+44 7700 900{nnn:03d}", f"020 7946 0{nnn:03d}"])
    if kind == "person":
        # accountants are named in full; friends and family mostly by first name
        full = "accountant" in tpl or next(d.u) < 0.25
        return f"{first} {last}" if full else first
    if kind == "url":
        return d.pick(spec["url_templates"]).format(n=d.int(100, 99999))
    if kind == "postcode":
        return _postcode(d, spec, uk=next(d.u) < 0.5)
    if kind == "address":
        num = d.int(2, 400)
        if next(d.u) < 0.5:
            city, state = d.pick(spec["us_cities"])
            return (f"{num} {d.pick(spec['us_streets'])} {d.pick(spec['us_suffixes'])}, "
                    f"{city}, {state} {_postcode(d, spec, uk=False)}")
        city = d.pick(spec["uk_cities"])[0]
        return (f"{num} {d.pick(spec['uk_streets'])} {d.pick(spec['uk_suffixes'])}, {city} "
                f"{_postcode(d, spec, uk=True)}")
    raise ValueError(f"unknown PII slot {kind!r}")  # pragma: no cover


def _postcode(d: _Draws, spec: dict, *, uk: bool) -> str:
    if not uk:
        return f"{d.int(10000, 99999):05d}"
    area = d.pick(spec["uk_cities"])[1]
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return f"{area}{d.int(1, 20)} {d.int(1, 10)}{d.pick(letters)}{d.pick(letters)}"


# ----------------------------------------------------------------------------- make_survey
def make_survey(n_respondents: int = 1500, *, n_segments: int = 6, random_state=0,
                wave: str = "sample", segment_shares=None, emerging_segment: bool = False,
                n_speeders: int | None = None, n_straightliners: int | None = None,
                n_duplicates: int | None = None, n_test_rows: int | None = None,
                n_incomplete: int | None = None, n_attention_failures: int | None = None,
                with_text: bool = True, with_pii: bool = True,
                field_start: str = "2024-03-04") -> SyntheticWave:
    """Generate a synthetic product-research survey wave with planted segments and problems.

    Respondents of each segment answer the Likert grids by ordinal draws around the segment's
    mean profile (normal noise with sd 0.85 plus a per-respondent lean with sd 0.3, rounded
    and clipped to 1..5), so segments are recoverable from the segmentation items while
    single items overlap. Demographics, channels, spend and tenure differ by segment but are
    profile-only. Open-text answers are built from each segment's characteristic themes.

    Parameters
    ----------
    n_respondents : int, default 1500
        Rows of the export, test rows and near-duplicates included.
    n_segments : int, default 6
        Number of planted segments, 2 to 6 (taken in the order of
        ``resources/synthetic_survey.yml``; the sixth, ``privacy_first``, is the small one).
    random_state : int, numpy Generator or None, default 0
        Seed. The same arguments give the same wave, byte for byte.
    wave : str, default "sample"
        Wave name (kept on the result; the export itself does not hold it).
    segment_shares : sequence or dict, optional
        Planted share of each segment (summing to 1), in segment order or keyed by segment id.
        Default: the shares in the resource file (emerging segment 8%).
    emerging_segment : bool, default False
        Add the ``investors`` segment, which the default waves do not have.
    n_speeders, n_straightliners, n_duplicates, n_test_rows, n_incomplete, \
n_attention_failures : int, optional
        Planted data-quality problems. Default: 1%, 0.8%, 0.6%, 0.4%, 1.5% and 1.2% of
        ``n_respondents``. Speeders, straight-liners, incomplete responses and attention
        failures are disjoint sets of genuine respondents; duplicates are near-copies of
        clean respondents; test rows are survey previews and tests.
    with_text : bool, default True
        Generate the open-text answers (False leaves them blank, for speed-only uses).
    with_pii : bool, default True
        Plant personal data (emails, phone numbers, names, URLs, addresses) in the open text.
    field_start : str, default "2024-03-04"
        First day of the two-week field period.

    Returns
    -------
    SyntheticWave

    Examples
    --------
    >>> wave = make_survey(500, random_state=3, n_test_rows=2)
    >>> int(wave.truth["is_test"].sum())
    2
    >>> wave.raw.loc[wave.truth["is_test"].to_numpy(), "Status"].isin(
    ...     ["Survey Preview", "Survey Test"]).all()
    np.True_
    """
    spec = _spec()
    all_segments = spec["segments"]
    if not 2 <= n_segments <= len(all_segments) - 1:
        raise ValueError(f"n_segments must be between 2 and {len(all_segments) - 1}, "
                         f"got {n_segments}")
    segments = all_segments[:n_segments] + ([all_segments[-1]] if emerging_segment else [])
    shares = _resolve_shares(segments, segment_shares)
    k = len(segments)
    n = int(n_respondents)
    counts = {}
    for name, value in [("n_speeders", n_speeders), ("n_straightliners", n_straightliners),
                        ("n_duplicates", n_duplicates), ("n_test_rows", n_test_rows),
                        ("n_incomplete", n_incomplete),
                        ("n_attention_failures", n_attention_failures)]:
        counts[name] = int(round(n * _DEFAULT_RATES[name])) if value is None else int(value)
        if counts[name] < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    n_test, n_dup = counts["n_test_rows"], counts["n_duplicates"]
    n_gen = n - n_test - n_dup
    n_flagged = (counts["n_speeders"] + counts["n_straightliners"] + counts["n_incomplete"]
                 + counts["n_attention_failures"])
    if n_gen < max(10 * k, n_flagged + n_dup):
        raise ValueError(f"n_respondents={n} is too small for {k} segments and the planted "
                         f"problems ({n_flagged + n_dup + n_test} rows); use a larger "
                         f"n_respondents or fewer planted problems")

    # Independent streams, so that e.g. with_text=False leaves every other column unchanged.
    (r_roles, r_likert, r_multi, r_demo, r_text8, r_text9, r_pii, r_meta,
     r_dup, r_test) = [np.random.default_rng(s) for s in
                       _seed_sequence(random_state).spawn(10)]

    # ---- who is who: genuine respondents get a segment; planted problems among them
    seg_counts = _largest_remainder(shares, n_gen)
    seg = r_roles.permutation(np.repeat(np.arange(k), seg_counts))
    perm = r_roles.permutation(n_gen)
    cut = np.cumsum([0, counts["n_speeders"], counts["n_straightliners"],
                     counts["n_incomplete"], counts["n_attention_failures"]])
    speeder, straight, incomplete, attention = (
        np.zeros(n_gen, bool) for _ in range(4))
    for mask, lo, hi in zip((speeder, straight, incomplete, attention), cut[:-1], cut[1:]):
        mask[perm[lo:hi]] = True
    clean_idx = np.sort(perm[cut[-1]:])
    dup_src = np.sort(r_roles.choice(clean_idx, size=n_dup, replace=False))

    # ---- Likert grids (genuine respondents)
    grids = spec["grids"]
    likert_cols, grid_of, real_pos, att_pos, att_expected = [], [], [], None, None
    for g in grids:
        for it in g["items"]:
            if "attention" in it:
                att_pos, att_expected = len(likert_cols), it["attention"]
            else:
                real_pos.append(len(likert_cols))
            likert_cols.append(it["id"])
            grid_of.append(g["id"])
    means = np.array([[m for g in grids for m in s["likert"][g["id"]]] for s in segments])
    n_items = len(likert_cols)
    lik = np.empty((n_gen, n_items), dtype=np.int8)
    latent = (means[seg] + r_likert.normal(0, _RESPONDENT_SHIFT, (n_gen, 1))
              + r_likert.normal(0, _LIKERT_NOISE, (n_gen, len(real_pos))))
    lik[:, real_pos] = np.clip(np.rint(latent), 1, 5)
    dk = r_likert.random((n_gen, len(real_pos))) < spec["dont_know_rate"]
    block = lik[:, real_pos]
    block[dk] = 6  # 6 = "Don't know"
    lik[:, real_pos] = block
    labels5 = spec["likert_labels"]
    lik[:, att_pos] = labels5.index(att_expected) + 1
    # planted answer patterns
    lik[speeder] = r_likert.integers(1, 6, (int(speeder.sum()), n_items))
    lik[straight] = r_likert.integers(1, 6, (int(straight.sum()), 1))
    wrong = np.array([c for c in range(1, 6) if c != labels5.index(att_expected) + 1])
    lik[attention, att_pos] = r_likert.choice(wrong, int(attention.sum()))

    # ---- multi-selects
    tools, channels = spec["tools"], spec["channels"]
    tool_p = np.array([s["tools"] for s in segments])
    chan_p = np.array([s["channels"] for s in segments])
    tool_bits = _multi(r_multi, tool_p, seg, tools["options"].index(tools["exclusive"]), 0.7)
    chan_bits = _multi(r_multi, chan_p, seg, None, 0.5)
    chan_bits[r_multi.random(n_gen) >= 0.95] = 0  # some skip where they heard of us

    # ---- demographics and numbers (profile only)
    demo = {}
    for key in ("age_band", "gender", "region", "income"):
        demo[key] = _draw(r_demo, np.array([s[key] for s in segments]), seg)
    ranges = np.array(spec["age_band"]["ranges"])
    lo_age, hi_age = ranges[demo["age_band"], 0], ranges[demo["age_band"], 1]
    age = lo_age + np.floor(r_demo.random(n_gen) * (hi_age - lo_age + 1)).astype(int)
    med = np.array([s["spend"]["median"] for s in segments])[seg]
    sig = np.array([s["spend"]["sigma"] for s in segments])[seg]
    spend = (np.rint(med * np.exp(sig * r_demo.normal(size=n_gen)) / 10) * 10).astype(int)
    ten = np.array([s["tenure"] for s in segments])[seg]
    tenure = np.minimum(np.floor(r_demo.exponential(ten)), 60).astype(int)

    # ---- open text
    text, themes_t, negated, unlisted, kinds = {}, {}, {}, {}, {}
    for q, rng in (("Q8", r_text8), ("Q9", r_text9)):
        if with_text:
            t, th, ng, ul, kinds[q] = _answers(rng, q, seg, segments)
            # speeders write next to nothing: a blank or a word
            sp = np.flatnonzero(speeder)
            bank = _banks()[q]
            wi = rng.integers(0, len(bank["one_word"]), len(sp))
            has = rng.random(len(sp)) < 0.5
            t[sp] = np.where(has, bank["one_word"][wi], None)
            th[sp] = np.where(has, bank["one_word_theme"][wi], "")
            ng[sp] = ""
            ul[sp] = ""
        else:
            t = np.full(n_gen, None, dtype=object)
            th = np.full(n_gen, "", dtype=object)
            ng = np.full(n_gen, "", dtype=object)
            ul = np.full(n_gen, "", dtype=object)
            kinds[q] = np.zeros(n_gen, np.int8)
        text[q], themes_t[q], negated[q], unlisted[q] = t, th, ng, ul

    # ---- incomplete responses: answered pages up to a point, then left
    # pages in survey order; Progress after page b is round(100 * b / 8)
    pages = [["Q1"], ["Q2"], ["Q3"], ["Q4", "Q5"], ["Q6", "Q7"], ["Q8"], ["Q9"],
             ["Q10", "Q11", "Q12", "Q13", "Q14"]]
    answered_pages = np.full(n_gen, len(pages))
    inc = np.flatnonzero(incomplete)
    answered_pages[inc] = r_roles.integers(1, len(pages), len(inc))
    progress = np.rint(100 * answered_pages / len(pages)).astype(int)
    page_of = {q: p for p, qs in enumerate(pages) for q in qs}

    def shown(qid):  # rows that reached the page of question qid
        return answered_pages > page_of[qid]

    for j, col in enumerate(likert_cols):
        lik[~shown(col.split("_")[0]), j] = 0  # 0 = blank
    tool_bits[~shown("Q4")] = 0
    chan_bits[~shown("Q5")] = 0
    for q in ("Q8", "Q9"):
        gone = ~shown(q)
        text[q][gone] = None
        themes_t[q][gone] = ""
        negated[q][gone] = ""
        unlisted[q][gone] = ""
    demo_blank = ~shown("Q10")

    # ---- planted personal data, appended to some genuine answers
    pii_rows = []  # (row, question, start, end, kind, text)
    if with_text and with_pii:
        pspec = _text_spec()["pii"]
        for q in ("Q8", "Q9"):
            ok = (kinds[q] == 2) & ~speeder & shown(q)
            rows = np.flatnonzero(ok & (r_pii.random(n_gen) < _TEXT_RATES["pii"]))
            # 40 uniforms per sentence is more than any template consumes
            for i, u in zip(rows, r_pii.random((len(rows), 40)).tolist()):
                sentence, spans = _pii_sentence(_Draws(u), pspec)
                base = text[q][i] + " "
                text[q][i] = base + sentence
                for s0, s1, kind, value in spans:
                    pii_rows.append((i, q, len(base) + s0, len(base) + s1, kind, value))

    # ---- stack genuine rows, near-duplicates, test rows
    # near-duplicates copy a clean respondent and nudge one or two answers
    n_rows = n_gen + n_dup + n_test
    src = np.concatenate([np.arange(n_gen), dup_src])
    lik_all = np.zeros((n_rows, n_items), dtype=np.int8)
    lik_all[:n_gen + n_dup] = lik[src]
    for r in range(n_gen, n_gen + n_dup):
        for j in r_dup.choice(real_pos, int(r_dup.integers(1, 3)), replace=False):
            v = lik_all[r, j]
            lik_all[r, j] = 3 if v == 6 else (v + 1 if v < 3 else v - 1)
    # test/preview rows: someone clicking through the survey
    lik_all[n_gen + n_dup:] = r_test.integers(1, 6, (n_test, n_items))
    tb = np.concatenate([tool_bits[src], r_test.integers(1, 2 ** len(tools["options"]) - 1,
                                                         n_test)])
    cb = np.concatenate([chan_bits[src], r_test.integers(1, 2 ** len(channels["options"]),
                                                         n_test)])
    # a "Nothing in particular" tick clears the other tools, in test rows too
    excl = 1 << tools["options"].index(tools["exclusive"])
    tb = np.where(tb & excl, excl, tb)

    def stack(a, test_values):
        return np.concatenate([a[src], test_values])

    demo_all = {key: stack(v, r_test.integers(0, len(spec[key]["options"]), n_test))
                for key, v in demo.items()}
    age_all = stack(age, ranges[demo_all["age_band"][n_gen + n_dup:], 0])
    spend_all = stack(spend, np.full(n_test, 100))
    tenure_all = stack(tenure, np.zeros(n_test, int))
    demo_blank_all = stack(demo_blank, np.zeros(n_test, bool))
    tests_text = np.array(["test", "asdf", "testing 123", None, "Test response, ignore"],
                          dtype=object)
    text_all, themes_all, neg_all, unl_all = {}, {}, {}, {}
    for q in ("Q8", "Q9"):
        tt = tests_text[r_test.integers(0, len(tests_text), n_test)] if with_text else \
            np.full(n_test, None, dtype=object)
        text_all[q] = stack(text[q], tt)
        themes_all[q] = stack(themes_t[q], np.full(n_test, "", dtype=object))
        neg_all[q] = stack(negated[q], np.full(n_test, "", dtype=object))
        unl_all[q] = stack(unlisted[q], np.full(n_test, "", dtype=object))
    seg_all = stack(seg, np.full(n_test, -1))
    progress_all = stack(progress, np.full(n_test, 100))

    # nobody straight-lines a grid by accident: planted straight-liners are the only ones.
    # "Same answer" is judged on the answered items only (blanks and "Don't know" skipped),
    # attention check aside, which covers every usual definition; a genuine respondent whose
    # answers are all equal gets one answer nudged by a point.
    straight_all = stack(straight, np.zeros(n_test, bool))
    for g in grids:
        cols = np.array([j for j, gg in enumerate(grid_of) if gg == g["id"] and j != att_pos])
        blk = lik_all[:, cols]
        valid = (blk >= 1) & (blk <= 5)
        lo = np.where(valid, blk, 99).min(1)
        hi = np.where(valid, blk, -1).max(1)
        same = (valid.sum(1) >= 2) & (lo == hi) & ~straight_all
        rows = np.flatnonzero(same)
        j = cols[valid[rows].argmax(1)]
        v = lik_all[rows, j]
        lik_all[rows, j] = np.where(v <= 3, v + 1, v - 1)

    # ---- metadata
    is_test = np.arange(n_rows) >= n_gen + n_dup
    is_dup = (np.arange(n_rows) >= n_gen) & ~is_test
    t0 = np.datetime64(field_start, "s").astype(np.int64)
    # arrivals over 14 days, busier at lunch and in the evening
    hour_w = np.array([1, .5, .3, .2, .2, .4, 1, 2, 3, 3, 3, 4, 5, 4, 3, 3, 3, 4, 5, 6, 7, 6, 4, 2])
    hour = _draw(r_meta, hour_w[None, :], np.zeros(n_gen, int))
    start_g = t0 + r_meta.integers(0, 14, n_gen) * 86400 + hour * 3600 + r_meta.integers(
        0, 3600, n_gen)
    start = np.concatenate([start_g, start_g[dup_src] + r_meta.integers(1800, 3 * 86400, n_dup),
                            t0 - r_meta.integers(1, 4, n_test) * 86400
                            + r_meta.integers(9 * 3600, 17 * 3600, n_test)])
    duration = np.clip(np.rint(_MEDIAN_DURATION * np.exp(0.4 * r_meta.normal(size=n_rows))),
                       240, 3600).astype(np.int64)
    speeder_all = stack(speeder, np.zeros(n_test, bool))
    incomplete_all = stack(incomplete, np.zeros(n_test, bool))
    duration[speeder_all] = r_meta.integers(45, 120, int(speeder_all.sum()))
    # Qualtrics records an abandoned response when its session expires, a week later
    duration[incomplete_all] = 7 * 86400 + r_meta.integers(0, 3600, int(incomplete_all.sum()))
    end = start + duration
    octets = r_meta.integers(0, 256, (n_gen, 3))
    # near-duplicates come from the same address as their source; test rows have none
    ip_octets = np.concatenate([octets, octets[dup_src], np.zeros((n_test, 3), int)])
    ids = _response_ids(r_meta, n_rows)
    region_all = demo_all["region"]
    uk = spec["region"]["options"].index("United Kingdom")

    # ---- weight: post-stratification on age band x gender margins
    targets = spec["weight_targets"]
    weight = np.ones(n_rows)
    known = ~is_test & ~demo_blank_all
    for key in ("age_band", "gender"):
        tgt = np.asarray(targets[key], dtype=float)
        tgt = tgt / tgt.sum()
        v = demo_all[key]
        in_scope = known & (v < len(tgt))
        share = np.bincount(v[in_scope], minlength=len(tgt)) / max(in_scope.sum(), 1)
        factor = np.divide(tgt, share, out=np.ones(len(tgt)), where=share > 0)
        weight[in_scope] *= factor[v[in_scope]]
    weight = np.clip(weight / weight.mean(), 0.2, 5)
    weight = weight / weight.mean()

    # ---- sort by start time, as Qualtrics lists responses
    order = np.argsort(start, kind="stable")
    inv = np.empty(n_rows, dtype=int)
    inv[order] = np.arange(n_rows)

    def labelled(options, codes, blank=None):
        """Strings by lookup: codes index into options (in response order)."""
        codes = np.asarray(codes, dtype=np.int64)[order]
        values = pa.array(list(options), type=pa.large_string())
        mask = None if blank is None else blank[order]
        return pc.take(values, pa.array(np.where(mask, 0, codes) if mask is not None else codes,
                                        mask=mask))

    def numbers(values, blank=None):
        mask = None if blank is None else blank[order]
        return pc.cast(pa.array(np.asarray(values)[order], mask=mask), pa.large_string())

    def dates(sec):
        # Arrow writes timestamps as "2024-03-04 10:15:32", the Qualtrics format
        return pa.array(sec[order].astype("datetime64[s]")).cast(pa.large_string())

    def strings(values):
        return pa.array(np.asarray(values, dtype=object)[order], type=pa.large_string(),
                        from_pandas=True)

    id_strings = pa.array(ids[order]).cast(pa.large_string())
    # 100.64.0.0/10 is shared address space: realistic-looking, never a real person's IP
    ip = pc.binary_join_element_wise(
        *[numbers(v) for v in (np.full(n_rows, 100), 64 + ip_octets[:, 0] % 64,
                               ip_octets[:, 1], ip_octets[:, 2])],
        pa.scalar(".", pa.large_string()))
    ip = pc.if_else(pa.array(is_test[order]), pa.scalar(None, pa.large_string()), ip)
    preview = np.arange(n_rows) % 2 == 0
    status = np.where(is_test, np.where(preview, 1, 2), 0)
    cols: dict[str, pa.Array] = {
        "StartDate": dates(start), "EndDate": dates(end),
        "Status": labelled(["IP Address", "Survey Preview", "Survey Test"], status),
        "IPAddress": ip,
        "Progress": numbers(progress_all),
        "Duration (in seconds)": numbers(duration),
        "Finished": labelled(["False", "True"], progress_all == 100),
        "RecordedDate": dates(end),
        "ResponseId": id_strings,
        "DistributionChannel": labelled(["anonymous", "preview", "test"], status),
        "UserLanguage": labelled(["EN", "EN-GB"], region_all == uk),
    }
    lik_labels = labels5 + [spec["dont_know"]]
    for j, c in enumerate(likert_cols):
        cols[c] = labelled(lik_labels, lik_all[:, j].astype(np.int64) - 1,
                           blank=lik_all[:, j] == 0)
    for e, bits in ((tools, tb), (channels, cb)):
        cols[e["id"]] = labelled([v or "" for v in _joined(e["options"])], bits, blank=bits == 0)
    nums_blank = ~stack(shown("Q6"), np.ones(n_test, bool))
    cols[spec["spend"]["id"]] = numbers(spend_all, nums_blank)
    cols[spec["tenure"]["id"]] = numbers(tenure_all, nums_blank)
    cols[spec["goals"]["id"]] = strings(text_all["Q8"])
    cols[spec["frustrations"]["id"]] = strings(text_all["Q9"])
    for key in ("age_band", "age", "gender", "region", "income"):
        if key == "age":
            cols[spec[key]["id"]] = numbers(age_all, demo_blank_all)
        else:
            cols[spec[key]["id"]] = labelled(spec[key]["options"], demo_all[key], demo_blank_all)
    # four decimals, always: "1.0000", as an export tool writes a computed weight
    w4 = np.rint(weight * 10_000).astype(np.int64)
    cols["weight"] = pc.binary_join_element_wise(
        numbers(w4 // 10_000), pc.utf8_lpad(numbers(w4 % 10_000), 4, "0"),
        pa.scalar(".", pa.large_string()))
    raw = pd.DataFrame({c: _str_series(v) for c, v in cols.items()})

    # ---- labels, ImportIds, codebook, themes
    labels, import_ids = _header(spec)
    codebook = _codebook(spec)
    themes = {"schema_version": 1, "themes": copy.deepcopy(_text_spec()["themes"])}

    # ---- truth
    seg_ids = np.array([s["id"] for s in segments] + [None], dtype=object)
    att_col = lik_all[:, att_pos]
    dup_of = np.full(n_rows, None, dtype=object)
    dup_of[is_dup] = ids[dup_src].astype(str)
    truth = pd.DataFrame({
        "ResponseId": _str_series(id_strings),
        "segment": _str_series(labelled(seg_ids[:-1], seg_all, seg_all < 0)),
        "is_test": is_test[order],
        "is_duplicate": is_dup[order],
        "duplicate_of": _str_series(strings(dup_of)),
        "is_speeder": speeder_all[order],
        "is_straightliner": straight_all[order],
        "is_incomplete": incomplete_all[order],
        # answered, and not the expected answer (a blank from an incomplete response is not)
        "fails_attention": ((att_col > 0) & (att_col != labels5.index(att_expected) + 1))[order],
        "is_emerging": (seg_all == seg_ids.tolist().index("investors"))[order]
        if "investors" in seg_ids.tolist() else np.zeros(n_rows, bool),
        **{f"{q}_{what}": _str_series(strings(values[q]))
           for q in ("Q8", "Q9")
           for what, values in (("themes", themes_all), ("negated", neg_all),
                                ("unlisted", unl_all))},
    })

    # PII spans, for genuine rows and the near-duplicates that copied them
    pii_cols = ["ResponseId", "question", "start", "end", "kind", "text"]
    rows_of = {}
    for r in range(n_gen, n_gen + n_dup):
        rows_of.setdefault(int(src[r]), []).append(r)
    recs = []
    for i, q, s0, s1, kind, value in pii_rows:
        for r in [i] + rows_of.get(i, []):
            recs.append((inv[r], ids[r].decode(), q, s0, s1, kind, value))
    recs.sort(key=lambda t: (t[0], t[2], t[3]))
    pii = pd.DataFrame([t[1:] for t in recs], columns=pii_cols)
    pii = pii.astype({"start": "int64", "end": "int64"})

    seg_table = pd.DataFrame({
        "segment": [s["id"] for s in segments],
        "name": [s["name"] for s in segments],
        "planted_share": np.round(shares, 6),
        "n": seg_counts,
        "n_rows": np.bincount(seg_all[seg_all >= 0], minlength=k),
    })
    planted = {
        "n_rows": n_rows, "n_genuine": n_gen,
        "test_rows": int(is_test.sum()), "duplicates": int(is_dup.sum()),
        "speeders": int(speeder_all.sum()), "straightliners": int(straight_all.sum()),
        "incomplete": int(incomplete_all.sum()),
        "attention_failures_planted": counts["n_attention_failures"],
        "attention_failures_total": int(truth["fails_attention"].sum()),
        "pii_spans": len(pii),
        "negations": int((truth["Q8_negated"] != "").sum() + (truth["Q9_negated"] != "").sum()),
        "unlisted_mentions": int(sum(truth[f"{q}_unlisted"].str.count(r"[^;]+").sum()
                                     for q in ("Q8", "Q9"))),
    }
    params = dict(n_respondents=n, n_segments=n_segments, random_state=random_state,
                  wave=wave, segment_shares=[float(s) for s in shares],
                  emerging_segment=emerging_segment, with_text=with_text, with_pii=with_pii,
                  field_start=field_start, **counts)
    return SyntheticWave(raw=raw, labels=labels, import_ids=import_ids, codebook=codebook,
                         themes=themes, truth=truth, pii=pii, segments=seg_table,
                         planted=planted, wave=wave, params=params)


# ----------------------------------------------------------------------------- header/codebook
def _question_columns(spec: dict) -> list[tuple[str, str, str, dict]]:
    """(column id, row-2 label, kind, resource entry) for every question column, in order."""
    out = []
    for g in spec["grids"]:
        for it in g["items"]:
            out.append((it["id"], f"{g['stem']} - {it['text']}", "likert", {**it, "grid": g["id"]}))
    for key in ("tools", "channels"):
        e = spec[key]
        out.append((e["id"], f"{e['text']} - Selected Choice", "multi", e))
    for key in ("spend", "tenure"):
        out.append((spec[key]["id"], spec[key]["text"], "numeric", {**spec[key], "key": key}))
    for key in ("goals", "frustrations"):
        out.append((spec[key]["id"], spec[key]["text"], "text", spec[key]))
    for key in ("age_band", "age", "gender", "region", "income"):
        kind = "numeric" if key == "age" else "single"
        out.append((spec[key]["id"], spec[key]["text"], kind, {**spec[key], "key": key}))
    return out


def _header(spec: dict) -> tuple[dict, dict]:
    labels, import_ids = {}, {}
    for col, label, imp in _META:
        labels[col], import_ids[col] = label, imp
    for col, label, kind, _ in _question_columns(spec):
        labels[col] = label
        qid = "QID" + col[1:]
        import_ids[col] = {"ImportId": qid + "_TEXT" if kind in ("text", "numeric") else qid}
    labels["weight"], import_ids["weight"] = "weight", {"ImportId": "weight"}
    return labels, import_ids


_NUMERIC_RANGES = {"spend": (0, 50000), "tenure": (0, 120), "age": (18, 99)}
_REFUSED = {"label": "Prefer not to say", "reason": "refused"}


def _codebook(spec: dict) -> dict:
    """The survey codebook (design.md schema_version 1) for the generated export."""
    qs = []
    for col, label, _ in _META:
        kind = {"StartDate": "date", "EndDate": "date", "RecordedDate": "date",
                "ResponseId": "id"}.get(col, "meta")
        qs.append({"id": col, "text": label, "type": kind, "role": "ignore"})
    likert_scale = [{"code": i + 1, "label": lab} for i, lab in enumerate(spec["likert_labels"])]
    for col, label, kind, e in _question_columns(spec):
        if kind == "likert":
            q = {"id": col, "text": e["text"], "type": "likert",
                 "role": "ignore" if "attention" in e else "segment",
                 "scale": copy.deepcopy(likert_scale), "reverse": bool(e.get("reverse", False))}
            if "attention" in e:
                q["attention_check"] = {"expected": e["attention"]}
            else:
                q["missing"] = [{"code": 99, "label": spec["dont_know"], "reason": "dont_know"}]
            q["grid"] = e["grid"]
        elif kind == "multi":
            # tools describe behaviour (what people do today): a segmentation input;
            # acquisition channels describe how we reached them: profile only
            q = {"id": col, "text": e["text"], "type": "multi",
                 "role": "segment" if e is spec["tools"] else "profile",
                 "separator": ",", "options": list(e["options"])}
        elif kind == "numeric":
            lo, hi = _NUMERIC_RANGES[e["key"]]
            q = {"id": col, "text": e["text"], "type": "numeric", "role": "profile",
                 "min": lo, "max": hi}
        elif kind == "text":
            q = {"id": col, "text": e["text"], "type": "text", "role": "profile"}
        else:
            options = list(e["options"])
            refused = _REFUSED["label"] in options
            if refused:
                options.remove(_REFUSED["label"])
            q = {"id": col, "text": e["text"], "type": "single", "role": "profile",
                 "scale": [{"code": i + 1, "label": o} for i, o in enumerate(options)]}
            if refused:
                q["missing"] = [{"code": 99, **_REFUSED}]
        # persona facet and name adjective, as the resource gives them
        for key in ("facet", "descriptor"):
            if key in e:
                q[key] = copy.deepcopy(e[key])
        qs.append(q)
    qs.append({"id": "weight", "text": "Post-stratification weight (age band x gender)",
               "type": "weight", "role": "ignore"})
    return {"schema_version": 1, "survey": spec["survey"], "respondent_id": "ResponseId",
            "weight": "weight", "questions": qs}


# ----------------------------------------------------------------------------- writers
def write_qualtrics_csv(wave: SyntheticWave, path) -> Path:
    """Write the wave as a Qualtrics choice-text CSV export (three header rows).

    Row 1 holds the column ids, row 2 the question texts, row 3 the ``{"ImportId": ...}``
    JSON; then one row per response. UTF-8 with a byte-order mark, as Qualtrics writes it.

    Parameters
    ----------
    wave : SyntheticWave
    path : str or Path

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(wave.raw.columns)
    values = wave.raw.to_numpy(dtype=object, na_value="")
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        w.writerow([wave.labels[c] for c in cols])
        w.writerow([json.dumps(wave.import_ids[c], separators=(",", ":")) for c in cols])
        w.writerows(values.tolist())
    return path


def _flow(value) -> str:
    """One YAML value in flow style on a single line."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000,
                          allow_unicode=True, sort_keys=False).strip().removesuffix("\n...")


def _yaml_entry(d: dict, indent: str = "  ", anchors: dict | None = None,
                seen: set | None = None) -> str:
    """One list item of a mapping, block style, with flow-style values.

    ``anchors`` maps an anchor name to a value: its first occurrence is written out with
    ``&name`` and later ones as ``*name``, so that a scale shared by 20 items is read once.
    """
    lines = []
    for i, (key, value) in enumerate(d.items()):
        lead = indent + ("- " if i == 0 else "  ")
        name = next((a for a, v in (anchors or {}).items() if v == value), None)
        if name is not None and name in seen:
            lines.append(f"{lead}{key}: *{name}")
            continue
        tag = ""
        if name is not None:
            seen.add(name)
            tag = f" &{name}"
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{lead}{key}:{tag}")
            lines += [f"{indent}    - {_flow(v)}" for v in value]
        else:
            lines.append(f"{lead}{key}:{tag} {_flow(value)}")
    return "\n".join(lines)


_CODEBOOK_HEADER = """\
# Codebook of the synthetic Coinpath product-research survey (data/sample/sample_wave.csv).
# SYNTHETIC DATA, generated by `python -m personalab.datasets data/sample`; edit the generator
# (personalab/resources/synthetic_survey.yml), not this file, or your edits will be overwritten.
#
# Each question says what its column is (type), what it is for (role) and how to read it:
#   role: segment  -> a segmentation input (the Likert grids and the tools used today)
#   role: profile  -> describes a segment afterwards (demographics, channels, spend, open text)
#   role: ignore   -> metadata, the attention check and the weight
# Likert items use the same 5-point agree scale; "Don't know" is missing (reason dont_know),
# never a scale point. reverse: true marks items worded against their construct; they are
# flipped by Survey.likert() so that higher always means the same thing.
# `&agree5` names the scale where it is first written; `*agree5` reuses it (plain YAML).
# facet: which part of a persona a question speaks to (goal, pain_point, motivation,
# behaviour, objection, demographic); descriptor: the adjective it lends a persona's name,
# {high: ..., low: ...} for scales (high = agreeing with the statement as worded, reverse-keyed
# or not) or {option: ...} for choices.
"""

_CODEBOOK_COMMENTS = {
    "StartDate": "# --- Qualtrics metadata: used by the quality checks, never analysed",
    "Q1_1": "# --- Grid Q1: money habits today (segmentation)",
    "Q2_1": "# --- Grid Q2: attitudes to budgeting apps (segmentation); Q2_5 is the attention "
            "check",
    "Q2_5": "    # attention check: anyone reading the item answers 'Somewhat agree'",
    "Q3_1": "# --- Grid Q3: what people want from Coinpath (segmentation)",
    "Q4": "# --- Multi-selects, Qualtrics joined form: chosen options in one cell, joined by ','.\n"
          "# Tools used today are behaviour, so they segment; where people heard of Coinpath is\n"
          "# marketing context, so it only profiles.",
    "Q6": "# --- Numbers and open text (profile only)",
    "Q10": "# --- Demographics (profile only): they describe personas, they never define them.\n"
           "# 'Prefer not to say' is missing with reason refused.",
    "weight": "# --- Post-stratification weight (embedded data): age band x gender margins, "
              "mean 1",
}


def codebook_yaml(codebook: dict) -> str:
    """The codebook as a commented, human-editable YAML document."""
    out = [_CODEBOOK_HEADER,
           f"schema_version: {codebook['schema_version']}",
           f"survey: {codebook['survey']}",
           f"respondent_id: {codebook['respondent_id']}   # Qualtrics response id",
           f"weight: {codebook['weight']}",
           "questions:"]
    likert = next(q for q in codebook["questions"] if q["type"] == "likert")
    anchors = {"agree5": likert["scale"],
               "dont_know": next(q["missing"] for q in codebook["questions"]
                                 if q["type"] == "likert" and "missing" in q)}
    seen: set = set()
    for q in codebook["questions"]:
        if q["id"] in _CODEBOOK_COMMENTS:
            out += ["  " + c.strip() for c in _CODEBOOK_COMMENTS[q["id"]].splitlines()]
        out.append(_yaml_entry(q, anchors=anchors, seen=seen))
    return "\n".join(out) + "\n"


_THEMES_HEADER = """\
# Theme codebook for the open-text questions of the synthetic Coinpath survey:
#   Q8  What are you hoping Coinpath will help you achieve?   (goals)
#   Q9  What frustrates you most about managing your money today?   (frustrations)
# SYNTHETIC DATA, generated by `python -m personalab.datasets data/sample` from
# personalab/resources/synthetic_text.yml.
#
# phrases:  matched on lemmas, case-insensitive ("saving for" also finds "Saving for")
# patterns: spaCy Matcher token patterns, for what a fixed phrase cannot say
# exclude:  phrases that veto the theme where they overlap a match ("price match" is no
#           complaint about price)
# parent:   emergency_fund is a child of save_goal: its answers also count for save_goal
# polarity: whether the theme, when present, is a good or a bad thing for the respondent
# A theme mentioned under a negation ("not too expensive", "I don't mind the price") does not
# count as that theme.
"""


def themes_yaml(themes: dict) -> str:
    """The theme codebook as a commented YAML document."""
    out = [_THEMES_HEADER, f"schema_version: {themes['schema_version']}", "themes:"]
    for t in themes["themes"]:
        out.append(_yaml_entry(t, seen=set()))
    return "\n".join(out) + "\n"


_STUDY = """\
# Run configuration of the bundled sample: `personalab run --config data/sample/study.yml`
# Relative paths are read from this folder; output is relative to where you run the command.
wave: sample
input: sample_wave.csv
codebook: codebook.yml
themes: themes.yml
seed: 42
output: reports/sample
# The negative persona ("who is not a fit"): Coinpath syncs with the bank, so a segment whose
# mean agreement with Q2_1 "I am comfortable linking my bank account to an app" is below 2.5
# (1 = Strongly disagree ... 5 = Strongly agree) will not use it as built.
not_a_fit: {question: Q2_1, below: 2.5}
"""


def _readme(w1: SyntheticWave, w2: SyntheticWave) -> str:
    p1, p2 = w1.planted, w2.planted
    k1 = len(w1.segments)
    small = w1.segments["planted_share"].min()
    max_shift = max(abs(v["shift_pp"]) for s, v in _shifts(w1, w2).items()
                    if s in set(w1.segments["segment"]))
    new = w2.segments.loc[~w2.segments["segment"].isin(w1.segments["segment"]), "planted_share"]
    return f"""\
# Sample data: a synthetic survey for trying PersonaLab

**Everything here is synthetic.** No real person answered this survey. The names, emails,
phone numbers and addresses in the open text are made up: RFC 2606 `example.*` domains,
US 555-01xx and UK Ofcom drama numbers, IPs from the 100.64.0.0/10 shared address space.

The survey is a product-research study for *Coinpath*, a fictional budgeting app: three
5-point Likert grids (22 items, 6 of them reverse-keyed, plus one attention check), two
multi-selects (tools used today; where people heard of Coinpath), monthly spend and tenure,
two open-text questions (goals; frustrations), demographics and a post-stratification `weight`.

| File | What it is |
|---|---|
| `sample_wave.csv` | Wave 1: {p1['n_rows']:,} responses, a Qualtrics choice-text export (3 header rows, UTF-8 with BOM) |
| `wave2.csv` | Wave 2: the same survey six months later, {p2['n_rows']:,} new respondents |
| `codebook.yml` | The codebook: type, role, scale, persona facet and descriptor of every column |
| `themes.yml` | The theme codebook for the open-text questions Q8 and Q9 |
| `study.yml` | The run configuration: `personalab run --config data/sample/study.yml` |

## What is in it, for you to find

- {k1} segments of unequal size (the smallest about {small:.1%}), planted in the segmentation
  items (the Likert grids and the tools people use). Demographics, channels and spend differ
  between segments too, but only as profile.
- Wave 2: segment shares move by up to {max_shift:.0f} points, and a new segment of about
  {float(new.sum()):.0%} appears that wave 1 does not have.
- Data-quality problems, as real exports have them (wave 1 / wave 2):

  | Problem | Wave 1 | Wave 2 |
  |---|---|---|
  | survey previews and tests | {p1['test_rows']} | {p2['test_rows']} |
  | near-duplicate respondents | {p1['duplicates']} | {p2['duplicates']} |
  | speeders | {p1['speeders']} | {p2['speeders']} |
  | straight-liners | {p1['straightliners']} | {p2['straightliners']} |
  | incomplete responses | {p1['incomplete']} | {p2['incomplete']} |
  | failed attention checks | {p1['attention_failures_total']} | {p2['attention_failures_total']} |
- Open text with blanks, one-word answers, typos, emoji, negations that must not count as a
  theme ("I don't mind the price") and personal data to redact. About 12% of each theme's
  mentions use words that `themes.yml` does not list ("The premium tier is overpriced"), as
  in any real code frame: rules miss them, a few coded examples let auto-coding find some.
- Persona hints in the codebook: every segmentation item says which part of a persona it
  speaks to (`facet`) and the adjective it lends a persona's name (`descriptor`).
- A negative persona in `study.yml` (`not_a_fit`): the segment that will not link a bank
  account to an app.

The answers (every respondent's segment, every planted problem, theme, negation, unlisted
phrasing and PII span)
are kept out of this folder, in `tests/fixtures/sample_truth/`, where only the tests read them.

## Regenerate

Deterministic: this command rewrites every file here byte for byte (and the ground truth).

```
python -m personalab.datasets data/sample        # or: make sample
```

Make your own wave, of any size, in Python:

```python
from personalab.datasets import make_survey, write_qualtrics_csv
wave = make_survey(5000, random_state=7)   # wave.raw, .codebook, .themes, .truth, .pii
write_qualtrics_csv(wave, "my_wave.csv")
```
"""


def _shifts(w1: SyntheticWave, w2: SyntheticWave) -> dict:
    s1 = dict(zip(w1.segments["segment"], w1.segments["planted_share"]))
    s2 = dict(zip(w2.segments["segment"], w2.segments["planted_share"]))
    out = {}
    for s in list(s2) + [s for s in s1 if s not in s2]:
        a, b = float(s1.get(s, 0.0)), float(s2.get(s, 0.0))
        out[s] = {"wave1": round(a, 6), "wave2": round(b, 6), "shift_pp": round(100 * (b - a), 3)}
    return out


def _sample_waves() -> tuple[SyntheticWave, SyntheticWave]:
    """The two bundled waves (fixed arguments: changing them changes data/sample)."""
    w1 = make_survey(1500, random_state=20240304, wave="sample")
    w2 = make_survey(1400, random_state=20240902, wave="wave2", emerging_segment=True,
                     segment_shares=WAVE2_SHARES, field_start="2024-09-02")
    return w1, w2


def _truth_summary(w: SyntheticWave) -> dict:
    return {"wave": w.wave, "params": w.params, "planted": w.planted,
            "segments": w.segments.to_dict(orient="records")}


def write_sample(folder, truth_folder=None) -> list[Path]:
    """Write the bundled sample: two waves, codebook, theme codebook, README and run config.

    Parameters
    ----------
    folder : str or Path
        Where the sample goes (the repository keeps it in ``data/sample``).
    truth_folder : str or Path, optional
        Where the ground truth goes (the repository keeps it in
        ``tests/fixtures/sample_truth``). Never inside ``folder``: the pipeline must not
        see it. Default: no ground truth is written.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    w1, w2 = _sample_waves()
    written = [write_qualtrics_csv(w1, folder / "sample_wave.csv"),
               write_qualtrics_csv(w2, folder / "wave2.csv")]
    for name, content in (("codebook.yml", codebook_yaml(w1.codebook)),
                          ("themes.yml", themes_yaml(w1.themes)),
                          ("study.yml", _STUDY), ("README.md", _readme(w1, w2))):
        (folder / name).write_text(content, encoding="utf-8", newline="\n")
        written.append(folder / name)
    if truth_folder is not None:
        truth_folder = Path(truth_folder)
        if truth_folder.resolve().is_relative_to(folder.resolve()):
            raise ValueError("the ground truth must not be written inside the sample folder")
        truth_folder.mkdir(parents=True, exist_ok=True)
        for w, stem in ((w1, "sample_wave"), (w2, "wave2")):
            w.truth.to_csv(truth_folder / f"{stem}_truth.csv", index=False, lineterminator="\n")
            w.pii.to_csv(truth_folder / f"{stem}_pii.csv", index=False, lineterminator="\n")
            written += [truth_folder / f"{stem}_truth.csv", truth_folder / f"{stem}_pii.csv"]
        summary = {"sample_wave": _truth_summary(w1), "wave2": _truth_summary(w2),
                   "wave2_shift": _shifts(w1, w2),
                   "emerging_segment": "investors",
                   "emerging_members": w2.truth.loc[w2.truth["is_emerging"],
                                                    "ResponseId"].tolist()}
        (truth_folder / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8",
            newline="\n")
        written.append(truth_folder / "summary.json")
    return written


def main(argv=None) -> int:
    """``python -m personalab.datasets FOLDER``: regenerate the bundled sample."""
    parser = argparse.ArgumentParser(
        prog="python -m personalab.datasets",
        description="Regenerate the synthetic sample survey (deterministic).")
    parser.add_argument("folder", nargs="?", default=str(paths.SAMPLE_DIR),
                        help="output folder (default: data/sample)")
    parser.add_argument("--truth", default=str(paths.TESTS_DIR / "fixtures" / "sample_truth"),
                        help="ground-truth folder (default: tests/fixtures/sample_truth)")
    parser.add_argument("--no-truth", action="store_true", help="do not write the ground truth")
    args = parser.parse_args(argv)
    files = write_sample(args.folder, None if args.no_truth else args.truth)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
