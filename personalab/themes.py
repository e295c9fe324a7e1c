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
With the default blank pipeline, :func:`tag_answers` tags identical answers once,
tokenizes each distinct whitespace-separated chunk once with spaCy's own tokenizer
(so tokens are exactly spaCy's) and matches phrases on a lemma index; answers only
go through a spaCy ``Doc`` when a token pattern may match them, or when their
whitespace is unusual. ``engine="spacy"`` runs the plain ``nlp.pipe`` +
``PhraseMatcher``/``Matcher`` path, which gives the same tags (tests check this).
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate, chain, compress
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import CodebookError, ConfigError, InputError, short_path
from .text import get_nlp, is_lookup_pipeline, lemmatize_word

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
        """Read a theme codebook YAML file (``yaml.safe_load``: no Python tags)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CodebookError(f"cannot read the theme codebook ({exc.strerror})",
                                file=short_path(path), fix="check the path") from exc
        return cls.from_yaml(text, path=path)

    @classmethod
    def from_yaml(cls, text: str, *, path=None) -> "ThemeCodebook":
        file = short_path(path) if path else None
        try:
            data = yaml.safe_load(text)
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.constructor.ConstructorError as exc:
            raise CodebookError(f"the YAML uses a tag that is not allowed ({exc.problem})",
                                file=file, row=_mark_line(exc),
                                fix="remove '!!python/...' and other tags; "
                                    "a codebook holds plain lists, strings and numbers") from exc
        except yaml.YAMLError as exc:
            raise CodebookError(f"the file is not valid YAML ({getattr(exc, 'problem', exc)})",
                                file=file, row=_mark_line(exc),
                                fix="check indentation and quoting near that line") from exc
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
            content = path_or_text if is_text else path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CodebookError(f"cannot read the theme CSV ({exc.strerror})", file=file,
                                fix="check the path") from exc
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


def _mark_line(exc) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


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


#: Token kinds w(ord), p(unct), s(entence punct): a sentence starts at the word after a run
#: of punctuation that holds a sentence mark (the sentencizer's rule).
_SENT_RE = re.compile(r"s[ps]*(?=w)")


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
    if excl_m:
        theme_m = [m for m in theme_m
                   if not any(s < m[2] and m[1] < e for s, e in excl_m.get(m[0], ()))]
    if len(theme_m) > 1:
        theme_m.sort(key=lambda m: (m[0], m[1] - m[2], m[1], m[3]))
        kept, taken = [], {}
        for m in theme_m:
            spans = taken.get(m[0])
            if spans is None:
                taken[m[0]] = [(m[1], m[2])]
            elif any(s < m[2] and m[1] < e for s, e in spans):
                continue
            else:
                spans.append((m[1], m[2]))
            kept.append(m)
        kept.sort(key=lambda m: (m[1], m[0], m[2]))
        return kept
    return theme_m


def _resolve(text, kept, lemmas, flags, char_start, char_end, sent_bounds, compiled, window):
    """Selected matches -> tag tuples (theme, start, end, matched, negated, sentence, rule).

    Shared by the spaCy and the fast path, so both give the same tags from the same
    tokens and raw matches.
    """
    rules = compiled.rules
    out = []
    for ti, s, e, k in kept:
        ss, se = sent_bounds(s)
        others = [(m[1], m[2]) for m in kept if m[0] != ti and m[1] < s] if len(kept) > 1 else ()
        negated = _negated(lemmas, flags, s, e, ss, se, window, others)
        a, b = char_start(s), char_end(e - 1)
        out.append((ti, a, b, text[a:b], negated, text[char_start(ss):char_end(se - 1)],
                    rules[k].text))
    return out


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

    return _resolve(doc.text, kept, lemmas, flags, lambda i: doc[i].idx,
                    lambda i: doc[i].idx + len(doc[i].text), sent_bounds, compiled, window)


_GET0, _GET1, _GET2, _GET3, _GET5, _GET7, _GET8 = (itemgetter(i) for i in (0, 1, 2, 3, 5, 7, 8))


class _FastTagger:
    """Tags texts with the blank pipeline's exact tokens, without building Docs.

    spaCy tokenizes each space-separated chunk independently, so tokenizing every
    distinct chunk once (and caching it) gives exactly the tokens of ``nlp(text)``.
    Sentence starts follow the sentencizer's rule; lemmas come from the same lookup.
    Phrases and simple token patterns are matched on lemma/lower-form indexes, only
    from chunks that hold an index word; other patterns run spaCy's ``Matcher`` on a
    ``Doc`` built from these tokens, only for answers that hold every word the
    pattern requires.
    """

    def __init__(self, compiled: _Compiled, window: int):
        self.c = compiled
        self.nlp = compiled.nlp
        self.window = window
        self.cache: dict[str, tuple] = {}
        self.punct_chars = set(self.nlp.get_pipe("sentencizer").punct_chars)
        self.first = compiled.first_index
        self.anchor_lemma = compiled.anchor_lemma
        self.anchor_lower = compiled.anchor_lower
        self.anchor_orth = compiled.anchor_orth
        self.lemma_keys = frozenset(self.first) | frozenset(self.anchor_lemma)
        self.need_lower = bool(compiled.simple_patterns or compiled.has_patterns)
        self.lower_keys = frozenset(compiled.anchor_lower)
        self.orth_keys = frozenset(compiled.anchor_orth)
        self.complex_lemmas = frozenset().union(*(r[1] for r in compiled.pattern_requirements)) \
            if compiled.has_patterns else frozenset()

    def _chunk(self, chunk: str) -> tuple:
        """(lemmas, lowers, orths, flags, rel_starts, anchors, complex_hit) of one chunk."""
        from .text import lemma_table

        table = lemma_table()
        lemmas, lowers, orths, flags, rel, anchors, kinds = [], [], [], [], [], [], []
        for j, t in enumerate(self.nlp.tokenizer(chunk)):
            low = t.lower_
            lem = table.get(low, low)
            lemmas.append(lem)
            lowers.append(low)
            orths.append(t.text)
            f = _token_flags(t.text, lem, t.is_punct, self.punct_chars)
            flags.append(f)
            kinds.append("s" if f & F_SENT_PUNCT else ("p" if f & F_PUNCT else "w"))
            rel.append(t.idx)
            if lem in self.lemma_keys or low in self.lower_keys or t.text in self.orth_keys:
                anchors.append(j)
        entry = (tuple(lemmas), tuple(lowers), tuple(orths), tuple(flags), tuple(rel),
                 tuple(anchors), bool(self.complex_lemmas.intersection(lemmas)), "".join(kinds),
                 len(lemmas))
        self.cache[chunk] = entry
        return entry

    def tag(self, text: str):
        cache = self.cache
        chunks = text.split(" ")
        entries = [cache.get(c) or self._chunk(c) for c in chunks]
        hits = list(compress(range(len(entries)), map(_GET5, entries)))
        complex_hit = self.c.has_patterns
        if not hits and not complex_hit and not self.c.unanchored:
            return []
        lemmas = list(chain.from_iterable(map(_GET0, entries)))
        tok_base = list(accumulate(map(_GET8, entries), initial=0))  # first token of each chunk
        need_lower = self.need_lower
        lowers = list(chain.from_iterable(map(_GET1, entries))) if need_lower else None
        orths = list(chain.from_iterable(map(_GET2, entries))) if need_lower else None
        n = len(lemmas)
        matches = []
        first, a_lem, a_low, a_orth = self.first, self.anchor_lemma, self.anchor_lower, \
            self.anchor_orth
        for ci in hits:
            base = tok_base[ci]
            for local in entries[ci][5]:
                j = base + local
                lem = lemmas[j]
                cands = first.get(lem)
                if cands:
                    for seq, k in cands:
                        m = len(seq)
                        if m == 1 or (j + m <= n and tuple(lemmas[j:j + m]) == seq):
                            matches.append((k, j, j + m))
                for pats in (a_lem.get(lem),
                             a_low.get(lowers[j]) if a_low else None,
                             a_orth.get(orths[j]) if a_orth else None):
                    if pats:
                        for k, simple in pats:
                            for e in _match_simple(simple, j, lemmas, lowers, orths):
                                matches.append((k, j, e))
        for k, simple in self.c.unanchored:
            for j in range(n):
                for e in _match_simple(simple, j, lemmas, lowers, orths):
                    matches.append((k, j, e))
        flags = None
        if complex_hit and self._may_match_pattern(lemmas, lowers):
            flags = list(chain.from_iterable(map(_GET3, entries)))
            matches += self._spacy_patterns(text, entries, tok_base, lemmas, flags)
        if not matches:
            return []
        kept = _select(matches, self.c)
        if not kept:
            return []
        if flags is None:
            flags = list(chain.from_iterable(map(_GET3, entries)))
        char_base = list(accumulate(map(len, chunks), initial=0))  # + chunk index = offset

        def char_start(i):
            ci = bisect_right(tok_base, i) - 1
            return char_base[ci] + ci + entries[ci][4][i - tok_base[ci]]

        def char_end(i):
            ci = bisect_right(tok_base, i) - 1
            local = i - tok_base[ci]
            return char_base[ci] + ci + entries[ci][4][local] + len(entries[ci][2][local])

        # sentence starts: the sentencizer's rule as a regex over token kinds
        sent_starts = [0]
        sent_starts += [m.end() for m in _SENT_RE.finditer("".join(map(_GET7, entries)))]

        def sent_bounds(i):
            si = bisect_right(sent_starts, i)
            return sent_starts[si - 1], sent_starts[si] if si < len(sent_starts) else n

        return _resolve(text, kept, lemmas, flags, char_start, char_end, sent_bounds, self.c,
                        self.window)

    def _spacy_patterns(self, text, entries, tok_base, lemmas, flags):
        from spacy.tokens import Doc

        words = list(chain.from_iterable(map(_GET2, entries)))
        n = len(words)
        spaces = [False] * n
        for ci in range(len(entries) - 1):
            if tok_base[ci + 1] > tok_base[ci]:
                spaces[tok_base[ci + 1] - 1] = True
        sent_starts = [False] * n
        if n:
            sent_starts[0] = True
        for m in _SENT_RE.finditer("".join(map(_GET7, entries))):
            sent_starts[m.end()] = True
        doc = Doc(self.nlp.vocab, words=words, spaces=spaces, lemmas=lemmas,
                  sent_starts=sent_starts if n else None)
        return [(self.c.key_to_rule[m], s, e) for m, s, e in self.c.complex_matcher(doc)]

    def _may_match_pattern(self, lemmas, lowers) -> bool:
        lem_set, low_set = set(lemmas), set(lowers)
        return any(req_l <= lem_set and req_w <= low_set
                   for _, req_l, req_w in self.c.pattern_requirements)


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
        ``start_char``, ``end_char``, ``matched_text``, ``negated``, ``sentence`` and
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
                negation_window: int = DEFAULT_NEGATION_WINDOW) -> TagResult:
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

    Returns
    -------
    TagResult
    """
    if not isinstance(codebook, ThemeCodebook):
        codebook = load_themes(codebook)
    if engine not in ("auto", "fast", "spacy"):
        raise ConfigError(f"unknown engine {engine!r}", fix="use 'auto', 'fast' or 'spacy'")
    nlp = nlp or get_nlp()
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    if not s.index.is_unique:
        raise InputError("the answers' index has duplicate ids",
                         fix="index the answers by respondent id (one answer per respondent)")
    values = s.to_numpy(dtype=object)
    answered = np.array([isinstance(v, str) and bool(v.strip()) for v in values], dtype=bool)
    clean = np.where(answered, values, "")
    codes, uniques = pd.factorize(clean)
    uniques = list(uniques)
    compiled = _Compiled(codebook, nlp)
    use_fast = engine == "fast" or (engine == "auto" and is_lookup_pipeline(nlp))
    if use_fast and not is_lookup_pipeline(nlp):
        raise ConfigError("the fast engine reproduces only the blank lookup pipeline",
                          fix="use engine='spacy' with this nlp")
    per_unique = _tag_unique(uniques, compiled, nlp, use_fast, negation_window)
    return _build_result(s.index, codes, per_unique, answered, codebook)


def _tag_unique(uniques, compiled, nlp, use_fast, window) -> list[list[tuple]]:
    out: list[list[tuple]] = [[] for _ in uniques]
    if use_fast:
        fast = _FastTagger(compiled, window)
        slow_idx = []
        for u, text in enumerate(uniques):
            if not text:
                continue
            if "  " in text or text != text.strip() or _odd_space(text):
                slow_idx.append(u)
                continue
            out[u] = fast.tag(text)
    else:
        slow_idx = [u for u, t in enumerate(uniques) if t]
    if slow_idx:
        punct_chars = (set(nlp.get_pipe("sentencizer").punct_chars)
                       if "sentencizer" in nlp.pipe_names else _default_punct_chars())
        for u, doc in zip(slow_idx, nlp.pipe((uniques[u] for u in slow_idx), batch_size=1000)):
            out[u] = _analyse_doc(doc, compiled, window, punct_chars)
    return out


@functools.lru_cache(maxsize=1)
def _default_punct_chars() -> frozenset:
    from spacy.pipeline import Sentencizer

    return frozenset(Sentencizer.default_punct_chars)


_ODD_SPACE = re.compile(r"[^\S ]")


def _odd_space(text: str) -> bool:
    return bool(_ODD_SPACE.search(text))


def _build_result(index, codes, per_unique, answered, codebook) -> TagResult:
    ids = codebook.ids
    n_themes = len(ids)
    # unique-level tags -> answer-level by repeating each unique's rows
    counts = np.fromiter((len(r) for r in per_unique), dtype=np.int64, count=len(per_unique))
    flat = [row for rows in per_unique for row in rows]
    per_answer = counts[codes] * answered
    answer_pos = np.repeat(np.arange(len(codes)), per_answer)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if len(answer_pos):
        starts_u = offsets[codes[answer_pos]]
        # position of each row within its answer
        first_row = np.concatenate([[0], np.cumsum(per_answer)])[answer_pos]
        within = np.arange(len(answer_pos)) - first_row
        take = starts_u + within
    else:
        take = np.array([], dtype=np.int64)
    cols = list(zip(*flat)) if flat else [[] for _ in range(7)]
    theme_idx = np.asarray(cols[0], dtype=np.int64)[take]
    obj = lambda c: np.asarray(cols[c], dtype=object)[take]  # noqa: E731
    tags = pd.DataFrame({
        "answer_id": index[answer_pos] if len(answer_pos) else index[:0],
        "theme": np.asarray(ids, dtype=object)[theme_idx] if len(take) else np.array([], object),
        "start_char": np.asarray(cols[1], dtype=np.int64)[take],
        "end_char": np.asarray(cols[2], dtype=np.int64)[take],
        "matched_text": obj(3),
        "negated": np.asarray(cols[4], dtype=bool)[take],
        "sentence": obj(5),
        "rule": obj(6),
    })
    tags["theme"] = tags["theme"].astype(object)
    # matrix on uniques, then rows per answer
    um = np.zeros((len(per_unique), n_themes), dtype=np.int64)
    for u, rows in enumerate(per_unique):
        for r in rows:
            if not r[4]:
                um[u, r[0]] = 1
    pos = {tid: i for i, tid in enumerate(ids)}
    depth = {tid: len(codebook.ancestors(tid)) for tid in ids}
    for tid in sorted(ids, key=lambda t: -depth[t]):
        parent = codebook[tid].parent
        if parent is not None:
            um[:, pos[parent]] |= um[:, pos[tid]]
    mat = um[codes] * answered[:, None]
    matrix = pd.DataFrame(mat, index=index, columns=pd.Index(ids, name="theme"))
    matrix.index.name = "answer_id"
    return TagResult(tags=tags, matrix=matrix,
                     answered=pd.Series(answered, index=index, name="answered"),
                     codebook=codebook)
