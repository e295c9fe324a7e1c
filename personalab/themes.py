"""Theme codebooks and tagging open-text answers with them.

A theme codebook (YAML, schema in ``docs/design.md``) lists themes with the phrases
and spaCy token patterns that signal them::

    cb = ThemeCodebook.load("data/sample/themes.yml")
    result = tag_answers(survey.text()["Q12"], cb)
    result.tags        # one row per match: answer_id, theme, start_char, ..., negated
    result.matrix      # answer_id x theme, 0/1 (negated matches do not count)
    result.shares(by=labels)   # share of answers with each theme, per segment

Matching rules
--------------
* Phrases match on **lemmas, case-insensitively**: "Prices were too expensive"
  matches the phrase "price" and "too expensive". Token patterns are spaCy
  ``Matcher`` patterns (``LEMMA``/``LOWER`` values are compared in lower case).
* ``exclude`` phrases veto a theme's match that they overlap ("price match" is not
  a price complaint).
* Within one theme, overlapping matches collapse to the longest (then earliest).
* A child theme implies its parent in :attr:`TagResult.matrix` (``tags`` keeps
  only the direct matches, so every row points at words in the answer).
* **Negation.** A match is *negated* when a negation cue (``not``, ``n't``, ``no``,
  ``never``, ``without``, ``nothing``, ``none``, ``nobody``, ``neither``, ``nor``,
  ``hardly``, ``barely``, ``cannot``...) stands within the ``negation_window``
  (default 5) tokens before the match, in the same clause: the look-back stops at
  a sentence start, at punctuation (, ; : . ! ? brackets, dashes) and at a clause
  word (but, although, though, however, yet, whereas, except). A cue followed
  by ``only``, ``just``, ``sure``, ``doubt``, ``wonder``, ``believe``, ``mention``
  or ``matter`` ("not only", "no doubt", "can't believe") is not a negation; nor
  is a cue that opens a post-negation ("... is not an issue") or one with another
  theme's match between it and the match ("not into investing, track my spending":
  the cue belongs to "investing").
  A match is also negated when, within 3 tokens after it in the same clause, the
  answer goes on with "not/never/no + (a) problem/issue/concern/big deal" or
  "not bad" ("the price is not an issue"). So "not too expensive", "I don't mind
  the price" and "never had a problem with sync" do not count. Negated matches
  stay in ``tags`` (``negated=True``) for review but are not counted.
  The rule cannot tell "not syncing" (a complaint about syncing) from "not
  expensive": when a theme's word names something that fails, add the negated
  form as a phrase ("not sync", "doesn't sync"); a cue inside a match never negates it.

Speed
-----
With the default blank pipeline, :func:`tag_answers` tags identical answers once and
tokenizes each distinct space-separated chunk once with spaCy's own tokenizer (so the
tokens are exactly spaCy's). Arrow splits the answers into chunks; matching, the
overlap rules, sentence starts and negation are array operations over the tokens of
20,000 answers at a time. Answers only go through a spaCy ``Doc`` when a complex
token pattern may match them, or when their whitespace is unusual. ``engine="spacy"``
runs the plain ``nlp.pipe`` + ``PhraseMatcher``/``Matcher`` path, which gives the same
tags (tests check this). With ``n_jobs`` (by default from 20,000 distinct answers on)
forked worker processes share the distinct answers; the tags do not depend on it.
"""
from __future__ import annotations

import bisect
import csv
import functools
import io
import json
import re
from dataclasses import dataclass, field
from itertools import accumulate, chain
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .codebook import load_yaml_text, read_yaml_text
from .errors import CodebookError, ConfigError, InputError, short_path
from .text import (distinct_texts, effective_n_jobs, get_nlp, is_lookup_pipeline,
                   lemmatize_word, map_blocks, pa_indices, split_even)

SCHEMA_VERSION = 1
POLARITIES = ("negative", "positive", "neutral")
CSV_COLUMNS = ["id", "label", "description", "parent", "polarity", "phrases", "exclude"]
_THEME_KEYS = {"id", "label", "description", "parent", "polarity", "phrases", "patterns", "exclude"}
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

#: Lemmas that negate a following match (the lemma of "n't" is "not"; "dont" -> "do" "nt").
NEGATION_CUES = frozenset({
    "not", "no", "never", "nt", "without", "nothing", "none", "nobody", "neither",
    "nor", "hardly", "barely", "cannot", "nope", "nowhere", "noone",
})
#: A cue directly followed by one of these lemmas is not a negation ("not only", "no doubt").
PSEUDO_NEGATION_NEXT = frozenset({"only", "just", "sure", "doubt", "wonder", "believe",
                                  "mention", "matter"})
#: Lemmas that end a clause: negation does not reach across them.
CLAUSE_WORDS = frozenset({"but", "although", "though", "however", "yet", "whereas", "except"})
CLAUSE_PUNCT = frozenset({",", ";", ":", ".", "!", "?", "(", ")", "[", "]", "-", "--",
                          "\u2013", "\u2014", "...", "\u2026"})
#: "<match> is not a problem", "<match> has never been an issue", "<match> is not for me":
#: what may follow a match (within 3 tokens, same clause) to negate it. Each starts with a
#: cue; a "be" right after the cue is skipped. Compared on lemmas ("an" -> "a").
POST_NEGATIONS = (
    ("not", "a", "problem"), ("not", "an", "issue"), ("not", "a", "concern"),
    ("not", "a", "big", "deal"), ("not", "a", "worry"), ("not", "bad"), ("not", "for", "me"),
    ("never", "a", "problem"), ("never", "an", "issue"), ("never", "a", "concern"),
    ("no", "problem"), ("no", "issue"), ("no", "concern"),
)
DEFAULT_NEGATION_WINDOW = 5
#: ``TagResult.tags["sentence"]`` holds the whole sentence of a match up to this many
#: characters; a longer one is cut to ``SENTENCE_CONTEXT_TOKENS`` tokens either side of the
#: match, so a match in a 100 KB answer with no sentence marks keeps a snippet of a few
#: hundred characters, not a copy of the whole answer per match.
SENTENCE_MAX_CHARS = 500
SENTENCE_CONTEXT_TOKENS = 25


# --------------------------------------------------------------------------- codebook
@dataclass
class Theme:
    """One theme of a codebook.

    Attributes
    ----------
    id : str
        Short identifier (letters, digits, ``_ . -``), unique in the codebook.
    label, description : str
        Human-readable name and what the theme covers.
    parent : str or None
        Id of the parent theme (a match of this theme also counts for the parent).
    polarity : {"negative", "positive", "neutral"} or None
    phrases : list of str
        Matched on lemmas, case-insensitively.
    patterns : list of list of dict
        spaCy ``Matcher`` token patterns.
    exclude : list of str
        Phrases that veto a match of this theme when they overlap it.
    """

    id: str
    label: str = ""
    description: str = ""
    parent: str | None = None
    polarity: str | None = None
    phrases: list[str] = field(default_factory=list)
    patterns: list[list[dict]] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out: dict = {"id": self.id, "label": self.label or self.id}
        if self.description:
            out["description"] = self.description
        out["parent"] = self.parent
        if self.polarity:
            out["polarity"] = self.polarity
        out["phrases"] = list(self.phrases)
        if self.patterns:
            out["patterns"] = [list(p) for p in self.patterns]
        if self.exclude:
            out["exclude"] = list(self.exclude)
        return out


@dataclass
class ThemeCodebook:
    """A list of themes, loaded from and saved to YAML or CSV.

    Attributes
    ----------
    themes : list of Theme
    schema_version : int
    path : Path or None
        The file it was read from (used in error messages).
    """

    themes: list[Theme]
    schema_version: int = SCHEMA_VERSION
    path: Path | None = None

    # -- lookup
    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def __getitem__(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)

    def __len__(self) -> int:
        return len(self.themes)

    def ancestors(self, theme_id: str) -> list[str]:
        """Parent, grandparent, ... of a theme (nearest first)."""
        parents = {t.id: t.parent for t in self.themes}
        out, cur = [], parents.get(theme_id)
        while cur is not None and cur not in out:
            out.append(cur)
            cur = parents.get(cur)
        return out

    def children(self, theme_id: str) -> list[str]:
        return [t.id for t in self.themes if t.parent == theme_id]

    # -- validation
    def validate(self, *, lines: dict[str, int] | None = None) -> "ThemeCodebook":
        """Check the codebook; raise :class:`CodebookError` naming file, theme and fix."""
        file = short_path(self.path) if self.path else None
        lines = lines or {}

        def fail(problem, theme=None, fix=None):
            where = f"theme {theme!r}: " if theme is not None else ""
            raise CodebookError(where + problem, file=file,
                                row=lines.get(theme) if theme is not None else None, fix=fix)

        if self.schema_version != SCHEMA_VERSION:
            fail(f"schema_version {self.schema_version!r} is not supported",
                 fix=f"set 'schema_version: {SCHEMA_VERSION}'")
        if not self.themes:
            fail("the codebook lists no themes", fix="add at least one theme under 'themes:'")
        seen: set[str] = set()
        for t in self.themes:
            if not isinstance(t.id, str) or not _ID_RE.match(t.id):
                fail(f"theme id {t.id!r} is not a valid id", theme=str(t.id),
                     fix="use letters, digits, '_', '.' or '-' (no spaces), e.g. 'price_too_high'")
            if t.id in seen:
                fail("the id is used by more than one theme", theme=t.id,
                     fix="give every theme its own id")
            seen.add(t.id)
        for t in self.themes:
            if t.parent is not None and t.parent not in seen:
                fail(f"parent {t.parent!r} is not a theme of this codebook", theme=t.id,
                     fix=f"add a theme with id {t.parent!r} or correct the parent")
            if t.parent == t.id or t.id in self.ancestors(t.id):
                fail("its parents form a cycle", theme=t.id, fix="make the hierarchy a tree")
            if t.polarity is not None and t.polarity not in POLARITIES:
                fail(f"polarity {t.polarity!r} is not one of {', '.join(POLARITIES)}", theme=t.id,
                     fix="use negative, positive or neutral, or leave it out")
            for name in ("phrases", "exclude"):
                values = getattr(t, name)
                if not isinstance(values, list) or not all(
                        isinstance(v, str) and v.strip() for v in values):
                    fail(f"'{name}' must be a list of non-empty strings", theme=t.id,
                         fix=f'write it as {name}: ["first phrase", "second phrase"]')
            if not isinstance(t.patterns, list) or not all(
                    isinstance(p, list) and p and all(isinstance(tok, dict) and tok for tok in p)
                    for p in t.patterns):
                fail("'patterns' must be a list of token patterns (lists of dicts)", theme=t.id,
                     fix="e.g. patterns: [[{LEMMA: cost}, {LOWER: too}, {LOWER: much}]]")
            if not t.phrases and not t.patterns and not self.children(t.id):
                fail("the theme has no phrases, no patterns and no child themes", theme=t.id,
                     fix="add phrases (or patterns) so answers can be tagged with it")
        self._check_patterns(fail)
        return self

    def _check_patterns(self, fail) -> None:
        if not any(t.patterns for t in self.themes):
            return
        from spacy.matcher import Matcher
        from spacy.vocab import Vocab

        matcher = Matcher(Vocab())
        for t in self.themes:
            for i, pattern in enumerate(t.patterns):
                try:
                    matcher.add(f"{t.id}#{i}", [_lower_pattern(pattern)])
                except (ValueError, KeyError, TypeError) as exc:
                    fail(f"pattern {i + 1} is not a valid spaCy Matcher pattern: "
                         f"{str(exc).splitlines()[0]}", theme=t.id,
                         fix="see https://spacy.io/usage/rule-based-matching for the syntax")

    # -- YAML
    @classmethod
    def load(cls, path) -> "ThemeCodebook":
        """Read a theme codebook YAML file as :func:`personalab.codebook.read_yaml_text`
        reads one: UTF-8 (a file saved as cp1252 is refused naming the line and byte),
        plain data only (no Python tags), aliases capped (an alias bomb is refused)."""
        path = Path(path)
        try:
            text = read_yaml_text(path, what="theme codebook", error=CodebookError)
        except OSError as exc:
            raise CodebookError(f"cannot read the theme codebook ({exc.strerror})",
                                file=short_path(path), fix="check the path") from None
        return cls.from_yaml(text, path=path)

    @classmethod
    def from_yaml(cls, text: str, *, path=None) -> "ThemeCodebook":
        """A theme codebook from YAML text (``yaml.safe_load`` with the alias-expansion
        cap of :func:`personalab.codebook.load_yaml_text`)."""
        file = short_path(path) if path else None
        data = load_yaml_text(text, file=file, what="theme codebook", error=CodebookError)
        # only the top level's line numbers are read: no alias is followed
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if not isinstance(data, dict) or "themes" not in data:
            raise CodebookError("the file has no 'themes:' list", file=file,
                                fix="start from the schema in docs/design.md")
        lines = _theme_lines(root)
        unknown = set(data) - {"schema_version", "themes"}
        if unknown:
            raise CodebookError(f"unknown top-level key(s) {sorted(unknown)}", file=file,
                                fix="only 'schema_version' and 'themes' are allowed")
        raw_themes = data["themes"]
        if not isinstance(raw_themes, list):
            raise CodebookError("'themes' must be a list", file=file,
                                fix="write each theme as a '- id: ...' item")
        themes = []
        for i, item in enumerate(raw_themes):
            line = lines.get(i)
            if not isinstance(item, dict) or "id" not in item:
                raise CodebookError(f"theme {i + 1} has no 'id'", file=file, row=line,
                                    fix="give every theme an 'id:'")
            tid = str(item["id"])
            bad = set(item) - _THEME_KEYS
            if bad:
                raise CodebookError(f"theme {tid!r}: unknown key(s) {sorted(bad)}", file=file,
                                    row=line, fix=f"allowed keys: {', '.join(sorted(_THEME_KEYS))}")
            themes.append(_theme_from_mapping(item))
        cb = cls(themes=themes, schema_version=data.get("schema_version", SCHEMA_VERSION),
                 path=Path(path) if path else None)
        ids = [t.id for t in themes]
        return cb.validate(lines={tid: lines.get(i) for i, tid in enumerate(ids)})

    def to_yaml(self) -> str:
        body = {"schema_version": self.schema_version,
                "themes": [t.to_dict() for t in self.themes]}
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)

    def save(self, path) -> Path:
        """Write the codebook as YAML (``yaml.safe_dump``)."""
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    # -- CSV (Taguette / spreadsheets)
    def to_csv(self, path=None) -> str | Path:
        """One row per theme: id,label,description,parent,polarity,phrases,exclude.

        Phrases and exclusions are joined by ``;``. A ``patterns`` column (JSON) is
        added only when some theme has token patterns. Returns the CSV text when
        ``path`` is None, else writes it and returns the path.
        """
        cols = CSV_COLUMNS + (["patterns"] if any(t.patterns for t in self.themes) else [])
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for t in self.themes:
            for name in ("phrases", "exclude"):
                bad = [p for p in getattr(t, name) if ";" in p]
                if bad:
                    raise CodebookError(f"theme {t.id!r}: {name} {bad[0]!r} contains ';', the CSV "
                                        "separator", fix="save as YAML instead, or drop the ';'")
            row = [t.id, t.label, t.description, t.parent or "", t.polarity or "",
                   ";".join(t.phrases), ";".join(t.exclude)]
            if "patterns" in cols:
                row.append(json.dumps(t.patterns) if t.patterns else "")
            writer.writerow(row)
        if path is None:
            return buf.getvalue()
        path = Path(path)
        path.write_text(buf.getvalue(), encoding="utf-8")
        return path

    @classmethod
    def from_csv(cls, path_or_text, *, text: bool | None = None) -> "ThemeCodebook":
        """Read the CSV form written by :meth:`to_csv` (``tag`` is accepted for ``id``)."""
        is_text = text if text is not None else (
            isinstance(path_or_text, str) and "\n" in path_or_text)
        path = None if is_text else Path(path_or_text)
        file = short_path(path) if path else None
        try:
            content = path_or_text if is_text else \
                read_yaml_text(path, what="theme CSV", error=CodebookError)  # UTF-8 or refused
        except OSError as exc:
            raise CodebookError(f"cannot read the theme CSV ({exc.strerror})", file=file,
                                fix="check the path") from None
        rows = list(csv.reader(io.StringIO(content)))
        if not rows:
            raise CodebookError("the CSV is empty", file=file, fix="write a header row first")
        header = [h.strip().lower() for h in rows[0]]
        if "id" not in header and "tag" in header:
            header[header.index("tag")] = "id"
        if "id" not in header:
            raise CodebookError("the CSV has no 'id' column", file=file, row=1,
                                fix=f"use the header {','.join(CSV_COLUMNS)}")
        themes, lines = [], {}
        for n, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            rec = dict(zip(header, (c.strip() for c in row)))
            tid = rec.get("id", "")
            patterns = []
            if rec.get("patterns"):
                try:
                    patterns = json.loads(rec["patterns"])
                except json.JSONDecodeError as exc:
                    raise CodebookError(f"theme {tid!r}: the patterns cell is not JSON ({exc.msg})",
                                        file=file, row=n,
                                        fix='write it as [[{"LEMMA": "cost"}, {"LOWER": "too"}]]'
                                        ) from exc
            themes.append(Theme(
                id=tid, label=rec.get("label", "") or tid,
                description=rec.get("description", ""),
                parent=rec.get("parent") or None, polarity=rec.get("polarity") or None,
                phrases=_split_list(rec.get("phrases", "")),
                patterns=patterns, exclude=_split_list(rec.get("exclude", ""))))
            lines[tid] = n
        return cls(themes=themes, path=path).validate(lines=lines)


def load_themes(path) -> ThemeCodebook:
    """Read a theme codebook from YAML (``.yml``/``.yaml``) or CSV (``.csv``)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return ThemeCodebook.from_csv(path)
    return ThemeCodebook.load(path)


def _split_list(cell: str) -> list[str]:
    return [p.strip() for p in (cell or "").split(";") if p.strip()]


def _theme_from_mapping(item: dict) -> Theme:
    def as_list(v):
        if v is None:
            return []
        return list(v) if isinstance(v, (list, tuple)) else v  # non-lists fail validation

    parent = item.get("parent")
    phrases = as_list(item.get("phrases"))
    if isinstance(phrases, list):  # numbers in YAML lists ("3 months" is fine, 2024 too)
        phrases = [str(p) if isinstance(p, (int, float)) else p for p in phrases]
    return Theme(
        id=str(item["id"]), label=str(item.get("label") or item["id"]),
        description=str(item.get("description") or ""),
        parent=str(parent) if parent is not None else None,
        polarity=item.get("polarity"),
        phrases=phrases,
        patterns=as_list(item.get("patterns")),
        exclude=as_list(item.get("exclude")))


def _theme_lines(root) -> dict[int, int]:
    """Theme position -> 1-based line of its ``- id:`` item in the YAML."""
    try:
        for key, value in root.value:
            if key.value == "themes" and isinstance(value, yaml.SequenceNode):
                return {i: node.start_mark.line + 1 for i, node in enumerate(value.value)}
    except (AttributeError, TypeError):
        pass
    return {}


def _lower_pattern(pattern: list[dict]) -> list[dict]:
    """LEMMA/LOWER string values in lower case (lemmas here are lower case)."""
    out = []
    for spec in pattern:
        spec = dict(spec)
        for key in list(spec):
            if str(key).upper() in ("LEMMA", "LOWER"):
                value = spec[key]
                if isinstance(value, str):
                    spec[key] = value.lower()
                elif isinstance(value, dict):
                    spec[key] = {op: ([v.lower() for v in vals] if isinstance(vals, list)
                                      and all(isinstance(v, str) for v in vals)
                                      else (vals.lower() if isinstance(vals, str) and op != "REGEX"
                                            else vals))
                                 for op, vals in value.items()}
        out.append(spec)
    return out


# --------------------------------------------------------------------------- compiled rules
@dataclass
class _Rule:
    theme: int          # index into codebook.themes
    exclusion: bool
    text: str           # the phrase, or "pattern N"
    order: int          # tie-break: codebook order


class _Compiled:
    """Codebook turned into matchers for one pipeline."""

    def __init__(self, codebook: ThemeCodebook, nlp):
        from spacy.matcher import Matcher, PhraseMatcher

        self.codebook = codebook
        self.nlp = nlp
        self.rules: list[_Rule] = []
        self.phrase_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.matcher = Matcher(nlp.vocab)
        self.complex_matcher = Matcher(nlp.vocab)   # patterns the fast path leaves to spaCy
        self.key_to_rule: dict[int, int] = {}
        # fast path: first lemma -> [(lemma sequence, rule index)]
        self.first_index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        # patterns: rule index -> (required lemmas, required lowers)
        self.pattern_requirements: list[tuple[int, frozenset, frozenset]] = []
        # patterns the fast path matches itself: rule index -> [(conditions, op)]
        self.simple_patterns: list[tuple[int, tuple]] = []

        phrase_items = []
        for ti, theme in enumerate(codebook.themes):
            for p in theme.phrases:
                phrase_items.append((ti, False, p))
            for p in theme.exclude:
                phrase_items.append((ti, True, p))
        docs = list(nlp.pipe([p for _, _, p in phrase_items])) if phrase_items else []
        for (ti, excl, phrase), doc in zip(phrase_items, docs):
            if len(doc) == 0:
                continue
            k = self._new_rule(ti, excl, phrase)
            key = nlp.vocab.strings.add(f"personalab_rule_{k}")
            self.key_to_rule[key] = k
            self.phrase_matcher.add(f"personalab_rule_{k}", [doc])
            lemmas = tuple(t.lemma_ for t in doc)
            self.first_index.setdefault(lemmas[0], []).append((lemmas, k))
        for ti, theme in enumerate(codebook.themes):
            for i, pattern in enumerate(theme.patterns):
                k = self._new_rule(ti, False, f"pattern {i + 1}")
                key = nlp.vocab.strings.add(f"personalab_rule_{k}")
                self.key_to_rule[key] = k
                pattern = _lower_pattern(pattern)
                self.matcher.add(f"personalab_rule_{k}", [pattern])
                simple = _simple_pattern(pattern)
                if simple is None:
                    self.complex_matcher.add(f"personalab_rule_{k}", [pattern])
                    self.pattern_requirements.append((k, *_requirements(pattern)))
                else:
                    self.simple_patterns.append((k, simple))
        self.has_patterns = bool(self.pattern_requirements)
        # simple patterns anchored on their first (required) token
        self.anchor_lemma: dict[str, list] = {}
        self.anchor_lower: dict[str, list] = {}
        self.anchor_orth: dict[str, list] = {}
        self.unanchored: list = []
        for k, simple in self.simple_patterns:
            attr, values = simple[0][0][0] if simple[0][1] is None and len(simple[0][0]) == 1 \
                else (None, None)
            if attr is None:
                self.unanchored.append((k, simple))
                continue
            target = {"lemma": self.anchor_lemma, "lower": self.anchor_lower,
                      "orth": self.anchor_orth}[attr]
            for v in values:
                target.setdefault(v, []).append((k, simple))

    def _new_rule(self, ti, excl, text) -> int:
        self.rules.append(_Rule(ti, excl, text, len(self.rules)))
        return len(self.rules) - 1

    def spacy_matches(self, doc) -> list[tuple[int, int, int]]:
        out = [(self.key_to_rule[m], s, e) for m, s, e in self.phrase_matcher(doc)]
        if self.has_patterns or self.simple_patterns:
            out += [(self.key_to_rule[m], s, e) for m, s, e in self.matcher(doc)]
        return out


_SIMPLE_ATTRS = {"LEMMA": "lemma", "LOWER": "lower", "ORTH": "orth", "TEXT": "orth"}


def _simple_pattern(pattern: list[dict]):
    """A pattern the fast path can match itself, or None.

    Simple: every token spec tests LEMMA/LOWER/ORTH/TEXT against a string or an
    ``{"IN": [...]}`` list, with no OP or ``OP: "?"``. Returns a tuple of
    ``(((attr, frozenset(values)), ...), op)`` per token.
    """
    out = []
    for spec in pattern:
        conds, op = [], None
        for key, value in spec.items():
            k = str(key).upper()
            if k == "OP":
                if value not in ("?", "1", "!") or value == "!":
                    return None
                op = "?" if value == "?" else None
                continue
            attr = _SIMPLE_ATTRS.get(k)
            if attr is None:
                return None
            if isinstance(value, str):
                conds.append((attr, frozenset([value])))
            elif isinstance(value, dict) and set(value) == {"IN"} and isinstance(value["IN"], list) \
                    and all(isinstance(v, str) for v in value["IN"]):
                conds.append((attr, frozenset(value["IN"])))
            else:
                return None
        if not conds:
            return None
        out.append((tuple(conds), op))
    if all(op == "?" for _, op in out):
        return None
    return tuple(out)


def _match_simple(simple, j, lemmas, lowers, orths) -> list[int]:
    """Ends of every match of a simple pattern starting at token j (all optional branches)."""
    n = len(lemmas)
    cols = {"lemma": lemmas, "lower": lowers, "orth": orths}
    if all(op is None for _, op in simple):
        i = j
        for conds, _ in simple:
            if i >= n:
                return []
            for a, vals in conds:
                if cols[a][i] not in vals:
                    return []
            i += 1
        return [i]
    ends: list[int] = []

    def step(p, i):
        if p == len(simple):
            if i > j:
                ends.append(i)
            return
        conds, op = simple[p]
        if i < n and all(cols[a][i] in vals for a, vals in conds):
            step(p + 1, i + 1)
        if op == "?":
            step(p + 1, i)

    step(0, j)
    return sorted(set(ends))


def _requirements(pattern: list[dict]) -> tuple[frozenset, frozenset]:
    """Lemmas and lower forms every match of a pattern must contain (for pre-filtering)."""
    lemmas, lowers = set(), set()
    for spec in pattern:
        op = spec.get("OP")
        if op not in (None, "+", "1") and not (isinstance(op, str) and op.startswith("{")
                                                and not op.startswith("{0")
                                                and not op.startswith("{,")):
            continue
        for key, value in spec.items():
            if not isinstance(value, str):
                continue
            k = str(key).upper()
            if k == "LEMMA":
                lemmas.add(value)
            elif k == "LOWER":
                lowers.add(value)
            elif k in ("ORTH", "TEXT"):
                lowers.add(value.lower())
    return frozenset(lemmas), frozenset(lowers)


# --------------------------------------------------------------------------- resolution
# Token flags (bits), computed the same way for spaCy tokens and for the fast path.
F_SENT_PUNCT = 1   # text in the sentencizer's punct_chars
F_PUNCT = 2        # token.is_punct
F_CUE = 4          # a negation cue
F_BREAK = 8        # ends a clause for negation
F_PSEUDO = 16      # after a cue, makes it a pseudo-negation ("not only")


def _token_flags(text: str, lemma: str, is_punct: bool, punct_chars) -> int:
    f = 0
    if text in punct_chars:
        f |= F_SENT_PUNCT
    if is_punct:
        f |= F_PUNCT
    if lemma in NEGATION_CUES or lemma.endswith("n't"):
        f |= F_CUE
    if lemma in CLAUSE_PUNCT or lemma in CLAUSE_WORDS:
        f |= F_BREAK
    if lemma in PSEUDO_NEGATION_NEXT:
        f |= F_PSEUDO
    return f


def _negated(lemmas, flags, start, end, sent_start, sent_end, window, others=()) -> bool:
    """Whether a match (tokens start:end) is negated; ``others`` are (start, end) token
    spans of the answer's matches of *other* themes (a cue negates the nearest one)."""
    n = len(flags)
    i = start - 1
    lo = max(sent_start, start - window)
    while i >= lo:
        f = flags[i]
        if f & F_BREAK:
            break
        if any(i < o_start and o_end <= start for o_start, o_end in others):
            break  # another theme's match stands between: the cue belongs to it
        if f & F_CUE and not (i + 1 < n and flags[i + 1] & F_PSEUDO) \
                and not _post_negation_at(lemmas, i, sent_end):
            return True
        i -= 1
    # post-negation: "<match> is not a problem"
    hi = min(sent_end, end + 3)
    for j in range(end, hi):
        f = flags[j]
        if f & F_BREAK:
            break
        if f & F_CUE and _post_negation_at(lemmas, j, sent_end):
            return True
    return False


def _post_negation_at(lemmas, j, sent_end) -> bool:
    """Does a post-negation ("not a problem", "never been an issue") start at cue j?"""
    lem = lemmas[j]
    k = j + 1 if j + 1 < sent_end and lemmas[j + 1] != "be" else j + 2
    for tail in _post_negations().get("not" if lem.endswith("n't") else lem, ()):
        if k + len(tail) <= sent_end and tuple(lemmas[k:k + len(tail)]) == tail:
            return True
    return False


@functools.lru_cache(maxsize=1)
def _post_negations() -> dict[str, tuple[tuple[str, ...], ...]]:
    out: dict[str, list] = {}
    for seq in POST_NEGATIONS:
        out.setdefault(seq[0], []).append(tuple(lemmatize_word(w) for w in seq[1:]))
    return {k: tuple(v) for k, v in out.items()}


def _select(matches, compiled):
    """Exclusion veto, then the longest (earliest) non-overlapping matches per theme."""
    rules = compiled.rules
    theme_m, excl_m = [], None
    for k, s, e in matches:
        r = rules[k]
        if r.exclusion:
            if excl_m is None:
                excl_m = {}
            excl_m.setdefault(r.theme, []).append((s, e))
        else:
            theme_m.append((r.theme, s, e, k))
    # Token spans overlap exactly when they share a token: sets of the tokens taken keep
    # these checks linear in the matches' lengths (a span list made them quadratic in the
    # number of matches: minutes for one long answer mentioning a theme thousands of times).
    if excl_m:
        vetoed = {t: {i for s, e in spans for i in range(s, e)} for t, spans in excl_m.items()}
        theme_m = [m for m in theme_m
                   if not any(i in vetoed.get(m[0], ()) for i in range(m[1], m[2]))]
    if len(theme_m) > 1:
        theme_m.sort(key=lambda m: (m[0], m[1] - m[2], m[1], m[3]))
        kept, taken = [], {}
        for m in theme_m:
            tokens = taken.setdefault(m[0], set())
            if any(i in tokens for i in range(m[1], m[2])):
                continue
            tokens.update(range(m[1], m[2]))
            kept.append(m)
        kept.sort(key=lambda m: (m[1], m[0], m[2]))
        return kept
    return theme_m


def _resolve(kept, lemmas, flags, char_start, char_end, sent_bounds, window):
    """Selected matches of one answer -> tag rows of the spaCy path:
    (theme, start_char, end_char, negated, sentence start_char, sentence end_char, rule)."""
    out = []
    starts = [m[1] for m in kept]          # kept is sorted by start
    for ti, s, e, k in kept:
        ss, se = sent_bounds(s)
        # Only another theme's match starting inside the look-back window can stand
        # between a cue and this match (bisect: not every match of a long answer).
        near = kept[bisect.bisect_left(starts, s - window):bisect.bisect_left(starts, s)]
        others = [(m[1], m[2]) for m in near if m[0] != ti]
        negated = _negated(lemmas, flags, s, e, ss, se, window, others)
        if char_end(se - 1) - char_start(ss) > SENTENCE_MAX_CHARS:
            ss, se = _context(s, e, ss, se)
        out.append((ti, char_start(s), char_end(e - 1), negated, char_start(ss), char_end(se - 1),
                    k))
    return out


def _context(start, end, sent_start, sent_end):
    """Token span of a long sentence's snippet: cut to ``SENTENCE_CONTEXT_TOKENS`` on each
    side of the match (numbers or arrays)."""
    k = SENTENCE_CONTEXT_TOKENS
    return np.maximum(sent_start, start - k), np.minimum(sent_end, end + k)


def _analyse_doc(doc, compiled, window, punct_chars):
    kept = _select(compiled.spacy_matches(doc), compiled)
    if not kept:
        return []
    lemmas = [t.lemma_ for t in doc]
    flags = [_token_flags(t.text, t.lemma_, t.is_punct, punct_chars) for t in doc]
    if doc.has_annotation("SENT_START"):
        bounds = [(sent.start, sent.end) for sent in doc.sents]
    else:
        bounds = [(0, len(doc))]

    def sent_bounds(i):
        for a, b in bounds:
            if a <= i < b:
                return a, b
        return 0, len(doc)

    return _resolve(kept, lemmas, flags, lambda i: doc[i].idx,
                    lambda i: doc[i].idx + len(doc[i].text), sent_bounds, window)


# --------------------------------------------------------------------------- the fast path
#: Token kinds for the sentencizer's rule: a sentence starts at the word after a run of
#: punctuation that holds a sentence mark.
_WORD, _PUNCT, _SENT_MARK = 0, 1, 2
#: Answers per block of the fast path: bounds the memory of its token arrays.
_BLOCK = 20_000
#: Distinct chunks per tokenizer call (a call per chunk is slow, and so is one huge call).
_TOKENIZE_BATCH = 1_000
#: Columns of the tag rows both paths produce, before strings are cut from the answers:
#: the distinct answer, theme and rule (indexes), character offsets of the match and its
#: sentence, and the same offsets in UTF-8 bytes (``b...``, for cutting Arrow strings).
_ROW_COLUMNS = ("u", "theme", "start", "end", "negated", "sent_start", "sent_end", "rule",
                "bstart", "bend", "bsent_start", "bsent_end")


def _expand_optional(simple) -> list[tuple]:
    """The token sequences a simple pattern stands for (each ``OP: "?"`` token in or out)."""
    seqs: list[tuple] = [()]
    for conds, op in simple:
        seqs = [s + (conds,) for s in seqs] + (seqs if op == "?" else [])
    return list(dict.fromkeys(s for s in seqs if s))


class _FastTagger:
    """Tags plain answers with the blank pipeline's exact tokens, a block of answers at once.

    spaCy tokenizes each space-separated chunk independently, so tokenizing every
    distinct chunk once gives exactly the tokens of ``nlp(text)``. Arrow splits the
    answers into chunks; the chunks' tokens become one integer array over the block,
    and matching, the overlap rules, sentence starts (the sentencizer's rule) and
    negation are array operations that look only at the tokens near candidate
    matches. Answers that a complex token pattern may match go through a spaCy
    ``Doc`` and ``Matcher``. The rules are those of :func:`_select`, :func:`_negated`
    and :func:`_resolve`; tests check that both paths give the same tags.

    "Plain" answers only: single spaces between chunks, no other whitespace, no
    leading or trailing space (see :meth:`personalab.text.DistinctTexts.plain`).
    """

    def __init__(self, compiled: _Compiled, window: int):
        from .text import lemma_table

        self.c = compiled
        self.nlp = compiled.nlp
        self.window = window
        self.punct_chars = frozenset(self.nlp.get_pipe("sentencizer").punct_chars)
        self.table = lemma_table()
        self.rule_theme = np.array([r.theme for r in compiled.rules] or [0], dtype=np.int64)
        self.rule_excl = np.array([r.exclusion for r in compiled.rules] or [False], dtype=bool)
        self.n_themes = len(compiled.codebook.themes)
        # this tagger's vocabulary: distinct token texts ("orths") and lemmas, as ids
        self.orth_of_hash: dict[int, int] = {}  # spaCy's ORTH hash -> orth id
        self.orth_text: list[str] = []
        self.lemma_id: dict[str, int] = {}
        self.lemma_text: list[str] = []
        # the distinct chunks seen so far: chunk -> id; the id's tokens are rows
        # c_first .. c_first + c_ntok of the token table t_orth / t_rel / t_brel
        self.chunk_id: dict[str, int] = {}
        self.c_first = self.c_ntok = self.t_orth = self.t_rel = self.t_brel = None
        self.n_tokens = 0
        # token conditions (attr, values) of every rule; cond_rows[c, orth]: does it hold
        self.cond_ids: dict[tuple, int] = {}
        self.cond_by_value: dict[tuple[str, str], list[int]] = {}
        alts = []  # (rule, positions); a position is a tuple of conditions that must all hold
        for seqs in compiled.first_index.values():
            for seq, k in seqs:
                alts.append((k, tuple((self._cond("lemma", frozenset([lem])),) for lem in seq)))
        for k, simple in compiled.simple_patterns:
            for v in _expand_optional(simple):
                alts.append((k, tuple(tuple(self._cond(a, vals) for a, vals in conds)
                                      for conds in v)))
        groups: dict[tuple, list] = {}  # first position -> [(rule, other positions)]
        for k, positions in alts:
            groups.setdefault(positions[0], []).append((k, positions[1:]))
        self.groups = list(groups.items())
        self.group_orths: list[list[int]] = [[] for _ in self.groups]  # orths that open one
        self.groups_of_cond: dict[int, list[int]] = {}
        for g, (first, _) in enumerate(self.groups):
            for ci in first:
                self.groups_of_cond.setdefault(ci, []).append(g)
        self.requirements = [
            tuple(self._cond("lemma", frozenset([w])) for w in sorted(req_l))
            + tuple(self._cond("lower", frozenset([w])) for w in sorted(req_w))
            for _, req_l, req_w in compiled.pattern_requirements]
        self.be = self._lemma("be")
        self.lemma_not = self._lemma("not")
        self.post = [(self._lemma(key), [tuple(self._lemma(w) for w in tail) for tail in tails])
                     for key, tails in _post_negations().items()]
        self.cap = 0
        self.o_lemma = self.o_flags = self.o_kind = self.o_len = self.o_blen = None
        self.o_pnkey = self.o_anchor = self.cond_rows = None
        self._grow(4096)

    # -- vocabulary
    def _cond(self, attr: str, values: frozenset) -> int:
        key = (attr, values)
        if key not in self.cond_ids:
            self.cond_ids[key] = len(self.cond_ids)
            for v in values:
                self.cond_by_value.setdefault((attr, v), []).append(self.cond_ids[key])
        return self.cond_ids[key]

    def _lemma(self, lemma: str) -> int:
        i = self.lemma_id.get(lemma)
        if i is None:
            i = self.lemma_id[lemma] = len(self.lemma_text)
            self.lemma_text.append(lemma)
        return i

    def _grow(self, need: int) -> None:
        """Room for ``need`` orths in the per-orth arrays."""
        if need <= self.cap:
            return
        cap = max(need, 2 * self.cap)
        for name, dtype in (("o_lemma", np.int64), ("o_pnkey", np.int64), ("o_flags", np.int64),
                            ("o_kind", np.int8), ("o_len", np.int64), ("o_blen", np.int64),
                            ("o_anchor", bool)):
            setattr(self, name, _grown(getattr(self, name), cap, dtype))
        rows = np.zeros((max(len(self.cond_ids), 1), cap), dtype=bool)
        if self.cond_rows is not None:
            rows[:, :self.cap] = self.cond_rows
        self.cond_rows = rows
        self.cap = cap

    def _add_orths(self, texts: list[str], lowers: list[str], puncts: list[bool]) -> np.ndarray:
        """Register new token texts; their orth ids."""
        n0 = len(self.orth_text)
        ids = np.arange(n0, n0 + len(texts))
        self._grow(n0 + len(texts))
        self.orth_text += texts
        table, punct_chars = self.table, self.punct_chars
        lemmas = [table.get(low, low) for low in lowers]
        lemma_ids = [self._lemma(lem) for lem in lemmas]
        flags = [_token_flags(t, lem, p, punct_chars) for t, lem, p in zip(texts, lemmas, puncts)]
        self.o_lemma[ids] = lemma_ids
        self.o_pnkey[ids] = [self.lemma_not if lem.endswith("n't") else i
                             for lem, i in zip(lemmas, lemma_ids)]
        f = np.array(flags, dtype=np.int64)
        self.o_flags[ids] = f
        self.o_kind[ids] = np.where(f & F_SENT_PUNCT, _SENT_MARK,
                                    np.where(f & F_PUNCT, _PUNCT, _WORD))
        self.o_len[ids] = [len(t) for t in texts]
        self.o_blen[ids] = [len(t) if t.isascii() else len(t.encode("utf-8")) for t in texts]
        by_value = self.cond_by_value
        for j, lem, low, text in zip(ids.tolist(), lemmas, lowers, texts):
            held = by_value.get(("lemma", lem), []) + by_value.get(("lower", low), []) \
                + by_value.get(("orth", text), [])
            if not held:
                continue
            self.cond_rows[held, j] = True
            held = set(held)
            opened = {g for ci in held for g in self.groups_of_cond.get(ci, ())
                      if held.issuperset(self.groups[g][0])}
            for g in opened:
                self.group_orths[g].append(j)
            self.o_anchor[j] = bool(opened)
        return ids

    def _tokenize(self, chunks: list[str]) -> None:
        """Add new distinct chunks to the chunk table (their tokens: orth ids, offsets in
        the chunk in characters and UTF-8 bytes), with spaCy's tokenizer on a batch of
        chunks joined by spaces (it tokenizes each alone)."""
        from spacy.attrs import IDX, IS_PUNCT, LOWER, ORTH

        strings = self.nlp.vocab.strings
        for i in range(0, len(chunks), _TOKENIZE_BATCH):
            batch = chunks[i:i + _TOKENIZE_BATCH]
            lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
            starts = np.cumsum(lengths + 1) - (lengths + 1)
            arr = self.nlp.tokenizer(" ".join(batch)).to_array([ORTH, LOWER, IDX, IS_PUNCT])
            idx = arr[:, 2].astype(np.int64)
            chunk_of = np.searchsorted(starts, idx, side="right") - 1
            rel = idx - starts[chunk_of]
            hashes, first, inverse = np.unique(arr[:, 0], return_index=True, return_inverse=True)
            get = self.orth_of_hash.get
            ids = np.fromiter((get(h, -1) for h in hashes.tolist()), np.int64, len(hashes))
            new = np.flatnonzero(ids < 0)
            if len(new):
                rows = arr[first[new]]
                ids[new] = self._add_orths([strings[h] for h in rows[:, 0].tolist()],
                                           [strings[h] for h in rows[:, 1].tolist()],
                                           rows[:, 3].astype(bool).tolist())
                self.orth_of_hash.update(zip(hashes[new].tolist(), ids[new].tolist()))
            brel = rel.copy()
            for ci in (c for c, chunk in enumerate(batch) if not chunk.isascii()):
                at = np.flatnonzero(chunk_of == ci)
                brel[at] = [len(batch[ci][:r].encode("utf-8")) for r in rel[at].tolist()]
            ntok = np.bincount(chunk_of, minlength=len(batch))
            t0, c0 = self.n_tokens, len(self.chunk_id)
            self.t_orth = _grown(self.t_orth, t0 + len(idx), np.int64, fill=False)
            self.t_rel = _grown(self.t_rel, t0 + len(idx), np.int64, fill=False)
            self.t_brel = _grown(self.t_brel, t0 + len(idx), np.int64, fill=False)
            self.t_orth[t0:t0 + len(idx)] = ids[inverse.ravel()]
            self.t_rel[t0:t0 + len(idx)] = rel
            self.t_brel[t0:t0 + len(idx)] = brel
            self.c_first = _grown(self.c_first, c0 + len(batch), np.int64, fill=False)
            self.c_ntok = _grown(self.c_ntok, c0 + len(batch), np.int64, fill=False)
            self.c_first[c0:c0 + len(batch)] = t0 + np.cumsum(ntok) - ntok
            self.c_ntok[c0:c0 + len(batch)] = ntok
            self.chunk_id.update(zip(batch, range(c0, c0 + len(batch))))
            self.n_tokens = t0 + len(idx)

    # -- tagging
    def tag_texts(self, texts) -> dict[str, np.ndarray]:
        """Tag rows (see ``_ROW_COLUMNS``; ``u`` = position in ``texts``) of plain texts,
        a pyarrow large_string array."""
        parts = []
        for i in range(0, len(texts), _BLOCK):
            part = self._tag_block(texts.slice(i, _BLOCK))
            part["u"] += i
            parts.append(part)
        return _concat_rows(parts)

    def _tag_block(self, texts) -> dict[str, np.ndarray]:
        import pyarrow.compute as pc

        if not len(texts):
            return _empty_rows()
        lists = pc.split_pattern(texts, " ")
        encoded = pc.dictionary_encode(lists.flatten())
        occ_code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        list_off = lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        list_off -= list_off[0]
        distinct = encoded.dictionary.to_pylist()
        get = self.chunk_id.get
        ids = np.fromiter((get(c, -1) for c in distinct), np.int64, len(distinct))
        new = np.flatnonzero(ids < 0)
        if len(new):
            self._tokenize([distinct[i] for i in new.tolist()])
            ids[new] = [self.chunk_id[distinct[i]] for i in new.tolist()]
        b = _Block(self, ids, occ_code, list_off, encoded.dictionary)
        k, s, e = self._match(b)
        if self.requirements:
            ck, cs, ce = self._complex_matches(b)
            k, s, e = np.concatenate([k, ck]), np.concatenate([s, cs]), np.concatenate([e, ce])
        if not len(k):
            return _empty_rows()
        ka, kt, ks, ke, kk = _select_arrays(b.answer_of(s), k, s, e, self.rule_theme,
                                            self.rule_excl, self.n_themes)
        if not len(ka):
            return _empty_rows()
        ss, se = b.sentence_of(ks)
        negated = self._negated(b, ka, kt, ks, ke, ss, se)
        start, end = b.char_span(ks, ke - 1)
        sent_start, sent_end = b.char_span(ss, se - 1)
        cut = sent_end - sent_start > SENTENCE_MAX_CHARS
        if cut.any():
            ws, we = _context(ks, ke, ss, se)
            cs, ce = np.where(cut, ws, ss), np.where(cut, we, se)
            sent_start, sent_end = b.char_span(cs, ce - 1)
        else:
            cs, ce = ss, se
        bstart, bend = b.char_span(ks, ke - 1, in_bytes=True)
        bsent_start, bsent_end = b.char_span(cs, ce - 1, in_bytes=True)
        return {"u": ka, "theme": kt, "start": start, "end": end, "negated": negated,
                "sent_start": sent_start, "sent_end": sent_end, "rule": kk,
                "bstart": bstart, "bend": bend, "bsent_start": bsent_start,
                "bsent_end": bsent_end}

    def _match(self, b: "_Block"):
        """(rule, start, end) token spans of every phrase and simple-pattern match."""
        empty = (np.zeros(0, np.int64),) * 3
        cand = np.flatnonzero(self.o_anchor[b.tok_orth])
        if not len(cand):
            return empty
        cand_orth = b.tok_orth[cand]
        order = np.argsort(cand_orth, kind="stable")
        cand, cand_orth = cand[order], cand_orth[order]
        cand_end = b.answer_end(cand)
        rows, tok_orth = self.cond_rows, b.tok_orth
        out_k, out_s, out_len = [], [], []
        for g, (_, alts) in enumerate(self.groups):
            orths = self.group_orths[g]
            if not orths:
                continue
            lo = np.searchsorted(cand_orth, orths, side="left")
            hi = np.searchsorted(cand_orth, orths, side="right")
            if len(orths) == 1:
                p0, end0 = cand[lo[0]:hi[0]], cand_end[lo[0]:hi[0]]
            else:
                sel = np.concatenate([np.arange(a, z) for a, z in zip(lo, hi)])
                p0, end0 = cand[sel], cand_end[sel]
            if not len(p0):
                continue
            for k, rest in alts:
                length = len(rest) + 1
                p = p0[p0 + length <= end0] if rest else p0
                for q, conds in enumerate(rest, start=1):
                    if not len(p):
                        break
                    o = tok_orth[p + q]
                    m = rows[conds[0]][o]
                    for ci in conds[1:]:
                        m &= rows[ci][o]
                    p = p[m]
                if len(p):
                    out_k.append(np.full(len(p), k, dtype=np.int64))
                    out_s.append(p)
                    out_len.append(np.full(len(p), length, dtype=np.int64))
        if not out_k:
            return empty
        # two variants of an optional-token pattern may find one span twice:
        # _select_arrays keeps a span once
        k, s = np.concatenate(out_k), np.concatenate(out_s)
        return k, s, s + np.concatenate(out_len)

    def _complex_matches(self, b: "_Block"):
        """Matches of the patterns left to spaCy's Matcher, on a Doc of each answer that
        holds every word one of them requires."""
        from spacy.tokens import Doc

        n_ans = b.n_answers
        cand = np.zeros(n_ans, dtype=bool)
        for conds in self.requirements:
            has = np.ones(n_ans, dtype=bool)
            for ci in conds:
                present = np.zeros(n_ans, dtype=bool)
                present[b.answer_of(np.flatnonzero(self.cond_rows[ci][b.tok_orth]))] = True
                has &= present
            cand |= has
        out = []
        vocab, orth_text, lemma_text = self.nlp.vocab, self.orth_text, self.lemma_text
        for a in np.flatnonzero(cand).tolist():
            t0, t1 = int(b.ans_tok0[a]), int(b.ans_tok0[a + 1])
            pos = np.arange(t0, t1)
            orths = b.tok_orth[t0:t1]
            start, end = b.char_span(pos, pos)
            starts = b.sent_starts[(b.sent_starts >= t0) & (b.sent_starts < t1)] - t0
            sent_starts = np.zeros(t1 - t0, dtype=bool)
            sent_starts[starts] = True
            doc = Doc(vocab, words=[orth_text[o] for o in orths.tolist()],
                      spaces=(start[1:] > end[:-1]).tolist() + [False],
                      lemmas=[lemma_text[i] for i in self.o_lemma[orths].tolist()],
                      sent_starts=sent_starts.tolist())
            out += [(self.c.key_to_rule[m], s + t0, e + t0)
                    for m, s, e in self.c.complex_matcher(doc)]
        if not out:
            return (np.zeros(0, np.int64),) * 3
        k, s, e = (np.array(col, dtype=np.int64) for col in zip(*out))
        return k, s, e

    def _negated(self, b: "_Block", ka, kt, ks, ke, ss, se) -> np.ndarray:
        """:func:`_negated` for every kept match at once: the same walks, a step at a time
        for all matches."""
        flags_at = lambda pos: self.o_flags[b.tok_orth[pos]]  # noqa: E731
        n = len(ks)
        negated = np.zeros(n, dtype=bool)
        # look back from the match to a cue: stop at a clause break, the sentence start,
        # the window's end, or another theme's match in between (that one takes the cue)
        low = np.maximum(ss, _others_start(ka, kt, ks, ke, self.window))
        alive = np.ones(n, dtype=bool)
        for d in range(1, self.window + 1):
            idx = np.flatnonzero(alive & (ks - d >= low))
            if not len(idx):
                break
            alive[:] = False
            i = ks[idx] - d
            f = flags_at(i)
            go_on = (f & F_BREAK) == 0
            alive[idx[go_on]] = True
            cue = go_on & ((f & F_CUE) != 0)
            if cue.any():
                ci, c_idx = i[cue], idx[cue]
                real = (flags_at(ci + 1) & F_PSEUDO) == 0
                real[real] = ~self._post_negation_at(b, ci[real], se[c_idx[real]])
                negated[c_idx[real]] = True
                alive[c_idx[real]] = False
        # look ahead: "<match> is not a problem", within 3 tokens and the clause
        alive = ~negated
        for d in range(3):
            idx = np.flatnonzero(alive & (ke + d < se))
            if not len(idx):
                break
            alive[:] = False
            j = ke[idx] + d
            f = flags_at(j)
            go_on = (f & F_BREAK) == 0
            alive[idx[go_on]] = True
            cue = go_on & ((f & F_CUE) != 0)
            if cue.any():
                hit = self._post_negation_at(b, j[cue], se[idx[cue]])
                negated[idx[cue][hit]] = True
                alive[idx[cue][hit]] = False
        return negated

    def _post_negation_at(self, b: "_Block", cue, sent_end) -> np.ndarray:
        """:func:`_post_negation_at` at each cue token (with its sentence's end)."""
        out = np.zeros(len(cue), dtype=bool)
        if not len(cue):
            return out
        last = len(b.tok_orth) - 1
        lemma_at = lambda pos: self.o_lemma[b.tok_orth[np.minimum(pos, last)]]  # noqa: E731
        k0 = np.where((cue + 1 < sent_end) & (lemma_at(cue + 1) != self.be), cue + 1, cue + 2)
        key = self.o_pnkey[b.tok_orth[cue]]
        for key_id, tails in self.post:
            sel = key == key_id
            if not sel.any():
                continue
            for tail in tails:
                ok = sel & (k0 + len(tail) <= sent_end)
                for q, lem in enumerate(tail):
                    ok &= lemma_at(k0 + q) == lem
                out |= ok
        return out


class _Block:
    """The tokens of a block of answers, as arrays over all its tokens.

    Built from Arrow's split of the answers into chunks (``occ_code``: distinct chunk of
    each chunk occurrence; ``list_off``: first occurrence of each answer) and the
    tagger's chunk table: each token's orth id, answer, offset in its answer (characters
    and UTF-8 bytes) and sentence.
    """

    def __init__(self, tagger: _FastTagger, chunk_ids, occ_code, list_off, dictionary):
        import pyarrow.compute as pc

        self.tagger = tagger
        d_ntok = tagger.c_ntok[chunk_ids]
        nt = d_ntok[occ_code]
        self.n_tok = n_tok = int(nt.sum())
        occ_tok0 = np.cumsum(nt) - nt
        # token -> its row in the chunk table's tokens, and its chunk occurrence
        src = np.repeat(tagger.c_first[chunk_ids][occ_code] - occ_tok0, nt) + np.arange(n_tok)
        tok_occ = np.repeat(np.arange(len(occ_code)), nt)
        self.tok_orth = tagger.t_orth[src]
        self.n_answers = len(list_off) - 1
        occ_ans = np.repeat(np.arange(self.n_answers), np.diff(list_off))
        self.tok_ans = occ_ans[tok_occ]
        self.ans_tok0 = np.append(occ_tok0, n_tok)[list_off]  # + the block's end

        def token_offsets(chunk_len, rel):  # offset of each token in its answer
            width = chunk_len[occ_code] + 1
            occ_start = np.cumsum(width) - width
            occ_start -= occ_start[list_off[:-1]][occ_ans]
            return occ_start[tok_occ] + rel[src]

        lengths = lambda kernel: kernel(dictionary).to_numpy(  # noqa: E731
            zero_copy_only=False).astype(np.int64)
        self.tok_char = token_offsets(lengths(pc.utf8_length), tagger.t_rel)
        if pc.all(pc.string_is_ascii(dictionary)).as_py() is False:
            self.tok_byte = token_offsets(lengths(pc.binary_length), tagger.t_brel)
        else:  # bytes are characters
            self.tok_byte = self.tok_char
        self.sent_starts = self._sentence_starts()
        is_start = np.zeros(n_tok, dtype=bool)
        is_start[self.sent_starts] = True
        self.tok_sent = np.cumsum(is_start) - 1

    def answer_of(self, pos) -> np.ndarray:
        return self.tok_ans[pos]

    def answer_end(self, pos) -> np.ndarray:
        return self.ans_tok0[self.tok_ans[pos] + 1]

    def char_span(self, first, last, in_bytes=False):
        """Offsets (in the answer) of the start of token ``first`` and the end of ``last``."""
        offset, length = ((self.tok_byte, self.tagger.o_blen) if in_bytes
                          else (self.tok_char, self.tagger.o_len))
        return offset[first], offset[last] + length[self.tok_orth[last]]

    def _sentence_starts(self) -> np.ndarray:
        """Sorted token positions where sentences start (the sentencizer's rule): each
        answer's first token, and the first word after a sentence mark (. ! ? ...) when
        only punctuation stands between them in the same answer."""
        kind = self.tagger.o_kind
        marks = np.flatnonzero(kind[self.tok_orth] == _SENT_MARK)
        q, end = marks + 1, self.ans_tok0[self.tok_ans[marks] + 1]
        starts = [self.ans_tok0[:-1]]
        while len(q):
            inside = q < end
            q, end = q[inside], end[inside]
            is_word = kind[self.tok_orth[q]] == _WORD
            starts.append(q[is_word])
            q, end = q[~is_word] + 1, end[~is_word]
        return np.unique(np.concatenate(starts))

    def sentence_of(self, pos):
        """(start, end) token positions of the sentence holding each token."""
        i = self.tok_sent[pos]
        ends = np.append(self.sent_starts, self.n_tok)
        return ends[i], ends[i + 1]


def _grown(old, size: int, dtype, fill: bool = True):
    """``old`` (or nothing) in an array of at least ``size`` (doubling: amortised growth)."""
    if old is not None and len(old) >= size:
        return old
    new = np.zeros(max(size, 2 * len(old) if old is not None else size, 1024), dtype=dtype) \
        if fill else np.empty(max(size, 2 * len(old) if old is not None else size, 1024), dtype)
    if old is not None:
        new[:len(old)] = old
    return new


def _others_start(ka, kt, ks, ke, window) -> np.ndarray:
    """Per kept match (sorted by answer, start): the latest start of a match of another
    theme in the same answer that lies wholly before it, if it starts within ``window``
    tokens of it (-1 otherwise: the negation look-back never reaches further)."""
    n = len(ka)
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    new_answer = np.append(True, ka[1:] != ka[:-1])
    group_first = np.maximum.accumulate(np.where(new_answer, np.arange(n), 0))
    rank = np.arange(n) - group_first
    active = np.flatnonzero(rank >= 1)
    d = 1
    while len(active):
        j = active - d
        ok = (kt[j] != kt[active]) & (ks[j] < ks[active]) & (ke[j] <= ks[active])
        hit = active[ok]
        out[hit] = np.maximum(out[hit], ks[j[ok]])
        # starts only decrease further back: stop once out of the window (looking at
        # every earlier match was quadratic in the matches of a long answer)
        active = active[ks[j] >= ks[active] - window]
        d += 1
        active = active[rank[active] >= d]
    return out


def _select_arrays(ans, k, s, e, rule_theme, rule_excl, n_themes):
    """:func:`_select` over arrays of matches (token spans ``s:e`` numbered across a
    block, so ``s`` orders answers too).

    Returns (answer, theme, start, end, rule) of the kept matches, sorted by start
    (so by answer), theme, end.
    """
    key = ans * n_themes + rule_theme[k]  # one answer's matches of one theme
    excl = rule_excl[k]
    if excl.any():  # an exclusion phrase vetoes the matches of its theme it overlaps
        keep = ~excl
        ex_key, ex_s, ex_e = key[excl], s[excl], e[excl]
        order = np.lexsort((ex_s, ex_key))
        ex_key, ex_s, ex_e = ex_key[order], ex_s[order], ex_e[order]
        width = int(max(e.max(), ex_e.max())) + 1
        # The exclusions of a match's group that start before it ends are a run of this
        # order; it overlaps one of them when the furthest end among them passes its
        # start. A running maximum answers that for every match at once (comparing each
        # match with each exclusion was quadratic in a long answer).
        reach = np.maximum.accumulate(ex_key * width + ex_e)
        tm = np.flatnonzero(keep)
        lo = np.searchsorted(ex_key, key[tm], side="left")
        hi = np.searchsorted(ex_key * width + ex_s, key[tm] * width + e[tm], side="left")
        vetoed = (hi > lo) & (reach[np.maximum(hi - 1, 0)] - key[tm] * width > s[tm])
        keep[tm[vetoed]] = False
        key, k, s, e = key[keep], k[keep], s[keep], e[keep]
    if not len(s):
        return key, key, s, e, k
    span = int(e.max()) + 1
    # spans that overlap an earlier one (by start) of their group: resolve that group
    # greedily; the other groups keep every span
    order = np.argsort(key * span + s, kind="stable")
    key, k, s, e = key[order], k[order], s[order], e[order]
    reach = np.maximum.accumulate(key * span + e)
    overlap = np.append(False, (key[1:] == key[:-1]) & (key[1:] * span + s[1:] < reach[:-1]))
    if overlap.any():
        bad = np.flatnonzero(np.isin(key, key[overlap]))
        # greedy order: longest, then earliest, then codebook order
        g = bad[np.lexsort((k[bad], s[bad], s[bad] - e[bad], key[bad]))]
        keep = np.ones(len(key), dtype=bool)
        keep[g] = _greedy_keep(key[g], s[g], e[g])
        key, k, s, e = key[keep], k[keep], s[keep], e[keep]
    theme = key % n_themes
    order = np.argsort((s * n_themes + theme) * span + e, kind="stable")
    return key[order] // n_themes, theme[order], s[order], e[order], k[order]


def _greedy_keep(key, s, e) -> np.ndarray:
    """Which spans the greedy rule keeps: in the given order (groups of equal ``key``,
    each in greedy order), a span is kept unless it overlaps a kept span of its group.

    Decided in rounds: a span whose earlier overlapping spans are all dropped is kept,
    one that overlaps a kept span is dropped; each round settles at least the first
    open span of every group.
    """
    n = len(key)
    # Overlapping pairs of a group, found in start order: a span can only overlap spans
    # that start less than the longest span's length before it (comparing every pair
    # of the given order was quadratic in the matches of a long answer).
    by_start = np.lexsort((s, key))
    g_key, g_s, g_e = key[by_start], s[by_start], e[by_start]
    longest = int((e - s).max())
    before, after = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]  # earlier -> later
    active, d = np.arange(1, n), 1
    while len(active):
        i = active - d
        near = (g_key[i] == g_key[active]) & (g_s[active] - g_s[i] < longest)
        hit = near & (g_s[active] < g_e[i])   # i starts no later: overlap iff this
        a, b = by_start[i[hit]], by_start[active[hit]]
        before.append(np.minimum(a, b))        # positions in the given (greedy) order
        after.append(np.maximum(a, b))
        d += 1
        active = active[near]
        active = active[active >= d]
    before, after = np.concatenate(before), np.concatenate(after)
    OPEN, KEPT, DROPPED = 0, 1, 2
    status = np.zeros(n, dtype=np.int8)
    while True:
        is_open = status == OPEN
        if not is_open.any():
            return status == KEPT
        by_kept = np.zeros(n, dtype=bool)
        by_kept[after[status[before] == KEPT]] = True
        by_open = np.zeros(n, dtype=bool)
        by_open[after[status[before] == OPEN]] = True
        status[is_open & by_kept] = DROPPED
        status[is_open & ~by_kept & ~by_open] = KEPT


def _empty_rows() -> dict[str, np.ndarray]:
    return {c: np.zeros(0, dtype=bool if c == "negated" else np.int64) for c in _ROW_COLUMNS}


def _concat_rows(parts: list[dict]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if len(p["u"])]
    if not parts:
        return _empty_rows()
    return {c: np.concatenate([p[c] for p in parts]) for c in _ROW_COLUMNS}


def _rows_from_tuples(u_list, texts, per_text) -> dict[str, np.ndarray]:
    """Rows of the spaCy path ((theme, start, end, negated, sent_start, sent_end, rule) per
    tag, a list per text) as columns."""
    u = [u for u, rows in zip(u_list, per_text) for _ in rows]
    flat = [r for rows in per_text for r in rows]
    if not flat:
        return _empty_rows()
    out = {"u": np.array(u, dtype=np.int64)}
    for name, col in zip(_ROW_COLUMNS[1:8], zip(*flat)):
        out[name] = np.array(col, dtype=bool if name == "negated" else np.int64)
    for name in ("start", "end", "sent_start", "sent_end"):
        out["b" + name] = out[name].copy()
    first = 0
    for t, rows in zip(texts, per_text):
        last = first + len(rows)
        if rows and not t.isascii():
            # UTF-8 offset of every character, once per answer (encoding the prefix of
            # each match was quadratic in a long answer's length)
            points = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            width = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
            offsets = np.concatenate([[0], np.cumsum(width)])
            for name in ("start", "end", "sent_start", "sent_end"):
                out["b" + name][first:last] = offsets[out[name][first:last]]
        first = last
    return out


# --------------------------------------------------------------------------- public API
TAG_COLUMNS = ["answer_id", "theme", "start_char", "end_char", "matched_text", "negated",
               "sentence", "rule"]


@dataclass
class TagResult:
    """Theme tags of a set of answers.

    Attributes
    ----------
    tags : DataFrame
        One row per match: ``answer_id`` (the input Series' index), ``theme``,
        ``start_char``, ``end_char``, ``matched_text``, ``negated``, ``sentence`` (the
        sentence holding the match; one over :data:`SENTENCE_MAX_CHARS` characters is cut
        to :data:`SENTENCE_CONTEXT_TOKENS` tokens on each side of the match, so that
        memory stays bounded on very long answers) and
        ``rule`` (the phrase or "pattern N" that matched). Negated matches are kept
        and flagged; they do not count in :attr:`matrix`.
    matrix : DataFrame
        answer_id x theme, 0/1, non-negated matches only, a child theme setting its
        parent(s) too. Every input answer has a row (blank answers are all 0).
    answered : Series of bool
        False for blank/missing answers (left out of :meth:`shares`).
    codebook : ThemeCodebook
    """

    tags: pd.DataFrame
    matrix: pd.DataFrame
    answered: pd.Series
    codebook: ThemeCodebook

    def counts(self, by=None) -> pd.DataFrame:
        """Number of (answered) answers with each theme, per segment."""
        m, groups = self._grouped(by)
        return m.groupby(groups, sort=True).sum() if groups is not None else m.sum().to_frame("all").T

    def shares(self, by=None, *, weights=None) -> pd.DataFrame:
        """Share of answered answers that carry each theme, per segment.

        Parameters
        ----------
        by : Series, array or None
            Segment labels aligned with the answers (a Series aligns on answer_id);
            None gives one row, ``all``.
        weights : Series, array or None
            Respondent weights (a weighted share).

        Returns
        -------
        DataFrame
            Index: segments; columns: theme ids; values in [0, 1]. Segments without
            any answered answer are left out.
        """
        m, groups = self._grouped(by)
        if weights is None:
            w = pd.Series(1.0, index=m.index)
        else:
            w = _align(weights, self.matrix.index, "weights").astype(float)[self.answered.to_numpy()]
        weighted = m.mul(w, axis=0)
        if groups is None:
            return (weighted.sum() / w.sum()).to_frame("all").T
        return weighted.groupby(groups, sort=True).sum().div(w.groupby(groups, sort=True).sum(),
                                                               axis=0)

    def _grouped(self, by):
        keep = self.answered.to_numpy()
        m = self.matrix[keep]
        if by is None:
            return m, None
        groups = _align(by, self.matrix.index, "by")[keep]
        return m, groups.rename("segment")


def _align(values, index, name) -> pd.Series:
    if isinstance(values, pd.Series):
        if values.index.equals(index):
            return values
        missing = index.difference(values.index)
        if len(missing):
            raise InputError(f"'{name}' has no value for {len(missing)} answer id(s), "
                             f"e.g. {list(missing[:3])}",
                             fix=f"pass '{name}' indexed by the same respondent ids as the texts")
        return values.reindex(index)
    arr = np.asarray(values)
    if len(arr) != len(index):
        raise InputError(f"'{name}' has {len(arr)} values for {len(index)} answers",
                         fix=f"pass one '{name}' value per answer")
    return pd.Series(arr, index=index)


def tag_answers(texts, codebook, *, nlp=None, engine: str = "auto",
                negation_window: int = DEFAULT_NEGATION_WINDOW,
                n_jobs: int | None = None) -> TagResult:
    """Tag open-text answers with the themes of a codebook.

    Parameters
    ----------
    texts : Series of str
        The answers; the index becomes ``answer_id``. NaN/blank answers get no tags.
    codebook : ThemeCodebook or path
    nlp : spaCy Language, optional
        Defaults to :func:`personalab.text.get_nlp`.
    engine : {"auto", "fast", "spacy"}
        ``"auto"`` uses the fast path with the blank pipeline and spaCy otherwise.
        Both give the same tags.
    negation_window : int
        How many tokens before a match a negation cue may stand (see module doc).
    n_jobs : int or None
        Processes sharing the distinct answers. ``None``: one below
        :data:`personalab.text.PARALLEL_MIN_TEXTS` distinct answers, every core from
        there; ``-1``: every core. Workers are forked, so only on Linux from a main
        thread, and never inside a daemon worker (Dask's, multiprocessing's): there it
        is always 1. The tags are the same for any ``n_jobs``.

    Returns
    -------
    TagResult
    """
    if not isinstance(codebook, ThemeCodebook):
        codebook = load_themes(codebook)
    if engine not in ("auto", "fast", "spacy"):
        raise ConfigError(f"unknown engine {engine!r}", fix="use 'auto', 'fast' or 'spacy'")
    nlp = nlp or get_nlp()
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    if not s.index.is_unique:
        raise InputError("the answers' index has duplicate ids",
                         fix="index the answers by respondent id (one answer per respondent)")
    distinct = distinct_texts(s)
    compiled = _Compiled(codebook, nlp)
    use_fast = engine == "fast" or (engine == "auto" and is_lookup_pipeline(nlp))
    if use_fast and not is_lookup_pipeline(nlp):
        raise ConfigError("the fast engine reproduces only the blank lookup pipeline",
                          fix="use engine='spacy' with this nlp")
    rows = _tag_distinct(distinct, compiled, use_fast, negation_window, n_jobs)
    return _build_result(s.index, distinct, rows, compiled)


def _tag_distinct(distinct, compiled, use_fast, window, n_jobs) -> dict[str, np.ndarray]:
    """Tag rows of the distinct answers (``u`` indexes them), sorted by ``u``, each
    answer's rows in tag order; in worker processes when ``n_jobs`` asks for them."""
    n = len(distinct)
    plain = distinct.plain() if use_fast and distinct.arrow is not None else np.zeros(n, bool)
    ranges = split_even(distinct.sizes(), effective_n_jobs(n_jobs, n))

    def block(i):
        a, b = ranges[i]
        return _tag_range(distinct, a, b, plain, compiled, window)

    return _concat_rows(map_blocks(block, len(ranges)))


def _tag_range(distinct, a, b, plain, compiled, window) -> dict[str, np.ndarray]:
    """Tag rows of distinct answers a..b-1: plain ones on the fast path, others with spaCy."""
    nlp = compiled.nlp
    parts = []
    fast = np.flatnonzero(plain[a:b]) + a
    if len(fast):
        arr = distinct.arrow.slice(a, b - a) if len(fast) == b - a else \
            distinct.arrow.take(pa_indices(fast))
        rows = _FastTagger(compiled, window).tag_texts(arr)
        rows["u"] = fast[rows["u"]]
        parts.append(rows)
    slow = np.flatnonzero(~plain[a:b]) + a
    if len(slow):
        texts = distinct.take(slow)
        punct_chars = (set(nlp.get_pipe("sentencizer").punct_chars)
                       if "sentencizer" in nlp.pipe_names else _default_punct_chars())
        per_text = [_analyse_doc(doc, compiled, window, punct_chars)
                    for doc in nlp.pipe(texts, batch_size=1000)]
        parts.append(_rows_from_tuples(slow.tolist(), texts, per_text))
    rows = _concat_rows(parts)
    if len(parts) > 1:
        order = np.argsort(rows["u"], kind="stable")
        rows = {c: v[order] for c, v in rows.items()}
    return rows


@functools.lru_cache(maxsize=1)
def _default_punct_chars() -> frozenset:
    from spacy.pipeline import Sentencizer

    return frozenset(Sentencizer.default_punct_chars)


def _build_result(index, distinct, rows, compiled) -> TagResult:
    codebook = compiled.codebook
    ids = codebook.ids
    n_themes = len(ids)
    codes, answered = distinct.codes, distinct.answered
    # rows of distinct answers -> rows of answers (each answer repeats its text's rows)
    u = rows["u"]
    counts = np.append(np.bincount(u, minlength=len(distinct)), 0)  # [-1]: unanswered
    per_answer = counts[codes]
    answer_pos = np.repeat(np.arange(len(codes)), per_answer)
    offsets = np.cumsum(counts) - counts
    first_row = (np.cumsum(per_answer) - per_answer)[answer_pos]
    take = offsets[codes[answer_pos]] + np.arange(len(answer_pos)) - first_row
    rule = rows["rule"][take]
    tags = pd.DataFrame({
        "answer_id": index[answer_pos] if len(answer_pos) else index[:0],
        "theme": np.asarray(ids + [None], dtype=object)[rows["theme"][take]],
        "start_char": rows["start"][take],
        "end_char": rows["end"][take],
        "matched_text": _cut(distinct, rows, take, "start", "end"),
        "negated": rows["negated"][take],
        "sentence": _cut(distinct, rows, take, "sent_start", "sent_end"),
        "rule": (_string_column(_pa().array([r.text for r in compiled.rules],
                                             type=_pa().large_string()).take(rule))
                 if len(take) else np.array([], dtype=object)),
    })
    tags["theme"] = tags["theme"].astype(object)
    # matrix on distinct answers, then a row per answer
    um = np.zeros((len(distinct) + 1, n_themes), dtype=np.int64)  # last row: unanswered
    counted = ~rows["negated"]
    um[u[counted], rows["theme"][counted]] = 1
    pos = {tid: i for i, tid in enumerate(ids)}
    depth = {tid: len(codebook.ancestors(tid)) for tid in ids}
    for tid in sorted(ids, key=lambda t: -depth[t]):
        parent = codebook[tid].parent
        if parent is not None:
            um[:, pos[parent]] |= um[:, pos[tid]]
    matrix = pd.DataFrame(um[codes], index=index, columns=pd.Index(ids, name="theme"))
    matrix.index.name = "answer_id"
    return TagResult(tags=tags, matrix=matrix,
                     answered=pd.Series(answered, index=index, name="answered"),
                     codebook=codebook)


def _pa():
    import pyarrow

    return pyarrow


def _cut(distinct, rows, take, start, end):
    """The strings ``text[start:end]`` of each row in ``take``, as a string column."""
    if not len(take):
        return np.array([], dtype=object)
    pa = _pa()
    src = distinct.arrow
    if src is None or not hasattr(pa, "string_view") or src.nbytes >= 2**31:
        values = distinct.values()
        return np.array([values[i][a:b] for i, a, b in zip(
            rows["u"][take].tolist(), rows[start][take].tolist(), rows[end][take].tolist())]
            + [None], dtype=object)[:-1]
    # Arrow string views into the answers' own UTF-8 buffer: no Python string per row
    bounds = np.frombuffer(src.buffers()[1], dtype=np.int64)[src.offset:src.offset + len(src) + 1]
    data = src.buffers()[2]
    u = rows["u"][take]
    first = bounds[u] + rows["b" + start][take]
    length = rows["b" + end][take] - rows["b" + start][take]
    n = len(take)
    views = np.zeros((n, 16), dtype=np.uint8)
    views[:, :4] = length.astype("<i4").view(np.uint8).reshape(n, 4)
    raw = np.frombuffer(data, dtype=np.uint8)
    short = length <= 12  # short strings live in the view itself
    pos = first[short, None] + np.arange(12)
    views[short, 4:] = np.where(np.arange(12) < length[short, None],
                                raw[np.minimum(pos, len(raw) - 1)], 0)
    long_ = ~short
    views[long_, 4:8] = raw[first[long_, None] + np.arange(4)]
    views[long_, 12:] = first[long_].astype("<i4").view(np.uint8).reshape(-1, 4)
    arr = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), data])
    return _string_column(arr.cast(pa.large_string()))


def _string_column(arr):
    """A pyarrow string array as pandas would store a column of these strings."""
    dtype = pd.Series(["x"]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pd.arrays.ArrowStringArray(arr, dtype=dtype)
    return arr.to_numpy(zero_copy_only=False)
