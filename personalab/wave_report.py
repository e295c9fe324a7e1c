"""The report's "What changed since <baseline wave>" section (after the wave-tracking step).

Built from the ``wave_comparison`` and ``emerging_quotes`` artifacts that
:func:`personalab.wave_step.track` saves: codebook changes, the size-shift chart, the drift
table, one card per emerging segment (size, profile, redacted quotes) and how this wave's
segments map onto the baseline personas. Every piece of text is HTML-escaped.
"""
from __future__ import annotations

import pandas as pd
from markupsafe import Markup

__all__ = ["changes_section"]


def _pct(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{100 * float(v):.1f}%"


def _label(codebook, qid, text) -> str:
    """The question's short label (as persona cards show it), else its text."""
    from .personas import question_label

    try:
        q = codebook[qid] if codebook is not None else None
    except KeyError:
        q = None
    return question_label(q, text) if q is not None else question_label(None, text or qid)


def _text(codebook, qid) -> str:
    """The question's full wording (for hover), else its id."""
    try:
        q = codebook[qid] if codebook is not None else None
    except KeyError:
        q = None
    return str(getattr(q, "text", "") or qid)


def changes_section(store):
    """The "What changed" section, or None when the run has no wave comparison."""
    if not store.has("wave_comparison"):
        return None
    from .plotting import segment_label
    from .report import (Section, _segment_colors, esc, figure_html, persona_cell,
                         question_cell, table_html)
    from .waves import visualize_drift, visualize_size_shift

    cmp = store.load("wave_comparison")
    quotes = store.load("emerging_quotes") if store.has("emerging_quotes") else pd.DataFrame()
    base_wave = str(cmp.params.get("baseline_wave") or "the baseline")
    new_wave = str(cmp.params.get("new_wave") or "this wave")
    a = cmp.assignments
    n_new = len(a)
    typed = int((a["segment"] >= 0).sum())
    strong = int(((a["segment"] >= 0) & (a["membership"] >= cmp.params.get("min_membership",
                                                                             0.5))).sum())
    n_emerging = int((a["candidate"] >= 0).sum())
    parts = [
        f"<p class='lead'>Every one of the {n_new:,} analysed respondents of {esc(new_wave)} "
        f"was typed into the personas of {esc(base_wave)}: {typed:,} fit one, {strong:,} of "
        f"them strongly (membership ≥ {cmp.params.get('min_membership', 0.5):.0%}); "
        f"{n_emerging:,} belong to {len(cmp.candidates)} emerging segment(s) that no "
        "baseline persona describes.</p>"]
    if cmp.notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in cmp.notes) + "</ul>")

    # questionnaire
    diff = cmp.codebook_diff.table()
    changed = diff[diff["status"] != "same"]
    parts.append("<h3>Questionnaire</h3>")
    if changed.empty:
        parts.append("<p>The questionnaire is unchanged: every question has the same id, "
                     "type and answer scale as in the baseline.</p>")
    else:
        parts.append("<p>Questions renamed, added, dropped or with a changed scale. Renamed "
                     "questions are only used when mapped; a changed scale of a segmentation "
                     "question is refused unless mapped.</p>")
        parts.append(str(table_html(changed[["baseline_id", "new_id", "status",
                                             "segment_input", "detail"]])))

    codebook = store.load("survey").codebook if store.has("survey") else None
    names_now = ({p.segment: p.name for p in store.load("personas")}
                 if store.has("personas") else {})
    # one colour per persona, as in every other chart (a persona keeps its label, so its
    # colour, across waves)
    colors = _segment_colors(store, cmp.sizes["segment"])

    def persona_cells(segments, personas):
        return [persona_cell(s, {s: p}, colors) for s, p in zip(segments, personas)]

    def question_cells(qids, texts):
        return [question_cell(_label(codebook, q, t), t or q) for q, t in zip(qids, texts)]

    # sizes
    fig = visualize_size_shift(cmp, title=f"Persona sizes: {base_wave} vs {new_wave}",
                               colors=colors)
    sizes = cmp.sizes.assign(
        **{base_wave: cmp.sizes["share_baseline"].map(_pct),
           new_wave: cmp.sizes["share_new"].map(_pct),
           "shift (points)": cmp.sizes["shift"].map(lambda v: f"{v:+.1f}"),
           "95% CI": [f"{lo:+.1f} to {hi:+.1f}" for lo, hi in
                      zip(cmp.sizes["ci_low"], cmp.sizes["ci_high"])]})
    cols = ["persona", base_wave, new_wave, "shift (points)", "95% CI", "p_adjusted",
            "significant"]
    if base_wave == new_wave:
        cols = ["persona", "shift (points)", "95% CI", "p_adjusted", "significant"]
    parts += ["<h3>Size shift</h3><p>Weighted share of all analysed respondents in each "
              "persona, in both waves, and the shift with its 95% confidence interval "
              "(red: significant after Benjamini–Hochberg correction). Emerging and "
              "unassigned respondents are rows of their own.</p>",
              f"<div class='figure'>{figure_html(fig, 'fig-size-shift')}</div>",
              str(table_html(sizes[cols], float_format="{:.3g}".format, cells={
                  "persona": persona_cells(sizes["segment"], sizes["persona"])}))]

    # drift
    top = cmp.top_drift(5, significant_only=True)
    parts.append("<h3>Drift within personas</h3>")
    if top.empty:
        parts.append("<p>No persona's answers changed significantly between the waves.</p>")
    else:
        top = top.assign(change=[f"{b:.2f} → {n:.2f}" if m != "share"
                                 else f"{100 * b:.0f}% → {100 * n:.0f}%"
                                 for b, n, m in zip(top["baseline"], top["new"],
                                                    top["measure"])])
        parts.append("<p>Each persona's answers that moved most (significant after "
                     "correction), among respondents typed into the persona in both "
                     "waves.</p>")
        drift_fig = visualize_drift(cmp, 5, significant_only=True, colors=colors,
                                    title="What changed within each persona")
        parts.append(f"<div class='figure'>{figure_html(drift_fig, 'fig-drift')}</div>")
        cells = {"persona": persona_cells(top["segment"], top["persona"]),
                 "question": question_cells(top["question"], top["question_text"])}
        top = top.assign(question=[_label(codebook, q, t) for q, t in
                                   zip(top["question"], top["question_text"])])
        parts.append(str(table_html(top[["persona", "question", "level", "change",
                                         "effect_size", "p_adjusted"]],
                                    float_format="{:.3g}".format, cells=cells)))
    if len(cmp.theme_shifts):
        ts = cmp.theme_shifts[cmp.theme_shifts["significant"]]
        if len(ts):
            ts = ts.head(30)
            texts = [_text(codebook, q) for q in ts["question"]]
            ts = ts.assign(question=[_label(codebook, q, t) for q, t in
                                     zip(ts["question"], texts)])
            parts += ["<h4>Themes in their own words</h4>",
                      str(table_html(ts[["persona", "question", "theme", "share_baseline",
                                         "share_new", "p_adjusted"]],
                                     float_format="{:.3g}".format, cells={
                                         "persona": persona_cells(ts["segment"],
                                                                  ts["persona"]),
                                         "question": [question_cell(lab, t) for lab, t in
                                                      zip(ts["question"], texts)]}))]

    # emerging segments
    parts.append("<h3>Emerging segments</h3>")
    if cmp.candidates.empty:
        parts.append("<p>No emerging segment: respondents who fit no persona are few or "
                     "scattered, not a new group.</p>")
    prof = cmp.candidate_profiles
    for r in cmp.candidates.itertuples():
        c = int(r.candidate)
        card = [f"<div class='persona-card emerging'><h4>Emerging segment {c + 1}</h4>",
                f"<p><b>{r.n:,}</b> respondents, {r.weighted_share:.1%} of {esc(new_wave)} "
                f"(weighted). Typed into the baseline personas they would have gone to: "
                f"{esc(r.from_personas)}.</p>"]
        if prof is not None and len(prof):
            from .profiles import top_traits

            tt = top_traits(prof[prof["segment"] == c], n=6)
            if len(tt):
                full = list(tt["question_text"])
                tt = tt.assign(question=[_label(codebook, q, t) for q, t in
                                         zip(tt["question"], tt["question_text"])])
                card.append("<p>What sets them apart from everyone else (reverse-keyed "
                            "items as answered):</p>")
                card.append(str(table_html(tt[["question", "level", "direction",
                                               "value", "total"]],
                                           float_format="{:.2f}".format, cells={
                                               "question": [question_cell(lab, f or lab)
                                                            for lab, f in
                                                            zip(tt["question"], full)]})))
        if len(quotes):
            q = quotes[quotes["segment"] == c]
            if len(q):
                card.append("<p>In their own words (personal data redacted):</p><ul>"
                            + "".join(f"<li><q>{esc(t)}</q></li>" for t in q["text"]) + "</ul>")
        card.append("</div>")
        parts.append("".join(card))

    # personas now
    corr = cmp.correspondence
    if len(corr):
        t = corr.assign(**{"persona now": [segment_label(s, names_now)
                                           for s in corr["refit_segment"]]})
        t = t.rename(columns={"persona": "baseline persona", "kind": "vs baseline",
                              "composition": "made of"})
        parts += ["<h3>Personas now</h3><p>This wave was also segmented on its own. Each of "
                  "its segments is matched to a baseline persona (Hungarian matching on the "
                  "overlap); a matched segment keeps the persona's name, and the persona "
                  "cards show its new numbers. <i>new</i>: mostly respondents who fit no "
                  "persona; <i>split</i>/<i>merge</i>: the persona divided or joined "
                  "another.</p>",
                  str(table_html(t[["persona now", "n", "baseline persona", "vs baseline",
                                    "made of"]], cells={
                      "persona now": [persona_cell(s, names_now, colors)
                                      for s in t["refit_segment"]],
                      "baseline persona": [
                          persona_cell(m, {m: p}, colors) if p else Markup("")
                          for m, p in zip(t["matched_segment"], t["baseline persona"])]}))]
    return Section("changes", f"What changed since {base_wave}", Markup("\n".join(parts)))
