"""Study/wave run configuration: one YAML file (or CLI flags) that says what a run does.

Every parameter is validated before any notebook starts: unknown names and wrong types are
refused with a message that names the file, the key and the fix.

Relative paths for inputs (``input``, ``codebook``, ``themes``, ``baseline``, and an
``exclude_respondents`` CSV) are resolved against the folder of the config file, so a study
folder can be moved as a whole. ``output`` is resolved against the working directory (where
you run the command) and defaults to ``reports/<wave>``.
"""
from __future__ import annotations

import dataclasses
import difflib
import glob
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError

#: Pipeline steps, in order, and the parameterized notebook in ``notebooks/`` that runs each.
NOTEBOOKS = {
    "ingest": "01_ingest.ipynb",
    "segment": "02_segment.ipynb",
    "quotes": "03_quotes.ipynb",
    "personas": "04_personas.ipynb",
    "waves": "06_waves.ipynb",
    "report": "05_report.ipynb",
}
STEPS = tuple(NOTEBOOKS)
#: Steps a run does unless the config lists its own.
DEFAULT_STEPS = STEPS


@dataclass
class StudyConfig:
    """Everything one run of a wave needs.

    Parameters
    ----------
    wave : str
        Name of the wave (used for ``reports/<wave>/`` and in the report).
    input : Path
        The raw export (CSV/XLSX/Qualtrics/SurveyMonkey/SPSS/Google Forms/Typeform).
    codebook : Path, optional
        The survey codebook (YAML). Without one, a draft is inferred and saved beside the
        outputs for you to review.
    themes : Path, optional
        The theme codebook (YAML) for the open-text answers.
    output : Path, optional
        Output folder; default ``reports/<wave>``.
    format : str
        Export format, or ``"auto"`` to detect it.
    seed : int
        Random seed: same inputs and seed give the same segments, personas and report.
    exclude_flags : list of str, optional
        Data-quality flags that exclude a respondent (default: the QualityRules default).
    exclude_respondents : dict or Path, optional
        Respondents to exclude by hand, each with its reason: a mapping
        ``{respondent id: reason}`` (quote ids in the YAML; a bare number is compared as the
        text it is written as), or the path of a CSV with the columns ``respondent_id`` and
        ``reason`` (relative to the config file's folder). Each is flagged ``listed`` and
        excluded, whatever ``exclude_flags`` says, with the reason in ``quality_flags.csv``
        and the report. An id the wave does not have stops the ingest step naming it (a
        typo would otherwise exclude nobody). Read into a mapping by :meth:`validate`.
    min_segment_share : float
        Smallest segment, as a share of respondents (drives HDBSCAN's minimum cluster size).
    reducer, clusterer : str
        Segmentation stages (``"umap"``, ``"pca"``, ``"identity"``; ``"hdbscan"``, ``"gmm"``,
        ``"kmeans"``, ``"kprototypes"``). The default ``"auto"`` lets the segment step choose
        the measured-best, guarded setting (see docs/segmentation_defaults.md); naming a stage
        uses it as it is.
    n_segments : int, optional
        Number of segments to find (2 to 12), for clusterers that take one; ``None`` lets
        the segment step choose.
    n_neighbors : int, optional
        UMAP neighbours (default chosen by PersonaModel).
    n_quotes : int
        Representative quotes per persona.
    not_a_fit : dict, optional
        Criteria that mark a segment as a negative persona ("who is not a fit").
    baseline : Path, optional
        Folder of an earlier wave's run, to track personas across waves.
    mapping : dict, optional
        Renamed questions, ``{new_id: baseline_id}`` (with ``baseline``).
    scale_mapping : dict, optional
        Changed answer labels, ``{baseline_id: {new_label: baseline_label}}``.
    engine : {"local", "dask"}
        ``"local"`` runs every step in this process. ``"dask"`` spreads reading, placing,
        profiling, tagging and sentiment over a Dask cluster (a LocalCluster with one
        worker per core, or ``scheduler``); see docs/scale.md.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``), with ``engine: dask``.
    steps : list of str
        Which pipeline steps to run (default: all, in order).
    decimal, thousands : str or dict, optional
        How the export writes numbers: the decimal mark (``"."`` or ``","``) and the
        thousands mark (``","``, ``"."``, ``" "``, ``"'"``, a no-break space, or ``""`` for
        none), for every number column (``decimal: ","``) or per column
        (``decimal: {spend: ","}``). Left out, each numeric or weight column's convention is
        decided from its values, and a column that cannot be decided (only ``"1,393"``-like
        values) is refused naming these keys. See :mod:`personalab.conventions`.
    dayfirst : bool or dict, optional
        Whether ``03/04/2024``-style dates put the day first, for every date column
        (``dayfirst: true``) or per column (``dayfirst: {signup: true}``); left out, decided
        from the values.
    encoding : str, optional
        The export's text encoding (``cp1252``, ``latin-1``, ...); detected when left out.
    encoding_errors : {"replace", "strict"}, optional
        Bytes that do not decode: left out, a UTF-8 file with a few bad bytes is read with
        each replaced by U+FFFD and reported; ``strict`` stops on the first one; ``replace``
        also replaces (and reports) with a given ``encoding``.
        See :func:`personalab.loaders.load_export`.
    """

    wave: str
    input: Path
    codebook: Path | None = None
    themes: Path | None = None
    output: Path | None = None
    format: str = "auto"
    seed: int = 42
    exclude_flags: list[str] | None = None
    exclude_respondents: dict | Path | None = None
    min_segment_share: float = 0.05
    reducer: str = "auto"
    clusterer: str = "auto"
    n_segments: int | None = None
    n_neighbors: int | None = None
    n_quotes: int = 5
    not_a_fit: dict | None = None
    baseline: Path | None = None
    mapping: dict | None = None
    scale_mapping: dict | None = None
    engine: str = "local"
    scheduler: str | None = None
    steps: list[str] = field(default_factory=lambda: list(DEFAULT_STEPS))
    decimal: str | dict | None = None
    thousands: str | dict | None = None
    dayfirst: bool | dict | None = None
    encoding: str | None = None
    encoding_errors: str | None = None
    #: the config file it was read from (not a parameter)
    source: Path | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.output is None:
            self.output = Path("reports") / self.wave

    # ------------------------------------------------------------------ validation
    def validate(self) -> "StudyConfig":
        """Check values beyond their types; raise ConfigError naming the key and the fix."""
        src = self.source
        if not str(self.wave).strip() or any(c in str(self.wave) for c in "/\\"):
            raise ConfigError(f"wave name {self.wave!r} must be a plain folder name",
                              file=src, column="wave", fix="use letters, digits, '-' or '_'")
        from .dask_engine import is_pattern

        if is_pattern(self.input):
            if not Path(self.input).is_dir() and not glob.glob(str(self.input)):
                raise ConfigError(f"no file matches the input pattern {str(self.input)!r}",
                                  file=src, column="input",
                                  fix="check the folder and the pattern, e.g. "
                                      "wave3/part-*.csv (relative to the config file)")
        for key in ("input", "codebook", "themes"):
            p = getattr(self, key)
            if key == "input" and is_pattern(p):
                continue
            if p is not None and not Path(p).exists():
                raise ConfigError(f"{key} file {str(p)!r} does not exist", file=src, column=key,
                                  fix="check the path; relative paths are read from the "
                                      "config file's folder")
        if self.exclude_respondents is not None:
            from .quality import exclusion_list

            self.exclude_respondents = exclusion_list(self.exclude_respondents, file=src)
        if self.baseline is not None and not Path(self.baseline).is_dir():
            raise ConfigError(f"baseline folder {str(self.baseline)!r} does not exist", file=src,
                              column="baseline", fix="point it at an earlier run's output folder")
        if not 0 < self.min_segment_share < 0.5:
            raise ConfigError(f"min_segment_share must be between 0 and 0.5, got "
                              f"{self.min_segment_share}", file=src, column="min_segment_share",
                              fix="e.g. 0.05 for segments of at least 5% of respondents")
        if self.n_quotes < 1:
            raise ConfigError("n_quotes must be at least 1", file=src, column="n_quotes",
                              fix="e.g. n_quotes: 5")
        if self.n_segments is not None and not 2 <= self.n_segments <= 12:
            raise ConfigError(f"n_segments must be between 2 and 12, got {self.n_segments}",
                              file=src, column="n_segments",
                              fix="e.g. n_segments: 5, or leave it out to let the segment step "
                                  "choose")
        if self.n_neighbors is not None and self.n_neighbors < 2:
            raise ConfigError("n_neighbors must be at least 2", file=src, column="n_neighbors",
                              fix="leave it out to let PersonaModel choose")
        if self.engine not in ("local", "dask"):
            raise ConfigError(f"engine must be 'local' or 'dask', got {self.engine!r}", file=src,
                              column="engine", fix=_suggest(self.engine, ("local", "dask")))
        check_read_options(self.read_options(), src)
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError("a Dask scheduler address needs engine: dask", file=src,
                              column="scheduler", fix="add 'engine: dask' (or --engine dask)")
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            raise ConfigError(f"unknown step(s) {unknown}; the steps are {list(STEPS)}",
                              file=src, column="steps", fix=_suggest(unknown[0], STEPS))
        if not self.steps:
            raise ConfigError("no steps to run", file=src, column="steps",
                              fix="leave steps out to run them all")
        self.steps = [s for s in STEPS if s in self.steps]      # pipeline order, once each
        # each step's results would sit beside those of a step skipped in between, from an
        # earlier run (a new wave's size beside the old wave's personas): no gaps. The waves
        # step does nothing without a baseline, so it may be left out then.
        span = list(STEPS[STEPS.index(self.steps[0]):STEPS.index(self.steps[-1]) + 1])
        gaps = [s for s in span if s not in self.steps
                and not (s == "waves" and self.baseline is None)]
        if gaps:
            raise ConfigError(f"steps {self.steps} leave out {gaps}: the later steps would "
                              f"use results of an earlier run", file=src, column="steps",
                              fix=f"steps: [{', '.join(span)}] (or leave steps out to run "
                                  f"them all)")
        return self

    def read_options(self) -> dict:
        """How to read the export: the options of :func:`personalab.loaders.load_export`
        this config gives (``decimal``, ``thousands``, ``dayfirst``, ``encoding``,
        ``encoding_errors``), without those left out."""
        return {k: getattr(self, k) for k in READ_OPTIONS if getattr(self, k) is not None}

    def to_dict(self) -> dict:
        """Plain, YAML/JSON-friendly dict (paths as strings)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "source":
                continue
            v = getattr(self, f.name)
            out[f.name] = str(v) if isinstance(v, Path) else v
        return out


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else f"valid names: {', '.join(choices)}"


_PATH_KEYS = ("input", "codebook", "themes", "baseline", "exclude_respondents")

#: Keys that say how the export is read, passed to load_export (and the conventions).
READ_OPTIONS = ("decimal", "thousands", "dayfirst", "encoding", "encoding_errors")
_ENCODING_ERRORS = ("replace", "strict")


def _flow(value) -> str:
    """A value as it is written in study.yml (YAML flow style, one line)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                          width=float("inf")).strip()
    return text[:-3].strip() if text.endswith("...") else text


def check_read_options(options: dict, src=None) -> None:
    """Refuse a read option (``decimal``, ``thousands``, ``dayfirst``, ``encoding``,
    ``encoding_errors``) that is not one PersonaLab reads, naming the key and the values
    it takes.

    Raises
    ------
    ConfigError
    """
    import codecs

    from .conventions import DECIMAL_MARKS, THOUSANDS_MARKS      # the marks it reads

    marks = {"decimal": DECIMAL_MARKS, "thousands": THOUSANDS_MARKS}
    for key in ("decimal", "thousands"):
        value = options.get(key)
        if value is None:
            continue
        allowed = ", ".join(json.dumps(m) for m in marks[key])     # as YAML writes them
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for col, mark in items:
            if not isinstance(mark, str) or mark not in marks[key] or \
                    (col is not None and (not isinstance(col, str) or not col.strip())):
                shown = f"{_flow({col: mark})} in {key}" if col is not None else repr(mark)
                raise ConfigError(
                    f"{key} must be one of {allowed} (for every number column) or a mapping "
                    f"of column names to one of them, got {shown}", file=src, column=key,
                    fix=f'{key}: "{marks[key][1 if key == "decimal" else 0]}" for every '
                        f'number column, or {key}: {{spend: "{marks[key][1 if key == "decimal" else 0]}"}} '
                        "for one column (quote the mark: a bare , is not YAML)")
    dec, thou = options.get("decimal"), options.get("thousands")
    if dec is not None and thou is not None:
        cols = set(dec) if isinstance(dec, dict) else set()
        cols |= set(thou) if isinstance(thou, dict) else set()
        for col in cols or {None}:
            d = dec.get(col) if isinstance(dec, dict) else dec
            t = thou.get(col) if isinstance(thou, dict) else thou
            if d is not None and d == t:
                where = f" for column {col!r}" if col is not None else ""
                raise ConfigError(f"decimal and thousands are both {d!r}{where}: one mark "
                                  "cannot be both", file=src, column="thousands",
                                  fix="give the decimal mark only (the other of '.' and ',' "
                                      "then groups thousands), or two different marks")
    value = options.get("dayfirst")
    if value is not None:
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for col, v in items:
            if not isinstance(v, bool) or (col is not None and not isinstance(col, str)):
                raise ConfigError(
                    f"dayfirst must be true or false (for every date column) or a mapping of "
                    f"column names to true or false, got {_flow(v if col is None else value)}",
                    file=src, column="dayfirst",
                    fix="dayfirst: true for dd/mm/yyyy, dayfirst: false for mm/dd/yyyy, or "
                        "dayfirst: {signup: true} for one column")
    value = options.get("encoding_errors")
    if value is not None and value not in _ENCODING_ERRORS:
        raise ConfigError(f"encoding_errors must be 'replace' or 'strict', got {value!r}",
                          file=src, column="encoding_errors",
                          fix="encoding_errors: strict to stop on a byte that does not decode, "
                              "replace to read it as U+FFFD and report it, or leave it out "
                              "(replace for a UTF-8 file with a few bad bytes)")
    value = options.get("encoding")
    if value is not None:
        try:
            if not isinstance(value, str):
                raise LookupError
            codecs.lookup(value)
        except LookupError:
            raise ConfigError(f"encoding {value!r} is not a text encoding Python knows",
                              file=src, column="encoding",
                              fix="e.g. encoding: utf-8, cp1252 or latin-1, or leave it out to "
                                  "detect it") from None


def check_option_columns(options: dict, codebook, src=None) -> None:
    """Refuse a per-column read option naming a column the codebook does not read that way
    (``decimal: {spnd: ","}`` would otherwise be ignored without a word).

    Raises
    ------
    ConfigError
        Naming the key, the column and the codebook's columns it could mean.
    """
    numbers = [q.id for q in codebook.questions if q.type in ("numeric", "weight")]
    if codebook.weight is not None and codebook.weight not in numbers:
        numbers.append(codebook.weight)
    dates = [q.id for q in codebook.questions if q.type == "date"]
    for key, known, what in (("decimal", numbers, "numeric or weight"),
                             ("thousands", numbers, "numeric or weight"),
                             ("dayfirst", dates, "date")):
        value = options.get(key)
        if not isinstance(value, dict):
            continue
        for col in value:
            if col not in known:
                close = difflib.get_close_matches(str(col), known, n=1)
                raise ConfigError(
                    f"{key} names the column {col!r}, which is not a {what} question of the "
                    "codebook", file=src, column=key,
                    fix=(f"did you mean {close[0]!r}? " if close else "")
                    + (f"the {what} questions are: {', '.join(map(repr, known))}" if known
                       else f"the codebook has no {what} question: remove {key}"))


_OPTION = re.compile(r"\b(decimal|thousands|dayfirst|encoding_errors|encoding)="
                     r"(\{[^{}]*\}|'[^']*'|\"[^\"]*\"|True|False)")


def study_fix(fix: str | None) -> str | None:
    """A fix that names load_export options (``decimal={'spend': ','}``), with the same
    options as study.yml keys appended (``decimal: {spend: ','}``), for errors a run
    shows: a researcher runs from study.yml, not from Python."""
    if not fix:
        return fix
    import ast

    keys = []
    for m in _OPTION.finditer(fix):
        try:
            value = ast.literal_eval(m.group(2))
        except (ValueError, SyntaxError):
            continue
        line = f"{m.group(1)}: {_flow(value)}"
        if line not in keys:
            keys.append(line)
    if not keys or "study.yml" in fix:
        return fix
    return fix + f" (in study.yml: {' or '.join(keys)})"


def _check_type(key: str, value, annotation, src):
    """Check one value against its dataclass annotation (the few types used here)."""
    if value is None:
        args = typing.get_args(annotation)
        if type(None) in args:
            return None
        raise ConfigError(f"{key} must not be empty", file=src, column=key,
                          fix=f"give a value for {key} or remove the line")
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    is_optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    want = args[0] if is_optional and args else annotation
    origin = typing.get_origin(want) or want
    if origin is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{key} must be a path, got {type(value).__name__} {value!r}",
                              file=src, column=key, fix=f"{key}: path/to/file")
        return Path(value)
    if origin is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}", file=src, column=key,
                              fix=f"{key}: true")
        return value
    if origin is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be a whole number, got {value!r}", file=src,
                              column=key, fix=f"{key}: 42")
        return value
    if origin is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}", file=src, column=key,
                              fix=f"{key}: 0.05")
        return float(value)
    if origin is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be text, got {value!r}", file=src, column=key,
                              fix=f'{key}: "..."')
        return value
    if origin is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of names, got {value!r}", file=src,
                              column=key, fix=f"{key}: [a, b]")
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}", file=src, column=key,
                              fix=f"{key}:\n    name: value")
        return value
    return value


def config_from_dict(values: dict, *, source=None, base_dir=None) -> StudyConfig:
    """Build and validate a StudyConfig from a plain mapping (a YAML file's content or flags)."""
    if not isinstance(values, dict):
        raise ConfigError(f"a study config must be a mapping of names to values, got "
                          f"{type(values).__name__}", file=source,
                          fix="write one 'name: value' per line (see data/sample/study.yml)")
    fields = {f.name: f for f in dataclasses.fields(StudyConfig) if f.name != "source"}
    hints = typing.get_type_hints(StudyConfig)
    unknown = [k for k in values if k not in fields]
    if unknown:
        k = unknown[0]
        raise ConfigError(f"unknown parameter {k!r}", file=source, column=str(k),
                          fix=_suggest(k, fields))
    for required in ("wave", "input"):
        if values.get(required) in (None, ""):
            raise ConfigError(f"the required parameter {required!r} is missing", file=source,
                              column=required, fix=f"add a line '{required}: ...'")
    kwargs = {}
    for k, v in values.items():
        # the read options take a mark or a mapping (or true/false), exclude_respondents a
        # mapping or a CSV path: checked by validate()
        if k == "exclude_respondents" and isinstance(v, str):
            kwargs[k] = Path(v)
        elif k in READ_OPTIONS or k == "exclude_respondents":
            kwargs[k] = v
        else:
            kwargs[k] = _check_type(k, v, hints[k], source)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for k in _PATH_KEYS:
        if isinstance(kwargs.get(k), Path) and not kwargs[k].is_absolute():
            kwargs[k] = base / kwargs[k]
    kwargs["wave"] = str(kwargs["wave"])
    cfg = StudyConfig(**kwargs)
    cfg.source = Path(source) if source is not None else None
    return cfg.validate()


def load_config(path, **overrides) -> StudyConfig:
    """Read a study config YAML and apply command-line overrides.

    The file is read as :func:`personalab.codebook.read_yaml_text` reads hand-edited YAML:
    UTF-8 (a file saved as cp1252 is refused naming the line and byte), plain data only
    (``yaml.safe_load``, no Python tags), and aliases that expand past
    :data:`personalab.codebook.MAX_YAML_NODES` nodes refused.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError("config file not found", file=path,
                          fix="give the path of a study YAML, e.g. data/sample/study.yml")
    if path.is_dir():
        inside = [p for p in sorted(path.glob("*.yml")) + sorted(path.glob("*.yaml"))
                  if p.stem == "study" or _names_a_wave(p)]
        inside.sort(key=lambda p: p.stem != "study")
        raise ConfigError("--config names a folder, not a study YAML file", file=path,
                          fix=f"give the file itself, e.g. --config {inside[0]}" if inside else
                              "give the path of a study YAML, e.g. data/sample/study.yml "
                              "(`personalab init <folder>` writes one)")
    from .codebook import read_yaml_file

    try:
        # UTF-8 or refused naming the line and byte; plain data only; aliases capped (an
        # alias bomb is refused before it is built)
        values, _ = read_yaml_file(path, what="study config", error=ConfigError)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=path,
                          fix="check the file's permissions") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"the YAML must be a mapping of names to values, got "
                          f"{type(values).__name__}", file=path,
                          fix="write one 'name: value' per line (see data/sample/study.yml)")
    # flags given on the command line are relative to where the command runs
    given = {k: v for k, v in overrides.items() if v is not None}
    if "wave" in given and "output" not in given and str(given["wave"]) != str(values.get("wave")):
        # another wave never goes into the config's output folder (that is the config wave's
        # run, often the baseline): it goes beside it, or to reports/<wave>/
        given["output"] = str(_output_for_wave(values, given["wave"]))
    for k in _PATH_KEYS:
        if k in given and not Path(given[k]).is_absolute():
            given[k] = str(Path.cwd() / given[k])
    values = {**values, **given}
    return config_from_dict(values, source=path, base_dir=path.parent)


def _output_for_wave(values: dict, wave) -> Path:
    """Output folder of a run whose wave was changed on the command line (no --output).

    ``reports/<wave>`` under the working directory; when the config's own output folder is
    named after the config's wave (``study/reports/sample`` for wave ``sample``), the new wave
    goes beside it (``study/reports/<wave>``).
    """
    own = values.get("output")
    if isinstance(own, str) and Path(own).name == str(values.get("wave")):
        return Path(own).parent / str(wave)
    return Path("reports") / str(wave)


def _names_a_wave(path: Path) -> bool:
    """Whether a YAML file looks like a study config (a top-level ``wave:`` line)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return any(line.startswith("wave:") for line in fh)
    except OSError:
        return False
