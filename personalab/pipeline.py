"""Run a wave end to end: the parameterized notebooks, in order, with papermill.

``personalab run`` (see :mod:`personalab.cli`) validates the study config, then executes
``notebooks/NN_<step>.ipynb`` for each step into ``<output>/notebooks/`` with a fresh
kernel each, and writes a run manifest (parameters, input hash, package versions, seed,
timings per step, and whether the run completed). A failing notebook stops the run with the
notebook, the cell and the error named.

A run never loses or mixes another run:

* it never writes into its baseline (nor into a folder inside it, nor around it);
* a folder that holds the run of another wave or another input is only replaced with
  ``overwrite=True`` (``--overwrite``); a non-empty folder that holds no run is refused;
* a run that reads the export again (the ingest step) starts from a clean folder: nothing of
  the run before it (personas, a "What changed" comparison, ``wave_*.csv``) survives;
* the steps of one run are contiguous (``--steps ingest report`` would pair a new survey with
  the old personas), and every artifact carries the run it belongs to
  (:mod:`personalab.artifacts`);
* the output folder is locked while a run writes it: a second run into it is refused;
* Ctrl-C, a killed kernel, a full disk or an unwritable folder stop the run with one clear
  error; ``manifest.json`` then says ``"status": "interrupted"`` or ``"failed"``, and the
  same command run again starts over.

A wave the segment step cannot segment (fewer respondents than it needs, or none who differ:
``SegmentationError``) still gets its report when the run includes the report step:
``index.html`` says why no segments were made (the count and the minimum) beside the data-
quality section; the run stops with one line naming it and a non-zero exit.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .artifacts import ArtifactStore
from .config import NOTEBOOKS, StudyConfig
from .errors import ConfigError, PersonaLabError
from .paths import NOTEBOOKS_DIR, cache_dir

#: Manifest format version: bump when its keys change (2: ``status``, ``failed_step``, ``error``).
MANIFEST_VERSION = 2
#: Held (``flock``) while a run writes its output folder.
LOCK_FILE = ".personalab.lock"
#: What the steps write in a run's folder, removed when a run starts over from ingest (with
#: ``wave_*.csv``). A file the researcher may have edited (``codebook_draft.yml``) never is, nor
#: anything else in the folder; of ``notebooks/`` only the executed pipeline notebooks are.
_RUN_DIRS = ("artifacts", "notebooks", "personas", "partitions")
_RUN_FILES = ("index.html", "manifest.json", "exclusions.csv", "quality_flags.csv",
              "segments.csv", "segment_profiles.csv", "golden_questions.csv", "model.joblib")
#: Artifacts and tables of the waves step (removed when it runs without a baseline).
_WAVE_ARTIFACTS = ("wave_comparison", "emerging_quotes")

#: Packages whose versions go into the manifest.
_TRACKED_PACKAGES = ("personalab", "pandas", "numpy", "scikit-learn", "umap-learn", "hdbscan",
                     "spacy", "plotly", "papermill", "statsmodels", "scipy")


class PipelineError(PersonaLabError):
    """A pipeline step (notebook) failed; names the notebook, the cell and the error."""

    def __init__(self, message, *, notebook=None, cell=None, ename=None, evalue=None,
                 step=None):
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        self.step = step
        super().__init__(message)


class RunInterrupted(PipelineError):
    """The run was stopped (Ctrl-C or a termination signal) before it completed."""


class RunLockedError(PersonaLabError):
    """Another run is writing the same output folder."""


@dataclass
class RunResult:
    """What a run wrote."""

    output_dir: Path
    report: Path | None
    manifest: Path
    notebooks: list[Path] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def notebook_for(step: str) -> Path:
    """The notebook that implements one pipeline step."""
    return NOTEBOOKS_DIR / NOTEBOOKS[step]


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def notebook_parameters(config: StudyConfig) -> dict:
    """Every parameter a step notebook may declare, as plain literals (absolute paths)."""
    def p(x):
        return str(Path(x).resolve()) if x is not None else None

    return {
        "wave": config.wave,
        "input_path": p(config.input),
        "codebook_path": p(config.codebook),
        "themes_path": p(config.themes),
        "output_dir": p(config.output),
        "file_format": config.format,
        "seed": config.seed,
        "exclude_flags": config.exclude_flags,
        # {id: reason}, read by StudyConfig.validate (a CSV's rows too)
        "exclude_respondents": config.exclude_respondents,
        "config_file": p(config.source),
        "min_segment_share": config.min_segment_share,
        "reducer": config.reducer,
        "clusterer": config.clusterer,
        "n_segments": config.n_segments,
        "n_neighbors": config.n_neighbors,
        "n_quotes": config.n_quotes,
        "not_a_fit": config.not_a_fit,
        "baseline_dir": p(config.baseline),
        "mapping": config.mapping,
        "scale_mapping": config.scale_mapping,
        "engine": config.engine,
        "scheduler": config.scheduler,
        "decimal": config.decimal,
        "thousands": config.thousands,
        "dayfirst": config.dayfirst,
        "encoding": config.encoding,
        "encoding_errors": config.encoding_errors,
    }


def _declared_parameters(nb_path: Path) -> set[str]:
    """The names a notebook's ``parameters`` cell declares: only these are passed to it (a
    notebook without ``n_segments`` runs as before)."""
    import papermill

    return set(papermill.inspect_notebook(str(nb_path)).keys())


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


#: Modules a step's notebook imports, loaded into its kernel while the step before it runs
#: (only modules every run of that step needs; importing is all that happens early).
#: plotly.io._renderers is what the first figure a notebook displays imports (nbformat and
#: jsonschema with it: ~3 s).
_PRELOAD = {
    "ingest": ("personalab.steps", "personalab.loaders", "personalab.quality"),
    "segment": ("personalab.steps", "personalab.segmentation", "personalab.diagnostics",
                "personalab.golden", "personalab.profiles", "personalab.plotting", "umap",
                "hdbscan", "plotly.io._renderers"),
    "quotes": ("personalab.steps", "personalab.themes", "personalab.quotes",
               "personalab.discovery", "personalab.sentiment", "spacy"),
    "personas": ("personalab.steps", "personalab.personas", "personalab.diagnostics"),
    "waves": ("personalab.steps", "personalab.waves"),
    "report": ("personalab.steps", "personalab.report"),
}


class _Kernel:
    """A kernel started ahead of its step, so its start-up and imports overlap the step
    before it (each step still gets a fresh kernel of its own).

    The kernel imports its step's modules while it starts (``IPKernelApp.exec_lines``,
    which leaves no names behind), so it answers papermill once they are loaded. It is
    handed to papermill (``km=``), which then neither starts nor shuts it down: the run
    shuts it down after the step, or when the run stops early. It runs in the run's output
    folder (never inside an installed package).
    """

    def __init__(self, step, kernel_name, nb, cwd, log=None):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        # the manager class nbclient itself uses, so its client is the asynchronous one
        self.km = AsyncKernelManager(kernel_name=kernel_name or _nb_kernel(nb))
        args = ["--HistoryManager.hist_file=:memory:"]   # what nbclient passes itself
        modules = _PRELOAD.get(step)
        if modules:
            args.append("--IPKernelApp.exec_lines=import importlib as _pl_importlib; "
                        f"[_pl_importlib.import_module(m) for m in {modules!r}]; "
                        "del _pl_importlib")
        # what the kernel prints itself (warnings, a crash) goes to its log, not the terminal
        self.log = open(log, "ab") if log is not None else None
        streams = {"stdout": self.log, "stderr": self.log} if self.log else {}
        try:
            run_sync(self.km.start_kernel)(cwd=str(cwd), extra_arguments=args, **streams)
        except BaseException:
            if self.log is not None:
                self.log.close()
            raise

    def shutdown(self):
        from jupyter_core.utils import run_sync

        try:
            self._shutdown(run_sync)
        finally:
            self._stop_heartbeat()
            if self.log is not None:
                self.log.close()

    def _stop_heartbeat(self):
        """Stop the heartbeat thread papermill's client left for this kernel. nbclient stops
        its client's channels only for a kernel manager of its own; handed one (``km=``) it
        leaves them open, so every step left a heartbeat thread (and its socket) behind in
        the calling process: one per step (the test suite's process held 25 of them after
        its pipeline and run-safety tests), more in a notebook that runs several waves. A channel is this kernel's when its whole address is the
        kernel's heartbeat URL (transport, ip and port, as the client built it:
        ``tcp://127.0.0.1:<port>``, ``ipc://<path>-<port>``), so a heartbeat of this process
        to a kernel on another host or ip with the same port number is left running."""
        import threading

        from jupyter_client.channels import HBChannel

        port = getattr(self.km, "hb_port", None)
        if not port:
            return
        try:
            url = self.km._make_url("hb")   # what the client connects its channel to
        except Exception:
            url = f"{self.km.transport}://{self.km.ip}:{port}"
        for t in threading.enumerate():
            if isinstance(t, HBChannel) and str(getattr(t, "address", "")) == url:
                with contextlib.suppress(Exception):
                    t.stop()

    def _shutdown(self, run_sync):
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:   # a dead kernel has nothing left to shut down; make sure
            if self.km.provisioner is not None:
                with contextlib.suppress(Exception):
                    run_sync(self.km.provisioner.kill)()


def _nb_kernel(nb: Path) -> str:
    """The kernel a notebook asks for (its kernelspec name; python3 without one)."""
    import nbformat

    spec = nbformat.read(str(nb), as_version=4).metadata.get("kernelspec") or {}
    return spec.get("name") or "python3"


# ---------------------------------------------------------------------------- errors
def _personalab_error_names(step: str) -> set[str]:
    """Names of PersonaLab's error classes a step's notebook can raise (its modules are
    imported here only to find their error classes, once a step has failed)."""
    import importlib

    for name in _PRELOAD.get(step, ()):
        if name.startswith("personalab."):
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    names, todo = set(), [PersonaLabError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _os_fix(text: str) -> str | None:
    """What to do about an operating-system error, from its message."""
    if "Errno 28" in text or "No space left" in text:
        return ("free space on that disk (or give --output on another one), then run the same "
                "command again")
    if any(k in text for k in ("Errno 13", "Errno 1]", "Errno 30", "Permission denied",
                               "Read-only file system")):
        return "choose an output folder you can write to (--output), then run again"
    return None


def _quality_pointer(out: Path) -> str:
    tables = [p for p in (out / "quality_flags.csv", out / "exclusions.csv") if p.is_file()]
    if not tables:
        return ""
    return ("\n  The data-quality report the ingest step wrote: "
            + " and ".join(str(p) for p in tables))


def _no_segments_report(out: Path, config, message: str) -> Path | None:
    """``index.html`` for a wave the segment step refused (too few respondents, or none who
    differ): why no segments were made (the refusal, which names the count and the
    minimum, and its fix), then the data-quality and question sections of the report.

    Returns the report, or None when it could not be written (the run's error then points
    at the ingest step's CSV tables, as for any other failed step).
    """
    import html

    from markupsafe import Markup

    from . import report as rp

    problem, _, fix = message.strip().partition("\n  Fix: ")
    try:
        store = ArtifactStore(out)
        parts = ["<div class='alert' role='alert'><b>No segments were made.</b> "
                 f"{html.escape(problem)}</div>"]
        if fix:
            parts.append(f"<p><b>What to do.</b> {html.escape(fix)}</p>")
        parts.append("<p>The data-quality section below lists every respondent read, who "
                     "was excluded and why; <code>exclusions.csv</code> and "
                     "<code>quality_flags.csv</code> beside this report have the "
                     "respondent ids.</p>")
        sections = [rp.Section("no-segments", "No segments", Markup("\n".join(parts)))]
        for build in (rp.quality_section, rp.questions_section):
            section = build(store)
            if section is not None:
                sections.append(section)
        page = rp.render_page(sections, title=f"PersonaLab report — {config.wave} (no "
                                              f"segments)", wave=config.wave)
        path = out / "index.html"
        tmp = out / f".index.{os.getpid()}.tmp"
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
        return path
    except Exception:  # noqa: BLE001 - the refusal itself is the run's error
        return None


def _step_error(step, nb, target, out, exc, report=None) -> PipelineError:
    """One clear error for a cell that raised inside a step's notebook (``report``: the
    data-quality report written for a wave that cannot be segmented)."""
    evalue = str(exc.evalue or "").strip()
    where = f"step {step!r} failed: notebook {nb.name}, cell {exc.exec_count}"
    kwargs = dict(notebook=nb.name, cell=exc.exec_count, ename=exc.ename, evalue=exc.evalue,
                  step=step)
    if exc.ename == "KeyboardInterrupt":
        return RunInterrupted(f"{where}: interrupted", **kwargs)
    if exc.ename in _personalab_error_names(step):
        # PersonaLab's own errors already say where and what to do
        pointer = (f"\n  The data-quality report, which says why: {report}" if report
                   else _quality_pointer(out))
        return PipelineError(f"{where}: {evalue}{pointer}", **kwargs)
    fix = _os_fix(evalue)
    msg = f"{where}: {exc.ename}: {evalue}"
    if fix:
        msg += f"\n  Fix: {fix}"
    if Path(target).is_file():
        msg += f"\n  The executed notebook, with the traceback, is {target}"
    return PipelineError(msg, **kwargs)


def _os_error(exc: OSError, step=None) -> PipelineError:
    """A file the run itself writes (an executed notebook, the manifest) could not be."""
    what = f"step {step!r} stopped: " if step else ""
    name = exc.filename or "a file in the output folder"
    fix = _os_fix(str(exc)) or "check the output folder, then run the same command again"
    return PipelineError(f"{what}cannot write {name}: {exc.strerror or exc}\n  Fix: {fix}",
                         step=step)


class _Signals:
    """Ctrl-C (SIGINT) and SIGTERM raise KeyboardInterrupt, and are remembered: an interrupt
    caught somewhere on the way (by a library waiting on a kernel) still stops the run."""

    def __init__(self):
        self.received = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signum
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        return False


# ---------------------------------------------------------------------------- the steps
def _run_steps(config, steps, params, out, kernel_name, progress, timings, written, state,
               signals):
    """Execute each step's notebook in a fresh kernel, recording timings.

    The next step's kernel is started (and its imports loaded) while a step runs.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    # papermill's own log lines ("Kernel died while waiting...") would reach the terminal
    # beside the run's one error line; the error says it all (a configured logger still gets
    # them)
    pm_log = logging.getLogger("papermill")
    if not any(isinstance(h, logging.NullHandler) for h in pm_log.handlers):
        pm_log.addHandler(logging.NullHandler())
    nb_out = out / "notebooks"
    bar = tqdm(steps, desc=f"personalab run {config.wave}", unit="step", disable=not progress,
               file=sys.stderr)
    for step in steps:
        nb = notebook_for(step)
        if not nb.exists():
            raise PipelineError(
                f"notebook for step {step!r} not found: {nb}\n  Fix: reinstall PersonaLab "
                f"(its wheel ships the pipeline notebooks)", notebook=str(nb), step=step)
    ahead = None     # the next step's kernel, started while this step runs
    try:
        for i, step in enumerate(bar):
            state["step"] = step
            nb = notebook_for(step)
            bar.set_postfix_str(nb.name)
            declared = _declared_parameters(nb)
            step_params = {k: v for k, v in params.items() if k in declared}
            target = nb_out / nb.name
            t0 = time.perf_counter()
            kernel = ahead or _Kernel(step, kernel_name, nb, out, _kernel_log(out, step))
            ahead = None
            if i + 1 < len(steps):
                ahead = _Kernel(steps[i + 1], kernel_name, notebook_for(steps[i + 1]), out,
                                _kernel_log(out, steps[i + 1]))
            try:
                papermill.execute_notebook(
                    str(nb), str(target), parameters=step_params, cwd=str(out),
                    kernel_name=kernel_name, progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False, km=kernel.km)
            except papermill.PapermillExecutionError as exc:
                report = None
                if exc.ename == "SegmentationError" and "report" in steps:
                    report = _no_segments_report(out, config, str(exc.evalue or ""))
                raise _step_error(step, nb, target, out, exc, report=report) from None
            except DeadKernelError:
                raise PipelineError(
                    f"step {step!r} failed: the kernel running {nb.name} died (killed, or out "
                    f"of memory; its log: {_kernel_log(out, step)})\n  Fix: check the "
                    f"machine's free memory, then run the same command again",
                    notebook=nb.name, step=step) from None
            except CellTimeoutError as exc:
                raise PipelineError(f"step {step!r} failed: a cell of {nb.name} timed out: "
                                    f"{exc}", notebook=nb.name, step=step) from None
            except OSError as exc:
                raise _os_error(exc, step) from None
            finally:
                kernel.shutdown()
            if signals.received:      # an interrupt that was caught on the way
                raise KeyboardInterrupt
            timings[step] = round(time.perf_counter() - t0, 2)
            written.append(target)
    except BaseException:
        # a run stopped mid-cell (Ctrl-C, a dead kernel) leaves nbclient's cell task with
        # its exception unread; asyncio would log "Task exception was never retrieved" and
        # a traceback after the run's one error line. The error says it all (a configured
        # logger still gets the record).
        aio_log = logging.getLogger("asyncio")
        if not any(isinstance(h, logging.NullHandler) for h in aio_log.handlers):
            aio_log.addHandler(logging.NullHandler())
        raise
    finally:
        if ahead is not None:
            ahead.shutdown()


def _kernel_log(out: Path, step: str) -> Path:
    return out / "notebooks" / f"{Path(NOTEBOOKS[step]).stem}.kernel.log"


# ---------------------------------------------------------------------------- the folder
def _input_record(config) -> dict:
    """The run's input as the manifest records it: path and SHA-256 (of each partition)."""
    from .dask_engine import input_partitions, is_pattern

    files = input_partitions(config.input) if is_pattern(config.input) else [Path(config.input)]
    inputs = [{"path": str(Path(f).resolve()), "sha256": file_sha256(f)} for f in files]
    if len(inputs) == 1:
        return inputs[0]
    return {"path": str(config.input), "partitions": inputs}


def _input_shas(record) -> list | None:
    if not isinstance(record, dict):
        return None
    if "partitions" in record:
        return sorted(str(p.get("sha256")) for p in record["partitions"])
    return [record["sha256"]] if record.get("sha256") else None


def _previous_run(out: Path) -> dict | None:
    """What the output folder already holds: the run its manifest (or its artifacts) names."""
    manifest = out / "manifest.json"
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        return {"wave": doc.get("wave"), "input": doc.get("input"),
                "status": doc.get("status", "complete"), "failed_step": doc.get("failed_step")}
    if (out / "artifacts").is_dir():
        try:
            info = ArtifactStore(out).run_info() or {}
        except PersonaLabError:
            info = {}
        return {"wave": info.get("wave"), "input": {"path": info.get("input")},
                "status": "unknown", "failed_step": None}
    return None


def _same_input(before, now) -> bool:
    old = _input_shas(before)
    if old is not None:
        return old == _input_shas(now)
    path = (before or {}).get("path")
    return path is not None and Path(path).resolve() == Path(now["path"]).resolve()


def _check_baseline(config, out: Path) -> None:
    """A run never writes into its baseline, and compares only with a completed run."""
    if config.baseline is None:
        return
    base = Path(config.baseline).resolve()
    fix = ("give this wave a folder of its own: --wave NAME (writes reports/NAME/) or "
           "--output FOLDER")
    if out == base or base in out.parents or out in base.parents:
        how = "is" if out == base else ("is inside" if base in out.parents else "contains")
        raise ConfigError(f"the output folder {out} {how} the baseline {base}: a run never "
                          f"writes into the run it compares with", file=config.source,
                          column="output", fix=fix)
    if not (base / "artifacts").is_dir():
        raise ConfigError(f"the baseline folder {base} holds no PersonaLab run (no artifacts/)",
                          file=config.source, column="baseline",
                          fix="point it at an earlier run's output folder, e.g. reports/<wave>")
    if _is_locked(base / LOCK_FILE):
        raise ConfigError(f"the baseline folder {base} is being written by another run",
                          file=config.source, column="baseline",
                          fix="wait for that run to finish, then run this one")
    prev = _previous_run(base)
    if prev and prev["status"] not in ("complete", "unknown"):
        at = f" at step {prev['failed_step']!r}" if prev.get("failed_step") else ""
        raise ConfigError(f"the baseline run in {base} did not complete ({prev['status']}{at})",
                          file=config.source, column="baseline",
                          fix="run that wave again to completion, or point --baseline at a "
                              "completed run")


def _describe(prev) -> str:
    wave = f"wave {prev['wave']!r}" if prev.get("wave") else "a run"
    path = (prev.get("input") or {}).get("path")
    return wave + (f" read from {path}" if path else "")


def _check_previous(config, out: Path, prev, inputs, overwrite, steps) -> None:
    """Refuse to mix this run with, or write over, another run (see the module docstring)."""
    ours = [p for p in out.iterdir() if p.name != LOCK_FILE] if out.is_dir() else []
    if prev is None:
        if ours and not overwrite:
            raise ConfigError(f"the output folder {out} is not empty and holds no PersonaLab "
                              f"run", file=config.source, column="output",
                              fix="choose a new or empty folder (--output), or pass "
                                  "--overwrite to write PersonaLab's files into it")
        if "ingest" not in steps:
            raise ConfigError(f"{out} holds no earlier run for steps {steps} to continue",
                              file=config.source, column="steps",
                              fix="run every step (leave out --steps), starting with ingest")
        return
    other = []
    if prev.get("wave") is not None and prev["wave"] != config.wave:
        other.append(f"wave {config.wave!r}")
    if not _same_input(prev.get("input"), inputs):
        other.append(f"input {inputs['path']}")
    if not other:
        return
    if "ingest" not in steps:
        raise ConfigError(f"{out} holds the run of {_describe(prev)}: steps {steps} cannot "
                          f"continue it with {' and '.join(other)}", file=config.source,
                          column="steps",
                          fix="run every step (leave out --steps) into a folder of this "
                              "wave's own: --wave NAME or --output FOLDER")
    if not overwrite:
        raise ConfigError(f"{out} holds the run of {_describe(prev)}; this run is "
                          f"for {' with '.join(other)}: that run would be lost", file=config.source,
                          column="output",
                          fix="give this wave a folder of its own (--wave NAME writes "
                              "reports/NAME/, or --output FOLDER), or pass --overwrite to "
                              "replace that run")


def _clear_run(out: Path) -> None:
    """Remove what an earlier run wrote into the folder (a run starts over from ingest)."""
    for name in _RUN_DIRS:
        d = out / name
        if name == "notebooks":     # only the executed pipeline notebooks and their logs
            for step, nb in NOTEBOOKS.items():
                (d / nb).unlink(missing_ok=True)
                _kernel_log(out, step).unlink(missing_ok=True)
        elif d.is_dir():
            shutil.rmtree(d)
    for name in _RUN_FILES:
        (out / name).unlink(missing_ok=True)
    _clear_wave_outputs(out)


def _clear_wave_outputs(out: Path) -> None:
    """The waves step's outputs: a run without a baseline shows no "What changed" section."""
    for name in _WAVE_ARTIFACTS:
        ArtifactStore(out).path(name).unlink(missing_ok=True)
    for p in out.glob("wave_*.csv"):
        p.unlink()


@contextlib.contextmanager
def _locked(out: Path, source=None):
    """Hold the output folder's lock for the run; refuse when another run holds it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK_FILE, "a+", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {out}: {exc.strerror or exc}",
                          file=source, column="output",
                          fix=_os_fix(str(exc)) or "choose a folder you can write to "
                                                   "(--output)") from None
    try:
        try:
            _lock(fh)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunLockedError(f"another personalab run ({holder}) is writing {out}\n  Fix: "
                                 f"wait for it to finish, or give this run another folder "
                                 f"(--output)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        yield
    finally:
        fh.close()      # closing releases the lock


def _lock(fh) -> None:
    try:
        import fcntl
    except ImportError:     # Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _is_locked(lock_file: Path) -> bool:
    """Whether a run holds this lock file now (taken and let go at once when free)."""
    if not lock_file.is_file():
        return False
    try:
        with open(lock_file, "a+", encoding="utf-8") as fh:
            _lock(fh)
    except OSError:
        return True
    return False


def _write_manifest(out: Path, manifest: dict) -> Path:
    path = out / "manifest.json"
    tmp = out / f".manifest.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _outputs(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and "artifacts" not in p.parts and p.name != LOCK_FILE
                  and not p.name.startswith(".manifest."))


def run_study(config: StudyConfig, *, progress: bool = True, kernel_name: str | None = None,
              log=print, overwrite: bool = False) -> RunResult:
    """Execute the pipeline notebooks for one wave.

    Parameters
    ----------
    config : StudyConfig
        A validated config (see :func:`personalab.config.load_config`).
    progress : bool
        Show a progress bar over the steps.
    kernel_name : str, optional
        Jupyter kernel to run the notebooks in (default: the notebook's own, ``python3``).
    overwrite : bool
        Replace the run of another wave or input already in the output folder (without it,
        such a folder is refused).

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        Before anything runs: the output folder is the baseline's, holds another run, or
        cannot be written.
    RunLockedError
        Another run is writing the output folder.
    PipelineError
        A step failed (its notebook, cell and error named); :class:`RunInterrupted` when
        the run was stopped. ``manifest.json`` records either.
    """
    config.validate()
    out = Path(config.output).resolve()
    _check_baseline(config, out)
    steps = list(config.steps)
    with _locked(out, config.source):
        inputs = _input_record(config)
        _check_previous(config, out, _previous_run(out), inputs, overwrite, steps)
        if "ingest" in steps:       # the wave is read again: nothing of an earlier run stays
            _clear_run(out)
            ArtifactStore(out).begin_run(wave=config.wave, input=inputs["path"])
        elif "waves" in steps and config.baseline is None:
            _clear_wave_outputs(out)
        return _run(config, out, steps, inputs, progress, kernel_name, log)


def _run(config, out, steps, inputs, progress, kernel_name, log) -> RunResult:
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    params = notebook_parameters(config)
    params["output_dir"] = str(out)
    # one numba cache for every kernel, so JIT-compiled UMAP/HDBSCAN code is reused
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    timings, written, state = {}, [], {"step": None}
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "status": "running",
        "wave": config.wave,
        "config": config.to_dict(),
        "config_file": str(config.source) if config.source else None,
        "input": inputs,
        "engine": config.engine,
        "seed": config.seed,
        "packages": package_versions(),
        "platform": {"machine": platform.machine(), "system": platform.system(),
                     "cpus": os.cpu_count()},
        "steps": steps,
        "timings_s": timings,
    }
    started = time.perf_counter()
    cluster = None
    with _Signals() as signals:
        try:
            _write_manifest(out, manifest)
            if config.engine == "dask" and not config.scheduler:
                # one LocalCluster for the whole run: every step's kernel connects to it
                from .dask_engine import start_local_cluster

                cluster = start_local_cluster()
                params["scheduler"] = cluster.scheduler_address
                timings["cluster_start"] = round(time.perf_counter() - started, 2)
            try:
                _run_steps(config, steps, params, out, kernel_name, progress, timings,
                           written, state, signals)
            finally:
                if cluster is not None:
                    cluster.close()
            timings["total"] = round(time.perf_counter() - started, 2)
            manifest.update(status="complete", outputs=_outputs(out))
            mpath = _write_manifest(out, manifest)
        except BaseException as exc:
            error = _run_error(exc, signals, state["step"], out)
            manifest.update(status="interrupted" if isinstance(error, RunInterrupted)
                            else "failed", failed_step=state["step"], error=str(error))
            with contextlib.suppress(Exception):
                manifest["outputs"] = _outputs(out)
                _write_manifest(out, manifest)
            if error is exc:
                raise
            raise error from None
    report = out / "index.html"
    if log:
        log(f"Report: {report if report.exists() else '(no report step run)'}")
    return RunResult(output_dir=out, report=report if report.exists() else None,
                     manifest=mpath, notebooks=written, timings=timings)


def _run_error(exc, signals, step, out) -> BaseException:
    """The error a stopped run reports: interrupts and OS errors as one clear PipelineError."""
    if signals.received or isinstance(exc, KeyboardInterrupt) or isinstance(exc, RunInterrupted):
        how = "Ctrl-C" if signals.received in (None, signal.SIGINT) else "terminated"
        during = f" during step {step!r}" if step else ""
        return RunInterrupted(f"interrupted ({how}){during}: the run in {out} is incomplete "
                              f"(manifest.json says so)\n  Fix: run the same command again to "
                              f"start over", step=step)
    if isinstance(exc, OSError):
        return _os_error(exc, step)
    return exc
