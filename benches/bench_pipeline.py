"""Pipeline benchmark: every stage and the whole pipeline, 1,000 to 1,000,000 respondents.

For each size, on a generated wave with open text (``make_survey(n, random_state=0)``,
written as a Qualtrics export and cached in ``.cache/bench/pipe_<n>/``):

- the whole pipeline as a researcher runs it: ``personalab run ... --no-progress`` in a
  subprocess (papermill, a fresh kernel per step), with the manifest's per-step timings and
  the end to end time with and without the report step; the report's size;
- the same with ``--engine dask`` on the wave written as 4 CSV partitions (``not available``
  when the engine refuses or fails);
- every stage on its own, each in a fresh process that calls the library directly and reads
  its inputs from the pipeline run's artifacts: load + validate (the ingest step), features,
  reduce (UMAP on the fit sample and placement of everyone), cluster, the stability check,
  golden questions, profiles, tagging (themes + sentiment on both open questions), persona
  drafting (quote selection + drafts) and report rendering;
- the plain baseline beside them: ``pandas.read_csv``, umap-learn + hdbscan fitted on every
  row, a pandas ``groupby().mean()`` profile (not run above 100,000: it needed 15.9 GiB there);
- once per run, the fresh-process overhead: interpreter start, imports, a papermill kernel
  for a one-cell notebook, and the numba JIT with an empty and with a warm cache.

Seconds are wall-clock; peak MiB is the highest sum of resident memory over the process and
all its children (workers, kernels), polled every 0.1 s. Always run under the shared lock so
two people's benchmarks never overlap::

    flock .cache/bench.lock python -m benches.bench_pipeline --sizes 1000 10000 100000
    flock .cache/bench.lock python -m benches.bench_pipeline --quick     # 1k and 10k

Timings depend on the machine and its load; report both with the numbers.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK = (1_000, 10_000)
SEED = 42                 # the pipeline's default seed
N_PARTS = 4               # partitions for the Dask engine's input
PLAIN_MAX_N = 100_000     # the plain fit needed 15.9 GiB at 100,000 (benches/README.md)
PLAIN_TIMEOUT_S = 1800
CASE_TIMEOUT_S = 3600
MIN_FREE_MIB = 3072       # a case is stopped when the machine has less memory left than this

# table rows, in pipeline order: (key, label, plain key or None)
STAGES = [
    ("load", "load + validate (ingest step)", "plain_load"),
    ("features", "features (FeatureBuilder)", None),
    ("reduce", "reduce (UMAP on the fit sample + placing everyone)", "plain_reduce"),
    ("cluster", "cluster (HDBSCAN + membership)", "plain_cluster"),
    ("fit", "PersonaModel.fit (features + reduce + cluster)", None),
    ("stability", "stability check (10 refits)", None),
    ("golden", "golden questions", None),
    ("profiles", "profiles (profile_segments + segment_sizes)", "plain_profiles"),
    ("tagging", "tagging (themes + sentiment, 2 open questions)", None),
    ("personas", "persona drafting (quotes + drafts)", None),
    ("report", "report rendering (build_report)", None),
]
PIPELINE_ROWS = [
    ("run:ingest", "personalab run: ingest"),
    ("run:segment", "personalab run: segment"),
    ("run:quotes", "personalab run: quotes"),
    ("run:personas", "personalab run: personas"),
    ("run:waves", "personalab run: waves"),
    ("run:report", "personalab run: report"),
    ("run:no_report", "**end to end without the report**"),
    ("run:total", "**end to end** (whole process)"),
    ("run:html_mb", "report index.html (MB)"),
    ("dask:no_report", "Dask engine, 4 partitions: end to end without the report"),
    ("dask:total", "Dask engine, 4 partitions: end to end"),
]


# --------------------------------------------------------------------------- memory
def _tree(proc) -> list:
    """The process and all its descendants (empty once it has exited)."""
    import psutil

    try:
        return [proc] + proc.children(recursive=True)
    except psutil.Error:
        return []


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _tree_pss(proc) -> int:
    """Proportional set size summed over the process and its children: shared pages (the
    libraries every Python process maps, joblib's memmapped arrays) are split between the
    processes that share them instead of counted once per process as RSS does. The sum is
    the memory the tree really holds. 0 where /proc/<pid>/smaps_rollup is not available."""
    total = 0
    for p in _tree(proc):
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as fh:
                total += next(int(ln.split()[1]) for ln in fh if ln.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            continue
    return total


class Meter:
    """Wall seconds and peak tree memory per named stage, inside a worker process."""

    def __init__(self, interval=0.1):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.active: list[str] = []
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _note(self, rss):
        for s in list(self.active):
            self.peak[s] = max(self.peak.get(s, 0), rss)

    def _poll(self):
        while not self._stop.wait(self.interval):
            if self.active:
                self._note(_tree_rss(self.proc))

    @contextlib.contextmanager
    def __call__(self, stage):
        self.active.append(stage)
        self._note(_tree_rss(self.proc))
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0
            self._note(_tree_rss(self.proc))
            self.active.remove(stage)

    def row(self, key, **extra):
        return {"key": key, "seconds": round(self.seconds[key], 2),
                "peak_mib": round(self.peak.get(key, 0) / 2**20), **extra}


def run_monitored(cmd, *, timeout, env=None, cwd=ROOT, interval=0.1, pss=None):
    """Run ``cmd``; return (rc, wall seconds, peak tree MiB, stdout, stderr, why stopped).

    The peak is of RSS summed over the process tree. Pass a dict as ``pss`` to also get the
    peak of PSS summed over the tree (``pss["peak_mib"]``), polled every second, the
    samples (``pss["timeline"]``: seconds, RSS MiB, PSS MiB or None) and when the first
    Jupyter kernel appeared (``pss["first_kernel_s"]``: the start of a run's first step).
    """
    import psutil

    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, text=True,
                             start_new_session=True)
        proc, peak, why = psutil.Process(p.pid), 0, None
        peak_pss, next_pss = 0, 0.0
        if pss is not None:
            pss["timeline"], pss["first_kernel_s"] = [], None
        while p.poll() is None:
            rss = _tree_rss(proc)
            peak = max(peak, rss)
            if pss is not None:
                now_pss = None
                if time.perf_counter() >= next_pss:
                    now_pss = _tree_pss(proc)
                    peak_pss = max(peak_pss, now_pss)
                    next_pss = time.perf_counter() + 1.0
                    pss["peak_mib"] = round(peak_pss / 2**20)
                t = time.perf_counter() - t0
                pss["timeline"].append((round(t, 2), round(rss / 2**20),
                                        None if now_pss is None else round(now_pss / 2**20)))
                if pss["first_kernel_s"] is None and _has_kernel(proc):
                    pss["first_kernel_s"] = round(t, 2)
            if time.perf_counter() - t0 > timeout:
                why = f"stopped after the {timeout:,} s time limit"
            elif psutil.virtual_memory().available < MIN_FREE_MIB * 2**20:
                why = f"stopped at {peak / 2**30:.1f} GiB: the machine ran short of memory"
            if why:
                _kill_tree(proc)
                p.wait()
                break
            time.sleep(interval)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return p.returncode, wall, round(peak / 2**20), out.read(), err.read(), why


def _has_kernel(proc) -> bool:
    import psutil

    for c in _tree(proc)[1:]:
        with contextlib.suppress(psutil.Error):
            if any("ipykernel" in a for a in c.cmdline()):
                return True
    return False


def step_peaks(timeline, first_kernel_s, timings, steps) -> dict:
    """Peak summed RSS and PSS (MiB) while each step ran: steps run one after the other from
    the first kernel's appearance, for the durations the run's manifest recorded."""
    out, start = {}, first_kernel_s
    if start is None:
        return out
    for step in steps:
        if step not in timings:
            continue
        end = start + timings[step]
        inside = [(r, p) for t, r, p in timeline if start <= t <= end]
        out[step] = {"peak_mib": max((r for r, _ in inside), default=None),
                     "peak_pss_mib": max((p for _, p in inside if p is not None),
                                         default=None)}
        start = end
    return out


def _kill_tree(proc):
    import psutil

    with contextlib.suppress(psutil.Error):
        for c in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c.kill()
        proc.kill()


def _env(**extra):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **extra}
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    return env


# --------------------------------------------------------------------------- data
def data_dir(n) -> Path:
    return CACHE / f"pipe_{n}"


def _generate(n):
    """Write wave.csv, codebook.yml, themes.yml, truth.csv for ``n`` respondents."""
    from personalab.datasets import codebook_yaml, make_survey, themes_yaml, write_qualtrics_csv

    out = data_dir(n)
    out.mkdir(parents=True, exist_ok=True)
    w = make_survey(n, random_state=0)
    (out / "codebook.yml").write_text(codebook_yaml(w.codebook))
    (out / "themes.yml").write_text(themes_yaml(w.themes))
    w.truth.to_csv(out / "truth.csv", index=False)
    tmp = write_qualtrics_csv(w, out / "wave.csv.part")
    tmp.replace(out / "wave.csv")       # last: a wave.csv on disk is a complete one


def ensure_data(n):
    d = data_dir(n)
    if not all((d / f).exists() for f in ("wave.csv", "codebook.yml", "themes.yml")):
        print(f"  generating {n:,} respondents into {d} (once; cached)", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benches.bench_pipeline", "--generate", str(n)],
                       check=True, cwd=ROOT, env=_env())
        print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return d


def ensure_parts(n, n_parts=N_PARTS) -> str:
    """The wave as ``n_parts`` CSV files, each with the export's three header rows."""
    parts = data_dir(n) / "parts"
    done = parts / ".complete"
    if not done.exists():
        shutil.rmtree(parts, ignore_errors=True)
        parts.mkdir(parents=True)
        per = math.ceil(n / n_parts)
        with open(data_dir(n) / "wave.csv", encoding="utf-8-sig", newline="") as f:
            rows = csv.reader(f)    # the csv module keeps multi-line answers in one record
            header = [next(rows) for _ in range(3)]
            for i in range(n_parts):
                with open(parts / f"part-{i:04d}.csv", "w", encoding="utf-8-sig",
                          newline="") as g:
                    w = csv.writer(g, lineterminator="\n")
                    w.writerows(header)
                    for _, row in zip(range(per) if i < n_parts - 1 else iter(int, 1), rows):
                        w.writerow(row)
        done.touch()
    return str(parts / "part-*.csv")


# --------------------------------------------------------------------------- workers
def _emit(row):
    print(json.dumps(row), flush=True)


def _kept(run_dir):
    from personalab.artifacts import ArtifactStore

    store = ArtifactStore(run_dir)
    survey, quality = store.load("survey"), store.load("quality")
    return store, quality, quality.apply(survey)


def _instrument(meter):
    """Time PersonaModel.fit's features, reduce and cluster parts as a pipeline fit runs them.

    Wraps private methods (the bench's business only); returns a function that undoes it,
    or None when PersonaModel no longer has them (then only the whole fit is timed).
    """
    import personalab.segmentation as seg

    PM = seg.PersonaModel
    names = ["_encode", "_make_reducer", "_fit_clusterer", "_membership"]
    if not all(hasattr(PM, a) for a in names) or not hasattr(seg, "_knn_assign"):
        return None
    saved = {a: getattr(PM, a) for a in names}
    saved_assign = seg._knn_assign
    made = []

    def timed(fn, stage):
        def wrapper(*a, **k):
            with meter(stage):
                return fn(*a, **k)
        return wrapper

    def make_reducer(self, *a, **k):
        reducer = saved["_make_reducer"](self, *a, **k)
        reducer.fit_transform = timed(reducer.fit_transform, "reduce")
        made.append(reducer)
        return reducer

    PM._encode = timed(saved["_encode"], "features")
    PM._make_reducer = make_reducer
    PM._fit_clusterer = timed(saved["_fit_clusterer"], "cluster")
    PM._membership = timed(saved["_membership"], "cluster")
    seg._knn_assign = timed(saved_assign, "reduce")     # placing everyone outside the sample

    def undo():
        for a, fn in saved.items():
            setattr(PM, a, fn)
        seg._knn_assign = saved_assign
        for r in made:
            vars(r).pop("fit_transform", None)
    return undo


def worker(case, n, run_dir):
    meter = Meter()
    d = data_dir(n)
    run_dir = Path(run_dir)
    if case == "load":
        from personalab import steps

        out = Path(tempfile.mkdtemp(prefix="ingest_", dir=d))
        try:
            with meter("load"):
                steps.ingest(d / "wave.csv", output_dir=out, codebook_path=d / "codebook.yml")
        finally:
            shutil.rmtree(out, ignore_errors=True)
        _emit(meter.row("load"))
    elif case == "segment":
        from personalab.diagnostics import stability
        from personalab.golden import golden_questions
        from personalab.segmentation import PersonaModel

        _, _, kept = _kept(run_dir)
        model = PersonaModel(reducer="umap", clusterer="hdbscan", min_segment_share=0.05,
                             random_state=SEED)
        undo = _instrument(meter)
        with meter("fit"):
            model.fit(kept, sample_weight=kept.weights().to_numpy())
        if undo:
            undo()
            for key in ("features", "reduce", "cluster"):
                _emit(meter.row(key))
        _emit(meter.row("fit", n_segments=int(model.n_segments_)))
        with meter("stability"):
            stab = stability(model, kept, n_boot=10, random_state=SEED)
        _emit(meter.row("stability", mean_ari=round(stab.mean_ari, 3)))
        import pandas as pd

        labels = pd.Series(model.labels_, index=kept.data.index)
        assigned = labels[labels >= 0]
        with meter("golden"):
            gq = golden_questions(kept.subset(assigned.index), assigned, random_state=SEED)
        _emit(meter.row("golden", accuracy=round(gq.accuracy_, 3)))
    elif case == "profiles":
        from personalab.profiles import profile_segments, segment_sizes

        store, _, kept = _kept(run_dir)
        labels = store.load("labels")
        with meter("profiles"):
            profile_segments(kept, labels)
            segment_sizes(labels.to_numpy(), kept.weights().to_numpy())
        _emit(meter.row("profiles"))
    elif case == "tagging":
        from personalab.sentiment import sentiment_scores
        from personalab.themes import load_themes, tag_answers

        _, _, kept = _kept(run_dir)
        texts = kept.text()
        with meter("tagging"):
            codebook = load_themes(d / "themes.yml")
            for q in texts.columns:
                tag_answers(texts[q], codebook)
                sentiment_scores(texts[q])
        _emit(meter.row("tagging", answers=int(texts.notna().sum().sum())))
    elif case == "personas":
        from personalab.personas import draft_personas
        from personalab.quotes import representative_quotes

        store, quality, kept = _kept(run_dir)
        labels, tags = store.load("labels"), store.load("tags")
        embedding, sentiment = store.load("embedding"), store.load("sentiment")
        profile, sizes, stab = store.load("profile"), store.load("sizes"), store.load("stability")
        theme_profile = store.load("theme_profile") if store.has("theme_profile") else None
        theme_info = store.load("theme_info") if store.has("theme_info") else {}
        flags = quality.flags
        flagged = set(flags["respondent_id"].astype(str)) if len(flags) else set()
        stab_by_seg = None
        if stab is not None:
            seg = stab.segments
            stab_by_seg = {int(s): float(v) for s, v in zip(seg.index, seg["jaccard_mean"])}
        with meter("personas"):
            quotes = representative_quotes(
                kept.text(), labels, n=5, embedding=embedding,
                tag_matrix={q: t.matrix for q, t in tags.items()} or None, sentiment=sentiment,
                exclude_ids=quality.exclusions, flagged_ids=flagged, redact=True,
                random_state=SEED)
            draft_personas(kept, labels, profile, sizes, quotes=quotes,
                           theme_profile=theme_profile, theme_info=theme_info,
                           stability=stab_by_seg, unassigned_share=float((labels == -1).mean()),
                           n_quotes=5)
        _emit(meter.row("personas"))
    elif case == "report":
        from personalab import steps

        with meter("report"):
            html = steps.report(run_dir, wave=f"bench_{n}", seed=SEED)
        _emit(meter.row("report", html_mb=round(Path(html).stat().st_size / 1e6, 2)))
    elif case == "plain":
        _plain(meter, n, run_dir)
    else:
        raise SystemExit(f"unknown case {case!r}")


def _plain(meter, n, run_dir):
    """What a researcher would write without PersonaLab, on the same wave and features."""
    import numpy as np
    import pandas as pd

    d = data_dir(n)
    with meter("plain_load"):
        # rows 2-3 of a Qualtrics export are question texts and import ids
        pd.read_csv(d / "wave.csv", skiprows=[1, 2], low_memory=False)
    _emit(meter.row("plain_load"))
    from personalab.features import FeatureBuilder

    _, _, kept = _kept(run_dir)       # the same features PersonaModel sees (setup, untimed)
    F = np.asarray(FeatureBuilder().fit_transform(kept), dtype=float)
    with meter("plain_reduce"):
        import umap

        emb = umap.UMAP(n_components=5, min_dist=0.0, random_state=0).fit_transform(F)
    _emit(meter.row("plain_reduce"))
    with meter("plain_cluster"):
        import hdbscan

        labels = hdbscan.HDBSCAN(min_cluster_size=max(5, int(0.05 * len(F)))).fit(emb).labels_
    _emit(meter.row("plain_cluster", n_segments=int(len(set(labels) - {-1}))))
    with meter("plain_profiles"):
        numeric = kept.data.select_dtypes("number")
        numeric.groupby(labels).mean()
        pd.Series(labels).value_counts(normalize=True)
    _emit(meter.row("plain_profiles"))


# --------------------------------------------------------------------------- overhead
_TRIVIAL_NB = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "x = 1",
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "metadata": {}, "source": "x + 1", "outputs": [],
         "execution_count": None},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}

_JIT_FIT = (
    "import time, numpy as np; t = time.perf_counter()\n"
    "from personalab.segmentation import PersonaModel\n"
    "rng = np.random.default_rng(0)\n"
    "X = np.vstack([rng.normal(c, 1, size=(500, 10)) for c in (0, 6, 12)])\n"
    "PersonaModel(random_state=0).fit(X)\n"
    "print(round(time.perf_counter() - t, 2))\n"
)


def overhead():
    """Seconds a fresh process spends before doing any work."""
    py = sys.executable
    rows = []

    def timed(key, label, code, env=None):
        rc, wall, peak, out, err, _ = run_monitored([py, "-c", code], timeout=900,
                                                    env=env or _env())
        rows.append({"key": key, "label": label, "seconds": round(wall, 2), "peak_mib": peak,
                     "error": None if rc == 0 else err.strip().splitlines()[-1:]})
        return out

    timed("python", "python -c pass (interpreter start)", "pass")
    timed("import", "import personalab.segmentation, diagnostics, golden, profiles, steps",
          "import personalab.segmentation, personalab.diagnostics, personalab.golden, "
          "personalab.profiles, personalab.steps")
    timed("import_umap", "... and umap-learn + hdbscan as the segment step loads them",
          "from personalab.segmentation import _import_umap, _import_hdbscan; "
          "_import_umap(); _import_hdbscan()")
    with tempfile.TemporaryDirectory() as tmp:
        nb = Path(tmp) / "trivial.ipynb"
        nb.write_text(json.dumps(_TRIVIAL_NB))
        timed("papermill", "papermill: one-cell notebook in a fresh kernel (incl. import papermill)",
              "import papermill; papermill.execute_notebook("
              f"{str(nb)!r}, {str(Path(tmp) / 'out.ipynb')!r}, parameters={{'x': 2}}, "
              "progress_bar=False, log_output=False)")
    with tempfile.TemporaryDirectory() as cold:
        timed("jit_cold", "PersonaModel fit, 1,500 x 10, empty NUMBA_CACHE_DIR (JIT compiles)",
              _JIT_FIT, env=_env(NUMBA_CACHE_DIR=cold))
    timed("jit_warm", "PersonaModel fit, 1,500 x 10, warm NUMBA_CACHE_DIR (cached code)",
          _JIT_FIT)
    return rows


# --------------------------------------------------------------------------- runner
def _run_cli(n, out, *, engine="local", timeout=CASE_TIMEOUT_S):
    d = data_dir(n)
    inp = ensure_parts(n) if engine == "dask" else str(d / "wave.csv")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(Path(sys.executable).with_name("personalab")), "run", "--wave", f"bench_{n}",
           "--input", inp, "--codebook", str(d / "codebook.yml"), "--themes",
           str(d / "themes.yml"), "--output", str(out), "--no-progress"]
    if engine != "local":
        cmd += ["--engine", engine]
    pss = {}
    rc, wall, peak, _, err, why = run_monitored(cmd, timeout=timeout, env=_env(), pss=pss)
    res = {"rc": rc, "wall": round(wall, 1), "peak_mib": peak, "why": why,
           "peak_pss_mib": pss.get("peak_mib")}
    manifest = Path(out) / "manifest.json"
    if rc == 0 and manifest.exists():
        meta = json.loads(manifest.read_text())
        res["timings"] = meta.get("timings_s", {})
        res["step_peaks"] = step_peaks(pss.get("timeline", []), pss.get("first_kernel_s"),
                                       res["timings"], meta.get("steps", []))
        html = Path(out) / "index.html"
        res["html_mb"] = round(html.stat().st_size / 1e6, 2) if html.exists() else None
    else:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        res["error"] = why or (lines[-1][:200] if lines else f"exit {rc}")
    return res


def _run_worker(case, n, run_dir, timeout=CASE_TIMEOUT_S):
    cmd = [sys.executable, "-m", "benches.bench_pipeline", "--worker", case, str(n), str(run_dir)]
    rc, wall, peak, out, err, why = run_monitored(cmd, timeout=timeout, env=_env())
    rows = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    for r in rows:
        r["process_seconds"] = round(wall, 1)
    if rc != 0 or why:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        rows.append({"key": f"{case}:error", "error": why or (lines[-1][:200] if lines else
                                                               f"exit {rc}")})
    return rows


def run(sizes, *, plain=True, dask=True, keep=False, overhead_cases=True):
    results = {"sizes": list(sizes), "by_size": {}, "overhead": []}
    if overhead_cases:
        print("fresh-process overhead ...", flush=True)
        results["overhead"] = overhead()
        for r in results["overhead"]:
            print(f"  {r['label']}: {r['seconds']} s, {r['peak_mib']} MiB", flush=True)
    for n in sizes:
        print(f"\n{n:,} respondents", flush=True)
        ensure_data(n)
        res = results["by_size"][n] = {"cells": {}, "errors": []}
        run_dir = data_dir(n) / "run"
        t0 = time.perf_counter()
        cli = _run_cli(n, run_dir)
        res["pipeline"] = cli
        print(f"  personalab run: {cli.get('timings') or cli.get('error')} "
              f"(peak {cli['peak_mib']:,} MiB)", flush=True)
        if cli.get("step_peaks"):
            print("  peak MiB by step (summed RSS / PSS): " + ", ".join(
                f"{k} {v['peak_mib']} / {v['peak_pss_mib']}"
                for k, v in cli["step_peaks"].items()), flush=True)
        if cli["rc"] == 0:
            for case in ("load", "segment", "profiles", "tagging", "personas", "report"):
                for r in _run_worker(case, n, run_dir):
                    _record(res, r)
        else:
            res["errors"].append(f"stages not run: personalab run failed ({cli.get('error')})")
        if dask:
            dres = _run_cli(n, data_dir(n) / "run_dask", engine="dask")
            res["dask"] = dres
            print(f"  --engine dask: {dres.get('timings') or dres.get('error')}", flush=True)
            if not keep:
                shutil.rmtree(data_dir(n) / "run_dask", ignore_errors=True)
        if plain and n <= PLAIN_MAX_N and cli["rc"] == 0:
            for r in _run_worker("plain", n, run_dir, timeout=PLAIN_TIMEOUT_S):
                _record(res, r)
        elif plain and n > PLAIN_MAX_N:
            res["plain_skipped"] = (f"not run: the plain fit on every row needed 15.9 GiB at "
                                    f"100,000 respondents; {n:,} exceeds this machine's memory")
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        print(f"  ({time.perf_counter() - t0:.0f} s for this size)", flush=True)
    return results


def _record(res, r):
    if "error" in r:
        res["errors"].append(f"{r['key']}: {r['error']}")
        print(f"  {r['key']}: {r['error']}", flush=True)
        return
    res["cells"][r["key"]] = r
    print(f"  {r['key']}: {r['seconds']} s, {r['peak_mib']:,} MiB", flush=True)


# --------------------------------------------------------------------------- table
def _cell(r):
    if r is None:
        return "—"
    return f"{r['seconds']:,.1f} s / {r['peak_mib']:,} MiB"


def table(results) -> str:
    sizes = results["sizes"]
    head = "| stage | " + " | ".join(f"{n:,} | plain" for n in sizes) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(sizes)]
    by = {n: results["by_size"].get(n, {"cells": {}}) for n in sizes}

    for key, label, plain_key in STAGES:
        cells = []
        for n in sizes:
            c = by[n]["cells"]
            cells.append(_cell(c.get(key)))
            if plain_key is None:
                cells.append("")
            elif n > PLAIN_MAX_N:
                cells.append("not run")
            else:
                cells.append(_cell(c.get(plain_key)))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, label in PIPELINE_ROWS:
        cells = []
        for n in sizes:
            which, what = key.split(":")
            run = by[n].get("pipeline" if which == "run" else which)
            cells += [_run_cell(run, what), ""]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _run_cell(run, what):
    if run is None:
        return "—"
    if "timings" not in run:
        return "not available" if what != "html_mb" else "—"
    t = run["timings"]
    if what == "html_mb":
        return f"{run.get('html_mb')}"
    if what == "total":
        return f"{run['wall']:,.1f} s / {run['peak_mib']:,} MiB"
    if what == "no_report":
        return f"{t['total'] - t.get('report', 0):,.1f} s"
    return f"{t[what]:,.1f} s" if what in t else "—"


def overhead_table(rows) -> str:
    lines = ["| fresh process | seconds | peak MiB |", "|---|---:|---:|"]
    for r in rows:
        s = f"{r['seconds']:.1f}" if not r.get("error") else f"failed: {r['error']}"
        lines.append(f"| {r['label']} | {s} | {r['peak_mib']:,} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--quick", action="store_true", help="1,000 and 10,000 only")
    p.add_argument("--skip-plain", action="store_true", help="no plain baseline")
    p.add_argument("--skip-dask", action="store_true", help="no Dask engine run")
    p.add_argument("--skip-overhead", action="store_true", help="no fresh-process overhead")
    p.add_argument("--keep", action="store_true", help="keep the run folders in .cache/bench")
    p.add_argument("--json", type=Path, default=CACHE / "pipeline_results.json",
                   help="where to write every measurement")
    p.add_argument("--table-from", type=Path, nargs="+", metavar="JSON",
                   help="print the table from earlier runs' JSON files (later files win)")
    p.add_argument("--worker", nargs=3, metavar=("CASE", "N", "RUN_DIR"), help=argparse.SUPPRESS)
    p.add_argument("--generate", type=int, metavar="N", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate:
        _generate(args.generate)
        return
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return
    if args.table_from:
        merged = {"sizes": [], "by_size": {}, "overhead": []}
        for f in args.table_from:
            r = json.loads(f.read_text())
            merged["by_size"].update({int(n): v for n, v in r["by_size"].items()})
            merged["overhead"] = r.get("overhead") or merged["overhead"]
        merged["sizes"] = sorted(merged["by_size"])
        print(table(merged))
        if merged["overhead"]:
            print()
            print(overhead_table(merged["overhead"]))
        return
    sizes = list(QUICK) if args.quick else args.sizes
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; NUMBA_CACHE_DIR={_env()['NUMBA_CACHE_DIR']}", flush=True)
    results = run(sizes, plain=not args.skip_plain, dask=not args.skip_dask, keep=args.keep,
                  overhead_cases=not args.skip_overhead)
    results["load_average_before"] = load
    results["load_average_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str))
    print("\nseconds / peak MiB (process and children); plain baseline beside\n")
    print(table(results))
    for n in sizes:
        res = results["by_size"][n]
        for e in res["errors"] + ([res["plain_skipped"]] if "plain_skipped" in res else []):
            print(f"- {n:,}: {e}")
    if results["overhead"]:
        print()
        print(overhead_table(results["overhead"]))
    la = results["load_average_after"]
    print(f"\nload average after: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; all figures in {args.json}")


if __name__ == "__main__":
    main()
