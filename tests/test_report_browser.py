"""The stakeholder report in a real browser: no JS errors, no requests, figures drawn, no XSS.

A page is built from hand-made inputs with report.py's own pieces (``figure_html``,
``table_html``, ``persona_cards_html``, the report template and its embedded plotly.js), with
script payloads planted wherever respondent text can land, then loaded in headless Chromium
(see tests/browser.py). The checker itself is tested on pages that do break each rule, so none
of these tests can pass by seeing nothing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from markupsafe import Markup

from browser import Chromium, PageCheck, assert_report_is_safe, open_report, require_chromium
from _planted_survey import ReportSurvey
from personalab import __version__, report
from personalab.personas import Evidence, PersonaDraft, Quote, Statement
from personalab.plotting import visualize_segment_map

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
require_chromium(module=True)   # one loud skip line for the module when Chromium is missing

# What a hostile or careless respondent could type. Each sets a different value, so a failure
# says which one ran.
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"
BREAK_OUT = "</script><script>window.__pwned=3</script>"    # into plotly's inline JSON
ATTRIBUTE = '"><img src=x onerror=window.__pwned=4>'        # into a title="..." attribute

N_SCATTER = 40


def _page(sections, *, plotly: bool = True, title: str = "Browser test") -> str:
    """The report template around ``sections``, exactly as ``build_report`` fills it."""
    from plotly.offline import get_plotlyjs

    return report._env().get_template("report.html.j2").render(
        title=title, wave="browser-test", version=__version__, generated=None,
        sections=sections, plotlyjs=Markup(get_plotlyjs()) if plotly else None)


def _statement(text, ref="profile:q1:agree") -> Statement:
    return Statement(text, [Evidence("profile", ref, question="q1", value=0.61, total=0.4,
                                     index=152, test="chi2", p_adjusted=0.0004, n=120)])


def _persona(segment: int) -> PersonaDraft:
    return PersonaDraft(
        segment=segment, name=f"Budget-minded Beth {segment}", first_name="Beth",
        descriptor="Budget-minded",
        headline=_statement(f"31% of respondents. Says {SCRIPT} often."),
        size={"n": 120, "share": 0.31}, size_statement=_statement("120 respondents."),
        confidence="high", confidence_statement=_statement("High confidence: stable."),
        goals=[_statement(f"Wants {IMG} to stop.")],
        pain_points=[_statement("Plain pain point.", ref=f"theme:{ATTRIBUTE}")],
        distinctive=[_statement(f"Wrote {BREAK_OUT} in a comment.")],
        quotes=[Quote(respondent_id=f"R_{segment}{ATTRIBUTE}", question="q_open",
                      text=f"Honestly {SCRIPT} and {IMG}", themes=["price", IMG])],
    )


def _figures() -> list[tuple[str, go.Figure]]:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, N_SCATTER))
    scatter = go.Figure(go.Scatter(x=x, y=y, mode="markers", name=BREAK_OUT,
                                   hovertext=[SCRIPT] * N_SCATTER))
    scattergl = go.Figure(go.Scattergl(x=x, y=y, mode="markers", name=IMG,
                                       marker=dict(size=8, color="#2f6fde")))
    bar = go.Figure(go.Bar(x=["a", "b", BREAK_OUT], y=[3, 1, 2]))
    heatmap = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]], x=["x", SCRIPT], y=["u", "v"]))
    labels = np.array([0] * 30 + [1] * 20 + [-1] * 5)
    hover = pd.DataFrame({"respondent_id": [f"R_{i}" for i in range(55)],
                          "answer": [BREAK_OUT] * 55})
    segment_map = visualize_segment_map(rng.normal(size=(55, 2)) + labels[:, None] * 3, labels,
                                        hover)
    return [("fig-scatter", scatter), ("fig-scattergl", scattergl), ("fig-bar", bar),
            ("fig-heatmap", heatmap), ("fig-segment-map", segment_map)]


@pytest.fixture(scope="module")
def browser():
    with Chromium() as b:
        yield b


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    table = pd.DataFrame({"respondent": ["R_1", "R_2"], "answer": [SCRIPT, IMG],
                          BREAK_OUT: [1.5, 2.25]})
    sections = [
        report.Section("figures", "Figures", Markup("\n".join(
            f'<div class="figure">{report.figure_html(fig, div_id)}</div>'
            for div_id, fig in _figures()))),
        report.Section("table", "Table", report.table_html(table)),
        report.Section("personas", "Personas",
                       Markup(report.persona_cards_html([_persona(0), _persona(1)]))),
    ]
    path = tmp_path_factory.mktemp("report") / "index.html"
    path.write_text(_page(sections), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def page(browser, report_path) -> PageCheck:
    return open_report(report_path, browser=browser)


# --------------------------------------------------------------------------- the report
def test_report_loads_with_no_javascript_errors(page):
    assert page.console_errors == []
    assert page.page_errors == []


def test_report_makes_no_network_request(page):
    assert page.requests == []
    assert page.csp_violations == []


def test_every_figure_renders(page):
    by_id = {f.id: f for f in page.figure_checks}
    assert sorted(by_id) == sorted(div_id for div_id, _ in _figures())
    assert page.rendered == page.figures == 5, [f for f in page.figure_checks if not f.rendered]
    # SVG scatter: one marker path per point.
    assert by_id["fig-scatter"].svg_marks >= N_SCATTER
    # WebGL (Scattergl) figures drew pixels on their canvas, not just the axes around it.
    for div_id in ("fig-scattergl", "fig-segment-map"):
        assert by_id[div_id].gl_pixels > 100, by_id[div_id]
    assert by_id["fig-segment-map"].traces == 3


def test_hover_labels_with_planted_text_are_shown(page):
    # The checker hovers the first point of every trace: payloads in hover text, trace names
    # and axis labels are rendered, and test_planted_scripts_never_run sees whether they ran.
    hovered = {f.id: f.hover_labels for f in page.figure_checks}
    assert all(n >= 1 for n in hovered.values()), str(hovered)


def test_planted_scripts_never_run(page):
    assert page.pwned is None


def test_planted_text_is_visible_as_text(page):
    # Quote, statements and table cells show the payload as the characters that were typed.
    for payload in (SCRIPT, IMG, BREAK_OUT):
        assert payload in page.text, payload
    assert f"Honestly {SCRIPT} and {IMG}" in page.text
    assert f"Says {SCRIPT} often." in page.text


def test_screenshot_is_written(page):
    assert page.screenshot is not None and page.screenshot.stat().st_size > 10_000


def test_the_report_passes_the_whole_check(page):
    assert page.problems() == []
    assert page.assert_safe(min_figures=5) is page
    with pytest.raises(AssertionError, match="expected at least 6 plotly figures, found 5"):
        page.assert_safe(min_figures=6)


def test_build_report_with_no_artifacts_is_safe(browser, tmp_path):
    (tmp_path / "empty-wave").mkdir()
    out = report.build_report(tmp_path / "empty-wave")
    check = assert_report_is_safe(out, browser=browser)
    assert check.figures == 0 and "Methods and caveats" in check.text


def test_standalone_persona_cards_are_safe(browser, tmp_path):
    out = tmp_path / "personas.html"
    out.write_text(report.persona_cards_html([_persona(3)], wave=SCRIPT, standalone=True),
                   encoding="utf-8")
    check = assert_report_is_safe(out, browser=browser)
    assert f"Honestly {SCRIPT} and {IMG}" in check.text


# --------------------------------------------------------------------------- the checker
def _write(tmp_path, body: str, *, plotly: bool = True, csp: bool = True):
    html = _page([report.Section("s", "Section", Markup(body))], plotly=plotly)
    if not csp:
        start = html.index('<meta http-equiv="Content-Security-Policy"')
        html = html[:start] + html[html.index(">", start) + 1:]
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    return path


def _assert_unsafe(check: PageCheck, *expected):
    with pytest.raises(AssertionError) as err:
        check.assert_safe()
    for text in expected:
        assert text in str(err.value), str(err.value)


def test_checker_sees_a_script_that_runs(browser, tmp_path):
    path = _write(tmp_path, f"<p>{SCRIPT}</p>", plotly=False)
    with pytest.raises(AssertionError, match=r"a planted script ran: window.__pwned = '1'"):
        assert_report_is_safe(path, browser=browser)


def test_checker_sees_an_event_handler_that_runs(browser, tmp_path):
    path = _write(tmp_path, f"<p>{IMG}</p>", plotly=False)
    check = browser.open_report(path)
    assert check.pwned == "2"
    assert any("img-src" in v for v in check.csp_violations), check.csp_violations
    _assert_unsafe(check, "window.__pwned = '2'")


def test_checker_sees_network_requests(browser, tmp_path):
    body = ('<img src="http://192.0.2.1/pixel.png">'
            "<script>fetch('https://example.invalid/beacon').catch(() => {})</script>")
    check = browser.open_report(_write(tmp_path, body, plotly=False, csp=False))
    assert "http://192.0.2.1/pixel.png" in check.requests
    assert "https://example.invalid/beacon" in check.requests
    # With the report's policy in place the same page is refused before it reaches the network.
    with_csp = tmp_path / "csp"
    with_csp.mkdir()
    check = browser.open_report(_write(with_csp, body, plotly=False))
    assert any("192.0.2.1" in v for v in check.csp_violations), check.csp_violations
    _assert_unsafe(check, "Content-Security-Policy violation")


def test_checker_sees_javascript_errors(browser, tmp_path):
    path = _write(tmp_path, "<script>undefinedFunction()</script>"
                            "<script>console.error('logged failure')</script>", plotly=False)
    check = browser.open_report(path)
    assert any("undefinedFunction" in e for e in check.page_errors), check.page_errors
    assert any("logged failure" in e for e in check.console_errors), check.console_errors
    _assert_unsafe(check, "uncaught page error", "console error")


def test_checker_sees_figures_that_do_not_draw(browser, tmp_path):
    drawn = report.figure_html(go.Figure(go.Scatter(x=[1, 2], y=[1, 2])), "drawn")
    empty = report.figure_html(go.Figure(go.Scatter(x=[], y=[])), "empty")
    empty_gl = report.figure_html(go.Figure(go.Scattergl(x=[], y=[])), "empty-gl")
    check = browser.open_report(_write(tmp_path, drawn + empty + empty_gl))
    assert (check.figures, check.rendered) == (3, 1), check.figure_checks
    # Without the embedded plotly.js the figure is still counted, and reported as not drawn.
    no_js = tmp_path / "no-js"
    no_js.mkdir()
    path = _write(no_js, drawn, plotly=False)
    check = browser.open_report(path)
    assert (check.figures, check.rendered) == (1, 0)
    _assert_unsafe(check, "figure #drawn did not render", "Plotly is not defined")


# ------------------------------------------------- one name and one colour per persona
LONG_Q = ("To what extent do you agree that your employer takes mental health as seriously "
          "as physical health?")

# every element of the drawn page that shows a persona, with the colour it shows it in
_PERSONA_COLOURS = """() => {
  const out = [];
  const add = (where, text, colour) => out.push([where, text.trim(), colour]);
  // axis ticks drawn from "<span style='color:…'>■</span> Name": the square's fill
  for (const div of document.querySelectorAll('.js-plotly-plot')) {
    for (const tick of div.querySelectorAll('.xtick text, .ytick text')) {
      const square = [...tick.querySelectorAll('tspan')].find(t => t.textContent === '■');
      if (square) add(div.id + ' axis', tick.textContent.replace('■', ''),
                      getComputedStyle(square).fill);
    }
    // legend entries (segment map, theme bars) and bars by category (sizes)
    for (const item of div.querySelectorAll('.legend .traces')) {
      const point = item.querySelector('.legendpoints path');
      add(div.id + ' legend', item.querySelector('.legendtext').textContent,
          point ? getComputedStyle(point).fill : '');
    }
    const gd = div;
    for (const trace of gd.data || []) {
      if (trace.type === 'bar' && Array.isArray(trace.marker && trace.marker.color))
        trace.x.forEach((name, i) => add(div.id + ' bar', name, trace.marker.color[i]));
    }
  }
  for (const card of document.querySelectorAll('article.card'))
    add('card', card.querySelector('h3').childNodes[1].textContent,
        getComputedStyle(card).borderTopColor);
  for (const swatch of document.querySelectorAll('td .swatch'))
    add('table', swatch.parentElement.textContent, getComputedStyle(swatch).backgroundColor);
  return out;
}"""


def _rgb(colour: str) -> str:
    """'#aabbcc' or 'rgb(1, 2, 3)' as 'rgb(1, 2, 3)'."""
    colour = colour.strip()
    if colour.startswith("#"):
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgb({r}, {g}, {b})"
    return colour.replace(" ", "").replace(",", ", ")


@pytest.fixture(scope="module")
def named_report(tmp_path_factory):
    """A report built by build_report from a run with three personas (segments 0, 1, 3),
    unassigned respondents and a long question with a short label."""
    from personalab.artifacts import ArtifactStore
    from personalab.codebook import Codebook, Question
    from personalab.profiles import segment_sizes

    out = tmp_path_factory.mktemp("named-report")
    store = ArtifactStore(out)
    rng = np.random.default_rng(0)
    segs = np.array([0] * 40 + [1] * 30 + [3] * 20 + [-1] * 10)
    ids = [f"R{i}" for i in range(len(segs))]
    labels = pd.Series(segs, index=ids, name="segment")
    names = {0: "Open Olivia", 1: "Guarded Gary", 3: "Careful Cara"}
    personas = []
    for seg, name in names.items():
        share = float((segs == seg).mean())
        p = _persona(seg)
        p.name, p.first_name = name, name.split()[1]
        p.size = {"n": int((segs == seg).sum()), "share": share, "weighted_share": share,
                  "ci_low": share - 0.05, "ci_high": share + 0.05}
        personas.append(p)
    rows = []
    for seg in (0, 1, 3, -1):
        v = {0: 4.0, 1: 2.0, 3: 3.5, -1: 3.0}[seg]
        rows.append(dict(segment=seg, question="mh_serious", question_text=LONG_Q,
                         variable="mh_serious", level=None, type="likert", measure="mean",
                         value=v, total=3.0, index=100 * v / 3, significant=seg != -1,
                         p_adjusted=0.001, effect_size=(v - 3) / 0.8))
    store.save("survey", ReportSurvey(Codebook(questions=[Question(
        id="mh_serious", type="likert", text=LONG_Q, short="Employer takes MH seriously",
        role="segment")]), ids))
    store.save("labels", labels)
    store.save("map2d", pd.DataFrame(rng.normal(size=(len(segs), 2)) + segs[:, None] * 4,
                                     index=ids, columns=["x", "y"]))
    store.save("sizes", segment_sizes(labels))
    store.save("profile", pd.DataFrame(rows))
    store.save("personas", personas)
    return report.build_report(out, wave="w1"), names


def test_each_persona_has_one_name_and_one_colour_on_the_drawn_page(browser, named_report):
    from personalab.plotting import UNASSIGNED_COLOR, segment_colors

    path, names = named_report
    check = open_report(path, browser=browser)
    assert check.page_errors == [] and check.console_errors == []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        shown = page.evaluate(_PERSONA_COLOURS)
        text = page.evaluate("() => document.body.innerText")
    finally:
        context.close()
    expected = {names[s]: _rgb(c) for s, c in segment_colors([0, 1, 3]).items()}
    expected["unassigned"] = _rgb(UNASSIGNED_COLOR)
    seen = {}
    for where, name, colour in shown:
        assert name in expected, (where, name)       # a name, never "Segment 3" or "3"
        seen.setdefault(name, set()).add(where.split(" ")[-1] if "fig-" in where else where)
        assert _rgb(colour) == expected[name], (where, name, colour)
    # every persona is drawn in the map legend, the sizes bars, the heat-map axis, its card
    # and the summary table, each time in its one colour
    for name in names.values():
        assert {"legend", "bar", "axis", "card", "table"} <= seen[name], (name, seen[name])
    # the question reads by its short label; its full wording is in the Questions glossary
    assert "Employer takes MH seriously" in text and "mh_serious\n" not in text
    assert LONG_Q in text
