"""Response quality: flag speeders, straight-liners, duplicates, test rows and the like.

Nothing is dropped silently. :func:`check_quality` returns a :class:`QualityResult` that
holds one row per (respondent, flag) with a human-readable detail, the list of excluded
respondents with their reasons, and the ids that are kept. Every respondent is either kept
or excluded with at least one reason (``n_total == n_kept + n_excluded``; checked every time).
A check whose metadata is missing (no ``Duration`` column, no grid in the codebook, ...) is
*skipped* and ``QualityResult.skipped`` says why; it never raises.

Start and end dates kept as text (``dd/mm/yyyy`` or ``mm/dd/yyyy``) are read in one day/month
order for both columns, decided from all their values as the ingest decides a date
question's (:mod:`personalab.conventions`), never row by row; dates written in both orders,
or that read both ways with different durations, skip the speeder check naming the column,
the rows and the fix.

Examples
--------
>>> result = check_quality(survey)                       # doctest: +SKIP
>>> result.summary()                                     # doctest: +SKIP
>>> clean = result.apply(survey)                         # doctest: +SKIP
>>> strict = check_quality(survey, QualityRules(exclude=QualityRules.ALL_FLAGS))  # doctest: +SKIP
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from personalab.errors import ConfigError, InputError

#: Every flag, in the order they are reported (the order reasons are listed in).
FLAGS = (
    "test_response",
    "duplicate_id",
    "duplicate_answers",
    "incomplete",
    "speeder",
    "straightliner",
    "attention_check",
    "not_segmentable",
)

#: One sentence per flag, for reports.
FLAG_DESCRIPTIONS = {
    "test_response": "Preview, test or spam response (Status, DistributionChannel) "
                     "or an open answer that is only a test phrase",
    "duplicate_id": "Respondent id that occurs more than once in the raw file",
    "duplicate_answers": "Same answers as an earlier respondent (the earlier one is kept)",
    "incomplete": "Did not finish the survey (Progress below the threshold or Finished is false)",
    "speeder": "Completed the survey much faster than the median respondent",
    "straightliner": "Gave the same answer to every item of a Likert grid",
    "attention_check": "Failed an attention-check question",
    "not_segmentable": "Answered none of the segmentation questions, or too few of those "
                       "most respondents answered (QualityRules.min_segment_answered, a "
                       "quarter by default), so no segment can be found for them "
                       "(their missing answers would otherwise define a persona of their own)",
    "listed": "Listed for exclusion by the researcher (study.yml exclude_respondents), "
              "with the reason given there",
}

#: The flag of respondents the researcher lists for exclusion (``exclude_respondents``): a
#: decision, not a check of the data, so it is not one of :data:`FLAGS`; it is reported after
#: them (in the flags, the exclusions' reasons and the report's table) whenever a list is
#: given, and it always excludes.
LISTED = "listed"

# Qualtrics `Status` (response type): labels in choice-text exports, codes in numeric ones.
# 0 IP Address and 4 Imported are real responses; 16 Offline is a real response too.
_TEST_STATUS = (
    "survey preview", "survey test", "spam", "preview spam", "imported spam",
    "offline survey preview", "preview", "test",
    "1", "2", "8", "9", "12", "17",
)
# An open answer made *only* of test words, with at least one of the core ones ("test",
# "testing 123", "Test response, ignore", "asdf", "lorem ipsum") is what people type when
# they click through their own survey. "I tested it with my bank" does not match.
_TEST_CORE = r"(?:test(?:s|ing|ed)?|asdf\w*|qwerty\w*|lorem|dummy)"
_TEST_WORD = (r"(?:test(?:s|ing|ed)?|asdf\w*|qwerty\w*|lorem|ipsum|dolor|dummy|ignore|please|"
              r"this|is|a|just|only|response|entry|answer|run|submission|survey|\d+)")
_TEST_TEXT = rf"[\W_]*(?:{_TEST_WORD}[\W_]+)*{_TEST_CORE}(?:[\W_]+{_TEST_WORD})*[\W_]*"


@dataclass
class QualityRules:
    """Thresholds of the response-quality checks, with defaults a methodologist can defend.

    Parameters
    ----------
    speeder_ratio : float, default 1/3
        A *completed* response is a speeder when its duration is below
        ``speeder_ratio × median duration`` of the completed, non-test responses. One third
        of the median is the common practice in online-panel cleaning and the more
        conservative of the two usual cut-offs (1/3 and 1/2 of the median; see Greszki,
        Meyer & Schoen 2015, *Public Opinion Quarterly* 79(2), who compare 30-50 % rules).
        At one half, careful but fast readers — often the most experienced users, whom a
        persona study wants to keep — start to be flagged; at one third a respondent has had
        too little time to read the questions. The median, not the mean, because durations
        are heavy-tailed (respondents leave a tab open for hours).
    speeder_min_responses : int, default 10
        Fewest completed responses with a duration needed to trust their median; below it the
        check is skipped.
    min_grid_items : int, default 5
        A grid (the codebook's ``grid:`` battery) is checked for straight-lining only when the
        respondent answered at least this many of its items. With fewer items, identical
        answers are too likely from genuine respondents (Kim et al. 2019, *Social Science
        Computer Review* 37(2); Reuning & Plutzer 2020, *Survey Research Methods* 14(5)).
        Answers are compared as given (reverse keying not undone: the sign is clicking the
        same column); a "Don't know" (a missing code) on one item is a different answer; and
        an attention-check item inside the grid counts as one of its items: whoever answers
        it as instructed while giving one answer elsewhere has shown that they read the grid.
    straightline_max_sd : float or None, default None
        Also flag *near* straight-lining: a grid whose answers have a standard deviation at or
        below this value (e.g. 0.3 on a 5-point scale). ``None`` (default) flags only
        identical answers, which is the definition nobody disputes.
    duplicate_min_items : int, default 10
        Respondents are compared only when they answered at least this many *closed*
        questions (rating, choice, multi-select, number), and a near-duplicate must match
        on at least this many of them; two people who skipped everything are not duplicates
        of each other, nor are two who typed the same short open answer ("Good", "n/a"),
        which is common among genuine respondents. A survey with fewer closed questions is
        not checked (the check is skipped with its reason).
    duplicate_near_share : float or None, default 0.9
        Near-duplicates: at least this share of equal answers, over every item either of the
        two answered (each multi-select option and each open answer is an item). The usual
        signature of one person, or a bot, submitting twice with a few edits. Why 0.9: two
        distinct respondents agree on far fewer items (on the bundled sample the closest
        genuine pair agrees on 78 %), while a copy with two answers changed out of 40 still
        agrees on 95 %; 0.95 would sit on top of such copies. ``None``: exact duplicates only.
        Exact duplicates are found among everyone (by hashing rows); near-duplicates among
        respondents who share the same IP address (when the export has one) or the same open
        answer of at least ``duplicate_min_text_chars`` characters — comparing every pair of
        a million respondents is not possible, and without such a key near-identical closed
        answers are as likely a coincidence as a copy.
    duplicate_min_text_chars : int, default 20
        Open text shorter than this ("no", "n/a", "nothing to add") is too common to
        pair respondents on.
    duplicate_max_block : int, default 50
        An IP address or open answer shared by more respondents than this (an office behind
        one address, a stock phrase) identifies nobody and is not used to pair respondents.
    duplicate_id_keep : {'first', 'none'}, default 'first'
        When a respondent id occurs more than once in the raw file (read with
        ``duplicate_ids="suffix"``): ``'first'`` flags the later occurrences and keeps the
        first, as for duplicate answers (a second attempt has seen the questions before);
        ``'none'`` flags every occurrence, for when you cannot tell which one is genuine.
    min_progress : float, default 100
        A response with ``Progress`` below this (percent) is incomplete; so is one whose
        ``Finished`` is false.
    attention_min_failures : int, default 1
        Failed attention checks needed for the flag. With several checks, 2 is a common,
        more lenient choice (one slip is forgiven).
    min_segment_answered : float, default 0.25
        ``not_segmentable`` also flags a respondent who answered fewer than this share of
        the *core* segmentation questions: those that at least half of all respondents
        answered. A follow-up only some were asked ("If yes, …") is not core, so routing
        does not count against anyone; a respondent who stopped after the first page (the
        Queensland TAFE exit survey: 84 of 702 answered under a quarter) would otherwise be
        placed by imputed answers and form a segment of their own. Why a quarter: routing
        alone stays above it on the real exports tried (lowest share 0.32 in OSMI 2016,
        whose self-employed without a previous employer skip both employer blocks; 0.48 or
        more in the Young People, DETE, Google Forms and Cantera exports). ``0``: only
        respondents who answered nothing are flagged.
    attention_missing_fails : bool, default False
        Whether an unanswered attention check counts as failed. Off by default: most
        unanswered checks belong to respondents who left before reaching them, who are
        already flagged ``incomplete``.
    test_statuses : tuple of str
        ``Status`` values (labels and Qualtrics numeric codes) that mark a test response.
    test_channels : tuple of str
        ``DistributionChannel`` values that mark a test response.
    test_text_pattern : str
        Regular expression an open answer must match *entirely* (case-insensitive) to mark
        a test response.
    exclude : tuple of str
        Flags that exclude a respondent. Default: every flag except ``straightliner``.
        Straight-lining alone is weak evidence: on a grid whose items are all keyed the same
        way, identical answers are often a genuine, consistent opinion (the enthusiastic
        user answering "Strongly agree" throughout), and excluding them removes real
        respondents from the extremes of the persona space (Reuning & Plutzer 2020). It is
        flagged and reported; straight-liners who also speed or fail an attention check are
        excluded for those reasons. Add it with ``exclude=QualityRules.ALL_FLAGS``.
        ``"listed"`` may be named too; it changes nothing (listed respondents are always
        excluded, see ``exclude_respondents``).
    exclude_respondents : dict, optional
        Respondents the researcher excludes by hand, ``{respondent id: reason}`` (test
        responses by the team, a respondent known to be a colleague: things no column of the
        export tells apart). Each is flagged :data:`LISTED` with ``"Listed for exclusion in
        study.yml: <reason>"`` and excluded, whatever ``exclude`` says: the list itself is
        the decision, and a second switch would let a config that sets ``exclude_flags``
        keep them without a word. Ids are compared as the survey writes them (``str(id)``,
        trimmed, so a YAML ``1001`` matches the id ``"1001"``). An id that is not a
        respondent of the wave is refused by :func:`check_quality` (a typo would otherwise
        exclude nobody); see :func:`exclusion_list` for the forms study.yml takes.
    """

    ALL_FLAGS = FLAGS

    speeder_ratio: float = 1 / 3
    speeder_min_responses: int = 10
    min_grid_items: int = 5
    straightline_max_sd: float | None = None
    duplicate_min_items: int = 10
    duplicate_near_share: float | None = 0.9
    duplicate_min_text_chars: int = 20
    duplicate_max_block: int = 50
    duplicate_id_keep: str = "first"
    min_progress: float = 100.0
    attention_min_failures: int = 1
    attention_missing_fails: bool = False
    min_segment_answered: float = 0.25
    test_statuses: tuple = _TEST_STATUS
    test_channels: tuple = ("preview", "test")
    test_text_pattern: str = _TEST_TEXT
    exclude: tuple = tuple(f for f in FLAGS if f != "straightliner")
    exclude_respondents: dict | None = None

    def __post_init__(self):
        if isinstance(self.exclude, str):
            self.exclude = (self.exclude,)
        self.exclude = tuple(self.exclude)
        unknown = [f for f in self.exclude if f not in FLAGS and f != LISTED]
        if unknown:
            raise ConfigError("unknown quality flag(s) in exclude: "
                              + ", ".join(map(repr, unknown)),
                              fix=f"use some of: {', '.join(FLAGS)}")
        if self.exclude_respondents is not None:
            self.exclude_respondents = exclusion_list(self.exclude_respondents)
        if not 0 < self.speeder_ratio <= 1:
            raise ConfigError(f"speeder_ratio must be in (0, 1], got {self.speeder_ratio!r}",
                              fix="1/3 (default) or 0.5 are the usual choices")
        for name in ("speeder_min_responses", "min_grid_items", "duplicate_min_items",
                     "duplicate_max_block", "attention_min_failures"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.min_grid_items < 2:
            raise ConfigError(f"min_grid_items must be at least 2, got {self.min_grid_items!r}",
                              fix="one answered item is always 'the same answer'")
        if self.duplicate_near_share is not None and not 0 < self.duplicate_near_share <= 1:
            raise ConfigError("duplicate_near_share must be in (0, 1] or None, "
                              f"got {self.duplicate_near_share!r}")
        if not 0 <= self.min_segment_answered <= 1:
            raise ConfigError("min_segment_answered must be in [0, 1], "
                              f"got {self.min_segment_answered!r}",
                              fix="0.25 (default); 0 flags only respondents who answered nothing")
        if self.duplicate_id_keep not in ("first", "none"):
            raise ConfigError("duplicate_id_keep must be 'first' or 'none', "
                              f"got {self.duplicate_id_keep!r}")
        try:
            re.compile(self.test_text_pattern)
        except re.error as exc:
            raise ConfigError(f"test_text_pattern is not a valid regular expression: {exc}",
                              fix="check the pattern, or leave the default") from None

    def threshold(self, flag: str) -> str:
        """The rule of one flag in words, as written in reports."""
        ratio = _fraction(self.speeder_ratio)
        channels = "/".join(self.test_channels)
        sd = ("" if self.straightline_max_sd is None
              else f" (or SD ≤ {self.straightline_max_sd:g})")
        near = ("" if self.duplicate_near_share is None
                else f", or ≥ {self.duplicate_near_share:.0%} of answers equal")
        blank = " or left blank" if self.attention_missing_fails else ""
        return {
            "test_response": "Status in preview/test/spam; DistributionChannel in "
                             f"{channels}; open answer that is only a test phrase",
            "duplicate_id": "respondent id seen more than once in the raw file",
            "duplicate_answers": "identical answers on every item "
                                 f"(≥ {self.duplicate_min_items} closed questions "
                                 f"answered){near}",
            "incomplete": f"Progress < {self.min_progress:g}% or Finished is false",
            "speeder": f"duration < {ratio} × median duration of completed responses",
            "straightliner": "same answer on every item of a grid, "
                             f"≥ {self.min_grid_items} items answered{sd}",
            "attention_check": f"≥ {self.attention_min_failures} attention check(s) answered "
                               f"other than expected{blank}",
            "not_segmentable": "no substantive answer (blank or a missing code such as Don't "
                               "know) to any question with role: segment"
                               + (f", or to fewer than {self.min_segment_answered:.0%} of those "
                                  "at least half of the respondents answered"
                                  if self.min_segment_answered > 0 else ""),
            LISTED: f"id listed in exclude_respondents "
                    f"({len(self.exclude_respondents or {})} listed); always excludes",
        }[flag]

    def reported_flags(self) -> tuple:
        """The flags these rules report, in order: :data:`FLAGS`, then :data:`LISTED` when
        respondents are listed for exclusion."""
        # a QualityRules pickled before the list existed has no such attribute
        return FLAGS + (LISTED,) if getattr(self, "exclude_respondents", None) else FLAGS

    def excludes(self, flag: str) -> bool:
        """Whether a flag excludes under these rules (:data:`LISTED` always does)."""
        return flag == LISTED or flag in self.exclude


def exclusion_list(value, *, file=None, key: str = "exclude_respondents") -> dict:
    """Respondents listed for exclusion, as ``{respondent id: reason}`` (both text).

    ``value`` is a mapping ``{id: reason}`` (YAML may give an id as a number: it is
    compared as text, ``1001`` as ``"1001"``), or a path to a CSV file with the columns
    ``respondent_id`` and ``reason`` (read as text, UTF-8). Every id needs a reason that is
    not blank: the reason is what the report gives for the exclusion.

    Raises
    ------
    ConfigError
        Not a mapping or a CSV path, an id listed twice, or a blank reason; naming ``file``
        (the study config, or the CSV), the key and the fix.
    """
    from pathlib import Path

    example = (f'{key}:\n    "3pcu3xeho94or13fmgo3pcu3vu7ufm3r": test response by the team\n'
               f'  (or {key}: excluded.csv, with the columns respondent_id,reason)')
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"{key} names the file {str(path)!r}, which does not exist",
                              file=file, column=key,
                              fix="check the path (relative paths are read from the config "
                                  "file's folder), or list the ids in study.yml: " + example)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ConfigError(f"cannot read the exclusion list: {exc}", file=path,
                              column=key, fix="save it as a UTF-8 CSV with the columns "
                                              "respondent_id,reason") from None
        table.columns = [str(c).strip() for c in table.columns]
        missing = [c for c in ("respondent_id", "reason") if c not in table.columns]
        if missing:
            raise ConfigError(f"the exclusion list has no column {missing[0]!r} (its columns: "
                              f"{', '.join(map(repr, table.columns))})", file=path,
                              column=key, fix="give it the header line respondent_id,reason")
        rows = list(zip(table["respondent_id"], table["reason"], range(2, len(table) + 2)))
        file = path
    elif isinstance(value, dict):
        rows = [(k, v, None) for k, v in value.items()]
    else:
        what = "a list of ids without reasons" if isinstance(value, (list, tuple)) else \
            f"{type(value).__name__} {value!r}"
        raise ConfigError(f"{key} must map each respondent id to the reason it is excluded, "
                          f"got {what}", file=file, column=key, fix=example)
    out: dict = {}
    for rid, reason, row in rows:
        text = "" if rid is None else str(rid).strip()
        if not text:
            raise ConfigError(f"{key} lists a blank respondent id", file=file, column=key,
                              row=row, fix="remove the line, or write the id")
        if text in out:
            raise ConfigError(f"{key} lists the respondent id {text!r} twice", file=file,
                              column=key, row=row, fix="keep one line per respondent")
        if reason is not None and not isinstance(reason, str):
            raise ConfigError(f"{key} gives {reason!r} as the reason for the respondent id "
                              f"{text!r}: a reason is text", file=file, column=key, row=row,
                              fix=f'write why it is excluded, e.g. {text!r}: "test response '
                                  'by the team"')
        if reason is None or not reason.strip():
            raise ConfigError(f"{key} gives no reason for the respondent id {text!r}",
                              file=file, column=key, row=row,
                              fix=f"write why it is excluded, e.g. {text!r}: test response "
                                  "by the team (the report shows it)")
        out[text] = reason.strip()
    return out



@dataclass
class QualityResult:
    """What :func:`check_quality` found. Nothing is dropped until :meth:`apply`.

    Attributes
    ----------
    flags : DataFrame
        Tidy, one row per (respondent, flag): ``respondent_id``, ``flag``, ``detail``,
        ``excludes`` (whether this flag excludes under the rules used).
    exclusions : DataFrame
        One row per excluded respondent: ``respondent_id``, ``reasons`` (excluding flags,
        joined with ``"; "`` in :data:`FLAGS` order).
    kept : Index
        Ids of the respondents kept, in the survey's order.
    skipped : dict
        Flag -> why the check could not run (missing metadata). Skipped checks flag nobody.
    thresholds : dict
        Flag -> the rule as applied, with the numbers found in this wave (e.g. the median).
    rules : QualityRules
        The rules used.
    respondent_ids : Index
        Every respondent checked, in the survey's order.
    """

    flags: pd.DataFrame
    exclusions: pd.DataFrame
    kept: pd.Index
    skipped: dict
    thresholds: dict
    rules: QualityRules
    respondent_ids: pd.Index = field(repr=False)
    _excluded_pos: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_total(self) -> int:
        return len(self.respondent_ids)

    @property
    def n_kept(self) -> int:
        return len(self.kept)

    @property
    def n_excluded(self) -> int:
        return len(self.exclusions)

    @property
    def excluded(self) -> pd.Index:
        """Ids of the excluded respondents."""
        return pd.Index(self.exclusions["respondent_id"], name="respondent_id")

    def __repr__(self) -> str:
        counts = self.flags["flag"].value_counts()
        shown = ", ".join(f"{f}={counts.get(f, 0)}" for f in self.rules.reported_flags()
                          if f not in self.skipped)
        skipped = f"; skipped: {', '.join(self.skipped)}" if self.skipped else ""
        return (f"QualityResult(n_total={self.n_total}, kept={self.n_kept}, "
                f"excluded={self.n_excluded}; {shown}{skipped})")

    def check_accounting(self) -> dict:
        """Check that every respondent is kept or excluded with reasons, exactly once.

        Returns
        -------
        dict
            ``{"n_total": ..., "n_kept": ..., "n_excluded": ...}``.

        Raises
        ------
        RuntimeError
            When the books do not balance (a bug, never a property of the data).
        """
        ids, kept, excluded = self.respondent_ids, self.kept, self.excluded
        problems = []
        if not ids.is_unique:
            problems.append("respondent ids are not unique")
        if not excluded.is_unique:
            problems.append("an excluded respondent is listed twice")
        where = self._excluded_pos
        if where is None or len(where) != len(excluded) \
                or not ids[where].equals(pd.Index(excluded)):
            where = ids.get_indexer(excluded)    # no valid position witness: look them up
        if (where < 0).any():
            problems.append("an excluded id is not a respondent of this survey")
        is_out = np.zeros(len(ids), dtype=bool)
        is_out[where[where >= 0]] = True
        if not kept.equals(ids[~is_out]):
            problems.append("kept is not exactly the respondents who are not excluded")
        if (self.exclusions["reasons"].fillna("").str.len() == 0).any():
            problems.append("an excluded respondent has no reason")
        flagged_out = set(self.flags.loc[self.flags["excludes"], "respondent_id"])
        if flagged_out != set(excluded):
            problems.append("exclusions do not match the excluding flags")
        if problems:
            raise RuntimeError("quality accounting failed: " + "; ".join(problems))
        return {"n_total": self.n_total, "n_kept": self.n_kept, "n_excluded": self.n_excluded}

    def summary(self) -> pd.DataFrame:
        """Counts per flag, and for any flag.

        Returns
        -------
        DataFrame
            Indexed by ``flag`` (:data:`FLAGS`, then :data:`LISTED` when respondents are
            listed for exclusion, then ``"any"``): ``n_flagged`` (respondents),
            ``share`` (of all respondents), ``excludes`` (whether the flag excludes),
            ``n_excluded`` (of the flagged, how many are excluded, for any reason),
            ``checked`` (False when the check was skipped). The ``any`` row counts every
            flagged respondent; its ``n_excluded`` is the total excluded.
        """
        # a flagged respondent is excluded when any of their flags excludes
        who = pd.factorize(self.flags["respondent_id"])[0]
        any_excluding = np.bincount(who, weights=self.flags["excludes"].to_numpy(float)) > 0
        out = any_excluding[who] if len(who) else np.zeros(0, dtype=bool)
        n_flagged = self.flags["flag"].value_counts()
        n_out = self.flags.loc[out, "flag"].value_counts()
        rows = [{"flag": flag, "n_flagged": int(n_flagged.get(flag, 0)),
                 "excludes": self.rules.excludes(flag), "n_excluded": int(n_out.get(flag, 0)),
                 "checked": flag not in self.skipped} for flag in self.rules.reported_flags()]
        anyone = self.flags["respondent_id"].unique()
        rows.append({"flag": "any", "n_flagged": len(anyone), "excludes": None,
                     "n_excluded": self.n_excluded, "checked": None})
        out = pd.DataFrame(rows).set_index("flag")
        out.insert(1, "share", out["n_flagged"] / self.n_total if self.n_total else np.nan)
        return out

    def apply(self, survey):
        """The survey without the excluded respondents (``survey.subset(result.kept)``)."""
        ids = survey.data.index
        if len(ids) != self.n_total or not ids.equals(self.respondent_ids):
            raise InputError("this quality result was computed on a different survey "
                             f"({self.n_total} respondents checked, the survey has {len(ids)})",
                             fix="run check_quality(survey) on this survey first")
        return survey.subset(self.kept)



# --------------------------------------------------------------------------------------------
# Reading what the survey offers, defensively: a missing column means "skip", never a crash.
# Everything below works on positions (0..n-1 in survey order) and numpy arrays: string
# operations on a million arrow-backed strings are the slow part, so they are done on the
# *unique* values of a column (a Status column has a handful) and mapped back by code.

class _Skip(Exception):
    """A check cannot run on this survey; the message says why."""


class _Details:
    """Detail text per respondent position; several findings of one check join with '; '."""

    def __init__(self, n: int):
        self._text = np.full(n, "", dtype=object)

    def add(self, where, text) -> None:
        where = np.asarray(where)
        pos = np.flatnonzero(where) if where.dtype == bool else where.astype(np.int64)
        if not len(pos):
            return
        new = np.asarray(text, dtype=object)
        if new.ndim == 0:
            new = np.full(len(pos), new.item(), dtype=object)
        cur = self._text[pos]
        self._text[pos] = np.where(cur == "", new, cur + "; " + new)

    def hits(self) -> tuple[np.ndarray, np.ndarray]:
        pos = np.flatnonzero(self._text != "")
        return pos, self._text[pos]


@dataclass
class _Ctx:
    survey: object
    meta: pd.DataFrame
    rules: QualityRules
    n: int
    found: dict = field(default_factory=dict)     # flag -> positions flagged so far


def _attr(obj, name, default=None):
    """Attribute or mapping key of a codebook object (Question, scale option, ...)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _norm_name(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _meta_frame(survey) -> pd.DataFrame:
    try:
        meta = survey.meta()
    except Exception:  # noqa: BLE001 - a survey without metadata is a survey without metadata
        meta = None
    return meta if isinstance(meta, pd.DataFrame) else pd.DataFrame(index=survey.data.index)


def _find(ctx, *names) -> pd.Series | None:
    """The first metadata (then data) column whose name matches one of ``names``, loosely
    (case, spaces and punctuation ignored: 'Duration (in seconds)' == 'durationinseconds')."""
    wanted = [_norm_name(n) for n in names]
    for frame in (ctx.meta, ctx.survey.data):
        by_norm = {}
        for col in frame.columns:
            by_norm.setdefault(_norm_name(col), col)
        for w in wanted:
            if w in by_norm:
                col = frame[by_norm[w]]
                if isinstance(col, pd.DataFrame):      # duplicated column name: first one
                    col = col.iloc[:, 0]
                if not col.index.equals(ctx.survey.data.index):
                    col = col.reindex(ctx.survey.data.index)
                return col
    return None


def _key(v):
    """One value as a comparable string: trimmed, case-folded, 5.0 -> '5'; None if missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        if f != f:
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    s = str(v).strip().casefold()
    s = re.sub(r"^(-?\d+)\.0+$", r"\1", s)
    return s or None


def _per_unique(s: pd.Series, fn, missing, dtype=object) -> np.ndarray:
    """``fn(_key(value))`` for every value, computed once per unique value."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    vals = [fn(_key(v)) for v in np.asarray(uniques, dtype=object)]
    return np.array(vals + [missing], dtype=dtype)[codes]


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _as_bool(s: pd.Series) -> np.ndarray:
    """1.0 true, 0.0 false, NaN unknown."""
    return _per_unique(s, lambda k: 1.0 if k in _TRUE else 0.0 if k in _FALSE else np.nan,
                       np.nan, float)


def _as_number(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_timedelta64_dtype(s):
        return s.dt.total_seconds().to_numpy(float)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    # numbers read as text: convert each distinct value once (Progress has a handful)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce")
    return np.append(values.to_numpy(dtype=float, na_value=np.nan), np.nan)[codes]


def _as_time(s: pd.Series | None, dayfirst: bool | None = None) -> pd.Series | None:
    """Date-times of a column: typed ones as they are; text in ``dd/mm/yyyy`` or
    ``mm/dd/yyyy`` rewritten to ISO with ``dayfirst`` (one order for the whole column,
    see :func:`_read_times`) before parsing, so no row is placed by its own guess."""
    if s is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        if dayfirst is not None:
            from personalab.conventions import canonical_dates

            s = canonical_dates(s, dayfirst)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)    # "could not infer format"
            out = pd.to_datetime(s, errors="coerce")
            if out.isna().mean() > 0.5 and s.notna().any():
                # formats that differ row by row (ISO dates with and without a time);
                # dd/mm and mm/dd values are ISO by now, never guessed one by one
                out = pd.to_datetime(s, errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out if out.notna().any() else None


def _read_times(ctx, *columns, measure=None):
    """Date columns (Series or None) read with one day/month order for all of them.

    The order is decided as the ingest decides a date question's
    (:func:`personalab.conventions.date_orders`): a value like ``13/04/2024`` is day-first,
    ``04/13/2024`` month-first, and both are decided for every column together (a start
    and an end date of one export share their order). Columns already typed as dates are
    left as they are.

    ``measure(reading) -> Series``: what must come out the same when no value decides the
    order (default: the times themselves; durations for start and end dates, which a
    same-day ``03/04/2024 10:00 - 03/04/2024 10:12`` gives either way).

    Raises
    ------
    _Skip
        The columns hold both orders, or every value reads both ways and the two readings
        measure differently: the message names the column, example rows and the fix.
    """
    from personalab.conventions import date_orders

    text = [c for c in columns if c is not None and not pd.api.types.is_datetime64_any_dtype(c)]
    possible, touched = [], False
    rows = getattr(ctx.survey, "file_rows", None)
    if rows is not None and len(rows) == ctx.n:
        rows = np.asarray(rows)
    else:
        rows = None
    source = getattr(ctx.survey, "source", None)
    for order in (True, False):
        try:
            for c in text:
                touched |= bool(date_orders(c.to_frame(str(c.name)), [str(c.name)],
                                            dayfirst=order, file=source, file_rows=rows))
        except InputError:
            continue
        possible.append(order)
    if possible and not touched:        # no dd/mm or mm/dd value: nothing to decide
        return [_as_time(c) for c in columns]
    if not possible:
        # each order is contradicted somewhere: name the values of the undecided reading
        why = None
        for c in text:
            try:
                date_orders(c.to_frame(str(c.name)), [str(c.name)], file=source,
                            file_rows=rows)
            except InputError as err:
                why = err
                break
        if why is None:
            names = " and ".join(repr(str(c.name)) for c in text)
            raise _Skip(f"the dates in {names} are written in two orders (day-first in one, "
                        "month-first in the other); fix: export both columns in one format")
        raise _Skip(f"{why}".replace("\n  Fix:", "; fix:"))
    readings = [[_as_time(c, order) for c in columns] for order in possible]
    if len(readings) == 2 and not _same_times(*[measure(r) if measure else r
                                                for r in readings]):
        names = " and ".join(repr(str(c.name)) for c in text)
        what = "durations" if measure else "times"
        raise _Skip(f"every date in {names} reads both day-first and month-first (no day over "
                    f"12 decides it) and the two readings give different {what}; fix: export "
                    "the dates in ISO format (yyyy-mm-dd), or give the codebook's date "
                    "question its order (dayfirst=)")
    return readings[0]


def _same_times(a, b) -> bool:
    if not isinstance(a, (list, tuple)):
        a, b = [a], [b]
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return False
        if x is not None and not x.equals(y):
            return False
    return True


def _questions(survey, **kw) -> list:
    try:
        return list(survey.questions(**kw))
    except Exception:  # noqa: BLE001 - a stand-in without questions() has none
        return []


def _columns_of(survey, questions) -> list[str]:
    """Data columns of questions: the id, or ``<id>:<option>`` columns of a multi-select."""
    data_cols = list(survey.data.columns)
    out = []
    for q in questions:
        qid = _attr(q, "id")
        if qid in survey.data.columns:
            out.append(qid)
        else:
            out += [c for c in data_cols if str(c).startswith(f"{qid}:")]
    return list(dict.fromkeys(out))


def _text_frame(survey) -> pd.DataFrame:
    """Open-text answers (every role), NaN for blank."""
    t = None
    for kw in ({"role": "all"}, {}):
        try:
            t = survey.text(**kw)
            break
        except Exception:  # noqa: BLE001
            continue
    if isinstance(t, pd.Series):
        t = t.to_frame()
    if not isinstance(t, pd.DataFrame) or t.shape[1] == 0:
        return pd.DataFrame(index=survey.data.index)
    if not t.index.equals(survey.data.index):
        t = t.reindex(survey.data.index)
    return t


def _file_order(survey) -> np.ndarray:
    """Position of each respondent in the raw file (survey order when unknown)."""
    rows = getattr(survey, "file_rows", None)
    if isinstance(rows, pd.Series) and len(rows) == len(survey.data):
        if not rows.index.equals(survey.data.index):
            rows = rows.reindex(survey.data.index)
        r = pd.to_numeric(rows, errors="coerce").to_numpy(float)
        if np.isfinite(r).all():
            return r
    return np.arange(len(survey.data), dtype=float)


def _response_rank(ctx) -> np.ndarray:
    """Rank of each respondent in time: start time (when known), then file row."""
    try:
        t, = _read_times(ctx, _find(ctx, "StartDate", "Start Date (UTC)", "Started",
                                    "RecordedDate", "Timestamp", "EndDate",
                                    "Submit Date (UTC)"))
    except _Skip:       # dates in no one order: the file's order places respondents
        t = None
    file_order = _file_order(ctx.survey)
    if t is None:
        order = np.argsort(file_order, kind="stable")
    else:
        ns = t.to_numpy("datetime64[ns]").astype("int64").astype(float)
        ns[t.isna().to_numpy()] = np.inf
        order = np.lexsort((file_order, ns))        # last key is the primary one
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _completed(ctx) -> np.ndarray | None:
    """True for completed responses; None when the survey says nothing about completion."""
    progress = _find(ctx, "Progress")
    finished = _find(ctx, "Finished", "Completed", "Complete")
    if progress is None and finished is None:
        return None
    done = np.ones(ctx.n, dtype=bool)
    if progress is not None:
        done &= ~(_as_number(progress) < ctx.rules.min_progress)
    if finished is not None:
        done &= _as_bool(finished) != 0.0
    return done


def _strings(values) -> np.ndarray:
    return np.asarray(pd.Series(values).astype("str").to_numpy(dtype=object), dtype=object)


def _numbers(values, fmt: str = "{:g}") -> np.ndarray:
    return np.array([fmt.format(v) for v in np.asarray(values, dtype=float)], dtype=object)


def _secs(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


def _fraction(x: float) -> str:
    f = Fraction(x).limit_denominator(10)
    if abs(float(f) - x) < 1e-9 and f.denominator > 1:
        return f"{f.numerator}/{f.denominator}"
    return f"{x:g}"


# --------------------------------------------------------------------------------------------
# The checks: each fills a _Details and returns it with its threshold in words (with this
# wave's numbers), or raises _Skip(reason).

def _check_test_response(ctx):
    rules, d, used = ctx.rules, _Details(ctx.n), []
    status = _find(ctx, "Status", "ResponseType")
    if status is not None:
        used.append("Status")
        bad = {str(v).casefold() for v in rules.test_statuses}
        hit = _per_unique(status, lambda k: k in bad, False, bool)
        d.add(hit, "Status = " + _strings(status[hit]))
    channel = _find(ctx, "DistributionChannel", "Channel")
    if channel is not None:
        used.append("DistributionChannel")
        bad = {str(v).casefold() for v in rules.test_channels}
        hit = _per_unique(channel, lambda k: k in bad, False, bool)
        d.add(hit, "DistributionChannel = " + _strings(channel[hit]))
    texts = _text_frame(ctx.survey)
    if texts.shape[1]:
        used.append("open text")
        for col in texts.columns:
            t = texts[col]
            short = (t.str.len() <= 60).fillna(False).to_numpy(bool)   # test phrases are short
            if not short.any():
                continue
            pos = np.flatnonzero(short)
            match = (t.iloc[pos].str.fullmatch(rules.test_text_pattern, flags=re.IGNORECASE)
                     .fillna(False).to_numpy(bool))
            pos = pos[match]
            d.add(pos, f"{col} = " + np.array([repr(v) for v in t.iloc[pos]], dtype=object))
    if not used:
        raise _Skip("no Status or DistributionChannel column and no open-text question")
    return d, rules.threshold("test_response") + f" (looked at: {', '.join(used)})"


def _check_duplicate_id(ctx):
    table = getattr(ctx.survey, "duplicate_ids", None)
    if table is None:
        raise _Skip("the survey does not record which respondent ids were duplicated "
                    "in the raw file")
    if not isinstance(table, pd.DataFrame):      # a plain list of ids
        table = pd.DataFrame({"respondent_id": pd.Index(list(table)).astype("str")})
    d = _Details(ctx.n)
    if len(table):
        table = table.copy()
        if "original_id" not in table:
            table["original_id"] = table["respondent_id"]
        if "occurrence" not in table:
            table["occurrence"] = table.groupby("original_id").cumcount() + 1
        if "file_row" not in table:
            table["file_row"] = np.nan
        table = table.sort_values(["original_id", "occurrence"])
        rows = table.groupby("original_id", sort=False)["file_row"].agg(
            lambda r: ", ".join(f"{x:g}" for x in r if pd.notna(x)))
        times = table.groupby("original_id", sort=False).size()
        if ctx.rules.duplicate_id_keep == "first":
            table = table[table["occurrence"] > 1]
        pos = ctx.survey.data.index.get_indexer(table["respondent_id"].astype("str"))
        ok = pos >= 0
        table, pos = table[ok], pos[ok]
        orig = table["original_id"].astype("str").to_numpy(dtype=object)
        text = [f"id {o!r} occurs {times[o]} times in the raw file"
                + (f" (rows {rows[o]})" if rows[o] else "")
                + (f"; occurrence {k}, the first is kept" if ctx.rules.duplicate_id_keep == "first"
                   else f"; occurrence {k}")
                for o, k in zip(orig, table["occurrence"].to_numpy())]
        d.add(pos, np.array(text, dtype=object))
    keep = ("later occurrences flagged, the first kept" if ctx.rules.duplicate_id_keep == "first"
            else "every occurrence flagged")
    return d, ctx.rules.threshold("duplicate_id") + f" ({keep})"


def _answer_frame(ctx) -> pd.DataFrame:
    """Every answer column (metadata, ids, weights and dates left out)."""
    survey = ctx.survey
    qs = [q for q in _questions(survey, role="all")
          if _attr(q, "type") not in ("id", "weight", "date", "meta")]
    cols = _columns_of(survey, qs)
    if not qs:      # a survey without a codebook: everything that is not metadata
        cols = [c for c in survey.data.columns if c not in set(ctx.meta.columns)]
    weight = _attr(getattr(survey, "codebook", None), "weight")
    return survey.data[[c for c in cols if c != weight]]


_CLOSED_TYPES = ("likert", "single", "multi", "numeric")


def _closed_columns(survey, answers) -> dict:
    """Closed question id -> its answer columns (every column of a survey without a
    codebook). Open text is left out: different people give the same short answer."""
    qs = [q for q in _questions(survey, role="all") if _attr(q, "type") in _CLOSED_TYPES]
    if not _questions(survey, role="all"):
        return {c: [c] for c in answers.columns}
    out = {}
    for q in qs:
        cols = [c for c in _columns_of(survey, [q]) if c in answers.columns]
        if cols:
            out[_attr(q, "id")] = cols
    return out


def _check_duplicate_answers(ctx):
    rules, survey = ctx.rules, ctx.survey
    answers = _answer_frame(ctx)
    if answers.shape[1] == 0:
        raise _Skip("the survey has no answer columns to compare")
    # Two respondents are duplicates only on many identical *closed* answers: on a survey
    # of a few ratings and an open question, genuine respondents often agree on all of
    # them ("5", "yes", "Good service") and were once flagged by the quarter.
    closed = _closed_columns(survey, answers)
    if len(closed) < rules.duplicate_min_items:
        raise _Skip(f"the survey has {len(closed)} closed question(s); duplicates need "
                    f"{rules.duplicate_min_items} identical closed answers "
                    "(duplicate_min_items), and identical open answers are no evidence")
    ids = survey.data.index.to_numpy(dtype=object)
    n_answered = answers.notna().to_numpy().sum(axis=1)
    n_closed = np.zeros(ctx.n, dtype=np.int64)
    for cols in closed.values():
        n_closed += answers[cols].notna().to_numpy().any(axis=1)
    eligible = n_closed >= rules.duplicate_min_items
    closed_cols = [c for cols in closed.values() for c in cols]
    rank = _response_rank(ctx)
    d = _Details(ctx.n)

    # Exact duplicates: hash each row; in time order every repeat of a hash duplicates the
    # first respondent with it. Hash hits are verified value by value before flagging.
    try:
        h = pd.util.hash_pandas_object(answers, index=False).to_numpy()
    except TypeError:
        h = pd.util.hash_pandas_object(answers.astype("str"), index=False).to_numpy()
    order = np.argsort(rank, kind="stable")
    order = order[eligible[order]]
    hs = h[order]
    repeat = pd.Series(hs).duplicated(keep="first").to_numpy()
    first = pd.Series(order).groupby(hs, sort=False).transform("first").to_numpy()
    later, earlier = order[repeat], first[repeat]
    if len(later):
        a = answers.iloc[later].to_numpy(dtype=object)
        b = answers.iloc[earlier].to_numpy(dtype=object)
        same = ((a == b) | (pd.isna(a) & pd.isna(b))).all(axis=1)
        later, earlier = later[same], earlier[same]
        d.add(later, np.array([f"same answers as {ids[j]} (all {n_answered[i]} answered items "
                               "identical)" for i, j in zip(later, earlier)], dtype=object))
    blocks = []
    if rules.duplicate_near_share is not None:
        # Near-duplicates: comparing every pair of a million respondents is out of reach, so
        # candidates are respondents who share a blocking key (record linkage's "blocking"):
        # the same IP address, or the same long open answer. Pairs are then compared on
        # every answer.
        live = eligible.copy()
        live[later] = False
        keys = []
        ip = _find(ctx, "IPAddress", "IP Address", "IP")
        if ip is not None:
            keys.append(("IP address", ip))
            blocks.append("IP address")
        texts = _text_frame(survey)
        for col in texts.columns:
            t = texts[col]
            long_enough = (t.str.len() >= rules.duplicate_min_text_chars).fillna(False)
            keys.append((col, t.where(long_enough)))
        if texts.shape[1]:
            blocks.append("open text")
        i, j = _candidate_pairs(keys, live, rank, max_block=rules.duplicate_max_block)
        if len(i):
            share, n_items, n_equal = _pair_similarity(answers, i, j)
            # and as many equal closed answers as an exact duplicate needs
            hit = (share >= rules.duplicate_near_share) & (
                _pair_similarity(answers[closed_cols], i, j)[2] >= rules.duplicate_min_items)
            i, j, share, n_items, n_equal = i[hit], j[hit], share[hit], n_items[hit], n_equal[hit]
            # each later respondent is paired with its earliest match
            by = np.lexsort((rank[i], rank[j]))
            i, j, share, n_items, n_equal = i[by], j[by], share[by], n_items[by], n_equal[by]
            firsts = np.unique(j, return_index=True)[1]
            i, j, share, n_items, n_equal = (i[firsts], j[firsts], share[firsts],
                                             n_items[firsts], n_equal[firsts])
            d.add(j, np.array([f"near-duplicate of {ids[a]}: {e} of {k} answers equal ({s:.0%})"
                               for a, e, k, s in zip(i, n_equal, n_items, share)], dtype=object))
    via = f"; near-duplicates looked for among respondents sharing {' or '.join(blocks)}" \
        if blocks else ""
    return d, rules.threshold("duplicate_answers") + via


def _candidate_pairs(keys, live, rank, max_block) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (earlier, later) of live respondents sharing a key value held by at most
    ``max_block`` respondents. Vectorised: after sorting by key, pairs are offsets 1, 2, ..."""
    pairs = []
    for _, values in keys:
        codes = pd.factorize(values, use_na_sentinel=True)[0]
        ok = live & (codes >= 0)
        if ok.sum() < 2:
            continue
        size = np.bincount(codes[ok], minlength=int(codes.max()) + 1)
        ok &= size[np.maximum(codes, 0)] <= max_block
        pos = np.flatnonzero(ok)
        pos = pos[np.lexsort((rank[pos], codes[pos]))]       # by key, then by time
        c = codes[pos]
        for k in range(1, max_block):
            same = c[k:] == c[:-k]
            if not same.any():
                break
            pairs.append(np.column_stack([pos[:-k][same], pos[k:][same]]))
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    p = np.unique(np.concatenate(pairs), axis=0)
    return p[:, 0], p[:, 1]


def _pair_similarity(answers, i, j, chunk=200_000):
    """Share of equal answers over the items either respondent answered."""
    rows = np.unique(np.concatenate([i, j]))
    sub = answers.iloc[rows]
    codes = np.column_stack([pd.factorize(sub[c], use_na_sentinel=True)[0]
                             for c in sub.columns]).astype(np.int32)
    ri, rj = np.searchsorted(rows, i), np.searchsorted(rows, j)
    n_items = np.empty(len(i), np.int64)
    n_equal = np.empty(len(i), np.int64)
    for s in range(0, len(i), chunk):
        a, b = codes[ri[s:s + chunk]], codes[rj[s:s + chunk]]
        either = (a >= 0) | (b >= 0)
        n_items[s:s + chunk] = either.sum(axis=1)
        n_equal[s:s + chunk] = ((a == b) & either).sum(axis=1)
    return n_equal / np.maximum(n_items, 1), n_items, n_equal


def _check_incomplete(ctx):
    progress = _find(ctx, "Progress")
    finished = _find(ctx, "Finished", "Completed", "Complete")
    if progress is None and finished is None:
        raise _Skip("no Progress or Finished column")
    d = _Details(ctx.n)
    if progress is not None:
        p = _as_number(progress)
        hit = p < ctx.rules.min_progress
        d.add(hit, "Progress " + _numbers(p[hit]) + "%")
    if finished is not None:
        d.add(_as_bool(finished) == 0.0, "Finished = false")
    return d, ctx.rules.threshold("incomplete")


def _elapsed(reading):
    start, end = reading
    return None if start is None or end is None else end - start


def _durations(ctx) -> tuple[np.ndarray, str]:
    col = _find(ctx, "Duration (in seconds)", "Duration", "Duration (seconds)", "DurationSeconds",
                "Duration_sec", "Time taken")
    if col is not None:
        d = _as_number(col)
        if np.isfinite(d).any():
            return d, "Duration"
    start, end = _read_times(ctx, _find(ctx, "StartDate", "Start Date (UTC)", "Started"),
                             _find(ctx, "EndDate", "Submit Date (UTC)", "Submitted",
                                   "Finished At"), measure=_elapsed)
    if start is not None and end is not None:
        d = (end - start).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(d).any():
            return d, "EndDate − StartDate"
    raise _Skip("no Duration column and no StartDate/EndDate pair")


def _check_speeder(ctx):
    rules = ctx.rules
    duration, source = _durations(ctx)
    done = _completed(ctx)
    if done is None:
        done = np.ones(ctx.n, dtype=bool)
    # The median of genuine completes: test rows are often clicked through in seconds.
    base = done & np.isfinite(duration) & (duration > 0)
    base[ctx.found.get("test_response", [])] = False
    if base.sum() < rules.speeder_min_responses:
        raise _Skip(f"only {int(base.sum())} completed responses with a duration "
                    f"(need {rules.speeder_min_responses} for a stable median)")
    median = float(np.median(duration[base]))
    cutoff = rules.speeder_ratio * median
    hit = done & (duration < cutoff)
    ratio = _fraction(rules.speeder_ratio)
    d = _Details(ctx.n)
    d.add(hit, "completed in " + np.array([_secs(x) for x in duration[hit]], dtype=object)
          + f"; cutoff {_secs(cutoff)} = {ratio} × median {_secs(median)}")
    return d, (f"{rules.threshold('speeder')} ({source}): median {_secs(median)}, "
               f"cutoff {_secs(cutoff)}")


def _grids(survey) -> dict:
    """Grid id -> its Likert items: every role but 'ignore', plus attention checks."""
    grids: dict = {}
    for q in _questions(survey, type="likert", role="all"):
        g = _attr(q, "grid")
        if g and (_attr(q, "role") != "ignore" or _attr(q, "attention_check")):
            grids.setdefault(str(g), []).append(q)
    return grids


def _answered_codes(survey, questions) -> np.ndarray:
    """Likert codes *as answered* (reverse keying not undone: identical clicks are the sign)."""
    cols, flipped = [], None
    for q in questions:
        col = survey.data.get(_attr(q, "id")) if hasattr(survey.data, "get") else None
        if col is not None and pd.api.types.is_numeric_dtype(col):
            cols.append(col.to_numpy(dtype=float, na_value=np.nan))
            continue
        if flipped is None:      # data holds no codes: undo likert()'s reverse flip
            flipped = survey.likert(role="all")
        v = flipped[_attr(q, "id")].to_numpy(dtype=float, na_value=np.nan)
        if _attr(q, "reverse", False):
            codes = [float(_attr(o, "code")) for o in _attr(q, "scale") or []]
            v = min(codes) + max(codes) - v
        cols.append(v)
    return np.column_stack(cols)


def _missing_code_answers(survey, grids) -> dict:
    """Grid -> bool per respondent: answered an item of it with a missing code (Don't know)."""
    reasons = getattr(survey, "missing_reasons", None)
    if not isinstance(reasons, pd.DataFrame) or not len(reasons):
        return {}
    grid_of = {_attr(q, "id"): g for g, qs in grids.items() for q in qs}
    rows = reasons[reasons["question"].isin(list(grid_of))]
    if not len(rows):
        return {}
    pos = survey.data.index.get_indexer(rows["respondent_id"])
    grid = rows["question"].map(grid_of).to_numpy(dtype=object)
    out = {}
    for g in set(grid):
        mask = np.zeros(len(survey.data), dtype=bool)
        mask[pos[(grid == g) & (pos >= 0)]] = True
        out[g] = mask
    return out


def _check_straightliner(ctx):
    rules, survey = ctx.rules, ctx.survey
    grids = _grids(survey)
    if not grids:
        raise _Skip("the codebook marks no Likert grid (set `grid:` on the items of a battery)")
    d, checked = _Details(ctx.n), []
    coded = _missing_code_answers(survey, grids)
    for grid, questions in grids.items():
        if len(questions) < rules.min_grid_items:
            continue
        checked.append(grid)
        x = _answered_codes(survey, questions)
        n = np.isfinite(x).sum(axis=1)
        enough = n >= rules.min_grid_items
        lo = np.where(np.isfinite(x), x, np.inf).min(axis=1)
        hi = np.where(np.isfinite(x), x, -np.inf).max(axis=1)
        # "Don't know" on one item is a different column clicked: not a straight line
        if grid in coded:
            enough &= ~coded[grid]
        same = enough & (lo == hi)
        reverse = any(_attr(q, "reverse", False) for q in questions)
        note = " (grid has reverse-keyed items)" if reverse else ""
        d.add(same, f"{grid}: answered " + _numbers(lo[same]) + " on all " + _numbers(n[same])
              + f" items{note}")
        if rules.straightline_max_sd is not None:
            mean = np.where(np.isfinite(x), x, 0).sum(axis=1) / np.maximum(n, 1)
            dev = np.where(np.isfinite(x), x - mean[:, None], 0.0)
            sd = np.sqrt((dev ** 2).sum(axis=1) / np.maximum(n, 1))
            near = enough & ~same & (sd <= rules.straightline_max_sd)
            d.add(near, f"{grid}: nearly the same answer, SD " + _numbers(sd[near], "{:.2f}")
                  + " over " + _numbers(n[near]) + " items")
    if not checked:
        raise _Skip(f"no grid has {rules.min_grid_items} or more Likert items")
    return d, rules.threshold("straightliner") + f" (grids: {', '.join(checked)})"


def _check_attention(ctx):
    rules, survey = ctx.rules, ctx.survey
    checks = [q for q in _questions(survey, role="all") if _attr(q, "attention_check")]
    if not checks:
        raise _Skip("the codebook has no attention_check question")
    failures = np.zeros(ctx.n, dtype=np.int64)
    d, used = _Details(ctx.n), []
    for q in checks:
        qid = _attr(q, "id")
        if qid not in survey.data.columns:
            continue
        used.append(qid)
        expected = _attr(_attr(q, "attention_check"), "expected")
        expected = list(expected) if isinstance(expected, (list, tuple, set)) else [expected]
        ok = {_key(e) for e in expected} - {None}
        # The expected answer may be written as a label or as a code: accept either.
        labels = {}
        for opt in _attr(q, "scale") or []:
            code, label = _key(_attr(opt, "code")), _key(_attr(opt, "label"))
            labels[code] = str(_attr(opt, "label"))
            if {code, label} & ok:
                ok |= {code, label} - {None}
        answer = survey.data[qid]
        status = _per_unique(answer, lambda k: "ok" if k in ok else "fail", "blank")
        failed = (status == "fail") | ((status == "blank") & rules.attention_missing_fails)
        failures += failed
        shown = _per_unique(answer[failed], lambda k: labels.get(k, k), "(blank)")
        d.add(failed, f"{qid}: answered " + np.array([repr(s) for s in shown], dtype=object)
              + f", expected {expected[0]!r}")
    if not used:
        raise _Skip("the attention-check questions are not in the data")
    pos, text = d.hits()
    keep = failures[pos] >= rules.attention_min_failures
    out = _Details(ctx.n)
    out.add(pos[keep], text[keep])
    return out, rules.threshold("attention_check") + f" ({', '.join(used)})"


# an open question only counts when the codebook makes it a segmentation input (role: segment)
_INPUT_TYPES = ("likert", "single", "multi", "numeric", "text")


def _check_not_segmentable(ctx):
    survey = ctx.survey
    qs = [q for q in _questions(survey, role="segment") if _attr(q, "type") in _INPUT_TYPES]
    if not qs:
        raise _Skip("the codebook has no segmentation question (role: segment)")
    answered_by_q = getattr(survey, "_answered", None) or {}
    per_q = []
    for q in qs:
        qid = _attr(q, "id")
        a = answered_by_q.get(qid)
        if a is None or len(a) != ctx.n:
            cols = _columns_of(survey, [q])
            if not cols:
                continue
            a = survey.data[cols].notna().to_numpy().any(axis=1)
        per_q.append(np.asarray(a, dtype=bool))
    if not per_q:
        raise _Skip("the segmentation questions are not in the data")
    used = len(per_q)
    A = np.column_stack(per_q)
    d = _Details(ctx.n)
    none = ~A.any(axis=1)
    # what the rule means for the reader: someone who stopped early or skipped most questions
    # (a break-off), not someone whose answers were judged
    gist = "stopped early or skipped most questions"
    d.add(none, f"{gist}: no answer to any of the {_n_questions(used)}")
    share = ctx.rules.min_segment_answered
    # core questions: asked of (answered by) at least half the respondents, so that skipping
    # a follow-up only some were routed to never counts against anyone
    core = A[:, A.mean(axis=0) >= 0.5] if ctx.n else A
    if share > 0 and core.shape[1]:
        n_core = core.shape[1]
        got = core.sum(axis=1)
        # and as few answers in all: a split ballot's other half answers its own block
        # (not core when under half saw it) and is no break-off
        few = ~none & (got < share * n_core) & (A.sum(axis=1) < share * n_core)
        pos = np.flatnonzero(few)
        d.add(pos, [f"{gist}: answered {int(g)} of the {_n_questions(n_core)} most "
                    f"respondents answered (fewer than {share:.0%})" for g in got[pos]])
    return d, ctx.rules.threshold("not_segmentable") + f" ({_n_questions(used)} in this run)"


def _n_questions(n: int) -> str:
    """"49 segmentation questions", "1 segmentation question"."""
    return f"{n} segmentation question{'' if n == 1 else 's'}"


_CHECKS = {
    "test_response": _check_test_response,
    "duplicate_id": _check_duplicate_id,
    "duplicate_answers": _check_duplicate_answers,
    "incomplete": _check_incomplete,
    "speeder": _check_speeder,
    "straightliner": _check_straightliner,
    "attention_check": _check_attention,
    "not_segmentable": _check_not_segmentable,
}


def check_quality(survey, rules: QualityRules | None = None) -> QualityResult:
    """Flag low-quality responses and decide, by the rules, who is excluded.

    Parameters
    ----------
    survey : Survey
        The wave to check. It is not modified.
    rules : QualityRules, optional
        Thresholds and which flags exclude; the defaults are documented on
        :class:`QualityRules`.

    Returns
    -------
    QualityResult
        Flags, exclusions with reasons, kept ids, skipped checks with reasons. A check whose
        metadata is missing is skipped (see ``result.skipped``), never an error.

    Examples
    --------
    >>> result = check_quality(survey, QualityRules(speeder_ratio=0.5))   # doctest: +SKIP
    >>> result.exclusions.head()                                          # doctest: +SKIP
    """
    rules = QualityRules() if rules is None else rules
    if not isinstance(rules, QualityRules):
        raise ConfigError(f"rules must be a QualityRules, got {type(rules).__name__}")
    ids = survey.data.index
    if ids.name != "respondent_id":
        ids = ids.rename("respondent_id")
    if not ids.is_unique:
        raise InputError("respondent ids are not unique; quality checks need one row per "
                         "respondent", fix="read the wave with duplicate_ids='suffix' so that "
                         "repeats are flagged")
    ctx = _Ctx(survey=survey, meta=_meta_frame(survey), rules=rules, n=len(ids))
    skipped, thresholds, parts = {}, {}, []
    for f, (flag, check) in enumerate(_CHECKS.items()):
        try:
            details, threshold = check(ctx)
        except _Skip as why:
            skipped[flag] = str(why)
            thresholds[flag] = f"skipped: {why}"
            continue
        pos, text = details.hits()
        ctx.found[flag] = pos
        thresholds[flag] = threshold
        parts.append((pos, np.full(len(pos), FLAGS.index(flag)), text))
    if rules.exclude_respondents:
        pos, text = _listed(ids, rules, ctx)
        ctx.found[LISTED] = pos
        reasons_given = pd.Series(list(rules.exclude_respondents.values())).value_counts()
        thresholds[LISTED] = (rules.threshold(LISTED) + "; reasons: " + "; ".join(
            f"{r!r} ({n})" for r, n in reasons_given.items()))
        parts.append((pos, np.full(len(pos), len(FLAGS)), text))

    pos = np.concatenate([p[0] for p in parts] + [np.zeros(0, np.int64)])
    code = np.concatenate([p[1] for p in parts] + [np.zeros(0, np.int64)])
    text = np.concatenate([p[2] for p in parts] + [np.zeros(0, object)])
    order = np.lexsort((code, pos))           # respondents in survey order, flags in FLAGS order
    pos, code, text = pos[order], code[order], text[order]
    names = FLAGS + (LISTED,)                 # codes: FLAGS.index(flag), LISTED last
    excluding = np.array([rules.excludes(f) for f in names])
    id_values = ids.to_numpy(dtype=object)
    flags = pd.DataFrame({"respondent_id": pd.array(id_values[pos], dtype="str"),
                          "flag": pd.array(np.array(names, dtype=object)[code], dtype="str"),
                          "detail": pd.array(text, dtype="str"),
                          "excludes": excluding[code]})

    reasons = np.full(len(ids), "", dtype=object)
    for flag, p in ctx.found.items():        # found is filled in FLAGS order, LISTED last
        if rules.excludes(flag) and len(p):
            cur = reasons[p]
            reasons[p] = np.where(cur == "", flag, cur + "; " + flag)
    out = reasons != ""
    exclusions = pd.DataFrame({"respondent_id": pd.array(id_values[out], dtype="str"),
                               "reasons": pd.array(reasons[out], dtype="str")})
    result = QualityResult(flags=flags, exclusions=exclusions, kept=ids[~out], skipped=skipped,
                           thresholds=thresholds, rules=rules, respondent_ids=ids,
                           _excluded_pos=np.flatnonzero(out))
    result.check_accounting()
    return result


def _id_column_hint(ctx, unknown: list, written: pd.Index) -> str:
    """Where ids the survey does not have are: another column of the export (the codebook
    keys respondents by a different column, or by file row), said as the fix."""
    wanted = set(unknown)
    best, hits = None, 0
    for frame in (ctx.meta, ctx.survey.data):
        for col in frame.columns:
            values = frame[col]
            if isinstance(values, pd.DataFrame) or pd.api.types.is_numeric_dtype(values) \
                    and not all(u.lstrip("-").isdigit() for u in unknown):
                continue
            present = values.dropna().astype("str").str.strip()
            # a column the codebook could key respondents by: every value present and unique
            if len(present) != len(values) or not present.is_unique:
                continue
            n = len(wanted & set(present))
            if n > hits:
                best, hits = col, n
    if best is None:
        return ""
    codebook = getattr(ctx.survey, "codebook", None)
    current = getattr(codebook, "respondent_id", None)
    keyed = (f"the codebook keys respondents by {current!r}" if current else
             "the codebook names no respondent_id, so respondents are known by their file "
             f"row ({', '.join(map(repr, written[:2]))}, ...)")
    return (f"{hits} of them are values of the column {str(best)!r}, but {keyed}: add the "
            f"line respondent_id: {str(best)!r} to the codebook (or list the ids this wave "
            "uses)")


def _listed(ids: pd.Index, rules: QualityRules, ctx=None) -> tuple[np.ndarray, np.ndarray]:
    """Positions and details of the respondents ``rules.exclude_respondents`` lists.

    Raises
    ------
    ConfigError
        An id that is not a respondent of this wave, naming it, the ids it may have meant
        (a close match, or the export's column that holds it), and the fix.
    """
    listed = rules.exclude_respondents
    written = pd.Index(ids.astype("str")).str.strip()
    pos = written.get_indexer(list(listed))
    unknown = [rid for rid, p in zip(listed, pos) if p < 0]
    if unknown:
        import difflib

        close = []
        if len(written) <= 200_000:          # difflib over every id: fine up to this size
            pool = list(written)
            for rid in unknown[:3]:
                close += [f"{rid!r} -> {m!r}"
                          for m in difflib.get_close_matches(rid, pool, n=1, cutoff=0.8)]
        shown = ", ".join(map(repr, unknown[:10])) + (f" (+{len(unknown) - 10} more)"
                                                      if len(unknown) > 10 else "")
        raise ConfigError(
            f"exclude_respondents lists {len(unknown)} respondent id(s) that this wave does not "
            f"have: {shown} ({len(written)} respondents read; a listed id that is not there "
            "would exclude nobody)", column="exclude_respondents",
            fix=("did you mean " + ", ".join(close) + "? " if close else "")
            + ((ctx is not None and _id_column_hint(ctx, unknown, written))
               or "copy each id exactly as the export's respondent-id column writes it "
                  "(quote it in study.yml)")
            + "; remove an id this wave does not have (a list written for another wave's "
              "export belongs in that wave's study.yml)")
    text = np.array([f"Listed for exclusion in study.yml: {reason}"
                     for reason in listed.values()], dtype=object)
    order = np.argsort(pos, kind="stable")
    return pos[order].astype(np.int64), text[order]


def quality_report_table(result: QualityResult, survey=None) -> pd.DataFrame:
    """One row per check, for reports: what it means, the rule used, how many, excluded?

    Parameters
    ----------
    result : QualityResult
    survey : Survey, optional
        When given, the table is checked to belong to it (same respondents).

    Returns
    -------
    DataFrame
        One row per flag of :data:`FLAGS` (and :data:`LISTED` when respondents are listed
        for exclusion, its threshold counting the ids and their reasons).
        Columns ``flag``, ``description``, ``threshold`` (the rule with this wave's numbers,
        or why the check was skipped), ``n_flagged``, ``share``, ``excludes``, ``n_excluded``
        (respondents excluded for this reason, possibly among others), ``status``
        (``"checked"`` or ``"skipped"``). A last row ``total`` counts every excluded
        respondent, so the reader sees ``n_total = n_kept + n_excluded``.
    """
    if survey is not None and len(survey.data.index) != result.n_total:
        raise InputError("this quality result was computed on a different survey",
                         fix="run check_quality(survey) on this survey first")
    summary = result.summary()
    excluded_for = result.flags.loc[result.flags["excludes"], "flag"].value_counts()
    rows = []
    for flag in result.rules.reported_flags():
        s = summary.loc[flag]
        rows.append({"flag": flag, "description": FLAG_DESCRIPTIONS[flag],
                     "threshold": result.thresholds.get(flag, result.rules.threshold(flag)),
                     "n_flagged": int(s["n_flagged"]), "share": float(s["share"]),
                     "excludes": bool(s["excludes"]),
                     "n_excluded": int(excluded_for.get(flag, 0)),
                     "status": "skipped" if flag in result.skipped else "checked"})
    rows.append({"flag": "total", "description":
                 f"{result.n_total} respondents: {result.n_kept} kept, "
                 f"{result.n_excluded} excluded",
                 "threshold": "excluded when any flag marked 'excludes' applies",
                 "n_flagged": int(summary.loc["any", "n_flagged"]),
                 "share": float(summary.loc["any", "share"]), "excludes": None,
                 "n_excluded": result.n_excluded, "status": ""})
    return pd.DataFrame(rows)


__all__ = ["FLAGS", "FLAG_DESCRIPTIONS", "LISTED", "QualityRules", "QualityResult",
           "check_quality", "exclusion_list", "quality_report_table"]
