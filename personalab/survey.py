"""Survey: a raw wave read through its codebook, typed, one row per respondent.

>>> survey = read_survey("data/sample/wave1.csv", codebook="codebooks/wave1.yaml")  # doctest: +SKIP
>>> survey.likert(role="segment")        # float codes, reverse-keyed items flipped
>>> survey.missing_reasons               # who answered "Don't know" to what

Conventions a researcher can rely on
------------------------------------
* ``data`` is indexed by ``respondent_id`` (str). The id comes from the codebook's
  ``respondent_id`` column; without one it is ``"row-<file line>"``.
* Likert answers may be labels or codes in the export; both map to the scale's codes.
  Missing codes ("Don't know", 99, ...) become NaN and their reason goes to
  ``missing_reasons``. Blank cells are NaN and counted as ``no_answer`` in ``summary()``.
* Numbers and dates written as text are read in one convention per column, decided from
  all its values (``"1,5"`` is 1.5 where the column writes decimal commas, ``"03/04/2024"``
  is 3 April where another row says ``"13/04/2024"``); a column that mixes conventions or
  cannot tell is refused with the rows and the option to pass (``decimal=``,
  ``thousands=``, ``dayfirst=``). See :mod:`personalab.conventions`.
* Multi-select indicators are ``Int8`` 0/1. A respondent with no answer at all to a
  multi-select question (every option blank, or a missing code) gets ``<NA>`` on every
  option: "ticked nothing" and "skipped" look the same in an export, so PersonaLab does
  not guess. Use ``survey.multi().fillna(0)`` when you know "nothing ticked" means "no".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personalab.codebook import (
    Codebook,
    Question,
    ValidationReport,
    _file_rows,
    _parse_wave,
    _matches,
    infer_codebook,
    load_codebook,
)
from personalab.errors import InputError, short_path
from personalab.ids import in_ids

__all__ = ["Survey", "read_survey"]

_DUPLICATE_MODES = ("raise", "suffix")


def _role_ok(role, wanted) -> bool:
    # Accessors: role=None means every role except 'ignore'; role="all" means every role.
    if wanted is None:
        return role != "ignore"
    if wanted == "all":
        return True
    return _matches(role, wanted)


class Survey:
    """A typed survey wave: one row per respondent, columns as the codebook says.

    Build one with :meth:`from_raw` or :func:`read_survey`; the constructor only stores
    what it is given.

    Attributes
    ----------
    data : DataFrame
        Indexed by respondent id (str, index name ``respondent_id``). Likert: float codes as
        answered (not flipped); single: Categorical of labels; multi: ``<qid>:<option>``
        Int8 0/1; numeric and weight: float; text: str; date: datetime64; meta and id: as read.
    codebook : Codebook
    wave, source, sha256, format : str, Path, str, str
        Wave name (defaults to the file's stem), the source file, its hash and format.
    file_rows : Series
        Respondent id -> file line number (1-based, headers included).
    missing_reasons : DataFrame
        Tidy: respondent_id, question, reason — one row per explicit missing code.
    duplicate_ids : DataFrame
        respondent_id, original_id, file_row, occurrence for every row whose id appeared
        more than once (only with ``duplicate_ids="suffix"``; empty otherwise).
    """

    def __init__(self, data, codebook, *, wave, source=None, sha256=None, format=None,
                 file_rows=None, missing_reasons=None, duplicate_ids=None, no_answer=None):
        self.data = data
        self.codebook = codebook
        self.wave = wave
        self.source = source
        self.sha256 = sha256
        self.format = format
        self.file_rows = file_rows
        self.missing_reasons = missing_reasons if missing_reasons is not None else \
            pd.DataFrame({"respondent_id": pd.Series(dtype="str"),
                          "question": pd.Series(dtype="str"), "reason": pd.Series(dtype="str")})
        self.duplicate_ids = duplicate_ids if duplicate_ids is not None else _empty_duplicates()
        # question id -> bool array "a substantive answer was given" (for summary()).
        self._answered = no_answer or {}

    # construction ---------------------------------------------------------------------
    @classmethod
    def from_raw(cls, raw, codebook: Codebook, wave: str | None = None, *,
                 duplicate_ids: str = "raise") -> "Survey":
        """Type a raw wave with its codebook, after checking that they fit.

        Parameters
        ----------
        raw : RawWave
        codebook : Codebook
        wave : str, optional
            Defaults to the source file's stem.
        duplicate_ids : {'raise', 'suffix'}
            ``'raise'``: a respondent id seen twice is an error naming the rows.
            ``'suffix'``: later occurrences become ``"<id>~2"``, ``"<id>~3"``... and are
            listed in :attr:`duplicate_ids` so quality checks can flag ``duplicate_id``.

        Raises
        ------
        CodebookError
            The codebook does not fit the wave (missing column, label not in a scale, ...).
        InputError
            Bad values: duplicate or blank ids, bad weights, non-numbers, out-of-range
            values; a number or date column that mixes conventions or cannot be decided
            (see :mod:`personalab.conventions`).
        """
        return cls.read_with_report(raw, codebook, wave, duplicate_ids=duplicate_ids)[0]

    @classmethod
    def read_with_report(cls, raw, codebook: Codebook, wave: str | None = None, *,
                         duplicate_ids: str = "raise"):
        """:meth:`from_raw` and the :class:`~personalab.codebook.ValidationReport` it
        checked, from one reading of the wave: ``(survey, report)``.

        The report is what :func:`~personalab.codebook.validate_codebook` returns for the
        same wave (warnings included); the wave is parsed once instead of twice.
        Raises as :meth:`from_raw`.
        """
        if duplicate_ids not in _DUPLICATE_MODES:
            raise InputError(f"duplicate_ids={duplicate_ids!r} is not an option",
                             fix="use duplicate_ids='raise' or duplicate_ids='suffix'")
        # _parse_wave puts numbers and dates in one convention per column first ("1,5" is
        # 1.5 only where the column writes decimal commas); a column that mixes them or
        # cannot be decided is an error of the report, naming the rows and the option.
        parsed, ids, weights, full = _parse_wave(codebook, raw)
        report = full
        if duplicate_ids == "suffix":
            report = ValidationReport([i for i in full.issues if i.kind != "duplicate_id"],
                                      file=full.file)
        report.raise_if_errors()

        n = len(raw.data)
        file_rows = _file_rows(raw)
        dups = _empty_duplicates()
        if ids is None:
            ids = "row-" + pd.Series(file_rows).astype("str")
        elif duplicate_ids == "suffix":
            ids, dups = _suffix_duplicates(ids, file_rows)
        # From the column itself: a round trip through Python strings costs seconds at 1M.
        index = pd.Index(ids.array, dtype="str", name="respondent_id")

        # Likert codes go straight into one float block (np.take(out=)), which spares a
        # copy of the widest part of a million-row wave; other columns keep their dtypes.
        present = [q for q in codebook.questions if q.id in parsed]
        likert_qs = [q for q in present if q.type == "likert"]
        block = np.empty((n, len(likert_qs)), dtype=float, order="F")
        for j, q in enumerate(likert_qs):
            codes = np.array([float(c) for c in q.scale_codes] + [np.nan])
            # position -1 (no answer) wraps to the trailing NaN
            np.take(codes, parsed[q.id].values[q.id], out=block[:, j], mode="wrap")
        others, order, answered = {}, [], {}
        pos_parts, q_parts, r_parts, reason_names = [], [], [], []
        for qi, q in enumerate(present):
            p = parsed[q.id]
            answered[q.id] = p.answered
            if q.type == "likert":
                order.append(q.id)
            else:
                for name, values in _typed_columns(q, p).items():
                    # .array keeps the dtype and drops the RangeIndex: nothing re-aligns.
                    others[name] = values.array if isinstance(values, pd.Series) else values
                    order.append(name)
            for reason, rows in p.reasons.items():
                if len(rows):
                    if reason not in reason_names:
                        reason_names.append(reason)
                    pos_parts.append(rows)
                    q_parts.append(np.full(len(rows), qi))
                    r_parts.append(np.full(len(rows), reason_names.index(reason)))
        if weights is not None:
            others[codebook.weight] = weights
            if codebook.weight not in order:
                order.append(codebook.weight)
        frames = [pd.DataFrame(block, columns=[q.id for q in likert_qs], index=index, copy=False),
                  pd.DataFrame(others, index=index)]
        data = pd.concat(frames, axis=1)[order]
        missing = None
        if pos_parts:
            pos = np.concatenate(pos_parts)
            missing = pd.DataFrame({
                "respondent_id": index.take(pos),
                "question": pd.Categorical.from_codes(np.concatenate(q_parts),
                                                      categories=[q.id for q in present]),
                "reason": pd.Categorical.from_codes(np.concatenate(r_parts),
                                                    categories=reason_names),
            })
        return cls(
            data, codebook,
            wave=wave or (Path(raw.path).stem if raw.path is not None else "wave"),
            source=Path(raw.path) if raw.path is not None else None,
            sha256=raw.sha256, format=raw.format,
            file_rows=pd.Series(file_rows, index=index, name="file_row"),
            missing_reasons=missing, duplicate_ids=dups, no_answer=answered,
        ), full

    # accessors ----------------------------------------------------------------------
    def questions(self, type=None, role=None) -> list[Question]:
        """Codebook questions by type and role (``role=None``: all but 'ignore')."""
        return [q for q in self.codebook.questions
                if _matches(q.type, type) and _role_ok(q.role, role)]

    def _present(self, type, role) -> list[Question]:
        return [q for q in self.questions(type=type, role=role) if q.id in self._answered]

    def likert(self, role=None) -> pd.DataFrame:
        """Likert answers as float codes; reverse-keyed items flipped (min + max - code).

        Missing codes and blanks are NaN.
        """
        qs = self._present("likert", role)
        if not qs:
            return pd.DataFrame({}, index=self.data.index)
        # Filled column by column into one float block, which the frame then wraps as it
        # is: no per-column arrays to stack (a second copy of a million-row battery).
        out = np.empty((len(self.data), len(qs)), dtype=float, order="F")
        for j, q in enumerate(qs):
            v = self.data[q.id].to_numpy(dtype=float)
            if q.reverse:
                codes = [float(c) for c in q.scale_codes]
                np.subtract(min(codes) + max(codes), v, out=out[:, j])
            else:
                out[:, j] = v
        return pd.DataFrame(out, columns=[q.id for q in qs], index=self.data.index, copy=False)

    def multi(self, role=None) -> pd.DataFrame:
        """Multi-select indicators ``<qid>:<option>`` (Int8 0/1, <NA> when unanswered)."""
        cols = [f"{q.id}:{o}" for q in self._present("multi", role) for o in q.multi_options]
        return self.data[cols].copy()

    def categorical(self, role=None) -> pd.DataFrame:
        """Likert and single-choice answers as labelled Categoricals (ordered for scales)."""
        out = {}
        for q in self._present(["likert", "single"], role):
            col = self.data[q.id]
            if isinstance(col.dtype, pd.CategoricalDtype):
                out[q.id] = col
                continue
            # likert codes -> positions on the scale -> labels
            codes = [float(c) for c in q.scale_codes]
            v = col.to_numpy(dtype=float)
            pos = np.full(len(v), -1, dtype=np.int64)
            for i, c in enumerate(codes):
                pos[v == c] = i
            out[q.id] = pd.Categorical.from_codes(pos, categories=q.scale_labels,
                                                  ordered=q.is_ordered)
        return pd.DataFrame(out, index=self.data.index)

    def numeric(self, role=None) -> pd.DataFrame:
        """Numeric questions as float."""
        return self.data[[q.id for q in self._present("numeric", role)]].astype(float)

    def text(self, role=None) -> pd.DataFrame:
        """Free-text answers, stripped; NaN for blank."""
        return self.data[[q.id for q in self._present("text", role)]].copy()

    def dates(self, role="all") -> pd.DataFrame:
        """Date questions as datetime64 (every role by default: dates are usually 'ignore')."""
        return self.data[[q.id for q in self._present("date", role)]].copy()

    def meta(self) -> pd.DataFrame:
        """Metadata columns (Status, Progress, Duration, Finished, ...), as read."""
        return self.data[[q.id for q in self._present("meta", "all")]].copy()

    def weights(self) -> pd.Series:
        """Respondent weights (float); 1.0 for everyone when the codebook names none."""
        if self.codebook.weight is None:
            return pd.Series(1.0, index=self.data.index, name="weight")
        return self.data[self.codebook.weight].astype(float).rename("weight")

    @property
    def respondent_ids(self) -> pd.Index:
        return self.data.index

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (f"<Survey {self.wave!r}: {len(self.data)} respondents, "
                f"{len(self.codebook.questions)} questions, from {self.source}>")

    def subset(self, ids) -> "Survey":
        """A Survey of the given respondents only, in the order given.

        Raises
        ------
        InputError
            Some ids are not in this survey.
        """
        ids = pd.Index(ids)
        ids = ids if ids.dtype == "str" else pd.Index([str(i) for i in ids], dtype="str")
        pos = self.data.index.get_indexer(ids)
        if (pos < 0).any():
            unknown = ids[pos < 0]
            raise InputError(f"{len(unknown)} respondent id(s) are not in wave {self.wave!r}: "
                             f"{', '.join(map(repr, list(unknown)[:5]))}",
                             file=short_path(self.source) if self.source else None,
                             fix="pass ids from survey.data.index")

        def rows_of_kept(frame):
            return frame[in_ids(frame["respondent_id"], ids)].reset_index(drop=True)

        return Survey(
            self.data.iloc[pos].copy(), self.codebook, wave=self.wave, source=self.source,
            sha256=self.sha256, format=self.format, file_rows=self.file_rows.iloc[pos].copy(),
            missing_reasons=rows_of_kept(self.missing_reasons),
            duplicate_ids=rows_of_kept(self.duplicate_ids),
            no_answer={k: v[pos] for k, v in self._answered.items()},
        )

    def summary(self) -> pd.DataFrame:
        """Tidy per-question table: question, type, role, n_answered, n_missing,
        n_no_answer (blank), missing_reasons ("dont_know: 12, refused: 3")."""
        counts = (self.missing_reasons.groupby(["question", "reason"], observed=True).size()
                  if len(self.missing_reasons) else pd.Series(dtype=int))
        rows = []
        for q in self.codebook.questions:
            if q.id not in self._answered:
                continue
            answered = int(self._answered[q.id].sum())
            reasons = counts.loc[q.id] if q.id in counts.index.get_level_values(0) else {}
            n_coded = int(sum(reasons.values)) if len(reasons) else 0
            n_missing = len(self.data) - answered
            rows.append({
                "question": q.id, "type": q.type, "role": q.role, "n_answered": answered,
                "n_missing": n_missing, "n_no_answer": n_missing - n_coded,
                "missing_reasons": ", ".join(f"{r}: {int(c)}" for r, c in reasons.items())
                if len(reasons) else "",
            })
        return pd.DataFrame(rows, columns=["question", "type", "role", "n_answered",
                                           "n_missing", "n_no_answer", "missing_reasons"])


def _empty_duplicates() -> pd.DataFrame:
    return pd.DataFrame({"respondent_id": pd.Series(dtype="str"),
                         "original_id": pd.Series(dtype="str"),
                         "file_row": pd.Series(dtype="int64"),
                         "occurrence": pd.Series(dtype="int64")})


def _suffix_duplicates(ids: pd.Series, file_rows: np.ndarray):
    """Make ids unique: the first occurrence keeps its id, later ones get '~2', '~3'..."""
    dup = ids.duplicated(keep=False).to_numpy()
    if not dup.any():
        return ids, _empty_duplicates()
    occurrence = ids.groupby(ids, sort=False).cumcount().to_numpy() + 1
    new = ids.to_numpy(dtype=object).copy()
    taken = set(ids)
    for i in np.flatnonzero(occurrence > 1):
        k = occurrence[i]
        candidate = f"{ids.iloc[i]}~{k}"
        while candidate in taken:   # an export could already hold "A~2"
            k += 1
            candidate = f"{ids.iloc[i]}~{k}"
        new[i] = candidate
        taken.add(candidate)
    rows = np.flatnonzero(dup)
    table = pd.DataFrame({"respondent_id": pd.Series(new[rows], dtype="str"),
                          "original_id": pd.Series(ids.to_numpy()[rows], dtype="str"),
                          "file_row": file_rows[rows].astype("int64"),
                          "occurrence": occurrence[rows].astype("int64")})
    return pd.Series(new, dtype="str"), table


def _typed_columns(q: Question, p) -> dict:
    """Output columns of one parsed question, typed for Survey.data."""
    if q.type == "multi":
        return p.values
    v = p.values[q.id]
    if q.type == "likert":
        codes = np.array([float(c) for c in q.scale_codes] + [np.nan])
        return {q.id: codes[v]}     # position -1 (no answer) picks the trailing NaN
    if q.type == "single":
        categories = q.scale_labels if q.scale else getattr(p, "categories", [])
        return {q.id: pd.Categorical.from_codes(v, categories=categories, ordered=q.is_ordered)}
    return {q.id: v}


def read_survey(path, codebook=None, wave: str | None = None, format: str = "auto", *,
                duplicate_ids: str = "raise", decimal=None, thousands=None,
                dayfirst=None) -> Survey:
    """Read an export and type it with its codebook in one call.

    Parameters
    ----------
    path : str or Path
        The raw export (CSV, XLSX, Qualtrics, SurveyMonkey, SPSS, ...).
    codebook : Codebook, str or Path, optional
        A codebook or its YAML file. Without one, :func:`infer_codebook` drafts one — fine
        for a first look; save it with ``save_codebook`` and check it before analysis.
    wave : str, optional
        Defaults to the file's stem.
    format : str
        Passed to ``load_export`` ("auto" detects it).
    duplicate_ids : {'raise', 'suffix'}
        See :meth:`Survey.from_raw`.
    decimal, thousands, dayfirst : optional
        How numbers and dates are written, when their columns cannot tell; passed to
        ``load_export`` (one value, or a dict per column).
    """
    from personalab.loaders import load_export   # the loader is heavy and optional here

    raw = load_export(path, format=format, decimal=decimal, thousands=thousands,
                      dayfirst=dayfirst)
    if codebook is None:
        cb = infer_codebook(raw)
    elif isinstance(codebook, Codebook):
        cb = codebook
    else:
        cb = load_codebook(codebook)
    return Survey.from_raw(raw, cb, wave=wave, duplicate_ids=duplicate_ids)
