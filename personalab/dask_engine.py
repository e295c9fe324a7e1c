"""The Dask engine: the same pipeline, with the heavy work spread over a Dask cluster.

``personalab run --engine dask`` (or ``engine: dask`` in a study config) runs the same
notebooks and steps; only the steps that touch every respondent change how they work:

* **ingest** — every partition of the wave (one file of a glob such as
  ``exports/wave-3/part-*.csv`` or ``*.parquet``) is read, validated against the codebook
  and typed on a worker, and saved to ``<output>/partitions/``. Numbers and dates are read
  with one convention per column for the whole wave (decided from every partition's
  distinct values in a first pass, as one file's values decide it), never partition by
  partition. The quality checks compare
  respondents across partitions (duplicate ids, duplicate and near-duplicate answers,
  speeders against the wave's median duration), so they run once on the typed wave,
  exactly as on one machine.
* **segment** — the model is fitted on a stratified, representative sample (each partition
  contributes in proportion to its kept respondents, at most ``fit_sample_size`` in all);
  then every partition is placed on a worker with :meth:`PersonaModel.place` (the sampled
  respondents keep the labels the fit gave them) and profiled there;
  the profile is merged exactly from the partitions' weighted moments
  (:func:`personalab.profiles.merge_profile_statistics`), and sizes are counted over every
  respondent.
* **quotes** — theme tagging and sentiment run on the workers, partition by partition;
  theme shares are merged exactly from per-partition weighted counts.

The cluster is a ``distributed.LocalCluster`` on this machine unless ``scheduler`` names
an existing scheduler (``tcp://host:8786``). On a real cluster the workers must be able to
read the input files and the run's output folder (a shared filesystem), and run the same
PersonaLab and package versions as the client. See docs/scale.md.
"""
from __future__ import annotations

import glob
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .codebook import question_wording  # noqa: F401  (re-exported: the Dask tagging uses it)
from .errors import ConfigError, InputError
from .ids import in_ids

__all__ = ["input_partitions", "read_partition", "read_partitions", "partition_values",
           "wave_conventions", "question_wording", "concat_surveys",
           "dask_client", "stratified_sample", "place_partitions", "tag_partitions",
           "PARTITION_DIR"]

#: Where the ingest step keeps the typed partitions, inside the run's output folder.
PARTITION_DIR = "partitions"
_GLOB_CHARS = set("*?[")
_FILE_TYPES = (".csv", ".tsv", ".txt", ".csv.gz", ".xlsx", ".sav", ".parquet", ".pq")


def is_pattern(path) -> bool:
    """True when ``path`` is a glob pattern or a folder (a partitioned wave)."""
    text = str(path)
    return bool(_GLOB_CHARS & set(text)) or Path(text).is_dir()


def input_partitions(path) -> list[Path]:
    """The files of a partitioned wave, in a stable (sorted) order.

    Parameters
    ----------
    path : str or Path
        A glob pattern (``exports/q4/part-*.csv``), a folder (every survey file in it), or
        one file (a wave of one partition).

    Returns
    -------
    list of Path
    """
    text = str(path)
    if Path(text).is_dir():
        files = sorted(p for p in Path(text).iterdir()
                       if p.is_file() and p.name.lower().endswith(_FILE_TYPES))
        if not files:
            raise InputError(f"the folder {text} holds no survey files",
                             file=text, fix=f"put the partitions there (one of {_FILE_TYPES})")
        return files
    if _GLOB_CHARS & set(text):
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise InputError(f"no file matches the pattern {text!r}", file=text,
                             fix="check the folder and the pattern, e.g. 'wave3/part-*.csv'")
        return files
    if not Path(text).is_file():
        raise InputError(f"input file {text!r} does not exist", file=text,
                         fix="check the path")
    return [Path(text)]


def _read_parquet(path):
    """A Parquet partition as a RawWave: every value as the text a CSV would hold."""
    import pyarrow.parquet as pq

    from .loaders import RawWave

    table = pq.read_table(path)
    if table.num_rows == 0:
        raise InputError("the file has no rows", file=path,
                         fix="remove empty partitions from the input")
    data = {}
    for name, col in zip(table.column_names, table.columns):
        s = col.to_pandas()
        if pd.api.types.is_float_dtype(s) and np.all(np.isnan(s) | (s == np.round(s))):
            # whole numbers written as floats (because of missing values): no ".0"
            s = s.astype("Int64")
        data[str(name)] = s.astype("str").where(s.notna())
    frame = pd.DataFrame(data)
    return RawWave(data=frame, path=Path(path), format="parquet", sha256=_sha256(path),
                   labels={c: c for c in frame.columns}, header_rows=1)


def _sha256(path, chunk=1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_raw(path, file_format="auto"):
    """One partition as a RawWave (Parquet here, every other format via load_export)."""
    from .loaders import load_export

    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq") or file_format == "parquet":
        return _read_parquet(path)
    return load_export(path, format=file_format)


def _convention_columns(codebook, columns) -> list[str]:
    """The codebook's number, weight and date columns present in ``columns``."""
    present = set(columns)
    cols = [q.id for q in codebook.questions
            if q.type in ("numeric", "weight", "date") and q.id in present]
    if codebook.weight is not None and codebook.weight in present and \
            codebook.weight not in cols:
        cols.append(codebook.weight)
    return cols


def _has_conventions(codebook) -> bool:
    return bool(_convention_columns(codebook, [q.id for q in codebook.questions]
                                    + [codebook.weight]))


def partition_values(raw, codebook, file_format="auto"):
    """What one partition's number and date columns hold: ``{column: (values, file_rows)}``,
    each distinct value once (first occurrence, missing left out) with its file line.

    ``raw``: the partition as read (a RawWave), or its path. The first pass of reading a
    partitioned wave one way (:func:`wave_conventions`).
    """
    if not hasattr(raw, "data"):
        raw = read_raw(Path(raw), file_format)
    rows = raw.file_rows()
    out = {}
    for col in _convention_columns(codebook, raw.data.columns):
        s = raw.data[col]
        first = (~s.duplicated() & s.notna()).to_numpy()
        out[col] = (s[first].astype(object).tolist(), rows[first])
    return out


def wave_conventions(files, codebook, values, *, decimal=None, thousands=None,
                     dayfirst=None) -> dict:
    """How every partition reads its numbers and dates, decided once for the whole wave.

    The decimal mark of a number column and the day/month order of a date column are
    decided as :func:`personalab.conventions.decide_conventions` decides them for one file,
    from the distinct values of every partition together, so ``"1,393"`` in one partition
    is read as ``"1,5"`` in another says (a partition alone may not tell, or tell
    otherwise). A number column the values leave undecided gets a decimal point, as the
    single-file reading leaves it; every partition is then read with these options.

    Parameters
    ----------
    files : list of Path
        The partitions, in order.
    codebook : Codebook
    values : list
        :func:`partition_values` of each partition, in the same order.
    decimal, thousands, dayfirst : optional
        Options as :func:`personalab.loaders.load_export` takes them (one value, or one
        per column): given, they are checked against every partition's values.

    Returns
    -------
    dict
        ``{"decimal": {...}, "thousands": {...}, "dayfirst": {...}}`` (see
        :func:`personalab.conventions.decide_conventions`).

    Raises
    ------
    InputError
        A column mixes conventions across (or within) partitions, or cannot be decided;
        the message names the partition file(s) and line(s) of the example values.
    """
    from types import SimpleNamespace

    from .conventions import decide_conventions

    columns = list(dict.fromkeys(c for v in values for c in v))
    if not columns:
        return {"decimal": {}, "thousands": {}, "dayfirst": {}}
    # one block of rows per partition, each column's distinct values at the top of it;
    # where[col][position] -> (partition, file line), for the rows an error names
    blocks, where = [], {c: [] for c in columns}
    for k, part in enumerate(values):
        n = max((len(v[0]) for v in part.values()), default=0)
        block = {}
        for c in columns:
            vals, rows = part.get(c, ([], np.empty(0, dtype=np.int64)))
            block[c] = list(vals) + [None] * (n - len(vals))
            where[c] += [(k, int(r)) for r in rows] + [(k, None)] * (n - len(vals))
        blocks.append(pd.DataFrame(block, dtype=object, columns=columns))
    data = pd.concat(blocks, ignore_index=True)
    raw = SimpleNamespace(data=data, path=None, decimal=decimal, thousands=thousands,
                          dayfirst=dayfirst, file_rows=lambda: np.arange(len(data)))
    try:
        decided = decide_conventions(raw, codebook)
    except InputError as err:
        raise _in_partitions(err, files, where) from None
    numbers = [q.id for q in codebook.questions if q.type in ("numeric", "weight")]
    for c in columns:
        if c in numbers or c == codebook.weight:
            decided["decimal"].setdefault(c, ".")
            decided["thousands"].setdefault(c, ",")
    return decided


def _in_partitions(err, files, where):
    """``err`` (raised on the wave's distinct values) naming the partitions' files and lines."""
    positions = err.row if isinstance(err.row, (list, tuple)) else \
        ([err.row] if err.row is not None else [])
    lines = [where[err.column][p] for p in positions if err.column in where
             and 0 <= p < len(where[err.column])]
    parts = sorted({k for k, _ in lines})
    if len(parts) == 1:
        file, row = files[parts[0]], sorted(r for _, r in lines)
        row = row[0] if len(row) == 1 else row
        problem = err.problem
    else:
        file = Path(files[0]).parent if files else None
        row = None
        at = ", ".join(f"{Path(files[k]).name} row {r}" for k, r in lines)
        problem = err.problem + (f" (at {at})" if at else "")
    return type(err)(problem, file=file, column=err.column, row=row, fix=err.fix)


def read_partition(path, codebook, *, wave=None, file_format="auto", conventions=None,
                   raw=None):
    """Load, validate and type one partition (CSV/XLSX/SPSS/... via load_export, or Parquet).

    ``conventions``: the wave's number and date conventions (:func:`wave_conventions`);
    without them the partition decides its own, as a single export does. ``raw``: the
    partition already read (:func:`read_raw`), so the first pass's reading is reused.

    Returns ``(survey, report)``: the typed Survey and the codebook's ValidationReport
    (its issues prefixed with the partition's file name). Errors name the partition's
    file and its row, as for a single export.
    """
    import dataclasses

    from .codebook import ValidationReport
    from .survey import Survey

    path = Path(path)
    if raw is None:
        raw = read_raw(path, file_format)
    if conventions is not None:
        raw = dataclasses.replace(raw, decimal=conventions["decimal"],
                                  thousands=conventions["thousands"],
                                  dayfirst=conventions["dayfirst"])
    survey, report = Survey.read_with_report(raw, codebook, wave=wave)   # parsed once
    report = ValidationReport(issues=[dataclasses.replace(i, problem=f"{path.name}: {i.problem}")
                                      for i in report.issues])
    return survey, report


def read_partitions(files, codebook, *, wave=None, file_format="auto", **options):
    """Read every partition in this process (the local engine): ``(surveys, report)``.

    Numbers and dates are read with one convention for the whole wave
    (:func:`wave_conventions`, a first pass over every partition, whose readings are then
    typed); ``options``: ``decimal``, ``thousands``, ``dayfirst`` as
    :func:`wave_conventions` takes them.
    """
    from .codebook import ValidationReport

    files = [Path(f) for f in files]
    conventions, raws = None, [None] * len(files)
    if (len(files) > 1 or options) and _has_conventions(codebook):
        raws = [read_raw(f, file_format) for f in files]
        conventions = wave_conventions(
            files, codebook, [partition_values(r, codebook) for r in raws], **options)
    surveys, issues = [], []
    for k, f in enumerate(files):
        survey, report = read_partition(f, codebook, wave=wave, file_format=file_format,
                                        conventions=conventions, raw=raws[k])
        raws[k] = None          # each reading is let go once typed
        surveys.append(survey)
        issues += report.issues
    return surveys, ValidationReport(issues=issues)


def concat_surveys(parts, *, wave=None, source=None):
    """One Survey from the typed partitions of a wave, in partition order.

    Respondent ids must be unique across partitions (an id in two partitions is an
    error naming both files). ``file_rows`` keeps each respondent's line in its own file
    and ``partition_of`` says which file that is; ``sha256`` is a hash of the partitions'
    hashes, in order.
    """
    from .survey import Survey

    parts = list(parts)
    if not parts:
        raise InputError("no partitions to combine", fix="give at least one input file")
    if len(parts) == 1 and source is None:
        return parts[0]
    seen = {}
    for k, p in enumerate(parts):
        dup = p.data.index[in_ids(p.data.index, list(seen))] if seen else []
        if len(dup):
            rid = dup[0]
            first = parts[seen[rid]]
            raise InputError(
                f"respondent id {rid!r} occurs in two partitions: {first.source} (row "
                f"{first.file_rows.get(rid)}) and {p.source} (row {p.file_rows.get(rid)})",
                file=p.source, column="respondent id", row=p.file_rows.get(rid),
                fix="remove the duplicate rows, or give each partition distinct ids")
        seen.update(dict.fromkeys(p.data.index, k))
    data = pd.concat([p.data for p in parts], axis=0)
    file_rows = pd.concat([p.file_rows for p in parts]) if all(
        p.file_rows is not None for p in parts) else None
    missing = pd.concat([p.missing_reasons for p in parts], ignore_index=True)
    dups = pd.concat([p.duplicate_ids for p in parts], ignore_index=True)
    answered = {}
    for q in parts[0]._answered:
        if all(q in p._answered for p in parts):
            answered[q] = np.concatenate([np.asarray(p._answered[q]) for p in parts])
    h = hashlib.sha256("".join(str(p.sha256) for p in parts).encode()).hexdigest()
    out = Survey(data, parts[0].codebook, wave=wave or parts[0].wave, source=source,
                 sha256=h, format=parts[0].format, file_rows=file_rows,
                 missing_reasons=missing, duplicate_ids=dups, no_answer=answered)
    out.partition_of = pd.Series(
        np.repeat(np.arange(len(parts)), [len(p.data) for p in parts]), index=data.index,
        name="partition")
    out.partition_files = [str(p.source) for p in parts]
    return out


# ----------------------------------------------------------------------------- the cluster
@contextmanager
def _environment_kept():
    """Undo what starting a LocalCluster writes into this process's environment.

    A Dask nanny sets ``distributed.nanny.pre-spawn-environ`` (``OMP_NUM_THREADS=1``,
    ``MKL_NUM_THREADS=1``, ...) in ``os.environ`` of the process that starts it, so its
    worker processes inherit them, and never takes them back: every notebook kernel and
    subprocess started later by the same process would run single-threaded.
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def _local_cluster(n_workers):
    from distributed import LocalCluster

    n = n_workers or os.cpu_count() or 1
    with _environment_kept():
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=40)


@contextmanager
def dask_client(scheduler=None, *, n_workers=None):
    """A ``distributed.Client``: to ``scheduler`` when given, else to a new LocalCluster.

    The LocalCluster has one single-threaded worker process per core (at most
    ``n_workers``; default all cores), so numba and BLAS code is not oversubscribed.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - the dask extra is part of the install
        raise ConfigError("the Dask engine needs the 'dask' extra",
                          fix="pip install -c constraints.txt -e '.[dask]'") from None
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1]
                                                 / ".cache" / "numba"))
    if scheduler:
        client = Client(scheduler, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
        return
    with _local_cluster(n_workers) as cluster, Client(cluster, set_as_default=False) as client:
        yield client


def start_local_cluster(n_workers=None):
    """Start a LocalCluster that outlives one notebook (``personalab run`` uses it).

    Returns the cluster; its ``scheduler_address`` goes to every step. Close it when done.
    """
    return _local_cluster(n_workers)


# ----------------------------------------------------------------------------- tasks
def _task_ingest(path, codebook, wave, file_format, out_file, conventions=None, raw=None):
    import joblib

    survey, report = read_partition(path, codebook, wave=wave, file_format=file_format,
                                    conventions=conventions, raw=raw)
    joblib.dump(survey, out_file, compress=0)
    return survey, report


def ingest_partitions(client, files, codebook, *, output_dir, wave=None, file_format="auto",
                      **options):
    """Read, validate and type every partition on the workers, saving each typed partition
    to ``<output_dir>/partitions/``.

    Two passes: the workers read each partition and send its distinct number and date
    values (:func:`partition_values`), from which one convention per column is decided for
    the whole wave (:func:`wave_conventions`, which takes ``options``: ``decimal``,
    ``thousands``, ``dayfirst``); then every partition is typed with it, from the reading
    the worker kept (each file is read once).

    Returns ``(surveys, report, partition_files)`` in input order.
    """
    from .codebook import ValidationReport

    folder = Path(output_dir) / PARTITION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.joblib"):
        old.unlink()
    files = [Path(f) for f in files]
    conventions, raws = None, [None] * len(files)
    if (len(files) > 1 or options) and _has_conventions(codebook):
        # the readings stay on the workers for the second pass
        raws = [client.submit(read_raw, str(f), file_format, pure=False) for f in files]
        values = client.gather([client.submit(partition_values, r, codebook, pure=False)
                                for r in raws])
        conventions = wave_conventions(files, codebook, values, **options)
    targets = [str(folder / f"part-{k:05d}.joblib") for k in range(len(files))]
    futures = [client.submit(_task_ingest, str(f), codebook, wave, file_format, t,
                             conventions, r, pure=False)
               for f, t, r in zip(files, targets, raws)]
    done = client.gather(futures)
    del raws, futures           # the workers let the readings go
    surveys = [s for s, _ in done]
    report = ValidationReport(issues=[i for _, r in done for i in r.issues])
    return surveys, report, targets


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    share = weights / weights.sum() * total
    base = np.floor(share).astype(int)
    rest = total - base.sum()
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base


def stratified_sample(kept, size, *, strata=None, random_state=0) -> pd.Index:
    """Respondent ids of a proportional stratified sample of ``kept``.

    Strata are ``strata`` (a Series of stratum per respondent, e.g. the partition
    each came from), else ``kept.partition_of`` when present, else one stratum; each stratum gets its share of ``size`` by largest
    remainders, drawn without replacement with a seeded generator, in wave order.
    Everyone when ``size`` is at least the number of respondents.
    """
    ids = kept.data.index
    if size is None or size >= len(ids):
        return ids
    if strata is None:
        strata = getattr(kept, "partition_of", None)
    if strata is None:
        strata = pd.Series(0, index=ids)
    codes, uniques = pd.factorize(strata.reindex(ids), sort=True)
    counts = np.bincount(codes, minlength=len(uniques))
    take = np.minimum(_largest_remainder(counts.astype(float), size), counts)
    rng = np.random.default_rng(random_state)
    chosen = []
    for k in range(len(uniques)):
        pos = np.flatnonzero(codes == k)
        chosen.append(rng.choice(pos, take[k], replace=False))
    return ids[np.sort(np.concatenate(chosen))]


def _load_kept(part_file, kept_ids):
    import joblib

    survey = joblib.load(part_file)
    keep = in_ids(survey.data.index, kept_ids)
    return survey if keep.all() else survey.subset(survey.data.index[keep])


def _task_place(part_file, kept_ids, model, sample_labels):
    from .profiles import profile_statistics

    survey = _load_kept(part_file, kept_ids)
    if len(survey.data) == 0:
        return None
    placed = model.place(survey)
    labels = pd.Series(placed.labels, index=survey.data.index, name="segment")
    # respondents of the fit sample keep the labels the fit gave them (as fit does)
    own = sample_labels.reindex(survey.data.index)
    has = own.notna().to_numpy()
    if has.any():
        labels[has] = own[has].astype(int).to_numpy()
    return {"labels": labels,
            "membership": pd.DataFrame(placed.membership, index=survey.data.index),
            "embedding": pd.DataFrame(placed.embedding, index=survey.data.index),
            "weights": survey.weights(),
            "stats": profile_statistics(survey, labels)}


def _check_covers(kept_ids, found, part_files) -> None:
    """Refuse typed partitions that do not hold every kept respondent of the survey the
    step read: another ingest (another input) wrote them after that survey was saved."""
    from .artifacts import StaleArtifactError

    have = found[0].append(found[1:]) if found else pd.Index([])
    missing = kept_ids[~in_ids(kept_ids, have)]
    if len(missing):
        folder = Path(part_files[0]).parent if part_files else PARTITION_DIR
        raise StaleArtifactError(
            f"the typed partitions in {folder} do not hold {len(missing):,} of the "
            f"{len(kept_ids):,} respondents of the run's survey (e.g. {missing[0]!r}): they "
            f"were written by another ingest, of another input. Fix: run every step from "
            f"ingest (personalab run without --steps, or the notebooks in order).")


def place_partitions(client, part_files, kept_ids, model, sample_labels):
    """Place and profile every partition on the workers.

    Returns labels, membership, embedding and weights in partition order, and the merged
    profile statistics.
    """
    from .profiles import merge_profile_statistics

    kept_ids = pd.Index(kept_ids)
    model_f = client.scatter(model, broadcast=True)
    sample_f = client.scatter(sample_labels, broadcast=True)
    ids_f = client.scatter(kept_ids, broadcast=True)
    futures = [client.submit(_task_place, f, ids_f, model_f, sample_f, pure=False)
               for f in part_files]
    results = [r for r in client.gather(futures) if r is not None]
    _check_covers(kept_ids, [r["labels"].index for r in results], part_files)
    stats = merge_profile_statistics([r["stats"] for r in results])
    cat = {k: pd.concat([r[k] for r in results]) for k in ("labels", "membership",
                                                              "embedding", "weights")}
    return cat, stats


def _task_tag(part_file, kept_ids, codebook, labels):
    from .sentiment import sentiment_scores
    from .themes import tag_answers

    survey = _load_kept(part_file, kept_ids)
    if len(survey.data) == 0:
        return None
    texts = survey.text()
    wording = question_wording(survey.codebook, texts.columns)
    # one process per worker: the cluster is the parallelism. Each answer is scored with
    # its question's wording ("Nothing" to "What could we improve?" is praise)
    out = {"tags": {}, "sums": {}, "sentiment": pd.DataFrame(
        {q: _one_process(sentiment_scores, texts[q], question=wording.get(q))
         for q in texts.columns}, index=texts.index)}
    if codebook is not None:
        seg = labels.reindex(texts.index)
        for q in texts.columns:
            result = _one_process(tag_answers, texts[q], codebook)
            out["tags"][q] = result
            # unweighted, as TagResult.shares in the local engine
            out["sums"][q] = theme_share_sums(result, seg)
    return out


def _one_process(fn, *args, **kwargs):
    import inspect

    if "n_jobs" in inspect.signature(fn).parameters:
        return fn(*args, n_jobs=1, **kwargs)
    return fn(*args, **kwargs)


def theme_share_sums(result, labels, weights=None):
    """Weighted theme counts and weight totals per segment, for exact merging.

    ``sums[0] / sums[1]`` (aligned on segment) is ``result.shares(by=labels)``.
    """
    keep = result.answered.to_numpy()
    m = result.matrix[keep]
    w = pd.Series(1.0, index=m.index) if weights is None else \
        weights.reindex(result.matrix.index).astype(float)[keep]
    groups = labels.reindex(m.index)
    return (m.mul(w, axis=0).groupby(groups, sort=True).sum(),
            w.groupby(groups, sort=True).sum())


def tag_partitions(client, part_files, kept_ids, codebook, labels):
    """Tag and score every partition's open answers on the workers.

    ``codebook``: the theme codebook (None: no tagging). Sentiment scores each answer with
    its question's wording from the survey codebook, as
    ``sentiment_scores(texts[q], question=...)`` does (:func:`question_wording`).

    Returns ``{question: TagResult}`` over all partitions, the sentiment table, and
    ``{question: shares per segment}`` merged exactly from the partitions' counts.
    """
    from .themes import TagResult

    kept_ids = pd.Index(kept_ids)
    ids_f = client.scatter(kept_ids, broadcast=True)
    cb_f = client.scatter(codebook, broadcast=True)
    labels_f = client.scatter(labels, broadcast=True)
    futures = [client.submit(_task_tag, f, ids_f, cb_f, labels_f, pure=False)
               for f in part_files]
    results = [r for r in client.gather(futures) if r is not None]
    _check_covers(kept_ids, [r["sentiment"].index for r in results], part_files)
    sentiment = pd.concat([r["sentiment"] for r in results]) if results else pd.DataFrame()
    tags, shares = {}, {}
    for q in (results[0]["tags"] if results else {}):
        parts = [r["tags"][q] for r in results]
        tags[q] = TagResult(tags=pd.concat([p.tags for p in parts], ignore_index=True),
                            matrix=pd.concat([p.matrix for p in parts]),
                            answered=pd.concat([p.answered for p in parts]),
                            codebook=parts[0].codebook)
        num = den = None
        for r in results:
            a, b = r["sums"][q]
            num = a if num is None else num.add(a, fill_value=0)
            den = b if den is None else den.add(b, fill_value=0)
        shares[q] = num.div(den, axis=0).sort_index()
    return tags, sentiment, shares
