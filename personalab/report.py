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
               max_rows: int | None = None, cells: dict | None = None) -> Markup:
    """A DataFrame as an escaped HTML table (respondent text can never become markup).

    ``cells`` maps a column to one already-safe :class:`Markup` per row (a persona's name
    with its colour, a short question label with its full wording on hover): those cells
    show that markup instead of the escaped value.
    """
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)
    swaps = {}
    if cells:
        df = df.copy()
        for col, values in cells.items():
            if col not in df.columns:
                continue
            values = list(values)[: len(df)]
            tokens = [f"PLCELL{len(swaps) + i}X" for i in range(len(values))]
            swaps.update(zip(tokens, values))
            df[col] = tokens
    out = df.to_html(index=index, escape=True, border=0, classes="data",
                     float_format=float_format, na_rep="–")
    for token, value in swaps.items():  # tokens are letters and digits: never escaped
        out = out.replace(f">{token}<", f">{Markup(value)}<", 1)
    return Markup(out)


def persona_cell(seg, names: dict | None, colors: dict | None) -> Markup:
    """A segment's name as every chart shows it (:func:`personalab.plotting.segment_label`)
    after a square in its colour."""
    from .plotting import segment_label

    color = (colors or {}).get(seg)
    swatch = (f"<span class='swatch' style='background:{esc(color)}'></span>" if color
              else "")
    return Markup(swatch + esc(segment_label(seg, names)))


def question_cell(label, full) -> Markup:
    """A question's short label, its full wording on hover (when they differ)."""
    label, full = "" if label is None else str(label), "" if full is None else str(full)
    if not full or full == label:
        return Markup(esc(label))
    return Markup(f"<span title=\"{esc(full)}\">{esc(label)}</span>")


def figure_html(fig, div_id: str) -> Markup:
    """A plotly figure as a div that uses the page's single embedded plotly.js.

    ``div_id`` is fixed (plotly would draw a random one) so the same run gives a
    byte-identical report.
    """
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config={"displaylogo": False, "responsive": True}))


def esc(text) -> str:
    return html.escape("" if text is None else str(text))


def persona_cards_html(personas, *, wave: str | None = None, standalone: bool = False,
                       colors: dict | None = None, codebook=None,
                       not_personas: dict | None = None) -> str:
    """Persona cards as HTML: a fragment for the report, or a whole page (``standalone``).

    Each card carries its persona's colour (a band on top and a square by the name), the
    one it has in every chart: ``colors`` maps segment -> colour, by default
    :func:`personalab.plotting.segment_colors` of the personas' segments. A quote names
    its question as the persona draft reads it (``Quote.question_text``), else by the
    ``codebook``'s short label, never by its export column; the full wording is on hover.
    A segment in ``not_personas`` ({segment: why}, :func:`not_persona_reasons`) carries a
    "not a persona" badge with the reason on hover.
    """
    from .personas import FACET_TITLES, FACETS
    from .plotting import segment_colors

    if colors is None:
        colors = segment_colors([p.segment for p in personas])
    env = _env()
    cards = env.get_template("persona_cards.html.j2").render(
        personas=personas, facets=[(f, FACET_TITLES[f]) for f in FACETS],
        colors={p.segment: colors.get(p.segment) for p in personas},
        questions=_question_names(codebook), not_personas=not_personas or {})
    if not standalone:
        return cards
    section = Section("personas", "Personas", Markup(cards))
    return env.get_template("report.html.j2").render(
        title=f"Persona cards{f' — {wave}' if wave else ''}", wave=wave or "", version=__version__,
        generated=None, sections=[section], plotlyjs=None)


def _question_names(codebook) -> dict:
    """{question id: (short label, full wording)} of a codebook (empty without one); the
    labels are the charts' and heat maps' (:func:`personalab.codebook.distinct_labels`), so
    look-alike questions read apart in tables as they do in the figures."""
    from .codebook import distinct_labels

    qs = list(codebook or [])
    labels = distinct_labels(qs)
    return {str(q.id): (labels[str(q.id)], str(getattr(q, "text", "") or labels[str(q.id)]))
            for q in qs}


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
    if "share" in table:
        # a share of respondents, as the lead sentence gives it (3 of 822 is "0.4%", not the
        # "0.00" of a two-decimal fraction)
        table["share"] = ["–" if pd.isna(v) else f"{float(v):.1%}" for v in table["share"]]
    if "excludes" in table:
        # the total row has no 'excludes' of its own (None, which pandas prints "None"):
        # its threshold column says which flags exclude
        table["excludes"] = ["" if v is None or (not isinstance(v, str) and pd.isna(v))
                             else v for v in table["excludes"]]
    parts = [
        f'<p class="lead">{n_total:,} {"response was" if n_total == 1 else "responses were"} read from <code>{esc(Path(str(survey.source)).name)}</code>; '
        f'{n_kept:,} are analysed and {n_excl:,} ({n_excl / max(n_total, 1):.1%}) are excluded, '
        f"each with its reasons below. No response is dropped silently.</p>",
        '<div class="kpis">',
        f'<div class="kpi"><b>{n_total:,}</b>{"response" if n_total == 1 else "responses"} read</div>',
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
    analysed, note = survey, ""
    if store.has("quality"):
        quality = store.load("quality")
        if len(quality.exclusions):
            analysed = quality.apply(survey)
            n_excl = len(survey.data) - len(analysed.data)
            note = (f" (the {n_excl:,} excluded in Data quality are left out)" if n_excl
                    else "")
    n_an = len(analysed.data)
    summary = analysed.summary().reset_index(drop=True)
    names = _question_names(survey.codebook)
    ids = [str(q) for q in summary["question"]]
    label = {q: names.get(q, (q, q))[0] for q in ids}
    wording = {q: names.get(q, (q, q))[1] for q in ids}
    cells = {"question": [question_cell(label[q], wording[q]) for q in ids]}
    # the full wording where the short label cuts it, the export column where it is not
    # the wording (a glossary of the labels the charts use)
    summary.insert(1, "wording", [wording[q] if wording[q] != label[q] else "" for q in ids])
    if any(q != wording[q] for q in ids):
        summary.insert(2, "column", [q if q != wording[q] else "" for q in ids])
    intro = ("<p>Every question of the codebook, its type and its role: <b>segment</b> "
             "questions define the segments, <b>profile</b> questions only describe them. "
             "Charts and tables name a question by its short label; its full wording is "
             "here and on hover. "
             "Missing answers keep their reason (for example “Don't know”). Answered and "
             f"missing counts are over the {n_an:,} analysed "
             f"{'respondent' if n_an == 1 else 'respondents'}{note}.</p>")
    return Section("questions", "Questions", Markup(intro + str(table_html(summary,
                                                                          cells=cells))))


class _ReadOnce(ArtifactStore):
    """The run's artifacts as one report build reads them: each loaded once and shared by
    the sections (the stability result was loaded 21 times, the personas 14 and the survey
    7 for one report of the sample wave; each survey load grows with the wave). Nothing is
    saved while a report is built."""

    def __init__(self, output_dir):
        super().__init__(output_dir)
        self._read: dict = {}

    def load(self, name: str):
        if name not in self._read:
            self._read[name] = super().load(name)
        return self._read[name]


def _load(store: ArtifactStore, name: str):
    return store.load(name) if store.has(name) else None


def _persona_names(store: ArtifactStore) -> dict:
    """{segment: name} as the summary and the cards name them: the drafted personas with the
    run's verdict applied (:func:`_personas`), so a segment the checks refuse is "Segment N
    (not a persona)" in every section, even when its personas were drafted without the
    verdict."""
    return {p.segment: p.name for p in (_personas(store) or [])}


def _codebook(store: ArtifactStore):
    survey = _load(store, "survey")
    return getattr(survey, "codebook", None) if survey is not None else None


def _verdict(store: ArtifactStore):
    """The verdict the report shows: the stability check's, else the sweep's."""
    stab = _load(store, "stability")
    return stab if stab is not None else _load(store, "recommendation")


def _personas(store: ArtifactStore):
    """The drafted personas with their confidence capped by the verdict the report shows
    (a card never says "high confidence" under "No stable segments")."""
    from .personas import apply_run_verdict

    personas = _load(store, "personas")
    if personas:
        apply_run_verdict(personas, _verdict(store))
    return personas


#: What the name of a segment the checks refuse as a persona ends with, in the report's tables
NOT_A_PERSONA = "(not a persona)"


def not_persona_reasons(store: ArtifactStore, personas=None) -> dict:
    """{segment: why it is not a persona} for every segment the run's checks refuse.

    One rule with the drafting step: :func:`personalab.personas.not_a_persona_reason` of the
    verdict the report shows (the stability result's, else the sweep's recommendation) for
    every segment of the personas and of the stability table, in the words it gives (the
    words a card's ``not_a_persona`` and ``personas.json`` carry). A persona the drafting
    step (or a wave) marked is refused with its own ``not_a_persona`` reason. Personas
    pickled before that field existed are recognised by what drafting then left: a name
    ending "(not a persona)", or a confidence that says "Not a persona:".
    """
    from .personas import not_a_persona_reason

    verdict = _verdict(store)
    personas = personas if personas is not None else (_load(store, "personas") or [])
    segs = [p.segment for p in personas]
    table = getattr(_load(store, "stability"), "segments", None)
    if table is not None:
        segs += list(table.index)
    out: dict = {}
    for s in dict.fromkeys(segs):
        why = not_a_persona_reason(s, verdict)
        if why:
            out[s] = str(why).strip()
    for p in personas:
        if p.segment in out:
            continue
        own = getattr(p, "not_a_persona", None)
        if isinstance(own, str) and own.strip():
            out[p.segment] = own.strip()
            continue
        # personas pickled before ``not_a_persona`` existed
        conf = str(getattr(getattr(p, "confidence_statement", None), "text", "") or "")
        if own or str(p.name).rstrip().endswith(NOT_A_PERSONA):
            out[p.segment] = "the drafting step marked it not a persona"
        elif "Not a persona:" in conf:
            out[p.segment] = conf.split("Not a persona:", 1)[1].strip()
    return out


def stability_verdict(stab) -> str:
    """The run's verdict as the report shows it: :func:`personalab.diagnostics.stability_verdict`
    (kept here under its old name; the persona cards quote the same sentence through
    :func:`personalab.personas.run_verdict`)."""
    from .diagnostics import stability_verdict as verdict

    return verdict(stab)


def solution_reproduces(stab) -> bool:
    """Whether the run's segments reproduce on resampling by the bar of
    :func:`personalab.diagnostics.stability`: at least 2 segments, mean ARI ≥ ``MIN_ARI``
    (0.90), at most ``MAX_UNASSIGNED`` (10%) unassigned and no segment that dissolves
    (``unstable_segments``, Jaccard < 0.6). Unlike ``stab.stable`` it leaves the guards out:
    a solution the guards refuse as personas ("Not personas: the segments reproduce on
    resampling ... but ...") still reproduces. A result without those fields (an older
    pickle) answers ``stab.stable``."""
    from .diagnostics import MAX_UNASSIGNED, MIN_ARI

    if stab is None:
        return False
    if getattr(stab, "stable", False):
        return True
    ari = getattr(stab, "mean_ari", None)
    unassigned = getattr(stab, "unassigned_share", None)
    if ari is None or unassigned is None:
        return False
    k = getattr(stab, "n_segments", None)
    return bool((k is None or k >= 2) and ari >= MIN_ARI and unassigned <= MAX_UNASSIGNED
                and not list(getattr(stab, "unstable_segments", None) or ()))


def fails_on_resampling(stab) -> bool:
    """Whether the stability check finds that the segments do not reproduce on resampling:
    mean ARI below ``MIN_ARI`` (0.90) or some segment that dissolves (``unstable_segments``,
    Jaccard < 0.6). A solution that is not stable only because too many respondents are
    unassigned, or because the model found fewer than 2 segments, does reproduce; the
    report then says "the solution as a whole is not stable" (the Stability line says why).
    False without a stability check or on a result that lacks ``mean_ari``."""
    from .diagnostics import MIN_ARI

    if stab is None:
        return False
    ari = getattr(stab, "mean_ari", None)
    unstable = list(getattr(stab, "unstable_segments", None) or ())
    return bool(unstable) or (ari is not None and ari < MIN_ARI)


#: What the name of a persona whose segment dissolves on resampling ends with, in the summary
DISSOLVES = "(dissolves on resampling)"


def _dissolving(stab, segments) -> dict:
    """{segment: its mean clusterwise Jaccard (None when unknown)} for each of ``segments``
    that the stability check says dissolves on resampling (``unstable_segments``)."""
    if stab is None:
        return {}
    unstable = {int(s) for s in (getattr(stab, "unstable_segments", None) or ())}
    table = getattr(stab, "segments", None)
    out = {}
    for s in segments:
        try:
            if int(s) not in unstable:
                continue
        except (TypeError, ValueError):
            continue
        j = None
        if table is not None and "jaccard_mean" in table and s in table.index:
            j = float(table.loc[s, "jaccard_mean"])
        out[s] = j
    return out


_MODEL_GUARD_WORDS = ("one input alone", "one input dominates", "missing-answer pattern")
#: How the sweep's flag on the setting it fell back to begins (``Recommendation.flags``)
_CLOSEST_FLAGGED = "The closest setting is flagged:"


def guard_warnings(store: ArtifactStore) -> list[str]:
    """What says the reported solution is a split on one input or on a missing-answer
    pattern: the stability result's ``flags`` / ``dominated_by`` and a "Not personas"
    verdict, the sweep's flag on the setting it fell back to, and the model's own warning.
    Shown loudly at the top of the report."""
    out: list[str] = []

    def add(text):
        text = str(text).strip()
        if text and text not in out:
            out.append(text)

    stab, rec = _load(store, "stability"), _load(store, "recommendation")
    if stab is not None:
        verdict = str(getattr(stab, "verdict", "") or "")
        if verdict.lower().startswith("not personas"):
            add(verdict)
        for f in getattr(stab, "flags", None) or []:
            if f and not any(str(f) in t for t in out):
                add(f"The segments are flagged: {f}.")
        dom = getattr(stab, "dominated_by", None)
        if dom and not any(str(dom) in t for t in out):
            add(f"The segments are explained by {dom}.")
    if rec is not None:
        for f in getattr(rec, "flags", None) or []:
            if str(f).startswith(_CLOSEST_FLAGGED):
                # the sweep joins its reasons with "; ": keep only those not already said
                # (the stability check flags the same solution with the same sentences)
                said = " ".join(out)
                new = [r for r in (r.strip() for r in str(f)[len(_CLOSEST_FLAGGED):]
                                   .strip().rstrip(".").split("; "))
                       if r and r not in said]
                if new:
                    add(f"{_CLOSEST_FLAGGED} {'; '.join(new)}.")
    model = _load_model(store)
    for t in list(getattr(model, "warnings_", []) or []):
        if any(w in str(t).lower() for w in _MODEL_GUARD_WORDS):
            add(t)
    return out


def _guard_html(store: ArtifactStore) -> str:
    warns = guard_warnings(store)
    if not warns:
        return ""
    return ("<div class='alert' role='alert'><b>Read with care: these segments may not be "
            "personas.</b> " + " ".join(esc(w) for w in warns)
            + " A split on one question or on who skipped questions describes that question, "
              "not kinds of people.</div>")


def _load_model(store: ArtifactStore):
    mpath = store.output_dir / "model.joblib"
    if not mpath.exists():
        return None
    from .persistence import load_model

    try:
        return load_model(mpath)
    except Exception:  # a model from another version is reported, not fatal here
        return None


def scaling_sentence(model) -> str | None:
    """One sentence on how the segmentation inputs were scaled, read from the fitted
    model's feature builder (``scale_description_`` when it has one)."""
    if model is None:
        return None
    enc = getattr(model, "encoder_", None) or getattr(model, "encoder", None)
    if enc is None:
        return None
    described = getattr(enc, "scale_description_", None)
    if described:
        return str(described)
    scale = getattr(enc, "scale_", None) or getattr(enc, "scale", None)
    if scale:
        return f"Inputs were scaled with scale={scale!r} before distances were computed."
    return ("Inputs entered on their answer scales (Likert codes as answered, numeric "
            "questions robust-scaled); they were not standardised, so a question with a "
            "wider scale weighs more in the distances.")


def summary_section(store: ArtifactStore) -> Section | None:
    """Executive summary: who the personas are, how big, how sure, in a few lines."""
    personas = _personas(store)
    survey, quality = _load(store, "survey"), _load(store, "quality")
    if survey is None:
        return None
    n_total = len(survey.data)
    n_excl = len(quality.exclusions) if quality is not None else 0
    parts = [_guard_html(store),
             f"<p class='lead'>{n_total - n_excl:,} of {n_total:,} respondents were analysed "
             f"(the others are listed under data quality with their reasons).</p>"]
    labels = _load(store, "labels")
    rec, stab = _load(store, "recommendation"), _load(store, "stability")
    if labels is not None:
        unassigned = float((labels == -1).mean())
        parts.append(f"<p>{int(labels.max()) + 1 if len(labels) else 0} segments were found; "
                     f"{unassigned:.1%} of analysed respondents fit none of them "
                     f"(“unassigned”).</p>")
    if stab is not None:
        parts.append(f"<p><b>Stability.</b> {esc(stability_verdict(stab))}</p>")
    elif rec is not None:
        parts.append(f"<p><b>Stability.</b> {esc(rec.verdict)}</p>")
    if personas:
        from .personas import not_a_persona_name

        colors = _segment_colors(store, [p.segment for p in personas])
        refused = not_persona_reasons(store, personas)
        # a refused segment is named plainly, never with a persona's (or not-a-fit) name
        names = {p.segment: not_a_persona_name(p.segment) if p.segment in refused
                 else p.name + (" (not a fit)" if p.negative else "") for p in personas}

        def row(p):
            return {"persona": names[p.segment],
                    "share": f"{p.size['weighted_share']:.0%}",
                    "95% CI": f"{p.size['ci_low']:.0%}–{p.size['ci_high']:.0%}",
                    "n": p.size["n"], "confidence": p.confidence,
                    "stands out for": (p.narrative[0].text if getattr(p, "narrative", None)
                                       else p.headline.text.split(". ", 1)[-1])}

        kept = [p for p in personas if p.segment not in refused]
        out = [p for p in personas if p.segment in refused]
        exploratory = solution_is_exploratory(store)
        # a persona whose segment dissolves on resampling is marked as such where it is
        # listed (it reads "low" confidence, but a reader takes the table for the personas)
        dissolving = _dissolving(stab, [p.segment for p in kept])
        plain = dict(names)
        names.update({s: f"{names[s]} {DISSOLVES}" for s in dissolving})
        if kept:
            if out:
                parts.append("<h3>Personas</h3>")
            table = pd.DataFrame([row(p) for p in kept])
            if exploratory:
                # "Why this solution" says so: the table says it too, row by row
                table.insert(1, "read as", EXPLORATORY)
                why = ("The segments as a whole do not reproduce on resampling"
                       if fails_on_resampling(stab) else
                       "The solution as a whole is not stable")
                parts.append(
                    f"<p class='note'><b>Exploratory.</b> {why} (see Stability above), so "
                    "these are exploratory segments, not confirmed personas: leads to check "
                    "on more data before anyone designs for them.</p>")
            parts.append(str(table_html(table, cells={
                "persona": [persona_cell(p.segment, names, colors) for p in kept]})))
        if dissolving:
            from .diagnostics import MIN_JACCARD

            one = len(dissolving) == 1
            which = "; ".join(plain[s] + ("" if j is None else f" (Jaccard {j:.2f})")
                              for s, j in dissolving.items())
            parts.append(
                f"<p class='note'><b>Exploratory, not confirmed.</b> {esc(which)} "
                f"{'dissolves' if one else 'dissolve'} on resampling: refitted on random "
                f"subsamples, {'this segment does' if one else 'these segments do'} not "
                f"reappear (clusterwise Jaccard below {MIN_JACCARD}, Hennig 2007). Read "
                f"{'it' if one else 'them'} as a lead to follow up, not as a persona.</p>")
        if out:
            rows = [{**row(p), "why not a persona": refused[p.segment]} for p in out]
            lead = ("No segment of this run is a persona: the checks refuse every one. "
                    "They are listed so the numbers add up; do not read them as kinds of "
                    "people." if not kept else
                    "These segments are not personas: the checks refuse them (the reason is "
                    "in the last column). They are listed so the numbers add up; do not read "
                    "them as kinds of people.")
            parts += ["<h3>Not personas</h3>", f"<p>{esc(lead)}</p>",
                      str(table_html(pd.DataFrame(rows), cells={"persona": [
                          persona_cell(p.segment, names, colors) for p in out]}))]
    return Section("summary", "Executive summary", Markup("\n".join(parts)))


#: What the executive summary's persona table says of each persona of a run whose
#: segments do not reproduce as a whole (:func:`solution_is_exploratory`)
EXPLORATORY = "exploratory, not a confirmed persona"


def solution_is_exploratory(store: ArtifactStore) -> bool:
    """Whether the run's segments are exploratory: the stability check says the solution
    does not reproduce on resampling (:func:`solution_reproduces`), or, without a stability
    check, the sweep found no stable setting ("No stable segments: ... Treat any segments
    from this data as exploratory, not as personas")."""
    stab = _load(store, "stability")
    if stab is not None:
        return not solution_reproduces(stab)
    rec = _load(store, "recommendation")
    return rec is not None and not getattr(rec, "stable", True)


def segments_section(store: ArtifactStore) -> Section | None:
    """The segment map, sizes with confidence intervals, and how much segments overlap."""
    labels, map2d, sizes = _load(store, "labels"), _load(store, "map2d"), _load(store, "sizes")
    if labels is None or map2d is None or sizes is None:
        return None
    from .plotting import visualize_overlap, visualize_segment_map, visualize_sizes

    names = _persona_names(store)
    hover = pd.DataFrame({"respondent": labels.index.astype(str)}, index=labels.index)
    fig_map = visualize_segment_map(map2d[["x", "y"]].to_numpy(), labels.to_numpy(),
                                    hover=hover, names=names or None, random_state=0)
    fig_sizes = visualize_sizes(sizes, names=names or None)
    parts = ["<p>Each dot is a respondent, placed by how they answered the segmentation "
             "questions; each persona has one colour, the same in every chart and card; grey "
             "is unassigned. Hover for the respondent id.</p>", f"<div class='figure'>{figure_html(fig_map, 'fig-segment-map')}</div>",
             "<h3>Sizes</h3><p>Weighted share of respondents in each segment, with its 95% "
             "confidence interval.</p>",
             f"<div class='figure'>{figure_html(fig_sizes, 'fig-segment-sizes')}</div>"]
    membership = _load(store, "membership")
    if membership is not None and membership.shape[1] >= 2:
        fig_overlap = visualize_overlap(membership, labels.to_numpy(), names=names or None)
        parts += ["<h3>Overlap</h3><p>People do not fall neatly into one persona: the mean "
                  "soft membership of each segment's respondents in every segment, and how "
                  "many are hybrids.</p>",
                  f"<div class='figure'>{figure_html(fig_overlap, 'fig-overlap')}</div>"]
    return Section("segments", "Segments", Markup("\n".join(parts)))


def profiles_section(store: ArtifactStore) -> Section | None:
    """Profile heatmap and each segment's top distinguishing traits."""
    profile = _load(store, "profile")
    if profile is None or profile.empty:
        return None
    from .plotting import segment_label, visualize_profile_heatmap
    from .profiles import top_traits

    from .plotting.profiles import INPUT_MARKER, effect_text, vs_total
    from .profiles import MIN_SUPPORT

    names = _persona_names(store)
    codebook = _codebook(store)
    profile = _with_inputs(profile, codebook)
    fig = visualize_profile_heatmap(profile, top_n=30, names=names or None, labels=codebook)
    top = top_traits(profile, n=5).reset_index(drop=True)
    colors = _segment_colors(store, top["segment"])
    top = top.assign(persona=[segment_label(s, names) for s in top["segment"]])
    from .personas import question_label

    def label(qid, text):
        try:
            return question_label(codebook[qid], text) if codebook is not None else \
                question_label(None, text or qid)
        except KeyError:
            return question_label(None, text or qid)
    full = [str(t or q) for q, t in zip(top["question"], top["question_text"])]
    top = top.assign(question=[label(q, t) for q, t in zip(top["question"],
                                                           top["question_text"])])
    cols = ["persona", "rank", "question", "level", "direction", "n", "value", "total",
            "vs total", "effect size", "adjusted p"]
    cells = {"persona": [persona_cell(s, names, colors) for s in top["segment"]],
             "question": [question_cell(lab, f) for lab, f in zip(top["question"], full)]}
    inputs = top["segmentation_input"].to_numpy(bool)
    top = top.assign(**{
        "n": [_n_text(r) for _, r in top.iterrows()],
        "vs total": [vs_total(r) + (" points" if r.get("measure") == "mean" and vs_total(r)
                                    else "") for _, r in top.iterrows()],
        "effect size": [effect_text(r) or "–" for _, r in top.iterrows()],
        "adjusted p": [f"{INPUT_MARKER} not tested" if inp else "–" if pd.isna(p) else
                       ("< 0.001" if p < 0.001 else f"{p:.3f}")
                       for p, inp in zip(top["p_adjusted"], inputs)]})
    any_input = bool(profile["segmentation_input"].any())
    parts = ["<p>Each row is an answer (the share of a segment's respondents who gave it) or "
             "a scale question (the segment's mean). Colour is the effect size of the "
             "segment against the rest of the sample, Cohen's h for an answer and Cohen's d "
             "for a mean (0.2 small, 0.5 medium, 0.8 large; blue above, red below). The "
             "number in a cell compares the segment with the whole sample: for an answer, "
             "its index (100 = as common as in the whole sample, 200 = twice as common); for "
             "a mean, the difference in scale points. "
             + (f"{INPUT_MARKER} marks questions used to form the segments: the segments were "
                "built to differ on them, so their differences are expected, not tested, "
                "and carry no *. " if any_input else "")
             + "* marks differences on the other questions that are significant after "
             "correcting for multiple comparisons (Benjamini–Hochberg). An answer given by "
             f"fewer than {MIN_SUPPORT} respondents is never counted significant, drawn or "
             "listed as a trait. The chart shows up to 30 questions: those with a * first, then questions "
             "the segments were formed on, each by its largest effect; a yes/no question "
             "shows one answer. Questions are "
             "named by their short label; hover a row or a question for its full wording. "
             "Reverse-keyed items are shown as respondents answered them, as in the persona "
             "cards.</p>",
             f"<div class='figure'>{figure_html(fig, 'fig-profile-heatmap')}</div>",
             "<h3>Top distinguishing traits</h3>",
             "<p class='muted'>n: the segment's respondents who gave the answer, of those "
             "who answered the question (for a mean, how many answered). vs total: the "
             "index or the difference in scale points, as in the chart.</p>",
             str(table_html(top[cols], cells=cells))]
    golden = _load(store, "golden")
    if golden is not None:
        parts += ["<h3>Golden questions</h3>", golden_html(store, golden)]
        parts += [f"<p class='note'>{esc(n)}</p>" for n in getattr(golden, "notes_", [])]
    return Section("profiles", "Profiles", Markup("\n".join(parts)))


def _with_inputs(profile: pd.DataFrame, codebook) -> pd.DataFrame:
    """The profile with its ``segmentation_input`` column; a table saved before the column
    existed gets it from the codebook's roles (``segment``), else False throughout."""
    if "segmentation_input" in profile:
        return profile.assign(segmentation_input=profile["segmentation_input"]
                              .fillna(False).astype(bool))
    roles = {str(q.id): getattr(q, "role", None) for q in (codebook or [])}
    return profile.assign(segmentation_input=[roles.get(str(q)) == "segment"
                                              for q in profile["question"]])


def _n_text(row) -> str:
    """A top trait's head count: '12 of 40' for an answer (who gave it, of those who
    answered), '40' for a mean."""
    n = row.get("n")
    if n is None or pd.isna(n):
        return "–"
    if row.get("measure", "mean" if pd.isna(row.get("level")) else "share") == "share":
        given = row.get("n_answer")
        if given is None or pd.isna(given):
            given = round(float(row["value"]) * float(n))
        return f"{int(given):,} of {int(n):,}"
    return f"{int(n):,}"


def golden_html(store: ArtifactStore, golden) -> str:
    """What the golden questions are, as the run's verdict allows: a typing quiz for future
    surveys when some segment is a persona (with a caveat when the segments are exploratory,
    :func:`solution_is_exploratory`); when the checks refuse every segment
    (:func:`not_persona_reasons`), only which answers the segments are cut on."""
    n = len(golden.questions_)
    nan = float("nan")
    acc, bal, base = (getattr(golden, a, nan) for a in
                      ("accuracy_", "balanced_accuracy_", "baseline_accuracy_"))
    what = (f"{n} {'question reproduces' if n == 1 else 'questions reproduce'} the segment "
            "assignment")
    if acc == acc:      # NaN when not estimated (an older run's tool; its note says why)
        what += f" for {acc:.0%} of respondents held out of their selection (nested cross-validation"
        if bal == bal:
            what += f"; balanced accuracy {bal:.0%}, chance {1 / len(golden.classes_):.0%}"
        what += ")"
        if base == base:
            what += f", against {base:.0%} for putting everyone in the largest segment"
    labels = _load(store, "labels")
    segs = [p.segment for p in (_load(store, "personas") or [])]
    if labels is not None:
        segs += [s for s in pd.unique(labels) if s != -1]
    segs = list(dict.fromkeys(segs))
    refused = not_persona_reasons(store)
    csv = "(<code>golden_questions.csv</code>)"
    if segs and all(s in refused for s in segs):
        return (f"<p>{what} {csv}. No segment of this run is a persona (see the executive "
                f"summary), so {'it is' if n == 1 else 'they are'} not a typing quiz for "
                f"personas: {'it shows' if n == 1 else 'they show'} which answers the "
                f"segments are cut on.</p>")
    text = f"<p>{what}: a short typing quiz for future surveys {csv}."
    if solution_is_exploratory(store):
        why = ("the solution does not reproduce on resampling"
               if fails_on_resampling(_load(store, "stability")) else
               "the solution as a whole is not stable; see Stability")
        text += (f" The segments are exploratory ({why}): check the quiz on a new sample "
                 "before relying on it.")
    return text + "</p>"


def _segment_colors(store: ArtifactStore, fallback=()) -> dict:
    """Each persona's colour as the plotting package gives it (the same on every chart):
    keyed on every segment of the run (labels, personas and ``fallback``), so a chart or
    table that shows only some keeps the colours."""
    from .plotting import segment_colors

    labels = _load(store, "labels")
    segs = list(pd.unique(labels)) if labels is not None else []
    segs += [p.segment for p in (_load(store, "personas") or [])]
    segs += list(pd.unique(pd.Series(list(fallback), dtype=object)))
    segs = [s for s in dict.fromkeys(segs) if not (isinstance(s, str) and s == "all")]
    return segment_colors(segs)


def themes_section(store: ArtifactStore) -> Section | None:
    """Theme shares per segment in the open-text answers."""
    shares, info = _load(store, "theme_shares"), _load(store, "theme_info") or {}
    if shares is None or len(shares) == 0:
        return None
    import plotly.graph_objects as go

    from .personas import question_label

    from .plotting import segment_label
    from .plotting._common import cut, escape, segment_order, wrap

    names = _persona_names(store)
    codebook = _codebook(store)
    colors = _segment_colors(store, shares["segment"])
    parts = ["<p>Share of each segment's answers that mention a theme (themes from the "
             "theme codebook; negated mentions such as “not too expensive” do not count). "
             "Each persona has the colour it has in every other chart.</p>"]
    for i, (q, block) in enumerate(shares.groupby("question", sort=True)):
        block = block[block["segment"].isin([s for s in block["segment"].unique()
                                             if s not in ("all", -1)])]
        pivot = block.pivot_table(index="theme", columns="segment", values="share")
        # a theme nobody in any segment mentioned in this question is no finding
        pivot = pivot[(pivot.fillna(0) > 0).any(axis=1)]
        if pivot.empty:
            continue
        question = codebook[q] if codebook is not None and q in codebook else None
        label = question_label(question) if question is not None else str(q)
        wording = str(getattr(question, "text", "") or "") if question is not None else ""
        themes = [str(info.get(t, {}).get("label", t)) for t in pivot.index]
        fig = go.Figure()
        for seg in sorted(pivot.columns, key=segment_order):
            fig.add_bar(name=escape(segment_label(seg, names)),
                        x=[escape(cut(t, 32)) for t in themes],
                        y=pivot[seg].to_numpy(), marker_color=colors.get(seg),
                        customdata=[escape(t) for t in themes],
                        hovertemplate="%{customdata}: %{y:.0%}<extra>%{fullData.name}"
                                      "</extra>")
        title = escape(label)
        if wording and wording != label:
            title += f"<br><sup>{wrap(escape(wording), 110)}</sup>"
        fig.update_layout(barmode="group", title=title, yaxis_tickformat=".0%",
                          legend_title_text="Persona" if names else "Segment",
                          template="plotly_white", height=440,
                          margin=dict(t=90 if wording and wording != label else 60, b=120))
        parts.append(f"<div class='figure'>{figure_html(fig, f'fig-themes-{i}')}</div>")
    return Section("themes", "Themes in their own words", Markup("\n".join(parts)))


def personas_section(store: ArtifactStore) -> Section | None:
    personas = _personas(store)
    if not personas:
        return None
    intro = ("<p>Drafted from the evidence only: every sentence carries a numbered mark — "
             "hover it, or read the footnotes — pointing to the profile row, theme or quote "
             "it stands on. Quotes are real answers with personal data redacted.")
    if any(getattr(p, "negative", False) for p in personas):
        # only a study that defines "not a fit" criteria has such a persona
        intro += (" A <span class='badge neg'>not a fit</span> persona matches the “not a "
                  "fit” criteria of this study.")
    intro += "</p>"
    return Section("personas", "Personas",
                   Markup(_guard_html(store) + intro + persona_cards_html(
                       personas, colors=_segment_colors(store, [p.segment for p in personas]),
                       codebook=_codebook(store),
                       not_personas=not_persona_reasons(store, personas))))


def segment_rating(rating, segment, solution_reproduces: bool,
                   refused: dict | None = None) -> str:
    """A segment's Hennig rating ("dissolves", "pattern", "stable", "highly stable") as the
    methods table writes it: as it is when the run's segments reproduce on resampling
    (:func:`solution_reproduces`) and the segment is a persona; otherwise with what else is
    true, so "highly stable" never stands alone under "No stable segments" nor beside a
    segment the checks refuse as a persona. A solution that reproduces but that the guards
    refuse ("Not personas") reads "highly stable on its own; not a persona", never "not
    stable"; a segment that dissolves reads "dissolves; not a persona" (it is not stable on
    its own either)."""
    text = "–" if rating is None or (not isinstance(rating, str) and pd.isna(rating)) \
        else str(rating)
    parts = []
    if refused and segment in refused:
        parts.append("not a persona (why: the executive summary's Not personas table)")
    if not solution_reproduces and text not in ("dissolves", "–"):
        parts.append("the solution as a whole is not stable")
    own = text if text in ("dissolves", "–") else f"{text} on its own"
    return "; ".join([own, *parts]) if parts else text


def methods_section(store: ArtifactStore, run_info: dict | None) -> Section:
    """Methods and caveats: sample, exclusions, weights, unassigned, stability, parameters."""
    rows = []
    notes = []
    s = _load(store, "survey")
    if s is not None:
        w = s.weights()
        rows += [("Source file", Path(str(s.source)).name), ("Source SHA-256", s.sha256),
                 ("Export format", s.format), ("Responses read", f"{len(s.data):,}"),
                 ("Weights", "yes (" + str(s.codebook.weight) + ")" if s.codebook.weight
                  else "none (every respondent counts once)")]
        if s.codebook.weight:
            kish = float(w.sum() ** 2 / (w ** 2).sum()) if len(w) else 0.0
            rows.append(("Effective sample size (Kish)", f"{kish:,.0f}"))
        seg_q = list(s.codebook.questions_of(role="segment"))
        names = _question_names(s.codebook)
        rows.append(("Segmentation questions", Markup(f"{len(seg_q)}: " + "; ".join(
            question_cell(*names.get(str(q.id), (q.id, q.id))) for q in seg_q))))
    q = _load(store, "quality")
    if q is not None:
        rows.append(("Excluded responses", f"{len(q.exclusions):,} (see Data quality)"))
    labels = _load(store, "labels")
    if labels is not None:
        rows.append(("Unassigned respondents", f"{int((labels == -1).sum()):,} "
                     f"({float((labels == -1).mean()):.1%})"))
    model = _load_model(store)
    if model is not None:
        params = {k: v for k, v in model.get_params(deep=False).items()
                  if k not in ("encoder",) and not hasattr(v, "fit")}
        rows.append(("Segmentation model", ", ".join(f"{k}={v}" for k, v in params.items())))
        scaling = scaling_sentence(model)
        if scaling:
            rows.append(("Input scaling", scaling))
        notes += list(getattr(model, "notes_", []) or [])
        notes += list(getattr(model, "warnings_", []) or [])
    rec = _load(store, "recommendation")
    if rec is not None:
        rows.append(("Why this solution", rec.verdict + " " + " ".join(rec.reasons)))
    stab = _load(store, "stability")
    if stab is not None:
        rows.append(("Stability", stability_verdict(stab)))
    if run_info and run_info.get("seed") is not None:
        rows.append(("Random seed", str(run_info["seed"])))
    table = pd.DataFrame(rows, columns=["item", "value"])
    html_parts = [_guard_html(store), str(table_html(table, cells={"value": [
        v if isinstance(v, Markup) else Markup(esc(v)) for _, v in rows]}))]
    if stab is not None:
        from .personas import not_a_persona_name
        from .plotting import segment_label

        seg = stab.segments.reset_index()
        names = _persona_names(store)
        key = seg.columns[0]
        refused = not_persona_reasons(store)
        names = {**{s: f"Segment {s}" for s in seg[key]}, **names}
        names.update({s: not_a_persona_name(s) for s in names if s in refused})
        seg.insert(0, "persona", [segment_label(s, names) for s in seg[key]])
        colors = _segment_colors(store, seg[key])
        reproduces = solution_reproduces(stab)
        intro = ("Clusterwise Jaccard across subsample refits (Hennig 2007): below 0.6 a "
                 "segment dissolves. The rating is each segment's own: it says whether that "
                 "segment reappears in the refits, not whether the solution is stable.")
        if not reproduces:
            intro += (" The solution as a whole is not stable (see Stability above): a "
                      "segment that reproduces on its own is an exploratory finding, not a "
                      "confirmed persona.")
        elif not getattr(stab, "stable", False):
            ari = getattr(stab, "mean_ari", None)
            intro += (" The segments reproduce on resampling"
                      + (f" (mean ARI {ari:.2f})" if ari is not None else "")
                      + ", but the checks refuse them as personas (see Stability above): "
                        "a segment that reappears in every refit is still not a kind of "
                        "people.")
        if "rating" in seg:
            seg["rating"] = [segment_rating(r, s, reproduces, refused)
                             for r, s in zip(seg["rating"], seg[key])]
            seg = seg.rename(columns={"rating": "rating (this segment alone)"})
        # the segment's own flags, named as what they say (not the solution's stability)
        seg = seg.rename(columns={"unstable": "dissolves (Jaccard < 0.6)",
                                  "not_asked": "not asked a block (not a persona)"})
        html_parts += ["<h3>Per-segment reproducibility</h3>", f"<p>{esc(intro)}</p>",
                       str(table_html(seg, cells={"persona": [
                           persona_cell(s, names, colors) for s in seg[key]]}))]
    if notes:
        html_parts += ["<h3>Notes from the model</h3><ul>"
                       + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"]
    return Section("methods", "Methods and caveats", Markup("\n".join(html_parts)))


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
    store = _ReadOnce(output_dir)
    wave = wave or output_dir.name
    from .wave_report import changes_section

    builders = [summary_section, changes_section, personas_section, segments_section,
                profiles_section, themes_section, quality_section, questions_section]
    sections = [s for s in (b(store) for b in builders) if s is not None]
    sections.append(methods_section(store, run_info))
    out = output_dir / "index.html"
    output_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(sections, title=title or f"PersonaLab report — {wave}",
                               wave=wave), encoding="utf-8")
    return out


def render_page(sections: list[Section], *, title: str, wave: str) -> str:
    """The whole HTML page for ``sections``, with plotly.js embedded once if any section
    holds a figure (and not at all otherwise)."""
    needs_plotly = "Plotly.newPlot" in "".join(str(s.html) for s in sections)
    plotlyjs = None
    if needs_plotly:
        from plotly.offline import get_plotlyjs

        plotlyjs = Markup(get_plotlyjs())
    return _env().get_template("report.html.j2").render(
        title=title, wave=wave, version=__version__, generated=None, sections=sections,
        plotlyjs=plotlyjs)
