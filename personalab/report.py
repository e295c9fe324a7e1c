"""The stakeholder report: one self-contained HTML file, ``reports/<wave>/index.html``.

It works opened from disk with no network: plotly.js is embedded once, there are no code
cells, and a Content-Security-Policy forbids any request. Every piece of respondent text is
HTML-escaped (Jinja2 autoescaping; tables through ``DataFrame.to_html(escape=True)``).

The report grows with the pipeline: each section is built from the run's artifacts when the
step that makes them has run (see :class:`personalab.artifacts.ArtifactStore`).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from . import __version__
from .artifacts import ArtifactStore
from .paths import TEMPLATES_DIR


@dataclass
class Section:
    """One section of the report: an anchor id, a title, and its (already safe) HTML."""

    id: str
    title: str
    html: Markup


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                       autoescape=select_autoescape(["html", "j2"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


def table_html(df: pd.DataFrame, *, index: bool = False, float_format="{:,.2f}".format,
               max_rows: int | None = None) -> Markup:
    """A DataFrame as an escaped HTML table (respondent text can never become markup)."""
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)
    return Markup(df.to_html(index=index, escape=True, border=0, classes="data",
                             float_format=float_format, na_rep="–"))


def figure_html(fig, div_id: str) -> Markup:
    """A plotly figure as a div that uses the page's single embedded plotly.js.

    ``div_id`` is fixed (plotly would draw a random one) so the same run gives a
    byte-identical report.
    """
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config={"displaylogo": False, "responsive": True}))


def esc(text) -> str:
    return html.escape("" if text is None else str(text))


def persona_cards_html(personas, *, wave: str | None = None, standalone: bool = False) -> str:
    """Persona cards as HTML: a fragment for the report, or a whole page (``standalone``)."""
    from .personas import FACET_TITLES, FACETS

    env = _env()
    cards = env.get_template("persona_cards.html.j2").render(
        personas=personas, facets=[(f, FACET_TITLES[f]) for f in FACETS])
    if not standalone:
        return cards
    section = Section("personas", "Personas", Markup(cards))
    return env.get_template("report.html.j2").render(
        title=f"Persona cards{f' — {wave}' if wave else ''}", wave=wave or "", version=__version__,
        generated=None, sections=[section], plotlyjs=None)


# --------------------------------------------------------------------------- sections
def quality_section(store: ArtifactStore) -> Section | None:
    """Data quality: who was kept, who was excluded and why (nobody silently dropped)."""
    if not store.has("quality") or not store.has("survey"):
        return None
    from .quality import quality_report_table

    survey = store.load("survey")
    quality = store.load("quality")
    n_total = len(survey.data)
    n_excl = len(quality.exclusions)
    n_kept = n_total - n_excl
    table = quality_report_table(quality, survey)
    parts = [
        f'<p class="lead">{n_total:,} responses were read from <code>{esc(Path(str(survey.source)).name)}</code>; '
        f'{n_kept:,} are analysed and {n_excl:,} ({n_excl / max(n_total, 1):.1%}) are excluded, '
        f"each with its reasons below. No response is dropped silently.</p>",
        '<div class="kpis">',
        f'<div class="kpi"><b>{n_total:,}</b>responses read</div>',
        f'<div class="kpi"><b>{n_kept:,}</b>analysed</div>',
        f'<div class="kpi"><b>{n_excl:,}</b>excluded</div>',
        "</div>",
        "<h3>Checks</h3>",
        str(table_html(table)),
    ]
    skipped = getattr(quality, "skipped", None)
    if skipped is not None and len(skipped):
        sk = skipped if isinstance(skipped, pd.DataFrame) else pd.DataFrame(
            list(dict(skipped).items()), columns=["check", "why skipped"])
        parts += ["<h3>Checks that could not run</h3>", str(table_html(sk))]
    if n_excl:
        reasons = (quality.exclusions["reasons"].str.split("; ").explode().value_counts()
                   .rename_axis("reason").reset_index(name="respondents excluded"))
        parts += ["<h3>Exclusions by reason</h3>",
                  "<p class='muted'>A respondent can have several reasons; the full list with "
                  "respondent ids is in <code>exclusions.csv</code> beside this report.</p>",
                  str(table_html(reasons))]
    return Section("data-quality", "Data quality", Markup("\n".join(parts)))


def questions_section(store: ArtifactStore) -> Section | None:
    """Per-question summary: type, role, answered and missing (with reasons)."""
    if not store.has("survey"):
        return None
    survey = store.load("survey")
    summary = survey.summary()
    intro = ("<p>Every question of the codebook, its type and its role: <b>segment</b> "
             "questions define the segments, <b>profile</b> questions only describe them. "
             "Missing answers keep their reason (for example “Don't know”).</p>")
    return Section("questions", "Questions", Markup(intro + str(table_html(summary))))


def methods_section(store: ArtifactStore, run_info: dict | None) -> Section:
    """Methods and caveats: sample, exclusions, weights, parameters."""
    rows = []
    if store.has("survey"):
        s = store.load("survey")
        w = s.weights()
        rows += [("Source file", Path(str(s.source)).name), ("Source SHA-256", s.sha256),
                 ("Export format", s.format), ("Responses read", f"{len(s.data):,}"),
                 ("Weights", "yes (" + str(s.codebook.weight) + ")" if s.codebook.weight
                  else "none (every respondent counts once)")]
        if s.codebook.weight:
            kish = float(w.sum() ** 2 / (w ** 2).sum()) if len(w) else 0.0
            rows.append(("Effective sample size (Kish)", f"{kish:,.0f}"))
    if store.has("quality"):
        q = store.load("quality")
        rows.append(("Excluded responses", f"{len(q.exclusions):,}"))
    if run_info and run_info.get("seed") is not None:
        rows.append(("Random seed", str(run_info["seed"])))
    table = pd.DataFrame(rows, columns=["item", "value"])
    return Section("methods", "Methods and caveats", Markup(str(table_html(table))))


def build_report(output_dir, *, wave: str | None = None, title: str | None = None,
                 run_info: dict | None = None) -> Path:
    """Render ``index.html`` in ``output_dir`` from the run's artifacts.

    Parameters
    ----------
    output_dir : str or Path
        The run's output folder (``reports/<wave>``).
    wave : str, optional
        Wave name shown in the title (default: the folder name).
    title : str, optional
        Page title.
    run_info : dict, optional
        Run parameters shown under methods (e.g. ``{"seed": 42}``).

    Returns
    -------
    Path
        The written ``index.html``.
    """
    output_dir = Path(output_dir)
    store = ArtifactStore(output_dir)
    wave = wave or output_dir.name
    builders = [quality_section, questions_section]
    sections = [s for s in (b(store) for b in builders) if s is not None]
    sections.append(methods_section(store, run_info))
    needs_plotly = "Plotly.newPlot" in "".join(str(s.html) for s in sections)
    plotlyjs = None
    if needs_plotly:
        from plotly.offline import get_plotlyjs

        plotlyjs = Markup(get_plotlyjs())
    html_text = _env().get_template("report.html.j2").render(
        title=title or f"PersonaLab report — {wave}", wave=wave, version=__version__,
        generated=None, sections=sections, plotlyjs=plotlyjs)
    out = output_dir / "index.html"
    out.write_text(html_text, encoding="utf-8")
    return out
