"""How a column writes its numbers and dates: decided from all its values, never guessed.

Exports carry numbers and dates as text, and the same text reads differently by locale:
``"1,5"`` is one and a half in Germany, ``"1,393"`` is 1393 in the US and 1.393 in France,
``"03/04/2024"`` is 3 April in Europe and March 4 in the US. Reading each value on its own
(stripping every comma, guessing each date's order) mixes conventions silently. Here each
column gets one convention, decided from every distinct value in it:

Numbers (:func:`number_conventions`)
    A value decides the decimal mark when only one reading is possible: ``"1,5"``,
    ``"0,393"``, ``"1234,5"`` (a comma not followed by exactly three digits after a
    1-3 digit group) or ``"1.234,5"`` / ``"1.234.567"`` mean a decimal comma; ``"1.5"``,
    ``"1,234.5"``, ``"1,234,567"`` mean a decimal point. ``"1,393"`` alone could be either.
    A column whose values decide both ways is refused. A column with only
    undecided values takes the convention the file's other number columns decided; else
    ``"12,000"`` (three zeros after the comma: a decimal writer drops them) counts as
    thousands; ``"1.393"`` alone stays a decimal point, as everywhere in Python and pandas;
    ``"1,393"`` alone is refused, naming the column, example rows and the option to pass
    (``decimal=","`` or ``thousands=","``).
Dates (:func:`date_orders`)
    ``dd/mm/yyyy`` against ``mm/dd/yyyy`` (any of ``/ . -``, 2- or 4-digit years): a value
    with a first part over 12 is day-first, one with a second part over 12 is month-first.
    A column with both is refused; so is one where every value could be either. Year-first
    values (``2024-04-03``, Google Forms' ``2024/04/07``) are unambiguous and left alone.

:func:`normalize_raw` applies both to the numeric, weight and date questions of a codebook,
rewriting the values it decided to canonical text (``"1393"``, ``"1.5"``, ``"2024-04-03"``)
that any parser reads one way. The raw export itself is never changed.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.errors import InputError, short_path

__all__ = ["NumberConvention", "number_conventions", "date_orders", "decide_conventions",
           "normalize_raw"]

#: Marks that group thousands but are never a decimal mark.
_GROUPING_ONLY = " \u00a0\u202f'"
_NUMBER = re.compile(r"^[+-]?\d[\d.,' \u00a0\u202f]*$")
_LEADING_MARK = re.compile(r"^[+-]?([.,])\d+$")      # ".5", ",5"
_SEPARATORS = re.compile(r"[.,' \u00a0\u202f]")
#: Values that may need a convention: a comma or grouping mark, or two dots (two patterns:
#: Arrow runs each of them over a million values in milliseconds, an alternation in ~10x).
_MAY_NEED = ("[,' \u00a0\u202f]", r"\..*\.")
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?=$|[ T])")
#: A quick filter before ``_DMY`` (which Arrow's regex engine cannot run): a separator in
#: the first three characters, which ISO dates (``2024-``) never have.
_MAYBE_DMY = r"^.{0,2}[/.-]"


#: The decimal marks and thousands separators the conventions read (study.yml's values too).
DECIMAL_MARKS = (".", ",")
THOUSANDS_MARKS = (",", ".", " ", "\u00a0", "\u202f", "'", "")


@dataclass(frozen=True)
class NumberConvention:
    """How one column writes numbers.

    Attributes
    ----------
    decimal : str
        ``"."`` or ``","``.
    thousands : str or None
        The grouping mark read as thousands (``","``, ``"."``, a space), or None.
    source : str
        Why: ``"values"`` (decided by the column's own values), ``"file"`` (by the file's
        other number columns), ``"default"`` (a decimal point, nothing said otherwise) or
        ``"given"`` (an option).
    """

    decimal: str
    thousands: str | None
    source: str


def _shape(v: str):
    """(kind, mark) of one value: ('int', None), ('decimal', m): only m can be its decimal
    mark, ('either', m): one m-separated group of three ('1,393'), ('grouped', t): only
    thousands marks t and no decimal, ('both', (t, d)), ('malformed', None): digits and
    marks that no convention reads ('1,2,3', '12,34'), or ('none', None): not a number
    at all (a missing code, a word)."""
    lead = _LEADING_MARK.match(v)
    if lead:
        return "decimal", lead.group(1)
    if not _NUMBER.match(v):
        return "none", None
    body = v.lstrip("+-")
    seps = _SEPARATORS.findall(body)
    if not seps:
        return "int", None
    groups = _SEPARATORS.split(body)
    if len(groups) == 2 and groups[0] and not groups[1] and seps[0] in ".,":
        return "int", None           # "1." or "1,": one in every convention
    if not all(groups):
        return "malformed", None

    def grouped(parts):   # 1-3 digits (no leading zero), then groups of exactly three
        return (1 <= len(parts[0]) <= 3 and not parts[0].startswith("0")
                and all(len(p) == 3 for p in parts[1:]))

    if len(seps) == 1:
        mark = seps[0]
        if mark in _GROUPING_ONLY:
            return ("grouped", mark) if grouped(groups) else ("malformed", None)
        return ("either", mark) if grouped(groups) else ("decimal", mark)
    *thousand_marks, last = seps
    t = thousand_marks[0]
    if any(m != t for m in thousand_marks):
        return "malformed", None
    if last == t:
        return ("grouped", t) if grouped(groups) else ("malformed", None)
    if last in _GROUPING_ONLY or not grouped(groups[:-1]):
        return "malformed", None
    return "both", (t, last)


def _other(mark: str) -> str:
    return "," if mark == "." else "."


@dataclass
class _Evidence:
    """What a column's values say about its decimal mark."""

    decides: dict     # decimal mark -> example value that only reads with it
    either: dict      # mark -> example value like '1,393'
    zeros: str | None  # an 'either' comma value ending ',000'
    uniques: list
    shapes: list


def _evidence(uniques: list) -> _Evidence:
    decides, either, zeros, shapes = {}, {}, None, []
    for v in uniques:
        kind, mark = _shape(v) if isinstance(v, str) else ("typed", None)
        shapes.append((kind, mark))
        if kind == "decimal":
            decides.setdefault(mark, v)
        elif kind == "grouped" and mark in ",.":
            decides.setdefault(_other(mark), v)
        elif kind == "both":
            decides.setdefault(mark[1], v)
        elif kind == "either":
            either.setdefault(mark, v)
            if mark == "," and v.endswith(",000") and zeros is None:
                zeros = v
    return _Evidence(decides, either, zeros, uniques, shapes)


def _contains(s: pd.Series, *patterns: str) -> bool:
    """Whether any text value of ``s`` matches a pattern; False for a column without text
    (an object column of numbers or timestamps from a workbook)."""
    try:
        return any(bool(s.str.contains(p, regex=True).fillna(False).any()) for p in patterns)
    except AttributeError:
        return False


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) and s.dtype != object


def _text_uniques(s: pd.Series):
    """(codes, stripped distinct strings) of a text column, or None for a typed column."""
    if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
        return None
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    # Typed cells (numbers, timestamps in a workbook) are what they are: they neither vote
    # nor get rewritten.
    return np.asarray(codes), [u.strip() if isinstance(u, str) else u for u in uniques]


def _example_rows(codes, js, file_rows, k=5) -> list:
    rows = np.flatnonzero(np.isin(codes, list(js)))[:k]
    return [int(file_rows[r]) for r in rows]


def _rows(rows: list):
    """Rows for an error: one number, or the sorted list."""
    rows = sorted(set(rows))
    return rows[0] if len(rows) == 1 else rows


def _option(value, column):
    return value.get(column) if isinstance(value, dict) else value


def _check_mark(value, what, allowed, file):
    for v in (value.values() if isinstance(value, dict) else [value]):
        if v is not None and v not in allowed:
            raise InputError(f"{what}={v!r} is not a mark PersonaLab reads", file=file,
                             fix=f"use one of {', '.join(map(repr, allowed))}")


def number_conventions(frame: pd.DataFrame, columns, *, decimal=None, thousands=None,
                       file=None, file_rows=None) -> dict[str, NumberConvention]:
    """Decide each column's decimal and thousands marks from all its values.

    Parameters
    ----------
    frame : DataFrame
        Values as read (text); typed columns are left out of the answer.
    columns : list of str
        The number columns to decide.
    decimal, thousands : str or dict, optional
        The convention, for every column or per column (``{"price": ","}``). A given
        decimal mark makes the other of ``.`` and ``,`` the thousands mark.
    file : str, optional
        Shown in errors.
    file_rows : array, optional
        File row of each frame row, for errors (default: position + 2).

    Returns
    -------
    dict
        Column -> :class:`NumberConvention`, for text columns that hold numbers with a
        separator. Columns of plain numbers (``3``, ``1.5``) are left out unless the
        file's other columns use a decimal comma.

    Raises
    ------
    InputError
        A column mixes conventions, cannot be decided, or contradicts a given option.
    """
    _check_mark(decimal, "decimal", DECIMAL_MARKS, file)
    _check_mark(thousands, "thousands", THOUSANDS_MARKS, file)
    rows = np.arange(len(frame)) + 2 if file_rows is None else np.asarray(file_rows)
    found = {}

    def refuse_malformed(col, codes, ev):
        bad = [j for j, (kind, _) in enumerate(ev.shapes) if kind == "malformed"]
        if bad:
            raise InputError(
                f"{ev.uniques[bad[0]]!r} in {col!r} is not a number in any convention "
                f"(digits with misplaced separators; {len(bad)} distinct value(s))",
                file=file, column=col, row=_rows(_example_rows(codes, bad, rows)),
                fix="correct the value (thousands groups have three digits), declare it a "
                    "missing code, or change the question's type")

    for col in columns:
        s = frame[col]
        if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
            continue
        given = _option(decimal, col) is not None or _option(thousands, col) is not None
        if not given and not _contains(s, *_MAY_NEED):
            found[col] = None       # plain numbers: only the file's convention can matter
            continue
        codes, uniques = _text_uniques(s)
        found[col] = (codes, _evidence(uniques))
        refuse_malformed(col, *found[col])

    # The file's convention: what every self-deciding column agrees on.
    decided = {mark for item in found.values() if item and len(item[1].decides) == 1
               for mark in item[1].decides}
    file_decimal = decided.pop() if len(decided) == 1 else None

    out = {}
    for col, item in found.items():
        d_given, t_given = _option(decimal, col), _option(thousands, col)
        if item is None:
            if file_decimal == "," and d_given is None and t_given is None:
                codes, uniques = _text_uniques(frame[col])
                item = found[col] = (codes, _evidence(uniques))
                refuse_malformed(col, *item)
                if "." not in item[1].either:     # no '1.393' to read as thousands
                    continue
            else:
                continue
        codes, ev = item
        where = dict(file=file, column=col)
        if d_given is not None or t_given is not None:
            dec = d_given if d_given is not None else (
                _other(t_given) if t_given in (",", ".") else ".")
            thou = t_given if t_given is not None else _other(dec)
            conv = NumberConvention(dec, thou or None, "given")
            bad = [j for j, (kind, mark) in enumerate(ev.shapes)
                   if kind not in ("none", "typed", "malformed")
                   and _read(ev.uniques[j], kind, mark, conv) is None]
            if bad:
                raise InputError(
                    f"{ev.uniques[bad[0]]!r} in {col!r} is not a number with decimal mark "
                    f"{dec!r} and thousands mark {thou!r}, as given ({len(bad)} distinct "
                    "value(s))", row=_rows(_example_rows(codes, bad, rows)), **where,
                    fix="correct the value, or give the convention the column really uses "
                        "(decimal=, thousands=)")
            out[col] = conv
            continue
        if len(ev.decides) == 2:
            a, b = ev.decides[","], ev.decides["."]
            ja, jb = ev.uniques.index(a), ev.uniques.index(b)
            raise InputError(
                f"the numbers in {col!r} mix two conventions: {a!r} only reads with a "
                f"decimal comma and {b!r} only with a decimal point",
                row=_rows(_example_rows(codes, [ja], rows, 3)
                          + _example_rows(codes, [jb], rows, 3)), **where,
                fix=f"correct the values to one convention, or say which one {col!r} uses: "
                    f"decimal={{{col!r}: ','}} or decimal={{{col!r}: '.'}} (read_survey / "
                    "load_export)")
        if ev.decides:
            dec, source = next(iter(ev.decides)), "values"
        elif ev.either and file_decimal is not None:
            dec, source = file_decimal, "file"
        elif "," in ev.either and ev.zeros is not None:
            # "12,000": a writer of decimal commas drops trailing zeros (unless it pads
            # every value, and then the file's other columns show it).
            dec, source = ".", "values"
        elif "," in ev.either:
            v = ev.either[","]
            js = [j for j, (kind, mark) in enumerate(ev.shapes) if (kind, mark) == ("either", ",")]
            raise InputError(
                f"the numbers in {col!r} can be read two ways: {v!r} is "
                f"{v.replace(',', '')} with ',' grouping thousands, or "
                f"{v.replace(',', '.')} with a decimal comma, and no value in the column (nor "
                "in the file's other number columns) decides which",
                row=_rows(_example_rows(codes, js, rows)), **where,
                fix=f"say which: decimal={{{col!r}: ','}} for a decimal comma, or "
                    f"thousands={{{col!r}: ','}} for thousands (read_survey or load_export; "
                    "a plain decimal=',' applies to every column)")
        else:
            dec, source = ".", "default"
        out[col] = NumberConvention(dec, _other(dec), source)
    return out


def _read(v: str, kind: str, mark, conv: NumberConvention) -> str | None:
    """Canonical text of one value under a convention (None: it does not fit it)."""
    if kind == "int":
        return v.replace("+", "", 1) if v.startswith("+") else v
    if kind in ("none", "malformed"):
        return None
    body = v
    if kind == "decimal":
        if mark != conv.decimal:
            return None
    elif kind == "either":
        if mark == conv.decimal:
            pass
        elif mark == conv.thousands:
            return body.replace(mark, "").lstrip("+")
        else:
            return None
    elif kind == "grouped":
        if mark != conv.thousands and not (mark in _GROUPING_ONLY and conv.thousands):
            return None
        return body.replace(mark, "").lstrip("+")
    elif kind == "both":
        t, d = mark
        if d != conv.decimal or (t != conv.thousands and t not in _GROUPING_ONLY):
            return None
        body = body.replace(t, "")
    return body.replace(conv.decimal, ".").lstrip("+")


def _canonical_numbers(s: pd.Series, conv: NumberConvention) -> pd.Series:
    codes, uniques = _text_uniques(s)
    canon = []
    for v in uniques:
        if not isinstance(v, str):
            canon.append(v)
            continue
        kind, mark = _shape(v)
        c = _read(v, kind, mark, conv)
        canon.append(v if c is None else c)   # not a number: a missing code or junk
    out = np.asarray(canon + [None], dtype=object)[codes]
    return pd.Series(out, index=s.index, dtype=s.dtype if s.dtype != object else object)


def date_orders(frame: pd.DataFrame, columns, *, dayfirst=None, file=None,
                file_rows=None) -> dict[str, bool]:
    """Decide, for each date column written ``nn/nn/yyyy``, whether the day comes first.

    Parameters
    ----------
    frame : DataFrame
    columns : list of str
    dayfirst : bool or dict, optional
        The order, for every column or per column; decided from the values when omitted.
    file, file_rows
        As for :func:`number_conventions`.

    Returns
    -------
    dict
        Column -> dayfirst (bool), for the text columns holding such dates.

    Raises
    ------
    InputError
        A column has day-first and month-first dates, every one of its dates reads both
        ways, or a value contradicts the given order.
    """
    rows = np.arange(len(frame)) + 2 if file_rows is None else np.asarray(file_rows)
    out = {}
    for col in columns:
        s = frame[col]
        if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
            continue
        if not _contains(s.str.slice(0, 3) if _is_text(s) else s, _MAYBE_DMY):
            continue
        codes, uniques = _text_uniques(s)
        day_only, month_only, either = [], [], []
        for j, v in enumerate(uniques):
            m = _DMY.match(v) if isinstance(v, str) else None
            if not m:
                continue
            a, b = int(m.group(1)), int(m.group(3))
            if a > 12 and b <= 12:
                day_only.append(j)
            elif b > 12 and a <= 12:
                month_only.append(j)
            elif a <= 12 and b <= 12 and a != b:
                either.append(j)
        given = _option(dayfirst, col)
        where = dict(file=file, column=col)
        fmt = "%d/%m/%Y (dayfirst=True) or %m/%d/%Y (dayfirst=False)"
        if given is not None:
            wrong = month_only if given else day_only
            if wrong:
                raise InputError(
                    f"{uniques[wrong[0]]!r} in {col!r} is not a date with the "
                    f"{'day' if given else 'month'} first, as given ({len(wrong)} distinct "
                    "value(s))", row=_rows(_example_rows(codes, wrong, rows)), **where,
                    fix="correct the value, or give the order the column really uses "
                        f"(dayfirst={{{col!r}: {not given}}})")
            out[col] = bool(given)
            continue
        if day_only and month_only:
            d, m_ = uniques[day_only[0]], uniques[month_only[0]]
            raise InputError(
                f"the dates in {col!r} mix two orders: {d!r} only reads day-first and {m_!r} "
                f"only month-first ({len(day_only)} and {len(month_only)} distinct value(s)), "
                "so the dates that read both ways cannot be placed",
                row=_rows(_example_rows(codes, day_only, rows, 3)
                          + _example_rows(codes, month_only, rows, 3)), **where,
                fix="correct the export so the column uses one format, or say which one it "
                    f"is meant to use: {fmt}, e.g. dayfirst={{{col!r}: True}} (read_survey / "
                    "load_export); values that contradict it are then named")
        if day_only or month_only:
            out[col] = bool(day_only)
            continue
        if either:
            v = uniques[either[0]]
            raise InputError(
                f"every date in {col!r} reads both ways: {v!r} is day-first or month-first, "
                "and no value (a day over 12) decides which",
                row=_rows(_example_rows(codes, either, rows)), **where,
                fix=f"say which format the column uses: {fmt}, e.g. "
                    f"dayfirst={{{col!r}: True}} (read_survey / load_export)")
    return out


def canonical_dates(s: pd.Series, dayfirst: bool) -> pd.Series:
    """``s`` with its day/month values (``13.04.2023``, ``04/13/23 10:00``) written year-first
    (``2023-04-13``, ``2023-04-13 10:00``) in the given order; other values as they are."""
    codes, uniques = _text_uniques(s)
    canon = []
    for v in uniques:
        m = _DMY.match(v) if isinstance(v, str) else None
        if not m:
            canon.append(v)
            continue
        a, b, y = m.group(1), m.group(3), m.group(4)
        day, month = (a, b) if dayfirst else (b, a)
        if len(y) == 2:    # as strptime's %y: 69-99 -> 19xx, 00-68 -> 20xx
            y = ("19" if int(y) >= 69 else "20") + y
        canon.append(f"{y}-{int(month):02d}-{int(day):02d}{v[m.end():]}")
    out = np.asarray(canon + [None], dtype=object)[codes]
    return pd.Series(out, index=s.index, dtype=s.dtype if s.dtype != object else object)


def decide_conventions(raw, codebook) -> dict:
    """How the codebook's number and date columns of ``raw`` are written, as options.

    Returns
    -------
    dict
        ``{"decimal": {column: mark}, "thousands": {column: mark or ""},
        "dayfirst": {column: bool}}`` for every column that has a convention to apply,
        decided as :func:`normalize_raw` does (the options given to ``load_export``
        included). Passed back as ``raw.decimal``, ``raw.thousands`` and ``raw.dayfirst``
        they reproduce the same reading, which lets a wave split into partitions be read
        one way: decide on each part, compare, then give every part the same options.

    Raises
    ------
    InputError
        As :func:`normalize_raw`.
    """
    numbers, dates = _decide(raw, codebook)
    return {"decimal": {c: v.decimal for c, v in numbers.items()},
            "thousands": {c: v.thousands or "" for c, v in numbers.items()},
            "dayfirst": dict(dates)}


def _decide(raw, codebook):
    present = set(raw.data.columns)
    numbers = [q.id for q in codebook.questions if q.type in ("numeric", "weight")
               and q.id in present]
    if codebook.weight is not None and codebook.weight in present and \
            codebook.weight not in numbers:
        numbers.append(codebook.weight)
    dates = [q.id for q in codebook.questions if q.type == "date" and q.id in present]
    if not numbers and not dates:
        return {}, {}
    file = short_path(raw.path) if raw.path is not None else None
    rows = raw.file_rows()
    conv = number_conventions(raw.data, numbers, decimal=getattr(raw, "decimal", None),
                              thousands=getattr(raw, "thousands", None), file=file,
                              file_rows=rows) if numbers else {}
    orders = date_orders(raw.data, dates, dayfirst=getattr(raw, "dayfirst", None), file=file,
                         file_rows=rows) if dates else {}
    return conv, orders


def normalize_raw(raw, codebook):
    """The raw wave with its number and date questions' values in one canonical form.

    Numeric and weight questions get the column's decimal convention
    (:func:`number_conventions`), date questions their day/month order
    (:func:`date_orders`); the options ``decimal``, ``thousands`` and ``dayfirst`` given to
    :func:`personalab.loaders.load_export` are used. Values that are not numbers or dates
    (missing codes, junk) are left as they are for the codebook to judge.

    Returns
    -------
    RawWave
        ``raw`` itself when nothing needed rewriting, else a copy sharing every other
        column.

    Raises
    ------
    InputError
        A column mixes conventions or cannot be decided (see the functions above).
    """
    conv, orders = _decide(raw, codebook)
    new = {col: _canonical_numbers(raw.data[col], c) for col, c in conv.items()}
    new.update({col: canonical_dates(raw.data[col], d) for col, d in orders.items()})
    if not new:
        return raw
    data = raw.data.copy(deep=False)
    for col, values in new.items():
        data[col] = values
    return dataclasses.replace(raw, data=data)
