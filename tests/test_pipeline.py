"""End to end: `personalab run` on the bundled sample, as `make demo` runs it.

One real run (papermill, a fresh kernel per notebook) in a module fixture; every test reads
what it wrote. Known answers come from the sample's ground truth (planted PII) and from the
run's own tables (sizes, profiles).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from _processes import kernels_of_this_process

from personalab.artifacts import ArtifactStore
from personalab.cli import main
from personalab.personas import _num
from personalab.pii import redact
from personalab.pipeline import PipelineError, run_study

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TRUTH = ROOT / "tests" / "fixtures" / "sample_truth"

pytestmark = pytest.mark.slow


def _hashes(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "sample"
    before = _hashes(SAMPLE)
    rc = main(["run", "--config", str(SAMPLE / "study.yml"), "--output", str(out),
               "--no-progress"])
    assert rc == 0
    return {"out": out, "before": before}


def test_run_writes_report_exports_model_and_manifest(run):
    out = run["out"]
    for rel in ["index.html", "manifest.json", "model.joblib", "exclusions.csv",
                "personas/personas.json", "personas/personas.md", "personas/persona_cards.html",
                "personas/persona_quotes.csv", "personas/personas.xlsx",
                "notebooks/01_ingest.ipynb", "notebooks/05_report.ipynb"]:
        assert (out / rel).is_file(), rel
    manifest = json.loads((out / "manifest.json").read_text())
    sample = SAMPLE / "sample_wave.csv"
    assert manifest["input"]["sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert manifest["seed"] == 42 and manifest["status"] == "complete"
    assert set(manifest["timings_s"]) >= {"ingest", "segment", "quotes", "personas",
                                          "report", "total"}
    assert manifest["packages"]["pandas"] and manifest["packages"]["personalab"]


def test_segments_recover_the_planted_truth(run):
    from sklearn.metrics import adjusted_rand_score

    from personalab.artifacts import ArtifactStore

    labels = ArtifactStore(run["out"]).load("labels")
    truth = pd.read_csv(TRUTH / "sample_wave_truth.csv").set_index("ResponseId")["segment"]
    truth = truth.reindex(labels.index)
    assert truth.notna().all()
    assert adjusted_rand_score(truth, labels) >= 0.90
    assert (labels == -1).mean() < 0.10
    small = truth.value_counts().idxmin()  # the ~5% segment is found as its own persona
    found = labels[truth == small].value_counts(normalize=True)
    assert found.index[0] != -1 and found.iloc[0] >= 0.8


def test_a_run_leaves_no_kernel_heartbeat_threads_behind(run):
    """papermill's client (handed the run's kernel manager) never stopped its channels: each
    step left a heartbeat thread in the calling process (a notebook running several waves
    gathered them)."""
    import threading

    from jupyter_client.channels import HBChannel

    assert not [t for t in threading.enumerate() if isinstance(t, HBChannel) and t.is_alive()]


def test_raw_files_are_never_modified(run):
    assert _hashes(SAMPLE) == run["before"]


def test_persona_sizes_equal_the_model(run):
    from personalab.artifacts import ArtifactStore

    out = run["out"]
    labels = ArtifactStore(out).load("labels")
    doc = json.loads((out / "personas" / "personas.json").read_text())
    counts = labels[labels >= 0].value_counts()
    assert {p["segment"]: p["size"]["n"] for p in doc["personas"]} == counts.to_dict()
    html = (out / "index.html").read_text()
    for p in doc["personas"]:
        assert f"{p['size']['n']:,} respondents" in html


def test_every_persona_statement_is_backed_by_the_profile_table(run):
    out = run["out"]
    profile = pd.read_csv(out / "segment_profiles.csv")
    doc = json.loads((out / "personas" / "personas.json").read_text())
    store = ArtifactStore(out)
    themes = store.load("theme_profile")
    labels = store.load("labels")
    labels.index = labels.index.map(str)
    answers = store.load("survey").text()
    answers.index = answers.index.map(str)
    n = n_narrative = 0
    for p in doc["personas"]:
        statements = [p["headline"], p["size_statement"], p["confidence_statement"]]
        for key in ("demographics", "goals", "pain_points", "motivations", "behaviours",
                    "objections", "distinctive"):
            statements += p[key]
        for st in statements:
            assert st["evidence"], st["text"]
            for ev in st["evidence"]:
                if ev["kind"] == "profile":
                    rows = profile[(profile["segment"] == p["segment"])
                                   & (profile["variable"] == ev["variable"])]
                    assert len(rows) == 1 and rows["significant"].iloc[0], ev
                    assert rows["value"].iloc[0] == pytest.approx(ev["value"])
                    n += 1
        # the narrative: 1-3 sentences, each footnoted to a number that exists and shows it
        assert 1 <= len(p["narrative"]) <= 3
        for st in p["narrative"]:
            assert st["evidence"], st["text"]
            for ev in st["evidence"]:
                if ev["kind"] == "profile":
                    row = profile[(profile["segment"] == p["segment"])
                                  & (profile["variable"] == ev["variable"])]
                    assert len(row) == 1 and row["significant"].iloc[0], ev
                    value = row["value"].iloc[0]
                elif ev["kind"] == "theme":
                    row = themes[(themes["segment"] == p["segment"])
                                 & (themes["theme"] == ev["variable"])]
                    assert len(row) == 1 and row["over"].iloc[0], ev
                    value = row["share"].iloc[0]
                else:
                    assert ev["kind"] == "size", ev
                    value = p["size"]["weighted_share"]
                assert ev["value"] == pytest.approx(value)
                shown = (f"{value:.0%}" if ev["level"] is not None or ev["kind"] != "profile"
                         else _num(value))
                assert shown in st["text"], (shown, st["text"])
                n_narrative += 1
        # quotes are real answers of the persona's own respondents; the headline is one
        refs = [q["ref"] for q in p["quotes"]]
        for q in p["quotes"]:
            assert redact(answers.loc[q["respondent_id"], q["question"]]) == q["text"], q
            assert labels.loc[q["respondent_id"]] == p["segment"], q
        if p["headline_quote"] is not None:
            assert p["headline_quote"]["ref"] in refs
        assert 3 <= len(p["quotes"]) <= 5
    assert n > 10 and n_narrative >= len(doc["personas"])


def test_quotes_come_from_respondents_typical_of_their_persona(run, tmp_path, monkeypatch):
    """The quotes step picks among the respondents typical of each persona on the traits its
    card states (personas.typical_respondents), so drafting the personas leaves no picked
    quote out for its respondent's answers."""
    import shutil

    from personalab import quotes as quotes_module
    from personalab import steps
    from personalab.personas import typical_respondents

    store = ArtifactStore(run["out"])
    personas, labels = store.load("personas"), store.load("labels")
    _, _, kept = steps._kept(store)
    typical = typical_respondents(kept, labels, personas)
    n = 0
    for p in personas:
        assert typical[p.segment], p.name
        for q in p.quotes:
            assert str(q.respondent_id) in set(typical[p.segment]), (p.name, q.respondent_id)
            n += 1
    assert n >= 10
    # the step hands exactly those respondents to representative_quotes (on the sample most
    # members are typical, so the check above alone could pass without it)
    copy = tmp_path / "sample"
    shutil.copytree(run["out"], copy)
    seen = {}
    original = quotes_module.representative_quotes

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(quotes_module, "representative_quotes", spy)
    steps.quotes(copy, themes_path=SAMPLE / "themes.yml", seed=42)
    assert seen["eligible"] == typical
    assert sum(map(len, typical.values())) < len(labels[labels >= 0])


def test_no_planted_pii_reaches_anything_meant_for_stakeholders(run):
    pii = pd.read_csv(TRUTH / "sample_wave_pii.csv")
    out = run["out"]
    shared = [out / "index.html", *sorted((out / "personas").iterdir())]
    texts = {p.name: p.read_text(encoding="utf-8", errors="ignore") for p in shared
             if p.suffix in (".html", ".md", ".json", ".csv")}
    from plotly.offline import get_plotlyjs

    # the embedded plotly.js library is code, not respondent text (its numbers can look
    # like a planted postcode)
    texts["index.html"] = texts["index.html"].replace(get_plotlyjs(), "")
    # a lone planted first name ("Sarah") may rightly be a persona's name: look for those in
    # the quotes only; every other span (emails, phones, full names...) nowhere at all
    lone = (pii["kind"] == "person") & ~pii["text"].str.contains(" ")
    # digit boundaries: a planted ZIP code must not "match" the digits of a long float
    leaks = [(name, s) for s in pii.loc[~lone, "text"].unique()
             for name, t in texts.items()
             if re.search(rf"(?<![\d.]){re.escape(s)}(?![\d])", t)]
    doc = json.loads((out / "personas" / "personas.json").read_text())
    quotes = " ".join(q["text"] for p in doc["personas"] for q in p["quotes"])
    leaks += [("quotes", s) for s in pii.loc[lone, "text"].unique()
              if re.search(rf"\b{re.escape(s)}\b", quotes)]
    assert not leaks, leaks[:5]


def test_same_seed_gives_byte_identical_personas(run, tmp_path):
    from personalab import steps

    again = tmp_path / "again"
    shutil.copytree(run["out"] / "artifacts", again / "artifacts")
    for name in list((again / "artifacts").iterdir()):
        if name.stem not in ("survey", "quality"):
            name.unlink()
    cfg = json.loads((run["out"] / "manifest.json").read_text())["config"]
    steps.segment(again, seed=cfg["seed"], min_segment_share=cfg["min_segment_share"],
                  reducer=cfg["reducer"], clusterer=cfg["clusterer"],
                  n_neighbors=cfg["n_neighbors"])
    steps.quotes(again, themes_path=cfg["themes"], n_quotes=cfg["n_quotes"], seed=cfg["seed"])
    steps.personas(again, wave=cfg["wave"], not_a_fit=cfg["not_a_fit"], n_quotes=cfg["n_quotes"])
    first = (run["out"] / "personas" / "personas.json").read_bytes()
    assert (again / "personas" / "personas.json").read_bytes() == first


def test_report_is_safe_in_a_real_browser(run):
    from browser import assert_report_is_safe

    assert_report_is_safe(run["out"] / "index.html", min_figures=4)


def test_a_failing_notebook_is_named_with_its_cell(tmp_path):
    from personalab.config import config_from_dict

    bad = tmp_path / "codebook.yml"
    text = (SAMPLE / "codebook.yml").read_text().replace("id: Q1_1", "id: Q1_1x")
    bad.write_text(text)
    cfg = config_from_dict({"wave": "bad", "input": str(SAMPLE / "sample_wave.csv"),
                            "codebook": str(bad), "output": str(tmp_path / "out"),
                            "steps": ["ingest"]})
    cfg.steps = ["ingest", "segment"]     # the segment kernel is already started when ingest fails
    with pytest.raises(PipelineError) as err:
        run_study(cfg, progress=False, log=None)
    msg = str(err.value)
    assert "01_ingest.ipynb" in msg and "cell" in msg and "Q1_1x" in msg
    if Path("/proc").is_dir():   # and no kernel outlives the failed run
        assert kernels_of_this_process() == []



def test_a_step_kernel_is_started_ahead_with_its_imports_and_nothing_else(tmp_path):
    from jupyter_core.utils import run_sync

    from personalab.pipeline import _Kernel, notebook_for

    kernel = _Kernel("segment", None, notebook_for("segment"), tmp_path)
    kc = kernel.km.client()
    kc.start_channels()
    out = []
    try:
        run_sync(kc.wait_for_ready)(timeout=120)
        code = ("import os, sys\n"
                "print(sorted(m for m in ('umap', 'hdbscan', 'personalab.golden', 'spacy')"
                " if m in sys.modules))\n"
                "print(sorted(k for k in globals() if not k.startswith('_') and k not in "
                "('In', 'Out', 'exit', 'quit', 'get_ipython', 'open', 'os', 'sys')))\n"
                "print(os.getcwd())")
        run_sync(kc.execute_interactive)(code, timeout=60, output_hook=out.append)
    finally:
        kc.stop_channels()
        kernel.shutdown()
    lines = "".join(m["content"].get("text", "") for m in out
                    if m["msg_type"] == "stream").splitlines()
    # the segment step's modules are loaded (and not the quotes step's spaCy) ...
    assert lines[0] == "['hdbscan', 'personalab.golden', 'umap']"
    # ... without leaving a single name in the notebook's namespace, in the run's folder
    # (never inside an installed package)
    assert lines[1] == "[]"
    assert Path(lines[2]) == tmp_path
    assert not run_sync(kernel.km.is_alive)()


def test_every_module_a_kernel_preloads_exists():
    # a kernel logs a failed preload and carries on: a renamed module would only cost time
    import importlib

    from personalab.config import STEPS
    from personalab.pipeline import _PRELOAD

    assert set(_PRELOAD) == set(STEPS)
    for modules in _PRELOAD.values():
        for name in modules:
            importlib.import_module(name)


def test_stopping_a_kernel_heartbeat_leaves_another_hosts_heartbeat_running():
    """Review 3, item 6: a step's kernel stopped every heartbeat channel of the process whose
    address ended in ":<its hb port>", also one to a kernel on another host or ip with the
    same port number. Only the channel at the kernel's own heartbeat URL is stopped."""
    import threading

    from jupyter_client.channels import HBChannel
    from jupyter_client.manager import AsyncKernelManager

    from personalab.pipeline import _Kernel

    class Beat(HBChannel):          # a heartbeat thread without a socket
        def __init__(self, address):
            threading.Thread.__init__(self, daemon=True)
            self.address, self.stopped = address, threading.Event()

        def run(self):
            self.stopped.wait(30)

        def stop(self):
            self.stopped.set()

    kernel = object.__new__(_Kernel)
    kernel.km = AsyncKernelManager(transport="tcp", ip="127.0.0.1")
    kernel.km.hb_port = 54321
    ours, other, ipc = (Beat("tcp://127.0.0.1:54321"), Beat("tcp://10.1.2.3:54321"),
                        Beat("ipc://127.0.0.1:54321"))
    for t in (ours, other, ipc):
        t.start()
    try:
        kernel._stop_heartbeat()
        assert ours.stopped.is_set()
        assert not other.stopped.is_set() and not ipc.stopped.is_set()
    finally:
        for t in (ours, other, ipc):
            t.stop()
            t.join(5)
