"""Study/wave run configuration: one YAML file (or CLI flags) that says what a run does.

Every parameter is validated before any notebook starts: unknown names and wrong types are
refused with a message that names the file, the key and the fix.

Relative paths for inputs (``input``, ``codebook``, ``themes``, ``baseline``) are resolved
against the folder of the config file, so a study folder can be moved as a whole. ``output``
is resolved against the working directory (where you run the command) and defaults to
``reports/<wave>``.
"""
from __future__ import annotations

import dataclasses
import difflib
import glob
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
    """

    wave: str
    input: Path
    codebook: Path | None = None
    themes: Path | None = None
    output: Path | None = None
    format: str = "auto"
    seed: int = 42
    exclude_flags: list[str] | None = None
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


_PATH_KEYS = ("input", "codebook", "themes", "baseline")


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
        kwargs[k] = _check_type(k, v, hints[k], source)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for k in _PATH_KEYS:
        if kwargs.get(k) is not None and not kwargs[k].is_absolute():
            kwargs[k] = base / kwargs[k]
    kwargs["wave"] = str(kwargs["wave"])
    cfg = StudyConfig(**kwargs)
    cfg.source = Path(source) if source is not None else None
    return cfg.validate()


def load_config(path, **overrides) -> StudyConfig:
    """Read a study config YAML (safe loader only) and apply command-line overrides."""
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
    try:
        text = _read_utf8(path)
        values = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=path,
                          fix="check the file's permissions") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=path,
                          row=(mark.line + 1) if mark else None,
                          fix="check indentation and quoting on that line") from None
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


def _read_utf8(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is refused naming the row of the first
    byte that is not (a config saved as Windows-1252 or Latin-1 by an editor)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on this "
                          f"row; saved as Windows-1252 or Latin-1?)", file=path, row=row,
                          fix="save it as UTF-8 (in most editors: Save As > Encoding: UTF-8)"
                          ) from None


def _names_a_wave(path: Path) -> bool:
    """Whether a YAML file looks like a study config (a top-level ``wave:`` line)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return any(line.startswith("wave:") for line in fh)
    except OSError:
        return False
