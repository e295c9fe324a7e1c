"""The explorer notebook in a real JupyterLab, in headless Chromium.

What a researcher does: start JupyterLab, open ``notebooks/explore.ipynb`` on a run's folder,
run all cells, move a slider. The test starts ``jupyter lab`` on a free localhost port with a
random token and its own config, runtime, settings and workspace folders, opens the notebook
(its ``output_dir`` set by a papermill ``injected-parameters`` cell, as a run sets it), runs
every cell, drags the "Neighbours" slider and waits for the plotly map to show other data.
It also checks what the issue reported broken: the widgets load (no "Please install
anywidget", no "Error displaying widget"), segments read as the run's persona names, and the
segment picker is not empty after a refit. The server and its kernels are stopped at the end,
whatever happened. Screenshots: ``.cache/browser/jupyterlab-explore-*.png``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import SCREENSHOTS, Chromium, require_chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("browser")]
# one loud skip line for the module when Chromium is missing
require_chromium(module=True, what="the explorer notebook was NOT checked in JupyterLab")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"
#: Seconds allowed for the first fit (imports, numba, UMAP) and for each refit; generous for
#: a loaded 2-core machine.
FIT_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """``jupyter lab`` on localhost, isolated from the user's Jupyter setup; stopped on exit
    with every kernel it started."""

    def __init__(self, root_dir: Path, work: Path):
        self.root_dir, self.work = root_dir, work
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.proc = None
        self.log = work / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "JupyterLab":
        env = dict(os.environ)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                     "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
            folder = self.work / name.lower()
            folder.mkdir(parents=True, exist_ok=True)
            env[name] = str(folder)
        # no "get notified about Jupyter news?" toast over the outputs
        labconfig = self.work / "jupyter_config_dir" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {
            "@jupyterlab/apputils-extension:announcements": True}}))
        env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root_dir}",
               # window.jupyterapp, to run JupyterLab commands ("run all cells") by name
               "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate", "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")   # tests run as root in containers
        self._log = open(self.log, "wb")
        try:
            self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.root_dir, start_new_session=True)
        except BaseException:
            self._log.close()
            raise
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer on {self.url} within {timeout_s} s:\n"
                           + self.log.read_text(errors="replace")[-3000:])

    def kernel_pids(self) -> list[int]:
        """Processes the server started (its kernels), found while it runs."""
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """Shut the kernels down through the API, stop the server, kill what is left."""
        import psutil

        if self.proc is None:
            return
        children = self.kernel_pids()
        try:
            for k in self.api("/api/kernels") or []:
                self.api(f"/api/kernels/{k['id']}", method="DELETE")
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # the server shuts down its kernels too
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for pid in children:
            try:
                p = psutil.Process(pid)
                p.wait(timeout=10)
            except psutil.NoSuchProcess:
                continue
            except psutil.TimeoutExpired:
                p.kill()
        self._log.close()
        self.stopped_children = children
        self.proc_returncode = self.proc.returncode


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run with personas: ingest, a quick segment step (the explorer's first setting,
    no stability refits), quotes and personas."""
    from personalab import steps

    out = tmp_path_factory.mktemp("lab-run")
    steps.ingest(SAMPLE / "sample_wave.csv", output_dir=out,
                 codebook_path=SAMPLE / "codebook.yml", wave="sample")
    steps.segment(out, seed=42, reducer="umap", clusterer="hdbscan", n_neighbors=15,
                  min_segment_share=0.05, n_boot=0, golden=False)
    steps.quotes(out, themes_path=SAMPLE / "themes.yml", seed=42)
    personas = steps.personas(out, wave="sample")
    return out, {p.segment: p.name for p in personas}


@pytest.fixture(scope="module")
def lab(tmp_path_factory, run_dir):
    """JupyterLab serving a folder with explore.ipynb, its output_dir injected as papermill
    injects a run's parameters."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    out, _ = run_dir
    root = tmp_path_factory.mktemp("lab-root")
    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), {"output_dir": str(out)})
    nbformat.write(nb, root / "explore.ipynb")
    server = JupyterLab(root, tmp_path_factory.mktemp("lab-home"))
    with server:
        yield server
    # cleaned up: the server has exited and none of its kernels is left
    import psutil

    assert server.proc_returncode is not None
    assert server.stopped_children, "the explorer's kernel was never seen"
    assert not [p for p in server.stopped_children if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


@pytest.fixture(scope="module")
def browser():
    with Chromium() as b:
        yield b


# Every plotly figure in the notebook's outputs: trace names, colours, point counts and the
# first coordinates (enough to see that a refit changed the map).
_FIGURES = """
() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot')).map(gd => ({
  traces: (gd.data || []).map(t => ({
    name: t.name, type: t.type, n: t.x ? t.x.length : 0,
    color: t.marker ? t.marker.color : null,
    head: t.x ? Array.from(t.x).slice(0, 5).map(v => Math.round(v * 1e4) / 1e4) : [],
  })),
}))
"""

# The segment picker (the only dropdown of the explorer): its options and what it shows
# (ipywidgets writes the labels' spaces as non-breaking ones).
_PICKER = """
() => {
  const s = document.querySelector('.jp-OutputArea .widget-dropdown select');
  if (!s) return null;
  const text = o => o.textContent.replace(/\u00a0/g, ' ');
  return {options: Array.from(s.options).map(text), value: s.value,
          selected: s.selectedIndex >= 0 ? text(s.options[s.selectedIndex]) : null};
}
"""


def _shot(page, name: str) -> Path:
    """The explorer's output (sliders, status, map, heatmap, picker) as the user sees it."""
    path = SCREENSHOTS / f"jupyterlab-explore-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-Cell").last.locator(".jp-Cell-outputArea").screenshot(path=str(path))
    return path


def test_explorer_runs_in_jupyterlab_and_a_slider_changes_the_map(lab, browser, run_dir):
    import pandas as pd

    from personalab.artifacts import ArtifactStore
    from personalab.plotting import segment_colors

    run, personas = run_dir
    # tall enough for the whole explorer output to be on screen at once
    context = browser.new_context(viewport={"width": 1400, "height": 2600})
    messages, errors = [], []
    try:
        page = context.new_page()
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{lab.url}/lab/tree/explore.ipynb?token={lab.token}",
                  wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
            " === 'idle'", timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # the explorer is up: two figures drawn and a segment picked
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-OutputArea .js-plotly-plot').length >= 2"
            " && document.querySelector('.jp-OutputArea .widget-dropdown select')"
            " && document.querySelector('.jp-OutputArea .widget-dropdown select').options"
            ".length > 0", timeout=FIT_TIMEOUT_S * 1000)
        page.wait_for_timeout(500)
        _shot(page, "before")
        text = page.evaluate("() => document.body.innerText")
        assert "Please install anywidget" not in text
        assert "Error displaying widget" not in text
        assert "Traceback" not in text, text[-3000:]
        before = page.evaluate(_FIGURES)
        seg_map = before[0]["traces"]
        # segments read as the run's personas, never as bare numbers
        assert {t["name"] for t in seg_map} - {"unassigned"} == set(personas.values())
        assert all(t["type"] == "scattergl" and t["n"] > 0 for t in seg_map)
        # each persona in the colour the report gives it (segment_colors over the run)
        colors = segment_colors(pd.unique(ArtifactStore(run).load("labels")))
        assert {t["name"]: t["color"] for t in seg_map} == {
            "unassigned" if s == -1 else personas[s]: c for s, c in colors.items()}
        picker = page.evaluate(_PICKER)
        assert picker["selected"] and picker["selected"].split(" · ")[0] in personas.values()
        assert [o.split(" · ")[0] for o in picker["options"]] == \
            [personas[s] for s in sorted(personas)]

        # move the "Neighbours" slider to the right with the mouse
        slider = page.locator(".jp-OutputArea .widget-slider", has_text="Neighbours")
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() == "15"
        handle = slider.locator(".noUi-handle")
        track = slider.locator(".noUi-target")
        hb, tb = handle.bounding_box(), track.bounding_box()
        page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
        page.mouse.down()
        page.mouse.move(tb["x"] + tb["width"] * 0.45, hb["y"] + hb["height"] / 2, steps=10)
        page.mouse.up()
        moved_to = int(readout.inner_text().strip())
        assert moved_to > 15
        # the kernel refits and the map shows other data
        page.wait_for_function(
            f"(before) => {{ const f = ({_FIGURES.strip()})(); "
            "return f.length >= 2 && JSON.stringify(f[0]) !== JSON.stringify(before); }",
            arg=before[0], timeout=FIT_TIMEOUT_S * 1000)
        page.wait_for_timeout(1000)
        _shot(page, "after")
        after = page.evaluate(_FIGURES)
        assert after[0] != before[0]
        assert sum(t["n"] for t in after[0]["traces"]) == sum(t["n"] for t in seg_map)
        picker = page.evaluate(_PICKER)
        assert picker["options"] and picker["selected"], picker   # not emptied by the refit
        status = page.locator(".jp-OutputArea .widget-html", has_text="segments,")
        assert "segments," in status.first.inner_text()
        assert not [e for e in errors if "anywidget" in e.lower() or "widget" in e.lower()], \
            errors
        assert not [m for m in messages if m.startswith("error") and (
            "Failed to load model class" in m or "anywidget" in m)], messages
    finally:
        context.close()
