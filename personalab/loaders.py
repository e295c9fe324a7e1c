"""Loaders: read a raw survey export, as researchers really receive it, into a RawWave.

One public entry point, :func:`load_export`, reads any supported export and returns a
:class:`RawWave` (the contract with the rest of the package, see docs/design.md).
:func:`detect_format` says which export a file is without reading its responses.

Supported exports, and the column ids each one gets:

============================  ==================  =============================================
format                        header lines        column ids
============================  ==================  =============================================
``csv`` / ``xlsx`` (plain)    1                   the header names
``qualtrics``                 3 (ids, text, JSON) Qualtrics ids (``Q5_1``, ``Q7_TEXT``)
``qualtrics_legacy``          2 (V1.., text)      row-1 ids (``V1``.. ``V10``, ``Q1``)
``surveymonkey``              2 (question, opt)   ``q1``, ``q2_1``, ``q2_2``; metadata keep names
``google_forms``              1                   ``q1``, grids ``q6_1``..; ``Timestamp`` kept
``typeform``                  1 or 2              ``q1``, ``q2_1``..; ``#``, ``Network ID`` kept
``spss`` (.sav)               none                SPSS variable names
============================  ==================  =============================================

Everything is read as text (``"01"`` stays ``"01"``), empty cells become missing; only
SPSS and numeric XLSX cells arrive as numbers. How numbers and dates are written
(``"1,5"``, ``"03/04/2024"``) is decided per column when a codebook types them
(:mod:`personalab.conventions`; ``decimal=``, ``thousands=``, ``dayfirst=`` settle it).
Text files are decoded (UTF-8, UTF-8 with BOM, UTF-16 with BOM, cp1252 and whatever
charset-normalizer recognises); a UTF-8 file with a few invalid bytes stays UTF-8, each
such byte read as U+FFFD and reported (:attr:`RawWave.decode_errors`). Their delimiter
is sniffed, and ``.gz`` files are decompressed in memory. The source file is only ever
read. Row numbers in errors, and :meth:`RawWave.file_row`, are the row numbers a
spreadsheet shows for the file (1-based, header lines included); they equal text-editor
line numbers unless an answer spans several lines.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import threading
import warnings
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from personalab.errors import FormatError, InputError, short_path

#: Every value ``RawWave.format`` can take.
FORMATS = (
    "csv", "xlsx", "qualtrics", "qualtrics_legacy", "surveymonkey", "spss",
    "google_forms", "typeform",
)

#: Qualtrics metadata columns (new export); any id starting ``Q_`` is Qualtrics' own too.
QUALTRICS_META = frozenset({
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
    "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
    "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
    "DistributionChannel", "UserLanguage",
})
#: Legacy Qualtrics: the V-columns, named on the second header line.
QUALTRICS_LEGACY_META = {
    "V1": "ResponseID", "V2": "ResponseSet", "V3": "Name", "V4": "ExternalDataReference",
    "V5": "EmailAddress", "V6": "IPAddress", "V7": "Status", "V8": "StartDate",
    "V9": "EndDate", "V10": "Finished",
}
_QUALTRICS_LEGACY_EXTRA_META = frozenset(
    {"LocationLatitude", "LocationLongitude", "LocationAccuracy"})
SURVEYMONKEY_META = frozenset({
    "Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address",
    "Email Address", "First Name", "Last Name", "Custom Data 1", "Custom Data",
})
#: First header cell of a Google Forms export, in the languages seen most often.
GOOGLE_FORMS_TIMESTAMP = frozenset({
    "Timestamp", "Marca temporal", "Horodateur", "Zeitstempel", "Carimbo de data/hora",
    "Informazioni cronologiche", "Tijdstempel", "Sygnatura czasowa",
})
GOOGLE_FORMS_META = frozenset({"Email Address", "Email address", "Score", "Username"})
TYPEFORM_META = frozenset({
    "#", "Network ID", "Start Date (UTC)", "Submit Date (UTC)", "Stage Date (UTC)",
    "Response Type", "Tags", "Ending", "Score",
})

#: Metadata roles shared by every format: role -> the column names that play it.
META_ROLES = {
    "response_id": ("ResponseId", "ResponseID", "Respondent ID", "#", "Response ID"),
    "start": ("StartDate", "Start Date", "Start Date (UTC)"),
    "end": ("EndDate", "End Date", "Submit Date (UTC)", "Timestamp"),
    "recorded": ("RecordedDate",),
    "duration": ("Duration (in seconds)",),
    "progress": ("Progress",),
    "finished": ("Finished",),
    "status": ("Status", "Response Type"),
    "ip_address": ("IPAddress", "IP Address", "Network ID"),
    "email": ("RecipientEmail", "EmailAddress", "Email Address", "Email address"),
    "language": ("UserLanguage",),
    "recaptcha": ("Q_RecaptchaScore",),
}

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls / .doc
_SAV_MAGIC = (b"$FL2", b"$FL3")
_DELIMITERS = (",", ";", "\t", "|")
_PREFIX_BYTES = 1 << 20
_NUMERIC = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")
_NUMERIC_LIST = re.compile(r"^\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?)*\s*$")
_GRID_HEADER = re.compile(r"^(?P<question>.*\S)\s*\[(?P<row>[^\[\]]+)\]\s*$", re.S)
_PIPING = re.compile(r"\{\{\s*(?P<kind>[a-z_]+)\s*:\s*(?P<name>[^}]*?)\s*\}\}", re.I)
_STEM = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)$")
_GOOGLE_TS = re.compile(
    r"^(?P<stamp>\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2}(?: [AP]M)?)"
    r"(?: (?:GMT|UTC)(?P<sign>[+-])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?)?$"
)


@dataclass
class RawWave:
    """A survey export as read from disk, before any codebook is applied.

    Attributes
    ----------
    data : DataFrame
        One row per response (RangeIndex), columns are unique column ids, values as read.
    path : Path
        The source file. It is never modified.
    format : str
        'csv', 'xlsx', 'qualtrics', 'qualtrics_legacy', 'surveymonkey', 'spss',
        'google_forms' or 'typeform'.
    sha256 : str
        Hash of the source file's bytes.
    labels : dict
        Column id -> question text (the id itself when the export has none).
    header_rows : int
        Lines before the first data row; see :meth:`file_row`.
    option_labels : dict
        Column -> option text, for exports with one column per option.
    groups : dict
        Question id -> its option or row columns (multi-select, grids).
    value_labels : dict
        Column -> {code: label} (SPSS value labels, Qualtrics numeric exports).
    missing_codes : dict
        Column -> {code: reason} (SPSS user-defined missing values and the like).
    meta_columns : list
        Recognised metadata columns (ResponseId, Status, Progress, Duration, ...).
    encoding, delimiter : str or None
        What was detected (text formats only).
    export_values : str or None
        Qualtrics: 'choice_text' or 'numeric'.
    separators : dict
        Column -> the separator joining a multi-select answer in one cell (``","`` for
        Qualtrics, ``";"`` or ``", "`` for Google Forms), where the loader recognised one.
    row_numbers : ndarray or None
        File row of each data row, only when they are not consecutive (blank lines in
        the file were skipped); :meth:`file_row` uses it.
    decode_errors : DataFrame
        One row per byte that did not decode and was read as ``"\ufffd"`` (see
        ``encoding_errors`` in :func:`load_export`): ``file_row`` (spreadsheet row),
        ``column`` (column id), ``line`` (text-editor line), ``byte_offset`` (0-based, in
        the file as decompressed) and ``byte``. Empty when the file decoded cleanly.
    decimal, thousands, dayfirst : str, bool, dict or None
        How numbers and dates are written, as given to :func:`load_export` (one value, or
        one per column); None: decided from the values when the codebook types them
        (see :mod:`personalab.conventions`).
    """

    data: pd.DataFrame
    path: Path
    format: str
    sha256: str
    labels: dict = field(default_factory=dict)
    header_rows: int = 1
    option_labels: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    value_labels: dict = field(default_factory=dict)
    missing_codes: dict = field(default_factory=dict)
    meta_columns: list = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    export_values: str | None = None
    separators: dict = field(default_factory=dict)
    row_numbers: np.ndarray | None = field(default=None, repr=False)
    decode_errors: pd.DataFrame = field(default_factory=lambda: _decode_error_frame([]),
                                        repr=False)
    decimal: str | dict | None = None
    thousands: str | dict | None = None
    dayfirst: bool | dict | None = None

    def file_row(self, i: int) -> int:
        """File line number (1-based, headers included) of data row ``i`` (0-based)."""
        if self.row_numbers is not None:
            return int(self.row_numbers[int(i)])
        return self.header_rows + int(i) + 1

    def file_rows(self) -> np.ndarray:
        """File line number of every data row, in order (see :meth:`file_row`)."""
        if self.row_numbers is not None:
            return np.asarray(self.row_numbers, dtype=np.int64)
        return np.arange(len(self.data), dtype=np.int64) + self.header_rows + 1

    @property
    def n_responses(self) -> int:
        return len(self.data)

    def question_text(self, qid: str) -> str:
        """Question text of a column or of a group (its members' shared question).

        Group members are labelled ``"<question> - <option>"``; the group's own text is
        that label without the option.
        """
        if qid in self.groups:
            texts = set()
            for col in self.groups[qid]:
                label, option = self.labels.get(col, col), self.option_labels.get(col)
                suffix = f" - {option}" if option else None
                texts.add(label[: -len(suffix)] if suffix and label.endswith(suffix) else label)
            return texts.pop() if len(texts) == 1 else qid
        return self.labels.get(qid, qid)

    def meta_roles(self) -> dict[str, str]:
        """Which metadata column plays which role, across formats.

        Returns
        -------
        dict
            Role (``response_id``, ``start``, ``end``, ``duration``, ``progress``,
            ``finished``, ``status``, ...; see ``META_ROLES``) -> column id. A column is
            matched by its id or, for legacy Qualtrics ``V1``..``V10``, by its label.
        """
        roles = {}
        for role, names in META_ROLES.items():
            for col in self.meta_columns:
                if col in names or self.labels.get(col) in names:
                    roles[role] = col
                    break
        return roles


# --------------------------------------------------------------------------- public API


class DecodeWarning(UserWarning):
    """Bytes of a text export did not decode and were read as ``"\ufffd"``."""


def load_export(path, format="auto", *, encoding=None, delimiter=None, sheet=None,
                encoding_errors=None, decimal=None, thousands=None, dayfirst=None) -> RawWave:
    """Read a raw survey export into a :class:`RawWave`.

    Parameters
    ----------
    path : str or Path
        The export: ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.xlsx`` or ``.sav``.
    format : str, default "auto"
        One of :data:`FORMATS`, or "auto" to detect it from the extension and the header.
    encoding : str, optional
        Text encoding; detected when omitted.
    delimiter : str, optional
        Field delimiter of a text file; sniffed among ``, ; TAB |`` when omitted.
    sheet : str or int, optional
        XLSX worksheet (name or 0-based position); the first one when omitted.
    encoding_errors : {None, "replace", "strict"}
        Bytes that do not decode. ``None`` (default): a file that is UTF-8 except for a
        few invalid bytes (a character cut in two, one answer pasted from a cp1252
        program) is read as UTF-8 with each such byte replaced by ``"\ufffd"``; every one
        is listed in :attr:`RawWave.decode_errors` (row, column, byte offset) and a
        :class:`DecodeWarning` names them. A given ``encoding`` that does not decode is an
        error. ``"strict"``: any undecodable byte is an error naming its row, column and
        byte offset. ``"replace"``: replace and report with a given encoding too.

        Replacing is the default because the alternative readings are worse: a file
        whose other non-ASCII characters are UTF-8 read as cp1252 garbles every one of
        them without a word, and stopping makes the researcher edit the raw export (or
        lose a wave's run) over one character that is now named.
    decimal, thousands : str or dict, optional
        Decimal mark (``"."`` or ``","``) and thousands mark of numbers, for every column or
        per column (``decimal={"price": ","}``). Values stay text here; they are used when
        a codebook types a column as numeric or weight. When omitted each column's
        convention is decided from its values, and a column that cannot be decided
        (only ``"1,393"``-like values) is refused there: see :mod:`personalab.conventions`.
    dayfirst : bool or dict, optional
        Whether ``03/04/2024``-style dates put the day first, for every column or per
        column; when omitted decided from the values, and refused when they mix orders or
        cannot tell.

    Returns
    -------
    RawWave

    Raises
    ------
    InputError
        The file is missing, empty, has no data rows or a malformed row.
    FormatError
        The file is not a survey export this loader can read (unknown format, binary
        data, undecodable text).

    Examples
    --------
    >>> raw = load_export("data/sample/wave1_qualtrics.csv")   # doctest: +SKIP
    >>> raw.format, raw.n_responses, raw.labels["Q3_1"]          # doctest: +SKIP
    ('qualtrics', 400, 'How much do you agree? - The app saves me time')
    """
    src = _read_source(path)
    fmt = _check_format_name(format, src)
    _check_encoding_errors(encoding_errors, src)
    container = _container(src)
    if container == "spss":
        if fmt not in ("auto", "spss"):
            raise _wrong_format(src, fmt, "an SPSS .sav file")
        raw = _load_spss(src)
        raw.decimal, raw.thousands, raw.dayfirst = decimal, thousands, dayfirst
        return raw
    if fmt == "spss":
        raise _wrong_format(src, fmt, f"a {'XLSX workbook' if container == 'xlsx' else 'text'} file")

    if container == "xlsx":
        raw = _load_table(src, fmt, container, _read_xlsx(src, sheet))
        raw.decimal, raw.thousands, raw.dayfirst = decimal, thousands, dayfirst
        return raw
    try:
        # UTF-8 is checked on the first megabyte here and on the rest by the CSV parser
        # as it reads the responses, which spares a pass over a large file.
        raw = _load_table(src, fmt, container,
                          _read_text(src, encoding, delimiter, check_whole=False,
                                     errors=encoding_errors))
    except _NotUtf8:
        # Not the UTF-8 its beginning promised: detect the encoding from the whole file.
        raw = _load_table(src, fmt, container,
                          _read_text(src, encoding, delimiter, errors=encoding_errors))
    if len(raw.decode_errors):
        warnings.warn(_decode_warning(src, raw), DecodeWarning, stacklevel=2)
    raw.decimal, raw.thousands, raw.dayfirst = decimal, thousands, dayfirst
    return raw


def _check_encoding_errors(value, src: _Source) -> None:
    if value not in (None, "replace", "strict"):
        raise InputError(f"encoding_errors={value!r} is not an option", file=src.shown,
                         fix="use encoding_errors='replace' or 'strict', or leave it out")


#: What to do about bytes read as U+FFFD (the load warning and the validation report say it).
DECODE_FIX = ("check those answers in the export; if the whole file is in another encoding, "
              "pass encoding= (e.g. 'cp1252'); re-save the export as UTF-8 to silence this, "
              "or pass encoding_errors='strict' to stop on such bytes")


def _decode_warning(src: _Source, raw: RawWave) -> str:
    errs = raw.decode_errors
    shown = "; ".join(
        f"row {r.file_row}, column {r.column!r}, byte offset {r.byte_offset} ({r.byte})"
        for r in errs.head(5).itertuples())
    more = f" (+{len(errs) - 5} more)" if len(errs) > 5 else ""
    return (f"file {src.shown}: {len(errs)} byte(s) are not valid {raw.encoding} and were read "
            f"as U+FFFD (the replacement character): {shown}{more}; all are listed in "
            f"raw.decode_errors.\n  Fix: {DECODE_FIX}")


def _load_table(src, fmt, container, table) -> RawWave:
    """The rest of :func:`load_export` for a text file or worksheet read into ``table``."""
    detected, n_header = _classify(table.head)
    if fmt in ("csv", "xlsx"):
        detected, n_header = "csv", 1
    elif fmt != "auto" and fmt != detected:
        detected, n_header = fmt, _default_header_rows(fmt, table.head)
    if detected == "csv" and container == "xlsx":
        detected = "xlsx"
    body, row_numbers = table.body(n_header)
    header = [_pad(r, body.shape[1]) for r in table.head[:n_header]]
    builder = _BUILDERS[detected]
    spec = builder(header, body)
    return _finish(src, detected, n_header, header, body, spec, table, row_numbers)


def detect_format(path, *, encoding=None, delimiter=None, sheet=None) -> str:
    """Say which export a file is, from its extension, magic bytes and header lines.

    Parameters
    ----------
    path : str or Path
        The export file.
    encoding, delimiter, sheet
        As for :func:`load_export`, when detection needs help.

    Returns
    -------
    str
        One of :data:`FORMATS`.
    """
    src = _read_source(path)
    container = _container(src)
    if container == "spss":
        return "spss"
    table = _read_xlsx(src, sheet) if container == "xlsx" else _read_text(
        src, encoding, delimiter, errors="replace")
    fmt, _ = _classify(table.head)
    return "xlsx" if (fmt == "csv" and container == "xlsx") else fmt


def parse_google_timestamp(values) -> pd.Series:
    """Parse Google Forms timestamps (``2024/04/07 8:54:18 PM GMT+5:30``) to UTC.

    Parameters
    ----------
    values : Series or sequence of str
        Timestamps as exported; the ``GMT+h:mm`` offset is optional.

    Returns
    -------
    Series
        ``datetime64[ns, UTC]``; unparseable or missing values are ``NaT``.
    """
    s = pd.Series(values, dtype="str")
    parts = s.str.strip().str.extract(_GOOGLE_TS)
    fmt_ampm = "%Y/%m/%d %I:%M:%S %p"
    stamp = pd.to_datetime(parts["stamp"], format=fmt_ampm, errors="coerce")
    no_ampm = stamp.isna() & parts["stamp"].notna()
    if no_ampm.any():
        stamp[no_ampm] = pd.to_datetime(parts.loc[no_ampm, "stamp"], format="%Y/%m/%d %H:%M:%S",
                                        errors="coerce")
    sign = parts["sign"].map({"+": 1, "-": -1}).fillna(0).astype(float)
    minutes = parts["h"].astype(float).fillna(0) * 60 + parts["m"].astype(float).fillna(0)
    utc = stamp - pd.to_timedelta(sign * minutes, unit="min")
    return utc.dt.tz_localize("UTC")


# --------------------------------------------------------------------------- the source file


@dataclass
class _Source:
    path: Path
    data: bytes      # decompressed when the file is gzipped
    digest: Future   # SHA-256 of the file as stored, hashed while the export is parsed
    name: str        # lower-case file name without ``.gz``
    shown: str       # the path as shown in messages

    @property
    def sha256(self) -> str:
        return self.digest.result()


def _sha256_of(data: bytes) -> Future:
    """SHA-256 of ``data`` on a background thread (hashlib releases the GIL): ~0.6 s of a
    1 GB file then overlaps with parsing it."""
    if len(data) < 1 << 24:
        done: Future = Future()
        done.set_result(hashlib.sha256(data).hexdigest())
        return done
    return _HASHER.submit(lambda: hashlib.sha256(data).hexdigest())


_HASHER = ThreadPoolExecutor(1, thread_name_prefix="personalab-sha256")


def _read_source(path) -> _Source:
    p = Path(path)
    shown = short_path(p)
    if not p.exists():
        raise InputError("file not found", file=shown,
                         fix="check the path (relative paths start at the working directory "
                             f"{Path.cwd()})")
    if p.is_dir():
        raise InputError("this is a folder, not an export file", file=shown,
                         fix="pass the path of the export file inside it")
    raw = p.read_bytes()
    digest = _sha256_of(raw)
    # Only a file that starts blank can be all blank; never copy a large file to check.
    if not raw or (not raw[:4096].strip() and not raw.strip()):
        raise InputError("the file is empty (0 bytes)" if not raw else "the file holds only blanks",
                         file=shown, row=1,
                         fix="export the survey again; the download may have been interrupted")
    name = p.name.lower()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise FormatError(f"the gzip file is damaged ({err})", file=shown,
                              fix="download or compress the export again") from err
        name = name[:-3] if name.endswith(".gz") else name
        if not raw[:4096].strip() and not raw.strip():
            raise InputError("the file is empty once decompressed", file=shown, row=1,
                             fix="export the survey again")
    return _Source(p, raw, digest, name, shown)


def _container(src: _Source) -> str:
    """'spss', 'xlsx' or 'text', from magic bytes first and the extension second."""
    head = src.data[:8]
    suffix = Path(src.name).suffix
    if head[:4] in _SAV_MAGIC or suffix in (".sav", ".zsav"):
        return "spss"
    if head[:4] == _ZIP_MAGIC:
        try:
            with zipfile.ZipFile(io.BytesIO(src.data)) as zf:
                is_xlsx = "xl/workbook.xml" in zf.namelist()
        except zipfile.BadZipFile:
            is_xlsx = False
        if is_xlsx:
            return "xlsx"
        raise FormatError("this is a ZIP archive, not a survey export", file=src.shown,
                          fix="unzip it and load the CSV, XLSX or SAV file inside")
    if head[:4] == _OLE_MAGIC or suffix == ".xls":
        raise FormatError("old binary Excel (.xls) files are not supported", file=src.shown,
                          fix="open it in Excel or LibreOffice and save it as .xlsx or CSV")
    if head[:5] == b"%PDF-":
        raise FormatError("this is a PDF document, not a survey export", file=src.shown,
                          fix="download the responses as CSV, XLSX or SPSS (.sav) instead")
    return "text"


def _check_format_name(fmt, src: _Source) -> str:
    if fmt == "auto" or fmt in FORMATS:
        return fmt
    raise InputError(f"unknown format {fmt!r}", file=src.shown,
                     fix=f"use format='auto' or one of {', '.join(FORMATS)}")


def _wrong_format(src: _Source, fmt: str, what: str) -> FormatError:
    return FormatError(f"format={fmt!r} was asked for, but this is {what}", file=src.shown,
                       fix="use format='auto' or the format the file really has")


# --------------------------------------------------------------------------- text files


@dataclass
class _Table:
    """The first lines of an export (as text cells) and a way to read its responses."""

    head: list                 # first records, each a list of str
    body: object               # callable: n_header -> (DataFrame c0.., row_numbers | None)
    encoding: str | None = None
    delimiter: str | None = None
    lead: int = 0              # lines before the header (Excel's "sep=;" hint line)
    decode_errors: list = field(default_factory=list)   # see _locate_bytes


class _NotUtf8(Exception):
    """The file's first megabyte is UTF-8 but the rest is not (see ``check_whole``)."""


def _decode(src: _Source, encoding: str | None, *, check_whole=True,
            errors=None) -> tuple[bytes, int, str, list]:
    """Return the file as UTF-8 bytes, where its text starts in them, its encoding, and
    the offsets (in ``src.data``) of the bytes that did not decode and were replaced.

    UTF-8 files are returned as they are, the text starting after the BOM if there is
    one (copying a large file to drop three bytes costs a second). With
    ``check_whole=False`` such a file is only checked on its first ``_PREFIX_BYTES``: the
    caller must check the rest (the CSV parser does) and raise :class:`_NotUtf8` where it
    fails, to read the file again with ``check_whole=True``.

    A file that is UTF-8 but for a few bytes (see :func:`_damaged_utf8`) is decoded with
    those bytes replaced, whatever ``errors`` says: the caller raises for "strict" once
    it can name their rows and columns.
    """
    data = src.data
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise InputError(f"unknown encoding {encoding!r}", file=src.shown,
                             fix="use a Python codec name such as 'utf-8', 'cp1252' or "
                                 "'utf-16', or leave encoding out to detect it") from err
        if errors == "replace":
            if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
                text, bad = _decode_recording(data, 0, encoding)
                return text.lstrip("\ufeff").encode("utf-8"), 0, encoding, bad
            if not _is_utf8(data):    # valid UTF-8 is used as it is (no copy of the file)
                start = 3 if data[:3] == codecs.BOM_UTF8 else 0
                text, bad = _decode_recording(data, start, "utf-8")
                return text.encode("utf-8"), 0, encoding, bad
        return (*_transcode(src, data, encoding, explicit=True, check_whole=check_whole),
                encoding, [])
    if data[:3] == codecs.BOM_UTF8:
        if _is_utf8(data) if check_whole else _starts_utf8(data, 3):
            return data, 3, "utf-8-sig", []
        damaged = _damaged_utf8(data, 3)
        if damaged is not None:
            return damaged[0], damaged[1], "utf-8-sig", damaged[2]
        # a BOM, then bytes in another encoding: the error names the first one
        return (*_transcode(src, data, "utf-8-sig", explicit=False), "utf-8-sig", [])
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        # Excel's "Unicode text": UTF-16 with a byte-order mark (tab-separated).
        return (*_transcode(src, data, "utf-16", explicit=False), "utf-16", [])
    guess = _utf16_without_bom(data[:4096])
    if guess:
        return (*_transcode(src, data, guess, explicit=False), guess, [])
    if b"\x00" in data[:8192]:
        raise FormatError("this is a binary file, not a text or spreadsheet export",
                          file=src.shown,
                          fix="export the responses as CSV, XLSX or SPSS (.sav)")
    if (_is_utf8(data) if check_whole else _starts_utf8(data, 0)):
        return data, 0, "utf-8", []
    damaged = _damaged_utf8(data, 0)
    if damaged is not None:
        return damaged[0], damaged[1], "utf-8", damaged[2]
    return (*_guess_legacy_encoding(src), [])


_RECORDED = threading.local()


def _record_undecodable(err: UnicodeDecodeError):
    """Codec error handler: note the byte's offset, read it as U+FFFD, go on after it."""
    _RECORDED.offsets.append(err.start)
    return "\ufffd", err.start + 1


codecs.register_error("personalab.record", _record_undecodable)


def _decode_recording(data: bytes, start: int, encoding: str) -> tuple[str, list]:
    """``data[start:]`` decoded, each undecodable byte as U+FFFD, and those bytes' offsets
    in ``data``."""
    _RECORDED.offsets = offsets = []
    text = codecs.decode(memoryview(data)[start:], encoding, "personalab.record")
    return text, [start + o for o in offsets]


def _damaged_utf8(data: bytes, start: int):
    """(UTF-8 bytes, 0, offsets of the bad bytes) when ``data[start:]`` is UTF-8 with a few
    invalid bytes, else None (a file in a legacy encoding).

    The test is which reading garbles less: the file holds at least as many valid
    multi-byte UTF-8 characters as invalid bytes. A real cp1252/latin-1 file has almost
    no valid multi-byte sequences (an accented letter would have to be followed by one
    or two bytes 0x80-0xBF), so it still goes to the legacy detection; a UTF-8 file with
    one bad byte keeps all its other characters.
    """
    # Counted in C first (a cp1252 file has an invalid byte per accented letter: a Python
    # error handler called for each took 3.6 s on 24 MB): each invalid byte becomes one
    # lone surrogate, which re-encodes to three bytes instead of one.
    # In chunks, so that a large file in a legacy encoding is never held as one str here.
    view, step = memoryview(data)[start:], 1 << 24
    dec = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    n_chars = n_encoded = 0
    for i in range(0, len(view), step):
        part = dec.decode(view[i:i + step], final=i + step >= len(view))
        n_chars += len(part)
        n_encoded += len(part.encode("utf-8", "surrogatepass"))
    n_bad = (n_encoded - len(view)) // 2
    n_ascii = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8, offset=start) < 0x80))
    n_multibyte = n_chars - n_ascii - n_bad
    if not n_bad or n_multibyte < n_bad:
        return None
    text, bad = _decode_recording(data, start, "utf-8")
    return text.encode("utf-8"), 0, bad


def _locate_bytes(data: bytes, offsets: list, delimiter: str, start: int,
                  encoding: str) -> list[tuple]:
    """(file row, field index, text line, byte offset, byte) of each offset in ``data``.

    The file is parsed as CSV up to the last offset, its lines decoded with
    ``surrogateescape`` so that each undecodable byte becomes a lone surrogate, which no
    valid text contains: the fields holding them are the columns. Rows count CSV
    records (spreadsheet rows) from the start of the file, as everywhere else.
    """
    offsets = sorted(offsets)
    ascii_compatible = codecs.lookup(encoding).name.replace("-sig", "") not in (
        "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
    out = []

    def entry(off, row, j):
        return (row, j, data.count(b"\n", 0, off) + 1, off, repr(data[off:off + 1]))

    if not ascii_compatible:
        return [entry(off, None, None) for off in offsets]
    state = {"end": start}

    def lines():
        pos, n = start, len(data)
        while pos < n:
            end = data.find(b"\n", pos)
            end = n if end < 0 else end + 1
            state["end"] = end
            yield data[pos:end].decode(encoding, "surrogateescape")
            pos = end

    i, record = 0, 0
    try:
        for fields in csv.reader(lines(), delimiter=delimiter):
            record += 1
            in_record = []
            while i < len(offsets) and offsets[i] < state["end"]:
                in_record.append(offsets[i])
                i += 1
            if in_record:
                holders = [j for j, f in enumerate(fields)
                           for ch in f if "\udc80" <= ch <= "\udcff"]
                if len(holders) != len(in_record):
                    holders = [None] * len(in_record)
                out += [entry(off, record, j) for off, j in zip(in_record, holders)]
            if i >= len(offsets):
                break
    except csv.Error:
        pass  # a damaged record: the rest keep their line and offset only
    out += [entry(off, None, None) for off in offsets[i:]]
    return out


def _decode_error_frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame({
        "file_row": pd.array([r[0] for r in rows], dtype="Int64"),
        "column": pd.Series([r[1] for r in rows], dtype=object),
        "line": pd.Series([r[2] for r in rows], dtype="int64"),
        "byte_offset": pd.Series([r[3] for r in rows], dtype="int64"),
        "byte": pd.Series([r[4] for r in rows], dtype=object),
    })


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM still betrays itself: every other byte of ASCII is 0."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _starts_utf8(data: bytes, start: int) -> bool:
    """Whether the first ``_PREFIX_BYTES`` from ``start`` are UTF-8 (a character cut at
    the end of them is no error)."""
    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        dec.decode(data[start:start + _PREFIX_BYTES],
                   final=start + _PREFIX_BYTES >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8(data) -> bool:
    # Chunked so that validating a large file never holds a second copy of it as str.
    dec = codecs.getincrementaldecoder("utf-8")()
    view, step = memoryview(data), 1 << 24
    try:
        for i in range(0, len(data), step):
            dec.decode(view[i:i + step], final=i + step >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def _guess_legacy_encoding(src: _Source) -> tuple[bytes, int, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(src.data).best()
    if best is None:
        raise FormatError("the file is neither text in a known encoding nor a spreadsheet",
                          file=src.shown,
                          fix="export the responses as CSV (UTF-8), XLSX or SPSS (.sav); if it "
                              "is text, pass encoding='...' (e.g. 'cp1252')")
    encoding = best.encoding
    # On small Western files charset-normalizer often says cp1250 or latin-1 where the
    # file is really Excel's Windows default cp1252, which decodes them identically or
    # better (quotes, euro sign); prefer it whenever it decodes the whole file.
    latin = {"cp1250", "cp1252", "cp1257", "latin_1", "iso8859_15", "iso8859_2",
             "iso8859_4", "iso8859_10", "iso8859_13", "mac_latin2", "mac_roman", "cp775"}
    if encoding in latin:
        try:
            src.data.decode("cp1252")
            encoding = "cp1252"
        except UnicodeDecodeError:
            pass
    return (*_transcode(src, src.data, encoding, explicit=False), encoding)


def _transcode(src: _Source, data: bytes, encoding: str, *, explicit: bool,
               check_whole=True) -> tuple[bytes, int]:
    """The file as UTF-8 bytes and the offset where its text starts (see :func:`_decode`)."""
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        # UTF-8 (with or without BOM) needs no transcoding: validate it and skip the BOM,
        # instead of decoding and re-encoding the whole file (a 1 GB export costs seconds)
        start = 3 if data[:3] == codecs.BOM_UTF8 else 0
        if (_is_utf8(data) if check_whole else _starts_utf8(data, start)):
            return data, start
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        # utf-8-sig drops the BOM before decoding: its positions start after it.
        bom = codecs.lookup(encoding).name == "utf-8-sig" and data[:3] == codecs.BOM_UTF8
        pos = err.start + 3 * bom
        line = data.count(b"\n", 0, pos) + 1
        how = "was given" if explicit else "was detected"
        raise FormatError(
            f"cannot decode byte {data[pos:pos + 1]!r} as {encoding} "
            f"(the encoding that {how})", file=src.shown, row=line,
            fix="leave encoding out to detect it, or pass the encoding the export really "
                "uses (Excel on Windows writes 'cp1252'; 'Unicode text' is 'utf-16')",
        ) from err
    return text.lstrip("\ufeff").encode("utf-8"), 0


def _lines_with_offsets(text: str):
    """Yield (line, end byte offset) of ``text``'s lines, keeping their line endings."""
    offset = 0
    for line in io.StringIO(text, newline=""):
        offset += len(line.encode("utf-8"))
        yield line, offset


def _parse_records(text: str, delimiter: str, limit: int) -> tuple[list, list]:
    """First ``limit`` csv records of ``text`` and the byte offset where each one ends."""
    ends: list[int] = []
    state = {"offset": 0}

    def feed():
        for line, offset in _lines_with_offsets(text):
            state["offset"] = offset
            yield line

    records = []
    reader = csv.reader(feed(), delimiter=delimiter)
    try:
        for record in reader:
            records.append(record)
            ends.append(state["offset"])
            if len(records) >= limit:
                break
    except csv.Error:
        pass  # a damaged record; the body reader reports it with its row number
    return records, ends


def _sniff_delimiter(text: str) -> str:
    """The candidate delimiter that splits the first records into the most consistent,
    widest rows (csv.Sniffer guesses wrong on long free-text answers with commas)."""
    best, best_score = ",", None
    for cand in _DELIMITERS:
        records, _ = _parse_records(text, cand, 30)
        widths = [len(r) for r in records if r]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        score = (mode > 1, widths.count(mode) / len(widths), mode)
        if best_score is None or score > best_score:
            best, best_score = cand, score
    return best


def _read_text(src: _Source, encoding, delimiter, *, check_whole=True, errors=None) -> _Table:
    """Header records of a text export and a reader of its responses.

    With ``check_whole=False`` the file is assumed to be UTF-8 when its first megabyte is,
    and the body reader raises :class:`_NotUtf8` when the rest proves it wrong.
    ``errors`` is ``encoding_errors`` of :func:`load_export`.
    """
    utf8, start, enc, bad = _decode(src, encoding, check_whole=check_whole, errors=errors)
    # Header lines are parsed from a prefix cut at a line end (never mid-character).
    cut = len(utf8)
    if cut - start > _PREFIX_BYTES:
        cut = utf8.rfind(b"\n", start, start + _PREFIX_BYTES) + 1 or len(utf8)
    try:
        prefix = utf8[start:cut].decode("utf-8")
    except UnicodeDecodeError as err:   # only possible when the file was not checked whole
        raise _NotUtf8() from err
    # Excel writes and honours a first line "sep=;" naming the delimiter.
    hint = re.match(r"sep=(.)\r?\n", prefix)
    lead, skip = (1, len(hint.group(0).encode("utf-8"))) if hint else (0, 0)
    prefix = prefix[len(hint.group(0)):] if hint else prefix
    if delimiter is None:
        delimiter = hint.group(1) if hint else _sniff_delimiter(prefix)
    elif len(delimiter) != 1:
        raise InputError(f"delimiter {delimiter!r} must be one character", file=src.shown,
                         fix="pass one of ',', ';', '\\t', '|' or leave delimiter out")
    head, ends = _parse_records(prefix, delimiter, 6)
    ends = [start + skip + e for e in ends]    # where each record ends in ``utf8``
    if not head:
        raise InputError("the file has no header line", file=src.shown, row=1,
                         fix="export the survey again with its header")
    located = []
    if bad:
        text_start = 3 if src.data[:3] == codecs.BOM_UTF8 else 0
        located = _locate_bytes(src.data, bad, delimiter, text_start,
                                "utf-8" if encoding is None else encoding)
        if errors == "strict":
            raise _undecodable(src, enc, located, head[0])

    # Text decoded from another encoding is UTF-8 by construction; the source's own bytes
    # are only checked whole when asked.
    checked = check_whole or utf8 is not src.data

    def body(n_header: int):
        return _read_body(src, utf8, head, ends, n_header, delimiter, lead, checked)

    return _Table(head, body, enc, delimiter, lead, located)


def _undecodable(src: _Source, encoding: str, located: list, header: list) -> FormatError:
    row, j, line, offset, byte = located[0]
    column = None if j is None else (header[j].strip() if j < len(header) and header[j].strip()
                                     else f"#{j + 1}")
    where = f"line {line}, " if row != line else ""
    others = f" (and {len(located) - 1} more such bytes)" if len(located) > 1 else ""
    return FormatError(
        f"byte {byte} ({where}byte offset {offset}) is not valid {encoding}{others}, while the "
        "rest of the file is", file=src.shown, row=row,
        column=column,
        fix="correct that answer in a copy of the export, or leave encoding_errors out to read "
            "such bytes as U+FFFD (each one is reported); if the file is really in another "
            "encoding pass encoding= (e.g. 'cp1252')")


def _read_body(src, utf8, head, ends, n_header, delimiter, lead=0, utf8_checked=True):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    before = n_header + lead   # file rows before the first data row
    if len(head) <= n_header or ends[n_header - 1] >= len(utf8):
        raise InputError(f"the file has {n_header} header line{'s' * (n_header > 1)} but no "
                         "data rows", file=src.shown, row=before + 1,
                         fix="export again with the responses included (check the export's "
                             "filters and date range)")
    width = max(len(r) for r in head[:n_header])
    names = [f"c{j}" for j in range(width)]
    body = memoryview(utf8)[ends[n_header - 1]:]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(body)),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            # check_utf8: every cell is checked as it is converted, which is what makes
            # the whole-file check unnecessary (utf8_checked=False).
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names}, strings_can_be_null=True,
                null_values=[""], quoted_strings_can_be_null=True, check_utf8=True),
            memory_pool=_parser_memory_pool(pa),
        )
        df = table.to_pandas()
    except pa.ArrowInvalid:
        if not utf8_checked and not _is_utf8(body):
            raise _NotUtf8() from None
        # Slow path, only for malformed files: find the bad rows and name them.
        header_lines = utf8.count(b"\n", 0, ends[n_header - 1])
        df = _read_body_slow(src, bytes(body), names, before, header_lines, delimiter)
    n_quotes, maybe_blank = _scan_body(body)
    if n_quotes % 2:
        # Quotes come in pairs in a well-formed CSV; an odd count may be a quote that was
        # never closed, which swallows every later row into one answer.
        _check_quotes(src, bytes(body), before, delimiter)
    if not len(df):
        raise InputError("the file has a header but no data rows", file=src.shown,
                         row=before + 1, fix="export again with the responses included")
    row_numbers = None
    if (maybe_blank and re.search(rb"\n[ \t]*\r?\n", body)) or body[:1] in (b"\n", b"\r"):
        row_numbers = _row_numbers_with_blanks(bytes(body), delimiter, before, len(df))
    return df, row_numbers


def _parser_memory_pool(pa):
    """jemalloc where this pyarrow has it, else pyarrow's default pool.

    Parsing a 1 GB export with mimalloc (pyarrow's default on Linux) cost 3-5 s more system
    time (page faults) and 200 MiB more peak memory on the 2-core benchmark machine; the
    system allocator saved the time but kept 1 GB more resident.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


def _scan_body(body, step: int = 1 << 24) -> tuple[int, bool]:
    """Count the double quotes in ``body`` and say whether it may hold a blank line.

    A blank line (nothing, or spaces, tabs and CR) can only follow a line end that is
    followed by one of those or by another line end; finding none spares the regex over
    the whole file. One vectorised pass in chunks, instead of two byte-by-byte scans.
    """
    arr = np.frombuffer(body, dtype=np.uint8)
    n_quotes, maybe_blank = 0, False
    for i in range(0, len(arr), step):
        chunk = arr[i:i + step + 1]      # one byte more: what follows a line end at the edge
        n_quotes += int(np.count_nonzero(chunk[:step] == ord('"')))
        if not maybe_blank:
            after = chunk[np.flatnonzero(chunk[:-1] == ord("\n")) + 1]
            maybe_blank = bool(np.isin(after, np.frombuffer(b"\t\n\r ", np.uint8)).any())
    return n_quotes, maybe_blank


def _read_body_slow(src, body: bytes, names, n_header, header_lines, delimiter):
    text = body.decode("utf-8")
    long_rows, reader = [], csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    record = n_header
    try:
        for fields in reader:
            record += 1
            if len(fields) > len(names):
                long_rows.append((record, header_lines + reader.line_num, len(fields)))
    except csv.Error as err:
        raise FormatError(f"the file cannot be parsed ({err})", file=src.shown,
                          row=record + 1,
                          fix="check for an unbalanced quote (\") around this row") from err
    if long_rows:
        rows = [r for r, _, _ in long_rows]
        first, line, n = long_rows[0]
        where = f"; it is line {line} in a text editor" if line != first else ""
        raise InputError(
            f"{len(long_rows)} row(s) have more fields than the header has columns (row "
            f"{first} has {n} fields for {len(names)} columns{where})", file=src.shown,
            column=f"#{len(names) + 1}, after the last column",
            row=rows if len(rows) > 1 else rows[0],
            fix="a value probably contains the delimiter without quotes; quote it or remove "
                f"the extra {delimiter!r}, or pass delimiter= if the wrong one was sniffed",
        )
    # Rows shorter than the header (trailing empty cells dropped by an editor) are padded.
    return pd.read_csv(io.BytesIO(body), sep=delimiter, header=None, names=names, dtype="str",
                       keep_default_na=False, na_values=[""], engine="c", skip_blank_lines=True)


def _check_quotes(src, body: bytes, n_header: int, delimiter: str) -> None:
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=delimiter,
                        strict=True)
    record = n_header
    try:
        for _ in reader:
            record += 1
    except csv.Error as err:
        # A stray quote inside an unquoted answer (5'8") is legal; only report real damage.
        if "unexpected end of data" in str(err) or "expected" in str(err):
            raise InputError(
                "a quoted answer is never closed: it runs on to the end of the file",
                file=src.shown, row=record + 1,
                fix='add the missing closing quote (") in this row, or remove the opening one',
            ) from err


def _row_numbers_with_blanks(body: bytes, delimiter: str, n_header: int, n_rows: int):
    """File rows of the data rows when blank lines were skipped (rare, so a Python pass)."""
    rows, record = [], n_header
    for fields in csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=delimiter):
        record += 1
        if fields:
            rows.append(record)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) != n_rows or np.array_equal(rows, np.arange(n_rows) + n_header + 1):
        return None
    return rows


# --------------------------------------------------------------------------- XLSX and SPSS


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(src: _Source, sheet) -> _Table:
    try:
        book = pd.ExcelFile(io.BytesIO(src.data), engine="openpyxl")
    except Exception as err:  # openpyxl raises many types on a damaged workbook
        raise FormatError(f"the workbook cannot be opened ({err})", file=src.shown,
                          fix="open it in Excel or LibreOffice and save it again as .xlsx") from err
    names = book.sheet_names
    if sheet is None:
        sheet = 0
    if (isinstance(sheet, int) and not 0 <= sheet < len(names)) or (
            isinstance(sheet, str) and sheet not in names):
        raise InputError(f"no worksheet {sheet!r}", file=src.shown,
                         fix=f"pass sheet= one of {names} (or its 0-based position)")
    with book:
        grid = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    grid = grid.replace({"": np.nan})
    filled = grid.notna().to_numpy().any(axis=1)
    if not filled.any():
        raise InputError(f"worksheet {sheet!r} is empty", file=src.shown, row=1,
                         fix="pick the sheet that holds the responses with sheet=")
    # Blank rows above the header are kept by the reader; they count in the row numbers.
    lead = int(np.argmax(filled))
    grid, filled = grid.iloc[lead:], filled[lead:]
    head = [[_cell_text(v) for v in grid.iloc[i].tolist()] for i in range(min(6, len(grid)))]

    def body(n_header: int):
        # Blank rows between responses (and formatting-only rows at the end) are dropped,
        # keeping the worksheet row of every response.
        kept = np.flatnonzero(filled[n_header:])
        if not len(kept):
            raise InputError(f"the worksheet has {n_header} header row(s) but no data rows",
                             file=src.shown, row=lead + n_header + 1,
                             fix="export again with the responses included")
        df = grid.iloc[n_header:].iloc[kept].reset_index(drop=True)
        df.columns = [f"c{j}" for j in range(df.shape[1])]
        for col in df.columns:
            values = df[col].dropna()
            if len(values) == 0 or values.map(type).eq(str).all():
                df[col] = df[col].astype("str")
        rows = kept + lead + n_header + 1
        consecutive = rows[-1] - rows[0] == len(rows) - 1 and rows[0] == lead + n_header + 1
        return df, (None if consecutive else rows)

    return _Table(head, body, lead=lead)


def _code(value):
    """SPSS codes come back as floats; 98.0 reads better (and matches YAML) as 98."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _load_spss(src: _Source) -> RawWave:
    import pyreadstat

    if src.path.suffix.lower() == ".gz":
        raise FormatError("gzipped .sav files are not supported", file=src.shown,
                          fix="decompress it first (gunzip) and load the .sav")
    try:
        df, meta = pyreadstat.read_sav(str(src.path), user_missing=True)
    except pyreadstat.ReadstatError as err:
        raise FormatError(f"the SPSS file cannot be read ({err})", file=src.shown,
                          fix="save it again from SPSS/PSPP as .sav, or export CSV") from err
    if not len(df):
        raise InputError("the SPSS file has variables but no cases", file=src.shown, row=1,
                         fix="export again with the cases included")
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].replace({"": np.nan}).astype("str")
    labels = {c: (meta.column_names_to_labels.get(c) or c) for c in df.columns}
    value_labels = {
        c: {_code(k): v for k, v in vl.items()} for c, vl in meta.variable_value_labels.items()
    }
    missing = {}
    for col, ranges in (meta.missing_ranges or {}).items():
        codes = {}
        for rng in ranges:
            lo, hi = _code(rng["lo"]), _code(rng["hi"])
            found = [k for k in value_labels.get(col, {}) if _in_range(k, lo, hi)]
            for code in sorted(set(found) | {lo, hi}, key=str):
                codes[code] = value_labels.get(col, {}).get(code, "user-defined missing")
        missing[col] = codes
    return RawWave(
        data=df.reset_index(drop=True), path=src.path, format="spss", sha256=src.sha256,
        labels=labels, header_rows=0, value_labels=value_labels, missing_codes=missing,
    )


def _in_range(code, lo, hi) -> bool:
    try:
        return lo <= code <= hi
    except TypeError:
        return code == lo


# --------------------------------------------------------------------------- which export is it


def _classify(head: list) -> tuple[str, int]:
    """(format, header lines) from the first records of a text file or worksheet."""
    r1 = [c.strip() for c in head[0]]
    r2 = [c.strip() for c in head[1]] if len(head) > 1 else []
    r3 = [c.strip() for c in head[2]] if len(head) > 2 else []
    if any(c.startswith('{"ImportId"') for c in r3):
        return "qualtrics", 3
    if r1[:2] == ["V1", "V2"] and "ResponseID" in r2:
        return "qualtrics_legacy", 2
    if "ResponseId" in r1 or {"StartDate", "EndDate", "Progress", "Finished"} <= set(r1):
        return "qualtrics", _qualtrics_header_rows(r1, r2)
    if {"Respondent ID", "Collector ID"} <= set(r1) or (
            r2 and any(c in ("Response", "Open-Ended Response") for c in r2) and "" in r1):
        return "surveymonkey", 2
    if r1 and r1[0] in GOOGLE_FORMS_TIMESTAMP:
        return "google_forms", 1
    if r2 and (r2[0] == "#" or len(TYPEFORM_META & set(r2)) >= 2) and "" in r1:
        return "typeform", 2
    if len(TYPEFORM_META & set(r1)) >= 2 or (r1 and r1[0] == "#" and any(
            _PIPING.search(c) for c in r1)):
        return "typeform", 1
    return "csv", 1


#: Qualtrics' second header row names its metadata columns so (lower case).
_QUALTRICS_ROW2 = {"start date", "end date", "response type", "ip address", "progress",
                   "duration (in seconds)", "finished", "recorded date", "response id",
                   "recipient last name", "recipient first name", "recipient email",
                   "external data reference", "location latitude", "location longitude",
                   "distribution channel", "user language"}


def _qualtrics_header_rows(r1: list, r2: list) -> int:
    """1 or 2 header rows: row 2 is Qualtrics' question-text row only when it reads as one
    (its ResponseId cell says "Response ID", or it names Qualtrics' metadata columns); a row
    whose ResponseId is any respondent id (not only ``R_...``) is the first respondent,
    never a header to skip silently."""
    if not r2:
        return 1
    if any(c.strip().lower() in _QUALTRICS_ROW2 for c in r2):
        return 2
    if "ResponseId" in r1:
        k = r1.index("ResponseId")
        cell = r2[k].strip() if k < len(r2) else ""
        if re.fullmatch(r"(?i)response\s*_?id", cell) or not cell:
            return 2
        return 1
    return 2


def _default_header_rows(fmt: str, head: list) -> int:
    r1 = [c.strip() for c in head[0]]
    r2 = [c.strip() for c in head[1]] if len(head) > 1 else []
    if fmt == "qualtrics":
        r3 = head[2] if len(head) > 2 else []
        return 3 if any(c.strip().startswith('{"ImportId"') for c in r3) else (
            _qualtrics_header_rows(r1, r2))
    if fmt in ("qualtrics_legacy", "surveymonkey"):
        return 2
    if fmt == "typeform":
        return 2 if r2 and (r2[0] == "#" or "" in r1) else 1
    return 1


# --------------------------------------------------------------------------- header builders


@dataclass
class _Spec:
    """What a header says about each physical column (lists aligned with the columns)."""

    ids: list
    labels: list
    options: list = None        # option text or None
    group_of: list = None       # question id of the column's group or None
    meta: list = None           # bool
    export_values: str | None = None
    separator_candidates: tuple = ()
    separator_columns: list = None   # bool: columns worth a separator check

    def __post_init__(self):
        n = len(self.ids)
        self.options = self.options or [None] * n
        self.group_of = self.group_of or [None] * n
        self.meta = self.meta or [False] * n
        self.separator_columns = self.separator_columns or [False] * n


def _clean_label(text: str) -> str:
    """One-line label: piping placeholders made readable, whitespace runs collapsed."""
    def placeholder(m):
        kind, name = m.group("kind").lower(), m.group("name")
        return "[earlier answer]" if kind == "field" else f"[{name}]"

    return " ".join(_PIPING.sub(placeholder, text).split())


def _pad(row: list, width: int) -> list:
    return list(row[:width]) + [""] * (width - len(row))


def _build_plain(header, body) -> _Spec:
    ids = [c.strip() for c in header[0]]
    return _Spec(ids=ids, labels=[_clean_label(c) or c for c in ids])


def _build_qualtrics(header, body) -> _Spec:
    ids = [c.strip() for c in header[0]]
    labels = [_clean_label(c) for c in header[1]] if len(header) > 1 else list(ids)
    import_ids = [_import_id(c) for c in header[2]] if len(header) > 2 else list(ids)
    meta = [i in QUALTRICS_META or i.startswith("Q_") for i in ids]
    is_text = [imp.endswith("_TEXT") or "_TEXT_" in imp or i.endswith("_TEXT")
               for i, imp in zip(ids, import_ids)]
    is_choice = [
        not m and not t and (bool(re.match(r"^QID\d+", imp)) or len(header) < 3)
        for m, t, imp in zip(meta, is_text, import_ids)
    ]
    spec = _Spec(ids=ids, labels=[lab or i for lab, i in zip(labels, ids)], meta=meta,
                 separator_candidates=(",",), separator_columns=is_choice)
    _qualtrics_groups(spec, skip=[m or t for m, t in zip(meta, is_text)])
    spec.export_values = _export_values(body, is_choice)
    return spec


def _import_id(cell: str) -> str:
    try:
        value = json.loads(cell)
    except ValueError:
        return cell.strip()
    return str(value.get("ImportId", "")) if isinstance(value, dict) else cell.strip()


def _qualtrics_groups(spec: _Spec, skip: list) -> None:
    """Matrix rows and split multi-selects share a stem: Q5_1, Q5_2 -> group Q5."""
    stems: dict[str, list[int]] = {}
    for j, cid in enumerate(spec.ids):
        m = _STEM.match(cid)
        if m and not skip[j]:
            stems.setdefault(m.group("stem"), []).append(j)
    for stem, members in stems.items():
        if len(members) < 2:
            continue
        labels = [spec.labels[j] for j in members]
        prefix = _shared_question(labels)
        for j in members:
            spec.group_of[j] = stem
            if prefix:
                spec.options[j] = spec.labels[j][len(prefix) + 3:]


def _shared_question(labels: list) -> str | None:
    """The question text every ``"<question> - <option>"`` label starts with, if any."""
    first = labels[0]
    for pos in [m.start() for m in re.finditer(" - ", first)][::-1]:
        prefix = first[:pos]
        if all(lab.startswith(prefix + " - ") for lab in labels):
            return prefix
    return None


def _export_values(body: pd.DataFrame, is_choice: list) -> str | None:
    """'numeric' when most answered choice columns hold only codes, else 'choice_text'.

    A column vote, so that a free-text or numeric-entry question (which legacy exports
    cannot tell apart from choice questions) does not decide for the whole file.
    """
    numeric = text = 0
    for col, ok in zip(body.columns, is_choice):
        if not ok:
            continue
        values = body[col].head(2000).dropna()
        if not len(values):
            continue
        if values.astype("str").str.match(_NUMERIC_LIST).all():
            numeric += 1
        else:
            text += 1
    if numeric + text == 0:
        return None
    return "numeric" if numeric >= text else "choice_text"


def _build_qualtrics_legacy(header, body) -> _Spec:
    ids = [c.strip() for c in header[0]]
    labels = [_clean_label(c) or i for c, i in zip(header[1], ids)]
    meta = [i in QUALTRICS_LEGACY_META or i in _QUALTRICS_LEGACY_EXTRA_META
            or lab in QUALTRICS_META for i, lab in zip(ids, labels)]
    is_choice = [not m and not i.endswith("_TEXT") and bool(i) for m, i in zip(meta, ids)]
    spec = _Spec(ids=ids, labels=labels, meta=meta, separator_candidates=(",",),
                 separator_columns=is_choice)
    _qualtrics_groups(spec, skip=[m or i.endswith("_TEXT") for m, i in zip(meta, ids)])
    spec.export_values = _export_values(body, is_choice)
    return spec


def _build_surveymonkey(header, body) -> _Spec:
    top = [c.strip() for c in header[0]]
    sub = [c.strip() for c in header[1]]
    ids, labels, options, group_of, meta = [], [], [], [], []
    questions: list[tuple[str, list[int]]] = []
    for j, (t, s) in enumerate(zip(top, sub)):
        if t in SURVEYMONKEY_META and not s:
            questions.append((None, [j]))
        elif t or not questions or questions[-1][0] is None:
            questions.append((t, [j]))
        else:
            questions[-1][1].append(j)
    n = 0
    for text, cols in questions:
        for j in cols:
            ids.append(None), labels.append(None), options.append(None)
            group_of.append(None), meta.append(False)
        if text is None:
            j = cols[0]
            ids[j], labels[j], meta[j] = top[j], top[j], True
            continue
        n += 1
        text = _clean_label(text)
        if len(cols) == 1 and sub[cols[0]] in ("Response", "Open-Ended Response", ""):
            ids[cols[0]], labels[cols[0]] = f"q{n}", text or f"q{n}"
            continue
        for k, j in enumerate(cols, start=1):
            opt = _clean_label(sub[j])
            ids[j], options[j], group_of[j] = f"q{n}_{k}", opt, f"q{n}"
            labels[j] = f"{text} - {opt}" if opt else text
    return _Spec(ids=ids, labels=labels, options=options, group_of=group_of, meta=meta)


def _build_google_forms(header, body) -> _Spec:
    cells = [c.strip() for c in header[0]]
    ids, labels, options, group_of, meta, check = [], [], [], [], [], []
    n, current, k = 0, None, 0
    for cell in cells:
        grid = _GRID_HEADER.match(cell)
        if cell in GOOGLE_FORMS_TIMESTAMP or cell in GOOGLE_FORMS_META:
            ids.append(cell), labels.append(cell), options.append(None)
            group_of.append(None), meta.append(True), check.append(False)
            current = None
            continue
        if grid:
            question, row = _clean_label(grid["question"]), _clean_label(grid["row"])
            if current != question:
                n, current, k = n + 1, question, 0
            k += 1
            ids.append(f"q{n}_{k}"), labels.append(f"{question} - {row}")
            options.append(row), group_of.append(f"q{n}"), check.append(False)
        else:
            n, current = n + 1, None
            ids.append(f"q{n}"), labels.append(_clean_label(cell) or f"q{n}")
            options.append(None), group_of.append(None), check.append(True)
        meta.append(False)
    return _Spec(ids=ids, labels=labels, options=options, group_of=group_of, meta=meta,
                 separator_candidates=(";", ", "), separator_columns=check)


def _is_option_column(values: pd.Series, option: str) -> bool:
    """A checkbox option column holds its own option text (or nothing) in every row."""
    filled = values.head(50000).dropna()
    if not len(filled):
        return True
    return bool(filled.astype("str").str.strip().str.casefold().eq(option.casefold()).all())


def _looks_like_question(text: str) -> bool:
    return text.rstrip().endswith("?")


def _build_typeform(header, body) -> _Spec:
    """Typeform-style wide export with two header lines (question / option).

    The question line is blank both for the further options of a question and for a
    question that has no options (whose text is then on the option line), so the
    responses decide: a checkbox option column holds its own option text or nothing, and
    a line ending in "?" starts a new question.
    """
    if len(header) == 1:
        return _build_typeform_one_row(header[0], body)
    top = [c.strip() for c in header[0]]
    sub = [c.strip() for c in header[1]]
    n = len(top)
    ids, labels, options, group_of, meta = [None] * n, [None] * n, [None] * n, [None] * n, [False] * n
    q, group, kind, last_single = 0, None, None, None
    members: dict[str, list[int]] = {}
    texts: dict[str, str] = {}

    def add_member(j, option):
        members[group].append(j)
        ids[j], options[j], group_of[j] = f"{group}_{len(members[group])}", option, group
        labels[j] = f"{texts[group]} - {option}" if texts[group] else option

    for j in range(n):
        t, s, col = top[j], sub[j], body.iloc[:, j]
        name = t or s
        if name in TYPEFORM_META and not (t and s):
            ids[j], labels[j], meta[j] = name, name, True
            group = last_single = None
            continue
        option = _clean_label(s)
        option_like = _is_option_column(col, s) and not _looks_like_question(s)
        if t:  # a new question, its first option or row under it
            q += 1
            group, last_single, members[f"q{q}"] = f"q{q}", None, []
            texts[group] = _clean_label(t)
            kind = "checkbox" if option_like else "grid"
            add_member(j, option)
            continue
        if group is not None and (s.lower().startswith("other") or (
                kind == "checkbox" and option_like) or (
                kind == "grid" and not _looks_like_question(s))):
            add_member(j, option)
            continue
        if last_single is not None and s.lower().startswith("other"):
            # "Other" right after a single-choice question: its write-in text.
            ids[j], labels[j] = f"{ids[last_single]}_other", f"{labels[last_single]} - {s}"
            last_single = None
            continue
        if option_like and col.notna().any():
            # Checkbox options whose question line the export left blank.
            q += 1
            group, kind, last_single, members[f"q{q}"] = f"q{q}", "checkbox", None, []
            texts[group] = ""
            add_member(j, option)
            continue
        q += 1
        group = None
        ids[j], labels[j] = f"q{q}", option or f"q{q}"
        last_single = j
    return _Spec(ids=ids, labels=labels, options=options, group_of=group_of, meta=meta)


def _build_typeform_one_row(cells, body) -> _Spec:
    cells = [c.strip() for c in cells]
    n = len(cells)
    ids, labels, options, group_of, meta = [None] * n, [None] * n, [None] * n, [None] * n, [False] * n
    q, group, k = 0, None, 0
    for j, cell in enumerate(cells):
        if cell in TYPEFORM_META:
            ids[j], labels[j], meta[j] = cell, cell, True
            group = None
            continue
        if cell and not _looks_like_question(cell) and body.iloc[:, j].notna().any() and \
                _is_option_column(body.iloc[:, j], cell):
            if group is None:
                q, k = q + 1, 0
                group = f"q{q}"
            k += 1
            ids[j], labels[j], options[j], group_of[j] = f"{group}_{k}", _clean_label(cell), \
                _clean_label(cell), group
            continue
        q, group = q + 1, None
        ids[j], labels[j] = f"q{q}", _clean_label(cell) or f"q{q}"
    return _Spec(ids=ids, labels=labels, options=options, group_of=group_of, meta=meta)


_BUILDERS = {
    "csv": _build_plain, "xlsx": _build_plain, "qualtrics": _build_qualtrics,
    "qualtrics_legacy": _build_qualtrics_legacy, "surveymonkey": _build_surveymonkey,
    "google_forms": _build_google_forms, "typeform": _build_typeform,
}


# --------------------------------------------------------------------------- assembling


def _unique_ids(ids: list) -> tuple[list, dict]:
    """Blank ids become ``column_<n>``; repeats get ``__2``, ``__3`` (first one keeps it)."""
    taken = {i for i in ids if i}
    out, notes, seen = [], {}, {}
    for j, cid in enumerate(ids):
        if not cid:
            cid = f"column_{j + 1}"
            notes[j] = f"(no header; column {j + 1})"
        if cid in seen:
            k = seen[cid] + 1
            while f"{cid}__{k}" in taken:
                k += 1
            seen[cid] = k
            new = f"{cid}__{k}"
            notes[j] = f"(duplicate column name {cid!r}, occurrence {k}, file column {j + 1})"
            cid = new
        else:
            seen[cid] = 1
        taken.add(cid)
        out.append(cid)
    return out, notes


def _detect_separator(values: pd.Series, candidates: tuple) -> str | None:
    """The separator of a joined multi-select column: its parts recur as options.

    A part is option-like when it is also a whole answer ("Email" alone) or turns up in
    two or more different answers. "Email;Phone" next to "Email" is a multi-select; free
    text with commas, or one option that contains a comma ("Pro, annual"), never splits
    that way. Numeric exports join codes ("1,3"), which are multi-selects whenever found.
    """
    filled = values.head(20000).dropna().astype("str").head(5000).str.strip()
    distinct = pd.Series(filled.unique(), dtype="str")
    if len(distinct) < 2:
        return None
    whole = set(distinct)
    for sep in candidates:
        joined = distinct[distinct.str.contains(sep, regex=False)]
        if not len(joined):
            continue
        if sep == "," and distinct.str.match(_NUMERIC_LIST).all():
            return sep
        parts = joined.str.split(sep, regex=False).explode().str.strip()
        parts = parts[parts != ""]
        answers_with = parts.groupby(parts).size()
        option_like = {p for p, n in answers_with.items() if p in whole or n >= 2}
        if len(option_like) >= 2 and len(option_like) >= 0.5 * len(answers_with) and \
                len(answers_with) <= 60:
            return sep
    return None


def _finish(src, fmt, n_header, header, body, spec: _Spec, table: _Table, row_numbers):
    # Trailing columns with no header and no data (a trailing delimiter on every line).
    width = len(spec.ids)
    while width and not any(r[width - 1].strip() for r in header) and \
            body.iloc[:, width - 1].isna().all():
        width -= 1
    keep = range(width)
    ids, notes = _unique_ids([spec.ids[j] for j in keep])
    data = body.iloc[:, :width].copy()
    data.columns = ids
    labels, option_labels, groups, meta_columns = {}, {}, {}, []
    for j, cid in enumerate(ids):
        label = spec.labels[j] or cid
        labels[cid] = f"{label} {notes[j]}" if j in notes else label
        if spec.options[j]:
            option_labels[cid] = spec.options[j]
        if spec.group_of[j]:
            groups.setdefault(spec.group_of[j], []).append(cid)
        if spec.meta[j]:
            meta_columns.append(cid)
    separators = {}
    if spec.separator_candidates:
        for j, cid in enumerate(ids):
            if spec.separator_columns[j] and not spec.group_of[j]:
                sep = _detect_separator(data[cid], spec.separator_candidates)
                if sep:
                    separators[cid] = sep
    return RawWave(
        data=data.reset_index(drop=True), path=src.path, format=fmt, sha256=src.sha256,
        labels=labels, header_rows=n_header + table.lead, option_labels=option_labels,
        groups=groups,
        meta_columns=meta_columns, encoding=table.encoding, delimiter=table.delimiter,
        export_values=spec.export_values if fmt.startswith("qualtrics") else None,
        separators=separators, row_numbers=row_numbers,
        decode_errors=_decode_error_frame([
            (row, None if j is None else (ids[j] if j < len(ids) else f"#{j + 1}"), line, off, b)
            for row, j, line, off, b in table.decode_errors]),
    )
