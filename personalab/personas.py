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
("Budget-minded Beth"); without one the persona is called by its first name alone.

The text never contradicts its data:

* one direction: the profile reports reverse-keyed items as answered, and "over" is
  "answered higher" everywhere (table, heat map, card);
* wording by question type: agreement scales "agree", other rating scales "rate" with the
  scale's own end labels, numbers are reported as numbers; long question texts are shown
  by their short label (:func:`question_label`);
* a trait is written up only when significant, at least a small effect
  (:data:`MIN_EFFECT`) and resting on at least :data:`MIN_CELL` respondents; goals,
  motivations, pain points and objections list only what the segment holds, past the
  scale's midpoint (:func:`_holds_facet`);
* the confidence badge is capped by the run's verdict (:func:`cap_confidence`);
* quotes that carry a theme the segment mentions less than others are left out, quotes
  carrying its own themes come first, and the headline quote carries one of them;
* a quote is shown only when its respondent is typical of the persona on the traits the
  card states and the quote does not contradict them (:func:`quote_fit`); when no quote
  passes, the persona says so (``quotes_note``) instead of showing one;
* each persona opens with a 2-3 sentence narrative built from the same phrases as its
  bullets, every sentence footnoted; a segment with no closed-question trait to state opens
  with its own theme when it has one, and says why no closed question sets it apart, with
  its number: too few respondents (n), answers resting on too few of them (a head count),
  no difference past a small effect (the largest, as read against the total, and its
  effect size in the profile), or none significant (:func:`_no_trait_reason`);
* footnotes name questions, answers and themes as a reader knows them (the codebook's
  short label, the answer's label or "(an unlabelled code)", the theme's label), never by
  the export's ids, which stay in the evidence exports (``ref``); a statement on a
  segmentation input (:func:`is_segmentation_input`) cites its effect size and says the
  question formed the segments, never a p-value: the segments were built to differ on it,
  so that test is circular (profile-only questions keep their adjusted p);
* a theme's footnote compares the segment with the rest of the respondents, as its
  sentence does, and gives the share among all who answered that its index divides by;
  with several open questions the share counts any open answer, and both say so;
* shares are among those who answered the question (:mod:`personalab.profiles`): a
  sentence says "of all respondents" only when everyone answered it, else "of those who
  answered"; theme shares are among those who answered the open questions ("of other
  respondents who answered" unless everyone did);
* a segment the run's verdict says is not a persona (not asked a block of questions, or
  every segment when they are a split on one input) is named "Segment 3 (not a persona)",
  never given a person's name (:func:`not_a_persona_reason`);
* a persona's first name follows the segment's answers to a gender question; without one
  (or on a tie) it is a gender-neutral name, so no gender is made up.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined

from .codebook import SHORT_LABEL_CHARS, distinct_labels, short_label
from .diagnostics import MIN_JACCARD, stability_verdict
from .errors import ConfigError
from .paths import RESOURCES_DIR

#: JSON export schema: bump the number when fields change meaning or disappear. /2: a theme's
#: evidence ``total`` is the share among all who answered the open questions (its index's
#: denominator; /1 held the other respondents' share there, now ``rest``).
PERSONA_SCHEMA = "personalab.persona/2"

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
    """What one statement stands on. ``kind`` is 'profile', 'theme', 'size', 'quote',
    'stability' or 'wave_size' (a carried persona's placed count in a later wave: ``value``
    the new wave's share, ``n`` the respondents the baseline model places into the persona,
    ``label`` its name; ``personalab.wave_step.renamed_personas``); ``ref`` is a stable key
    into the table it comes from (the exports keep it; the footnote a reader sees names the
    question, theme or persona by ``label`` instead)."""

    kind: str
    ref: str
    question: str | None = None
    variable: str | None = None
    level: str | None = None
    value: float | None = None
    #: what ``value`` is compared with: the total (profile rows), the share of all
    #: respondents who answered the open questions (themes); ``index`` is value / total x 100
    total: float | None = None
    index: float | None = None
    test: str | None = None
    p_adjusted: float | None = None
    n: int | None = None
    #: a size on a weighted survey (the footnote says "weighted" only then)
    weighted: bool = False
    #: how a reader knows the question (its codebook short label) or the theme (its label
    #: in the theme codebook); None on evidence pickled before it existed (the footnote
    #: then falls back to ``ref``)
    label: str | None = None
    #: the answer as a reader reads it: the codebook's label for the code, or "code 10
    #: (no label in the codebook)" (:func:`level_text`); None for a mean
    level_label: str | None = None
    #: the answer is a bare code the codebook gives no label (the footnote says so)
    unlabelled_code: bool = False
    #: the profile's effect size (segment vs the rest of the sample) and its measure
    #: ('cohen_h' for shares, 'cohen_d' for means)
    effect_size: float | None = None
    effect_measure: str | None = None
    #: the question was a segmentation input: the segments were formed to differ on it, so
    #: its test is circular and the footnote does not cite it (:func:`is_segmentation_input`)
    segmentation_input: bool = False
    #: a theme's share among the other respondents (the sentence's comparison)
    rest: float | None = None
    #: what a theme share is counted over: "any open answer" when the survey has several
    #: open questions (a respondent counts once, whichever answer mentions the theme), or
    #: the one open question's label
    scope: str | None = None

    def footnote(self) -> str:
        """One line a reader can check against the tables (the card names its persona, so a
        size or stability note reads by what it measures, not by segment number; ``ref``
        keeps the table key in the evidence exports, the footnote names the question or
        theme by its label). A segmentation input's row gives its numbers and effect size
        and says it was used to form the segments, never a p-value: the segments were built
        to differ on it, so its test says nothing (the profile-only rows keep theirs)."""
        if self.kind == "size" and self.value is not None:
            n = f", n = {self.n:,}" if self.n is not None else ""
            how = " (weighted)" if self.weighted else ""
            return f"segment sizes: {self.value:.1%} of respondents{how}{n}"
        if self.kind == "stability":
            if self.value is None:
                return "stability: not measured in this run"
            return f"stability: mean Jaccard {self.value:.2f} with itself over the refits"
        if self.kind == "theme":
            return self._theme_footnote()
        label = getattr(self, "label", None)
        if self.kind == "wave_size" and self.value is not None:
            n = f" (n = {self.n:,})" if self.n is not None else ""
            who = label or f"the persona of {self.ref}"
            return f"placed into {who} by the baseline model: {self.value:.1%}{n}"
        if self.kind == "profile" and label:
            level = getattr(self, "level_label", None) or self.level
            head = f"“{label}”" + (f" = “{level}”" if level is not None else "")
            if level is not None and getattr(self, "unlabelled_code", False):
                head += UNLABELLED
        else:
            head = self.ref
        parts = [head]
        if self.value is not None and self.total is not None:
            parts.append(f"segment {_num(self.value)} vs total {_num(self.total)}")
        if self.index is not None:
            parts.append(f"index {self.index:.0f}")
        effect = _effect_text(getattr(self, "effect_size", None),
                              getattr(self, "effect_measure", None))
        if getattr(self, "segmentation_input", False):
            if effect:
                parts.append(effect)
            parts.append("used to form the segments, so not tested (they were built to "
                         "differ on it)")
        else:
            if effect:
                parts.append(effect)
            if self.test:
                parts.append(f"{_test_name(self.test)}, adjusted p {_p_text(self.p_adjusted)}")
        if self.n is not None:
            parts.append(f"n = {self.n:,}")
        return "; ".join(parts)

    def _theme_footnote(self) -> str:
        label = getattr(self, "label", None)
        scope = getattr(self, "scope", None)
        rest = getattr(self, "rest", None)
        head = f"theme “{label}”" if label else self.ref
        if scope:
            head += f" ({scope})"
        parts = [head]
        if self.value is not None and rest is not None:
            parts.append(f"segment {_pct(self.value)} vs rest {_pct(rest)}")
            if self.total is not None:
                parts.append(f"all who answered {_pct(self.total)}")
        elif self.value is not None and self.total is not None:
            parts.append(f"segment {_pct(self.value)} vs total {_pct(self.total)}")
        if self.index is not None:
            parts.append(f"index {self.index:.0f} (segment / all who answered × 100)"
                         if rest is not None else f"index {self.index:.0f}")
        if self.test:
            parts.append(f"{_test_name(self.test)}, adjusted p {_p_text(self.p_adjusted)}")
        if self.n is not None:
            parts.append(f"n = {self.n:,}")
        return "; ".join(parts)


#: How a footnote names a profile's or theme table's test.
TEST_NAMES = {"two_proportion_z": "two-proportion z-test", "welch_t": "Welch t-test",
              "z": "two-proportion z-test", "fisher": "Fisher exact test",
              "mannwhitney": "Mann-Whitney U test", "mann_whitney": "Mann-Whitney U test",
              "fisher_exact": "Fisher exact test", "chi2": "chi-square test"}
#: How a footnote names an effect size measure.
EFFECT_NAMES = {"cohen_h": "Cohen's h", "cohen_d": "Cohen's d"}


def _test_name(test) -> str:
    t = str(test)
    return TEST_NAMES.get(t, f"{t} test")


def _p_text(p) -> str:
    return "< 0.001" if p is not None and not _isnan(p) and p < 0.001 else _num(p, 3)


def _pct(v) -> str:
    return "n/a" if v is None or _isnan(v) else f"{float(v):.0%}"


def _effect_text(effect, measure) -> str | None:
    if effect is None or _isnan(effect):
        return None
    name = EFFECT_NAMES.get(str(measure)) if measure else None
    return f"effect size {_num(effect)} ({name + ', ' if name else ''}segment vs the rest)"


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
    #: how a reader knows the question: its text, after the closed question it follows up
    #: when it is one ("Would you bring up … in an interview? — Why or why not?")
    question_text: str | None = None
    #: the themes as a reader knows them (their labels in the theme codebook), in the order
    #: of ``themes``; None on quotes pickled before it existed (the cards then show the ids)
    theme_labels: list[str] | None = None

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
    #: 2-3 sentences that open the persona, one footnoted clause each
    narrative: list[Statement] = field(default_factory=list)
    #: the quote shown under the narrative (one of ``quotes``, carrying the persona's themes)
    headline_quote: Quote | None = None
    #: the segment's quotes left out because they do not fit the persona (:func:`quote_fit`):
    #: ``{"ref", "respondent_id", "text", "reasons"}`` each
    quotes_left_out: list[dict] = field(default_factory=list)
    #: why no quote is shown although the segment had some (every one failed
    #: :func:`quote_fit`); None when quotes are shown or there were none to show
    quotes_note: str | None = None
    #: why the run's verdict says this segment is not a persona (a block of questions it was
    #: not asked, or segments that are a split on one input: :func:`not_a_persona_reason`);
    #: such a segment is named plainly ("Segment 3 (not a persona)"), never given a person's
    #: name. None for a persona.
    not_a_persona: str | None = None
    #: why the segment is an exploratory lead rather than a persona although the run's
    #: verdict does not refuse it: it dissolves on resampling (its clusterwise Jaccard is
    #: below :data:`personalab.diagnostics.MIN_JACCARD`), e.g. "dissolves on resampling
    #: (Jaccard 0.54, below 0.6)" (:func:`dissolves_note`). None when it reproduces or its
    #: stability was not measured.
    exploratory: str | None = None

    def __setstate__(self, state):
        # personas pickled by an earlier version (a wave's baseline run) lack later fields
        self.__dict__.update(state)
        for f in dataclasses.fields(self):
            if f.name not in self.__dict__:
                self.__dict__[f.name] = (f.default_factory()
                                         if f.default_factory is not dataclasses.MISSING
                                         else f.default)

    def statements(self) -> list[Statement]:
        """Every statement of the persona (headline first)."""
        out = [self.headline, *self.narrative, self.size_statement, self.confidence_statement]
        if self.negative_statement is not None:
            out.append(self.negative_statement)
        out += self.demographics
        for f in FACETS:
            out += getattr(self, f)
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quotes"] = [dict(asdict(q), ref=q.ref) for q in self.quotes]
        if self.headline_quote is not None:
            d["headline_quote"] = dict(asdict(self.headline_quote), ref=self.headline_quote.ref)
        return d


# --------------------------------------------------------------------------- text
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.filters["pct"] = lambda v: f"{v:.0%}" if v is not None and not _isnan(v) else "n/a"
_ENV.filters["num"] = lambda v: v if isinstance(v, str) else _num(v)   # str: preformatted
# an effect size printed as a magnitude, its sign said in words where it is negative (the
# profile's number, segment_profiles.csv, keeps the sign)
_ENV.filters["num_abs"] = lambda v: v if isinstance(v, str) or _isnan(v) else _num(abs(float(v)))
_ENV.filters["sign_note"] = lambda v: (
    "" if isinstance(v, str) or _isnan(v) or float(v) >= 0 else
    f" ({_num(v)} in segment_profiles.csv: the segment is below the rest on it)")

#: The sentence templates. Every placeholder is filled from the evidence row. The trait
#: templates are verb phrases without a subject ("agree more than most that ..."): a bullet
#: starts with them capitalised, the narrative puts "People like <name>" in front, so a
#: card's bullets and its narrative are worded from the same source.
TEMPLATES = {
    # agreement scales (labels say agree/disagree, or SD ... SA)
    "agree_over": "agree more than {{ than }} that “{{ text }}” (mean {{ value|num }} vs "
                  "{{ total|num }}{{ scale }})",
    "agree_under": "agree less than {{ than }} that “{{ text }}” (mean {{ value|num }} vs "
                   "{{ total|num }}{{ scale }})",
    # any other rating scale: the scale's own labels, never "agree"
    "rate_over": "rate “{{ text }}” higher than {{ than }} ({{ value|num }} vs {{ total|num }} "
                 "{{ of }}{{ scale }})",
    "rate_under": "rate “{{ text }}” lower than {{ than }} ({{ value|num }} vs {{ total|num }} "
                  "{{ of }}{{ scale }})",
    # shares are among those who answered the question (profiles.py): "of all respondents"
    # (``of_whom``) only when everyone answered it, else "of those who answered";
    # ``level_note`` says when the answer is a bare code the codebook gives no label
    "share_over": "answer “{{ level }}”{{ level_note }} to “{{ text }}” more often than "
                  "{{ than }} ({{ value|pct }} vs {{ total|pct }} {{ of_whom }})",
    "share_under": "answer “{{ level }}”{{ level_note }} to “{{ text }}” less often than "
                   "{{ than }} ({{ value|pct }} vs {{ total|pct }} {{ of_whom }})",
    "multi_over": "choose “{{ level }}”{{ level_note }} for “{{ text }}” more often than "
                  "{{ than }} ({{ value|pct }} vs {{ total|pct }} {{ overall }})",
    "multi_under": "choose “{{ level }}”{{ level_note }} for “{{ text }}” less often than "
                   "{{ than }} ({{ value|pct }} vs {{ total|pct }} {{ overall }})",
    "numeric_over": "report a higher “{{ text }}” than {{ than }} ({{ value|num }} on average vs "
                    "{{ total|num }} overall)",
    "numeric_under": "report a lower “{{ text }}” than {{ than }} ({{ value|num }} on average vs "
                     "{{ total|num }} overall)",
    # theme shares are among the respondents who answered the open questions (steps.py):
    # ``answered`` is " who answered" unless every respondent did
    # ``where``: " in their own words", or " in any of their open answers" when the share
    # counts several open questions at once
    "theme_over": "bring up “{{ label }}”{{ where }} more often than others "
                  "({{ value|pct }} vs {{ total|pct }} of other respondents{{ answered }})",
    "yes_over": "say yes to “{{ text }}” more often than {{ than }} ({{ value|pct }} vs "
                "{{ total|pct }} {{ of_whom }})",
    "yes_under": "say yes to “{{ text }}” less often than {{ than }} ({{ value|pct }} vs "
                 "{{ total|pct }} {{ of_whom }})",
    "demo_yes": "{{ text }}: yes for {{ value|pct }}, against {{ total|pct }} {{ overall }}.",
    "demo_share": "{{ text }} “{{ level }}”{{ level_note }}: {{ value|pct }}, against "
                  "{{ total|pct }} {{ overall }}.",
    "demo_mean": "{{ text }}: {{ value|num }} on average ({{ total|num }} overall).",
    # ``weighted``: the survey has a weight column (its codebook's ``weight``); only then is
    # the share "of the weighted sample"
    "size": "{{ n }} respondents, {{ share|pct }} of the {{ 'weighted ' if weighted else '' }}"
            "sample (95% CI "
            "{{ low|pct }}–{{ high|pct }}).",
    "headline": "{{ share|pct }} of respondents. {{ lead }}",
    "confidence": "{{ badge|capitalize }} confidence: {{ reason }}",
    "negative": "Not a fit: {{ reason }}",
    # ``who``: "People like Emily", or "Respondents in segment 3" for a segment the run's
    # verdict says is not a persona (:func:`not_a_persona_reason`)
    "narrative_first": "{{ who }} {{ phrase }}.",
    "narrative_also": "They also {{ phrase }}.",
    "narrative_and": "And they {{ phrase }}.",
    # why a segment has no trait to state (:func:`_no_trait_reason`), in the narrative and
    # in the headline; ``kind`` is "persona" or "segment"
    # ``effect``: the profile's effect size of the largest difference (the segment against
    # the rest of the sample, as in segment_profiles.csv), on the answer ``what``;
    # ``reader``: its size against the whole sample, which includes the segment (what
    # ``min_effect`` is compared with: :func:`_why_not`)
    "narrative_none": "No answer to a closed question sets {{ who }} apart from the whole "
                      "sample by more than a small effect (the largest difference, on "
                      "{{ what }}, is {{ reader|num }} in size against the whole sample, which "
                      "includes this segment, under the {{ min_effect|num }} a trait needs; "
                      "its effect size against the rest of the sample is {{ effect|num_abs }}"
                      "{{ effect|sign_note }}; "
                      "{{ share|pct }} of respondents): treat this {{ kind }} with caution.",
    "narrative_unsig": "No answer to a closed question sets {{ who }} apart from the whole "
                       "sample significantly ({{ share|pct }} of respondents): treat this "
                       "{{ kind }} with caution.",
    "narrative_few": "Too few respondents (n = {{ n }}) to describe {{ who }} reliably: a trait "
                     "is written up only when at least {{ min_cell }} respondents give the "
                     "answer ({{ share|pct }} of respondents).",
    # ``k``: the most respondents any such answer rests on (those of the segment who gave
    # it, or for a mean or a rarely answered question those who answered it), counted
    "narrative_rare": "Too few respondents to describe {{ who }} reliably: each answer that "
                      "sets them apart rests on at most {{ k }} of their {{ n }} respondents "
                      "(those who gave it, or who answered its question), under the "
                      "{{ min_cell }} a trait needs ({{ share|pct }} of respondents).",
    "narrative_demo": "Of the closed questions, only who they are (their demographics) sets "
                      "{{ who }} apart from the whole sample by more than a small effect "
                      "({{ share|pct }} of respondents): treat this {{ kind }} with caution.",
    "lead_none": "No answer to a closed question differs from the total by more than a small "
                 "effect (the largest, on {{ what }}, is {{ reader|num }} in size against the "
                 "total, under {{ min_effect|num }}; its effect size against the rest of the "
                 "sample is {{ effect|num_abs }}{{ effect|sign_note }}): treat with caution.",
    "lead_unsig": "No answer to a closed question differs significantly from the total: treat "
                  "with caution.",
    "lead_few": "Too few respondents (n = {{ n }}) to describe reliably: a trait needs at "
                "least {{ min_cell }}.",
    "lead_rare": "Too few respondents to describe reliably: each answer that sets them apart "
                 "rests on at most {{ k }} of their {{ n }} respondents, under the "
                 "{{ min_cell }} a trait needs.",
    "lead_demo": "Of the closed questions, only their demographics differ from the total by "
                 "more than a small effect: treat with caution.",
    "too_few": "Only {{ n }} respondents: too few to describe reliably (a trait needs at least "
               "{{ min_cell }}).",
}


#: How a share is qualified when not everyone answered its question: the profile's shares are
#: among those who answered (:mod:`personalab.profiles`).
ANSWERED = "of those who answered"


def render(key: str, **values) -> str:
    """Fill one of :data:`TEMPLATES` (comparisons read "than most" unless ``than`` says; a
    share reads "of those who answered" unless ``of_whom`` / ``overall`` say everyone did)."""
    values.setdefault("than", "most")
    values.setdefault("of_whom", ANSWERED)
    values.setdefault("overall", ANSWERED)
    values.setdefault("level_note", "")
    return _ENV.from_string(TEMPLATES[key]).render(**values)


def _sentence(phrase: str) -> str:
    """A template's verb phrase as a bullet: capitalised, with a full stop."""
    return phrase[:1].upper() + phrase[1:] + "."


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


_YEAR_WORDS = re.compile(r"\b(year|date|since|born|started?|commenced|joined)\b", re.IGNORECASE)


def _year_values(row, q, *values):
    """A numeric question that holds calendar years ("DETE Start Date", "Year of birth"):
    its values written as years ("1999", not "1,999"); else the values unchanged."""
    words = " ".join(str(t) for t in (row.get("question"), row.get("question_text"),
                                       getattr(q, "text", None)) if t)
    vals = [float(v) for v in values if v is not None and not _isnan(v)]
    if vals and _YEAR_WORDS.search(words) and all(1900 <= v <= 2100 for v in vals):
        return tuple(f"{float(v):.0f}" if v is not None and not _isnan(v) else v
                     for v in values)
    return values


def _code(v) -> str:
    """A scale code as written on the questionnaire (5, not 5.0)."""
    v = float(v)
    return str(int(v)) if v.is_integer() else f"{v:g}"


def _f(v):
    return None if v is None or _isnan(v) else float(v)


# --------------------------------------------------------------------------- names
@lru_cache(maxsize=1)
def name_table() -> pd.DataFrame:
    """Popular first names by birth decade and sex (US Social Security Administration,
    public domain): ``F`` and ``M`` from ``personalab/resources/first_names_by_decade.csv``,
    and ``N``, names given to girls and boys alike in that decade (35-65% girls), from
    ``first_names_neutral_by_decade.csv`` (its header says how it was derived)."""
    gendered = pd.read_csv(RESOURCES_DIR / "first_names_by_decade.csv", comment="#",
                           dtype={"decade": int, "rank": int})
    neutral = pd.read_csv(RESOURCES_DIR / "first_names_neutral_by_decade.csv", comment="#",
                          dtype={"decade": int, "rank": int})
    return pd.concat([gendered, neutral[["decade", "sex", "rank", "name"]]],
                     ignore_index=True)


def _pick_name(decade: int, sex: str, descriptor: str, used: set[str]) -> str:
    """A popular name of the birth decade and ``sex`` ('F', 'M' or 'N': gender-neutral),
    alliterating with the descriptor when one of that decade or a neighbouring one does
    ("Budget-minded Beth"), never one already used."""
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
    rest = table[~table["name"].isin(used)]
    same = rest[rest["sex"] == sex]
    rest = (same if len(same) else rest).sort_values(["rank", "name"])["name"]
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


#: A question wording up to this long reads whole in a persona's sentence rather than cut.
PROSE_LABEL_CHARS = 80

_AGREE_WORDS = re.compile(r"\bagree|\bdisagree", re.I)
_AGREE_CODES = {"sd", "d", "n", "a", "sa", "ns", "m"}
_TRUE_LEVELS = {"true", "yes", "y", "1", "selected", "checked", "ja", "oui", "si", "sí"}
_FALSE_LEVELS = {"false", "no", "n", "0", "not selected", "unchecked", "nein", "non"}


def question_label(q, fallback: str | None = None) -> str:
    """How a question is named in a persona, a chart or a table: the codebook's ``short``
    label when it has one, else its text (or ``fallback``) cut at a word boundary
    (:func:`personalab.codebook.short_label`, the rule every view uses)."""
    return short_label(q, fallback)


def prose_label(q, fallback: str | None = None) -> str:
    """How a sentence of a persona names a question: :func:`question_label`, unless that
    label is a cut ("Do you use any e-commerce websites to…") of a wording short enough to
    read in a sentence (up to :data:`PROSE_LABEL_CHARS`), which is then written whole; a
    label that is no cut (a battery's item, "Medicines") stays as it is."""
    label = question_label(q, fallback)
    full = str((getattr(q, "text", None) if q is not None else None) or fallback or "").strip()
    if label.endswith("\u2026") and full and len(full) <= PROSE_LABEL_CHARS:
        return full
    return label


def _scale_bounds(q) -> tuple:
    codes = [o.code for o in getattr(q, "scale", []) or []]
    nums = [c for c in codes if isinstance(c, (int, float))]
    return (min(nums), max(nums)) if nums else ("low", "high")


def scale_info(q) -> dict:
    """What a Likert question's scale is: ``kind`` ('agree' when its labels say agree /
    disagree or SD ... SA, 'rating' when its ends carry other words, 'plain' for bare
    numbers), its bounds, end labels and midpoint."""
    opts = [o for o in getattr(q, "scale", []) or [] if isinstance(o.code, (int, float))]
    if not opts:
        return {"kind": "plain", "lo": None, "hi": None, "lo_label": None, "hi_label": None,
                "mid": None}
    opts = sorted(opts, key=lambda o: o.code)
    lo, hi = opts[0], opts[-1]
    labels = [str(o.label).strip() for o in opts]
    if any(_AGREE_WORDS.search(lb) for lb in labels) \
            or {lb.lower() for lb in labels} <= _AGREE_CODES and labels[-1].lower() == "sa":
        kind = "agree"
    elif any(not re.fullmatch(r"[-+]?\d+(\.\d+)?", str(o.label).strip()) for o in (lo, hi)):
        kind = "rating"
    else:
        kind = "plain"
    return {"kind": kind, "lo": lo.code, "hi": hi.code, "lo_label": str(lo.label),
            "hi_label": str(hi.label), "mid": (lo.code + hi.code) / 2}


def _scale_words(info: dict) -> str:
    """'; 1 = Strongly disagree, 5 = Strongly agree' (the scale's own end labels)."""
    if info["lo"] is None:
        return ""
    lo, hi = _code(info["lo"]), _code(info["hi"])
    if info["kind"] == "plain":
        return "" if info["lo"] == 1 else f" on a {lo}–{hi} scale"
    if info["kind"] == "agree":  # the verb says what the scale measures
        return f" of {hi}" if info["lo"] == 1 else f" on a {lo}–{hi} scale"
    return f"; {lo} = {info['lo_label']}, {hi} = {info['hi_label']}"


def is_segmentation_input(row, q) -> bool:
    """Whether a profile row's question was a segmentation input: the profile's
    ``segmentation_input`` column when it has one, else the codebook's role
    (``role: segment``). The segments were formed to differ on such a question, so a test
    of the difference is circular: its footnote gives the numbers and the effect size and
    says so, never a p-value (:meth:`Evidence.footnote`)."""
    v = row.get("segmentation_input") if hasattr(row, "get") else None
    if v is not None and not _isnan(v):
        try:
            return bool(v)
        except (TypeError, ValueError):   # pd.NA
            pass
    return q is not None and getattr(q, "role", None) == "segment"


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _code_str(code) -> str:
    """A code as a reader writes it (10, not 10.0)."""
    if isinstance(code, (np.generic,)):
        code = code.item()
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip()


def level_label(q, level) -> tuple[str | None, bool]:
    """(the answer as a reader reads it, whether it is a bare code the codebook gives no
    label). A single-choice level that matches a code or a label of the question's scale
    reads as that label; a number whose codebook label is the number itself (a drafted
    codebook's ``{code: 10, label: '10'}``), or a number the codebook has no option for,
    is an unlabelled code. Multi-select options and other text read as they are."""
    if level is None or _isnan(level):
        return None, False
    lv = str(level).strip()
    if q is None or getattr(q, "type", None) != "single":
        return lv, False
    for o in getattr(q, "scale", None) or []:
        code, label = _code_str(o.code), str(o.label).strip()
        if lv in (label, code):
            if label and label != code:
                return label, False
            return lv, bool(_NUMBER.fullmatch(lv))
    return lv, bool(_NUMBER.fullmatch(lv))


#: What follows an answer that is a bare code without a label in the codebook.
UNLABELLED = " (an unlabelled code)"


def _level_values(row, q) -> dict:
    """``level`` and ``level_note`` for a template: the answer's label, and
    :data:`UNLABELLED` after a bare code (:func:`level_label`)."""
    text, code = level_label(q, row.get("level"))
    return {"level": text if text is not None else row.get("level"),
            "level_note": UNLABELLED if code else ""}


def _profile_evidence(row, q=None, label: str | None = None) -> Evidence:
    """A profile row as evidence. ``q`` (the codebook's question) and ``label`` (its name
    in the report's tables: :func:`personalab.codebook.distinct_labels`) let the footnote
    name the question and the answer as a reader knows them; the ``ref`` stays the table
    key."""
    level = None if _isnan(row.get("level")) or row.get("level") is None else str(row["level"])
    shown, code = level_label(q, level)
    if label is None:
        label = question_label(q, row.get("question_text") or row["question"])
    return Evidence(kind="profile", ref=f"profile:{row['variable']}", question=row["question"],
                    variable=row["variable"], level=level,
                    value=_f(row["value"]), total=_f(row["total"]), index=_f(row["index"]),
                    test=row.get("test"), p_adjusted=_f(row.get("p_adjusted")),
                    n=int(row["n"]) if not _isnan(row.get("n")) else None,
                    label=label,
                    level_label=shown, unlabelled_code=code,
                    effect_size=_f(row.get("effect_size")),
                    effect_measure=(None if _isnan(row.get("effect_measure"))
                                    else row.get("effect_measure")),
                    segmentation_input=is_segmentation_input(row, q))


def _phrase_for(row, q, share: float = 0.0) -> tuple[str, str]:
    """One profile row as a verb phrase and its direction ('over' or 'under').

    The profile reports reverse-keyed items on the scale respondents answered
    (:mod:`personalab.profiles`), so 'over' is always "answered higher": the one direction
    the profile table, the heat map and this text share. The wording follows the question's
    type: agreement scales agree, other rating scales rate with their own labels, numbers
    are reported as numbers. A segment that holds more than half of the respondents
    (``share``) is most of them, so it compares "than average", never "than most".
    """
    than = "average" if share is not None and not _isnan(share) and share > 0.5 else "most"
    return _phrase_for_type(row, q, than)


def _everyone_answered(row) -> bool:
    """Whether every respondent answered the row's question (``answered_all``, which
    :func:`draft_personas` adds from the survey); unknown counts as no."""
    v = row.get("answered_all") if hasattr(row, "get") else None
    return bool(v) if v is not None and not _isnan(v) else False


def _of_whom(row) -> dict:
    """How a share's comparison is qualified: ``of_whom`` ("of all respondents" only when
    everyone answered the question, else "of those who answered") and ``overall`` (the same
    for multi-select options and demographics, "overall" when everyone answered)."""
    if _everyone_answered(row):
        return {"of_whom": "of all respondents", "overall": "overall"}
    return {"of_whom": ANSWERED, "overall": ANSWERED}


def _phrase_for_type(row, q, than: str = "most") -> tuple[str, str]:
    over = row["effect_size"] > 0
    direction = "over" if over else "under"
    qtype = row["type"]
    full = (q.text if q is not None and q.text else row.get("question_text")) or row["question"]
    label = prose_label(q, full)
    if qtype == "likert":
        info = scale_info(q)
        if info["kind"] == "agree":
            text = full if len(str(full)) <= 2 * SHORT_LABEL_CHARS else label
            if _names_a_topic(text):
                # "My say", "Performance of supervisor": an area rated on an agree scale,
                # not a statement one can agree "that": rated, with the scale's end labels
                return render(f"rate_{direction}", than=than, text=text, value=row["value"],
                              total=row["total"], of=f"of {_code(info['hi'])}"
                              if info["lo"] == 1 else "on average",
                              scale=_scale_words(dict(info, kind="rating"))), direction
            return render(f"agree_{direction}", than=than, text=text, value=row["value"],
                          total=row["total"], scale=_scale_words(info)), direction
        of = (f"of {_code(info['hi'])}" if info["lo"] == 1 else "on average")
        return render(f"rate_{direction}", than=than, text=label, value=row["value"],
                      total=row["total"], of=of, scale=_scale_words(info)), direction
    if qtype == "multi":
        return render(f"multi_{direction}", than=than, text=label, value=row["value"],
                      total=row["total"], **_level_values(row, q), **_of_whom(row)), direction
    if qtype == "numeric" or row.get("measure") == "mean":
        value, total = _year_values(row, q, row["value"], row["total"])
        return render(f"numeric_{direction}", than=than, text=label, value=value,
                      total=total), direction
    if _binary_yes(row, q):
        return render(f"yes_{direction}", than=than, text=label, value=row["value"],
                      total=row["total"], **_of_whom(row)), direction
    return render(f"share_{direction}", than=than, text=label, value=row["value"],
                  total=row["total"], **_level_values(row, q), **_of_whom(row)), direction


#: Words of a clause: a subject pronoun, or a form of be / have / do or a modal verb. A
#: short wording without any ("My say", "Staff morale", "Stress and pressure support") names
#: a topic rather than stating something (:func:`_names_a_topic`).
_CLAUSE_WORDS = {"i", "we", "you", "he", "she", "it", "they", "this", "that", "there",
                 "is", "are", "was", "were", "am", "be", "been", "being", "isn", "aren",
                 "has", "have", "had", "do", "does", "did", "don", "doesn", "didn", "can",
                 "could", "will", "would", "should", "shall", "may", "might", "must", "not",
                 "i'm", "it's", "we're", "they're", "you're", "can't", "won't"}
#: A topic name is at most this many words (a statement without a clause word, "Prices too
#: high", is rated too, which still reads true).
TOPIC_WORDS = 5


def _names_a_topic(text) -> bool:
    """Whether an agree-scale item's wording is a short noun phrase that names what is rated
    ("My say", "Information", "Performance of supervisor": DETE's exit-survey items) rather
    than a statement: at most :data:`TOPIC_WORDS` words, no sentence punctuation, and no
    word of :data:`_CLAUSE_WORDS`. "Agree more than average that 'My say'" says nothing;
    such an item is rated ("rate 'My say' higher than average (4.2 vs 3.7 of 5; 1 =
    Strongly disagree, 5 = Strongly agree)"). "I have a say" or "The app is easy to use"
    keep the agree wording. A phrase of 3 or more words with a past-tense verb after its
    first word (a word of 5 or more letters ending in "ed", not "-eed") is a statement too
    ("My job provided sufficient variety", TAFE's exit survey; none of DETE's 56 items reads
    so), while "Kept informed" stays a topic; "IT" in capitals is the noun (information
    technology: "IT support"), not the pronoun."""
    t = str(text or "").strip()
    raw = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", t)
    words = [w.lower() for w in raw if w != "IT"]
    past = [w for w in words[1:] if len(w) >= 5 and w.endswith("ed") and not w.endswith("eed")]
    return (0 < len(raw) <= TOPIC_WORDS and not re.search(r"[.!?]$", t)
            and not set(words) & _CLAUSE_WORDS and not (len(raw) >= 3 and past))


#: Verbs of doing, using or getting something (and the nouns of a channel): a
#: multi-select worded with one is about what people do, a behaviour (:func:`_about_doing`).
_DOING = re.compile(
    r"\b(?:use[sd]?|using|done|doing|visit(?:s|ed|ing)?|buy(?:s|ing)?|bought|"
    r"shop(?:s|ped|ping)?|purchase[sd]?|order(?:s|ed)?|read(?:s|ing)?|watch(?:es|ed|ing)?|"
    r"listen(?:s|ed|ing)?|play(?:s|ed|ing)?|go|goes|went|travel(?:s|led|ed)?|eat(?:s|en)?|"
    r"ate|drink(?:s)?|drank|cook(?:s|ed)?|own(?:s|ed)?|tr(?:y|ied|ies)|subscribe[sd]?|"
    r"pay(?:s)?|paid|download(?:s|ed)?|install(?:s|ed)?|follow(?:s|ed)?|attend(?:s|ed)?|"
    r"join(?:s|ed)?|participate[sd]?|contact(?:s|ed)?|hear(?:d)?|find|found|learn(?:ed|t)?|"
    r"get|got|spend(?:s)?|spent|work(?:s|ed)? (?:on|with)|rel(?:y|ies|ied) on|"
    r"check(?:s|ed)?|search(?:es|ed)?|share[sd]?|post(?:s|ed)?|send(?:s)?|sent|"
    r"channels?|sources?|apps?|platforms?|devices?|websites?|sites?|media|tools?|"
    r"activit(?:y|ies)|habits?)\b", re.I)
#: A multi-select about why or what someone values is not about doing (a motivation or an
#: attitude), even with a verb of :data:`_DOING`: "What factors influence your decision to
#: shop online?"
_NOT_DOING = re.compile(
    r"\b(?:factors?|reasons?|why|influence[sd]?|motivat\w*|prefer\w*|like|value[sd]?)\b", re.I)


def _about_doing(q, row) -> bool:
    """Whether a multi-select with no facet in the codebook is about what people do or use
    (its wording has a verb or noun of :data:`_DOING`: "Which apps do you use?", "How did
    you hear about us?"), and so a behaviour. One that says what someone has or is ("If
    yes, what condition(s) have you been diagnosed with?", "Which of the following best
    describes your work position?", "If maybe, what condition(s) do you believe you
    have?": the auxiliary "do" is no verb of doing), nor one about why or what someone
    values (:data:`_NOT_DOING`: "What factors influence your decision to shop online?"):
    it is listed with what sets them apart."""
    text = " ".join(str(t) for t in (getattr(q, "text", None) if q is not None else None,
                                      row.get("question_text"), row.get("question")) if t)
    return bool(_DOING.search(text)) and not _NOT_DOING.search(text)


def _problem_pole(q, survey) -> str:
    """Which answer holds the pain point or objection of a pain-point/objection question:
    'high' (agreeing with it) unless the question is a positively worded item of a keyed
    battery, i.e. not reverse-keyed in a grid that has reverse-keyed items ("I am
    comfortable linking my bank account" among "I worry about my data"): there disagreeing
    is the objection."""
    if q is None or getattr(q, "reverse", False) or not getattr(q, "grid", None):
        return "high"
    keyed = any(getattr(o, "grid", None) == q.grid and getattr(o, "reverse", False)
                for o in survey.codebook.questions)
    return "low" if keyed else "high"


def _holds_facet(row, q, facet, survey) -> bool:
    """Whether a trait belongs under ``facet`` as something the segment *has*.

    Goals and motivations: answered higher than most and, on a scale (or a numeric
    question with ``min`` and ``max``), above its midpoint (a goal rated 2.4 of 5 is not
    their goal even when others rate it 2.0). Pain points and
    objections: answered towards the problem pole (:func:`_problem_pole`) and past the
    midpoint on that side. Shares: over-represented. Behaviours and "what sets them apart"
    take either direction.
    """
    if facet not in ("goals", "pain_points", "motivations", "objections"):
        return True
    over = row["effect_size"] > 0
    if row["type"] == "likert":
        mid = scale_info(q)["mid"]
    elif row["type"] == "numeric" and getattr(q, "min", None) is not None \
            and getattr(q, "max", None) is not None:
        mid = (float(q.min) + float(q.max)) / 2   # a bounded score: its midpoint
    else:
        return over
    pole = _problem_pole(q, survey) if facet in ("pain_points", "objections") else "high"
    if pole == "high":
        return over and (mid is None or row["value"] > mid)
    return (not over) and (mid is None or row["value"] < mid)


def _binary_levels(row, q) -> tuple[set, str] | None:
    if row["type"] != "single" or row.get("level") is None or _isnan(row.get("level")):
        return None
    levels = {str(o.label).strip().lower() for o in getattr(q, "scale", []) or []}
    if len(levels) != 2 or not levels & _TRUE_LEVELS or not levels & _FALSE_LEVELS:
        return None
    return levels, str(row["level"]).strip().lower()


def _binary_yes(row, q) -> bool:
    """True for the 'yes' level of a yes/no (TRUE/FALSE) question."""
    b = _binary_levels(row, q)
    return b is not None and b[1] in _TRUE_LEVELS


def _binary_mirror(row, q) -> bool:
    """True for the 'no' level of a yes/no (TRUE/FALSE) question: its row mirrors the 'yes'
    row exactly, and "FALSE: 100%" reads as nothing."""
    b = _binary_levels(row, q)
    return b is not None and b[1] in _FALSE_LEVELS


#: Words that make a numeric question a code, not a quantity: its mean means nothing.
_CODE_WORDS = {"id", "ids", "zip", "zipcode", "postcode", "postal", "identifier", "fips"}


def _is_code(row, q) -> bool:
    """A numeric question that names an identifier or a postal code ("Clothing ID", "zip"):
    the codebook typed it numeric, but "zip: 59,879 on average" describes nobody."""
    if row["type"] != "numeric":
        return False
    words = " ".join(str(t) for t in (row.get("question"), getattr(q, "text", None),
                                       getattr(q, "short", None)) if t)
    return bool(set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", words).lower()))
                & _CODE_WORDS)


def _why_not(row, q, *, min_effect: float, min_cell: int, share: float = 0.0,
             given: int | None = None) -> str | None:
    """A profile row may become a sentence: significant, at least a small effect, and not
    resting on a handful of people (the segment's answers, and for an over-represented
    answer the people who gave it, number at least ``min_cell``); never the mean of a
    numeric code (:func:`_is_code`).

    The effect size compares the segment with everyone else, while the sentence compares it
    with the total, which includes the segment: the total sits ``share`` of the way towards
    the segment, so the contrast a reader sees is about ``effect * (1 - share)``. That is
    what must reach ``min_effect`` (an 87% segment is not "higher than most" at 3.6 vs 3.5).

    Returns None when the row may be written up, else why not: ``"unsig"`` (not
    significant), ``"code"``, ``"mirror"`` (the 'no' row of a yes/no question), ``"small"``
    (under ``min_effect`` as read against the total) or ``"few"`` (fewer than ``min_cell``
    respondents: the effect is large enough, the people are too few), checked in that order.

    ``given``: how many of the segment's respondents gave an over-represented answer (a
    head count, :func:`_gave_counts`); without it, ``value * n`` rounded (the same on an
    unweighted survey, an estimate on a weighted one).
    """
    if not row["significant"] or _isnan(row["effect_size"]):
        return "unsig"
    if _is_code(row, q):
        return "code"
    if _binary_mirror(row, q):
        return "mirror"
    if _reader_effect(row, share) < min_effect:
        return "small"
    n = 0 if _isnan(row.get("n")) else float(row["n"])
    if n < min_cell:
        return "few"
    if row["measure"] == "share" and row["effect_size"] > 0 \
            and (round(float(row["value"]) * n) if given is None else given) < min_cell:
        return "few"
    return None


def _reader_effect(row, share: float = 0.0) -> float:
    """The effect size as a reader sees it against the total (see :func:`_why_not`)."""
    share = 0.0 if share is None or _isnan(share) else min(max(float(share), 0.0), 1.0)
    return abs(float(row["effect_size"])) * (1.0 - share)


def _descriptor(row, q) -> str | None:
    """The adjective for the persona's name, from the codebook's ``descriptor`` ('high' is
    the answered scale's high end: the profile is not flipped for reverse-keyed items)."""
    if q is None:
        return None
    d = getattr(q, "descriptor", None) or {}
    if not d:
        return None
    over = row["effect_size"] > 0
    if row["type"] in ("likert", "numeric"):
        return d.get("high" if over else "low")
    if over and row.get("level") is not None:
        return d.get(str(row["level"]))
    return None


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
    """'F' or 'M' by which the segment's answers to the gender question ``qid`` name more
    often; 'N' (a gender-neutral name) when the survey has no gender question, the segment
    did not answer it, or as many name one as the other: a persona's name never makes up a
    gender the data does not show."""
    if qid is None:
        return "N"
    col = survey.categorical()[qid].reindex(labels.index[labels == seg]).dropna().astype(str)
    fem = col.str.contains(r"^\s*(?:f|female|woman|women)\b", case=False, regex=True).mean()
    male = col.str.contains(r"^\s*(?:m|male|man|men)\b", case=False, regex=True).mean()
    if _isnan(fem) or _isnan(male) or fem == male:
        return "N"
    return "F" if fem > male else "M"


_YEAR_FIRST = r"^\s*(\d{4})([/.-])(\d{1,2})\2(\d{1,2})(?!\d)"


def meta_dates(values: pd.Series, *, dayfirst=None, name: str = "date") -> pd.Series:
    """The calendar dates of a metadata column (``RecordedDate``, ``Timestamp``) as written.

    ``nn/nn/yyyy`` values (any of ``/ . -``, 2- or 4-digit years) take the one day/month
    order :func:`personalab.conventions.date_orders` decides for the whole column from all
    its values (or ``dayfirst`` when the study gives it), never a guess per row:
    ``"01.02.2023"`` is 1 February in a column that also holds ``"13.04.2023"``. Year-first
    values (``2024/04/07``, ISO) are read as such. The time of day and any time zone are
    left out: the date is the one the respondent's export shows (``"… 8:54 PM GMT+5:30"``
    is that day, not one shifted by a reading of the zone). A column whose order cannot be
    decided (mixed, or every value ambiguous) keeps only its year-first values; anything
    else is NaT.
    """
    from .conventions import canonical_dates, date_orders
    from .errors import InputError

    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    try:
        order = date_orders(pd.DataFrame({name: text}), [name], dayfirst=dayfirst).get(name)
    except InputError:
        order = None
    if order is not None:   # day/month values written year-first, as a run reads them
        text = canonical_dates(text, order)
    ymd = pd.Series(text, index=values.index).astype("string").str.extract(_YEAR_FIRST)
    parts = ymd[[0, 2, 3]].astype("float64")
    parts.columns = ["year", "month", "day"]
    out = pd.to_datetime(parts, errors="coerce")   # 31/02/2024 -> NaT
    return pd.Series(out.to_numpy(), index=values.index, name=values.name)


def _survey_year(survey) -> int:
    """The year the wave was collected (its latest date), so names do not drift with the
    calendar; the current year when the wave has no dates. Date questions are already read
    with their decided conventions; metadata dates are read by :func:`meta_dates`."""
    for col in survey.data.columns:
        s = survey.data[col]
        if pd.api.types.is_datetime64_any_dtype(s) and s.notna().any():
            return int(s.max().year)
    meta = survey.meta() if hasattr(survey, "meta") else pd.DataFrame()
    for col in ("RecordedDate", "EndDate", "StartDate", "Timestamp"):
        if col in meta:
            d = meta_dates(meta[col], name=col)
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


def _match_not_a_fit(profile_seg: pd.DataFrame, rules, survey=None,
                     names: dict | None = None) -> Statement | None:
    """A segment is a negative persona when every rule holds on its profile values. The
    reason names each question by its label (``names``: question id -> the report's label,
    else :func:`question_label` of the ``survey``'s question) and its answer by the
    codebook's label, never by the export's column."""
    if not rules:
        return None
    names = names or {}
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
        q = _question(survey, row["question"]) if survey is not None else None
        ev = _profile_evidence(row, q, names.get(str(row["question"])))
        evidence.append(ev)
        what = (f"the share answering “{ev.level_label}”"
                f"{UNLABELLED if ev.unlabelled_code else ''} to “{ev.label}”"
                if ev.level_label is not None else f"the mean answer to “{ev.label}”")
        bound = (f"above {_num(r['above'])}" if "above" in r else f"below {_num(r['below'])}")
        reasons.append(f"{what} is {_num(v)} ({bound})")
    return Statement(render("negative", reason="; ".join(reasons) + "."), evidence)


# --------------------------------------------------------------------------- drafting
#: Smallest absolute effect size (Cohen's d or h, rank-biserial r) a trait needs to be
#: written up: Cohen's "small".
MIN_EFFECT = 0.2
#: Fewest respondents a written-up trait may rest on.
MIN_CELL = 10
_BADGES = ("low", "medium", "high")


def confidence_badge(stability: float | None, unassigned_share: float | None) -> tuple[str, str]:
    """'high', 'medium' or 'low' from the segment's reproducibility and the unassigned share.

    High: reproduced in ≥ 85% of resamples (clusterwise Jaccard) and ≤ 10% unassigned;
    low: below :data:`~personalab.diagnostics.MIN_JACCARD` (0.6, Hennig's 'dissolved'
    bound; the reason then says the segment dissolves on resampling, never that it
    "reproduces": :func:`dissolves_note`) or more than 25% unassigned.
    """
    if stability is None or _isnan(stability):
        return "medium", "stability was not assessed for this run"
    u = 0.0 if unassigned_share is None or _isnan(unassigned_share) else unassigned_share
    note = dissolves_note(stability)
    reason = (f"the segment {note} and " if note else
              f"the segment reproduces at Jaccard {stability:.2f} across resamples and ")
    reason += f"{u:.0%} of respondents are unassigned."
    if stability >= 0.85 and u <= 0.10:
        return "high", reason
    if note or u > 0.25:
        return "low", reason
    return "medium", reason


def dissolves_note(stability: float | None) -> str | None:
    """"dissolves on resampling (Jaccard 0.54, below 0.6)" for a segment whose clusterwise
    Jaccard is below :data:`~personalab.diagnostics.MIN_JACCARD` (the bound under which the
    run's verdict says a segment dissolves), else None (reproduces, or not measured)."""
    if stability is None or _isnan(stability) or float(stability) >= MIN_JACCARD:
        return None
    return f"dissolves on resampling (Jaccard {float(stability):.2f}, below {MIN_JACCARD:g})"


def run_verdict(verdict) -> tuple[bool | None, str | None]:
    """(stable, sentence) of the run's verdict: a :class:`~personalab.diagnostics.StabilityResult`
    or :class:`~personalab.diagnostics.Recommendation` (their ``stable`` and ``verdict``), or
    the verdict sentence itself ("No stable segments: ..." means not stable). A result's
    sentence is :func:`personalab.diagnostics.stability_verdict`, the one the report shows,
    so a card never quotes an invitation the report has taken back (a run saved before
    the guards took it back)."""
    if verdict is None:
        return None, None
    if isinstance(verdict, str):
        text = verdict.strip()
        return (not text.lower().startswith(("no stable segments", "not personas"))), text
    stable = getattr(verdict, "stable", None)
    text = getattr(verdict, "verdict", None)
    if text is not None:
        text = stability_verdict(verdict)
    if stable is None and text is not None:
        return run_verdict(str(text))
    return (None if stable is None else bool(stable)), (None if text is None else str(text))


def _not_asked_line(segment, verdict) -> str | None:
    """The verdict's line for a segment made of respondents who were not asked (or skipped) a
    block of questions (``not_asked_segments`` / ``not_asked_flags``, diagnostics'
    per-segment skip check), else None."""
    try:
        seg = int(segment)
    except (TypeError, ValueError):
        return None
    if seg not in {int(s) for s in (getattr(verdict, "not_asked_segments", ()) or ())}:
        return None
    return (getattr(verdict, "not_asked_flags", None) or {}).get(seg) or (
        f"segment {seg} is respondents who were not asked (or skipped) a block of questions")


def not_a_persona_reason(segment, verdict) -> str | None:
    """Why the run's verdict says ``segment`` is not a persona, else None: its line of
    ``not_asked_flags`` (respondents who were not asked, or skipped, a block of questions:
    :func:`_not_asked_line`), or, for every segment, the verdict itself when it says the
    segments are a split on one input, on categorical answers or on a missing-answer pattern
    ("Not personas: ...", ``dominated_by``). A run that merely found no stable segments does
    not make its segments non-personas (they are capped in confidence instead): when its
    verdict also says one input explains the segments ("No stable segments: ... Besides,
    one input alone explains ..."), the reason is the guard's own line (the first of
    ``flags``, :func:`personalab.diagnostics._flag_result`), not the instability."""
    line = _not_asked_line(segment, verdict) if segment is not None else None
    if line is not None:
        return line
    _, text = run_verdict(verdict)
    dominated = getattr(verdict, "dominated_by", None)
    if str(text or "").lower().startswith("not personas"):
        return text
    if dominated:
        flags = [str(f) for f in (getattr(verdict, "flags", None) or []) if f]
        if flags and not flags[0].startswith("segment(s)"):
            return flags[0].rstrip(".")
        return text or f"the segments are explained by {dominated}"
    return None


def not_a_persona_name(segment) -> str:
    """How a segment that is not a persona is named on cards, in the summary and exports."""
    return f"Segment {segment} (not a persona)"


def _mark_not_a_persona(p: PersonaDraft, reason: str) -> None:
    """Rename a persona drafted without the verdict that says it is not one (in place): the
    plain name, no first name or adjective, and the narrative's "People like <name>" read as
    "Respondents in segment <n>" ("to describe segment <n> reliably" where drafting with the
    verdict says so: :func:`_narrative`)."""
    old = f"people like {p.first_name}" if p.first_name else None
    new = _who("", p.segment, True)
    narrative = []
    for st in p.narrative:
        text = st.text
        if old:
            text = text.replace(f"to describe {old} ", f"to describe segment {p.segment} ")
            text = text.replace(old[:1].upper() + old[1:] + " ", new[:1].upper() + new[1:] + " ")
            text = text.replace(old + " ", new + " ")
        text = text.replace("treat this persona with caution", "treat this segment with caution")
        narrative.append(dataclasses.replace(st, text=text))
    p.narrative = narrative
    p.name, p.first_name, p.descriptor = not_a_persona_name(p.segment), "", ""
    p.not_a_persona = reason


def cap_confidence(badge: str, reason: str, stability: float | None, verdict,
                   segment=None) -> tuple[str, str]:
    """The badge a segment may carry under the run's verdict.

    When the run found no stable segments, no persona is "high" confidence: a segment the
    verdict still lets be described (Jaccard ≥ 0.75) is at most "medium", any other is "low";
    when the verdict says the segments are a split on one input or on a missing-answer
    pattern ("Not personas", ``dominated_by``), every persona is "low". A ``segment`` the
    verdict names as respondents who were not asked a block of questions
    (``not_asked_segments``) is "low" whatever the rest: "Not a persona: <the flag>". The
    reason then quotes the verdict.
    """
    line = _not_asked_line(segment, verdict) if segment is not None else None
    if line is not None:
        return "low", f"{reason} Not a persona: {line.rstrip('.')}."
    stable, text = run_verdict(verdict)
    if stable is None or stable:
        return badge, reason
    dominated = bool(getattr(verdict, "dominated_by", None)) \
        or str(text or "").lower().startswith("not personas")
    ceiling = "medium" if not dominated and stability is not None and not _isnan(stability) \
        and stability >= 0.75 else "low"
    if _BADGES.index(badge) > _BADGES.index(ceiling):
        badge = ceiling
    return badge, f"{reason} The run's verdict: {text}"


def _reword_dissolving(p: PersonaDraft) -> None:
    """A persona pickled before :func:`dissolves_note` (in place): below
    :data:`~personalab.diagnostics.MIN_JACCARD` its confidence line "the segment reproduces
    at Jaccard 0.54 across resamples" reads "the segment dissolves on resampling (Jaccard
    0.54, below 0.6)", and ``exploratory`` is set when missing."""
    ev = p.confidence_statement.evidence
    value = ev[0].value if ev and getattr(ev[0], "kind", None) == "stability" else None
    try:
        note = dissolves_note(value)
    except (TypeError, ValueError):
        return
    if note is None:
        return
    old = f"the segment reproduces at Jaccard {float(value):.2f} across resamples"
    if old in p.confidence_statement.text:
        p.confidence_statement = dataclasses.replace(
            p.confidence_statement,
            text=p.confidence_statement.text.replace(old, f"the segment {note}"))
    if not getattr(p, "exploratory", None):
        p.exploratory = note


def apply_run_verdict(personas: list[PersonaDraft], verdict) -> list[PersonaDraft]:
    """Cap every persona's confidence by the run's verdict (:func:`cap_confidence`), in
    place; idempotent. The report calls it with the verdict it shows, so a card can never
    say "high confidence" under "No stable segments". A segment the verdict says is not a
    persona (:func:`not_a_persona_reason`) and that still carries a person's name (drafted
    without the verdict, or renamed after a baseline persona by a wave) is named plainly
    (:func:`not_a_persona_name`). A persona drafted before today's wording (a saved run)
    reads as a new draft would: a segment below
    :data:`~personalab.diagnostics.MIN_JACCARD` says it dissolves (:func:`dissolves_note`),
    never that it "reproduces at Jaccard X", and carries ``exploratory``; a quoted verdict
    whose invitation the guards took back is quoted as the report shows it
    (:func:`personalab.diagnostics.stability_verdict`)."""
    for p in personas:
        why = not_a_persona_reason(p.segment, verdict)
        if why is not None and not getattr(p, "not_a_persona", None):
            _mark_not_a_persona(p, why)
        _reword_dissolving(p)
    stable, shown = run_verdict(verdict)
    saved = getattr(verdict, "verdict", None)
    if shown and isinstance(saved, str) and saved != shown:
        for p in personas:
            text = p.confidence_statement.text
            if f"The run's verdict: {saved}" in text:
                p.confidence_statement = dataclasses.replace(
                    p.confidence_statement,
                    text=text.replace(f"The run's verdict: {saved}", f"The run's verdict: {shown}"))
    if (stable is None or stable) and not getattr(verdict, "not_asked_segments", ()):
        return personas
    for p in personas:
        ev = p.confidence_statement.evidence
        stab = ev[0].value if ev else None
        if "The run's verdict:" in p.confidence_statement.text \
                or "Not a persona:" in p.confidence_statement.text:
            continue
        reason = p.confidence_statement.text.split(": ", 1)[-1]
        badge, reason = cap_confidence(p.confidence, reason, stab, verdict, p.segment)
        p.confidence = badge
        p.confidence_statement = Statement(render("confidence", badge=badge, reason=reason),
                                           list(ev))
    return personas


def _themes_of(value) -> list[str]:
    if isinstance(value, str):
        return [t for t in value.split(";") if t]
    if value is None or not isinstance(value, (list, tuple, np.ndarray)):
        return []
    return [str(t) for t in value]


#: A quote's sentiment (VADER compound, [-1, 1]) at least this strong against the direction
#: of a trait the card states on the question the quote follows up contradicts the persona.
STRONG_SENTIMENT = 0.5

#: An open question reads as the follow-up of the closed question just before it: "Why?",
#: "Why or why not?", a "why" that points back ("Why did you give that rating?"),
#: "Please explain", "If so, ...", "Tell us more"; not a "why" about something else ("Why do
#: you use Cantera in your job or school?").
_FOLLOW_UP = re.compile(
    r"^\W*(?:why(?:\s+or\s+why\s+not|\s+not|\s+is\s+that|\s+so)?\W*$"
    r"|why\b.*\b(?:this|that|your)\s+(?:answer|rating|score|choice|response|option|grade)s?\b"
    r"|how\s+come\b|explain\b|please\s+(?:explain|specify|elaborate|describe\s+why|say\s+why"
    r"|tell\s+us\s+(?:why|more))"
    r"|if\s+(?:so|yes|no|not)\b|tell\s+us\s+(?:more|why)|what\s+makes\s+you\s+say"
    r"|(?:any\s+)?(?:reasons?|comments?)\s+(?:for|on|about)\s+(?:this|that|your)\s+"
    r"(?:answer|rating|choice|score))", re.I)
_CLOSED_TYPES = ("likert", "single", "multi", "numeric")


def follow_up_of(codebook, qid) -> str | None:
    """The closed question an open question ``qid`` asks about, when the codebook shows it.

    Either the open question's id extends a closed question's id (``Q5_TEXT``, ``Q5.why``:
    the longest such id), or its text reads as a follow-up ("Why or why not?", "Please
    explain", "If so, ...") and the codebook lists it right after a closed question. None
    otherwise ("Any other comments?" at the end of a survey follows up nothing).
    """
    questions = list(getattr(codebook, "questions", []) or [])
    ids = [q.id for q in questions]
    if qid not in ids:
        return None
    closed = [q for q in questions if q.type in _CLOSED_TYPES and q.role != "ignore"]
    prefixed = [q.id for q in closed
                if q.id != qid and re.match(re.escape(q.id) + r"[_.:\- ]", str(qid))]
    if prefixed:
        return max(prefixed, key=len)
    i = ids.index(qid)
    text = questions[i].text or str(qid)
    if i > 0 and _FOLLOW_UP.search(text):
        prev = questions[i - 1]
        if prev.type in _CLOSED_TYPES and prev.role != "ignore":
            return prev.id
    return None


def _quote_question_text(survey, qid) -> str:
    """The quote's question as a reader can place it: its label (:func:`question_label`),
    after the text of the closed question it follows up ("Would you bring up a physical
    health issue with a potential employer in an interview? — Why or why not?"). That text
    is shown whole up to twice :data:`SHORT_LABEL_CHARS`, as in agreement statements: two
    follow-ups may differ only after the short label's cut ("Would you be willing to bring
    up a…" hid "physical" and "mental" on the OSMI survey); a longer one by its label."""
    def name(question, fallback):
        full = (getattr(question, "text", None) or fallback) if question is not None \
            else fallback
        return str(full).strip() if len(str(full)) <= 2 * SHORT_LABEL_CHARS \
            else question_label(question, fallback)

    own = question_label(_question(survey, qid), str(qid))
    parent = follow_up_of(survey.codebook, qid)
    if parent is None:
        return own
    return f"{name(_question(survey, parent), parent)} — {own}"


def _card_traits(statements: list[Statement]) -> list[Evidence]:
    """The profile evidence of ``statements``, one per variable, in order."""
    out, seen = [], set()
    for st in statements:
        for ev in st.evidence:
            if ev.kind == "profile" and ev.variable is not None and ev.variable not in seen \
                    and ev.value is not None and ev.total is not None:
                seen.add(ev.variable)
                out.append(ev)
    return out


def _card_split(narrative, demographics, facets) -> tuple[list[Evidence], list[Evidence]]:
    """(the traits the narrative states, the card's other traits): what rules 1 and 2 of
    :func:`quote_fit` check, for drafting a card and for :func:`typical_respondents` alike.
    ``facets`` maps each of :data:`FACETS` to its statements."""
    defining = _card_traits(narrative)
    named = {d.variable for d in defining}
    others = [ev for ev in _card_traits(list(demographics)
                                        + [st for f in FACETS for st in facets[f]])
              if ev.variable not in named]
    return defining, others


def _trait_sides(ev: Evidence, x) -> np.ndarray:
    """Whether respondents' own values ``x`` (an array) sit on the persona's side of a
    stated trait: 1.0 (they do), 0.0 (against it), NaN (not checked).

    Means (a Likert, rating or numeric answer): on the persona's side of the overall mean
    or on it (the card says "rate X lower than most: 2.1 vs 3.0": an answer of 3 or less).
    Shares (an answer level, a multi-select option): checked only where the card describes
    what most of the persona do, i.e. the segment's majority answer lies on the stated
    side (over-represented and held by more than half: the respondent gave that answer;
    under-represented and held by under half: they did not). "Choose 'Designer' more often
    than most (20% vs 9%)" says nothing about a typical member, who is not a designer.
    Unanswered: not checked.
    """
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, np.nan)
    if ev.value is None or ev.total is None or _isnan(ev.value) or _isnan(ev.total):
        return out
    over = ev.value > ev.total
    if ev.level is None:   # a mean
        ok = x >= ev.total if over else x <= ev.total
    elif over and ev.value > 0.5:
        ok = x >= 0.5
    elif not over and ev.value < 0.5:
        ok = x < 0.5
    else:
        return out
    answered = ~np.isnan(x)
    out[answered] = ok[answered].astype(float)
    return out


def _trait_side(ev: Evidence, x) -> bool | None:
    """:func:`_trait_sides` for one value: True, False or None (not checked)."""
    v = _trait_sides(ev, [np.nan if x is None or _isnan(x) else float(x)])[0]
    return None if np.isnan(v) else bool(v)


def _typical(values: pd.DataFrame, defining: list[Evidence], others: list[Evidence]) -> np.ndarray:
    """Rules 1 and 2 of :func:`quote_fit` for every row of ``values`` at once."""
    ok = np.ones(len(values), dtype=bool)

    def col(ev):
        return (values[ev.variable].to_numpy(dtype=float) if ev.variable in values
                else np.full(len(values), np.nan))

    for ev in defining:
        ok &= _trait_sides(ev, col(ev)) != 0.0      # NaN (not checked) passes
    checked = np.zeros(len(values))
    against = np.zeros(len(values))
    for ev in others:
        side = _trait_sides(ev, col(ev))
        checked += ~np.isnan(side)
        against += side == 0.0
    return ok & ~((checked > 0) & (against > checked / 2))


def _scale_word(q, x) -> str | None:
    """The label of answer code ``x`` on ``q``'s scale ("Always"), if it has one."""
    for o in getattr(q, "scale", None) or []:
        if isinstance(o.code, (int, float)) and x is not None and not _isnan(x) \
                and float(o.code) == float(x):
            return str(o.label)
    return None


def _describe_side(ev: Evidence, x, label=None, scale_word=None) -> str:
    qid = ev.question or ev.variable
    what = f"“{label(qid) if label is not None else question_label(None, qid)}”"
    over = ev.value > ev.total
    if ev.level is None:
        shown = _code(x) if float(x).is_integer() else _num(x)
        word = scale_word(qid, x) if scale_word is not None else None
        if word and word != shown:
            shown = f"{shown} ({word})"
        return (f"answered {shown} to {what}, {'below' if over else 'above'} the overall "
                f"{_num(ev.total)}, where the persona answers {'higher' if over else 'lower'} "
                f"({_num(ev.value)})")
    # a share is among those who answered its question (profiles.py), in the persona and
    # in the total alike
    verb = "did not answer" if over else "answered"
    return (f"{verb} “{ev.level}” to {what}, which {_ENV.filters['pct'](ev.value)} of the "
            f"persona's respondents who answered it did (against "
            f"{_ENV.filters['pct'](ev.total)} of all who answered it)")


def quote_fit(quote: Quote, answers, defining: list[Evidence], others: list[Evidence], *,
              follows=None, reverse=(), strong: float = STRONG_SENTIMENT,
              label=None, scale_word=None) -> list[str]:
    """Why ``quote`` does not fit its persona (an empty list: it fits).

    The rule, on the traits the persona's card states (profile evidence only):

    1. *Typical on the defining traits*: the respondent's own answer lies on the persona's
       side (:func:`_trait_side`) of every trait the narrative states (the persona's
       strongest traits, which also open its headline). An unanswered trait is not held
       against them.
    2. *Typical on the card*: of the other traits on the card that can be checked for the
       respondent, no more than half go against the persona.
    3. *Not contradicting*: when the quote answers an open question that follows up a
       closed one (``follows``, :func:`follow_up_of`) and the card states a trait on that
       closed question's scale, the quote's sentiment must not be strongly against the
       trait's direction: at least +``strong`` (strongly positive) on the card of a persona
       that rates it lower than most, or at most -``strong`` where it rates it higher
       (a reverse-keyed item, ``reverse``, flips which end is positive).

    Parameters
    ----------
    quote : Quote
    answers : Series or None
        The respondent's own values (:func:`personalab.profiles.respondent_values`), by
        variable; None: rules 1-2 are not checked.
    defining, others : list of Evidence
        The traits the narrative states, and the card's other traits.
    follows : str, optional
        The closed question the quote's question follows up.
    reverse : collection of str
        Reverse-keyed question ids.
    strong : float
        The sentiment threshold of rule 3.
    label : callable, optional
        question id -> how the reasons name it (default: the id).
    scale_word : callable, optional
        (question id, value) -> the scale label of that answer ("Always"), for the reasons.
    """
    reasons = []
    if answers is not None:
        # the same rule as _typical (used for every respondent at once), with reasons
        for ev in defining:
            x = answers.get(ev.variable)
            if _trait_side(ev, x) is False:
                reasons.append("not typical on a defining trait: "
                               + _describe_side(ev, x, label, scale_word))
        against, checked = [], 0
        for ev in others:
            x = answers.get(ev.variable)
            side = _trait_side(ev, x)
            if side is None:
                continue
            checked += 1
            if not side:
                against.append(_describe_side(ev, x, label, scale_word))
        if checked and len(against) > checked / 2:
            reasons.append(f"against the persona on {len(against)} of the card's {checked} "
                           "other traits they answered: " + "; ".join(against))
    if follows is not None and quote.sentiment is not None and not _isnan(quote.sentiment):
        for ev in defining + others:
            if ev.question != follows or ev.level is not None:
                continue
            over = ev.value > ev.total
            polarity = -1.0 if follows in reverse else 1.0
            score = quote.sentiment * polarity
            if (over and score <= -strong) or (not over and score >= strong):
                reasons.append(
                    f"its sentiment ({quote.sentiment:+.2f}) contradicts the trait it follows "
                    f"up: the persona answers “{label(ev.question) if label else ev.question}” "
                    f"{'higher' if over else 'lower'} than most ({_num(ev.value)} vs "
                    f"{_num(ev.total)})")
    return reasons


def _quotes_for(quotes: pd.DataFrame | None, seg, n: int, *, themes=(), avoid=(),
                check=None, question_text=None,
                theme_info: dict | None = None) -> tuple[list[Quote], list[dict], int]:
    """The segment's quotes, checked against the persona.

    A quote tagged with a theme the segment mentions significantly *less* than others
    contradicts the persona and is left out; so is one that ``check`` (a callable
    ``Quote -> list of reasons``, :func:`quote_fit`) finds reasons against. Quotes that carry
    one of the persona's own (over-represented) themes come first, in their rank order; then
    untagged ones and quotes on other themes, in rank order.

    A quote's themes are named by their labels in ``theme_info`` (theme id -> {label, ...})
    where it has one (``Quote.theme_labels``), as the charts name them.

    Returns (quotes shown, quotes left out with their reasons, the segment's quotes).
    """
    if quotes is None or quotes.empty:
        return [], [], 0
    theme_info = theme_info or {}

    def label(t):
        return str((theme_info.get(t) or {}).get("label") or t)

    q = quotes[quotes["segment"] == seg].sort_values("rank", kind="stable")
    themes, avoid = set(themes), set(avoid)
    carrying, rest, left_out = [], [], []
    for _, r in q.iterrows():
        tags = _themes_of(r.get("themes"))
        quote = Quote(respondent_id=str(r["respondent_id"]), question=str(r["question"]),
                      text=str(r["text"]), themes=tags, sentiment=_f(r.get("sentiment")),
                      question_text=(question_text(str(r["question"])) if question_text
                                     else None),
                      theme_labels=[label(t) for t in tags])
        reasons = []
        if avoid & set(tags):
            reasons.append("carries a theme the persona mentions less than others: "
                           + ", ".join(label(t) for t in sorted(avoid & set(tags))))
        if check is not None:
            reasons += check(quote)
        if reasons:
            left_out.append({"ref": quote.ref, "respondent_id": quote.respondent_id,
                             "text": quote.text, "reasons": reasons})
            continue
        (carrying if themes & set(tags) else rest).append(quote)
    return (carrying + rest)[:n], left_out, len(q)


def _share_values(survey, profile) -> pd.DataFrame:
    """Respondents' own 1/0 values (NaN: not answered) on the share variables (single-choice
    level, multi-select option) of the profile's significant rows."""
    if profile is None or not len(profile):
        return pd.DataFrame(index=survey.data.index)
    rows = profile[profile["significant"].astype(bool) & (profile["measure"] == "share")]
    variables = set(rows["variable"].astype(str))
    if not variables:
        return pd.DataFrame(index=survey.data.index)
    from .profiles import respondent_values

    return respondent_values(survey, variables)


def _answered_by_all(survey, profile, values: pd.DataFrame | None = None) -> dict[str, bool]:
    """Per share variable (single-choice level, multi-select option) of the profile's
    significant rows, whether every respondent of ``survey`` answered its question: the
    profile's shares are among those who answered (:mod:`personalab.profiles`), so a
    sentence may say "of all respondents" only then. A variable the survey does not give
    is left out (read as "not everyone"). ``values``: :func:`_share_values`, when known."""
    values = _share_values(survey, profile) if values is None else values
    return {str(v): bool(values[v].notna().all()) for v in values.columns}


def _gave_counts(values: pd.DataFrame, labels: pd.Series, seg) -> dict[str, int]:
    """Per share variable of ``values`` (:func:`_share_values`), how many respondents of
    segment ``seg`` gave that answer: a head count, whatever the survey's weights. Empty
    (the caller estimates from the profile) when ``labels`` is not indexed by the survey's
    respondent ids."""
    ids = labels.index[labels.to_numpy() == seg]
    if not len(values.columns) or not ids.isin(values.index).all():
        return {}
    held = values.reindex(ids)
    return {str(v): int((held[v] > 0.5).sum()) for v in held.columns}


def _quoted_answers(survey, quotes, profile) -> pd.DataFrame | None:
    """The quoted respondents' own values on the profile's significant variables, indexed by
    respondent id as text (None when there are no quotes)."""
    if quotes is None or quotes.empty:
        return None
    from .profiles import respondent_values

    variables = set(profile.loc[profile["significant"].astype(bool), "variable"].astype(str))
    values = respondent_values(survey, variables)
    values.index = values.index.map(str)
    ids = pd.Index(quotes["respondent_id"].map(str).unique())
    return values.loc[values.index.intersection(ids)]


def typical_respondents(survey, labels, personas: list[PersonaDraft]) -> dict[int, list[str]]:
    """Per persona, the members of its segment who are typical of it on the traits its card
    states (rules 1 and 2 of :func:`quote_fit`), as text ids in survey order.

    Quotes picked among these (``representative_quotes(eligible=...)``) are not left out of
    a card for their respondent's answers (rule 3, a quote's sentiment, still applies);
    without it the quotes step may pick quotes that :func:`draft_personas` has to leave out.
    """
    from .profiles import respondent_values

    variables = {ev.variable for p in personas for st in p.statements() for ev in st.evidence
                 if ev.kind == "profile" and ev.variable is not None}
    values = respondent_values(survey, variables)
    seg = pd.Series(labels).reindex(values.index).to_numpy()
    ids = values.index.map(str)
    out = {}
    for p in personas:
        defining, others = _card_split(p.narrative, p.demographics,
                                       {f: getattr(p, f) for f in FACETS})
        keep = _typical(values, defining, others) & (seg == p.segment)
        out[p.segment] = list(ids[keep])
    return out


def _headline_quote(quotes: list[Quote], themes: list[str]) -> Quote | None:
    """The quote under the narrative: one carrying the persona's most over-represented
    theme it can (themes in order), else the first quote when the persona has no themes;
    none when it has themes and no quote carries any of them."""
    for theme in themes:
        for q in quotes:
            if theme in q.themes:
                return q
    return None if themes else (quotes[0] if quotes else None)


def _segment_themes(theme_profile, seg, min_cell: int = MIN_CELL) -> tuple[list[str], list[str]]:
    """(over-represented themes by index, mentioned by at least ``min_cell`` answers;
    significantly under-represented themes)."""
    if theme_profile is None or theme_profile.empty:
        return [], []
    rows = theme_profile[theme_profile["segment"] == seg]
    mentions = (rows["n_theme"] if "n_theme" in rows
                else (rows["share"].astype(float) * rows["n"].astype(float)).round())
    over = rows[rows["over"].astype(bool) & (mentions >= min_cell)].sort_values(["index", "theme"], ascending=[False, True],
                                          kind="stable")["theme"].astype(str).tolist()
    sig = rows["p_adjusted"].astype(float) < 0.05
    share_rest = rows["share_rest"] if "share_rest" in rows else rows["share"]
    under = rows[sig & ~rows["over"].astype(bool) & (rows["share"] < share_rest)]
    return over, under["theme"].astype(str).tolist()


def _theme_statements(theme_profile, seg, theme_info, max_items,
                      min_cell: int = MIN_CELL,
                      answered_all: bool = False,
                      scope: str | None = None) -> dict[str, list[Statement]]:
    """Over-represented themes, by facet: a theme's ``facet`` if given, else negative
    polarity -> pain points, anything else -> goals. A theme mentioned by fewer than
    ``min_cell`` of the segment's answers is not written up. Theme shares are among the
    respondents who answered the open questions: the sentence says "of other respondents
    who answered" unless ``answered_all`` (:func:`_themes_answered_by_all`).

    The sentence compares the segment with the other respondents (``share_rest``); the
    evidence keeps that as ``rest`` and, as ``total``, the share among everyone who
    answered (the theme table's index is share / that total x 100), so its footnote's
    numbers give its index. ``scope`` (:func:`_theme_scope`) says what a share counts:
    "any open answer" when the survey has several open questions (a respondent counts
    once, whichever of their answers mentions the theme: a per-question chart shows
    other numbers), else the one question's answers."""
    out: dict[str, list[Statement]] = {}
    if theme_profile is None or theme_profile.empty:
        return out
    rows = theme_profile[(theme_profile["segment"] == seg) & theme_profile["over"]]
    mentions = (rows["n_theme"] if "n_theme" in rows
                else (rows["share"].astype(float) * rows["n"].astype(float)).round())
    rows = rows[mentions >= min_cell]
    rows = rows.sort_values(["index", "theme"], ascending=[False, True], kind="stable")
    for _, r in rows.head(max_items).iterrows():
        info = theme_info.get(r["theme"], {})
        label = str(info.get("label") or r["theme"])
        facet = _FACET_ALIASES.get(str(info.get("facet") or "").lower())
        if facet is None or facet == "demographics":
            facet = "pain_points" if info.get("polarity") == "negative" else "goals"
        share, index = _f(r["share"]), _f(r["index"])
        # the index is share / (share of all who answered) x 100
        total = share * 100.0 / index if share is not None and index else None
        ev = Evidence(kind="theme", ref=f"theme:{r['theme']}", variable=str(r["theme"]),
                      value=share, total=total, index=index,
                      test=str(r["test"]), p_adjusted=_f(r["p_adjusted"]), n=int(r["n"]),
                      label=label, rest=_f(r["share_rest"]), scope=scope)
        phrase = render("theme_over", label=label, value=r["share"],
                        total=r["share_rest"], answered="" if answered_all else " who answered",
                        where=(" in any of their open answers" if scope == ANY_OPEN
                               else " in their own words"))
        out.setdefault(facet, []).append(Statement(_sentence(phrase), [ev], "over"))
    return out


#: What a theme share counts when the survey has several open questions.
ANY_OPEN = "any open answer"


def _theme_scope(survey) -> str | None:
    """What a theme share counts (:func:`_theme_statements`): :data:`ANY_OPEN` when the
    survey has several open questions (the theme profile combines them), "answers to
    “<label>”" when it has one, None when it has none (or cannot say)."""
    try:
        qids = list(survey.text().columns)
    except (AttributeError, KeyError, TypeError):
        return None
    if len(qids) > 1:
        return ANY_OPEN
    if len(qids) == 1:
        return f"answers to “{question_label(_question(survey, qids[0]), qids[0])}”"
    return None


def _themes_answered_by_all(theme_profile, sizes) -> bool:
    """Whether every assigned respondent is counted in the theme profile (its ``n``, the
    segment's respondents who answered the open questions, equals the segment's size for
    every segment); unknown counts as no."""
    if theme_profile is None or theme_profile.empty or "n" not in theme_profile:
        return False
    answered = theme_profile.groupby(theme_profile["segment"].astype(str))["n"].max()
    assigned = sizes[sizes["segment"].astype(str) != "unassigned"]
    size = dict(zip(assigned["segment"].astype(str), assigned["n"].astype(int)))
    return bool(size) and all(int(answered.get(s, -1)) == n for s, n in size.items())


def _who(first: str, segment, not_a_persona: bool) -> str:
    """How the narrative names the people of a segment, lower case: "people like Emily", or
    "respondents in segment 3" for a segment that is not a persona."""
    return f"respondents in segment {segment}" if not_a_persona else f"people like {first}"


def _no_trait_reason(*, n: int, min_cell: int, min_effect: float, few: list[int],
                     small: list[tuple], demographics: bool) -> tuple[str, dict]:
    """Why a segment has no trait to state, as (reason, numbers) for the ``narrative_*`` and
    ``lead_*`` templates. The reasons, first that holds:

    * ``few``: the segment has fewer than ``min_cell`` respondents (``n``);
    * ``demo``: only demographic rows passed;
    * ``rare``: some answers differ by more than a small effect but each rests on fewer
      than ``min_cell`` of its respondents (those who gave it, or for a mean or a routed
      question those who answered it): ``k`` is the most of them (``few`` lists each such
      row's head count);
    * ``none``: every significant difference is under ``min_effect`` as read against the
      total; ``small`` lists ``(effect as read against the total, the profile's effect
      size, the answer's name)`` per row, and the largest is printed: ``effect`` (the
      profile's number, segment against the rest), ``reader`` (against the total) and
      ``what``;
    * ``unsig``: no answer differs significantly.
    """
    if n < min_cell:
        return "few", {"n": f"{n:,}", "min_cell": min_cell}
    if demographics:
        return "demo", {}
    if few:
        return "rare", {"k": f"{max(few):,}", "n": f"{n:,}", "min_cell": min_cell}
    if small:
        reader, effect, what = max(small, key=lambda t: t[0])
        return "none", {"effect": effect, "reader": reader, "what": what,
                        "min_effect": min_effect}
    return "unsig", {}


def _narrative(first: str, traits: list[tuple[str, Statement]], theme: Statement | None,
               size_ev: Evidence, share: float, *, who: str | None = None,
               kind: str = "persona", none: tuple[str, dict] | None = None) -> list[Statement]:
    """2-3 sentences from the evidence, one footnoted clause each: the strongest trait, the
    next one, and the most over-represented theme in their own words (or a third trait).
    Without a closed-question trait, one sentence saying why (``none``:
    :func:`_no_trait_reason`), after the over-represented theme when there is one."""
    who = who or f"people like {first}"
    if not traits:
        reason, numbers = none or ("unsig", {})
        opening = []
        if theme is not None:
            phrase = theme.text[:1].lower() + theme.text[1:].rstrip(".")
            opening = [Statement(render("narrative_first", who=who[:1].upper() + who[1:],
                                        phrase=phrase), list(theme.evidence), "over")]
        if reason in ("few", "rare") and who.startswith("respondents in "):
            who = who[len("respondents in "):]     # "to describe segment 1 reliably"
        return opening + [Statement(render(f"narrative_{reason}", who=who, kind=kind,
                                           share=share, **numbers), [size_ev])]
    (p1, s1), rest = traits[0], traits[1:]
    out = [Statement(render("narrative_first", who=who[:1].upper() + who[1:], phrase=p1),
                     list(s1.evidence), s1.direction)]
    if rest:
        p2, s2 = rest[0]
        out.append(Statement(render("narrative_also", phrase=p2), list(s2.evidence),
                             s2.direction))
    if theme is not None:
        phrase = theme.text[:1].lower() + theme.text[1:].rstrip(".")
        out.append(Statement(render("narrative_and", phrase=phrase), list(theme.evidence),
                             "over"))
    elif len(rest) > 1:
        p3, s3 = rest[1]
        out.append(Statement(render("narrative_and", phrase=p3), list(s3.evidence),
                             s3.direction))
    return out


def draft_personas(survey, labels, profile: pd.DataFrame, sizes: pd.DataFrame, *,
                   quotes: pd.DataFrame | None = None, theme_profile: pd.DataFrame | None = None,
                   theme_info: dict | None = None, stability: dict | None = None,
                   unassigned_share: float | None = None, not_a_fit=None, n_quotes: int = 5,
                   max_items: int = 4, verdict=None, min_effect: float = MIN_EFFECT,
                   min_cell: int = MIN_CELL) -> list[PersonaDraft]:
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
    verdict : StabilityResult, Recommendation or str, optional
        The run's verdict; under "No stable segments" no persona is high confidence
        (:func:`cap_confidence`).
    min_effect : float
        Smallest absolute effect size written up (default :data:`MIN_EFFECT`).
    min_cell : int
        Fewest respondents a written-up trait rests on (default :data:`MIN_CELL`).

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
    answers = _quoted_answers(survey, quotes, profile)
    share_values = _share_values(survey, profile)
    everyone = _answered_by_all(survey, profile, share_values)
    themes_everyone = _themes_answered_by_all(theme_profile, sizes)
    reverse = {q.id for q in survey.codebook.questions if getattr(q, "reverse", False)}
    weighted = getattr(survey.codebook, "weight", None) is not None
    # footnotes name questions as the report's tables and charts do
    names = distinct_labels(list(survey.codebook.questions))

    def evidence_of(row, q):
        return _profile_evidence(row, q, names.get(str(row["question"])))

    theme_scope = _theme_scope(survey)
    for seg in segments:
        prof = profile[profile["segment"] == seg]
        seg_share = float(sizes.loc[sizes["segment"] == seg, "weighted_share"].iloc[0])
        seg_n = int(sizes.loc[sizes["segment"] == seg, "n"].iloc[0])
        sig = prof[prof["significant"] & prof["effect_size"].notna()].copy()
        sig["_strength"] = sig["effect_size"].abs()
        sig = sig.sort_values(["_strength", "variable"], ascending=[False, True], kind="stable")
        sig["answered_all"] = [everyone.get(str(v), False) for v in sig["variable"]]
        facets: dict[str, list[Statement]] = {f: [] for f in FACETS}
        demographics: list[Statement] = []
        traits: list[tuple[str, Statement]] = []   # (phrase, statement), strongest first
        seen_q: set[str] = set()
        descriptor, lead = None, None
        few_counts: list[int] = []     # rows large enough in effect, too few in people
        small_effects: list[tuple] = []   # (effect read against the total, effect, answer)
        gave = _gave_counts(share_values, labels, seg)
        for _, row in sig.iterrows():
            q = _question(survey, row["question"])
            over_share = row["measure"] == "share" and row["effect_size"] > 0
            given = gave.get(str(row["variable"])) if over_share else None
            why = _why_not(row, q, min_effect=min_effect, min_cell=min_cell, share=seg_share,
                           given=given)
            if why == "few":
                n_row = 0 if _isnan(row.get("n")) else int(row["n"])
                if over_share and n_row >= min_cell:
                    few_counts.append(given if given is not None
                                      else int(round(float(row["value"]) * n_row)))
                else:
                    few_counts.append(n_row)
            elif why == "small":
                label = prose_label(q, row.get("question_text") or row["question"])
                level = row.get("level")
                what = (f"“{label}”" if level is None or _isnan(level)
                        else f"“{level}” to “{label}”")
                small_effects.append((_reader_effect(row, seg_share),
                                      float(row["effect_size"]), what))
            if why is not None:
                continue
            facet = _facet_of(q)
            if facet is None:
                if row["type"] == "multi" and _about_doing(q, row):
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
                text = prose_label(q, row["question"])
                if row["type"] == "numeric":
                    value, total = _year_values(row, q, row["value"], row["total"])
                    st = render("demo_mean", text=text, value=value, total=total)
                elif _binary_yes(row, q):
                    st = render("demo_yes", text=text, value=row["value"], total=row["total"],
                                **_of_whom(row))
                else:
                    st = render("demo_share", text=text, value=row["value"],
                                total=row["total"], **_level_values(row, q), **_of_whom(row))
                demographics.append(Statement(st, [evidence_of(row, q)]))
                continue
            phrase, direction = _phrase_for(row, q, seg_share)
            st = Statement(_sentence(phrase), [evidence_of(row, q)], direction)
            if not _holds_facet(row, q, facet, survey):
                # "agrees less than most that X is a goal" is not one of their goals: it is
                # still a finding, listed with what sets them apart
                facet = "distinctive"
            if lead is None:
                lead = st
            if descriptor is None:
                descriptor = _descriptor(row, q)
            if row["question"] not in {s.evidence[0].question for _, s in traits}:
                traits.append((phrase, st))
            if len(facets[facet]) < max_items:
                facets[facet].append(st)
        theme_sts = _theme_statements(theme_profile, seg, theme_info, max_items, min_cell,
                                      answered_all=themes_everyone, scope=theme_scope)
        for facet, sts in theme_sts.items():
            facets[facet] = (facets.get(facet, []) + sts)[: max_items + len(sts)]
        own_themes, avoid_themes = _segment_themes(theme_profile, seg, min_cell)
        top_theme = next((st for sts in theme_sts.values() for st in sts
                          if own_themes and st.evidence[0].variable == own_themes[0]), None)
        not_persona = not_a_persona_reason(seg, verdict)
        if not_persona is not None:
            # not a persona: no person's name, no adjective, nothing for the summary to
            # present as one
            descriptor, first = "", ""
            name = not_a_persona_name(seg)
        else:
            descriptor = descriptor or ""
            age = _segment_age(survey, labels, seg, age_q)
            decade = int((year - (age if age is not None else 40)) // 10 * 10)
            sex = _segment_sex(survey, labels, seg, sex_q)
            first = _pick_name(decade, sex, descriptor, used)
            used.add(first)
            name = f"{descriptor} {first}" if descriptor else first
        who = _who(first, seg, not_persona is not None)
        kind = "segment" if not_persona is not None else "persona"
        none = _no_trait_reason(n=seg_n, min_cell=min_cell, min_effect=min_effect,
                                few=few_counts, small=small_effects,
                                demographics=bool(demographics))
        srow = sizes[sizes["segment"] == seg].iloc[0]
        size = {"n": int(srow["n"]), "share": float(srow["share"]),
                "weighted_share": float(srow["weighted_share"]),
                "ci_low": float(srow["ci_low"]), "ci_high": float(srow["ci_high"])}
        size_ev = Evidence(kind="size", ref=f"size:{seg}", value=size["weighted_share"],
                           n=size["n"], weighted=bool(weighted))
        size_st = Statement(render("size", n=f"{size['n']:,}", share=size["weighted_share"],
                                   low=size["ci_low"], high=size["ci_high"],
                                   weighted=weighted), [size_ev])
        if lead is not None:
            lead_text, lead_ev = lead.text, list(lead.evidence)
        else:
            # no closed-question trait: the segment's own theme leads when it has one, and
            # the headline still says why nothing else does
            lead_text = render(f"lead_{none[0]}", **none[1])
            lead_ev = []
            if top_theme is not None:
                lead_text = f"{top_theme.text} {lead_text}"
                lead_ev = list(top_theme.evidence)
        headline = Statement(render("headline", share=size["weighted_share"], lead=lead_text),
                             [size_ev] + lead_ev)
        stab = stability.get(seg, stability.get(str(seg)))
        badge, reason = confidence_badge(stab, unassigned_share)
        if seg_n < min_cell:   # no trait can be written up: never more than low
            badge = "low"
            reason = f"{reason} {render('too_few', n=f'{seg_n:,}', min_cell=min_cell)}"
        badge, reason = cap_confidence(badge, reason, stab, verdict, seg)
        conf_ev = [Evidence(kind="stability", ref=f"stability:{seg}", value=_f(stab))]
        negative = _match_not_a_fit(prof, rules, survey, names)
        narrative = _narrative(first, traits, top_theme, size_ev, size["weighted_share"],
                               who=who, kind=kind, none=none)
        defining, others = _card_split(narrative, demographics[:max_items], facets)

        def check(quote, defining=defining, others=others):
            own = None if answers is None or quote.respondent_id not in answers.index \
                else answers.loc[quote.respondent_id]
            return quote_fit(quote, own, defining, others,
                             follows=follow_up_of(survey.codebook, quote.question),
                             reverse=reverse,
                             label=lambda qid: question_label(_question(survey, qid), qid),
                             scale_word=lambda qid, x: _scale_word(_question(survey, qid), x))

        persona_quotes, left_out, n_candidates = _quotes_for(
            quotes, seg, n_quotes, themes=own_themes, avoid=avoid_themes, check=check,
            question_text=lambda qid: _quote_question_text(survey, qid),
            theme_info=theme_info)
        quotes_note = None
        if n_candidates and not persona_quotes:
            quotes_note = (f"No quote is shown: none of the segment's {n_candidates} "
                           "representative quotes comes from a respondent typical of this "
                           "persona's traits without contradicting them (see "
                           "quotes_left_out).")
        headline_quote = _headline_quote(persona_quotes, own_themes)
        personas.append(PersonaDraft(
            segment=seg, name=name, first_name=first, descriptor=descriptor,
            not_a_persona=not_persona, exploratory=dissolves_note(stab),
            headline=headline, size=size, size_statement=size_st, confidence=badge,
            confidence_statement=Statement(render("confidence", badge=badge, reason=reason),
                                           conf_ev),
            demographics=demographics[:max_items], quotes=persona_quotes,
            negative=negative is not None, negative_statement=negative,
            narrative=narrative, headline_quote=headline_quote,
            quotes_left_out=left_out, quotes_note=quotes_note,
            **{f: facets[f] for f in FACETS}))
    return personas


# --------------------------------------------------------------------------- exports
def personas_to_json(personas: list[PersonaDraft], *, wave: str | None = None) -> dict:
    """The versioned JSON document (``schema``: :data:`PERSONA_SCHEMA`)."""
    return {"schema": PERSONA_SCHEMA, "wave": wave,
            "personas": [p.to_dict() for p in personas]}


def personas_to_markdown(personas: list[PersonaDraft], *, wave: str | None = None) -> str:
    """Markdown, one section per persona, evidence as numbered footnotes. A quote is
    credited to its respondent and question as a reader knows it (``question_text``) with
    its themes' labels; its ``ref`` stays in the JSON and CSV exports."""
    lines = [f"# Personas{f' — {wave}' if wave else ''}", ""]
    notes: list[str] = []

    def cite(st: Statement) -> str:
        marks = []
        for ev in st.evidence:
            notes.append(ev.footnote())
            marks.append(f"[^{len(notes)}]")
        return st.text + "".join(marks)

    for p in personas:
        lines += [f"## {p.name}{' (not a fit)' if p.negative else ''}", ""]
        if p.narrative:
            lines += [" ".join(cite(st) for st in p.narrative), ""]
        else:
            lines += [f"*{cite(p.headline)}*", ""]
        if p.headline_quote is not None:
            hq = p.headline_quote
            lines += [f"> *“{hq.text}”* — respondent {hq.respondent_id}, "
                      f"{hq.question_text or hq.question}{_md_themes(hq)}", ""]
        lines += [f"- **Size:** {cite(p.size_statement)}",
                  f"- **Confidence:** {cite(p.confidence_statement)}"]
        if getattr(p, "exploratory", None) and not getattr(p, "not_a_persona", None):
            lines.append(f"- **Exploratory:** the segment {p.exploratory}: read it as a lead "
                         "to follow up, not as a persona.")
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
                lines.append(f">\n> — respondent {q.respondent_id}, "
                             f"{q.question_text or q.question}{_md_themes(q)}")
                lines.append("")
        elif p.quotes_note:
            lines += ["### In their own words", "", f"*{p.quotes_note}*", ""]
    if notes:
        lines += ["---", ""] + [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def _md_themes(q: Quote) -> str:
    """A quote's themes for its Markdown footer, by label (ids on old pickles)."""
    names = getattr(q, "theme_labels", None) or q.themes
    return f" · {', '.join(names)}" if names else ""


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
                          profile: pd.DataFrame | None = None, codebook=None) -> dict:
    """Write personas.json, personas.md, persona_cards.html, and CSV/XLSX of evidence, quotes
    and the profile (spreadsheet formulas neutralised). Returns {kind: path}.

    ``codebook`` (the survey's) names the questions of the standalone cards by their short
    labels, as the report does."""
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
    # a segment the run's verdict says is not a persona carries the "not a persona" badge
    # here as in the report (its reason from the draft: :func:`not_a_persona_reason`)
    refused = {p.segment: p.not_a_persona for p in personas
               if getattr(p, "not_a_persona", None)}
    out["html"].write_text(persona_cards_html(personas, wave=wave, standalone=True,
                                              codebook=codebook, not_personas=refused),
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

