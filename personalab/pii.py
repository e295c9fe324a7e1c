"""Redact personal data from open-text answers before they are quoted or shared.

Found and replaced by visible placeholders:

=============  ==============================================================
``[email]``    e-mail addresses
``[url]``      links (``http(s)://``, ``www.``, bare ``domain.tld/path``)
``[phone]``    phone numbers: US ``(312) 555-0147``, ``312-555-0147``, ``555-0147``;
               UK ``020 7946 0018``, ``07700 900123``; international ``+44 ...``,
               ``+1 ...``, ``+49 (0)30 ...``, with spaces, dashes, dots, brackets
``[address]``  street addresses (number + street + St/Ave/Road/Lane...), with
               the city, state and ZIP or postcode that follow them
``[postcode]`` UK postcodes (``LS1 4AP``); US ZIP codes after a state code, after
               zip/postcode, or after near/around/live in/based in/area
``[name]``     person names
=============  ==============================================================

Names: with ``en_core_web_sm`` installed its PERSON entities are used too; without
it (the default) names come from rules over a first-name list
(``resources/first_names.txt``: US Census 1990 names plus common international
ones) and a surname list (``resources/last_names.txt``, the 1,000 commonest 1990 US
surnames):

* a capitalised known first name, with a capitalised surname after it when there is
  one ("Sarah", "Sarah Okafor");
* any capitalised word(s) in a name context: after "my manager/sister/accountant/..."
  ("my manager Kwame"), after "spoke to", "ask for", "called", "thanks", "hi";
  before "from support/sales/your team" ("Tariq from support"); a signature at the
  end ("- Ana", "Cheers, Tom");
* first names that are also ordinary words ("Will", "May", "Bill", "Grace",
  "Mark", "Hope", "Chase"...) count only in those contexts or with a surname;
* capitalised surname(s) after a title or office ("Mayor Thompson", "Dr. Okafor",
  "Senator Maria Delgado", ``resources/name_titles.txt``): the name is redacted and
  the title kept ("Mayor [name]"); a word after the title that is an ordinary word
  ("General Motors", "Chief Executive") is not a name.

Not names, whatever the rules above say: a month or weekday on its own ("in May",
"every Monday"), and a name-like word that is part of a street or place named after
someone ("Jackson Street", "Grant Lane", "Lincoln Park", "St Mary's Hospital").

Everything is regular expressions and set look-ups: fast enough for 100k answers.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from .paths import RESOURCES_DIR

PLACEHOLDERS = {"email": "[email]", "url": "[url]", "phone": "[phone]", "address": "[address]",
                "postcode": "[postcode]", "name": "[name]"}
#: When spans overlap, the earlier kind in this list wins (then the longer span).
PRIORITY = ["email", "url", "address", "phone", "postcode", "name"]

# First names that are also ordinary English words: names only in a name context.
AMBIGUOUS_NAMES = frozenset("""
will may bill grace mark hope faith joy june april august rose ruby crystal dawn holly
penny sandy rich frank grant drew chase hunter lane young king major long man son art guy
max ray don jack pat rob rod dean earl miles angel christian ward reed brooks forest noble
prince royal chance buck cliff clay dale glen heath sunny summer autumn iris daisy violet
olive pearl ivory jewel melody misty brandy sherry ginger candy honey amber jade destiny
harmony trinity love page sky star storm river rocky rusty dusty buddy junior carol
mercy patience charity constance prudence verity sage willow hazel lily poppy ginny
marshall baker carter mason cooper fletcher foster porter tanner walker parker
gene jean jay lee kay van del sol sang hung long dong chi sung wong else
america virginia georgia carolina dakota florence paris india asia china israel jordan austin
dallas houston phoenix savannah sydney brooklyn lincoln madison chelsea kent york orlando
denver cleveland memphis tyler trinity mercedes lexus
""".split())

_RELATIONS = (r"manager|boss|supervisor|accountant|adviser|advisor|sister|brother|wife|husband|"
              r"partner|friend|colleague|coworker|co-worker|mum|mom|mother|dad|father|son|"
              r"daughter|agent|rep|representative|teacher|coach|landlord|landlady|neighbour|"
              r"neighbor|cousin|aunt|uncle|girlfriend|boyfriend|fiance|fiancee|flatmate|"
              r"housemate|roommate|mate|nan|gran|grandma|grandpa|grandmother|grandfather|"
              r"niece|nephew|therapist|doctor|dr|planner|banker|lawyer|solicitor|broker")
_CAP = r"[A-Z][a-z]+(?:['\-][A-Z]?[a-z]+)?"
_NAME = rf"{_CAP}(?:\s+{_CAP})?"
_NAME_BEFORE = re.compile(
    rf"\b(?:(?i:my|our|your|his|her|their)\s+(?:(?i:{_RELATIONS}))|(?i:spoke|talked|speak|talk|"
    rf"chatted)\s+(?i:to|with)|(?i:ask\s+for)|(?i:called|named)|(?i:thanks|thank\s+you|thx|"
    rf"cheers|dear|hi|hello|hey))\s*,?\s+(?P<name>{_NAME})")
_NAME_AFTER = re.compile(
    rf"(?P<name>{_NAME})\s+(?i:from|at|in|on)\s+(?i:your|the|customer|tech|technical)?\s*"
    rf"(?i:support|sales|customer\s+service|service|help\s*desk|helpdesk|team|billing|"
    rf"onboarding|success)\b")
_SIGNATURE = re.compile(
    rf"(?:^|(?<=[\s.!?,]))(?:[-\u2013\u2014~]+\s*|(?i:cheers|thanks|regards|best|thank\s+you)"
    rf",?\s+)(?P<name>{_CAP}(?:\s+{_CAP}|\s+[A-Z]\.?)?)\s*[.!]?\s*$")
_CAP_WORD = re.compile(rf"\b{_CAP}\b")
# A surname after a title may be "O'Brien", "MacLeod", "Nguyen-Tran".
_SURNAME = r"(?:[A-Z][a-z]*['\-]?[A-Z][a-z]+|[A-Z][a-z]+)(?:-[A-Z][a-z]+)?"
_MONTHS_DAYS = frozenset("""january february march april may june july august september
october november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday
wednesday thursday friday saturday sunday""".split())
# Words after a name-like word that make it a street or a place named after someone.
_PLACE_WORDS = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Way|Court|Ct|"
                r"Place|Pl|Terrace|Close|Crescent|Grove|Square|Sq|Parkway|Pkwy|Highway|Hwy|"
                r"Circle|Row|Gardens|Hill|Walk|Mews|Park|Station|Hospital|Clinic|Library|Mall|"
                r"School|High|Academy|College|University|Memorial|Bridge|Center|Centre|Airport|"
                r"County|City|Church|Cathedral|Chapel|Hall|Stadium|Arena|Museum|Theatre|Theater|"
                r"Market|Plaza|Field|Fields|Lake|River|Beach|Valley|Heights|Estate|House|Tower")
_PLACE_AFTER = re.compile(rf"(?:'s)?\s+(?:{_PLACE_WORDS})\b")
_PLACE_BEFORE = re.compile(r"\b(?:St|Saint|Mount|Mt|Fort|Ft|Port|Lake|Cape)\.?\s+$")

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLDS = r"com|org|net|io|co|uk|us|edu|gov|info|biz|app|dev|me|ly|co\.uk|org\.uk|ac\.uk"
_URL = re.compile(
    rf"(?:\b(?:https?://|www\.)[^\s<>\"']+|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:{_TLDS})"
    rf"(?:/[^\s<>\"']*)?(?![\w@]))", re.IGNORECASE)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(0?\d{1,4}\)[\s.-]?)?|\(\d{2,5}\)[\s.-]?)?"
    r"\d{1,6}(?:[\s.-]\d{2,8}){1,5}(?![\w])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)|(?<![\w+$£€.,])\d{10,11}(?![\w.,]\d)")
_STREET_TYPES = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|"
                 r"Place|Pl|Terrace|Close|Crescent|Grove|Square|Sq|Parkway|Pkwy|Highway|Hwy|"
                 r"Circle|Cir|Row|Gardens|Hill|Walk|Mews")
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})"
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:(?:{_CAP}|[A-Z]+)(?:'s)?\s+){{1,3}}(?:{_STREET_TYPES})\b\.?"
    rf"(?:,?\s+(?:Apt|Apartment|Suite|Unit|Flat)\.?\s*#?\w+)?"
    rf"(?:,\s*{_CAP}(?:\s+{_CAP})?)?"
    rf"(?:,?\s*[A-Z]{{2}}(?=[\s,.]|$))?"
    rf"(?:,?\s*(?:\d{{5}}(?:-\d{{4}})?|{_UK_POSTCODE}))?")
_POSTCODE = re.compile(rf"\b{_UK_POSTCODE}\b")
_ZIP = re.compile(r"(?:\b[A-Z]{2}|\b(?i:zip|zip\s+code|zipcode|postcode|postal\s+code)\s*:?"
                  r"|\b(?i:near|around|live\s+in|living\s+in|based\s+in|located\s+in|area))"
                  r"\s(?P<zip>\d{5}(?:-\d{4})?)\b")
_DIGITS = re.compile(r"\d")


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Known first names, lower case (``resources/first_names.txt``)."""
    path = RESOURCES_DIR / "first_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(n.strip().lower() for n in lines if n.strip() and not n.startswith("#"))


@functools.lru_cache(maxsize=1)
def brand_names() -> frozenset[str]:
    """Brands that are also names ("Dell", "Honda"), lower case (``resources/brand_names.txt``)."""
    path = RESOURCES_DIR / "brand_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(n.strip().lower() for n in lines if n.strip() and not n.startswith("#"))


@functools.lru_cache(maxsize=1)
def name_titles() -> tuple[str, ...]:
    """Titles and offices written before a name, lower case (``resources/name_titles.txt``)."""
    path = RESOURCES_DIR / "name_titles.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(n.strip().lower() for n in lines if n.strip() and not n.startswith("#"))


@functools.lru_cache(maxsize=1)
def _titled_name() -> re.Pattern:
    """A title (any case, longest first) then one to three capitalised words."""
    titles = sorted(name_titles(), key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(re.escape(w) for w in t.split()) for t in titles)
    return re.compile(rf"\b(?i:{alternatives})\b\.?\s+"
                      rf"(?P<name>{_SURNAME}(?:\s+{_SURNAME}){{0,2}})")


@functools.lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    """Common surnames, lower case (``resources/last_names.txt``)."""
    path = RESOURCES_DIR / "last_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(n.strip().lower() for n in lines if n.strip() and not n.startswith("#"))


def _is_surname(word: str) -> bool:
    low = word.lower()
    return low in last_names() or low not in _common_words()


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@functools.lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Ordinary lower-case words, never taken as a surname."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from .text import lemma_table

    table = lemma_table()
    names = first_names()
    words = set(STOP_WORDS) | {w for w in table if w.isalpha() and w not in names}
    words |= {w for w in table.values() if w.isalpha() and w not in names}
    return frozenset(words)


def _phone_ok(s: str) -> bool:
    digits = len(_DIGITS.findall(s))
    if s.startswith("+"):
        return 8 <= digits <= 15
    if digits == 7:
        return bool(re.fullmatch(r"\d{3}[-.]\d{4}", s))
    if not 9 <= digits <= 13:
        return False
    # a phone number's groups: not a list of years or amounts ("2019 2020 2021")
    groups = re.findall(r"\d+", s)
    return not (len(groups) > 1 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups))


def find_pii(text: str, *, nlp=None) -> list[tuple[str, int, int]]:
    """Spans of personal data in one text: ``[(kind, start, end), ...]``, sorted, no overlaps."""
    if not isinstance(text, str) or not text:
        return []
    spans: list[tuple[str, int, int]] = []
    if "@" in text:
        spans += [("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if "." in text:
        for m in _URL.finditer(text):
            s, e = m.start(), m.end()
            while e > s and text[e - 1] in ".,;:!?)]}'\"":
                e -= 1
            spans.append(("url", s, e))
    has_digit = _DIGITS.search(text) is not None
    if has_digit:
        spans += [("address", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
        for m in _PHONE.finditer(text):
            if _phone_ok(m.group()):
                spans.append(("phone", m.start(), m.end()))
        spans += [("postcode", m.start(), m.end()) for m in _POSTCODE.finditer(text)]
        spans += [("postcode", m.start("zip"), m.end("zip")) for m in _ZIP.finditer(text)]
    spans += _names(text, nlp)
    return _resolve_spans(spans)


def _names(text: str, nlp=None) -> list[tuple[str, int, int]]:
    out = []
    if nlp is not None and "ner" in nlp.pipe_names:
        out += [("name", e.start_char, e.end_char) for e in nlp(text).ents if e.label_ == "PERSON"]
    if not any(c.isupper() for c in text):
        return out
    for rx in (_NAME_BEFORE, _NAME_AFTER, _SIGNATURE):
        for m in rx.finditer(text):
            s, e = _trim_name(text, m.start("name"), m.end("name"))
            # in a name context a month is a name ("my manager May", "- June")
            if e > s and not _not_a_person(text, s, e, calendar=False):
                out.append(("name", s, e))
    context = len(out)
    names = first_names()
    brands = brand_names()
    for m in _CAP_WORD.finditer(text):
        low = m.group().lower()
        if low not in names or low in brands or low in _NEVER_FIRST:
            continue
        s, e = m.start(), m.end()
        # a capitalised surname right after it
        nxt = _CAP_WORD.match(text, e + 1) if text[e:e + 1] == " " else None
        surname = nxt is not None and _is_surname(nxt.group())
        if (low in AMBIGUOUS_NAMES or low in _stop_words()) and not surname:
            continue
        out.append(("name", s, nxt.end() if surname else e))
    out = out[:context] + [span for span in out[context:]
                           if not _not_a_person(text, span[1], span[2])]
    return out + _titled_names(text)


# Capitalised words that begin a sentence and are in the first-name list ("My" is a
# Vietnamese name) but never start a name before a capitalised word ("My Dell laptop").
_NEVER_FIRST = frozenset({"my", "our", "your", "his", "her", "their", "its", "the", "a", "an",
                          "this", "that", "these", "those", "no", "every", "each"})


def _titled_names(text: str) -> list[tuple[str, int, int]]:
    """Names after a title: the words up to the first that is an ordinary word."""
    out = []
    names = first_names()
    for m in _titled_name().finditer(text):
        s = m.start("name")
        e = s
        for w in re.finditer(r"\S+", m.group("name")):
            word = w.group()
            low = word.lower()
            if low in _MONTHS_DAYS or low in _stop_words() or not (
                    low in names or _is_surname(word)):
                break
            e = s + w.end()
        if e > s and not _not_a_person(text, s, e, titled=True):
            out.append(("name", s, e))
    return out


def _not_a_person(text: str, s: int, e: int, titled=False, calendar=True) -> bool:
    """A month or weekday alone, or a street or place named after someone."""
    words = text[s:e].split()
    if calendar and all(w.strip(".,").lower() in _MONTHS_DAYS for w in words):
        return True
    if _PLACE_AFTER.match(text, e) or _PLACE_BEFORE.search(text[:s]):
        return True
    # "Grant Lane": a first name and a street type read as a first name and a surname
    # (after a title, "Officer James Park" is a person)
    return not titled and len(words) > 1 and re.fullmatch(_PLACE_WORDS, words[-1]) is not None


def _trim_name(text, s, e):
    """Drop a trailing word of a context match that is an ordinary word ("Sarah said")."""
    words = list(re.finditer(_CAP, text[s:e]))
    # "spoke to Dr Patel": the title stays, the name after it goes
    if len(words) == 2 and words[0].group().lower() in name_titles():
        s, words = s + words[1].start(), words[1:]
    # in a name context a second capitalised word is a surname unless it is a stop word
    if len(words) == 2 and words[1].group().lower() in _stop_words():
        e = s + words[0].end()
    if text[s:e].lower() in _NOT_NAMES:
        return s, s
    return s, e


# Capitalised words a context rule may catch that are never names.
_NOT_NAMES = frozenset({"the", "i", "it", "we", "they", "he", "she", "you", "everyone",
                        "everybody", "someone", "somebody", "all", "support", "sales", "team"})


def _resolve_spans(spans):
    if len(spans) <= 1:
        return sorted(spans, key=lambda x: x[1])
    rank = {k: i for i, k in enumerate(PRIORITY)}
    spans = sorted(set(spans), key=lambda x: (rank[x[0]], -(x[2] - x[1]), x[1]))
    kept = []
    for kind, s, e in spans:
        if any(s < ke and ks < e for _, ks, ke in kept):
            continue
        kept.append((kind, s, e))
    return sorted(kept, key=lambda x: x[1])


def _apply(text: str, spans) -> str:
    out, pos = [], 0
    for kind, s, e in spans:
        out.append(text[pos:s])
        out.append(PLACEHOLDERS[kind])
        pos = e
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, *, nlp=None) -> str:
    """The text with personal data replaced by ``[email]``, ``[phone]``, ``[name]``...

    Parameters
    ----------
    text : str
    nlp : spaCy Language, optional
        A pipeline with ``ner`` (``en_core_web_sm``) adds its PERSON entities.
    """
    if not isinstance(text, str):
        return text
    return _apply(text, find_pii(text, nlp=nlp))


SPAN_COLUMNS = ["answer_id", "kind", "start_char", "end_char", "text"]


def redact_series(texts, *, nlp="auto") -> tuple[pd.Series, pd.DataFrame]:
    """Redact every answer of a Series.

    Parameters
    ----------
    texts : Series of str
        The answers (index kept; NaN stays NaN).
    nlp : "auto", spaCy Language or None
        ``"auto"`` uses ``en_core_web_sm``'s entities when it is installed, rules only
        otherwise; None forces rules only.

    Returns
    -------
    redacted : Series of str
    spans : DataFrame
        One row per redaction: ``answer_id``, ``kind`` (email, url, phone, address,
        postcode, name), ``start_char``/``end_char`` in the *original* text, ``text``
        (the redacted words, for audit only: keep it out of reports).
    """
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    if isinstance(nlp, str) and nlp == "auto":
        from .text import get_nlp, has_entities, optional_model_available

        nlp = get_nlp() if optional_model_available() else None
        if nlp is not None and not has_entities(nlp):
            nlp = None
    values = s.to_numpy(dtype=object)
    codes, uniques = pd.factorize(np.array([v if isinstance(v, str) else "" for v in values],
                                           dtype=object))
    found = [find_pii(u, nlp=nlp) if u else [] for u in uniques]
    redacted_u = [_apply(u, f) if f else u for u, f in zip(uniques, found)]
    out = np.array([redacted_u[c] if isinstance(v, str) else v for c, v in zip(codes, values)],
                   dtype=object)
    rows = []
    for pos, (c, v) in enumerate(zip(codes, values)):
        if isinstance(v, str):
            for kind, a, b in found[c]:
                rows.append((s.index[pos], kind, a, b, v[a:b]))
    spans = pd.DataFrame(rows, columns=SPAN_COLUMNS)
    spans = spans.astype({"start_char": "int64", "end_char": "int64"})
    return pd.Series(out, index=s.index, name=s.name, dtype=object), spans
