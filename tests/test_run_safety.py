"""A run never loses or mixes another run, and stops with one clear line.

The folder checks run before any kernel starts, on folders laid out as a finished run leaves
them. The failure cases (a PersonaLab error inside a step, a killed kernel, Ctrl-C) swap the
segment step's notebook for a small one that fails the same way, after the real ingest step.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import nbformat
import pytest

from _processes import kernels_of_this_process

from personalab import pipeline
from personalab.artifacts import ArtifactStore, StaleArtifactError
from personalab.cli import main
from personalab.config import config_from_dict
from personalab.errors import ConfigError
from personalab.pipeline import LOCK_FILE, RunLockedError, file_sha256, run_study

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
WAVE1, WAVE2 = SAMPLE / "sample_wave.csv", SAMPLE / "wave2.csv"


def _config(out, **values):
    base = {"wave": "w1", "input": str(WAVE1), "codebook": str(SAMPLE / "codebook.yml"),
            "output": str(out), "steps": ["ingest"]}
    return config_from_dict({**base, **values})


def _finished_run(folder: Path, *, wave="w1", input=WAVE1, status="complete") -> Path:
    """A folder as a finished run leaves it: manifest.json, artifacts/, a report."""
    (folder / "artifacts").mkdir(parents=True)
    (folder / "index.html").write_text("<html>the earlier run's report</html>")
    (folder / "manifest.json").write_text(json.dumps({
        "wave": wave, "status": status,
        "input": {"path": str(input), "sha256": file_sha256(input)}}))
    return folder


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != LOCK_FILE}


# ----------------------------------------------------------------------- folder checks
def test_a_run_never_writes_into_its_baseline(tmp_path):
    base = _finished_run(tmp_path / "reports" / "sample")
    before = _snapshot(base)
    for out in (base, base / "wave2"):
        cfg = _config(out, baseline=str(base), wave="wave2", input=str(WAVE2),
                      steps=["ingest", "segment", "quotes", "personas", "waves", "report"])
        with pytest.raises(ConfigError, match="never writes into the run it compares with"):
            run_study(cfg, progress=False, log=None)
    assert _snapshot(base) == before


def test_the_readme_wave_command_writes_wave2_beside_its_baseline(tmp_path, monkeypatch,
                                                                   capsys):
    # the README's command: the config's output (reports/sample) is the baseline
    monkeypatch.chdir(tmp_path)
    base = _finished_run(tmp_path / "reports" / "sample", wave="sample")
    monkeypatch.setattr(pipeline, "_run", lambda config, out, *a: out)   # no kernels
    from personalab.config import load_config

    cfg = load_config(SAMPLE / "study.yml", baseline="reports/sample", input=str(WAVE2),
                      wave="wave2")
    assert Path(cfg.output) == Path("reports/wave2")
    assert run_study(cfg, progress=False, log=None) == tmp_path / "reports" / "wave2"
    assert json.loads((base / "manifest.json").read_text())["wave"] == "sample"


@pytest.mark.parametrize("change", [{"wave": "w2"}, {"input": str(WAVE2)}],
                         ids=["another wave", "another input"])
def test_the_run_of_another_wave_or_input_is_replaced_only_with_overwrite(tmp_path, change,
                                                                          monkeypatch):
    out = _finished_run(tmp_path / "out")
    before = _snapshot(out)
    cfg = _config(out, **change)
    with pytest.raises(ConfigError, match="--overwrite to replace that run") as err:
        run_study(cfg, progress=False, log=None)
    assert "wave 'w1' read from" in str(err.value)
    assert _snapshot(out) == before
    # with overwrite the earlier run is cleared before the new one starts
    monkeypatch.setattr(pipeline, "_run", lambda config, out, *a: out)
    run_study(cfg, progress=False, log=None, overwrite=True)
    assert not (out / "index.html").exists() and not (out / "manifest.json").exists()


def test_later_steps_never_continue_the_run_of_another_input(tmp_path):
    out = _finished_run(tmp_path / "out")
    cfg = _config(out, input=str(WAVE2), steps=["report"])
    with pytest.raises(ConfigError, match="cannot continue it"):
        run_study(cfg, progress=False, log=None, overwrite=True)


def test_a_folder_that_holds_no_run_is_not_written_into(tmp_path):
    out = tmp_path / "my-project"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no PersonaLab run"):
        run_study(_config(out), progress=False, log=None)
    with pytest.raises(ConfigError, match="holds no earlier run"):
        run_study(_config(tmp_path / "new", steps=["report"]), progress=False, log=None)


def test_a_baseline_that_did_not_complete_is_refused(tmp_path):
    base = _finished_run(tmp_path / "base", status="failed")
    cfg = _config(tmp_path / "out", baseline=str(base), wave="w2", input=str(WAVE2),
                  steps=["ingest", "segment", "quotes", "personas", "waves", "report"])
    with pytest.raises(ConfigError, match="did not complete"):
        run_study(cfg, progress=False, log=None)


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK_FILE, "w") as held:
        held.write("pid 1, started earlier")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunLockedError, match="pid 1, started earlier"):
            run_study(_config(out), progress=False, log=None)
        rc = main(["run", "--wave", "w1", "--input", str(WAVE1), "--output", str(out),
                   "--steps", "ingest", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "is writing" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_output_folder_that_cannot_be_written_is_one_clear_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    rc = main(["run", "--wave", "w1", "--input", str(WAVE1), "--output",
               str(blocker / "out"), "--steps", "ingest", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write to the output folder" in err and "--output" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ----------------------------------------------------------------------- artifacts
class _Survey:
    def __init__(self, source):
        self.source, self.wave, self.sha256 = source, "w", None


def test_artifacts_of_an_earlier_run_are_refused(tmp_path):
    store = ArtifactStore(tmp_path)
    for name, obj in [("partitions", {}), ("survey", _Survey("wave1.csv")), ("quality", 1),
                      ("labels", [0, 1]), ("personas", ["old persona"])]:
        store.save(name, obj)
    assert store.load("personas") == ["old persona"]
    # the ingest step runs again (on another export): a new run starts in the folder
    store.save("partitions", {})
    store.save("survey", _Survey("wave2.csv"))
    assert store.load("survey").source == "wave2.csv"
    with pytest.raises(StaleArtifactError, match="belongs to an earlier run") as err:
        store.load("personas")
    assert "wave2.csv" in str(err.value)
    store.save("personas", ["new persona"])       # once its step runs again it is current
    assert store.load("personas") == ["new persona"]


def test_an_artifact_copied_in_by_hand_is_read(tmp_path):
    import joblib

    store = ArtifactStore(tmp_path)
    store.save("survey", _Survey("wave1.csv"))
    joblib.dump({"k": 1}, store.path("labels"))
    assert store.load("labels") == {"k": 1}


# ----------------------------------------------------------------------- runs (kernels)
def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell('output_dir = ""  # the run\'s output folder')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(path))
    return path


def _segment_fails_with(monkeypatch, tmp_path, code):
    fake = _notebook(tmp_path / "02_segment.ipynb", code)
    real = pipeline.notebook_for
    monkeypatch.setattr(pipeline, "notebook_for",
                        lambda step: fake if step == "segment" else real(step))


def _run_cli(out, *steps):
    return main(["run", "--wave", "w1", "--input", str(WAVE1), "--codebook",
                 str(SAMPLE / "codebook.yml"), "--output", str(out), "--steps", *steps,
                 "--no-progress"])


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
def test_a_personalab_error_in_a_step_is_one_line_pointing_at_the_quality_report(
        tmp_path, monkeypatch, capsys):
    _segment_fails_with(monkeypatch, tmp_path, (
        "from personalab.errors import InputError\n"
        "raise InputError('too few respondents to segment', file='wave.csv', row=[4, 5],\n"
        "                 fix='collect more responses')"))
    out = tmp_path / "out"
    assert _run_cli(out, "ingest", "segment") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "step 'segment' failed" in err and "too few respondents to segment" in err
    assert "rows 4, 5" in err and "Fix: collect more responses" in err
    assert str(out / "quality_flags.csv") in err and (out / "quality_flags.csv").is_file()
    m = _manifest(out)
    assert m["status"] == "failed" and m["failed_step"] == "segment"


@pytest.mark.slow
def test_a_killed_kernel_is_one_line_and_a_rerun_works(tmp_path, monkeypatch, capsys):
    _segment_fails_with(monkeypatch, tmp_path,
                        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    out = tmp_path / "out"
    assert _run_cli(out, "ingest", "segment") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "step 'segment' failed" in err and "died" in err
    assert _manifest(out)["status"] == "failed"
    assert kernels_of_this_process() == []
    assert _run_cli(out, "ingest") == 0
    assert _manifest(out)["status"] == "complete"


@pytest.mark.slow
def test_ctrl_c_stops_the_run_with_one_line_and_a_rerun_works(tmp_path, monkeypatch, capsys):
    # the step's kernel sends Ctrl-C's signal to the run, as a terminal would
    _segment_fails_with(monkeypatch, tmp_path,
                        "import os, signal, time\nos.kill(os.getppid(), signal.SIGINT)\n"
                        "time.sleep(60)")
    out = tmp_path / "out"
    assert _run_cli(out, "ingest", "segment") == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "interrupted (Ctrl-C) during step 'segment'" in err
    m = _manifest(out)
    assert m["status"] == "interrupted" and m["failed_step"] == "segment"
    assert kernels_of_this_process() == []
    assert _run_cli(out, "ingest") == 0
    assert _manifest(out)["status"] == "complete"


@pytest.mark.slow
def test_a_rerun_leaves_nothing_of_the_run_before(tmp_path):
    out = _finished_run(tmp_path / "out")
    (out / "personas").mkdir()
    (out / "personas" / "personas.json").write_text("{}")
    (out / "wave_sizes.csv").write_text("old")
    (out / "codebook_draft.yml").write_text("# edited by hand")
    ArtifactStore(out).save("wave_comparison", "old comparison")
    run_study(_config(out), progress=False, log=None)
    assert not (out / "personas").exists() and not (out / "wave_sizes.csv").exists()
    assert not (out / "index.html").exists()
    assert not ArtifactStore(out).has("wave_comparison") and ArtifactStore(out).has("survey")
    assert (out / "codebook_draft.yml").read_text() == "# edited by hand"
    assert _manifest(out)["status"] == "complete"
    # the waves step without a baseline leaves no "What changed" section behind
    ArtifactStore(out).save("wave_comparison", "a comparison")
    (out / "wave_sizes.csv").write_text("sizes")
    run_study(_config(out, steps=["waves"]), progress=False, log=None)
    assert not ArtifactStore(out).has("wave_comparison")
    assert not (out / "wave_sizes.csv").exists()



def test_an_unexpected_error_is_one_line_that_asks_for_a_report(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("something PersonaLab did not foresee\nsecond line")

    monkeypatch.setattr(pipeline, "run_study", broken)
    monkeypatch.delenv("PERSONALAB_DEBUG", raising=False)
    assert _run_cli(tmp_path / "out", "ingest") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: something PersonaLab did not foresee second line" in err
    assert "please report it" in err


def test_a_full_disk_is_one_line_with_the_fix(tmp_path, monkeypatch, capsys):
    import errno

    import papermill

    class _NoKernel:
        def __init__(self, *args, **kwargs):
            self.km = None

        def shutdown(self):
            pass

    def disk_full(src, target, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", target)

    monkeypatch.setattr(pipeline, "_Kernel", _NoKernel)
    monkeypatch.setattr(papermill, "execute_notebook", disk_full)
    out = tmp_path / "out"
    assert _run_cli(out, "ingest") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "step 'ingest' stopped: cannot write" in err and "No space left on device" in err
    assert "Fix: free space on that disk" in err
    assert _manifest(out)["status"] == "failed"


def test_an_artifact_cut_off_by_a_full_disk_is_not_left_behind(tmp_path, monkeypatch):
    import joblib

    def cut_off(obj, path, **kwargs):
        Path(path).write_bytes(b"half a pickle")
        raise OSError(28, "No space left on device")

    store = ArtifactStore(tmp_path)
    monkeypatch.setattr(joblib, "dump", cut_off)
    with pytest.raises(OSError):
        store.save("labels", [0, 1])
    assert not store.has("labels")


def test_the_waves_step_never_compares_a_folder_with_itself(tmp_path):
    from personalab.errors import InputError
    from personalab.wave_step import track

    _finished_run(tmp_path / "run")
    with pytest.raises(InputError, match="compared with itself"):
        track(tmp_path / "run", baseline_dir=tmp_path / "run" / ".")


def test_a_baseline_that_a_run_is_writing_is_refused(tmp_path):
    base = _finished_run(tmp_path / "base")
    cfg = _config(tmp_path / "out", baseline=str(base), wave="w2", input=str(WAVE2),
                  steps=["ingest", "segment", "quotes", "personas", "waves", "report"])
    with open(base / LOCK_FILE, "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match="being written by another run"):
            run_study(cfg, progress=False, log=None)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------- too few to segment
def _tiny_wave(path: Path, n: int, *, identical=False) -> Path:
    """The first ``n`` respondents of the sample wave that its quality checks keep and that
    answer every segmentation question; ``identical``: all with the first one's answers to
    those questions (ids and every other answer their own)."""
    import csv

    from personalab.codebook import load_codebook
    from personalab.quality import check_quality
    from personalab.survey import read_survey

    kept = set(map(str, check_quality(read_survey(WAVE1, SAMPLE / "codebook.yml")).kept))
    with open(WAVE1, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[:3], rows[3:]     # Qualtrics: names, question texts, import ids
    seg = {c for q in load_codebook(SAMPLE / "codebook.yml").questions if q.role == "segment"
           for c in q.data_columns}
    cols = [k for k, name in enumerate(header[0]) if name in seg]
    rid = header[0].index("ResponseId")
    body = [r for r in body if r[rid] in kept
            and all(r[k] and r[k] != "Don't know" for k in cols)][:n]
    for r in body[1:] if identical else []:
        for k in cols:
            r[k] = body[0][k]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(header + body)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("n, identical, why", [
    (1, False, "only 1 respondent is left to segment"),
    (3, False, "only 3 respondents are left to segment"),
    (25, True, "all 25 respondents gave identical answers to every segmentation question")],
    ids=["one", "three", "identical"])
def test_a_wave_too_small_to_segment_gets_the_data_quality_report_saying_why(
        tmp_path, capsys, n, identical, why):
    import html
    import re

    wave = _tiny_wave(tmp_path / "tiny.csv", n, identical=identical)
    out = tmp_path / "out"
    rc = main(["run", "--wave", "tiny", "--input", str(wave), "--codebook",
               str(SAMPLE / "codebook.yml"), "--output", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "step 'segment' failed" in err and why in err
    assert f"The data-quality report, which says why: {out / 'index.html'}" in err
    page = (out / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    assert "No segments were made." in text and why in text
    if not identical:
        assert "segmenting needs at least 20" in text
    # the data-quality section: every respondent read, none analysed by a segmentation
    read = "1 response was read" if n == 1 else f"{n} responses were read"
    assert read in text
    assert "Data quality" in text and "exclusions.csv" in text
    m = _manifest(out)
    assert m["status"] == "failed" and m["failed_step"] == "segment"
    assert "index.html" in m["outputs"]


# ----------------------------------------------------------------------- steps after a new ingest
def _two_ingests(out: Path):
    """The sample wave ingested and carried through (labels, quotes, personas saved as those
    steps save them), then wave 2 ingested into the same folder by hand (the notebooks or
    steps run one by one, as `personalab run` never does without clearing the folder)."""
    import pandas as pd

    from personalab import steps

    codebook = SAMPLE / "codebook.yml"
    first = steps.ingest(WAVE1, output_dir=out, codebook_path=codebook, wave="w1")
    store = ArtifactStore(out)
    kept = first.quality.apply(first.survey).data.index
    store.save("labels", pd.Series(0, index=kept, name="segment"))
    store.save("quotes", pd.DataFrame({"quote": ["a wave 1 answer"]}))
    store.save("personas", ["the wave 1 persona"])
    steps.ingest(WAVE2, output_dir=out, codebook_path=codebook, wave="w2")
    return store


@pytest.mark.parametrize("case", ["ingest report", "segment report", "quotes report",
                                  "segment personas"])
def test_a_step_after_a_new_ingest_refuses_the_earlier_input_s_artifacts(tmp_path, case):
    """`--steps ingest report` once reported wave 2's size beside wave 1's personas; each
    later step now refuses an artifact of the earlier input, naming the one it read."""
    import re

    import pandas as pd

    from personalab import steps

    out = tmp_path / "out"
    store = _two_ingests(out)
    first, then = case.split()
    if first == "segment":      # the segment step ran on wave 2: its labels are current
        kept = store.load("quality").apply(store.load("survey")).data.index
        for name, obj in [("labels", pd.Series(0, index=kept, name="segment")),
                          ("profile", pd.DataFrame()), ("sizes", pd.DataFrame()),
                          ("stability", None)]:
            store.save(name, obj)
    step = {"report": steps.report, "quotes": steps.quotes, "personas": steps.personas}
    for name in ([first] if first == "quotes" else []) + [then]:
        with pytest.raises(StaleArtifactError, match="belongs to an earlier run") as err:
            step[name](out)
        # names the input the artifact was made from, and the one the survey was read from
        assert re.search(r"made from \S*sample_wave\.csv, not to the current run's survey "
                         r"\(read from \S*wave2\.csv\)", str(err.value))
    assert not (out / "index.html").exists()
    # personas of the earlier input are never read as this run's
    with pytest.raises(StaleArtifactError):
        store.load("personas")
    # the CLI refuses these steps before any kernel starts: they leave out steps between
    if first != "ingest":
        rc = main(["run", "--wave", "w2", "--input", str(WAVE2), "--codebook",
                   str(SAMPLE / "codebook.yml"), "--output", str(out), "--steps", first, then,
                   "--no-progress"])
        assert rc == 2


@pytest.mark.slow
def test_a_real_ctrl_c_prints_one_line_and_no_traceback(tmp_path):
    """SIGINT to the whole foreground group, as a terminal sends it, in the middle of a step:
    one error line (nbclient's unread cell task once added "Task exception was never
    retrieved" and a DeadKernelError traceback after it), exit 130, manifest 'interrupted'."""
    import re
    import signal
    import subprocess
    import sys
    import time

    lines = WAVE1.read_text(encoding="utf-8-sig").splitlines(True)
    (tmp_path / "small.csv").write_text("".join(lines[:303]), encoding="utf-8")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "personalab", "run", "--wave", "w1", "--input",
                          str(tmp_path / "small.csv"), "--codebook", str(SAMPLE / "codebook.yml"),
                          "--output", str(out), "--no-progress"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    t0 = time.time()
    while not (out / "artifacts" / "survey.joblib").exists() and time.time() - t0 < 300:
        time.sleep(0.2)
    time.sleep(3)                                   # inside the segment step
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=300)
    noise = re.compile(r"IPKernelApp|Kernel is running over TCP|^\s*$")
    shown = [line for line in err.splitlines() if not noise.search(line)]
    assert p.returncode == 130, err
    assert len(shown) == 1 and "interrupted (Ctrl-C)" in shown[0], err
    assert "Traceback" not in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
