"""Persona drafts built only from evidence.

Every sentence of a drafted persona is a :class:`Statement` that carries its evidence: the
profile row (question, level, segment value, total, index, test, adjusted p) or the theme row
or the quote it stands on. The text comes from deterministic Jinja2 templates filled from that
evidence; nothing needs a network or a language model, and the same inputs give the same
personas (names included) on every rerun.

Where a statement goes (goals, pain points, motivations, behaviours, objections) comes from
the codebook: a question's optional ``facet`` says which part of a persona it speaks to
(``goal``, ``pain_point``, ``motivation``, ``behaviour``, ``objection``, ``demographic``).
Without one, multi-select questions describe behaviour and channels, profile-only
single-choice and numeric questions describe demographics, and other attitudes are listed as
what sets the segment apart. A question's optional ``descriptor`` (``{high: ..., low: ...}``
for scales, ``{<option>: ...}`` for choices) gives the persona's name its adjective
("Budget-minded Beth").
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined

from .errors import ConfigError
from .paths import RESOURCES_DIR

#: JSON export schema: bump the number when fields change meaning or disappear.
PERSONA_SCHEMA = "personalab.persona/1"

FACETS = ("goals", "pain_points", "motivations", "behaviours", "objections", "distinctive")
FACET_TITLES = {"goals": "Goals", "pain_points": "Pain points and frustrations",
                "motivations": "Motivations", "behaviours": "Behaviours and channels",
                "objections": "Objections", "distinctive": "What sets them apart"}
_FACET_ALIASES = {"goal": "goals", "goals": "goals", "pain_point": "pain_points",
                  "pain_points": "pain_points", "pain": "pain_points", "frustration": "pain_points",
                  "motivation": "motivations", "motivations": "motivations",
                  "behaviour": "behaviours", "behavior": "behaviours", "behaviours": "behaviours",
                  "channel": "behaviours", "objection": "objections", "objections": "objections",
                  "demographic": "demographics", "demographics": "demographics"}


# --------------------------------------------------------------------------- data model
@dataclass
class Evidence:
    """What one statement stands on. ``kind`` is 'profile', 'theme', 'size', 'quote' or
    'stability'; ``ref`` is a stable key into the table it comes from."""

    kind: str
    ref: str
    question: str | None = None
    variable: str | None = None
    level: str | None = None
    value: float | None = None
    total: float | None = None
    index: float | None = None
    test: str | None = None
    p_adjusted: float | None = None
    n: int | None = None

    def footnote(self) -> str:
        """One line a reader can check against the tables."""
        parts = [self.ref]
        if self.value is not None and self.total is not None:
            parts.append(f"segment {_num(self.value)} vs total {_num(self.total)}")
        if self.index is not None:
            parts.append(f"index {self.index:.0f}")
        if self.test:
            p = self.p_adjusted
            parts.append(f"{self.test} test, adjusted p {'< 0.001' if p is not None and p < 0.001 else _num(p, 3)}")
        if self.n is not None:
            parts.append(f"n = {self.n:,}")
        return "; ".join(parts)


@dataclass
class Statement:
    """A sentence of a persona and the evidence behind it."""

    text: str
    evidence: list[Evidence] = field(default_factory=list)
    #: 'over' or 'under' the total, as the respondent answered (reverse keying undone)
    direction: str | None = None


@dataclass
class Quote:
    respondent_id: str
    question: str
    text: str
    themes: list[str] = field(default_factory=list)
    sentiment: float | None = None

    @property
    def ref(self) -> str:
        return f"quote:{self.respondent_id}:{self.question}"


@dataclass
class PersonaDraft:
    """One persona, every part traceable to a number or a quote."""

    segment: int
    name: str
    first_name: str
    descriptor: str
    headline: Statement
    size: dict
    size_statement: Statement
    confidence: str
    confidence_statement: Statement
    demographics: list[Statement] = field(default_factory=list)
    goals: list[Statement] = field(default_factory=list)
    pain_points: list[Statement] = field(default_factory=list)
    motivations: list[Statement] = field(default_factory=list)
    behaviours: list[Statement] = field(default_factory=list)
    objections: list[Statement] = field(default_factory=list)
    distinctive: list[Statement] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    negative: bool = False
    negative_statement: Statement | None = None

    def statements(self) -> list[Statement]:
        """Every statement of the persona (headline first)."""
        out = [self.headline, self.size_statement, self.confidence_statement]
        if self.negative_statement is not None:
            out.append(self.negative_statement)
        out += self.demographics
        for f in FACETS:
            out += getattr(self, f)
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quotes"] = [dict(asdict(q), ref=q.ref) for q in self.quotes]
        return d


# --------------------------------------------------------------------------- text
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.filters["pct"] = lambda v: f"{v:.0%}" if v is not None and not _isnan(v) else "n/a"
_ENV.filters["num"] = lambda v: _num(v)

#: The sentence templates. Every placeholder is filled from the evidence row.
TEMPLATES = {
    "likert_over": "Agree more than most that “{{ text }}” (mean {{ value|num }} vs "
                   "{{ total|num }} overall on a {{ lo }}–{{ hi }} scale).",
    "likert_under": "Agree less than most that “{{ text }}” (mean {{ value|num }} vs "
                    "{{ total|num }} overall on a {{ lo }}–{{ hi }} scale).",
    "share_over": "{{ value|pct }} answered “{{ level }}” to “{{ text }}”, against "
                  "{{ total|pct }} of all respondents.",
    "share_under": "Only {{ value|pct }} answered “{{ level }}” to “{{ text }}”, against "
                   "{{ total|pct }} of all respondents.",
    "multi_over": "{{ value|pct }} chose “{{ level }}” for “{{ text }}” ({{ total|pct }} "
                  "overall).",
    "multi_under": "Only {{ value|pct }} chose “{{ level }}” for “{{ text }}” ({{ total|pct }} "
                   "overall).",
    "numeric_over": "Higher {{ text }}: {{ value|num }} on average against {{ total|num }} "
                    "overall.",
    "numeric_under": "Lower {{ text }}: {{ value|num }} on average against {{ total|num }} "
                     "overall.",
    "theme_over": "{{ value|pct }} bring up “{{ label }}” in their own words, against "
                  "{{ total|pct }} of other respondents.",
    "demo_share": "{{ text }} “{{ level }}”: {{ value|pct }}, against {{ total|pct }} "
                  "overall.",
    "demo_mean": "{{ text }}: {{ value|num }} on average ({{ total|num }} overall).",
    "size": "{{ n }} respondents, {{ share|pct }} of the weighted sample (95% CI "
            "{{ low|pct }}–{{ high|pct }}).",
    "headline": "{{ share|pct }} of respondents. {{ lead }}",
    "confidence": "{{ badge|capitalize }} confidence: {{ reason }}",
    "negative": "Not a fit: {{ reason }}",
}


def render(key: str, **values) -> str:
    """Fill one of :data:`TEMPLATES`."""
    return _ENV.from_string(TEMPLATES[key]).render(**values)


def _isnan(v) -> bool:
    try:
        return v is None or math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def _num(v, digits: int = 2) -> str:
    if v is None or _isnan(v):
        return "n/a"
    v = float(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.1f}"


def _f(v):
    return None if v is None or _isnan(v) else float(v)


# --------------------------------------------------------------------------- names
@lru_cache(maxsize=1)
def name_table() -> pd.DataFrame:
    """Popular first names by birth decade and sex (US Social Security Administration,
    public domain), shipped in ``personalab/resources/first_names_by_decade.csv``."""
    return pd.read_csv(RESOURCES_DIR / "first_names_by_decade.csv", comment="#",
                       dtype={"decade": int, "rank": int})


def _pick_name(decade: int, sex: str, descriptor: str, used: set[str]) -> str:
    """A popular name of the birth decade, alliterating with the descriptor when one of
    that decade or a neighbouring one does ("Budget-minded Beth"), never one already used."""
    table = name_table()
    decades = sorted(table["decade"].unique())
    decade = min(decades, key=lambda d: (abs(d - decade), d))
    initial = descriptor[:1].upper()

    def names_of(d):
        rows = table[(table["decade"] == d) & (table["sex"] == sex)]
        return rows.sort_values("rank")["name"].tolist()

    for d in (decade, decade - 10, decade + 10):
        for n in names_of(d):
            if n[:1] == initial and n not in used:
                return n
    for n in names_of(decade):
        if n not in used:
            return n
    rest = table[~table["name"].isin(used)].sort_values(["rank", "name"])["name"]
    return rest.iloc[0]


# --------------------------------------------------------------------------- helpers
def _question(survey, qid):
    try:
        return survey.codebook[qid]
    except KeyError:
        return None


def _facet_of(q) -> str | None:
    f = getattr(q, "facet", None) if q is not None else None
    return _FACET_ALIASES.get(str(f).lower()) if f else None


def _scale_bounds(q) -> tuple:
    codes = [o.code for o in getattr(q, "scale", []) or []]
    nums = [c for c in codes if isinstance(c, (int, float))]
    return (min(nums), max(nums)) if nums else ("low", "high")


def _profile_evidence(row) -> Evidence:
    return Evidence(kind="profile", ref=f"profile:{row['variable']}", question=row["question"],
                    variable=row["variable"],
                    level=None if _isnan(row.get("level")) or row.get("level") is None
                    else str(row["level"]),
                    value=_f(row["value"]), total=_f(row["total"]), index=_f(row["index"]),
                    test=row.get("test"), p_adjusted=_f(row.get("p_adjusted")),
                    n=int(row["n"]) if not _isnan(row.get("n")) else None)


def _statement_for(row, q) -> Statement:
    """One profile row as a sentence. Reverse-keyed items are worded by what respondents
    actually said: the profile holds flipped scores, so 'over' means *less* agreement."""
    ev = _profile_evidence(row)
    text = (q.text if q is not None and q.text else row.get("question_text")) or row["question"]
    over = row["effect_size"] > 0
    qtype = row["type"]
    if qtype == "likert":
        lo, hi = _scale_bounds(q)
        value, total = row["value"], row["total"]
        if q is not None and getattr(q, "reverse", False) and isinstance(lo, (int, float)):
            # back to the answer scale the respondent saw
            value, total, over = lo + hi - value, lo + hi - total, not over
        key = "likert_over" if over else "likert_under"
        return Statement(render(key, text=text, value=value, total=total, lo=lo, hi=hi), [ev],
                         "over" if over else "under")
    if qtype == "multi":
        key = "multi_over" if over else "multi_under"
        return Statement(render(key, text=text, level=row["level"], value=row["value"],
                                total=row["total"]), [ev], "over" if over else "under")
    if qtype == "numeric" or row.get("measure") == "mean":
        key = "numeric_over" if over else "numeric_under"
        return Statement(render(key, text=text.rstrip("?").lower(), value=row["value"],
                                total=row["total"]), [ev], "over" if over else "under")
    key = "share_over" if over else "share_under"
    return Statement(render(key, text=text, level=row["level"], value=row["value"],
                            total=row["total"]), [ev], "over" if over else "under")


def _descriptor(row, q) -> str | None:
    """The adjective for the persona's name, from the codebook's ``descriptor``."""
    if q is None:
        return None
    d = getattr(q, "descriptor", None) or {}
    if not d:
        return None
    over = row["effect_size"] > 0
    if row["type"] in ("likert", "numeric"):
        if row["type"] == "likert" and getattr(q, "reverse", False):
            over = not over
        return d.get("high" if over else "low")
    if over and row.get("level") is not None:
        return d.get(str(row["level"]))
    return None


def _fallback_descriptor(row) -> str:
    level = row.get("level")
    if level is not None and not _isnan(level) and len(str(level).split()) <= 3 \
            and row["effect_size"] > 0:
        return f"{str(level)[:1].upper()}{str(level)[1:]}-leaning"
    return "Distinct"


def _demographic_question(survey, words) -> str | None:
    """The profile question about age or gender, found by its id or text."""
    pattern = re.compile(r"\b(" + "|".join(words) + r")\b", re.I)
    for q in survey.codebook.questions:
        if q.role == "ignore" or q.type not in ("single", "numeric", "likert"):
            continue
        if _facet_of(q) == "demographics" or q.role == "profile":
            if pattern.search(q.id) or pattern.search(q.text or ""):
                return q.id
    return None


def _segment_age(survey, labels, seg, qid) -> float | None:
    """Median age (numeric question) or the middle of the modal age band."""
    if qid is None:
        return None
    q = survey.codebook[qid]
    ids = labels.index[labels == seg]
    if q.type == "numeric":
        v = survey.numeric()[qid].reindex(ids).dropna()
        return float(v.median()) if len(v) else None
    col = survey.categorical()[qid].reindex(ids).dropna()
    if not len(col):
        return None
    band = str(col.value_counts().sort_index(kind="stable").idxmax())
    nums = [int(x) for x in re.findall(r"\d+", band)]
    if not nums:
        return None
    return float(np.mean(nums[:2])) if len(nums) > 1 else float(nums[0]) + 5


def _segment_sex(survey, labels, seg, qid) -> str:
    if qid is None:
        return "F" if seg % 2 == 0 else "M"
    col = survey.categorical()[qid].reindex(labels.index[labels == seg]).dropna().astype(str)
    fem = col.str.contains(r"^\s*(?:f|female|woman|women)\b", case=False, regex=True).mean()
    male = col.str.contains(r"^\s*(?:m|male|man|men)\b", case=False, regex=True).mean()
    if _isnan(fem) or _isnan(male):
        return "F" if seg % 2 == 0 else "M"
    if fem == male:
        return "F" if seg % 2 == 0 else "M"
    return "F" if fem > male else "M"


def _survey_year(survey) -> int:
    """The year the wave was collected (its latest date), so names do not drift with the
    calendar; the current year when the wave has no dates."""
    for col in survey.data.columns:
        s = survey.data[col]
        if pd.api.types.is_datetime64_any_dtype(s) and s.notna().any():
            return int(s.max().year)
    meta = survey.meta() if hasattr(survey, "meta") else pd.DataFrame()
    for col in ("RecordedDate", "EndDate", "StartDate", "Timestamp"):
        if col in meta:
            d = pd.to_datetime(meta[col], errors="coerce", format="mixed")
            if d.notna().any():
                return int(d.max().year)
    return pd.Timestamp.now().year


# --------------------------------------------------------------------------- negative
def _not_a_fit_rules(not_a_fit) -> list[dict]:
    if not not_a_fit:
        return []
    rules = not_a_fit if isinstance(not_a_fit, list) else [not_a_fit]
    out = []
    for r in rules:
        if not isinstance(r, dict) or "question" not in r or not ({"above", "below"} & set(r)):
            raise ConfigError(
                f"not_a_fit rule {r!r} needs a 'question' and 'above' or 'below'",
                column="not_a_fit",
                fix="e.g. not_a_fit: {question: Q9, level: 'Very unlikely', above: 0.4}")
        out.append(r)
    return out


def _match_not_a_fit(profile_seg: pd.DataFrame, rules) -> Statement | None:
    """A segment is a negative persona when every rule holds on its profile values."""
    if not rules:
        return None
    evidence, reasons = [], []
    for r in rules:
        rows = profile_seg[profile_seg["question"] == r["question"]]
        if "level" in r and r["level"] is not None:
            rows = rows[rows["level"].astype(str) == str(r["level"])]
        if rows.empty:
            raise ConfigError(f"not_a_fit names question {r['question']!r}"
                              + (f" level {r.get('level')!r}" if r.get("level") else "")
                              + " which is not in the profile", column="not_a_fit",
                              fix="use a question id (and answer label) from the codebook "
                                  "whose role is segment or profile")
        row = rows.iloc[0]
        v = row["value"]
        ok = True
        if "above" in r and not v > r["above"]:
            ok = False
        if "below" in r and not v < r["below"]:
            ok = False
        if not ok:
            return None
        evidence.append(_profile_evidence(row))
        what = f"“{row['level']}”" if row.get("level") is not None and not _isnan(row["level"]) \
            else f"the mean of {row['question']}"
        bound = (f"above {_num(r['above'])}" if "above" in r else f"below {_num(r['below'])}")
        reasons.append(f"{what} on {row['question']} is {_num(v)} ({bound})")
    return Statement(render("negative", reason="; ".join(reasons) + "."), evidence)


# --------------------------------------------------------------------------- drafting
def confidence_badge(stability: float | None, unassigned_share: float | None) -> tuple[str, str]:
    """'high', 'medium' or 'low' from the segment's reproducibility and the unassigned share.

    High: reproduced in ≥ 85% of resamples (clusterwise Jaccard) and ≤ 10% unassigned;
    low: below 0.6 (Hennig's 'dissolved' bound) or more than 25% unassigned.
    """
    if stability is None or _isnan(stability):
        return "medium", "stability was not assessed for this run"
    u = 0.0 if unassigned_share is None or _isnan(unassigned_share) else unassigned_share
    reason = (f"the segment reproduces at Jaccard {stability:.2f} across resamples and "
              f"{u:.0%} of respondents are unassigned.")
    if stability >= 0.85 and u <= 0.10:
        return "high", reason
    if stability < 0.6 or u > 0.25:
        return "low", reason
    return "medium", reason


def _quotes_for(quotes: pd.DataFrame | None, seg, n: int) -> list[Quote]:
    if quotes is None or quotes.empty:
        return []
    q = quotes[quotes["segment"] == seg].sort_values("rank", kind="stable").head(n)
    out = []
    for _, r in q.iterrows():
        themes = r.get("themes")
        if isinstance(themes, str):
            themes = [t for t in themes.split(";") if t]
        elif themes is None or (not isinstance(themes, (list, tuple, np.ndarray))):
            themes = []
        out.append(Quote(respondent_id=str(r["respondent_id"]), question=str(r["question"]),
                         text=str(r["text"]), themes=list(themes),
                         sentiment=_f(r.get("sentiment"))))
    return out


def _theme_statements(theme_profile, seg, theme_info, max_items) -> dict[str, list[Statement]]:
    """Over-represented themes, by facet: a theme's ``facet`` if given, else negative
    polarity -> pain points, anything else -> goals."""
    out: dict[str, list[Statement]] = {}
    if theme_profile is None or theme_profile.empty:
        return out
    rows = theme_profile[(theme_profile["segment"] == seg) & theme_profile["over"]]
    rows = rows.sort_values(["index", "theme"], ascending=[False, True], kind="stable")
    for _, r in rows.head(max_items).iterrows():
        info = theme_info.get(r["theme"], {})
        facet = _FACET_ALIASES.get(str(info.get("facet") or "").lower())
        if facet is None or facet == "demographics":
            facet = "pain_points" if info.get("polarity") == "negative" else "goals"
        ev = Evidence(kind="theme", ref=f"theme:{r['theme']}", variable=str(r["theme"]),
                      value=_f(r["share"]), total=_f(r["share_rest"]), index=_f(r["index"]),
                      test=str(r["test"]), p_adjusted=_f(r["p_adjusted"]), n=int(r["n"]))
        out.setdefault(facet, []).append(
            Statement(render("theme_over", label=info.get("label", r["theme"]),
                             value=r["share"], total=r["share_rest"]), [ev]))
    return out


def draft_personas(survey, labels, profile: pd.DataFrame, sizes: pd.DataFrame, *,
                   quotes: pd.DataFrame | None = None, theme_profile: pd.DataFrame | None = None,
                   theme_info: dict | None = None, stability: dict | None = None,
                   unassigned_share: float | None = None, not_a_fit=None, n_quotes: int = 5,
                   max_items: int = 4) -> list[PersonaDraft]:
    """Draft one persona per segment from the evidence.

    Parameters
    ----------
    survey : Survey
        The analysed respondents (codebook: question texts, facets, descriptors).
    labels : Series
        Segment per respondent id (-1 = unassigned: no persona).
    profile : DataFrame
        From :func:`personalab.profiles.profile_segments`.
    sizes : DataFrame
        From :func:`personalab.profiles.segment_sizes`.
    quotes : DataFrame, optional
        From :func:`personalab.quotes.representative_quotes` (already redacted).
    theme_profile : DataFrame, optional
        From :func:`personalab.discovery.distinctive_themes`.
    theme_info : dict, optional
        theme id -> {label, polarity, facet} from the theme codebook.
    stability : dict, optional
        segment -> clusterwise Jaccard reproducibility.
    unassigned_share : float, optional
    not_a_fit : dict or list of dict, optional
        Rules ``{question, level (optional), above | below}`` on a segment's profile value
        (a share or a mean); a segment meeting all of them becomes a negative persona.
    n_quotes : int
        Quotes per persona (3–5 recommended).
    max_items : int
        Statements per facet.

    Returns
    -------
    list of PersonaDraft
        Ordered by segment (0 = largest).
    """
    labels = pd.Series(labels)
    rules = _not_a_fit_rules(not_a_fit)
    theme_info = theme_info or {}
    stability = stability or {}
    age_q = _demographic_question(survey, ["age", "age band", "age group", "year of birth"])
    sex_q = _demographic_question(survey, ["gender", "sex"])
    year = _survey_year(survey)
    segments = sorted(int(s) for s in sizes["segment"] if s != "unassigned")
    used: set[str] = set()
    personas = []
    for seg in segments:
        prof = profile[profile["segment"] == seg]
        sig = prof[prof["significant"] & prof["effect_size"].notna()].copy()
        sig["_strength"] = sig["effect_size"].abs()
        sig = sig.sort_values(["_strength", "variable"], ascending=[False, True], kind="stable")
        facets: dict[str, list[Statement]] = {f: [] for f in FACETS}
        demographics: list[Statement] = []
        seen_q: set[str] = set()
        descriptor, lead = None, None
        for _, row in sig.iterrows():
            q = _question(survey, row["question"])
            facet = _facet_of(q)
            if facet is None:
                if row["type"] == "multi":
                    facet = "behaviours"
                elif q is not None and q.role == "profile" and row["type"] in ("single",
                                                                               "numeric"):
                    facet = "demographics"
                else:
                    facet = "distinctive"
            if facet == "demographics":
                if row["question"] in seen_q or row["effect_size"] <= 0 \
                        and row["type"] != "numeric":
                    continue
                seen_q.add(row["question"])
                text = (q.text if q is not None and q.text else row["question"])
                st = (render("demo_mean", text=text, value=row["value"], total=row["total"])
                      if row["type"] == "numeric" else
                      render("demo_share", text=text, level=row["level"], value=row["value"],
                             total=row["total"]))
                demographics.append(Statement(st, [_profile_evidence(row)]))
                continue
            st = _statement_for(row, q)
            if facet in ("goals", "pain_points", "motivations", "objections") \
                    and st.direction == "under":
                # "agrees less than most that X is a goal" is not one of their goals: it is
                # still a finding, listed with what sets them apart
                facet = "distinctive"
            if lead is None:
                lead = st
            if descriptor is None:
                descriptor = _descriptor(row, q)
            if len(facets[facet]) < max_items:
                facets[facet].append(st)
        for facet, sts in _theme_statements(theme_profile, seg, theme_info, max_items).items():
            facets[facet] = (facets.get(facet, []) + sts)[: max_items + len(sts)]
        if descriptor is None:
            descriptor = _fallback_descriptor(sig.iloc[0]) if len(sig) else "Typical"
        age = _segment_age(survey, labels, seg, age_q)
        decade = int((year - (age if age is not None else 40)) // 10 * 10)
        sex = _segment_sex(survey, labels, seg, sex_q)
        first = _pick_name(decade, sex, descriptor, used)
        used.add(first)
        srow = sizes[sizes["segment"] == seg].iloc[0]
        size = {"n": int(srow["n"]), "share": float(srow["share"]),
                "weighted_share": float(srow["weighted_share"]),
                "ci_low": float(srow["ci_low"]), "ci_high": float(srow["ci_high"])}
        size_ev = Evidence(kind="size", ref=f"size:{seg}", value=size["weighted_share"],
                           n=size["n"])
        size_st = Statement(render("size", n=f"{size['n']:,}", share=size["weighted_share"],
                                   low=size["ci_low"], high=size["ci_high"]), [size_ev])
        lead_text = lead.text if lead is not None else "No trait differs significantly from " \
                                                       "the total: treat with caution."
        headline = Statement(render("headline", share=size["weighted_share"], lead=lead_text),
                             [size_ev] + (lead.evidence if lead is not None else []))
        stab = stability.get(seg, stability.get(str(seg)))
        badge, reason = confidence_badge(stab, unassigned_share)
        conf_ev = [Evidence(kind="stability", ref=f"stability:{seg}", value=_f(stab))]
        negative = _match_not_a_fit(prof, rules)
        personas.append(PersonaDraft(
            segment=seg, name=f"{descriptor} {first}", first_name=first, descriptor=descriptor,
            headline=headline, size=size, size_statement=size_st, confidence=badge,
            confidence_statement=Statement(render("confidence", badge=badge, reason=reason),
                                           conf_ev),
            demographics=demographics[:max_items], quotes=_quotes_for(quotes, seg, n_quotes),
            negative=negative is not None, negative_statement=negative,
            **{f: facets[f] for f in FACETS}))
    return personas


# --------------------------------------------------------------------------- exports
def personas_to_json(personas: list[PersonaDraft], *, wave: str | None = None) -> dict:
    """The versioned JSON document (``schema``: :data:`PERSONA_SCHEMA`)."""
    return {"schema": PERSONA_SCHEMA, "wave": wave,
            "personas": [p.to_dict() for p in personas]}


def personas_to_markdown(personas: list[PersonaDraft], *, wave: str | None = None) -> str:
    """Markdown, one section per persona, evidence as numbered footnotes."""
    lines = [f"# Personas{f' — {wave}' if wave else ''}", ""]
    notes: list[str] = []

    def cite(st: Statement) -> str:
        marks = []
        for ev in st.evidence:
            notes.append(ev.footnote())
            marks.append(f"[^{len(notes)}]")
        return st.text + "".join(marks)

    for p in personas:
        lines += [f"## {p.name}{' (not a fit)' if p.negative else ''}", "",
                  f"*{cite(p.headline)}*", "", f"- **Size:** {cite(p.size_statement)}",
                  f"- **Confidence:** {cite(p.confidence_statement)}"]
        if p.negative_statement is not None:
            lines.append(f"- **{cite(p.negative_statement)}**")
        lines.append("")
        groups = [("Demographics", p.demographics)] + [(FACET_TITLES[f], getattr(p, f))
                                                        for f in FACETS]
        for title, sts in groups:
            if sts:
                lines += [f"### {title}", ""] + [f"- {cite(s)}" for s in sts] + [""]
        if p.quotes:
            lines += ["### In their own words", ""]
            for q in p.quotes:
                lines.append(f"> {q.text}")
                lines.append(f">\n> — respondent {q.respondent_id}, {q.question} "
                             f"({q.ref})")
                lines.append("")
    if notes:
        lines += ["---", ""] + [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def evidence_table(personas: list[PersonaDraft]) -> pd.DataFrame:
    """Every statement with its evidence, one row per (statement, evidence)."""
    rows = []
    for p in personas:
        for st in p.statements():
            for ev in st.evidence:
                rows.append({"segment": p.segment, "persona": p.name, "statement": st.text,
                             **asdict(ev)})
    return pd.DataFrame(rows)


def quotes_table(personas: list[PersonaDraft]) -> pd.DataFrame:
    rows = [{"segment": p.segment, "persona": p.name, "respondent_id": q.respondent_id,
             "question": q.question, "quote": q.text, "themes": "; ".join(q.themes),
             "sentiment": q.sentiment} for p in personas for q in p.quotes]
    return pd.DataFrame(rows, columns=["segment", "persona", "respondent_id", "question",
                                       "quote", "themes", "sentiment"])


def write_persona_exports(personas: list[PersonaDraft], folder, *, wave: str | None = None,
                          profile: pd.DataFrame | None = None) -> dict:
    """Write personas.json, personas.md, persona_cards.html, and CSV/XLSX of evidence, quotes
    and the profile (spreadsheet formulas neutralised). Returns {kind: path}."""
    import json

    from .exports import to_safe_csv, to_safe_xlsx
    from .report import persona_cards_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    doc = personas_to_json(personas, wave=wave)
    out["json"] = folder / "personas.json"
    out["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True,
                                      default=_json_default) + "\n", encoding="utf-8")
    out["markdown"] = folder / "personas.md"
    out["markdown"].write_text(personas_to_markdown(personas, wave=wave), encoding="utf-8")
    out["html"] = folder / "persona_cards.html"
    out["html"].write_text(persona_cards_html(personas, wave=wave, standalone=True),
                           encoding="utf-8")
    evid, quotes = evidence_table(personas), quotes_table(personas)
    out["evidence_csv"] = to_safe_csv(evid, folder / "persona_evidence.csv")
    out["quotes_csv"] = to_safe_csv(quotes, folder / "persona_quotes.csv")
    sheets = {"evidence": evid, "quotes": quotes}
    if profile is not None:
        out["profile_csv"] = to_safe_csv(profile, folder / "segment_profiles.csv")
        sheets["profiles"] = profile
    out["xlsx"] = to_safe_xlsx(sheets, folder / "personas.xlsx")
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if np.isnan(o) else float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)

