"""Open a report in headless Chromium and say what a stakeholder's browser would see.

The stakeholder report must work opened from disk with no network. This helper loads a page
in Debian's ``chromium`` (``make browser`` installs it) through playwright and collects what
would go wrong there: console errors, uncaught exceptions, any request other than the file
itself, Content-Security-Policy violations, plotly figures that did not draw, and whether a
script planted in respondent text ran (it would set ``window.__pwned``).

Why these Chromium switches:

* ``--headless --no-sandbox``: tests run as root in containers, where the sandbox cannot start.
* ``--disable-gpu --use-angle=swiftshader --enable-unsafe-swiftshader``: no GPU here, so WebGL
  (plotly's ``Scattergl``, used by the segment map) runs on SwiftShader, Chromium's CPU
  renderer. Chromium is retiring SwiftShader as a silent WebGL fallback; the flag keeps it
  (playwright passes it too). Measured on Debian's Chromium 156: ``--use-gl=swiftshader``
  without ``--enable-unsafe-swiftshader`` gives no WebGL context at all, and every
  ``Scattergl`` figure stays blank (test_every_figure_renders catches that).
* ``--disable-quic --disable-background-networking --disable-component-update --disable-sync
  --no-first-run`` and a fresh user-data dir (playwright makes one per launch): the browser
  makes no request of its own, so every request recorded comes from the page.

Usage::

    with Chromium() as browser:
        check = browser.open_report("reports/sample/index.html")
    assert_report_is_safe("reports/sample/index.html")   # launches its own browser
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest

CHROMIUM = Path(os.environ.get("PERSONALAB_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = ("install it with `make browser` (runs `apt-get install --no-install-recommends "
                "chromium` as root) or `sudo apt-get install chromium`; the Python driver is "
                "`pip install playwright` (in the `test` extra)")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
#: The global a planted script sets; nothing in a real report may define it.
PWNED_FLAG = "__pwned"
#: Where screenshots go unless a test says otherwise.
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".cache" / "browser"
#: URL schemes a self-contained page may still load (inline images, plotly's blobs).
ALLOWED_SCHEMES = ("data:", "blob:")

# Runs before any page script: records CSP violations (blocked requests never reach the
# network, so they would not show up as requests).
_INIT_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"""

# Measures every plotly figure on the page. A figure is a `.js-plotly-plot` div (plotly adds
# that class when it draws) or a `div.plotly-graph-div` (what `fig.to_html` writes, so a figure
# whose script failed before drawing is still counted). It has rendered when its main SVG layer
# is laid out and it drew marks: SVG marks in a trace group or plot area (points, lines, bars,
# heatmap images, pie slices) or non-blank pixels in a WebGL canvas (Scattergl). plotly creates
# its WebGL context with preserveDrawingBuffer, so the canvas can be read back with drawImage.
_MEASURE_FIGURES = """
() => Array.from(document.querySelectorAll('.js-plotly-plot, div.plotly-graph-div')).map(gd => {
  const svg = gd.querySelector('svg.main-svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  let svgMarks = 0;
  // Trace groups (g.trace; heatmaps draw one <image> in g.hm) and the plot areas that hold them.
  gd.querySelectorAll(['g.trace', 'g.hm', '.plot', '.overplot']
                      .map(s => 'svg.main-svg ' + s).join(', ')).forEach(g => {
    g.querySelectorAll('path').forEach(p => {
      const d = p.getAttribute('d') || '';
      if (/[0-9]/.test(d) && d !== 'M0,0Z') svgMarks += 1;
    });
    g.querySelectorAll('image').forEach(i => {
      if (i.getAttribute('href') || i.getAttributeNS('http://www.w3.org/1999/xlink', 'href')) {
        svgMarks += 1;
      }
    });
  });
  let glPixels = 0, glCanvases = 0;
  gd.querySelectorAll('canvas').forEach(c => {
    if (!c.width || !c.height) return;
    glCanvases += 1;
    const copy = document.createElement('canvas');
    copy.width = c.width; copy.height = c.height;
    const ctx = copy.getContext('2d');
    try { ctx.drawImage(c, 0, 0); } catch (e) { return; }
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) glPixels += 1;
  });
  const traces = (gd._fullData || []).filter(t => t.visible === true);
  return {
    id: gd.id,
    traces: traces.length,
    trace_types: traces.map(t => t.type),
    has_main_svg: !!svg && box.width > 0 && box.height > 0,
    svg_marks: svgMarks,
    gl_canvases: glCanvases,
    gl_pixels: glPixels,
  };
})
"""


# Scrolls a figure into view and gives the viewport position of each cartesian trace's first
# point, where a mouse move shows its hover label.
_HOVER_TARGETS = """
(id) => {
  const gd = document.getElementById(id);
  if (!gd || !gd._fullLayout) return [];
  gd.scrollIntoView({block: 'center'});
  const box = gd.getBoundingClientRect(), fl = gd._fullLayout, out = [];
  (gd._fullData || []).forEach(t => {
    if (t.visible !== true || !t.xaxis || !t.yaxis) return;
    const xa = fl['xaxis' + t.xaxis.slice(1)], ya = fl['yaxis' + t.yaxis.slice(1)];
    let xv = t.x && t.x.length ? t.x[0] : 0, yv = t.y && t.y.length ? t.y[0] : 0;
    if (t.type === 'bar') {   // the middle of the bar, not its edge
      if (t.orientation === 'h') xv = xv / 2; else yv = yv / 2;
    }
    const x = box.left + xa._offset + xa.d2p(xv), y = box.top + ya._offset + ya.d2p(yv);
    if (isFinite(x) && isFinite(y)) out.push([x, y]);
  });
  return out;
}
"""


def chromium_available() -> bool:
    """True when Debian's chromium and the playwright driver are both installed."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


REPORT_NOT_CHECKED = "the stakeholder report was NOT checked in a real browser"


def chromium_missing_reason(what: str = REPORT_NOT_CHECKED) -> str:
    """The loud reason a browser test is skipped (empty when nothing is missing); ``what``
    says what went unchecked."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium is not installed at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package `playwright` is not installed")
    if not missing:
        return ""
    return (f"!!! BROWSER TESTS SKIPPED: {what}: " + " and ".join(missing) + "; "
            + INSTALL_HINT)


def require_chromium(*, module: bool = False, what: str = REPORT_NOT_CHECKED) -> None:
    """Skip the calling test (or the whole ``module``), loudly, when the browser cannot run.

    With ``PERSONALAB_REQUIRE_BROWSER=1`` in the environment a missing browser fails instead,
    for machines where the browser check must not be lost silently.
    """
    reason = chromium_missing_reason(what)
    if not reason:
        return
    if os.environ.get("PERSONALAB_REQUIRE_BROWSER") == "1":
        pytest.fail(reason.replace("SKIPPED", "FAILED (PERSONALAB_REQUIRE_BROWSER=1)"),
                    pytrace=False)
    pytest.skip(reason, allow_module_level=module)


@dataclass
class FigureCheck:
    """What one plotly figure shows once the page has settled."""

    id: str
    traces: int
    trace_types: list[str]
    has_main_svg: bool
    svg_marks: int
    gl_canvases: int
    gl_pixels: int
    #: Hover labels seen when the mouse was moved onto each trace's first point.
    hover_labels: int = 0

    @property
    def rendered(self) -> bool:
        """Laid out with its main SVG layer, with traces, and something actually drawn."""
        return (self.has_main_svg and self.traces > 0
                and (self.svg_marks > 0 or self.gl_pixels > 0))


@dataclass
class PageCheck:
    """Everything :func:`open_report` saw while loading one page."""

    path: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: Every request other than the page file itself and data:/blob: URLs (all were aborted).
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    figure_checks: list[FigureCheck] = field(default_factory=list)
    #: ``window.__pwned`` after load: None unless a planted script ran.
    pwned: object = None
    #: The page's visible text (``document.body.innerText``).
    text: str = ""
    screenshot: Path | None = None

    @property
    def figures(self) -> int:
        """Number of plotly figures on the page (drawn or not)."""
        return len(self.figure_checks)

    @property
    def rendered(self) -> int:
        """How many of them actually drew their traces."""
        return sum(f.rendered for f in self.figure_checks)

    def problems(self) -> list[str]:
        """Every way the page fails the report's contract, one line each (empty = safe)."""
        out = [f"console error: {m}" for m in self.console_errors]
        out += [f"uncaught page error: {m}" for m in self.page_errors]
        out += [f"network request: {u}" for u in self.requests]
        out += [f"Content-Security-Policy violation: {v}" for v in self.csp_violations]
        out += [f"figure #{f.id} did not render: {f}" for f in self.figure_checks
                if not f.rendered]
        if self.pwned is not None:
            out.append(f"a planted script ran: window.{PWNED_FLAG} = {self.pwned!r}")
        return out

    def assert_safe(self, *, min_figures: int = 0) -> "PageCheck":
        """Fail with every problem found (see :meth:`problems`); return self when safe."""
        problems = self.problems()
        if self.figures < min_figures:
            problems.append(f"expected at least {min_figures} plotly figures, found {self.figures}")
        assert not problems, (f"{self.path} is not safe to share (screenshot: {self.screenshot}):"
                              "\n  " + "\n  ".join(problems))
        return self


class Chromium:
    """One headless Chromium for many pages (launching costs seconds: share it per module)."""

    def __init__(self, executable: Path | str = CHROMIUM):
        self.executable = Path(executable)
        self._pw = None
        self._browser = None

    def __enter__(self) -> "Chromium":
        require_chromium()
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            # A plain launch runs on a fresh temporary user-data dir that playwright deletes
            # on close (it refuses --user-data-dir in args), so no profile state leaks in.
            self._browser = self._pw.chromium.launch(
                executable_path=str(self.executable), headless=True, args=CHROMIUM_ARGS)
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._pw is not None:
            self._pw.stop()
            self._pw = None

    def new_context(self, **options):
        """A fresh playwright browser context (own cookies and storage) for pages served
        over HTTP, e.g. JupyterLab on localhost; close it when done."""
        options.setdefault("viewport", {"width": 1400, "height": 1000})
        return self._browser.new_context(**options)

    def open_report(self, path, *, screenshot: Path | str | None = None, hover: bool = True,
                    settle_ms: int = 300, timeout_ms: int = 60_000) -> PageCheck:
        """Load ``path`` from disk and report what happened (see :class:`PageCheck`).

        With ``hover``, the mouse visits the first point of every trace of every figure, so
        respondent text shown only in hover labels is rendered before the planted-script check.
        """
        path = Path(path).resolve()
        url = path.as_uri()

        def is_page(u: str) -> bool:   # the file itself, however the browser spells its URL
            return unquote(u.split("#", 1)[0]) == unquote(url)

        check = PageCheck(path=path)
        context = self._browser.new_context(viewport={"width": 1400, "height": 1000},
                                            offline=True, service_workers="block")
        try:
            def route(r):
                # Nothing leaves the machine: every request but the page itself is aborted
                # (and recorded by the "request" listener below).
                if is_page(r.request.url):
                    r.continue_()
                else:
                    r.abort()

            context.route("**/*", route)
            context.add_init_script(_INIT_SCRIPT)
            page = context.new_page()
            page.on("console", lambda m: check.console_errors.append(
                f"{m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})")
                if m.type == "error" else None)
            page.on("pageerror", lambda e: check.page_errors.append(str(e)))
            page.on("request", lambda r: check.requests.append(r.url)
                    if not is_page(r.url) and not r.url.startswith(ALLOWED_SCHEMES) else None)
            page.goto(url, wait_until="load", timeout=timeout_ms)
            # plotly draws synchronously in newPlot but lays out responsive figures and WebGL
            # on the next frames: wait for two animation frames, then a short settle.
            page.evaluate("() => new Promise(r => requestAnimationFrame("
                          "() => requestAnimationFrame(r)))")
            page.wait_for_timeout(settle_ms)
            check.figure_checks = [FigureCheck(**f) for f in page.evaluate(_MEASURE_FIGURES)]
            if hover:
                for figure in check.figure_checks:
                    figure.hover_labels = _hover(page, figure.id)
            check.csp_violations = page.evaluate("() => window.__cspViolations || []")
            check.pwned = page.evaluate(
                f"() => (typeof window.{PWNED_FLAG} === 'undefined') ? null : "
                f"String(window.{PWNED_FLAG})")
            check.text = page.evaluate("() => document.body ? document.body.innerText : ''")
            if screenshot is not None:
                check.screenshot = Path(screenshot)
                check.screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(check.screenshot), full_page=True)
        finally:
            context.close()
        return check


def _hover(page, div_id: str) -> int:
    """Move the mouse onto each trace's first point; the most hover labels seen at once."""
    seen = 0
    for x, y in page.evaluate(_HOVER_TARGETS, div_id):
        page.mouse.move(x, y)
        page.wait_for_timeout(60)   # plotly throttles hover to one event per 50 ms
        seen = max(seen, page.evaluate(
            "(id) => document.getElementById(id).querySelectorAll('.hoverlayer .hovertext')"
            ".length", div_id))
    return seen


def open_report(path, *, screenshot: Path | str | None = None,
                browser: Chromium | None = None) -> PageCheck:
    """Load one page in headless Chromium (a new browser unless ``browser`` is given).

    The full-page screenshot goes to ``screenshot``, by default to
    ``.cache/browser/<folder>-<name>.png`` in the project (ignored by git, removed by
    ``make clean``): reports hold respondents' words and must not land anywhere shared.
    """
    if screenshot is None:
        path = Path(path).resolve()
        screenshot = SCREENSHOTS / f"{path.parent.name}-{path.stem}.png"
    if browser is not None:
        return browser.open_report(path, screenshot=screenshot)
    with Chromium() as own:
        return own.open_report(path, screenshot=screenshot)


def assert_report_is_safe(path, *, browser: Chromium | None = None,
                          min_figures: int = 0, screenshot: Path | str | None = None) -> PageCheck:
    """Fail unless the report at ``path`` loads cleanly in a real browser.

    No JavaScript error, no request beyond the file itself, no CSP violation, every plotly
    figure drawn (and at least ``min_figures`` of them), no planted script run. Skips, loudly,
    where Chromium is missing. Returns the :class:`PageCheck` for further assertions.
    """
    require_chromium()
    check = open_report(path, screenshot=screenshot, browser=browser)
    return check.assert_safe(min_figures=min_figures)
