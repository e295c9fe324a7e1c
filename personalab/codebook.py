"""Codebook: what each column of a survey export means, as a human-editable YAML file.

A codebook says, for every question, its type (likert, single, multi, numeric, text,
weight, id, date, meta), its role in the analysis (segment, profile, ignore), its answer
scale and the answers that mean "missing" (with the reason kept). The schema is in
``docs/design.md``; this module reads and writes it, drafts one from a raw wave
(:func:`infer_codebook`) and checks one against a wave (:func:`validate_codebook`).

Examples
--------
>>> cb = infer_codebook(raw)                      # doctest: +SKIP
>>> save_codebook(cb, "codebooks/wave1.yaml")     # edit it, then:
>>> cb = load_codebook("codebooks/wave1.yaml")    # doctest: +SKIP
>>> validate_codebook(cb, raw).to_frame()         # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from personalab.errors import CodebookError, InputError, short_path

__all__ = [
    "SCHEMA_VERSION",
    "QUESTION_TYPES",
    "ROLES",
    "ScaleOption",
    "MissingCode",
    "Question",
    "Codebook",
    "Issue",
    "ValidationReport",
    "load_codebook",
    "save_codebook",
    "infer_codebook",
    "validate_codebook",
    "draft_short",
    "short_label",
    "read_yaml_file",
    "read_yaml_text",
    "load_yaml_text",
]

SCHEMA_VERSION = 1
QUESTION_TYPES = ("likert", "single", "multi", "numeric", "text", "weight", "id", "date", "meta")
ROLES = ("segment", "profile", "ignore")
#: Role a question gets when the codebook does not say.
DEFAULT_ROLE = {
    "likert": "segment", "single": "segment", "multi": "segment",
    "numeric": "profile", "text": "profile",
    "weight": "ignore", "id": "ignore", "date": "ignore", "meta": "ignore",
}
_TOP_KEYS = ("schema_version", "survey", "respondent_id", "weight", "questions")
_QUESTION_KEYS = ("id", "text", "type", "role", "scale", "reverse", "ordered", "missing", "grid",
                  "separator", "options", "columns", "attention_check", "min", "max", "facet",
                  "descriptor", "short")
#: Longest ``short`` label a codebook may give (cards, chart axes and heat-map rows).
SHORT_MAX = 60
#: Which part of a persona a question speaks to (optional; see personalab.personas).
FACETS = ("goal", "pain_point", "motivation", "behaviour", "objection", "demographic")

# Answers that mean "no substantive answer", by reason. Matched after _norm().
_MISSING_VOCAB = {
    "dont_know": ["don't know", "dont know", "do not know", "dk", "not sure", "unsure",
                  "no opinion", "can't say", "cannot say", "don't know / not sure",
                  "i don't know", "don't know/not sure", "i'm not sure", "i am not sure",
                  "unknown", "don't remember", "can't remember", "cannot remember",
                  "haven't thought much about this", "have not thought much about this"],
    "not_applicable": ["n/a", "na", "not applicable", "does not apply", "doesn't apply",
                       "n/a - not applicable", "not relevant", "not applicable to me",
                       "does not apply to me", "doesn't apply to me"],
    "not_stated": ["not stated", "not specified", "no answer", "not answered", "missing",
                   "no response", "blank"],
    "prefer_not_to_say": ["prefer not to say", "prefer not to answer", "rather not say",
                          "i'd rather not say", "i prefer not to say", "decline to state",
                          "decline to answer", "prefer not to disclose"],
    "refused": ["refused", "refuse", "refused to answer", "refusal"],
}
_MISSING_LOOKUP = {lab: reason for reason, labs in _MISSING_VOCAB.items() for lab in labs}


# --------------------------------------------------------------------------- dataclasses
@dataclass
class ScaleOption:
    """One answer option of a scale: the code stored in the data and its label."""

    code: Any
    label: str


@dataclass
class MissingCode:
    """An answer that means "missing"; ``reason`` is kept (``dont_know``, ``refused``...)."""

    code: Any
    label: str
    reason: str


@dataclass
class Question:
    """One question of the codebook (one column, or one wide multi-select question).

    Attributes follow the YAML schema in ``docs/design.md``. ``ordered`` is an extension:
    whether the scale's categories are ordered (default: True for likert, False otherwise).
    """

    id: str
    text: str = ""
    type: str = "single"
    role: str | None = None
    scale: list[ScaleOption] = field(default_factory=list)
    reverse: bool = False
    missing: list[MissingCode] = field(default_factory=list)
    grid: str | None = None
    separator: str | None = None
    options: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    attention_check: dict | None = None
    min: float | None = None
    max: float | None = None
    ordered: bool | None = None
    #: persona facet this question speaks to: goal, pain_point, motivation, behaviour,
    #: objection or demographic (optional)
    facet: str | None = None
    #: words for a persona's name: {high: ..., low: ...} for scales, {option: ...} for choices
    descriptor: dict | None = None
    #: a short label for cards, charts and heat maps when ``text`` is long (optional;
    #: drafted by :func:`infer_codebook`); :attr:`display_label` falls back to ``text``,
    #: cut at a word boundary
    short: str | None = None

    def __post_init__(self):
        if self.role is None:
            self.role = DEFAULT_ROLE.get(self.type, "profile")

    @property
    def display_label(self) -> str:
        """What to call the question in cards, charts and heat maps (:func:`short_label`)."""
        return short_label(self)

    @property
    def data_columns(self) -> list[str]:
        """The export columns this question reads (its option columns for wide multi)."""
        return list(self.columns) if self.columns else [self.id]

    @property
    def is_ordered(self) -> bool:
        return self.ordered if self.ordered is not None else self.type == "likert"

    @property
    def scale_codes(self) -> list:
        return [o.code for o in self.scale]

    @property
    def scale_labels(self) -> list[str]:
        return [o.label for o in self.scale]

    @property
    def multi_options(self) -> list[str]:
        """Option labels of a multi-select question, in codebook order."""
        return list(self.columns.values()) if self.columns else list(self.options)


@dataclass
class Codebook:
    """A survey's codebook: respondent id and weight columns plus the questions.

    ``notes`` (not saved as data) holds what :func:`infer_codebook` wants a researcher to
    check; :func:`save_codebook` writes them as comments. ``source`` is the YAML file read.
    """

    survey: str = "survey"
    respondent_id: str | None = None
    weight: str | None = None
    questions: list[Question] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list, compare=False, repr=False)
    source: str | None = field(default=None, compare=False, repr=False)

    # lookup ------------------------------------------------------------------------
    def __getitem__(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        close = difflib.get_close_matches(str(qid), self.ids, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"No question {qid!r} in the codebook.{hint}")

    def __contains__(self, qid) -> bool:
        return any(q.id == qid for q in self.questions)

    def __iter__(self):
        return iter(self.questions)

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def questions_of(self, type=None, role=None) -> list[Question]:
        """Questions of the given type(s) and role(s); ``None`` means any.

        Parameters
        ----------
        type, role : str or list of str, optional
            E.g. ``questions_of(type="likert", role="segment")`` or
            ``questions_of(type=["likert", "single"])``.
        """
        return [q for q in self.questions if _matches(q.type, type) and _matches(q.role, role)]

    # dict <-> dataclass -----------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain dict in schema key order, leaving out empty optional keys."""
        out = {"schema_version": self.schema_version, "survey": self.survey}
        if self.respondent_id is not None:
            out["respondent_id"] = self.respondent_id
        if self.weight is not None:
            out["weight"] = self.weight
        out["questions"] = [_question_to_dict(q) for q in self.questions]
        return out

    @classmethod
    def from_dict(cls, d, *, source=None) -> "Codebook":
        """Build and check a codebook from a dict (as read from YAML).

        Raises
        ------
        CodebookError
            Naming the file, the question id and the fix for any schema problem.
        """
        return _codebook_from_dict(d, source)


def question_wording(codebook, columns) -> dict:
    """``{column: the question's text}`` for the columns the codebook words (a column it
    does not list, or a question without text, is left out)."""
    out = {}
    for q in columns:
        try:
            text = codebook[q].text
        except KeyError:
            continue
        if text:
            out[q] = text
    return out


#: A question text longer than this is shown cut at a word boundary ("…") where the
#: codebook gives no ``short`` label: on cards, charts, heat maps and in the explorer.
SHORT_LABEL_CHARS = SHORT_MAX


def cut_label(text) -> str:
    """``text`` as a label: whole up to :data:`SHORT_LABEL_CHARS` characters, else cut at a
    word boundary with "…"."""
    text = str(text or "").strip()
    if len(text) <= SHORT_LABEL_CHARS:
        return text
    return text[:SHORT_LABEL_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-") + "\u2026"


def short_label(question, fallback: str | None = None) -> str:
    """What to call a question on cards, charts, heat maps and in the explorer: its ``short``
    label, else its text (or ``fallback``, else its id) cut by :func:`cut_label`. Takes a
    :class:`Question`, a mapping with those keys (a question as read from YAML) or None
    (then ``fallback`` is named). The one rule every view uses."""
    get = question.get if isinstance(question, dict) else \
        (lambda k: getattr(question, k, None))
    short = get("short") if question is not None else None
    if short:
        return str(short)
    text = (get("text") if question is not None else None) or fallback \
        or (get("id") if question is not None else None) or ""
    return cut_label(text)


def _matches(value, wanted) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return value == wanted
    return value in set(wanted)


def _clean_code(code):
    """Codes as YAML shows them: 5 not 5.0, numpy scalars as Python scalars."""
    if isinstance(code, (np.generic,)):
        code = code.item()
    if isinstance(code, float) and code.is_integer():
        return int(code)
    return code


class _Flow(dict):
    """A mapping written on one line: ``{code: 1, label: Strongly disagree}``."""


class _FlowList(list):
    """A list written on one line: ``[Email, Phone, Chat]``."""


def _question_to_dict(q: Question) -> dict:
    d = {"id": q.id, "text": q.text}
    if q.short:
        d["short"] = q.short
    d.update(type=q.type, role=q.role)
    if q.scale:
        d["scale"] = [_Flow(code=_clean_code(o.code), label=o.label) for o in q.scale]
    if q.type == "likert" or q.reverse:
        d["reverse"] = bool(q.reverse)
    if q.ordered is not None:
        d["ordered"] = bool(q.ordered)
    if q.missing:
        d["missing"] = [_Flow(code=_clean_code(m.code), label=m.label, reason=m.reason)
                        for m in q.missing]
    if q.grid is not None:
        d["grid"] = q.grid
    if q.separator is not None:
        d["separator"] = q.separator
    if q.options:
        d["options"] = _FlowList(q.options)
    if q.columns:
        d["columns"] = dict(q.columns)
    if q.attention_check is not None:
        d["attention_check"] = _Flow(q.attention_check)
    if q.min is not None:
        d["min"] = _clean_code(q.min)
    if q.max is not None:
        d["max"] = _clean_code(q.max)
    if q.facet is not None:
        d["facet"] = q.facet
    if q.descriptor:
        d["descriptor"] = _Flow(q.descriptor)
    return d


# --------------------------------------------------------------------------- schema checks
def _fail(problem, source, qid=None, fix=None, row=None):
    raise CodebookError(problem, file=source, column=qid, row=row, fix=fix)


def _unknown_key_fix(key, allowed) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"rename {key!r} to {close[0]!r} (allowed keys: {', '.join(allowed)})"
    return f"remove {key!r}; allowed keys are {', '.join(allowed)}"


def _codebook_from_dict(d, source) -> Codebook:
    src = short_path(source) if source is not None else None
    if not isinstance(d, dict):
        kind = "empty" if d is None else f"a {type(d).__name__}"
        _fail(f"the codebook must be a YAML mapping (schema_version, survey, questions), "
              f"but it is {kind}", src,
              fix="start the file with 'schema_version: 1' and list questions under 'questions:'; "
                  "save_codebook(infer_codebook(raw), path) writes a template")
    for key in d:
        if key not in _TOP_KEYS:
            _fail(f"unknown top-level key {key!r}", src, fix=_unknown_key_fix(key, _TOP_KEYS))
    version = d.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        _fail(f"schema_version is {version!r}; this PersonaLab reads schema_version "
              f"{SCHEMA_VERSION}", src, fix=f"set 'schema_version: {SCHEMA_VERSION}' at the top")
    for key in ("respondent_id", "weight"):
        if d.get(key) is not None and not isinstance(d[key], (str, int)):
            _fail(f"{key} must be a column name, got {d[key]!r}", src,
                  fix=f"write the column's name, e.g. '{key}: {'ResponseId' if key == 'respondent_id' else 'weight'}'")
    raw_questions = d.get("questions") or []
    if not isinstance(raw_questions, list):
        _fail("'questions' must be a list of questions ('- id: ...')", src,
              fix="write each question as a list item starting with '- id:'")
    questions, seen_ids, seen_cols = [], {}, {}
    for i, qd in enumerate(raw_questions):
        q = _question_from_dict(qd, i, src)
        if q.id in seen_ids:
            _fail(f"question id {q.id!r} appears twice (questions {seen_ids[q.id] + 1} and {i + 1})",
                  src, q.id, fix="give each question a unique id, or delete the duplicate")
        seen_ids[q.id] = i
        for col in q.columns:
            if col in seen_cols and seen_cols[col] != q.id:
                _fail(f"column {col!r} is used by questions {seen_cols[col]!r} and {q.id!r}", src,
                      q.id, fix="a column belongs to one question; remove it from one of them")
            seen_cols[col] = q.id
        questions.append(q)
    for qid in seen_ids:
        if qid in seen_cols and seen_cols[qid] != qid:
            _fail(f"{qid!r} is both a question id and an option column of {seen_cols[qid]!r}",
                  src, qid, fix="rename the wide multi-select question id (e.g. add '_multi')")
    return Codebook(
        survey=str(d.get("survey") or "survey"),
        respondent_id=None if d.get("respondent_id") is None else str(d["respondent_id"]),
        weight=None if d.get("weight") is None else str(d["weight"]),
        questions=questions,
        schema_version=version,
        source=src,
    )


def _question_from_dict(qd, i, src) -> Question:
    if not isinstance(qd, dict):
        _fail(f"question {i + 1} is not a mapping: {qd!r}", src,
              fix="write each question as '- id: Q1' followed by indented keys")
    qid = qd.get("id")
    if qid is None or (isinstance(qid, str) and not qid.strip()):
        _fail(f"question {i + 1} has no id", src, fix="add 'id: <column id in the export>'")
    qid = str(qid)
    for key in qd:
        if key not in _QUESTION_KEYS:
            _fail(f"unknown key {key!r} in question {qid!r}", src, qid,
                  fix=_unknown_key_fix(key, _QUESTION_KEYS))
    qtype = qd.get("type")
    if qtype not in QUESTION_TYPES:
        close = difflib.get_close_matches(str(qtype), QUESTION_TYPES, n=1, cutoff=0.5)
        _fail(f"unknown type {qtype!r} for question {qid!r}", src, qid,
              fix=(f"did you mean {close[0]!r}? " if close else "")
              + f"type must be one of {', '.join(QUESTION_TYPES)}")
    role = qd.get("role", DEFAULT_ROLE[qtype])
    if role not in ROLES:
        close = difflib.get_close_matches(str(role), ROLES, n=1, cutoff=0.5)
        _fail(f"unknown role {role!r} for question {qid!r}", src, qid,
              fix=(f"did you mean {close[0]!r}? " if close else "")
              + f"role must be one of {', '.join(ROLES)}")
    scale = _read_options(qd.get("scale"), "scale", ("code", "label"), qid, src)
    if qtype == "likert":
        if not scale:
            _fail(f"likert question {qid!r} has no scale", src, qid,
                  fix="list its answers low to high under 'scale:', e.g. "
                      "'- {code: 1, label: Strongly disagree}'")
        bad = [o["code"] for o in scale
               if not isinstance(o["code"], (int, float)) or isinstance(o["code"], bool)]
        if bad:
            _fail(f"likert question {qid!r} has non-numeric scale code(s) {bad}", src, qid,
                  fix="likert codes are numbers (1..5); use type 'single' for labelled categories")
    missing = _read_options(qd.get("missing"), "missing", ("code", "label"), qid, src)
    _check_unique([o["code"] for o in scale], "scale code", qid, src)
    _check_unique([_norm(o["label"]) for o in scale], "scale label", qid, src)
    _check_unique([o["code"] for o in missing], "missing code", qid, src)
    clash = {_norm(o["code"]) for o in scale} & {_norm(o["code"]) for o in missing}
    clash |= {_norm(o["label"]) for o in scale} & {_norm(o["label"]) for o in missing}
    if clash:
        _fail(f"question {qid!r}: {sorted(clash)} is both a scale answer and a missing code", src,
              qid, fix="an answer is either on the scale or missing; remove it from one list")
    options = qd.get("options") or []
    columns = qd.get("columns") or {}
    if not isinstance(options, list):
        _fail(f"'options' of {qid!r} must be a list", src, qid, fix="write options: [A, B, C]")
    if not isinstance(columns, dict):
        _fail(f"'columns' of {qid!r} must map column -> option", src, qid,
              fix="write columns: {Q5_1: Email, Q5_2: Phone}")
    if qtype == "multi" and not options and not columns:
        _fail(f"multi-select question {qid!r} lists neither 'options' (answers joined in one "
              f"column) nor 'columns' (one column per option)", src, qid,
              fix="add 'options: [...]' and 'separator:' or 'columns: {col: option}'")
    _check_unique([str(o) for o in options], "option", qid, src)
    _check_unique([str(o) for o in columns.values()], "option", qid, src)
    lo, hi = qd.get("min"), qd.get("max")
    for name, v in (("min", lo), ("max", hi)):
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            _fail(f"{name} of {qid!r} must be a number, got {v!r}", src, qid,
                  fix=f"write '{name}: 0' or delete the line")
    if lo is not None and hi is not None and lo > hi:
        _fail(f"question {qid!r} has min {lo} > max {hi}", src, qid, fix="swap min and max")
    att = qd.get("attention_check")
    if att is not None and (not isinstance(att, dict) or "expected" not in att):
        _fail(f"attention_check of {qid!r} must be a mapping with 'expected'", src, qid,
              fix="write attention_check: {expected: Strongly agree}")
    sep = qd.get("separator")
    if sep is not None and (not isinstance(sep, str) or not sep):
        _fail(f"separator of {qid!r} must be a non-empty string", src, qid,
              fix="write separator: \",\" (Qualtrics) or \";\" (Google Forms)")
    if qtype == "multi" and options and sep is None:
        sep = ","
    short = qd.get("short")
    if short is not None:
        if not isinstance(short, (str, int, float)) or isinstance(short, bool) \
                or not str(short).strip():
            _fail(f"short of {qid!r} must be a short text label, got {short!r}", src, qid,
                  fix="write e.g. 'short: Staff morale', or delete the line")
        short = _WS.sub(" ", str(short)).strip()
        if len(short) > SHORT_MAX:
            _fail(f"short of {qid!r} is {len(short)} characters; a short label is at most "
                  f"{SHORT_MAX}", src, qid,
                  fix=f"shorten it (it names the question on charts), e.g. {short[:35]!r}")
    facet = qd.get("facet")
    if facet is not None and facet not in FACETS:
        close = difflib.get_close_matches(str(facet), FACETS, n=1)
        _fail(f"facet of {qid!r} must be one of {', '.join(FACETS)}, got {facet!r}", src, qid,
              fix=f"did you mean {close[0]!r}?" if close else "delete the line")
    descriptor = qd.get("descriptor")
    if descriptor is not None and (not isinstance(descriptor, dict) or not all(
            isinstance(v, str) for v in descriptor.values())):
        _fail(f"descriptor of {qid!r} must map 'high'/'low' (or option labels) to words", src,
              qid, fix="write descriptor: {high: Budget-minded, low: Free-spending}")
    ordered = qd.get("ordered")
    for name, v in (("reverse", qd.get("reverse", False)), ("ordered", ordered)):
        if v is not None and not isinstance(v, bool):
            _fail(f"{name} of {qid!r} must be true or false, got {v!r}", src, qid,
                  fix=f"write '{name}: true' or '{name}: false'")
    return Question(
        id=qid,
        text="" if qd.get("text") is None else str(qd.get("text")),
        type=qtype,
        role=role,
        scale=[ScaleOption(_clean_code(o["code"]), str(o["label"])) for o in scale],
        reverse=bool(qd.get("reverse", False)),
        missing=[MissingCode(_clean_code(o["code"]), str(o["label"]),
                             str(o.get("reason") or _missing_reason(o["label"]) or "missing"))
                 for o in missing],
        grid=None if qd.get("grid") is None else str(qd["grid"]),
        separator=sep,
        options=[str(o) for o in options],
        columns={str(k): str(v) for k, v in columns.items()},
        attention_check=dict(att) if att is not None else None,
        min=lo,
        max=hi,
        ordered=ordered,
        facet=facet,
        descriptor={str(k): v for k, v in descriptor.items()} if descriptor else None,
        short=short,
    )


def _read_options(items, key, required, qid, src) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        _fail(f"'{key}' of {qid!r} must be a list", src, qid,
              fix=f"write each entry as '- {{code: 1, label: ...}}'")
    out = []
    for item in items:
        if not isinstance(item, dict) or any(k not in item for k in required):
            _fail(f"'{key}' entry {item!r} of {qid!r} needs {' and '.join(required)}", src, qid,
                  fix=f"write it as {{code: 1, label: Strongly disagree}}"
                  + (", reason: dont_know" if key == "missing" else ""))
        allowed = ("code", "label", "reason") if key == "missing" else ("code", "label")
        for k in item:
            if k not in allowed:
                _fail(f"unknown key {k!r} in '{key}' of {qid!r}", src, qid,
                      fix=_unknown_key_fix(k, allowed))
        if item["code"] is None:
            _fail(f"'{key}' entry {item!r} of {qid!r} has an empty code", src, qid,
                  fix="give it the value stored in the data, e.g. code: 99")
        out.append(item)
    return out


def _check_unique(values, what, qid, src):
    seen = set()
    for v in values:
        if v in seen:
            _fail(f"question {qid!r} has duplicate {what} {v!r}", src, qid,
                  fix=f"each {what} may appear once; renumber or delete the duplicate")
        seen.add(v)


# --------------------------------------------------------------------------- YAML I/O
class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes scale entries and option lists on one line."""


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping(
    "tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))


def _header(cb: Codebook) -> str:
    lines = [
        f"# PersonaLab codebook for survey '{cb.survey}' (schema_version {SCHEMA_VERSION}).",
        "# Edit it by hand; PersonaLab checks it against each wave (validate_codebook).",
        "#   type: likert | single | multi | numeric | text | weight | id | date | meta",
        "#   role: segment (segmentation input) | profile (describe personas only) | ignore",
        "#   short: label for cards, charts and heat maps when the text is long (optional)",
        "#   scale: answers low -> high as {code, label}; data may hold either code or label",
        "#     (or the abbreviation in brackets at the end of a label: 'Strongly agree (SA)')",
        "#   reverse: true flips a reverse-keyed likert item (min + max - code)",
        "#   missing: answers that mean missing, with a reason (dont_know, refused, ...)",
        "#   grid: battery id (straight-lining is checked per grid)",
        "# See docs/design.md for every key.",
    ]
    if cb.notes:
        lines.append("# Check these drafts:")
        lines += [f"#   - {n}" for n in cb.notes]
    return "\n".join(lines) + "\n"


def save_codebook(cb: Codebook, path) -> Path:
    """Write a codebook as clean, stable, human-editable YAML.

    Keys come in schema order, scale entries one per line, and a comment header says how
    to edit. Saving the same codebook twice gives byte-identical files.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    body = yaml.dump(cb.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_header(cb) + body, encoding="utf-8")
    return path


#: Most nodes a YAML document may expand to once its aliases (``*name``) are followed. A
#: real codebook of 2,000 questions is ~100,000 nodes; a 1 KB "billion laughs" document
#: expands to billions, and would exhaust memory as soon as anything walks it.
MAX_YAML_NODES = 2_000_000


def read_yaml_file(path, *, what: str = "codebook", error=CodebookError):
    """Read a small YAML data file safely: ``(data, text)``.

    Safe against what a file from someone else can hold: it must be UTF-8 (a file saved as
    cp1252/Latin-1 is refused with the line and byte, not a traceback), only plain YAML
    (``yaml.safe_load``: no ``!!python`` tags), and its aliases may not expand past
    :data:`MAX_YAML_NODES` nodes (a "billion laughs" alias bomb is refused before it is
    built). Other readers of hand-edited YAML (theme codebooks) can use it too.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for messages ("codebook", "theme codebook").
    error : type
        The PersonaLabError subclass to raise.

    Raises
    ------
    error
        Naming the file, the line and the fix.
    """
    text = read_yaml_text(path, what=what, error=error)
    return load_yaml_text(text, file=short_path(path), what=what, error=error), text


def read_yaml_text(path, *, what: str = "codebook", error=CodebookError) -> str:
    """The text of a hand-edited YAML file, decoded as UTF-8 (a BOM is allowed).

    Raises ``error`` naming the file when it is missing or a folder, and the line, column
    and byte offset when it is not UTF-8 (a file saved as cp1252 / Latin-1), with the fix.
    """
    path = Path(path)
    src = short_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} file not found", file=src,
                    fix="check the path" + (", or draft one with `personalab codebook "
                                            "<export> -o codebook.yml`"
                                            if what == "codebook" else "")) from None
    except IsADirectoryError:
        raise error(f"the {what} path is a folder, not a file", file=src,
                    fix="give the path of the YAML file") from None
    return _decode_yaml_bytes(data, src, what, error)


def load_yaml_text(text: str, *, file=None, what: str = "codebook", error=CodebookError):
    """``yaml.safe_load`` that refuses alias bombs: aliases may not expand the document past
    :data:`MAX_YAML_NODES` nodes. Tags and syntax errors become ``error`` with the line."""
    return _safe_yaml(text, file, what, error)


def _decode_yaml_bytes(data: bytes, src, what, error) -> str:
    ext = Path(str(src)).suffix if src is not None and Path(str(src)).suffix else ".yml"
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        bad = data[e.start:e.start + 1]
        guess = ""
        try:
            ch = data[e.start:e.end].decode("cp1252")
            guess = f" (in Windows-1252 it would read {ch!r})"
        except UnicodeDecodeError:
            pass
        raise error(
            f"the {what} is not UTF-8 text: byte {bad!r} at byte offset {e.start} "
            f"(line {line}, column {col}){guess}; it was probably saved as Windows-1252 / "
            "Latin-1", file=src, row=line,
            fix="re-save the file as UTF-8 (in your editor: Save with encoding UTF-8; or "
                f"`iconv -f cp1252 -t utf-8 old{ext} > new{ext}`)") from None


def _safe_yaml(text: str, src, what, error):
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return None
        _check_expansion(root, src, what, error)
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.constructor.ConstructorError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        raise error(f"the {what} uses a YAML tag that is not plain data ({e.problem})",
                    file=src, row=line,
                    fix=f"remove the '!!python/...' or other '!' tag; a {what} holds "
                        "only plain values") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise error(f"the {what} is not valid YAML: {getattr(e, 'problem', e)}",
                    file=src, row=mark.line + 1 if mark is not None else None,
                    fix="fix the indentation or quoting on that line (labels with ':' "
                        "or '#' need quotes)") from None
    except RecursionError:
        raise error(f"the {what} is nested too deeply to be a {what}", file=src,
                    fix="check the file" + (": a codebook is a list of questions"
                                            if what == "codebook" else "")) from None


def _check_expansion(root, src, what, error) -> None:
    """Refuse documents whose aliases expand past MAX_YAML_NODES (sizes memoised per node,
    so a shared node is counted once per use without being walked again)."""
    size: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        kids = []
        if isinstance(node, yaml.SequenceNode):
            kids = node.value
        elif isinstance(node, yaml.MappingNode):
            kids = [n for kv in node.value for n in kv]
        if done:
            total = 1 + sum(size[id(k)] for k in kids)
            size[id(node)] = total
            if total > MAX_YAML_NODES:
                line = node.start_mark.line + 1
                raise error(
                    f"the {what} expands to more than {MAX_YAML_NODES:,} YAML nodes once its "
                    f"aliases ('*name') are followed (from line {line}): an alias bomb, not "
                    f"a {what}", file=src, row=line,
                    fix="remove the repeated '*' aliases (write the values out), or check "
                        "where the file came from") from None
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def load_codebook(path) -> Codebook:
    """Read a codebook YAML file (``yaml.safe_load`` only) and check its schema.

    Raises
    ------
    CodebookError
        The file is not UTF-8 (e.g. saved as cp1252; the line and byte are named), not
        valid YAML, uses tags such as ``!!python/object`` (refused: a codebook is data,
        never code), has aliases that expand past :data:`MAX_YAML_NODES` nodes (an alias
        bomb), or breaks the schema. The message names the file, the question id and the fix.
    """
    path = Path(path)
    d, text = read_yaml_file(path, what="codebook")
    try:
        return Codebook.from_dict(d, source=path)
    except CodebookError as e:
        if e.row is None and e.column is not None:
            # Point at the question's line so the researcher lands on it in the editor.
            e.row = _question_line(text, e.column)
            e.args = (e._format(),)
        raise


def _question_line(text: str, qid: str) -> int | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for k, v in root.value:
        if k.value == "questions" and isinstance(v, yaml.SequenceNode):
            for item in v.value:
                if isinstance(item, yaml.MappingNode):
                    for ik, iv in item.value:
                        if ik.value == "id" and str(iv.value) == str(qid):
                            return item.start_mark.line + 1
    return None


# --------------------------------------------------------------------------- value helpers
_WS = re.compile(r"\s+")


def _norm(v) -> str | None:
    """Comparison key of one cell: case- and space-insensitive; 5, 5.0 and '5' agree.

    ``None`` for blank cells. Curly apostrophes match straight ones ("Don’t know").
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).casefold()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    s = str(v).replace("\u2019", "'").replace("\u2018", "'").replace("\xa0", " ")
    s = _WS.sub(" ", s).strip().casefold()
    if not s:
        return None
    if s[0].isdigit() or s[0] in "+-.":
        try:
            f = float(s)
        except ValueError:
            return s
        if math.isfinite(f):
            return str(int(f)) if f.is_integer() else repr(f)
    return s


def _missing_reason(label) -> str | None:
    key = _norm(label)
    if key is None:
        return None
    key = key.rstrip(".!")
    # "Not applicable to me (I do not have a mental illness)", "N/A (not currently aware)"
    return _MISSING_LOOKUP.get(key) or _MISSING_LOOKUP.get(re.sub(r"\s*\([^()]*\)$", "", key))


def _factorize(s: pd.Series):
    """(codes, uniques) with -1 for NA; uniques as a Python list."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


# --------------------------------------------------------------------------- parsing
# The parser turns one question's raw column(s) into typed values plus the problems found.
# validate_codebook() keeps the problems; Survey.from_raw() keeps both. Work is done on the
# distinct values of a column (pd.factorize), then spread back with one take: that keeps a
# million-row wave fast however many rows repeat an answer.

@dataclass
class Issue:
    """One problem found when checking a codebook against a wave.

    Attributes
    ----------
    level : {'error', 'warning'}
    kind : str
        ``missing_column``, ``label_not_in_scale``, ``code_out_of_range``,
        ``unknown_option``, ``not_numeric``, ``out_of_range``, ``duplicate_id``,
        ``blank_id``, ``bad_weight``, ``all_missing``, ``bad_date``, ``unmentioned_column``;
        ``number_format`` / ``date_format`` (a number or date column whose convention a run
        refuses: mixed or undecidable decimal marks or day/month order, see
        :mod:`personalab.conventions`) and ``decode_error`` (bytes the loader read as
        U+FFFD, a warning).
    problem, fix : str
    column : str or None
    rows : list of int
        File line numbers (first 1,000) of the offending rows; for ``number_format`` and
        ``date_format`` the example rows the refusal names (up to 6).
    n_rows : int
        How many rows are affected in all.
    """

    level: str
    kind: str
    problem: str
    column: str | None = None
    rows: list = field(default_factory=list)
    fix: str | None = None
    n_rows: int = 0

    _CODEBOOK_KINDS = ("missing_column", "label_not_in_scale", "code_out_of_range",
                       "unknown_option")

    def to_error(self, file=None) -> InputError:
        """The exception this issue raises: CodebookError for codebook/data mismatches."""
        cls = CodebookError if self.kind in self._CODEBOOK_KINDS else InputError
        rows = self.rows if len(self.rows) != 1 else self.rows[0]
        return cls(self.problem, file=file, column=self.column, row=rows or None, fix=self.fix)


_MAX_ROWS_KEPT = 1000


@dataclass
class ValidationReport:
    """What :func:`validate_codebook` found: errors block a Survey, warnings do not."""

    issues: list[Issue] = field(default_factory=list)
    file: str | None = None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def of_kind(self, kind: str) -> list[Issue]:
        return [i for i in self.issues if i.kind == kind]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: level, kind, column, rows, n_rows, problem, fix."""
        cols = ["level", "kind", "column", "rows", "n_rows", "problem", "fix"]
        return pd.DataFrame([{c: getattr(i, c) for c in cols} for i in self.issues], columns=cols)

    def raise_if_errors(self) -> None:
        """Raise the first error (InputError or CodebookError), mentioning how many more."""
        errors = self.errors
        if not errors:
            return
        # A missing column explains the other problems of its question: report it first.
        errors.sort(key=lambda i: i.kind != "missing_column")
        first = errors[0]
        if len(errors) > 1:
            first = Issue(**{**first.__dict__, "problem": first.problem + f" (and {len(errors) - 1} "
                             "more problem(s): validate_codebook(codebook, raw).to_frame() lists all)"})
        raise first.to_error(self.file)

    def __str__(self) -> str:
        if not self.issues:
            return "Codebook fits the wave: no problems found."
        return "\n".join(f"[{i.level}] {i.column or '-'}: {i.problem}" for i in self.issues)


@dataclass
class _Parsed:
    """Typed values of one question plus the problems found."""

    values: dict          # output column name -> array/Series
    reasons: dict         # reason -> row positions (int ndarray) of explicit missing codes
    answered: np.ndarray  # bool per row: a substantive answer was given
    issues: list


class _Ctx:
    """What the parser needs from the wave: file rows for messages."""

    def __init__(self, raw):
        self.raw = raw
        self.n = len(raw.data)
        self.file_rows = _file_rows(raw)

    def rows(self, positions) -> list[int]:
        positions = np.asarray(positions, dtype=np.int64)[:_MAX_ROWS_KEPT]
        return self.file_rows[positions].tolist()


def _file_rows(raw) -> np.ndarray:
    """File line of every data row (the loader's row_numbers when blank lines were skipped)."""
    rn = getattr(raw, "row_numbers", None)
    if rn is not None:
        return np.asarray(rn, dtype=np.int64)
    return np.arange(len(raw.data), dtype=np.int64) + raw.header_rows + 1


def _issue(ctx, level, kind, problem, column, positions=(), fix=None) -> Issue:
    positions = np.asarray(positions, dtype=np.int64)
    return Issue(level, kind, problem, column, ctx.rows(positions), fix, int(len(positions)))


def _missing_keys(q: Question) -> dict:
    keys = {}
    for m in q.missing:
        for k in (_norm(m.code), _norm(m.label)):
            if k is not None:
                keys[k] = m.reason
    return keys


def _show(values, k=5) -> str:
    shown = ", ".join(repr(v) for v in values[:k])
    return shown + (f" (+{len(values) - k} more)" if len(values) > k else "")


def _classify_uniques(q: Question, uniques, target: dict, mkeys: dict):
    """Map each distinct cell to (value index or -1, reason or None, bad flag)."""
    vidx = np.full(len(uniques) + 1, -1, dtype=np.int64)   # last slot: NA cells
    reason = [None] * (len(uniques) + 1)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for j, u in enumerate(uniques):
        k = _norm(u)
        if k is None:
            continue
        if k in target:
            vidx[j] = target[k]
        elif k in mkeys:
            reason[j] = mkeys[k]
        else:
            bad[j] = True
    return vidx, reason, bad


def _rows_with(codes, js) -> np.ndarray:
    """Row positions whose factorize code is in ``js`` (-1 = NA cells), via a lookup table."""
    lut = np.zeros(int(codes.max(initial=-1)) + 2, dtype=bool)
    lut[np.asarray(js, dtype=np.int64)] = True
    return np.flatnonzero(lut[codes])


def _reasons_from(codes, reason_of_unique) -> dict:
    out = {}
    which = {}
    for j, r in enumerate(reason_of_unique):
        if r is not None:
            which.setdefault(r, []).append(j if j < len(reason_of_unique) - 1 else -1)
    for r, js in which.items():
        out[r] = _rows_with(codes, js)
    return out


def _parse_scaled(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    """likert and single-with-scale: returns scale positions (int, -1 = no answer)."""
    target = {}
    for i, o in enumerate(q.scale):
        for k in (_norm(o.code), _norm(o.label)):
            target.setdefault(k, i)
    for i, o in enumerate(q.scale):      # "Strongly agree (SA)" also reads SA
        m = _ABBREV_LABEL.match(str(o.label))
        if m:
            target.setdefault(_norm(m.group(1)), i)
    codes, uniques = _factorize(s)
    vidx, reason, bad = _classify_uniques(q, uniques, target, _missing_keys(q))
    pos = vidx[codes]
    issues = []
    if bad.any():
        bad_u = [uniques[j] for j in np.flatnonzero(bad[:-1])]
        numeric = [u for u in bad_u if _is_number(u) or _looks_numeric(u)]
        labels = [u for u in bad_u if u not in numeric]
        scale_txt = ", ".join(f"{o.code}={o.label}" for o in q.scale)
        for group, kind in ((labels, "label_not_in_scale"), (numeric, "code_out_of_range")):
            if not group:
                continue
            js = [j for j in np.flatnonzero(bad[:-1]) if uniques[j] in group]
            rows = _rows_with(codes, js)
            if kind == "label_not_in_scale":
                problem = (f"answer {_show(group)} is not in the scale of {q.id!r} "
                           f"({scale_txt}) in {len(rows)} row(s)")
                fix = ("add the label to the question's 'scale' (or to 'missing' if it means "
                       "no answer), or correct the data")
            else:
                codes_txt = ", ".join(str(c) for c in q.scale_codes)
                problem = (f"code {_show(group)} is out of range for {q.id!r} "
                           f"(scale codes {codes_txt}) in {len(rows)} row(s)")
                fix = ("add the code to 'scale' or 'missing' (e.g. 99 = Don't know), or check "
                       "that the column holds this question")
            issues.append(_issue(ctx, "error", kind, problem, q.id, rows, fix))
    answered = pos >= 0
    return _Parsed({q.id: pos}, _reasons_from(codes, reason), answered, issues)


#: a scale label that carries the abbreviation the export uses: "Strongly agree (SA)"
_ABBREV_LABEL = re.compile(r"^.*\S\s+\(([A-Za-z]{1,3}|[A-Za-z]/[A-Za-z])\)$")


def _looks_numeric(u) -> bool:
    k = _norm(u)
    if k is None:
        return False
    try:
        float(k)
        return True
    except ValueError:
        return False


def _parse_single_free(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    """single without a scale: categories are the answers seen (stripped)."""
    codes, uniques = _factorize(s)
    mkeys = _missing_keys(q)
    labels, lab_index = [], {}
    vidx = np.full(len(uniques) + 1, -1, dtype=np.int64)
    reason = [None] * (len(uniques) + 1)
    for j, u in enumerate(uniques):
        k = _norm(u)
        if k is None:
            continue
        if k in mkeys:
            reason[j] = mkeys[k]
            continue
        text = _WS.sub(" ", str(_clean_code(u))).strip()
        if k not in lab_index:
            lab_index[k] = len(labels)
            labels.append(text)
        vidx[j] = lab_index[k]
    order = sorted(range(len(labels)), key=lambda i: _natural_key(labels[i]))
    remap = np.empty(len(labels) + 1, dtype=np.int64)
    remap[-1] = -1
    remap[np.array(order, dtype=np.int64)] = np.arange(len(labels))
    pos = remap[vidx[codes]] if labels else vidx[codes]
    p = _Parsed({q.id: pos}, _reasons_from(codes, reason), pos >= 0, [])
    p.categories = [labels[i] for i in order]
    return p


_LOW_END = re.compile(r"^(under|less than|below|up to|fewer than|younger than|<)")


def _natural_key(text: str):
    """Sort key: numbers by value ("$25k" < "$100k"), "Under 25k" before "25k to 49k"."""
    low = str(text).replace(",", "").casefold().strip()
    parts = re.split(r"(\d+(?:\.\d+)?)", low)
    return [(0 if _LOW_END.match(low) else 1,)] + [
        (0, float(p), "") if re.fullmatch(r"\d+(?:\.\d+)?", p) else (1, 0.0, p)
        for p in parts if p]


_NEGATIVE_TICKS = {"0", "false", "no", "not selected", "unchecked", "not checked", "-"}


def _parse_multi_wide(q: Question, df: pd.DataFrame, ctx: _Ctx) -> _Parsed:
    n = ctx.n
    chosen = np.zeros((n, len(q.columns)), dtype=bool)
    seen = np.zeros(n, dtype=bool)
    mkeys = _missing_keys(q)
    reasons = {}
    for c, col in enumerate(q.columns):
        codes, uniques = _factorize(df[col])
        is_chosen = np.zeros(len(uniques) + 1, dtype=bool)
        is_seen = np.zeros(len(uniques) + 1, dtype=bool)
        reason = [None] * (len(uniques) + 1)
        for j, u in enumerate(uniques):
            k = _norm(u)
            if k is None:
                continue
            if k in mkeys:
                reason[j] = mkeys[k]
                continue
            is_seen[j] = True
            is_chosen[j] = k not in _NEGATIVE_TICKS
        chosen[:, c] = is_chosen[codes]
        seen |= is_seen[codes]
        for r, rows in _reasons_from(codes, reason).items():
            reasons[r] = np.union1d(reasons.get(r, np.array([], dtype=np.int64)), rows)
    return _multi_result(q, chosen, seen, reasons, [])


def _multi_result(q, chosen, answered, reasons, issues) -> _Parsed:
    # A respondent who ticked nothing cannot be told apart from one who skipped the
    # question, so their indicators are <NA> (unknown), not 0. fillna(0) if you know better.
    values = {}
    for c, opt in enumerate(q.multi_options):
        arr = pd.array(chosen[:, c].astype(np.int8), dtype="Int8")
        arr[~answered] = pd.NA
        values[f"{q.id}:{opt}"] = arr
    # A missing code in any option column makes the whole question missing for that row.
    for rows in reasons.values():
        answered[rows] = False
        for v in values.values():
            v[rows] = pd.NA
    return _Parsed(values, reasons, answered, issues)


def _split_options(text: str, sep: str, okeys: dict):
    """Split a joined answer into option indices; options may contain the separator."""
    parts = text.split(sep)      # unstripped, so "Chat, live" rejoins exactly
    found, unknown, i = [], [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):   # longest run of parts that is one option
            k = _norm(sep.join(parts[i:j]))
            if k in okeys:
                found.append(okeys[k])
                i = j
                break
        else:
            if _norm(parts[i]) is not None:
                unknown.append(parts[i].strip())
            i += 1
    return found, unknown


def _parse_multi_joined(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    okeys = {_norm(o): i for i, o in enumerate(q.options)}
    mkeys = _missing_keys(q)
    codes, uniques = _factorize(s)
    u_chosen = np.zeros((len(uniques) + 1, len(q.options)), dtype=bool)
    u_answered = np.zeros(len(uniques) + 1, dtype=bool)
    reason = [None] * (len(uniques) + 1)
    bad_js, bad_tokens = [], []
    for j, u in enumerate(uniques):
        k = _norm(u)
        if k is None:
            continue
        if k in mkeys:
            reason[j] = mkeys[k]
            continue
        found, unknown = _split_options(str(_clean_code(u)), q.separator or ",", okeys)
        unknown = [t for t in unknown if _norm(t) not in mkeys]
        u_chosen[j, found] = True
        u_answered[j] = bool(found)
        if unknown:
            bad_js.append(j)
            bad_tokens += [t for t in unknown if t not in bad_tokens]
    issues = []
    if bad_js:
        rows = _rows_with(codes, bad_js)
        issues.append(_issue(
            ctx, "error", "unknown_option",
            f"answer(s) {_show(bad_tokens)} are not among the options of {q.id!r} "
            f"({', '.join(q.options)}) in {len(rows)} row(s)", q.id, rows,
            f"add them to 'options', or check the separator ({q.separator!r})"))
    return _multi_result(q, u_chosen[codes], u_answered[codes], _reasons_from(codes, reason),
                         issues)


def _to_float(s: pd.Series, q: Question | None, ctx: _Ctx, column: str, kind="not_numeric"):
    """Float values of a column; missing codes -> NaN with reason; junk -> issue."""
    mkeys = _missing_keys(q) if q is not None else {}
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        vals = s.to_numpy(dtype=float, na_value=np.nan).copy()   # CoW: never write into raw
        reasons = {}
        num_missing = {}
        for m in (q.missing if q is not None else []):
            if _is_number(m.code):
                num_missing.setdefault(m.reason, []).append(float(m.code))
        for r, cs in num_missing.items():
            rows = np.flatnonzero(np.isin(vals, cs))
            if len(rows):
                reasons[r] = rows
                vals[rows] = np.nan
        return vals, reasons, []
    codes, uniques = _factorize(s)
    u_text = pd.Series([str(u) if u is not None else None for u in uniques], dtype=object)
    # Separators were settled per column before (_read_conventions): a comma left here is
    # in no number ("1,5e3" is not 15000), so nothing is stripped.
    u_vals = pd.to_numeric(u_text.str.strip(), errors="coerce").to_numpy(dtype=float).copy()
    reason = [None] * (len(uniques) + 1)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for j in np.flatnonzero(np.isnan(u_vals)):
        k = _norm(uniques[j])
        if k is None:
            continue
        if k in mkeys:
            reason[j] = mkeys[k]
        else:
            bad[j] = True
    # numeric missing codes (e.g. 99 = Don't know) parse as numbers: catch them too.
    for j in np.flatnonzero(~np.isnan(u_vals)):
        k = _norm(uniques[j])
        if k in mkeys:
            reason[j] = mkeys[k]
            u_vals[j] = np.nan
    vals = np.append(u_vals, np.nan)[codes]
    issues = []
    if bad.any():
        js = np.flatnonzero(bad[:-1])
        rows = _rows_with(codes, js)
        issues.append(_issue(
            ctx, "error", kind,
            f"{_show([uniques[j] for j in js])} in {column!r} is not a number "
            f"({len(rows)} row(s))", column, rows,
            "correct the value, declare it under 'missing' (e.g. {code: 'n/a', label: n/a, "
            "reason: not_applicable}), or change the question's type"))
    return vals, _reasons_from(codes, reason), issues


def _parse_numeric(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    vals, reasons, issues = _to_float(s, q, ctx, q.id)
    for bound, name, test in ((q.min, "min", lambda v, b: v < b), (q.max, "max", lambda v, b: v > b)):
        if bound is None:
            continue
        with np.errstate(invalid="ignore"):
            rows = np.flatnonzero(test(vals, bound))
        if len(rows):
            shown = _show(sorted(set(vals[rows[:50]].tolist())))
            issues.append(_issue(
                ctx, "error", "out_of_range",
                f"value(s) {shown} in {q.id!r} are outside its valid range "
                f"[{q.min}, {q.max}] ({len(rows)} row(s))", q.id, rows,
                f"correct the data, declare the code under 'missing', or widen '{name}'"))
    return _Parsed({q.id: vals}, reasons, ~np.isnan(vals), issues)


def _parse_text(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    text = s.astype("str") if not pd.api.types.is_string_dtype(s.dtype) else s
    text = text.str.strip()
    text = text.where(text.str.len() > 0)
    mkeys = _missing_keys(q)
    reasons = {}
    if mkeys:
        key = text.str.casefold().str.replace("\u2019", "'", regex=False)
        for r in set(mkeys.values()):
            labels = [k for k, rr in mkeys.items() if rr == r]
            rows = np.flatnonzero(key.isin(labels).to_numpy(dtype=bool, na_value=False))
            if len(rows):
                reasons[r] = rows
        if reasons:
            all_rows = np.concatenate(list(reasons.values()))
            drop = np.zeros(len(text), dtype=bool)
            drop[all_rows] = True
            text = text.mask(drop)
    text = text.reset_index(drop=True)
    return _Parsed({q.id: text}, reasons, text.notna().to_numpy(), [])


def _parse_date(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        vals = s.reset_index(drop=True)
    else:
        # Timestamps are mostly distinct, so unlike other questions this is not worth
        # factorizing (a million distinct values as Python objects cost seconds): the whole
        # column is stripped and parsed at once, in Arrow and pandas' C parser.
        raw = s.reset_index(drop=True)
        u = raw.astype("str").str.strip()
        u = u.where(u.str.len() > 0)
        reasons = {}
        mkeys = _missing_keys(q)
        if mkeys:               # "Not Stated": a declared missing code, not a bad date
            key = u.str.casefold().str.replace("\u2019", "'", regex=False)
            for r in set(mkeys.values()):
                hit = key.isin([k for k, rr in mkeys.items() if rr == r]).to_numpy(
                    dtype=bool, na_value=False)
                if hit.any():
                    reasons[r] = np.flatnonzero(hit)
                    u = u.mask(hit)
        parsed = _to_datetime(u)
        vals = pd.Series(parsed.to_numpy(dtype="datetime64[ns]"))
        bad = (u.notna() & parsed.isna()).to_numpy()
        issues = []
        if bad.any():
            rows = np.flatnonzero(bad)
            issues.append(_issue(ctx, "warning", "bad_date",
                                 f"{_show(list(pd.unique(raw.to_numpy()[rows])))} in {q.id!r} is "
                                 f"not a date ({len(rows)} row(s)); read as missing", q.id, rows,
                                 "correct the value, declare it under 'missing', or change the "
                                 "question's type to text"))
        return _Parsed({q.id: vals}, reasons, vals.notna().to_numpy(), issues)
    return _Parsed({q.id: vals}, {}, vals.notna().to_numpy(), [])


def _to_datetime(u: pd.Series) -> pd.Series:
    """Parse strings to naive datetime64[ns]; offsets (``Z``, ``+01:00``) become UTC."""
    # One format guessed from the first value parses fast; the answers that format leaves
    # unparsed (mixed formats in one column) are parsed again one by one.
    def parse(x, **kw):
        try:
            with warnings.catch_warnings():     # "could not infer format": parsed one by one
                warnings.simplefilter("ignore", UserWarning)
                out = pd.to_datetime(x, errors="coerce", utc=True, **kw)
        except (ValueError, TypeError):
            return pd.Series(pd.NaT, index=x.index, dtype="datetime64[ns]")
        return out.dt.tz_convert(None).astype("datetime64[ns]")

    parsed = parse(u)
    left = (u.notna() & parsed.isna()).to_numpy()
    if left.any():
        parsed[left] = parse(u[left], format="mixed").to_numpy()
    return parsed


def _parse_asread(q: Question, s: pd.Series, ctx: _Ctx) -> _Parsed:
    s = s.reset_index(drop=True)
    answered = s.notna().to_numpy().copy()
    if pd.api.types.is_string_dtype(s.dtype):
        answered &= (s.str.strip().str.len() > 0).to_numpy(dtype=bool, na_value=False)
    return _Parsed({q.id: s}, {}, answered, [])


def _parse_question(q: Question, raw, ctx: _Ctx) -> _Parsed:
    data = raw.data
    if q.type == "multi":
        if q.columns:
            return _parse_multi_wide(q, data, ctx)
        return _parse_multi_joined(q, data[q.id], ctx)
    s = data[q.id]
    if q.type == "likert" or (q.type == "single" and q.scale):
        return _parse_scaled(q, s, ctx)
    if q.type == "single":
        return _parse_single_free(q, s, ctx)
    if q.type in ("numeric", "weight"):
        return _parse_numeric(q, s, ctx)
    if q.type == "text":
        return _parse_text(q, s, ctx)
    if q.type == "date":
        return _parse_date(q, s, ctx)
    return _parse_asread(q, s, ctx)


def _id_strings(s: pd.Series) -> pd.Series:
    """Respondent ids as strings: 1001.0 -> '1001', stripped."""
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy()
        whole = np.isfinite(vals) & (np.mod(vals, 1) == 0)
        out = pd.Series(np.where(whole, np.nan_to_num(vals).astype(np.int64).astype(str),
                                 vals.astype(str)), dtype="str")
        return out.where(~np.isnan(vals))
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.astype("str").reset_index(drop=True)
    out = s.astype("str").str.strip().reset_index(drop=True)
    out = out.where(out.str.len() > 0)
    # ids typed as 1001.0 in an object column (xlsx) read back as '1001'
    return out.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def _check_ids(ids: pd.Series, column: str, ctx: _Ctx) -> list[Issue]:
    issues = []
    blank = np.flatnonzero(ids.isna().to_numpy())
    if len(blank):
        issues.append(_issue(ctx, "error", "blank_id",
                             f"{len(blank)} row(s) have no respondent id in {column!r}", column,
                             blank, "fill in the id, or remove 'respondent_id' from the codebook "
                                    "to use row-based ids"))
    dup = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = ids.iloc[rows[0]]
        same = np.flatnonzero((ids == first).to_numpy(dtype=bool, na_value=False))
        n_ids = ids.iloc[rows].nunique()
        issues.append(_issue(
            ctx, "error", "duplicate_id",
            f"{n_ids} respondent id(s) appear more than once, e.g. {first!r} on rows "
            f"{', '.join(str(r) for r in ctx.rows(same)[:5])} ({len(rows)} row(s) in all)",
            column, rows,
            "remove the repeated responses from the export, or pass duplicate_ids='suffix' "
            "to make ids unique (quality flags them as duplicate_id)"))
    return issues


def _check_weight(cb: Codebook, raw, ctx: _Ctx):
    col = cb.weight
    vals, reasons, issues = _to_float(raw.data[col], None, ctx, col, kind="bad_weight")
    for i in issues:
        i.fix = "correct the weight (a non-negative number), or remove 'weight' from the codebook"
    blank = np.flatnonzero(np.isnan(vals))
    already = set(issues[0].rows) if issues else set()
    blank = np.array([b for b in blank if ctx.file_rows[b] not in already], dtype=np.int64)
    if len(blank):
        issues.append(_issue(ctx, "error", "bad_weight",
                             f"{len(blank)} row(s) have no weight in {col!r}", col, blank,
                             "fill in the weight, or remove 'weight' from the codebook"))
    with np.errstate(invalid="ignore"):
        neg = np.flatnonzero(vals < 0)
    if len(neg):
        issues.append(_issue(ctx, "error", "bad_weight",
                             f"negative weight(s) {_show(sorted(set(vals[neg[:50]].tolist())))} in "
                             f"{col!r} ({len(neg)} row(s))", col, neg,
                             "weights must be >= 0; check the weighting step"))
    return vals, issues


#: waves with at least this many cells (rows x questions) are parsed on several threads
_PARALLEL_CELLS = 2_000_000


def _read_conventions(cb: Codebook, raw):
    """The wave with its number and date questions in one convention per column, as a run
    reads them (:func:`personalab.conventions.normalize_raw`), and the columns it refuses
    as issues.

    A refused column (mixed or undecidable decimal marks or day/month order, digits no
    convention reads, a value against a given option) becomes an error of kind
    ``number_format`` or ``date_format`` with the example rows and the fix the refusal
    names; its values are left as read and the other columns are decided without it, so
    every refused column is reported, not just the first.

    Raises
    ------
    InputError
        An option that is not a mark at all (``decimal=';'``): the caller's, not the data's.
    """
    from types import SimpleNamespace

    from personalab.conventions import normalize_raw

    dates = {q.id for q in cb.questions if q.type == "date"}
    refused, issues = set(), []
    while True:
        view = SimpleNamespace(questions=[q for q in cb.questions if q.id not in refused],
                               weight=None if cb.weight in refused else cb.weight)
        try:
            return normalize_raw(raw, view), issues
        except InputError as e:
            if e.column is None or e.column in refused:
                raise
            refused.add(e.column)
            rows = e.row if isinstance(e.row, list) else ([] if e.row is None else [e.row])
            issues.append(Issue("error", "date_format" if e.column in dates else "number_format",
                                e.problem, e.column, [int(r) for r in rows], e.fix, len(rows)))


def _decode_issues(raw) -> list[Issue]:
    """One warning per column holding bytes the loader could not decode (read as U+FFFD)."""
    from personalab.loaders import DECODE_FIX

    errs = getattr(raw, "decode_errors", None)
    if errs is None or not len(errs):
        return []
    out = []
    enc = getattr(raw, "encoding", None) or "the file's encoding"
    cols = errs["column"].astype(object).where(errs["column"].notna(), None)
    for col in pd.unique(cols):
        sel = errs[cols.isna()] if col is None else errs[cols == col]
        rows = sorted({int(r) for r in sel["file_row"].dropna()})
        first = sel.iloc[0]
        where = f"in {col!r}" if col is not None else "in a field whose column could not be located"
        out.append(Issue(
            "warning", "decode_error",
            f"{len(sel)} byte(s) {where} are not valid {enc} and were read as U+FFFD (the "
            f"replacement character), e.g. byte {first['byte']} at byte offset "
            f"{int(first['byte_offset'])} (line {int(first['line'])}); the answer(s) read "
            "without it", col, rows[:_MAX_ROWS_KEPT], DECODE_FIX, len(rows)))
    return out


def _parse_wave(cb: Codebook, raw):
    """Parse every question. Returns (parsed by question id, ids, weights, report).

    Numbers and dates are first put in one convention per column (:func:`_read_conventions`):
    this is the only place a wave is normalised, for validation and typing alike.
    """
    src = short_path(raw.path) if raw.path is not None else None
    report = ValidationReport(file=src)
    raw, report.issues = _read_conventions(cb, raw)
    report.issues += _decode_issues(raw)
    ctx = _Ctx(raw)
    data_cols = list(raw.data.columns)
    present = set(data_cols)
    parsed = {}
    missing_of = {q.id: [c for c in q.data_columns if c not in present] for q in cb.questions}
    readable = [q for q in cb.questions if not missing_of[q.id]]
    # Questions are independent; Arrow's string kernels, numpy's take and pandas' date parser
    # release the GIL, so threads parse a wide wave ~1.6x faster on two cores.
    if ctx.n * len(readable) >= _PARALLEL_CELLS and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
            done = dict(zip([q.id for q in readable],
                            pool.map(lambda q: _parse_question(q, raw, ctx), readable)))
    else:
        done = {q.id: _parse_question(q, raw, ctx) for q in readable}
    for q in cb.questions:
        missing_cols = missing_of[q.id]
        if missing_cols:
            for c in missing_cols:
                close = _close_columns(c, data_cols)
                report.issues.append(Issue(
                    "error", "missing_column",
                    f"codebook question {q.id!r} reads column {c!r}, which is not in the data",
                    c, [], (f"the closest columns are {', '.join(map(repr, close))}; rename it in "
                            "the codebook" if close else
                            "check the export, or delete the question from the codebook")))
            continue
        p = done[q.id]
        report.issues += p.issues
        if ctx.n and not p.answered.any():
            level = "warning" if q.role == "ignore" else "error"
            report.issues.append(Issue(
                level, "all_missing", f"every answer to {q.id!r} is missing", q.id, [],
                "check that the export holds this question, or set its role to 'ignore'",
                ctx.n))
        parsed[q.id] = p
    ids = None
    for key, what in ((cb.respondent_id, "respondent_id"), (cb.weight, "weight")):
        if key is not None and key not in present:
            close = _close_columns(key, data_cols)
            report.issues.append(Issue(
                "error", "missing_column", f"the codebook's {what} column {key!r} is not in the data",
                key, [], (f"the closest columns are {', '.join(map(repr, close))}"
                          if close else f"fix '{what}:' in the codebook or delete it")))
    if cb.respondent_id is not None and cb.respondent_id in present:
        ids = _id_strings(raw.data[cb.respondent_id])
        report.issues += _check_ids(ids, cb.respondent_id, ctx)
    weights = None
    if cb.weight is not None and cb.weight in present:
        weights, w_issues = _check_weight(cb, raw, ctx)
        report.issues += w_issues
    mentioned = {c for q in cb.questions for c in q.data_columns}
    mentioned |= {cb.respondent_id, cb.weight}
    for c in data_cols:
        if c not in mentioned:
            report.issues.append(Issue(
                "warning", "unmentioned_column", f"column {c!r} is not in the codebook", c, [],
                "add it to the codebook (role: ignore if it is not needed) to silence this"))
    # A column whose convention was refused holds its values as written: "not a number",
    # "out of range" or "all missing" there would only repeat that refusal in other words.
    refused = {i.column for i in report.issues if i.kind in ("number_format", "date_format")}
    if refused:
        report.issues = [i for i in report.issues if i.column not in refused or i.kind not in
                         ("not_numeric", "out_of_range", "bad_weight", "bad_date",
                          "all_missing")]
    return parsed, ids, weights, report


def _close_columns(name: str, columns: list[str]) -> list[str]:
    """Columns a researcher may have meant: same name in another case, a shared stem,
    or a close spelling."""
    low = str(name).casefold()
    out = [c for c in columns if str(c).casefold() == low]
    out += [c for c in columns if c not in out and len(str(c)) >= 2
            and (low.startswith(str(c).casefold()) or str(c).casefold().startswith(low))]
    out += [c for c in difflib.get_close_matches(str(name), [str(c) for c in columns], n=3,
                                                 cutoff=0.6) if c not in out]
    return out[:3]


def validate_codebook(cb: Codebook, raw, *, raise_errors: bool = False) -> ValidationReport:
    """Check a codebook against a wave: columns, labels, codes, ids, weights, ranges.

    Parameters
    ----------
    cb : Codebook
    raw : RawWave
    raise_errors : bool, default False
        Raise the first error (``CodebookError`` for codebook/data mismatches, otherwise
        ``InputError``) instead of returning the report.

    Returns
    -------
    ValidationReport
        Errors (missing columns, labels not in a scale, out-of-range codes, duplicate or
        blank ids, bad weights, values outside min/max, all-missing columns, number and
        date columns whose convention cannot be decided) and warnings (columns the codebook
        does not mention, unparsable dates, all-missing ignored columns, bytes the loader
        could not decode). Every issue names the column and the file rows.

    Values are read exactly as :meth:`Survey.from_raw` reads them: numbers and dates in
    one convention per column (:func:`personalab.conventions.normalize_raw`, with the
    ``decimal``/``thousands``/``dayfirst`` options given to ``load_export``), so a wave
    this reports as fitting is typed without a surprise, and one a run refuses is refused
    here with the same rows and fix.

    Raises
    ------
    CodebookError, InputError
        With ``raise_errors=True``, the first error. Always: an option given to
        ``load_export`` that is not a mark at all (``decimal=';'``).
    """
    _, _, _, report = _parse_wave(cb, raw)
    if raise_errors:
        report.raise_if_errors()
    return report


# --------------------------------------------------------------------------- inference
# Known answer scales, low -> high. They order a column's answers when all of them fall in
# one (the shortest that holds every answer wins). A point of the template that nobody chose
# is kept on the drafted scale unless the answers next to it were chosen often enough to show
# it was never offered (:func:`_offered_points`): OSMI's "Do you work remotely?" offered
# Never/Sometimes/Always (1433 answers), and a 5-point frequency scale made cards read "of 5".
_LIKERT_TEMPLATES = [
    ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"],
    ["Strongly disagree", "Disagree", "Agree", "Strongly agree"],
    ["Strongly disagree", "Somewhat disagree", "Neither agree nor disagree", "Somewhat agree",
     "Strongly agree"],
    ["Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
     "Somewhat agree", "Agree", "Strongly agree"],
    ["Strongly disagree", "Disagree", "Slightly disagree", "Slightly agree", "Agree",
     "Strongly agree"],
    ["Very dissatisfied", "Dissatisfied", "Neither satisfied nor dissatisfied", "Satisfied",
     "Very satisfied"],
    ["Very dissatisfied", "Somewhat dissatisfied", "Neither satisfied nor dissatisfied",
     "Somewhat satisfied", "Very satisfied"],
    ["Very dissatisfied", "Dissatisfied", "Somewhat dissatisfied",
     "Neither satisfied nor dissatisfied", "Somewhat satisfied", "Satisfied", "Very satisfied"],
    ["Extremely dissatisfied", "Moderately dissatisfied", "Slightly dissatisfied",
     "Neither satisfied nor dissatisfied", "Slightly satisfied", "Moderately satisfied",
     "Extremely satisfied"],
    ["Not at all satisfied", "Slightly satisfied", "Moderately satisfied", "Very satisfied",
     "Extremely satisfied"],
    ["Very unlikely", "Unlikely", "Neither likely nor unlikely", "Likely", "Very likely"],
    ["Very unlikely", "Somewhat unlikely", "Neither likely nor unlikely", "Somewhat likely",
     "Very likely"],
    ["Extremely unlikely", "Somewhat unlikely", "Neither likely nor unlikely", "Somewhat likely",
     "Extremely likely"],
    ["Not at all likely", "Slightly likely", "Moderately likely", "Very likely",
     "Extremely likely"],
    ["Never", "Rarely", "Sometimes", "Often", "Always"],
    ["Never", "Rarely", "Sometimes", "Very often", "Always"],
    ["Never", "Sometimes", "About half the time", "Most of the time", "Always"],
    ["Never", "Rarely", "Occasionally", "Frequently", "Very frequently"],
    ["Not at all important", "Slightly important", "Moderately important", "Very important",
     "Extremely important"],
    ["Not important", "Slightly important", "Moderately important", "Very important",
     "Extremely important"],
    ["Very unimportant", "Unimportant", "Neither important nor unimportant", "Important",
     "Very important"],
    ["Not at all important", "Not very important", "Somewhat important", "Very important"],
    ["Very poor", "Poor", "Fair", "Good", "Excellent"],
    ["Poor", "Fair", "Good", "Very good", "Excellent"],
]
_POLES = [("agree", "disagree"), ("satisfied", "dissatisfied"), ("satisfied", "unsatisfied"),
          ("likely", "unlikely"), ("important", "unimportant"), ("helpful", "unhelpful"),
          ("easy", "difficult"), ("useful", "useless"), ("happy", "unhappy"),
          ("comfortable", "uncomfortable"), ("favorable", "unfavorable"),
          ("favourable", "unfavourable"), ("confident", "unconfident"),
          ("interested", "uninterested"), ("good", "bad"), ("conservative", "liberal")]
_INTENSITY = {"extremely": 3, "completely": 3, "totally": 3, "strongly": 2, "very": 2,
              "mostly": 1.5, "moderately": 1.25, "quite": 1.25, "fairly": 1, "somewhat": 0.5,
              "slightly": 0.5, "mildly": 0.5, "partly": 0.5}
_DEMOGRAPHIC = {"age", "gender", "sex", "income", "region", "education", "educ", "country",
                "state",
                "city", "ethnicity", "race", "occupation", "employment", "marital", "household",
                "zip", "postcode", "province", "language", "religion",
                "nationality", "dwelling", "tenure",
                # Hispanic origin, asked apart from race (a panel's "hispanic" codes 1..16);
                # not "latino", a music genre rated in the Young People Survey
                "hispanic"}
#: wording that says who someone is, where they live, how long they have worked or what
#: they study (Young People Survey "Left - right handed", "Village - town", "Only child",
#: "House - block of flats", "Number of siblings"; TAFE "Overall Length of Service at
#: Institute (in years)"; Google Forms "select the semester in which you are studying").
#: Where and how someone works (OSMI: "Are you self-employed?", "How many employees does
#: your company or organization have?", "Is your employer primarily a tech
#: company/organization?", "Is your primary role within your company related to tech/IT?",
#: "Which of the following best describes your work position?") describes them too.
#: Read in a wording of up to 14 words only, so a statement that mentions "length of
#: service" or "the type of housing" is not taken for a demographic.
_DEMOGRAPHIC_PHRASE = re.compile(r"how old|where do you live|describe yourself|"
                                 r"identify as|born in|highest level|\bonly child\b|"
                                 r"\b(?:left|right)[- ]handed\b|\bhandedness\b|"
                                 r"\bvillage - town\b|\burban or rural\b|"
                                 r"\bnumber of siblings\b|\bhow many siblings\b|"
                                 r"\bblock of flats\b|\btype of (?:home|housing|house)\b|"
                                 r"\b(?:length|years) of service\b|"
                                 r"\byears (?:at|with|in) (?:the |this |your )?(?:company|"
                                 r"organi[sz]ation|firm|business)\b|"
                                 r"\bhow many (?:people|employees|staff) report to you\b|"
                                 r"\bhow long have you (?:worked|been employed)\b|"
                                 r"\bsemester (?:in which|that) you (?:are|were)\b|"
                                 r"\b(?:which|what) (?:semester|year of study) (?:are|were) "
                                 r"you (?:in|studying|enrolled)\b|"
                                 r"\b(?:are|were) you self[- ]employed\b|"
                                 r"\bhow many (?:employees|people|staff|workers) (?:does|did) "
                                 r"your (?:company|organi[sz]ation|employer|business|firm)"
                                 r"(?: or (?:company|organi[sz]ation))? (?:have|employ)\b|"
                                 r"\b(?:is|was) your (?:current )?employer (?:primarily |mainly "
                                 r"|mostly )?an? [\w -]{0,30}?(?:company|organi[sz]ation|"
                                 r"business|firm|agency|institution)(?:\s*/\s*\w+)?\s*\??$|"
                                 r"\byour (?:primary |main )?role (?:within|in|at) your "
                                 r"(?:company|organi[sz]ation|employer)\b|"
                                 r"\bbest describes? your (?:current )?(?:work |job )?"
                                 r"(?:position|role|job|occupation)\b")
#: A whole short header (up to 4 words, block prefix "Classification. " aside) that names
#: where someone works, their grade or post, how they left, what they study or where they
#: live: the Queensland exit surveys' "Institute", "WorkArea", "Classification",
#: "Position", "Business Unit", "SeparationType"; Google Forms' "Place of Residence";
#: a panel's "political_party". Matched on the header's words only ("My position was
#: challenging" is no header of a role), and a rating scale under such a header
#: ("Satisfaction. Position": Agree ... Disagree) stays an item (:func:`_infer_column`).
_ROLE_HEADER = re.compile(
    r"^(?:(?:current |your )?(?:institute|campus|faculty|work area|business unit|work unit|"
    r"organi[sz]ation(?:al)? unit|position|job title|classification|separation type|"
    r"type of separation|semester|year of study|place of residence|residence|"
    r"political party|party (?:id|identification|affiliation)|"
    # HR, patient and course surveys: where someone works, their level, what they study
    r"department|division|directorate|team|site|location|office|ward|clinic|"
    r"job level|job grade|grade|pay grade|major|programme|program|course))$")
_COUNT_WORDS = {"count", "number", "num", "many", "children", "kids", "size", "year", "years",
                "hours", "hour", "minutes", "days", "times", "duration", "seconds", "amount",
                "spend", "price", "cost", "salary"}
_ID_NAMES = {"responseid", "respondentid", "respid", "id", "recordid", "record", "uuid",
             "participantid", "pid", "caseid", "respondent", "responseuuid", "submissionid",
             "networkid", "token", "rid", "respno", "respondentnumber", "caseno"}
# Metadata columns by name (Qualtrics, SurveyMonkey, Google Forms, Typeform), for waves
# whose loader did not list them in RawWave.meta_columns.
_META_NAMES = {"startdate", "enddate", "status", "ipaddress", "progress", "durationinseconds",
               "duration", "finished", "recordeddate", "recipientlastname",
               "recipientfirstname", "recipientemail", "externalreference",
               "externaldatareference", "locationlatitude", "locationlongitude",
               "distributionchannel", "userlanguage", "collectorid", "customdata",
               "customdata1", "timestamp", "submitdate", "submittedat", "networkid",
               "startdateutc", "submitdateutc", "qrecaptchascore", "qrelevantidduplicate"}
_SAMPLE_ROWS = 20_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_DATE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}([ t]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?z?)?"
                   r"|(\d{1,2}/)?\d{4}"
                   r"|\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}(:\d{2})?( ?[ap]m)?)?)$")
_PREFIX = re.compile(r"^(.*?[A-Za-z].*?)[_.](\d+)$")
_CONSENT = re.compile(r"\bconsent\b|\bagree to (take part|participate)\b|\binformed consent\b",
                      re.IGNORECASE)
_CONJOINT = re.compile(r"^[A-Z]-\d+(-\d+)+$")
_DOT_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?: [A-Za-z0-9]+){0,3})\. +\S")
#: words that end with a dot without ending a block name ("St. Louis", "Mr. Smith")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "mt", "ft", "prof", "no", "vs", "jr", "sr",
                  "inc", "ltd", "co", "corp", "dept", "gen", "gov", "govt", "capt", "sgt",
                  "rev", "hon", "univ", "approx", "ave", "blvd", "est", "etc", "fig", "vol"}


def _dot_prefix(text):
    """The match of a block prefix ("Contributing Factors. Ill Health", "Gender. What is
    your Gender?") at the start of ``text``, or None: a single word of up to 3 letters or
    a known abbreviation ("St. Louis ...", "Mr. Smith ...", "Dr. ...") is no block."""
    m = _DOT_PREFIX.match(str(text))
    if m is None:
        return None
    name = m.group(1)
    if " " not in name and (re.fullmatch(r"[A-Za-z]", name) or
                            name.casefold() in _ABBREVIATIONS):
        return None
    return m
_REVERSE_MARK = re.compile(r"((?<=\d)r|[_.\-](r|rev|rc|reverse[d]?))$", re.IGNORECASE)


def _tokens(name: str) -> list[str]:
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^a-z0-9]+", name.casefold()) if t]


def _canon(label) -> str:
    k = re.sub(r"[^\w' ]+", " ", _norm(label) or "")
    k = _WS.sub(" ", k).strip()
    if k.startswith("neither") or k in ("neutral", "undecided", "no preference") or \
            k.startswith("moderate middle of the road") or k == "middle of the road":
        return "<neutral>"
    return k


def _template_of(labels: list[str]) -> list[str] | None:
    """The shortest known scale (:data:`_LIKERT_TEMPLATES`) that holds every answer label,
    with the given labels' own spelling where they match; None when none holds them."""
    if len(labels) < 2:
        return None
    obs = {_canon(lab): lab for lab in labels}
    best = None
    for tpl in _LIKERT_TEMPLATES:
        canon = [_canon(t) for t in tpl]
        if set(obs) <= set(canon):
            extra = len(canon) - len(obs)
            if best is None or extra < best[0]:
                best = (extra, [obs.get(c, t) for c, t in zip(canon, tpl)])
    return None if best is None else best[1]


#: a template point nobody chose is taken as not offered when the nearest chosen point on
#: each side of it (one side for an end of the scale) was chosen at least this many times
_UNOFFERED_NEXT_TO = 20


def _offered_points(tpl: list[str], counts: dict) -> list[str]:
    """The points of template ``tpl`` to draft, low -> high: every point chosen
    (``counts``: normalised label -> answers) and each unchosen one that may have been
    offered. An unchosen point is left off when the nearest chosen point below it and the
    nearest above it (only one of them at an end of the scale) each have at least
    :data:`_UNOFFERED_NEXT_TO` answers: 333 "Never" and 757 "Sometimes" with no "Rarely"
    means "Rarely" was not an option; 3 "Poor" and 73 "Good" with no "Fair" does not."""
    n = [counts.get(_norm(t), 0) for t in tpl]
    keep = []
    for i, t in enumerate(tpl):
        if n[i] == 0:
            below = next((n[j] for j in range(i - 1, -1, -1) if n[j]), None)
            above = next((n[j] for j in range(i + 1, len(tpl)) if n[j]), None)
            sides = [v for v in (below, above) if v is not None]
            if sides and min(sides) >= _UNOFFERED_NEXT_TO:
                continue
        keep.append(t)
    return keep


def _match_likert(labels: list[str]) -> list[str] | None:
    """Order answer labels low -> high when they form a known or recognisable scale.

    Returns the given labels only, reordered: a known scale's points that are not among
    them are left out (see :func:`_template_of` for the whole template)."""
    if len(labels) < 2:
        return None
    tpl = _template_of(labels)
    if tpl is not None:
        given = set(labels)
        return [lab for lab in tpl if lab in given]
    if len(labels) < 3:
        return None
    for pos, neg in _POLES:
        scores = {}
        for lab in labels:
            sc = _pole_score(_canon(lab), pos, neg)
            if sc is None:
                break
            scores[lab] = sc
        else:
            if len(set(scores.values())) == len(scores):
                return sorted(labels, key=scores.get)
    # One adjective shared by every non-neutral answer ("Not open at all", "Somewhat open",
    # "Very open"; "Not very concerned", "Concerned"): scored by intensity and negation.
    canon = {lab: _canon(lab) for lab in labels}
    words = [set(k.split()) - _FILLER for k in canon.values() if k != "<neutral>"]
    shared = set.intersection(*words) if words else set()
    if len(shared) == 1 and len(words) >= 3:
        pos = shared.pop()
        scores = {lab: _pole_score(k, pos, "\0") for lab, k in canon.items()}
        if None not in scores.values() and len(set(scores.values())) == len(scores):
            return sorted(labels, key=scores.get)
    return None


_FILLER = {"not", "at", "all", "very", "somewhat", "slightly", "extremely", "quite", "fairly",
           "moderately", "mildly", "mostly", "completely", "totally", "strongly", "a", "bit",
           "little", "i", "am", "is", "it", "so", "too", "really"}


# Scales exported as abbreviations (government and HR exports: SD/D/N/A/SA).
_ABBREVIATED = [
    ("agreement", [("SD", "Strongly disagree"), ("D", "Disagree"), ("N", "Neutral"),
                   ("A", "Agree"), ("SA", "Strongly agree")], {"sd", "d", "sa"}, True),
    ("frequency", [("N", "Never"), ("R", "Rarely"), ("S", "Sometimes"), ("O", "Often"),
                   ("A", "Always")], {"r", "s", "o"}, False),
]


def _match_abbreviated(labels: list[str], st) -> tuple | None:
    """(scale, unlabelled codes, kind) when the answers are a known abbreviated scale.

    Every answer must be a 1-3 letter code; at least three must be points of one scale
    (and one that tells agreement from frequency apart), and at most one other code, held by
    under 5 % of the answers, is left over (e.g. DETE's 'M'): it is drafted as missing.
    """
    if len(labels) < 3 or not all(re.fullmatch(r"[A-Za-z]{1,3}", t.strip()) for t in labels):
        return None
    keys = {t.strip().casefold(): t.strip() for t in labels}
    for kind, points, telling, full in _ABBREVIATED:
        abbr = {a.casefold() for a, _ in points}
        hit = set(keys) & abbr
        extra = [keys[k] for k in keys if k not in abbr]
        if len(hit) < 3 or not hit & telling or len(extra) > 1:
            continue
        if extra and st.count.get(_norm(extra[0]), 0) >= 0.05 * st.n:
            continue
        shown = [(a, lab) for a, lab in points if full or a.casefold() in hit]
        scale = [ScaleOption(i + 1, f"{lab} ({keys.get(a.casefold(), a)})")
                 for i, (a, lab) in enumerate(shown)]
        return scale, extra, kind
    return None


# Ordinal answer sets that are not agree/satisfied scales, ranked by meaning. Each label
# must match exactly one rank (first pattern that matches), ranks all different.
_EDUCATION_RANKS = [
    (r"\b(no (formal )?(school|schooling|education)|none)\b", 0),
    (r"\bcurrently\b.*\b(primary|elementary)\b|\b(primary|elementary)\b.*\bpupil", 0.5),
    (r"\b\d+(st|nd|rd|th) grade\b|\bgrade \d+\b", 1.2),
    (r"\b(less than|some|no|did not (finish|complete)|without)\b.*\b(high|secondary) school", 1.5),
    (r"\b(primary|elementary|grade school)\b", 1),
    (r"\b(lower secondary|middle school|junior high)\b", 2),
    (r"\bsome (college|university)\b", 4),
    (r"\b(associate|foundation degree)\b", 4.5),
    (r"\b(doctor|doctorate|doctoral|ph\.?d)", 7),
    (r"\bprofessional (degree|qualification)\b", 6.5),
    (r"\b(master'?s?|mba|postgraduate|post-graduate|graduate degree)\b", 6),
    (r"\b(bachelor'?s?|college|university|undergraduate|ba|bsc)\b", 5),
    (r"\b(vocational|trade|technical|apprentice\w*|diploma)\b", 3.5),
    (r"\b(secondary|high school|ged|a-levels?|matura|gymnasium)\b", 3),
]
_FREQUENCY_RANKS = [
    (r"^never\b", 0), (r"^(rarely|seldom)\b", 1), (r"^(yearly|annually|once a year)\b", 2),
    (r"^(a few times a year|quarterly)\b", 2.5), (r"^(monthly|once a month)\b", 3),
    (r"^(a few times a month|several times a month)\b", 3.5),
    (r"^(weekly|once a week)\b", 4), (r"^(a few times a week|several times a week)\b", 4.5),
    (r"^(daily|every day|once a day)\b", 5), (r"^(several times a day|hourly)\b", 6),
]
_HOW_OFTEN_RANKS = [
    (r"^never\b", 0), (r"^(rarely|seldom|hardly ever|almost never)\b", 1),
    (r"^(sometimes|some of the time|occasionally)\b", 2), (r"^about half the time\b", 2.5),
    (r"^(often|frequently|usually|most of the time)\b", 3),
    (r"^(very often|very frequently|almost always)\b", 3.5), (r"^always\b", 4),
]
_TIME_SPENT_RANKS = [
    (r"^(no time|none|never)\b", 0), (r"^less than (an|one) hour\b", 1),
    (r"^(a )?few hours\b|^(1|one)[-\u2013 ]+(3|three) hours\b", 2),
    (r"^(most of the day|all day|more than \w+ hours)\b", 3),
]
_QUANTITY_RANKS = [
    (r"\b(none|no one|nobody)\b", 0), (r"\b(a few|few)\b", 1), (r"\bsome\b", 2),
    (r"\b(most|many)\b", 3), (r"\b(all|everyone|every one)\b", 4),
]
#: how much someone uses a thing, from never having heard of it (Typeform's "How frequently
#: do you use the following support features?": "I have not heard of this" < "I have heard
#: of this, but I don't really use it" < "I use this sometimes" < "I use this often"); the
#: first pattern that matches ranks the answer
_USAGE_RANKS = [
    (r"\b(?:not|never) (?:\w+ )?heard\b|\bhave ?n[o']t heard\b|\b(?:not|un)aware\b", 0),
    # past use ("I used to use it often", "I no longer use it") is not use now, but more
    # than having heard of it or tried it once
    (r"\bused to use\b|\bno longer use\b|\bstopped using\b|\bdo ?n[o']t use (?:it |this |"
     r"them )?any ?more\b|\bin the past\b|\bpreviously\b|\bformerly\b", 1.5),
    (r"\buse(?:d)? (?:it |this |them )?(?:very )?(?:often|regularly|frequently|a lot|daily|"
     r"every day|all the time|heavily)\b|\b(?:often|regularly|frequently) use\b", 3),
    (r"\buse(?:d)? (?:it |this |them )?(?:sometimes|occasionally|now and then|from time to "
     r"time)\b|\b(?:sometimes|occasionally) use\b", 2),
    (r"\bheard of\b|\baware of\b|\b(?:do ?n[o']t|do not|never) (?:really |actually )?"
     r"used?\b|\b(?:only )?used (?:it |this )?once\b", 1),
]
#: stages of someone's use of a substance or product, by how much of it they have had:
#: never < tried it < used to (former) < now and then (social, occasional) < now
#: (current, regular, daily) < a lot (heavy). Young People Survey's "Smoking" (never
#: smoked < tried smoking < former smoker < current smoker) and "Alcohol" (never < social
#: drinker < drink a lot); the first pattern that matches ranks the answer
_USE_STAGE_RANKS = [
    (r"^never\b|\bnever (?:smoked|drank|drunk|drink|used|tried|vaped)\b|"
     r"\bnon-? ?(?:smoker|drinker|user|vaper)s?\b", 0),
    (r"\b(?:tried|experimented|once or twice)\b", 1),
    (r"\b(?:former|formerly|ex-? ?(?:smoker|drinker|user|vaper)s?|quit|stopped|used to|"
     r"no longer|gave up|given up)\b", 2),
    (r"\b(?:a lot|heavy|heavily|excessive(?:ly)?|binge)\b", 4),
    (r"\b(?:social|socially|occasional|occasionally|light|moderate)\b", 3),
    (r"\b(?:current|currently|regular|regularly|daily|every day)\b", 3.5),
]
_ORDINALS = [
    ("education levels", _EDUCATION_RANKS, False,
     re.compile(r"educat|degree|qualification|school|studies", re.IGNORECASE)),
    ("frequency", _HOW_OFTEN_RANKS, True, None),
    ("frequency", _FREQUENCY_RANKS, True, None),
    ("time spent", _TIME_SPENT_RANKS, True, None),
    ("quantity (none, some, all)", _QUANTITY_RANKS, True, None),
    ("use (not heard of it ... use it often)", _USAGE_RANKS, True, None),
    ("stages of use (never ... tried ... former ... current)", _USE_STAGE_RANKS, False, None),
]


def _ordinal_order(labels: list[str], text: str, qid) -> tuple | None:
    """(labels low -> high, kind, as_likert) for education levels, frequencies,
    quantities, stages of use and numeric bands (:func:`_range_rank`: every answer a
    number, band or bound, one at least a band or bound, or every one an ordinal number);
    ``None`` when the answers are not one of
    them (then they are nominal)."""
    if len(labels) < 3:
        return None
    context = f"{qid} {text}"
    for kind, ranks, as_likert, needs in _ORDINALS:
        if needs is not None and not needs.search(context):
            continue
        score = {}
        for lab in labels:
            low = _WS.sub(" ", str(lab).casefold().replace("\u2019", "'")).strip()
            r = next((rank for pat, rank in ranks if re.search(pat, low)), None)
            if r is None:
                break
            score[lab] = r
        else:
            if len(set(score.values())) == len(score):
                return sorted(labels, key=score.get), kind, as_likert
    ranks = {lab: _range_rank(lab) for lab in labels}
    # every answer a number, a band or a bound, and one of them at least a band or bound
    # ("Less than 1 year", "1-2", "3 or more"), or every one an ordinal ("1st semester");
    # typed-in amounts ("5 years", "10 years") are no answer bands
    if all(r is not None for r in ranks.values()) and len(set(ranks.values())) == len(ranks) \
            and (any(r[1] != 0 or r[0] != r[2] for r in ranks.values()) or all(
                _ORDINAL_NUMBER.match(_WS.sub(" ", str(lab).casefold()).strip())
                for lab in labels)):
        kind = "numeric ranges" if any(r[1] != 0 or r[0] != r[2] for r in ranks.values()) \
            else "ordinal numbers (1st, 2nd, ...)"
        return sorted(labels, key=ranks.get), kind, False
    return None


_NUM = r"(\d[\d,]*(?:\.\d+)?)\s*%?"
#: "1-5", "26-100", "1-25%", "More than 1000", "Less than 1", "10+", "50 or more",
#: "between 5 and 10" (after :func:`_bare_amounts` took units and currency off)
_RANGE = re.compile(rf"^(?:between\s+)?{_NUM}\s*(?:-|\u2013|\u2014|to|and|\s)\s*{_NUM}$")
_BELOW = re.compile(rf"^(?:less than|fewer than|under|below|up to|<)\s*{_NUM}$|"
                    rf"^{_NUM}\s*(?:or (?:less|fewer|younger|under)|and (?:under|below|younger))$")
_ABOVE = re.compile(rf"^(?:more than|over|above|greater than|>)\s*{_NUM}$|"
                    rf"^{_NUM}\s*(?:\+|or (?:more|older|over)|and (?:over|above|more|older))$")
_ONE_NUMBER = re.compile(rf"^{_NUM}$")
#: "1st semester", "2nd year", "3rd": an ordinal number, then at most three words
_ORDINAL_NUMBER = re.compile(r"^(\d+)(?:st|nd|rd|th)\b(?:\s+[a-z]+){0,3}$")
#: currency before or after an amount ("$10", "Rs. 500", "\u20ac20", "100 USD")
_CURRENCY = re.compile(r"[$\u00a3\u20ac\u00a5\u20b9]\s*|\b(?:rs\.?|inr|usd|eur|gbp|aud|cad)"
                       r"\s*(?=\d)|(?<=\d)\s*(?:usd|eur|gbp|inr|aud|cad|dollars?|euros?|"
                       r"pounds?|rupees?)\b")
#: a unit after an amount ("1-2 years", "Less than 1 year", "10 hours or more", "18 years old")
_UNIT = re.compile(r"(?<=\d)\s*(?:years?|yrs?|months?|weeks?|wks?|days?|hours?|hrs?|"
                   r"minutes?|mins?|times|km|kms|miles?|kg|kgs|lbs?|people|persons|employees|"
                   r"staff|members|children|kids|items)\b(?:\s+old\b)?")
#: "per month", "a year", "annually" closing an amount band ("$10-$50 per month")
_PER = re.compile(r"\s*(?:(?:per|a|an|/|each)\s*(?:day|week|month|year|annum|hour)|annually|"
                  r"monthly|weekly|daily|yearly|p\.?\s?a\.?)$")


def _bare_amounts(low: str) -> str:
    """An answer band with its currency, units, thousands suffix and "per month" taken off
    ("$10k - $50k per year" -> "10000 - 50000", "Less than 1 year" -> "less than 1")."""
    t = _CURRENCY.sub("", low)
    t = re.sub(r"(\d+(?:\.\d+)?)\s*k\b", lambda m: f"{float(m.group(1)) * 1000:g}", t)
    t = _PER.sub("", _UNIT.sub("", t))
    return _WS.sub(" ", t).strip()


def _range_rank(label) -> tuple | None:
    """Sort key of a numeric-range answer ("6-25" -> (6, 0, 25), "Less than 1 year" ->
    (1, -1, 1), "$10-$50" -> (10, 0, 50), "2nd semester" -> (2, 0, 2)), None for other
    answers. Currency, units and "per month" are read past (:func:`_bare_amounts`)."""
    low = _bare_amounts(_WS.sub(" ", str(label).casefold()).strip())

    def num(x):
        return float(x.replace(",", ""))
    if m := _RANGE.match(low):
        return (num(m.group(1)), 0, num(m.group(2)))
    if m := _BELOW.match(low):
        n = num(m.group(1) or m.group(2))
        return (n, -1, n)
    if m := _ABOVE.match(low):
        n = num(m.group(1) or m.group(2))
        return (n, 1, n)
    if m := (_ONE_NUMBER.match(low) or _ORDINAL_NUMBER.match(low)):
        n = num(m.group(1))
        return (n, 0, n)
    return None


def _pole_score(k: str, pos: str, neg: str) -> float | None:
    words = k.split()
    if k == "<neutral>":
        return 0.0
    intensity = next((_INTENSITY[w] for w in words if w in _INTENSITY), 1.0)
    if neg in words:
        return -intensity
    if pos in words:
        if "not at all" in k or ("not" in words and k.endswith("at all")):
            return -3.0
        if "not very" in k:
            return -0.5
        if "not" in words:
            return -0.5 if intensity < 1 else -1.0     # "somewhat not open"
        return intensity
    return None


def _sample(data: pd.DataFrame) -> pd.DataFrame:
    if len(data) <= _SAMPLE_ROWS:
        return data
    idx = np.sort(np.random.default_rng(0).choice(len(data), _SAMPLE_ROWS, replace=False))
    return data.iloc[idx]


class _ColStats:
    """Distinct answers of one column (normalised key -> first text seen, count)."""

    def __init__(self, s: pd.Series):
        codes, uniques = _factorize(s)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        self.text, self.count = {}, {}
        for u, c in zip(uniques, counts):
            k = _norm(u)
            if k is None or c == 0:
                continue
            if k not in self.text:
                self.text[k] = u
                self.count[k] = 0
            self.count[k] += int(c)
        self.n = int(sum(self.count.values()))

    @property
    def distinct(self) -> int:
        return len(self.text)


#: the header pandas gives a data frame's index written to CSV ("Unnamed: 0"), or R's ""
_ROW_INDEX = re.compile(r"^(?:unnamed: ?\d+|index|level_0|row ?names?|)$", re.IGNORECASE)


def _row_index(c, data) -> bool:
    """True for a column named like a written row index (:data:`_ROW_INDEX`) holding
    distinct whole numbers in every row (Women's Clothing Reviews' "Unnamed: 0")."""
    if not _ROW_INDEX.match(str(c).strip()):
        return False
    v = pd.to_numeric(data[c], errors="coerce")
    return bool(v.notna().all() and (v % 1 == 0).all() and v.is_unique)


def _find_id_column(raw, sample, meta) -> str | None:
    """The loader's response-id column (Typeform's ``#`` token), else a column named like
    an id, else the first unique serial-like column (10+ rows); each only when its values
    are all present and unique."""
    data = raw.data
    roles = raw.meta_roles() if hasattr(raw, "meta_roles") else {}
    named = [c for c in data.columns if re.sub(r"[^a-z0-9]", "", str(c).casefold()) in _ID_NAMES]
    token = roles.get("response_id")
    if token in data.columns and token not in named:
        named.insert(0, token)
    # a data frame's row index written with the file: serial, but maybe of a sample of rows
    index = [c for c in data.columns if c not in named and _ROW_INDEX.match(str(c).strip())]
    others = [c for c in data.columns if c not in named and c not in index and c not in meta]
    for c in named + index + others:
        s = sample[c]
        if c not in named and c not in index:
            if pd.api.types.is_float_dtype(s.dtype) or len(data) < 10:
                continue
            st = _ColStats(s)
            if st.n != len(sample) or st.distinct != st.n:
                continue
            texts = [str(t) for t in st.text.values()]
            if any(" " in t.strip() or _EMAIL.match(t.casefold()) for t in texts[:2000]):
                continue
            keys = list(st.text)[:2000]
            if all(_looks_numeric(k) for k in keys):
                vals = [float(k) for k in keys]
                # durations and amounts are unique too; serial numbers are dense
                if not all(v.is_integer() for v in vals) or \
                        max(vals) - min(vals) + 1 > 2 * len(vals):
                    continue
        full = _id_strings(data[c])
        if full.notna().all() and full.is_unique:
            return c
    return None


def _find_weight(raw, sample, exclude) -> str | None:
    for c in raw.data.columns:
        if c in exclude:
            continue
        toks = _tokens(c)
        if not ("weight" in str(c).casefold() or "wt" in toks or "wgt" in toks):
            continue
        st = _ColStats(sample[c])
        try:
            vals = [float(k) for k in st.text]
        except ValueError:
            continue
        if vals and st.n == len(sample) and min(vals) > 0:
            return c
    return None


def _missing_from(keys, st: _ColStats, extra: dict | None = None) -> tuple[list, set]:
    """MissingCode drafts for DK-style answers among ``keys``; returns (list, keys used).

    Text answers get codes counting down from 99; numeric codes declared missing by the
    export (``extra``, e.g. SPSS user-missing 99) keep their own code.
    """
    out, used, next_code = [], set(), 99
    taken = {k for k in keys if _looks_numeric(k)}
    for k in keys:
        declared = (extra or {}).get(k)
        reason = declared or _missing_reason(k)
        if reason is None:
            continue
        if _looks_numeric(k):
            code, label = _clean_code(float(k)), str(declared or k)
        else:
            while str(next_code) in taken:
                next_code -= 1
            code, label = next_code, str(st.text[k]).strip()
            taken.add(str(next_code))
        out.append(MissingCode(code, label, _slug(reason)))
        used.add(k)
    return out, used


def _slug(reason) -> str:
    r = _MISSING_LOOKUP.get(_norm(reason) or "", None)
    return r or re.sub(r"[^a-z0-9]+", "_", str(reason).casefold()).strip("_") or "missing"


def _multi_joined_options(st: _ColStats, known_sep=None) -> tuple[str, list[str]] | None:
    """(separator, options) when a column holds multi-select answers joined in one cell.

    ``known_sep`` is the loader's word (RawWave.separators); otherwise '|', ';' then ','
    are tried, and the column counts as multi-select when joined cells are common and their
    parts form a short list of recurring options. With ';' or ',', which also occur inside
    answers ("No, none did"), most joined answers must be made of options: parts that
    someone gave alone or that recur in several different combinations.
    """
    texts = {k: str(v) for k, v in st.text.items() if _missing_reason(k) is None}
    if len(texts) < 2:
        return None
    for sep in ((known_sep.strip() or known_sep,) if known_sep else ("|", ";", ",")):
        with_sep = sum(st.count[k] for k, t in texts.items() if sep in t)
        if not known_sep and (with_sep < 2 or with_sep < 0.05 * st.n):
            continue
        pos, freq, label = {}, {}, {}
        for k, t in texts.items():
            for i, tok in enumerate(p.strip() for p in t.split(sep)):
                tk = _norm(tok)
                if tk is None:
                    continue
                label.setdefault(tk, tok)
                pos[tk] = pos.get(tk, 0.0) + i * st.count[k]
                freq[tk] = freq.get(tk, 0) + st.count[k]
        # a separator nobody types inside an answer; Typeform joins ticked options with a
        # comma and a line break ("Spending project funds,\nDelegating / managing ..."),
        # which a typed answer does not do at every comma
        commas = [t for t in texts.values() if "," in t]
        plain = sep == "|" or known_sep or (
            sep == "," and len(commas) >= 2 and
            all(t.count(",") == len(re.findall(r",[ \t]*\r?\n", t)) for t in commas))
        if len(label) > (60 if plain else 40) or len(label) >= len(texts) + 1 and len(texts) > 10:
            continue
        if np.mean([len(t) for t in label.values()]) > (80 if plain else 40):
            continue
        if not plain:
            # in a real multi-select most joined answers are made of answers that someone
            # also gave alone; "Yes, all of them" is one answer with a comma in it
            joined = {k: t for k, t in texts.items() if sep in t}
            combos: dict = {}
            for t in joined.values():
                for p in {_norm(p) for p in t.split(sep)} - {None}:
                    combos[p] = combos.get(p, 0) + 1
            option = {p for p, n in combos.items() if n >= 2 or p in texts}
            whole = sum(st.count[k] for k, t in joined.items()
                        if all(_norm(p) in option for p in t.split(sep) if _norm(p)))
            if whole < 0.5 * sum(st.count[k] for k in joined):
                continue
        order = sorted(label, key=lambda tk: (pos[tk] / freq[tk], -freq[tk]))
        return sep, [label[tk] for tk in order]
    return None


def _names_role(c, text) -> bool:
    """True when the column's header, whole, is one of :data:`_ROLE_HEADER` ("Institute",
    "WorkArea", "Classification. Classification", "Business Unit", "political_party")."""
    for h in {str(c), str(text)}:
        h = _LOADER_NOTE.sub("", h).strip(" ?:")
        m = _dot_prefix(h)
        for part in (h, h[m.end(1) + 1:] if m else None):
            words = _tokens(part) if part else []
            if 0 < len(words) <= 4 and _ROLE_HEADER.match(" ".join(words)):
                return True
    return False


def _describes_respondent(c, text, tick: bool = False) -> str | None:
    """Whether a column says who a respondent is (drafted role ``profile``, not
    ``segment``), and by what: ``"word"`` when its id, or its short wording, has a word of
    :data:`_DEMOGRAPHIC` ("Age", "What is your gender?"); ``"wording"`` when its wording,
    up to 14 words, reads like :data:`_DEMOGRAPHIC_PHRASE` ("Only child", "Overall Length
    of Service at Institute") or its header, whole, names a role (:data:`_ROLE_HEADER`:
    "Institute", "Position"); None otherwise. A wording match is weaker: an item answered
    on a rating scale stays an item whatever its wording says (:func:`_infer_column`).

    ``tick``: for a tick box (:func:`_tick_boxes`), whose header is often the option alone
    ("Aboriginal", "Torres Strait"): the words and phrases of :data:`_TICK_DEMOGRAPHIC`
    count too, read in any wording of up to 14 words."""
    c, text = str(c), str(text)
    # the column name read as a wording too (a plain CSV names a column by its wording):
    # only a short one, never a battery item ("... - <item>")
    toks = set(_tokens(c)) if len(c.split()) <= 14 and \
        (tick or " - " not in c or c != text) else set()
    # A short label ("What is your age?") names a demographic; a long statement that
    # happens to say "income" does not, nor does a battery item ("... - <item>").
    if len(text.split()) <= 14 and (tick or (text != c and " - " not in text)):
        toks |= set(_tokens(text))
    if toks & (_TICK_DEMOGRAPHIC if tick else _DEMOGRAPHIC) or \
            (tick and _TICK_DEMOGRAPHIC_PHRASE.search(f"{c} {text}")):
        return "word"
    if (len(text.split()) <= 14 and _DEMOGRAPHIC_PHRASE.search(text.casefold())) or \
            _names_role(c, text):
        return "wording"
    return None


#: scale labels of a rating (agreement, satisfaction, quality ...), not of a description
_RATING_POLES = {w for pair in _POLES if pair != ("conservative", "liberal") for w in pair} | {
    "poor", "fair", "excellent", "neutral"}


def _rated(q: Question) -> bool:
    """True for a likert question answered on a rating scale (agree / satisfied / good /
    poor ...) or on bare numbers (1-5)."""
    if q.type != "likert" or not q.scale:
        return False
    labels = [str(o.label) for o in q.scale]
    if all(_looks_numeric(lab) for lab in labels):
        return True
    return any(set(_tokens(lab)) & _RATING_POLES for lab in labels)


def _infer_column(c, raw, sample, full_data, grid) -> tuple[Question | None, list[str]]:
    """Draft the question for one column; returns (question, notes). A column whose
    wording alone reads like a description (:func:`_describes_respondent`: "Position",
    "Satisfaction. Faculty", "Is an only child more selfish than others?") but whose
    answers are a rating scale is a rating item: role ``segment``."""
    q, notes = _draft_column(c, raw, sample, full_data, grid)
    if q is not None and q.role == "profile" and _rated(q) and \
            (_describes_respondent(c, str(raw.labels.get(c, c))) == "wording" or
             not all(_looks_numeric(str(o.label)) for o in q.scale)):
        q.role = "segment"
    return q, notes


def _draft_column(c, raw, sample, full_data, grid) -> tuple[Question | None, list[str]]:
    """:func:`_infer_column` before a rating's role is settled."""
    text = str(raw.labels.get(c, c))
    toks = set(_tokens(c))
    if text != c and len(text.split()) <= 14 and " - " not in text:
        toks |= set(_tokens(text))
    demographic = _describes_respondent(c, text) is not None
    s = sample[c]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return Question(c, text, "date", "ignore"), []
    st = _ColStats(s)
    if st.n == 0:
        return Question(c, text, "text", "ignore"), [f"{c}: every answer is blank; set its type"]
    mcodes = {_norm(k): v for k, v in (raw.missing_codes.get(c) or {}).items()}
    vlabels = {_norm(k): str(v) for k, v in (raw.value_labels.get(c) or {}).items()}
    seg = "profile" if demographic else "segment"
    if vlabels:
        return _from_value_labels(c, text, st, vlabels, mcodes, seg, full_data), []
    small = st.distinct <= 200
    if small and len(full_data) > len(sample):
        st = _ColStats(full_data[c])     # every answer, not just the sampled ones
    keys = list(st.text)
    missing, used = _missing_from(keys, st, mcodes)
    rest = [k for k in keys if k not in used]
    numeric = []
    for k in rest:
        try:
            numeric.append(float(k))
        except ValueError:
            break
    if rest and _names_postcode(c, text) and _code_answers([st.text[k] for k in rest]):
        return Question(c, text, "id", "ignore", missing=missing), [
            f"{c}: a ZIP / postal code: it labels a place, it is no amount; drafted type id, "
            "role ignore (never averaged or profiled) - map it to a region or area type in "
            "a column of its own to describe personas by it"]
    if rest and len(numeric) == len(rest):
        return _infer_numeric(c, text, st, numeric, missing, toks, demographic, seg, grid)
    # A number column with a stray word or two ("Enter your age": "Rahul Rai"): still numbers;
    # the strays are declared missing so the draft validates, and named in a note.
    stray = [k for k in rest if not _looks_numeric(k)]
    if rest and len(stray) <= 3 and len(rest) - len(stray) >= 5 and \
            sum(st.count[k] for k in stray) <= 0.03 * st.n:
        taken = {k for k in keys if _looks_numeric(k)} | {str(m.code) for m in missing}
        for k in stray:
            code = next(v for v in range(99, -1000, -1) if str(v) not in taken)
            taken.add(str(code))
            missing.append(MissingCode(code, str(st.text[k]).strip(), "not_a_number"))
        q, notes = _infer_numeric(c, text, st, [float(k) for k in rest if _looks_numeric(k)],
                                  missing, toks, demographic, seg, grid)
        return q, notes + [f"{c}: {len(stray)} answer(s) that are not numbers in a number "
                           "column drafted as missing (reason: not_a_number); check them"]
    texts = [str(st.text[k]).strip() for k in rest]
    sample_texts = texts[:2000]
    if sum(bool(_EMAIL.match(t.casefold())) for t in sample_texts) >= 0.9 * len(sample_texts):
        return Question(c, text, "id", "ignore"), []
    if sum(bool(_DATE.match(t.casefold())) for t in sample_texts) >= 0.95 * len(sample_texts):
        return Question(c, text, "date", "ignore", missing=missing), []
    if small:
        # Some exports mix labels and codes in one column ("Agree", "2"): codes within the
        # scale's 1..k are fine once the labels have fixed the scale.
        words = [t for t in texts if not _looks_numeric(t)]
        nums = [float(_norm(t)) for t in texts if _looks_numeric(t)]
        abbrev = _match_abbreviated(words, st) if not nums else None
        if abbrev is not None:
            scale, extra, kind = abbrev
            used_codes = {str(m.code) for m in missing}
            missing = _renumber(missing, len(scale))
            for lab in extra:
                code = next(k for k in range(99, 0, -1)
                            if str(k) not in used_codes | {str(m.code) for m in missing})
                missing.append(MissingCode(code, lab, "unlabelled"))
            note = [f"{c}: {kind} scale abbreviated in the export "
                    f"({', '.join(_ABBREV_LABEL.match(o.label).group(1) for o in scale)}); "
                    "check the labels"]
            note += [f"{c}: code {lab!r} is not a point of the {kind} scale; drafted as "
                     "missing (reason: unlabelled) - say what it means" for lab in extra]
            return Question(c, text, "likert", seg, scale, missing=missing), note
        tpl, notes = _template_of(words), []
        order = _match_likert(words) if tpl is None else None
        if tpl is not None:
            # codes mixed in ("Agree", "2") number the whole template: keep all of it
            order = tpl if nums else _offered_points(tpl, st.count)
            if len(order) < len(tpl):
                notes.append(f"{c}: {len(order)}-point scale ({', '.join(order)}): the "
                             f"{len(tpl)}-point scale {', '.join(tpl)} also holds the answers, "
                             "but the points left off were chosen by nobody while the answers "
                             "next to them were common - add them if the questionnaire "
                             "offered them")
        if order is not None and not all(v.is_integer() and 1 <= v <= len(order) for v in nums):
            order = None
        if order is not None:
            q = Question(c, text, "likert", seg, [ScaleOption(i + 1, lab)
                                                   for i, lab in enumerate(order)],
                         missing=_renumber(missing, len(order)))
            return q, notes
    piped = not small and sum("|" in t for t in sample_texts) >= 0.05 * len(sample_texts)
    if small or piped:
        if piped and len(full_data) > len(sample):
            st = _ColStats(full_data[c])
        joined = _multi_joined_options(st, raw.separators.get(c) if hasattr(raw, "separators") else None)
        if joined is not None:
            sep, options = joined
            q = Question(c, text, "multi", seg, missing=missing, separator=sep, options=options)
            return q, [f"{c}: multi-select joined by {sep!r}; check the option list"]
    mean_len = float(np.mean([len(t) for t in sample_texts]))
    unique = st.distinct == st.n and st.n >= 10
    if unique and not any(" " in t for t in sample_texts) and mean_len <= 40:
        return Question(c, text, "id", "ignore"), []
    # A closed question: few distinct answers, each given by many. Long option texts are
    # fine when every answer recurs (free text almost never does).
    repeats = st.n / max(st.distinct, 1)
    closed = st.distinct <= 30 or st.distinct <= 0.05 * st.n or (st.distinct <= 100 and repeats >= 8)
    if small and closed and toks & {"gender", "sex"} and len(rest) > 12:
        # OSMI's "What is your gender?" typed in: 70 spellings of a few answers ("Male",
        # "male", "M", "Cis male", a sentence); a profile table would list every spelling
        shown = ", ".join(repr(str(st.text[k]).strip()) for k in
                          sorted(rest, key=lambda k: -st.count[k])[:4])
        return Question(c, text, "text", "ignore", missing=missing), [
            f"{c}: gender typed in, {len(rest)} different answers ({shown}, ...); drafted as "
            "free text, role ignore (not quoted, not profiled) - recode it into a few "
            "categories in a column of its own to describe personas by it"]
    # Typed answers that hardly ever repeat are free text however few they are (Typeform's
    # "Which external software are you coupling with Cantera?": four answers, each given
    # once; "What features ... are available in the C++ interface?": one "none" x4 and four
    # sentences): most answers given by one person, and either all of them or a sentence.
    once = sum(st.count[k] == 1 for k in rest)
    typed = not grid and len(rest) >= 3 and len(full_data) >= 10 and \
        once >= 0.6 * len(rest) and (once == len(rest) or max(len(t.split()) for t in texts) >= 5)
    if small and closed and typed and not _template_of(texts) and \
            _ordinal_order(texts, text, c) is None:
        return Question(c, text, "text", "profile", missing=missing), [
            f"{c}: {once} of its {len(rest)} different answers given by one respondent each: "
            "drafted as free text - make it single if the answers are options"]
    if small and closed and (mean_len <= 60 or (repeats >= 5 and mean_len <= 200)):
        ranked = _ordinal_order(texts, text, c)
        if ranked is not None:
            labels, kind, as_likert = ranked
            q = Question(c, text, "likert" if as_likert else "single", seg,
                         [ScaleOption(i + 1, lab) for i, lab in enumerate(labels)],
                         missing=_renumber(missing, len(labels)),
                         ordered=None if as_likert else True)
            return q, [f"{c}: ordered as {kind} (low to high); check"]
        labels = sorted(texts, key=_natural_key)
        q = Question(c, text, "single", seg, [ScaleOption(i + 1, lab)
                                              for i, lab in enumerate(labels)],
                     missing=_renumber(missing, len(labels)))
        return q, []
    asked = _LOADER_NOTE.sub("", text)   # the loader's note
    if _NAME_COLUMN.search(asked) or (asked == text and _NAME_COLUMN.search(str(c))):
        return Question(c, text, "text", "ignore", missing=missing), [
            f"{c}: free text that names people or organisations; role: ignore keeps it out of "
            "quotes and themes"]
    return Question(c, text, "text", "profile", missing=missing), []


#: open questions whose answers name someone (or their organisation, address, phone)
_NAME_COLUMN = re.compile(
    r"(?<![\w-])((first|last|full|given|family|sur|nick|user|company|organi[sz]ation|business|"
    r"employer|school|your)[\s/_-]*)?name(?![\w-])|\b(e-?mail|phone|telephone|mobile|"
    r"street|postal address|home address|contact details)\b", re.IGNORECASE)


def _loader_notes_out(questions: list[Question], notes: list[str]) -> None:
    """The loader's note on a renamed header (:data:`_LOADER_NOTE`: OSMI's second "Why or
    why not?", read as ``Why or why not?__2``) taken out of the wording and written as a
    drafting note instead: the wording is what respondents read; two questions worded
    alike are told apart by their ``short`` labels (:func:`_draft_shorts`) and ids."""
    for q in questions:
        m = _LOADER_NOTE.search(str(q.text or ""))
        if m is None:
            continue
        q.text = str(q.text)[:m.start()].rstrip() or str(q.id)
        what = m.group(0).strip()[1:-1]
        if what.startswith("duplicate"):
            notes.append(f"{q.id}: the loader renamed this column ({what}); the wording is "
                         "kept as asked and the short label tells it apart - check it")
        else:
            notes.append(f"{q.id}: the file gives this column no header ({what}); write its "
                         "wording")


def _strip_block_prefixes(questions: list[Question]) -> None:
    """The wording of a question whose export header carries its block's name ("InstituteViews.
    Topic:12. If I had a workplace issue it was dealt with efficiently", "Gender. What is
    your Gender?", the TAFE exit survey): the part after the prefix, so cards quote the
    statement as asked; the block stays the item's ``grid`` and the header its ``id``.

    A "Block. Topic:" prefix goes wherever it is; a prefix with a qualifier ("InductionInfo.
    On-line Topic: ...", which tells look-alike items apart) stays. A bare "Block. " (one to
    four capitalised words) goes only where the header is the wording (a plain CSV) and at
    least three headers of the file are written with a block prefix."""
    def block(q):
        t = str(q.text or "")
        m = _dot_prefix(t)
        if t != str(q.id) or m is None or _TOPIC_PREFIX.match(t):
            return None
        words = m.group(1).split()
        return m if all(w[0].isupper() or w[0].isdigit() for w in words) else None

    bare = {id(q): m for q in questions if q.type not in ("id", "weight", "meta")
            and (m := block(q)) is not None}
    styled = len(bare) + sum(1 for q in questions if q.type not in ("id", "weight", "meta")
                             and _TOPIC_PREFIX.match(str(q.text or "")))
    for q in questions:
        if q.type in ("id", "weight", "meta"):
            continue
        t = str(q.text or "")
        m = _TOPIC_PREFIX.match(t)
        if m is not None:
            if not m.group(1) and len(t) > m.end() + 1:
                # and the export's trailer ("...in my job. ; Category:Level of Agreement;
                # Question:YOUR VIEWS ABOUT YOUR WORK UNIT]")
                q.text = re.sub(r"\s*\.?\s*;\s*Category\s*:.*$", "", t[m.end():]).strip() \
                    or t[m.end():].strip()
            continue
        if styled >= 3 and id(q) in bare:
            rest = t[bare[id(q)].end(1) + 1:].strip()
            if rest:
                q.text = rest


def _declare_leftovers(questions: list[Question], raw, notes: list[str]) -> None:
    """Declare every answer the draft does not cover, so the draft validates against its
    own file: an unexpected scale answer or number-column text becomes a missing code
    (reason ``undeclared``), an unknown joined option is added to the options."""
    ctx = _Ctx(raw)
    data = raw.data
    for q in questions:
        if q.id not in data.columns:
            continue
        s = data[q.id]
        if q.type == "likert" or (q.type == "single" and q.scale):
            parsed = _parse_scaled(q, s, ctx)
        elif q.type == "numeric":
            parsed = _parse_numeric(q, s, ctx)
        elif q.type == "multi" and q.options:
            parsed = _parse_multi_joined(q, s, ctx)
        else:
            continue
        if not parsed.issues:
            continue
        if q.type == "multi":
            okeys = {_norm(o): i for i, o in enumerate(q.options)}
            new = []
            for u in pd.unique(s.dropna()):
                _, unknown = _split_options(str(_clean_code(u)), q.separator or ",", okeys)
                for t in unknown:
                    if _norm(t) not in {_norm(x) for x in new} | set(_missing_keys(q)):
                        new.append(t)
            q.options += new
            notes.append(f"{q.id}: option(s) {_show(new)} added from the data; check")
            continue
        known = set(_missing_keys(q))
        if q.scale:
            for o in q.scale:
                known |= {_norm(o.code), _norm(o.label)}
                m = _ABBREV_LABEL.match(str(o.label))
                if m:
                    known.add(_norm(m.group(1)))
        bad = []
        for u in pd.unique(s.dropna()):
            k = _norm(u)
            if k is None or k in known:
                continue
            if q.type == "numeric" and _looks_numeric(u):
                continue
            known.add(k)
            bad.append(u)
        taken = {_norm(o.code) for o in q.scale} | {_norm(m.code) for m in q.missing}
        for u in bad:
            if _looks_numeric(u):
                code = _clean_code(float(_norm(u)))
            else:
                code = next(k for k in range(99, -1000, -1) if str(k) not in taken)
            taken.add(_norm(code))
            q.missing.append(MissingCode(code, _WS.sub(" ", str(_clean_code(u))).strip(),
                                         "undeclared"))
        if bad:
            notes.append(f"{q.id}: {_show(bad)} in the data is not an answer of the drafted "
                         "scale; declared missing (reason: undeclared) - move it to the scale "
                         "if it is an answer")


def _renumber(missing: list[MissingCode], n_scale: int) -> list[MissingCode]:
    # Missing codes count down from 99; keep them clear of the scale codes 1..n.
    return [m if int(m.code) > n_scale else MissingCode(n_scale + 90 + i, m.label, m.reason)
            for i, m in enumerate(missing)]


#: numeric codes that exports use for "no answer" when they sit apart from the answers
_SENTINELS = {7, 8, 9, 77, 88, 97, 98, 99, 777, 888, 997, 998, 999, 9999}
_BIG_SENTINELS = {98, 99, 998, 999, 9998, 9999, 99999, -9, -99, -999, -9999}
_YES_NO_QUESTION = re.compile(r"^(are|is|do|does|did|have|has|had|was|were|would|will|can|"
                              r"could|should|any)\b", re.IGNORECASE)
_NA_HINT = re.compile(r"\bn/?a\b|not applicable|does ?n[o']t apply|0 ?= ?(none|not)",
                      re.IGNORECASE)


def _sentinel_like(v) -> bool:
    """A number exports use for "no answer" in an amount column: one of
    :data:`_BIG_SENTINELS`, or nines ending in 7, 8 or 9 (99, 9998, 999999, -99)."""
    if not float(v).is_integer():
        return False
    return v in _BIG_SENTINELS or bool(re.fullmatch(r"9+[789]", str(abs(int(v)))))


def _split_sentinels(values: list[float]) -> tuple[list[float], list[float]]:
    """(answers, sentinel codes): 88/99/-9-style codes set apart from a short code range."""
    vals = sorted(set(values))
    if len(vals) < 3 or not all(float(v).is_integer() for v in vals):
        return vals, []
    out = []
    # negative codes first: "-5 refused" must not widen the range 99 is set apart from
    while len(vals) >= 3 and vals[0] <= -2 and vals[1] >= 0:
        out.append(vals[0])
        vals = vals[1:]
    while len(vals) >= 3:
        v, rest = vals[-1], vals[:-1]
        if (v in _SENTINELS or _sentinel_like(v)) and v - rest[-1] >= 2 and \
                rest[-1] - rest[0] <= 10:
            out.append(v)
            vals = rest
        else:
            break
    return vals, out


#: a header that names a ZIP / postal code ("zip", "ZipCode", "Postcode", "What is your ZIP
#: code?", "PIN code"), read on its words (:func:`_tokens`)
_POSTCODE_WORDS = re.compile(r"\b(?:zip|zipcode|zip code|postcode|post code|postal code|"
                             r"postal|pin code|pincode|plz)\b")
#: a ZIP / postal code answer: 3 to 10 letters, digits, spaces or dashes, with a digit
_POSTCODE_ANSWER = re.compile(r"^(?=.*\d)[a-z0-9][a-z0-9 -]{2,9}$", re.IGNORECASE)


def _names_postcode(c, text) -> bool:
    """True when the column's id, or its wording of up to 8 words, names a ZIP / postal
    code (:data:`_POSTCODE_WORDS`)."""
    heads = [str(c)] + ([str(text)] if len(str(text).split()) <= 8 else [])
    return any(_POSTCODE_WORDS.search(" ".join(_tokens(_LOADER_NOTE.sub("", h))))
               for h in heads)


def _code_answers(answers) -> bool:
    """True when nearly all (95%) distinct answers read like postal codes
    (:data:`_POSTCODE_ANSWER`: "02062", "10001-1234", "SW1A 1AA")."""
    texts = [_WS.sub(" ", str(a)).strip() for a in answers]
    return bool(texts) and sum(bool(_POSTCODE_ANSWER.match(t)) for t in texts) >= 0.95 * len(texts)


def _names_identifier(c, text) -> bool:
    """True when the column's header, or its short wording (up to 4 words), ends with the
    word "ID" ("Clothing ID", "ProductId", "store_id", "ID"): it names the thing answered
    about, whose codes are labels, not amounts. :func:`_tokens` splits "ClothingID"."""
    for h in {str(c), str(text)}:
        words = _tokens(_LOADER_NOTE.sub("", h))
        if 1 <= len(words) <= 4 and words[-1] in ("id", "ids") and \
                not set(words) & _NOT_AN_ID_HEADER:
            return True
    return False


#: words of a header about an ID rather than naming one ("Support for voter ID", "Has photo
#: ID", "Rate the ID check"): a view or a fact about the respondent, answered as a number
_NOT_AN_ID_HEADER = {"support", "oppose", "favor", "favour", "satisfied", "satisfaction",
                     "rate", "rating", "opinion", "has", "have", "had", "valid", "need",
                     "needs", "require", "required", "show", "shown", "photo", "voter"}


def _infer_numeric(c, text, st, values, missing, toks, demographic, seg, grid):
    """Draft a column whose answers are all numbers; returns (question, notes). Whole
    numbers under a header named like an identifier (:func:`_names_identifier`: Women's
    Clothing Reviews' "Clothing ID", repeated product codes) are type ``id``, role
    ``ignore``: never averaged, never profiled; unless the header says who someone is
    ("Party ID", "Gender ID": :func:`_describes_respondent`)."""
    distinct = len(values)
    ints = all(float(v).is_integer() for v in values)
    lo, hi = min(values), max(values)
    if ints and not demographic and distinct > 2 and _names_identifier(c, text):
        return Question(c, text, "id", "ignore"), [
            f"{c}: named as an identifier and holding whole numbers: "
            "codes of things (a product, a store ...), not amounts; drafted type id, role "
            "ignore (never averaged or profiled) - make it single with labelled codes to "
            "describe personas by it"]
    if ints and distinct == st.n and st.n >= 10 and (
            hi - lo + 1 <= 2 * distinct or toks & {"id", "serial", "sn", "no"}):
        return Question(c, text, "id", "ignore"), []
    notes = []
    if ints and distinct <= 16:
        main, sentinels = _split_sentinels(values)
    else:       # an amount (age 18..90) with 999 = refused: far above every real answer
        main, sentinels = sorted(values), []
        while len(main) >= 3 and _sentinel_like(main[-1]) and main[-1] > 2 * max(main[-2], 1):
            sentinels.append(main.pop())
        # a negative code under answers that are never negative: -9 / -99 (listed or all
        # nines), or any whole number far below them (projoint's hhi 1..24 with -3105)
        while len(main) >= 3 and main[1] >= 0 and main[0] <= -2 and \
                float(main[0]).is_integer() and (
                    _sentinel_like(main[0]) or -main[0] > 2 * max(main[-1], 1)):
            sentinels.append(main.pop(0))
    if sentinels:
        missing = list(missing) + [MissingCode(int(v), f"{int(v)} (unlabelled code)", "unlabelled")
                                   for v in sentinels]
        notes.append(f"{c}: code(s) {', '.join(str(int(v)) for v in sentinels)} sit apart from "
                     f"the answers {int(main[0])}..{int(main[-1])}; drafted as missing - check")
        values, distinct, lo, hi = main, len(main), min(main), max(main)
    count = {float(k): v for k, v in st.count.items() if _looks_numeric(k)}
    countlike = bool(toks & _COUNT_WORDS) or demographic
    small_counts = toks & _COUNT_WORDS - {"year", "years"}
    if ints and set(values) <= {0, 1} and distinct == 2 and not small_counts:
        yes_no = bool(_YES_NO_QUESTION.match(text.strip())) or text.strip().endswith("?")
        labels = ("No", "Yes") if yes_no else ("0", "1")
        if yes_no:
            notes.append(f"{c}: 0/1 answers drafted as No/Yes; check")
        return Question(c, text, "single", "profile" if demographic else seg,
                        [ScaleOption(0, labels[0]), ScaleOption(1, labels[1])],
                        missing=missing), notes
    if ints and set(values) <= {-1, 0, 1} and -1 in values and not countlike:
        return Question(c, text, "likert", seg, [ScaleOption(v, str(v)) for v in (-1, 0, 1)],
                        missing=missing), notes
    if demographic and ints and 2 <= distinct <= 16 and not small_counts and \
            not toks & {"age", "year", "years", "zip", "postcode"}:
        # coded categories (gender 1/2, region 1-4, education 1-8): a choice, not an amount
        ordinal = bool(toks & {"educ", "education", "income"})
        return Question(c, text, "single", "profile",
                        [ScaleOption(int(v), str(int(v))) for v in sorted(values)],
                        missing=missing, ordered=True if ordinal else None), notes + [
            f"{c}: numeric codes of a demographic drafted as categories; add their labels"]
    if ints and (3 <= distinct <= 11 or (grid and distinct >= 2)) and not countlike:
        if lo == 0 and hi <= 7:
            c0, c1, c2 = (count.get(float(v), 0) for v in (0, 1, 2))
            if hi >= 4 and (_NA_HINT.search(text) or (hi == 5 and c0 > 1.5 * c1 and c1 < c2)):
                missing = list(missing) + [MissingCode(0, "0 (not applicable)", "not_applicable")]
                notes.append(f"{c}: 0 is set apart from the {int(hi)}-point scale (more 0s "
                             f"than 1s, or the text says n/a); drafted as 'not applicable' - "
                             "move it to the scale if 0 is an answer")
                return Question(c, text, "likert", seg,
                                [ScaleOption(v, str(v)) for v in range(1, int(hi) + 1)],
                                missing=missing), notes
            return Question(c, text, "likert", seg,
                            [ScaleOption(v, str(v)) for v in range(0, int(hi) + 1)],
                            missing=missing), notes
        for a, b in ((1, 5), (1, 7), (0, 10), (1, 10)):
            if lo >= a and hi <= b:
                return Question(c, text, "likert", seg,
                                [ScaleOption(v, str(v)) for v in range(a, b + 1)],
                                missing=missing), notes
    return Question(c, text, "numeric", "profile", missing=missing), notes


def _from_value_labels(c, text, st, vlabels, mcodes, seg, full_data) -> Question:
    """Qualtrics numeric / SPSS columns: codes in the data, labels alongside."""
    def code_of(k):
        f = float(k)
        return int(f) if f.is_integer() else f
    missing, scale = [], []
    for k, lab in vlabels.items():
        reason = mcodes.get(k) or _missing_reason(lab)
        if reason is not None:
            missing.append(MissingCode(code_of(k), lab, _slug(reason)))
        else:
            scale.append(ScaleOption(code_of(k), lab))
    for k, reason in mcodes.items():
        if k not in vlabels:
            missing.append(MissingCode(code_of(k), str(reason), _slug(reason)))
    scale.sort(key=lambda o: o.code)
    order = _match_likert([o.label for o in scale])
    if order is not None:
        by_label = {o.label: o for o in scale}
        ordered = [by_label[lab] for lab in order if lab in by_label]
        return Question(c, text, "likert", seg, ordered, missing=missing)
    # Only the end points labelled (0 = Not at all likely ... 10 = Extremely likely):
    # fill in the codes seen between them.
    seen = []
    for k in st.text:
        try:
            seen.append(float(k))
        except ValueError:
            pass
    miss_codes = {float(m.code) for m in missing if _is_number(m.code)}
    seen = [v for v in seen if v not in miss_codes]
    codes = sorted({o.code for o in scale} | {code_of(v) for v in seen})
    if len(codes) > len(scale) and all(float(x).is_integer() for x in codes) and \
            codes[-1] - codes[0] <= 10:
        lab = {o.code: o.label for o in scale}
        full = range(int(codes[0]), int(codes[-1]) + 1)
        return Question(c, text, "likert", seg, [ScaleOption(v, lab.get(v, str(v))) for v in full],
                        missing=missing)
    return Question(c, text, "single", seg, scale, missing=missing)


def _looks_indicators(raw, cols, sample) -> dict | None:
    """Option label per column when ``cols`` are one-column-per-option multi-select."""
    options, any_seen = {}, False
    for c in cols:
        st = _ColStats(sample[c])
        keys = [k for k in st.text if k not in _NEGATIVE_TICKS]
        if len(keys) > 1:
            return None
        any_seen |= bool(keys)
        opt = raw.option_labels.get(c)
        if opt is None and keys and keys[0] != "1" and not _looks_numeric(keys[0]):
            opt = str(st.text[keys[0]]).strip()
        if opt is None:
            lab = str(raw.labels.get(c, c))
            opt = lab.rsplit(" - ", 1)[-1].strip() if " - " in lab else lab
        options[c] = opt
    if not any_seen or len(set(options.values())) != len(options):
        return None
    return options


#: the last column of a block of tick boxes that holds the typed-in "Other" answer
_OTHER_OPTION = re.compile(r"(?:^|\s-\s)other\b[^-]*$|\bplease specify\b", re.IGNORECASE)


def is_other_specification(question) -> bool:
    """True for the free text that specifies a closed question's "Other" answer ("What is
    your employment status? - Other", "Other (please specify)"): a category written in,
    read with its closed question, not a respondent's voice to quote on a persona."""
    return getattr(question, "type", None) == "text" and bool(
        _OTHER_OPTION.search(str(getattr(question, "text", "") or "")))


def is_survey_feedback(question) -> bool:
    """True for an open question about the questionnaire itself ("Please tell us if you have
    any comments about this survey", "What question do you wish we had asked you?"): its
    answers judge the survey, they are no persona's voice. :func:`infer_codebook` drafts
    them role ``ignore``; this also tells them apart in a codebook written by hand."""
    return getattr(question, "type", None) == "text" and \
        asks_about_the_survey(getattr(question, "text", None))


def _common_text(raw, cols, default) -> str:
    labs = [str(raw.labels.get(c, c)) for c in cols]
    heads = {lab.rsplit(" - ", 1)[0].strip() for lab in labs if " - " in lab}
    if len(heads) == 1 and all(" - " in lab for lab in labs):
        return heads.pop()
    return str(raw.labels.get(default, default))


def _flag_reversed(questions: list[Question], raw, sample, notes: list[str]) -> None:
    """Reverse keying: a name/label marker, or an item running against its battery."""
    for q in questions:
        if q.type == "likert" and (_REVERSE_MARK.search(q.id) or
                                   re.search(r"\(r\)|revers", q.text, re.IGNORECASE)):
            q.reverse = True
            notes.append(f"{q.id}: marked reverse-keyed by its name/label; check")
    grids = {}
    for q in questions:
        if q.type == "likert" and q.grid:
            grids.setdefault(q.grid, []).append(q)
    ctx = _Ctx(raw)
    for items in grids.values():
        if len(items) < 3:
            continue
        mat = np.column_stack([
            _parse_scaled(q, sample[q.id].reset_index(drop=True), ctx).values[q.id]
            .astype(float) for q in items])
        mat[mat < 0] = np.nan
        for j, q in enumerate(items):
            if q.reverse:
                continue
            with warnings.catch_warnings():     # rows with no other answer: NaN is right
                warnings.simplefilter("ignore", RuntimeWarning)
                rest = np.nanmean(np.delete(mat, j, axis=1), axis=1)
            ok = ~np.isnan(mat[:, j]) & ~np.isnan(rest)
            if ok.sum() < 30 or np.std(mat[ok, j]) == 0 or np.std(rest[ok]) == 0:
                continue
            r = np.corrcoef(mat[ok, j], rest[ok])[0, 1]
            if r < -0.3:
                q.reverse = True
                notes.append(f"{q.id}: runs against the rest of grid {q.grid!r} "
                             f"(r = {r:.2f}); drafted as reverse-keyed, check")


#: Question texts up to this long are their own label; longer ones get a drafted ``short``.
SHORT_DRAFT_LEN = 40
#: piping placeholders: Typeform {{field:...}}, Qualtrics ${q://...}, the DETE/TAFE export's
#: %[Institute]Q25LBL% (also seen with its "[" lost: %Institute]Q25LBL%)
_PIPED = re.compile(r"\{\{[^}]*\}\}|%\[?[^\]%\s]*\][^%\s]*%|\$\{[^}]*\}")
#: "InductionInfo. Face to Face Topic:" - a block name, a dot, an optional qualifier
_TOPIC_PREFIX = re.compile(r"^[\w ]{1,40}\.\s*(?:([\w -]{0,30})\s)?topic\s*:\s*(?:\d+\s*\.\s*)?",
                           re.IGNORECASE)
_NUMBERING = re.compile(r"^(?:q\d+(?:[._]\d+)*[a-z]?[.):]?|\d+(?:\.\d+)*[a-z]?[.):])\s+",
                        re.IGNORECASE)
_LEAD = re.compile(r"^(?:please\s+(?:indicate|rate|select|tell us|choose|state)\s+(?:the\s+|your\s+)?"
                   r"|how much do you agree(?: or disagree)?(?: with)?(?: the following"
                   r"(?: statements?)?)?\s*:?\s*)", re.IGNORECASE)


#: the note the loader appends to a header it had to rename (``loaders._unique_ids``): a
#: repeated column name ("Why or why not? (duplicate column name 'Why or why not?',
#: occurrence 2, file column 40)") or a blank one ("column_7 (no header; column 7)")
_LOADER_NOTE = re.compile(r"\s*\((?:duplicate column name\b.*|no header; column \d+\))$")


def _clean_text(text) -> str:
    """The question as asked: one line, no markdown stars, no loader's duplicate note."""
    t = _LOADER_NOTE.sub("", str(text or ""))
    return _WS.sub(" ", t).replace("*", "").strip()


def _body(t: str) -> str:
    """The question without numbering, piping placeholders and lead-ins."""
    body = _PIPED.sub("", t)
    body = _TOPIC_PREFIX.sub("", body)
    body = _NUMBERING.sub("", body)
    return _WS.sub(" ", _LEAD.sub("", body)).strip()


def _capitalise(c: str) -> str:
    if c and c[0].islower() and not any(ch.isupper() for ch in c.split()[0][1:]):  # "macOS"
        c = c[0].upper() + c[1:]
    return c


def _cut(c: str, max_len: int) -> str:
    """``c`` cut at a word to ``max_len`` characters, ellipsis included."""
    if len(c) <= max_len:
        return c
    cut = c[:max_len].rsplit(" ", 1)[0].rstrip(" ,;:-(")
    return (cut if len(cut) >= max_len // 2 else c[:max_len - 1]) + "\u2026"


def draft_short(text: str, max_len: int = SHORT_DRAFT_LEN) -> str | None:
    """A short label for a long question text, or ``None`` when the text is short enough.

    Deterministic and readable, in this order: the grid row of ``Question [Row]`` (Google
    Forms) or the item after the last " - " (Qualtrics batteries); else the text without
    its numbering, piping placeholders and lead-ins ("Please indicate...", "To what extent
    do you..."), cut at its first clause (``?``, ``:``, ``;``, `` (``) and, if still long,
    at a word boundary with an ellipsis. A text that is long only because of the loader's
    note on a repeated column name ("Why or why not? (duplicate column name ...)") gets
    the question as asked. :func:`infer_codebook` then tells apart questions whose labels
    would read alike (see ``_draft_shorts``).

    Examples
    --------
    >>> draft_short("How often do you purchase these products online? [Electronics]")
    'Electronics'
    >>> draft_short("How many employees does your company or organization have?")
    'How many employees does your company or…'
    """
    raw = _WS.sub(" ", str(text or "")).replace("*", "").strip()
    if len(raw) <= max_len:
        return None
    t = _clean_text(raw)
    if len(t) <= max_len:
        return t
    candidates = []
    m = re.search(r"^[^\[\]]*\[([^\[\]]+)\]\s*$", t)     # one [Row], not a run of [Field-1]
    if m:
        candidates.append(m.group(1))
    if " - " in t:
        candidates.append(t.rsplit(" - ", 1)[1])
    body = _body(t)
    candidates.append(_clause(body) or body)
    for c in candidates:
        c = _WS.sub(" ", c).strip(" .,-")
        if len(c) >= 2:
            break
    else:
        c = t
    return _cut(_capitalise(c), max_len)


def _clause(body: str) -> str:
    return re.split(r"\?|:|;|\s\(|\s\[|\.\s|\s-\s", body, maxsplit=1)[0].strip(" .,-")


#: words a label's window should neither start nor end on ("...with a…")
_FUNCTION_WORDS = frozenset(
    "a an the that this to of with and or you your do does did be is are was were it its in "
    "on for at by as if from into about would will can could should have has had not no".split())


def _words_key(label: str) -> str:
    """What a reader can tell apart: case, punctuation and ellipses do not count."""
    return " ".join(re.sub(r"[^\w\s]", " ", label.replace("\u2026", " ").casefold()).split())


def _word_key(w: str) -> str:
    return re.sub(r"[^\w]", "", w.casefold())


def _differing_span(words: list[str], others: list[list[str]]) -> tuple[int, int, int] | None:
    """Where ``words`` differs from each of ``others`` (lists of :func:`_word_key` keys),
    as ``(lo, need, end)``: the words
    ``words[lo:need]`` hold at least one difference from every other text, ``words[lo:end]``
    all of them. Replaced or added words count first; where it only lacks words another
    has, the words on both sides of the gap (or its end, when the other goes on). ``None``
    when it reads like one of them word for word."""
    mine = [_word_key(w) for w in words]
    spans, firsts = [], []
    # ``mine`` as the matcher's second sequence, which it indexes once for all the others
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(mine)
    flip = {"insert": "delete", "delete": "insert", "replace": "replace"}
    for other in others:
        matcher.set_seq1(other)
        ops = [(flip[tag], i1, i2, j1, j2) for tag, j1, j2, i1, i2 in matcher.get_opcodes()
               if tag != "equal"]
        if not ops:
            return None
        pick = [op for op in ops if op[0] == "replace"] or \
            [op for op in ops if op[0] == "delete"] or ops
        # "are ... current job" vs "were ... previous job": "current", not "are"
        pick = [op for op in pick if not set(mine[op[1]:op[2]]) <= _FUNCTION_WORDS] or pick
        mine_spans = [(i1, i2) if i2 > i1 else (max(i1 - 1, 0), min(i1 + 1, len(words)))
                      for _, i1, i2, _, _ in pick]
        spans += mine_spans
        firsts.append(mine_spans[0][1])
    lo = min(a for a, _ in spans)
    return lo, max(firsts), max(b for _, b in spans)


def _window(words: list[str], lo: int, hi: int, budget: int, complete: bool) -> str | None:
    """``words[lo:hi]`` as a label part of at most ``budget`` characters (ellipsis
    included); with ``complete``, followed by the words up to the next function word
    ("physical" -> "physical health issue")."""
    e = hi
    if complete:
        while e < len(words) and e - hi < 4 and _word_key(words[e]) not in _FUNCTION_WORDS:
            e += 1
    while e > hi and _word_key(words[e - 1]) in _FUNCTION_WORDS:
        e -= 1
    text = " ".join(words[lo:e]).strip(" ,;:-(?.")
    if e < len(words):
        text += "\u2026"
    if len(text) > budget:
        if budget < 8:
            return None
        text = _cut(text.rstrip("\u2026"), budget)
    return text or None


def _gapped(words: list[str], head: int, span: tuple[int, int, int], max_len: int) -> str | None:
    """The question's opening (its drafted short label, ``words[:head]``) and the words
    that tell it apart (``span`` from :func:`_differing_span`), in ``max_len`` characters:
    the opening read on to the differences ("Would you call yourself a strong
    Republican…"), else the opening, an ellipsis and the differences ("Do you think that
    discussing a mental… with your employer…"). ``None`` when nothing fits."""
    n = len(words)
    lo, need, end = span
    for hi in dict.fromkeys((end, need)):
        tail = "\u2026" if hi < n else ""
        whole = " ".join(words[:max(head, hi)]).strip(" ,;:-(?.") + tail
        if len(whole) <= max_len:
            return whole
    if lo < head:            # the difference is inside the opening, which is too long
        return None
    for hi in dict.fromkeys((end, need)):
        tail = "\u2026" if hi < n else ""
        for h in range(head, 1, -1):
            while h > 2 and _word_key(words[h - 1]) in _FUNCTION_WORDS:
                h -= 1                   # "discussing a…" says no more than "discussing…"
            opening = " ".join(words[:h]).rstrip(" ,;:-(")
            for s in range(max(lo - 2, h), lo + 1):      # up to two words of context
                part = " ".join(words[s:hi]).strip(" ,;:-(?.")
                label = f"{opening}\u2026 {part}{tail}"
                if len(label) <= max_len:
                    return label
    return None


#: texts that only make sense after the question before them ("Why or why not?", "Other")
_BARE_FOLLOW_UP = re.compile(
    r"^\W*(?:why(?:\s+or\s+why\s+not|\s+not|\s+is\s+that|\s+so)?|please\s+(?:explain|specify|"
    r"elaborate|comment)|explain(?:\s+why)?|comments?|other(?:\s*\(please\s+specify\))?|"
    r"if\s+(?:so|yes|no|other)[\s,]*(?:please\s+)?(?:explain|specify|why)?)\W*$", re.IGNORECASE)


def _parent_of(questions: list[Question], i: int) -> Question | None:
    """The closed question right before ``questions[i]`` (the one a "Why or why not?"
    follows up)."""
    for q in reversed(questions[:i]):
        if q.type in ("id", "weight", "meta", "date"):
            continue
        return q if q.type != "text" else None
    return None


def _source(text: str, short: str | None) -> tuple[str, str | None]:
    """The part of ``text`` its drafted label reads (the battery item of "How satisfied
    are you? - Pay", else the question without numbering and lead-ins) and, for a battery
    item, the battery's stem."""
    base = _word_key((short or "").rstrip("\u2026"))
    if base:
        m = re.search(r"^([^\[\]]*)\[([^\[\]]+)\]\s*$", text)
        if m and _word_key(m.group(2)).startswith(base):
            return m.group(2).strip(), m.group(1).strip()
        if " - " in text:
            stem, item = text.rsplit(" - ", 1)
            if _word_key(item).startswith(base):
                return item.strip(), stem.strip()
    return _body(text), None


def _tell_apart(questions: list[Question], group: list[int], max_len: int) -> dict[int, str]:
    """Labels that tell apart the questions ``group`` (positions in ``questions``) whose
    drafted labels read alike; positions left out keep theirs."""
    texts = {i: _clean_text(questions[i].text or questions[i].id) for i in group}
    out = {}
    # "InductionInfo. Face to Face Topic: Did you undertake a Corporate Induction?" and its
    # "On-line" twin: the qualifier before "Topic:" tells them apart.
    quals = {}
    for i in group:
        m = _TOPIC_PREFIX.match(_PIPED.sub("", texts[i]))
        quals[i] = _WS.sub(" ", (m.group(1) or "") if m else "").strip(" -")
    if len(set(quals.values())) == len(group):
        for i in group:
            base = questions[i].short or texts[i]
            if quals[i]:
                base = _cut(base.rstrip("\u2026"), max_len - len(quals[i]) - 3)
                out[i] = f"{base} ({quals[i]})"
        return out
    sources = {i: _source(texts[i], questions[i].short) for i in group}
    words = {i: sources[i][0].split() for i in group}
    keys = {i: [_word_key(w) for w in words[i]] for i in group}
    same: dict[str, list[int]] = {}
    for i in group:
        span = _differing_span(words[i], [keys[j] for j in group if j != i])
        if span is None:
            same.setdefault(" ".join(map(_word_key, words[i])), []).append(i)
            continue
        drafted = (questions[i].short or "").rstrip("\u2026")
        head = len(drafted.split())
        if not drafted or _word_key(" ".join(words[i][:head])) != _word_key(drafted):
            head = len(_clause(sources[i][0]).split())
        label = _gapped(words[i], head, span, max_len)
        if label:
            out[i] = _capitalise(label)
    # The same item under two battery stems ("... current job? - Pay" / "... previous
    # job? - Pay"): the stems' differing words. Word for word the same ("Why or why not?"
    # twice, "Other" after two choices): the question each follows up.
    def stem_words(i):
        return _body(sources[i][1]).split() if sources[i][1] else None

    def parent_words(i):
        parent = _parent_of(questions, i)
        if parent is None or not _BARE_FOLLOW_UP.match(sources[i][0]):
            return None
        return _source(_clean_text(parent.text or parent.id), parent.short)[0].split()

    for alike in same.values():
        for context_of in (stem_words, parent_words):
            if len(alike) < 2:
                break
            context = {i: context_of(i) for i in alike}
            if not all(context.values()):
                continue
            ckeys = {i: [_word_key(w) for w in context[i]] for i in alike}
            still: dict[str, list[int]] = {}
            for i in alike:
                span = _differing_span(context[i], [ckeys[j] for j in alike if j != i])
                part = None
                if span is not None:
                    base = questions[i].short or texts[i]
                    part = _window(context[i], span[0], span[1], max_len - len(base) - 3,
                                   complete=True)
                if part:
                    out[i] = f"{base} ({part})"
                else:
                    still.setdefault(" ".join(map(_word_key, context[i])), []).append(i)
            alike = [i for ids in still.values() for i in ids]
    return out


def _ambiguous_groups(labels: dict[int, str]) -> list[list[int]]:
    """Positions whose labels a reader cannot tell apart: the same words (case,
    punctuation and ellipses aside), or a cut label that opens another one."""
    keys = {i: _words_key(lab) for i, lab in labels.items()}
    parent = {i: i for i in labels}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    by_key: dict[str, int] = {}
    for i, k in keys.items():
        if k in by_key:
            parent[find(i)] = find(by_key[k])
        else:
            by_key[k] = i
    cut = [i for i, lab in labels.items() if lab.endswith("\u2026")]
    for i in cut:
        for j, k in keys.items():
            if j != i and keys[i] and k.startswith(keys[i] + " ") and find(i) != find(j):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in labels:
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


def _draft_shorts(questions: list[Question]) -> None:
    """Draft ``short`` for long texts, so that no two questions read alike.

    Questions whose drafts collide or read alike ("Do you think that discussing a
    mental…" for the current and the previous employer; "Why or why not?" twice) keep
    the words that tell them apart, in up to :data:`SHORT_MAX` characters cut at a word:
    the differing words after their opening ("Do you think that discussing a mental…
    with previous employers…"), a battery item's differing stem in brackets, or, for
    word-for-word repeats, the question each follows up ("Why or why not? (physical
    health issue…)"). Whatever still reads alike is told apart by its id."""
    kinds = ("id", "weight", "meta", "date")
    for q in questions:
        if q.short is None and q.type not in kinds:
            q.short = draft_short(q.text)
    labels = {i: (q.short or _clean_text(q.text) or str(q.id))
              for i, q in enumerate(questions) if q.type not in kinds}
    for group in _ambiguous_groups(labels):
        for i, lab in _tell_apart(questions, group, SHORT_MAX).items():
            if _words_key(lab) != _words_key(labels[i]):
                questions[i].short = labels[i] = lab
    seen: dict[str, list[Question]] = {}
    for i, lab in labels.items():
        seen.setdefault(_words_key(lab), []).append(questions[i])
    for qs in seen.values():
        for k, q in enumerate(qs[1:], start=2):
            tag = f" ({q.id})" if len(str(q.id)) <= 12 else f" ({k})"
            base = q.display_label.rstrip("\u2026")
            if len(base) + len(tag) > SHORT_MAX:
                base = base[:SHORT_MAX - len(tag) - 1].rstrip() + "\u2026"
            q.short = base + tag


def distinct_labels(questions) -> dict[str, str]:
    """{question id: label} for charts and heat maps, no two the same: each question's
    :func:`short_label`, except where two read word for word alike (a hand-written codebook
    without ``short``: OSMI's "... interferes with your work when being treated
    effectively?" and "... when NOT being treated effectively?" both cut to "If you have a
    mental health issue, do you feel that it…"). A question without ``short`` among those
    reads on to the words that tell it apart, as :func:`infer_codebook` drafts them; any
    still alike after the first gets its id in brackets (" (Q9)"). Takes
    :class:`Question` objects or mappings with ``id``/``text``/``short`` (YAML)."""
    qs, given = [], []
    for q in questions:
        get = q.get if isinstance(q, dict) else (lambda k, q=q: getattr(q, k, None))
        qtype = get("type") or "single"
        qs.append(Question(str(get("id") or ""), get("text"),
                           qtype if qtype in QUESTION_TYPES else "single", "profile",
                           short=get("short") or None))
        given.append(bool(get("short")))
    labels = {i: short_label(q) for i, q in enumerate(qs)}

    def collisions():
        same: dict[str, list[int]] = {}
        for i, lab in labels.items():
            same.setdefault(_words_key(lab), []).append(i)
        return [g for g in same.values() if len(g) >= 2]

    for group in collisions():
        for i in group:
            if not given[i]:        # the opening the drafter reads on from
                qs[i].short = draft_short(qs[i].text) if qs[i].text else None
        for i, lab in _tell_apart(qs, group, SHORT_MAX).items():
            if not given[i] and _words_key(lab) != _words_key(labels[i]):
                labels[i] = lab
    for group in collisions():
        for i in group[1:]:
            tag = f" ({qs[i].id})"
            base = labels[i].rstrip("\u2026")
            if len(base) + len(tag) > SHORT_MAX:
                base = base[:SHORT_MAX - len(tag) - 1].rstrip() + "\u2026"
            labels[i] = base + tag
    return {q.id: labels[i] for i, q in enumerate(qs)}


#: wording that makes a number column a count or an amount, even inside a rating battery
_COUNT_QUESTION = re.compile(
    r"\bhow\s+(?:many|much|old|long)\b|\b(?:age|years?|months?|weeks?|days?|hours?|minutes?|"
    r"times|price|cost|salary|income|amount|per)\b|\bin\s+(?:years|months|hours)\b",
    re.IGNORECASE)


def _rating_codes(q: Question, data) -> set | None:
    """The integer answers of number column ``q`` (its missing codes aside), or None
    when a non-integer or a non-number is among them."""
    if data is None or q.id not in getattr(data, "columns", ()):
        return None
    missing = {_norm(m.code) for m in q.missing} | {_norm(m.label) for m in q.missing}
    values = set()
    for u in pd.unique(data[q.id].dropna()):
        k = _norm(u)
        if k is None or k in missing:
            continue
        try:
            f = float(k)
        except ValueError:
            return None
        if not f.is_integer():
            return None
        values.add(int(f))
    return values


def _battery_peers(questions: list[Question], notes: list[str], data=None) -> None:
    """A column named like a demographic ("Country", "Religion") or a count ("Children",
    "Number of friends") inside a battery of 1-5 ratings (music, hobby and personality
    items of the Young People Survey) is one more rating of that battery.

    A number column joins the battery when its integer answers fall within the battery's
    codes and use at least 80% of them (and three or more), unless its wording asks for a
    count or an amount ("How many...", "age", "hours", "in years"): a count of children or
    siblings also has 0, or goes past the scale's top, and stays a number."""
    scales: dict[tuple, int] = {}
    likert = [q for q in questions if q.type == "likert"]
    for q in likert:
        key = tuple(q.scale_codes)
        scales[key] = scales.get(key, 0) + 1
    if not scales:
        return
    codes, n = max(scales.items(), key=lambda kv: kv[1])
    if n < 10 or n < 0.5 * len(likert):
        return
    template = next(q for q in likert if tuple(q.scale_codes) == codes)
    enough = max(3, 0.8 * len(codes))
    for q in questions:
        coded = q.type == "single" and q.role == "profile" and q.scale and \
            all(o.label == str(o.code) for o in q.scale) and \
            {o.code for o in q.scale} <= set(codes) and len(q.scale) >= enough
        counted = False
        if q.type == "numeric" and not q.grid and not q.min and not q.max and \
                not _COUNT_QUESTION.search(f"{q.id} {q.text}"):
            values = _rating_codes(q, data)
            counted = bool(values) and values <= set(codes) and len(values) >= enough
        if not (coded or counted):
            continue
        q.type, q.role, q.ordered = "likert", "segment", None
        q.scale = [ScaleOption(o.code, o.label) for o in template.scale]
        q.missing = _renumber(q.missing, max(int(c) for c in codes))
        notes[:] = [m for m in notes if not m.startswith(f"{q.id}: numeric codes")]
        what = "a count" if counted else "a demographic"
        notes.append(f"{q.id}: named like {what} but answered on the "
                     f"{len(codes)}-point scale of {n} other items; drafted as one of them")


#: headers of tick boxes that say who someone is (Queensland exit surveys: "Aboriginal",
#: "Torres Strait", "South Sea" (Islander), "Disability", "NESB": non-English-speaking
#: background), on top of :data:`_DEMOGRAPHIC`
_TICK_DEMOGRAPHIC = _DEMOGRAPHIC | {
    "aboriginal", "indigenous", "torres", "islander", "disability", "disabled", "nesb",
    "ethnic", "minority", "nationality", "citizen", "citizenship", "veteran", "lgbt",
    "lgbtq", "transgender", "carer", "caste", "tribe", "immigrant", "migrant"}
_TICK_DEMOGRAPHIC_PHRASE = re.compile(r"\bsouth sea\b|\bfirst nations?\b|\bnative\b|"
                                      r"\bnon[- ]english\b|\bpeople of colou?r\b",
                                      re.IGNORECASE)


def _one_level(q: Question, notes: list[str]) -> None:
    """A choice with one answer that is not a tick box describes; it segments nobody."""
    if q.role == "segment":
        q.role = "profile"
        notes.append(f"{q.id}: one answer ({q.scale[0].label!r}) for everyone who answered; "
                     "it tells nobody apart: drafted role: profile")


def _tick_boxes(questions: list[Question], data, notes: list[str]) -> list[Question]:
    """A column whose only answer is one option (blank, or a not-applicable code, in the
    other rows) is a tick box, not a one-level choice: as a segmentation input it can only
    say "answered", and a persona defined by it says something of everyone ("Aboriginal:
    Yes" for 100% of those who answered).

    With a not-applicable code beside it (DETE's "Aboriginal": 16 "Yes", 506 "N/A", 300
    blank) it is drafted as a yes/no flag: the code is the unticked state, labelled
    "No (N/A)" so the export's text still reads as that answer. With blanks only (a lone
    tick column) it is drafted as a one-option multi-select (blank: not known to be ticked).
    Either is role ``profile`` when its header reads like a demographic, and a lone tick
    never stays a segmentation input. Any other one-answer choice left is role ``profile``
    (``ignore`` when its one answer is a blank tick such as "-")."""
    out = []
    for q in questions:
        out.append(q)
        if q.type != "single" or len(q.scale) != 1 or q.role == "ignore" or q.grid or \
                data is None or q.id not in getattr(data, "columns", ()):
            continue
        only = q.scale[0]
        if _norm(only.label) in _NEGATIVE_TICKS:
            # TAFE's "Did you undertake Team Induction?" on-line: "-" (555) or blank (147)
            q.role = "ignore"
            notes.append(f"{q.id}: only {only.label!r} (nothing ticked) or blank; it tells "
                         "nobody apart: drafted role: ignore")
            continue
        s = data[q.id]
        vc = s.value_counts()      # count first, then normalise the distinct answers
        counts = vc.groupby(vc.index.map(_norm)).sum()
        ticked = int(counts.get(_norm(only.label), 0)) + int(
            counts.get(_norm(only.code), 0) if _norm(only.code) != _norm(only.label) else 0)
        others = [m for m in q.missing if counts.get(_norm(m.label), 0) or
                  counts.get(_norm(m.code), 0)]
        unticked = len(s) - ticked
        if ticked == 0 or unticked == 0:
            _one_level(q, notes)    # a constant answer (everyone said it), not a tick box
            continue
        demographic = _describes_respondent(q.id, q.text, tick=True) is not None or \
            q.role == "profile"
        na = [m for m in others if m.reason == "not_applicable"]
        if len(na) == 1 and len(others) == 1:
            m = na[0]
            shown = _WS.sub(" ", str(m.label)).strip()
            yes_like = _norm(only.label) in {"yes", "y", "true", "ticked", "checked", "1", "x"}
            label = f"{'No' if yes_like else 'Not ' + str(only.label)} ({shown})"
            if _ABBREV_LABEL.match(label) is None:
                _one_level(q, notes)
                continue
            q.scale = [ScaleOption(0, label), ScaleOption(1, only.label)]
            q.missing = [x for x in q.missing if x is not m]
            q.role = "profile" if demographic else "segment"
            notes.append(f"{q.id}: a tick box ({only.label!r} or {shown!r}); drafted as a "
                         f"yes/no flag, {shown!r} read as not ticked, role {q.role} - check")
            continue
        if others:
            _one_level(q, notes)
            continue
        if _OTHER_OPTION.search(q.text or ""):
            # the "Other" answer typed in, given once: an answer to read, not an option
            out[-1] = Question(q.id, q.text, "text", "profile", short=q.short)
            notes.append(f"{q.id}: the typed-in 'Other' answer, one text given; drafted as "
                         "free text")
            continue
        out[-1] = Question(q.id, q.text, "multi", "profile", columns={q.id: str(only.label)},
                           short=q.short, facet="demographic" if demographic else None)
        notes.append(f"{q.id}: a lone tick box ({only.label!r} or blank); drafted as a "
                     "one-option multi-select of role profile (a blank is not known to be "
                     "'no') - group it with its sibling options if it has any")
    return out


def _flag_peers(questions: list[Question], notes: list[str]) -> None:
    """A column named like a demographic ("Employment conditions") inside a run of yes/no
    flags answered the same way (the DETE exit survey's reasons for leaving, True/False)
    is one more flag of that run: its role follows theirs."""
    def answers(q):
        return tuple(_norm(o.label) for o in q.scale) if q.type == "single" else None

    i = 0
    while i < len(questions):
        key = answers(questions[i])
        j = i
        while j < len(questions) and key is not None and len(key) == 2 and \
                answers(questions[j]) == key:
            j += 1
        run = questions[i:j]
        if len(run) >= 5:
            segment = [q for q in run if q.role == "segment"]
            if len(segment) >= 0.75 * len(run):
                for q in run:
                    if q.role == "profile":
                        q.role = "segment"
                        notes.append(f"{q.id}: named like a demographic but one of {len(run)} "
                                     f"adjacent {'/'.join(o.label for o in q.scale)} flags; "
                                     "drafted with their role (segment)")
        i = max(j, i + 1)


def infer_codebook(raw, survey_name: str | None = None) -> Codebook:
    """Draft a codebook from a raw wave, for a researcher to check and edit.

    Detects the respondent id and weight columns, Likert items (text labels, numeric
    1-5/1-7/0-10, value labels) with the scale ordered low to high, "Don't know"-style
    answers as missing codes with reasons, multi-select (joined or one column per option),
    single choice, numeric, free text, dates, metadata and id-like columns, and groups
    batteries (Q3_1, Q3_2, ...) into grids. Types are decided on a sample of rows; answer
    sets are read from the whole column so no rare answer is left off a scale. Numeric
    ranges ("1-5", "6-25", "More than 1000", also with units or currency: "Less than 1
    year", "$10-$50", "2nd semester") and stages of use ("never smoked" < "tried smoking" <
    "former smoker" < "current smoker") are ordered low to high; a column named like a
    demographic or a count inside a battery of 1-5 ratings, answered on the battery's codes,
    is one more rating; a yes/no flag named like a demographic inside a run of flags takes
    their role. A text scale holds the answers offered: a known scale's point nobody chose
    is left off when the answers beside it are common (Never/Sometimes/Always stays 3
    points). Attention and instructed-response checks get ``attention_check`` and role
    ignore. A column with one answer and blanks or "N/A" otherwise is a tick box (a yes/no
    flag, or a one-option multi-select), role profile when it names a demographic; tick
    columns followed by a typed-in "Other" are one multi-select. Long texts get ``short``
    labels that tell look-alike questions apart.

    Who someone is, where they work and how long (a demographic, or a short header naming
    an institute, work area, business unit, position, classification, separation type,
    semester, place of residence or political party; "length of service") is role
    ``profile``: it describes personas, it does not define them - unless its answers are a
    rating scale ("Position" answered Agree ... Disagree stays ``segment``). Conjoint choice
    tasks and open questions about the survey itself are role ``ignore``; randomisation and
    display-order flags (``flipped``, ``FL_6_DO`` holding TRUE/FALSE or "|"-joined orders;
    never a rating) type ``meta``; a written row index
    ("Unnamed: 0") type ``id``. Typed answers that hardly ever repeat are free text, a
    typed-in gender of more than 12 answers is free text of role ``ignore``; usage scales
    are ordered from "not heard of it" to "use it often". An export's block prefix
    ("InstituteViews. Topic:12. ") is dropped from the wording (see
    ``_strip_block_prefixes``; "St. ", "Mr. " and other abbreviations are no block), and
    so is the loader's note on a renamed header ("(duplicate column name ...)": a drafting
    note instead). A ZIP / postal code is type ``id``, role ``ignore`` (never averaged). In
    a number column, a negative code far below answers that are never negative (-3105
    under 1..24), nines above them (999999) and a sentinel code the draft declares missing
    in another question (-5, 99) below or above all its answers are missing codes. Piping
    placeholders in answer labels are noted (scale labels must match the data), and made
    readable in tick-box option labels.

    Parameters
    ----------
    raw : RawWave
    survey_name : str, optional
        Defaults to the file's stem.

    Returns
    -------
    Codebook
        ``notes`` lists what deserves a second look (guessed reverse keying, etc.); they
        are written as comments by :func:`save_codebook`.
    """
    data = raw.data
    sample = _sample(data)
    notes: list[str] = []
    meta = set(raw.meta_columns) | {
        c for c in data.columns if re.sub(r"[^a-z0-9]", "", str(c).casefold()) in _META_NAMES}
    # Conjoint designs (Qualtrics / projoint "K-1-2", "F-1-1-3"): the attributes shown, drawn
    # at random per respondent; they describe the task, not the respondent.
    design = [c for c in data.columns if _CONJOINT.match(str(c))]
    if len(design) >= 2:
        meta |= set(design)
        notes.append(f"{', '.join(design[:3])} (+{len(design) - 3} more): conjoint design "
                     "columns (randomised attributes shown), drafted as meta - analyse them "
                     "with a conjoint tool, not as answers" if len(design) > 3 else
                     f"{', '.join(design)}: conjoint design columns, drafted as meta")
    id_col = _find_id_column(raw, sample, meta)
    weight_col = _find_weight(raw, sample, exclude={id_col})
    cols = [c for c in data.columns]
    consumed, wide, grid_of = set(), {}, {}
    # Multi-select in wide form and batteries: the loader's groups first, then Q5_1, Q5_2...
    candidate_groups = [(g, [c for c in cs if c in data.columns]) for g, cs in raw.groups.items()]
    by_prefix = {}
    grouped = {c for _, cs in candidate_groups for c in cs}
    for c in cols:
        # Q5_1, Q5_2 ... or "Contributing Factors. Ill Health" (a block name, a dot, the item)
        m = _PREFIX.match(str(c)) or _dot_prefix(c)
        if m and c not in grouped and c not in meta and c not in (id_col, weight_col):
            by_prefix.setdefault(m.group(1), []).append(c)
    candidate_groups += [(g, cs) for g, cs in by_prefix.items() if len(cs) >= 2]
    for gid, gcols in candidate_groups:
        if not gcols:
            continue
        options = _looks_indicators(raw, gcols, sample)
        if options is None and len(gcols) >= 3 and _OTHER_OPTION.search(
                str(raw.labels.get(gcols[-1], gcols[-1]))):
            # one tick column per option, then the "Other" answer typed in (Typeform's
            # "What operating system(s) do you use? - Other"): the ticks are the question
            options = _looks_indicators(raw, gcols[:-1], sample)
            if options is not None:
                gcols = gcols[:-1]
        if options is not None:
            # "Contributing Factors. Dissatisfaction" ticked as its own header: the option
            lead = f"{_WS.sub(' ', str(gid)).strip()}. "
            options = {c: o[len(lead):].strip() if str(o).startswith(lead) else o
                       for c, o in options.items()}
            qid = str(gid) if gid not in data.columns else f"{gid}_multi"
            role = "profile" if _describes_respondent(gid, gid, tick=True) else "segment"
            wide[gcols[0]] = Question(qid, _common_text(raw, gcols, gid), "multi", role,
                                      columns=options)
            consumed.update(gcols)
        else:
            for c in gcols:
                grid_of[c] = str(gid)
    questions = []
    for c in cols:
        if c in wide:
            questions.append(wide[c])
        if c in consumed:
            continue
        text = str(raw.labels.get(c, c))
        if c == id_col:
            q = Question(c, text, "id", "ignore")
        elif _row_index(c, data):
            q = Question(c, text, "id", "ignore")
            notes.append(f"{c}: a row index written with the file (distinct whole numbers); "
                         "drafted type id, role ignore")
        elif c == weight_col:
            q = Question(c, text, "weight", "ignore")
        elif c in meta:
            q = Question(c, text, "meta", "ignore")
        else:
            q, more = _infer_column(c, raw, sample, data, grid_of.get(c))
            notes += more
            if q.role == "segment" and _CONSENT.search(q.text or str(c)):
                q.role = "ignore"          # everyone analysed said yes: it tells nobody apart
                notes.append(f"{c}: a consent question; drafted role: ignore")
            q = _not_a_view(q, bool(design), notes)
            _mark_attention_check(q, data, notes)
            _screening_item(q, notes)
        questions.append(q)
    # Grids: likert items of one battery share a grid id and, where one holds the others'
    # answers, the fullest scale (a 5-point item where nobody said "Neutral" stays 5-point).
    members = {}
    for q in questions:
        if q.type == "likert" and q.id in grid_of:
            members.setdefault(grid_of[q.id], []).append(q)
    for gid, items in members.items():
        if len(items) < 2:
            continue
        fullest = max(items, key=lambda q: len(q.scale))
        full_keys = {_norm(o.label) for o in fullest.scale}
        for q in items:
            q.grid = gid
            if q is not fullest and {_norm(o.label) for o in q.scale} <= full_keys \
                    and all(_is_number(o.code) for o in q.scale) and not raw.value_labels.get(q.id):
                q.scale = [ScaleOption(o.code, o.label) for o in fullest.scale]
                q.missing = _renumber(q.missing, len(q.scale))
    _loader_notes_out(questions, notes)
    _strip_block_prefixes(questions)
    _battery_peers(questions, notes, data)
    _flag_peers(questions, notes)
    questions = _tick_boxes(questions, data, notes)
    _flag_reversed(questions, raw, sample, notes)
    _shared_missing_codes(questions, data, notes)
    _declare_leftovers(questions, raw, notes)
    _draft_shorts(questions)
    _readable_wordings(questions, notes)
    _piped_answers(questions, notes)
    name = survey_name or (Path(raw.path).stem if raw.path is not None else "survey")
    return Codebook(survey=name, respondent_id=id_col, weight=weight_col, questions=questions,
                    notes=_merge_notes(notes, [q.id for q in questions]))


#: an embedded-data flag that records which version of the questionnaire someone was shown
#: (projoint's ``flipped``: TRUE/FALSE, the order of the two profiles), by its name;
#: Qualtrics display-order columns (``FL_6_DO``, ``Q5_DO``) too. :func:`_not_a_view` also
#: asks that its answers look like a flag (:func:`_flag_answers`)
_DESIGN_FLAG = re.compile(
    r"^(?:(?:is_?)?flip(?:ped)?|randomi[sz](?:e|ed|ation)(?:_\w+)?|"
    r"rand(?:om)?_?(?:order|group|arm|assign\w*|condition|cond|version|flag)|display_?order|"
    r"order_?(?:shown|flag)|treat(?:ment)?_?(?:arm|group|assign\w*)|"
    r"exp(?:erimental)?_?(?:group|condition|cond|arm)|split_?(?:ballot|sample|half)|"
    r"ballot_?(?:form|version)|form_?version|version_?shown|"
    # Qualtrics display orders: a flow, block or numbered question's "_DO" ("FL_6_DO",
    # "BL_intro_DO", "Q5_DO", "QID12_DO_QID3"), never a snake_case wording that says "do"
    # ("q12_do_you_smoke", "quality_do")
    r"(?:fl_\d+|bl_\w+?|q(?:id)?\d+(?:[._]\d+)*)_do(?:_(?:fl|bl|qid|q)\d[\w.]*)?)$")
#: the answers of a conjoint / paired-profile choice task: "Community A", "Option 2"
_CHOICE_LABEL = re.compile(r"^([A-Za-z][\w ]{0,29}?)\s+([A-Z]|[1-9])$")
#: the answers' stem of a preference between two designs shown ("Logo A" / "Logo B"):
#: a taste the respondent holds, not a randomised profile (outside a conjoint export)
_STIMULUS = re.compile(r"^(?:logo|design|image|picture|photo|ad|advert|advertisement|slogan|"
                       r"tagline|headline|label|packaging|pack|layout|colou?r|font|icon|"
                       r"video|mock-?up|prototype|concept|version|name|title|page|flavou?r)s?$")
_CHOICE_WORDING = re.compile(r"\bwhich of (?:these|the|the following)\b[^?]{0,60}\b(?:prefer|"
                             r"choose|pick|vote for|rather)\b", re.IGNORECASE)
#: A question's wording that asks about the questionnaire itself, not about the topic:
#: feedback on the survey ("Please tell us if you have any comments about this survey",
#: "How did you find this questionnaire?", "How could we improve this survey?") and the
#: closing "What question do you wish we had asked you?" / "Is there anything we should
#: have asked?". The noun must end the phrase ("the survey tool you use", "the study
#: program" are the topic); "the" counts before survey / questionnaire only, and a study,
#: form, interview or poll must be "this" or "our" one ("Any comments on the interview?"
#: in a candidate-experience survey, "How would you rate the study overall?" in a course
#: survey are the topic).
_SURVEY_NOUN = (r"(?:(?:this|our)\s+(?:survey|questionnaire|poll|study|form|interview)|"
                r"(?:the|today'?s)\s+(?:survey|questionnaire))"
                r"(?=\s*(?:[^\w\s]|$|(?:itself|was|is|were|took|and|or|so|as|in|"
                r"today|overall|you|we|please)\b))")
_ABOUT_THE_SURVEY = re.compile(
    r"\b(?:comments?|feedback|thoughts|suggestions?|remarks?|opinions?|anything\s+else)\b"
    rf"[^?.!]{{0,60}}\b(?:about|on|regarding|concerning|of|for|with|to)\s+{_SURVEY_NOUN}"
    rf"|\b(?:improve|rate|find|like|enjoy|was|did\s+you\s+find)\s+{_SURVEY_NOUN}"
    rf"|\b{_SURVEY_NOUN}\s+(?:was|is|took|were|could|should|felt)\b"
    r"|\b(?:wish|want|would\s+like)\s+(?:that\s+)?(?:we|us|you)\s+(?:had\s+|to\s+|would"
    r"\s+have\s+|should\s+have\s+)?asked?\b"
    r"|\b(?:we|you)\s+(?:should|could|ought\s+to)\s+have\s+asked\b"
    # "... that we didn't ask?" / "... you forgot to ask about?" ends the question; "If you
    # didn't ask your employer ..., why not?" is the respondent's own story
    r"|\b(?:we|you)\s+(?:did\s*n[o']?t|did\s+not|forgot\s+to|failed\s+to)\s+ask"
    r"(?:\s+(?:about|you))?\s*(?:\?|$)"
    r"|\bquestions?\s+(?:that\s+)?(?:we|you)\s+(?:missed|did\s*n[o']?t\s+ask|did\s+not"
    r"\s+ask|should\s+(?:have\s+)?ask(?:ed)?)\b",
    re.IGNORECASE)


def asks_about_the_survey(wording) -> bool:
    """True when an open question's wording asks about the questionnaire itself (comments on
    this survey, a question we should have asked): its answers are feedback on the survey,
    not a persona's voice (the quotes step never quotes them)."""
    return bool(wording) and bool(_ABOUT_THE_SURVEY.search(str(wording)))


def _choice_task(q: Question, design: bool) -> bool:
    """A forced choice between profiles ("Which of these two communities do you prefer?":
    Community A / Community B): answers named by one word and a letter or number, worded as
    a choice between profiles or, where the export holds a conjoint design, showing the
    profiles ("Community A") in its wording or having no wording of its own."""
    if q.type != "single" or not 2 <= len(q.scale) <= 4:
        return False
    stems = set()
    for o in q.scale:
        m = _CHOICE_LABEL.match(_WS.sub(" ", str(o.label)).strip())
        if m is None:
            return False
        stems.add(m.group(1).casefold())
    if len(stems) != 1:
        return False
    text = _WS.sub(" ", str(q.text or "")).strip()
    if _CHOICE_WORDING.search(text) and not _STIMULUS.match(next(iter(stems))):
        return True
    # where the export holds a conjoint design: a task with no wording of its own, or one
    # whose wording shows the profiles ("... Community Trait Community A Community B")
    return design and (text == str(q.id) or any(
        re.search(rf"(?<!\w){re.escape(_WS.sub(' ', str(o.label)).strip())}(?!\w)", text,
                  re.IGNORECASE) for o in q.scale))


#: the answers of a flag drawn at random: TRUE / FALSE, or a version / group code
_FLAG_LABEL = re.compile(r"^(?:true|false|t|f|0|1|yes|no|[a-z]|\d{1,3}|"
                         r"(?:version|form|group|arm|condition|block|order)\s*[\w-]{1,3}|"
                         r"control|treat(?:ment|ed)?)$", re.IGNORECASE)


def _flag_answers(q: Question) -> bool:
    """True when a column's answers look like a randomisation flag or display order:
    TRUE/FALSE or a version code ("A", "2", "Control"), a number, or orders joined by "|"
    ("Block1|Block2"); never a rating scale ("q13_do_you_exercise": Agree ... Disagree)."""
    if q.type == "likert":
        return False
    if q.type == "numeric":
        return True
    if q.type == "multi":
        return q.separator == "|"
    labels = [_WS.sub(" ", str(o.label)).strip() for o in q.scale]
    return bool(labels) and all("|" in lab or _FLAG_LABEL.match(lab) for lab in labels)


def _not_a_view(q: Question, design: bool, notes: list[str]) -> Question:
    """Columns that say nothing of who a respondent is or what they think, drafted role
    ignore with a note: a randomisation flag or display order (embedded data, named like
    :data:`_DESIGN_FLAG` and without a question's wording; type ``meta``), a conjoint
    choice task (which profile was chosen: a conjoint tool reads it with the design
    columns), and an open question about the survey itself (:func:`asks_about_the_survey`:
    neither an input nor a persona's voice)."""
    name = _WS.sub("_", str(q.id).strip().casefold())
    unworded = _WS.sub("_", str(q.text or q.id).strip().casefold()) == name
    if q.type not in ("id", "weight", "meta", "date", "text") and unworded and \
            _DESIGN_FLAG.match(name) and \
            (_flag_answers(q) if re.search(r"_do(?:_|$)", name) else q.type != "likert"):
        notes.append(f"{q.id}: a randomisation / display-order flag (which version someone "
                     "was shown, drawn at random), not an answer; drafted type meta, role "
                     "ignore - use it to check the versions are balanced")
        return Question(q.id, q.text, "meta", "ignore", short=q.short)
    if q.role != "ignore" and _choice_task(q, design):
        q.role = "ignore"
        notes.append(f"{q.id}: a conjoint choice task ({' / '.join(q.scale_labels)}): the "
                     "profiles shown were drawn at random, so the choice alone says nothing "
                     "of the respondent; drafted role: ignore - analyse it with the design "
                     "columns in a conjoint tool")
    elif q.role != "ignore" and is_survey_feedback(q):
        q.role = "ignore"
        notes.append(f"{q.id}: feedback on the survey itself, not the respondent's views; "
                     "drafted role: ignore (kept out of quotes and themes) - read it when "
                     "revising the questionnaire")
    return q


#: a column that says it is an attention / instructed-response check (its id or text)
_ATTENTION_NAME = re.compile(
    r"\b(?:attention|attn)[\s_-]*checks?\b|\binstructed[\s_-]*(?:response|item)s?\b|"
    r"\bbogus[\s_-]*items?\b|"
    r"\bto (?:show|confirm|prove) (?:that )?you(?:'re| are) (?:reading|paying attention)|"
    r"\b(?:if|that) you(?:'re| are) (?:reading|paying attention)\b", re.IGNORECASE)
#: an instruction to give one answer ("Please select 'Strongly disagree'"): its verb
_INSTRUCTION = r"\b(?:select|choose|mark|pick|click|tick|check|answer|respond with|enter)\b"
#: wording that makes an instruction naming an answer a check, not a routing hint
_CHECK_CUE = re.compile(r"attention|\bread(?:ing)?\b|\bthis (?:item|question|statement|row|"
                        r"line)\b|\bto (?:show|confirm|prove)\b|\bregardless\b",
                        re.IGNORECASE)
_FAIL_WORDS = {"fail", "failed", "failure", "incorrect", "wrong", "not passed"}
_PASS_WORDS = {"pass", "passed", "correct", "success", "ok", "right"}


def _instructed_answer(q: Question) -> str | None:
    """The scale answer the question's wording tells respondents to give ("Please select
    'Strongly disagree' for this item" -> "Strongly disagree"); None when it names none."""
    text = q.text or ""
    for label in sorted(q.scale_labels, key=len, reverse=True):
        if re.search(_INSTRUCTION + r"(?:\s+(?:only|the|an?|option|answer|response|choice|"
                     r"button|box))*\s*[\"'\u201c\u2018]?" + re.escape(label) + r"(?![\w])",
                     text, re.IGNORECASE):
            return label
    return None


def _mark_attention_check(q: Question, data, notes: list[str]) -> None:
    """Give an attention / instructed-response check ``attention_check: {expected: ...}``
    and role ``ignore``: it tells careless respondents apart (the quality step flags whoever
    fails it), not kinds of respondents, so it must not define a segment.

    A check is a column whose id or text says so ("attention_check", "to show you are
    reading"), or whose wording tells respondents which of its own answers to give
    ("Please select 'Strongly disagree' for this item") on a rating scale or with a cue such
    as "this item" or "attention". The expected answer is the one the wording names, else
    the passing answers of a pass/fail result column (projoint's embedded ``attention_check``
    holds "failed" or nothing: expected "passed", so "failed" fails and a blank passes)."""
    if q.type not in ("likert", "single", "multi", "numeric", "text"):
        return
    named = _ATTENTION_NAME.search(f"{q.id} {q.text}".replace("_", " ")) is not None
    expected = _instructed_answer(q) if q.scale else None
    if expected is not None and not named and not (
            q.type == "likert" or _CHECK_CUE.search(q.text or "")):
        expected = None
    if not named and expected is None:
        return
    if expected is None and data is not None and q.id in getattr(data, "columns", ()):
        answers = {_norm(u) for u in pd.unique(data[q.id].dropna())} - {None}
        answers -= {_norm(m.label) for m in q.missing} | {_norm(m.code) for m in q.missing}
        if answers and answers <= _FAIL_WORDS | _PASS_WORDS:
            passing = sorted(answers & _PASS_WORDS)
            expected = passing if len(passing) > 1 else (passing or ["passed"])[0]
            if not passing:
                notes.append(f"{q.id}: a result column that only marks failures; a blank "
                             "passes (leave the quality rule attention_missing_fails off)")
    q.role = "ignore"
    if expected is None:
        notes.append(f"{q.id}: an attention check (by its wording); drafted role: ignore - "
                     "add attention_check: {expected: <the passing answer>} so the quality "
                     "step flags whoever fails it")
        return
    q.attention_check = {"expected": expected}
    notes.append(f"{q.id}: an attention check; drafted attention_check: {{expected: "
                 f"{expected!r}}} and role: ignore (the quality step flags whoever fails it; "
                 "it defines no segment) - check the expected answer")


#: a word-association item ('"Build" is most associated with...': Understand / Assemble /
#: ...), one answer right: a comprehension or attention check (projoint Q3.1)
_WORD_ASSOCIATION = re.compile(
    r"^\s*[\"'\u201c\u2018][^\"'\u201c\u201d\u2018\u2019]{1,40}[\"'\u201d\u2019]\s+is\s+"
    r"(?:most\s+)?(?:closely\s+)?associated\s+with\s*(?:\.{2,}|\u2026|:|\?)?\s*$",
    re.IGNORECASE)
#: a self-report of answering carelessly ("How often do you provide humorous or insincere
#: responses to survey questions?", projoint Q7.2): about the data's quality, not the person
_ANSWER_QUALITY = re.compile(
    r"\b(?:insincere|humorous|joking|random|careless|dishonest|untruthful|made[- ]up|fake)\s+"
    r"(?:responses?|answers?)\b", re.IGNORECASE)
_ABOUT_SURVEYS = re.compile(r"\b(?:surveys?|questionnaires?|polls?|survey questions)\b",
                            re.IGNORECASE)


def _screening_item(q: Question, notes: list[str]) -> None:
    """Role ``ignore``, with a note, for a closed question that screens respondents rather
    than describing them: a word-association item (:data:`_WORD_ASSOCIATION`, a
    comprehension or attention check with one right answer) and a self-report of giving
    insincere, humorous or random answers to surveys (:data:`_ANSWER_QUALITY`)."""
    if q.role != "segment" or q.type not in ("likert", "single", "multi"):
        return
    text = q.text or ""
    if _WORD_ASSOCIATION.search(text):
        q.role = "ignore"
        notes.append(f"{q.id}: a word-association item (one answer is right): a comprehension "
                     "or attention check, not a view; drafted role: ignore - add "
                     "attention_check: {expected: <the right answer>} to screen by it")
    elif _ANSWER_QUALITY.search(text) and _ABOUT_SURVEYS.search(text) and \
            re.search(r"\byou\b", text, re.IGNORECASE):
        q.role = "ignore"
        notes.append(f"{q.id}: a self-report of answering surveys insincerely or at random: "
                     "it speaks to the data's quality, not to who someone is; drafted role: "
                     "ignore - use it to screen respondents (exclude_respondents), not to "
                     "segment")


def readable_piping(text) -> str:
    """``text`` with export piping placeholders made readable, for display: the loader's
    rule for Typeform's ``{{field:...}}`` / ``{{hidden:name}}`` (``loaders._clean_label``:
    "[earlier answer]" / "[name]") first, then the forms of :data:`_PIPED` it leaves:
    ``%[Institute]Q25LBL%`` or ``%Institute]Q25LBL%`` -> "[Institute]",
    ``${e://Field/Name}`` -> "[Name]", any other -> "[earlier answer]". Whitespace runs
    are collapsed. A scale label or option must stay as the data holds it to match the
    answers: show it through this function, do not rewrite it in the codebook.

    >>> readable_piping("Dissatisfaction with %[Institute]Q25LBL%")
    'Dissatisfaction with [Institute]'
    """
    from personalab.loaders import _clean_label

    def token(m):
        t = m.group(0)
        named = re.match(r"^%\[?([^\]%]+)\]", t) or \
            re.match(r"^\$\{e://Field/([^}]+)\}$", t, re.IGNORECASE)
        return f"[{named.group(1).strip()}]" if named else "[earlier answer]"

    return _PIPED.sub(token, _clean_label(str(text)))


def _readable_wordings(questions: list[Question], notes: list[str]) -> None:
    """Export piping placeholders left in a wording (TAFE's "...promotion within
    %Institute]Q25LBL%", Qualtrics' ``${e://Field/Name}``) made readable by
    :func:`readable_piping`, with a note. Run after the short labels are drafted
    (a closing "[Institute]" would read as a grid row). Ids, scale labels and options are
    left as the data holds them."""
    for q in questions:
        if not q.text or not _PIPED.search(q.text):
            continue
        found = _PIPED.findall(q.text)
        q.text = readable_piping(q.text)
        notes.append(f"{q.id}: the wording held the export's piping placeholder(s) "
                     f"{', '.join(found)}; shown as {q.text!r} - write the text respondents "
                     "saw")


def _numbers_in(s: pd.Series) -> pd.Series:
    """The distinct answers of a column that read as numbers, as floats."""
    u = pd.Series(pd.unique(s.dropna()))
    return pd.to_numeric(u.astype(str).str.strip(), errors="coerce").dropna()


def _shared_missing_codes(questions: list[Question], data, notes: list[str]) -> None:
    """A number column holding a sentinel code (negative, or :func:`_sentinel_like`: 99,
    998, ...) that the draft declares missing in another question of the same file, where
    that file column holds the code itself (projoint's -3105 set apart in ``education``,
    also under ``hhi``'s 1..24): declared missing here too, with the other question's label
    and reason, when it lies below or above all of this column's other answers, so it is
    never averaged. A code inside the answers' range (99 among ages 18..100) stays."""
    shared: dict[float, tuple[str, MissingCode]] = {}
    for q in questions:
        if q.columns or q.id not in getattr(data, "columns", ()):
            continue
        codes = [m for m in q.missing if _is_number(m.code) and float(m.code).is_integer()
                 and (float(m.code) < 0 or _sentinel_like(float(m.code)))]
        if not codes:
            continue
        held = set(_numbers_in(data[q.id]).tolist())
        for m in codes:
            if float(m.code) in held:
                shared.setdefault(float(m.code), (q.id, m))
    if not shared:
        return
    for q in questions:
        if q.type != "numeric" or q.id not in data.columns:
            continue
        values = set(_numbers_in(data[q.id]).tolist())
        have = {float(m.code) for m in q.missing if _is_number(m.code)}
        found = sorted(v for v in values & set(shared) - have
                       if shared[v][0] != q.id)
        for v in found:
            rest = values - {v} - have - set(found)
            if not rest or min(rest) <= v <= max(rest):
                continue
            src, m = shared[v]
            q.missing.append(MissingCode(int(v), m.label, m.reason))
            notes.append(f"{q.id}: code {int(v)} is drafted as missing in {src} (reason: "
                         f"{m.reason}) and lies outside this column's other answers "
                         f"({_fmt_num(min(rest))}..{_fmt_num(max(rest))}); drafted as missing "
                         "here too, so it is never averaged - check")


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _piped_answers(questions: list[Question], notes: list[str]) -> None:
    """Export piping placeholders in answer labels (TAFE's main-factor answer "Dissatisfaction
    with %[Institute]Q25LBL%"): an option label of a multi-select answered one column per
    option only names its column, so it is made readable (:func:`readable_piping`); a scale
    label, a joined multi-select option or a missing code's label must match the answers
    as the data holds them, so it is kept and named in a note with its readable form (show
    it through :func:`readable_piping`, or recode the data)."""
    for q in questions:
        if q.columns:
            piped = {c: lab for c, lab in q.columns.items() if _PIPED.search(str(lab))}
            if piped:
                q.columns = {c: readable_piping(lab) if c in piped else lab
                             for c, lab in q.columns.items()}
                notes.append(f"{q.id}: option label(s) held the export's piping placeholder "
                             f"({'; '.join(map(repr, piped.values()))}); shown as "
                             f"{'; '.join(repr(q.columns[c]) for c in piped)} - write the "
                             "option respondents saw")
        kept = [str(o.label) for o in q.scale] + [str(o) for o in q.options] + \
            [str(m.label) for m in q.missing]
        kept = [lab for lab in kept if _PIPED.search(lab)]
        if kept:
            notes.append(f"{q.id}: answer label(s) {'; '.join(map(repr, kept))} hold the "
                         "export's piping placeholder; kept as the data holds them so the "
                         "answers match - show them as "
                         f"{'; '.join(repr(readable_piping(lab)) for lab in kept)} "
                         "(codebook.readable_piping) or recode the answers")


def _merge_notes(notes: list[str], ids: list[str]) -> list[str]:
    """One note per finding: "A, B, C (+18 more): <what>" instead of 21 identical lines."""
    by_text: dict[str, list[str]] = {}
    other = []
    known = sorted(map(str, ids), key=len, reverse=True)
    for n in notes:
        qid = next((i for i in known if n.startswith(f"{i}: ")), None)
        if qid is None:
            other.append(n)
            continue
        by_text.setdefault(n[len(qid) + 2:], []).append(qid)
    out = []
    for what, qids in by_text.items():
        shown = ", ".join(qids[:3]) + (f" (+{len(qids) - 3} more)" if len(qids) > 3 else "")
        out.append(f"{shown}: {what}")
    return out + other
