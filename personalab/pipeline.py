"""Run a wave end to end: the parameterized notebooks, in order, with papermill.

``personalab run`` (see :mod:`personalab.cli`) validates the study config, then executes
``notebooks/NN_<step>.ipynb`` for each step into ``reports/<wave>/notebooks/`` with a fresh
kernel each, and writes a run manifest (parameters, input hash, package versions, seed,
timings per step). A failing notebook stops the run with the notebook, the cell and the
error named.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .config import NOTEBOOKS, StudyConfig
from .errors import PersonaLabError
from .paths import NOTEBOOKS_DIR, PROJECT_ROOT

#: Manifest format version: bump when its keys change.
MANIFEST_VERSION = 1

#: Packages whose versions go into the manifest.
_TRACKED_PACKAGES = ("personalab", "pandas", "numpy", "scikit-learn", "umap-learn", "hdbscan",
                     "spacy", "plotly", "papermill", "statsmodels", "scipy")


class PipelineError(PersonaLabError):
    """A pipeline step (notebook) failed; names the notebook, the cell and the error."""

    def __init__(self, message, *, notebook=None, cell=None, ename=None, evalue=None):
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        super().__init__(message)


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
        "min_segment_share": config.min_segment_share,
        "reducer": config.reducer,
        "clusterer": config.clusterer,
        "n_neighbors": config.n_neighbors,
        "n_quotes": config.n_quotes,
        "not_a_fit": config.not_a_fit,
        "baseline_dir": p(config.baseline),
        "mapping": config.mapping,
        "scale_mapping": config.scale_mapping,
        "engine": config.engine,
        "scheduler": config.scheduler,
    }


def _declared_parameters(nb_path: Path) -> set[str]:
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
    shuts it down after the step, or when the run stops early.
    """

    def __init__(self, step, kernel_name, nb):
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
        run_sync(self.km.start_kernel)(cwd=str(NOTEBOOKS_DIR), extra_arguments=args)

    def shutdown(self):
        from jupyter_core.utils import run_sync

        run_sync(self.km.shutdown_kernel)(now=True)


def _nb_kernel(nb: Path) -> str:
    """The kernel a notebook asks for (its kernelspec name; python3 without one)."""
    import nbformat

    spec = nbformat.read(str(nb), as_version=4).metadata.get("kernelspec") or {}
    return spec.get("name") or "python3"


def _run_steps(config, steps, params, nb_out, kernel_name, progress, timings, written):
    """Execute each step's notebook in a fresh kernel, recording timings.

    The next step's kernel is started (and its imports loaded) while a step runs.
    """
    import papermill
    from tqdm.auto import tqdm

    bar = tqdm(steps, desc=f"personalab run {config.wave}", unit="step", disable=not progress,
               file=sys.stderr)
    for step in steps:
        nb = notebook_for(step)
        if not nb.exists():
            raise PipelineError(f"notebook for step {step!r} not found: {nb}", notebook=str(nb))
    ahead = None     # the next step's kernel, started while this step runs
    try:
        for i, step in enumerate(bar):
            nb = notebook_for(step)
            bar.set_postfix_str(nb.name)
            declared = _declared_parameters(nb)
            step_params = {k: v for k, v in params.items() if k in declared}
            target = nb_out / nb.name
            t0 = time.perf_counter()
            kernel = ahead or _Kernel(step, kernel_name, nb)
            ahead = None
            if i + 1 < len(steps):
                ahead = _Kernel(steps[i + 1], kernel_name, notebook_for(steps[i + 1]))
            try:
                papermill.execute_notebook(
                    str(nb), str(target), parameters=step_params, cwd=str(NOTEBOOKS_DIR),
                    kernel_name=kernel_name, progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False, km=kernel.km)
            except papermill.PapermillExecutionError as exc:
                raise PipelineError(
                    f"step {step!r} failed: notebook {nb.name}, cell {exc.exec_count}: "
                    f"{exc.ename}: {exc.evalue}\n  The executed notebook, with the traceback, "
                    f"is {target}", notebook=nb.name, cell=exc.exec_count, ename=exc.ename,
                    evalue=exc.evalue) from None
            finally:
                kernel.shutdown()
            timings[step] = round(time.perf_counter() - t0, 2)
            written.append(target)
    finally:
        if ahead is not None:
            ahead.shutdown()


def run_study(config: StudyConfig, *, progress: bool = True, kernel_name: str | None = None,
              log=print) -> RunResult:
    """Execute the pipeline notebooks for one wave.

    Parameters
    ----------
    config : StudyConfig
        A validated config (see :func:`personalab.config.load_config`).
    progress : bool
        Show a progress bar over the steps.
    kernel_name : str, optional
        Jupyter kernel to run the notebooks in (default: the notebook's own, ``python3``).

    Returns
    -------
    RunResult
    """
    config.validate()
    out = Path(config.output).resolve()
    nb_out = out / "notebooks"
    nb_out.mkdir(parents=True, exist_ok=True)
    params = notebook_parameters(config)
    # Notebooks run in notebooks/ so their relative defaults (../data/sample) still resolve,
    # and share one numba cache so JIT-compiled UMAP/HDBSCAN code is reused across kernels.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(PROJECT_ROOT / ".cache" / "numba"))
    timings, written = {}, []
    steps = list(config.steps)
    started = time.perf_counter()
    cluster = None
    if config.engine == "dask" and not config.scheduler:
        # one LocalCluster for the whole run: every step's kernel connects to it
        from .dask_engine import start_local_cluster

        cluster = start_local_cluster()
        params["scheduler"] = cluster.scheduler_address
        timings["cluster_start"] = round(time.perf_counter() - started, 2)
    try:
        _run_steps(config, steps, params, nb_out, kernel_name, progress, timings, written)
    finally:
        if cluster is not None:
            cluster.close()
    timings["total"] = round(time.perf_counter() - started, 2)
    report = out / "index.html"
    from .dask_engine import input_partitions, is_pattern

    files = input_partitions(config.input) if is_pattern(config.input) else [Path(config.input)]
    inputs = [{"path": str(Path(f).resolve()), "sha256": file_sha256(f)} for f in files]
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "wave": config.wave,
        "config": config.to_dict(),
        "config_file": str(config.source) if config.source else None,
        "input": inputs[0] if len(inputs) == 1 else {"path": str(config.input),
                                                      "partitions": inputs},
        "engine": config.engine,
        "seed": config.seed,
        "packages": package_versions(),
        "platform": {"machine": platform.machine(), "system": platform.system(),
                     "cpus": os.cpu_count()},
        "steps": steps,
        "timings_s": timings,
        "outputs": sorted(str(p.relative_to(out)) for p in out.rglob("*")
                          if p.is_file() and "artifacts" not in p.parts),
    }
    mpath = out / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    if log:
        log(f"Report: {report if report.exists() else '(no report step run)'}")
    return RunResult(output_dir=out, report=report if report.exists() else None,
                     manifest=mpath, notebooks=written, timings=timings)
