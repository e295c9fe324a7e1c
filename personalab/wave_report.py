"""The report's "What changed since <baseline wave>" section (after the wave-tracking step).

Built from the ``wave_comparison`` and ``emerging_quotes`` artifacts that
:func:`personalab.wave_step.track` saves: codebook changes, the size-shift chart, the drift
table, one card per emerging segment (size, profile, redacted quotes) and how this wave's
segments map onto the baseline personas. Every piece of text is HTML-escaped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from markupsafe import Markup

__all__ = ["changes_section", "baseline_colors", "fit_sentence", "drift_coverage"]


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


def _int_segment(seg):
    """A persona id (int) of a size/drift row, else None (``emerging``, ``unassigned``)."""
    if isinstance(seg, (bool, np.bool_)):
        return None
    if isinstance(seg, (int, np.integer)):
        return int(seg)
    if isinstance(seg, str) and seg.lstrip("-").isdigit():
        return int(seg)
    return None


def _lookup(colors, seg):
    if seg in colors:
        return colors[seg]
    k = _int_segment(seg)
    return colors.get(k) if k is not None else None


def baseline_colors(comparison, colors_now) -> dict:
    """Each baseline persona's colour on this wave's page, keyed by baseline id (and
    ``emerging``, ``unassigned``).

    ``colors_now`` is this wave's own segments' colours (what the persona cards, the map and
    every other chart use, :func:`personalab.report._segment_colors`). A persona carried
    over (its segment is ``same`` as it in ``comparison.correspondence``) takes its
    segment's colour, so "Linda" is one colour on the whole page whatever the two waves'
    ids are. Any other baseline persona, and ``emerging``, take a palette colour no segment
    of this wave uses (its own id's colour where that one is free), so it is never drawn
    in the colour of a different persona; ``unassigned`` is grey.
    """
    from .plotting._common import _PALETTE, UNASSIGNED_COLOR

    corr = comparison.correspondence
    out = {}
    for r in (corr.to_dict("records") if corr is not None else []):
        m = r.get("matched_segment", -1)
        if r.get("kind") != "same" or m is None or pd.isna(m) or int(m) == -1:
            continue
        c = _lookup(colors_now, int(r["refit_segment"]))
        if c is not None and int(m) not in out:
            out[int(m)] = c
    used = {c for s, c in colors_now.items() if c != UNASSIGNED_COLOR} | set(out.values())
    free = [c for c in _PALETTE if c not in used] or list(_PALETTE)
    rest = [s for s in comparison.sizes["segment"] if _int_segment(s) is not None
            and _int_segment(s) not in out]
    rest = sorted({_int_segment(s) for s in rest})
    for s in rest:                       # first those whose own colour is free
        own = _PALETTE[s % len(_PALETTE)]
        if own in free:
            out[s] = own
            if len(free) > 1:
                free.remove(own)
    for s in rest:
        if s not in out:
            out[s] = free[0]
            if len(free) > 1:
                free.remove(free[0])
    out["emerging"] = free[0]
    out["unassigned"] = UNASSIGNED_COLOR
    return out


def fit_sentence(comparison) -> str:
    """The section's opening sentence (HTML-escaped): how the new wave's respondents fit
    the baseline personas, in four disjoint counts that add up to the wave: in an emerging
    segment; else placed into no persona; else fitting a persona weakly (membership below
    ``params["min_membership"]``); else fitting one well. When the threshold is at most
    1/k for k personas no respondent can fall below it (the memberships add up to 1), and
    the sentence says so."""
    from .report import esc
    from .waves import WEAK_QUANTILE as WEAK_SHARE

    a = comparison.assignments
    p = comparison.params
    base_wave = str(p.get("baseline_wave") or "the baseline")
    new_wave = str(p.get("new_wave") or "this wave")
    thr = float(p.get("min_membership", 0.5))
    n = len(a)
    emerging = (a["candidate"] >= 0).to_numpy() if "candidate" in a else np.zeros(n, bool)
    seg = a["segment"].to_numpy()
    member = a["membership"].to_numpy(dtype=float)
    none = ~emerging & (seg < 0)
    weak = ~emerging & (seg >= 0) & (member < thr)
    strong = ~emerging & (seg >= 0) & ~(member < thr)
    n_cand = len(comparison.candidates)
    k = sum(_int_segment(s) is not None for s in comparison.sizes["segment"])
    segs = "segment" if n_cand == 1 else "segments"
    last = (f"{int(emerging.sum()):,} are in {n_cand} emerging {segs} that no baseline "
            "persona describes" if n_cand or emerging.any()
            else "none is in an emerging segment")
    text = (f"Each of the {n:,} analysed respondents of {esc(new_wave)} was placed into "
            f"the personas of {esc(base_wave)} by the baseline model: "
            f"{int(strong.sum()):,} fit a persona well (membership ≥ {thr:.0%}), "
            f"{int(weak.sum()):,} fit one only weakly (below {thr:.0%}"
            + (f", a line about {WEAK_SHARE:.0%} of {esc(base_wave)}'s own respondents "
               "fall below" if p.get("min_membership_default") else "") + "), "
            f"{int(none.sum()):,} fit none, and {last}.")
    if k >= 1 and thr <= 1 / k:
        text += (f" With {k} personas a respondent's strongest membership is never below "
                 f"{1 / k:.0%}, so a {thr:.0%} threshold cannot flag a weak fit.")
    return text


_NOT_IN_DRIFT = {
    "added": "no: not in the baseline",
    "dropped": "no: not asked this wave",
    "renamed": "no: looks renamed; give a mapping to test it",
    "changed_scale": "no: an answer not in the baseline codebook; give a scale_mapping "
                     "to test it",
    "changed_type": "no: its type changed",
}
_PROFILE_TYPES = ("likert", "numeric", "single", "multi")


def drift_coverage(comparison) -> pd.DataFrame:
    """The codebook comparison (:meth:`CodebookDiff.table`) with an ``in drift tests``
    column: ``yes`` when the drift table tests the question within some persona, else
    ``no:`` and why (not in the baseline, an answer not in the baseline codebook, not a
    profile question, one answer for everyone in each wave (as the comparison's
    ``params["drift_left_out"]`` records it), no test possible, ...)."""
    diff = comparison.codebook_diff.table().copy()
    drift = comparison.drift
    tested, untestable = set(), {}
    if drift is not None and len(drift):
        has_p = drift.groupby("question")["p_value"].apply(lambda p: p.notna().any()) \
            if "p_value" in drift else drift.groupby("question").size() > 0
        tested = {q for q, ok in has_p.items() if ok}
        for q, ok in has_p.items():
            if not ok:
                notes = []
                if "note" in drift:
                    notes = [n for n in drift.loc[drift["question"] == q, "note"].dropna()
                             .astype(str).unique() if n]
                untestable[q] = ("no: no test possible" + (f" ({notes[0]})" if notes else
                                                          " (no p-value in any persona)"))

    # questions waves.track_wave leaves out of drift, with the reason
    # (params["drift_left_out"]: one answer for everyone in each wave)
    left_out = dict((getattr(comparison, "params", None) or {}).get("drift_left_out") or {})

    def why(r):
        status = r.get("status")
        if status == "changed_scale" and "new answer" not in str(r.get("detail") or ""):
            return "no: its answer scale changed; give a scale_mapping to test it"
        if status in _NOT_IN_DRIFT:
            return _NOT_IN_DRIFT[status]
        q = r.get("baseline_id")
        if q in tested:
            return "yes"
        if q in untestable:
            return untestable[q]
        if q in left_out:
            return (f"no: {left_out[q]}, so no variation within a wave to test a change "
                    "against")
        qtype, role = r.get("type"), r.get("role")
        if (qtype is not None and not pd.isna(qtype) and qtype not in _PROFILE_TYPES) \
                or role == "ignore":
            what = ", ".join(str(v) for v in (qtype, role) if v is not None and not pd.isna(v))
            return f"no: not a profile question ({what})"
        return "no: no answers to compare in one of the waves"

    diff["in drift tests"] = [why(r) for r in diff.to_dict("records")]
    return diff


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
    parts = [f"<p class='lead'>{fit_sentence(cmp)}</p>"]
    if cmp.notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in cmp.notes) + "</ul>")

    # questionnaire
    diff = drift_coverage(cmp)
    changed = diff[diff["status"] != "same"]
    left_out = diff[(diff["status"] == "same") & (diff["in drift tests"] != "yes")]
    parts.append("<h3>Questionnaire</h3>")
    cols = [c for c in ["baseline_id", "new_id", "status", "segment_input", "detail",
                        "in drift tests"] if c in diff]
    if changed.empty:
        parts.append("<p>The questionnaire is unchanged: every question has the same id, "
                     "type and answer scale as in the baseline.</p>")
    else:
        parts.append("<p>Questions renamed, added, dropped or with a changed scale. Renamed "
                     "questions are only used when mapped; a changed scale of a segmentation "
                     "question is refused unless mapped. <i>in drift tests</i>: whether the "
                     "drift table below compares the question within each persona, and "
                     "why not.</p>")
        parts.append(str(table_html(changed[cols])))
    if len(left_out):
        parts.append("<p>Unchanged questions that are not in the drift tests, and why:</p>")
        parts.append(str(table_html(left_out[cols])))

    codebook = store.load("survey").codebook if store.has("survey") else None
    personas_now = {p.segment: p for p in store.load("personas")} \
        if store.has("personas") else {}
    names_now = {s: p.name for s, p in personas_now.items()}
    # this wave's segments keep the colours of every other chart of the page; a baseline
    # persona carried over takes its segment's colour, any other one a colour no segment
    # of this wave has (baseline_colors)
    colors_now = _segment_colors(store)
    colors = baseline_colors(cmp, colors_now)

    def persona_cells(segments, personas):
        return [persona_cell(s, {s: p}, colors) for s, p in zip(segments, personas)]

    def question_cells(qids, texts):
        return [question_cell(_label(codebook, q, t), t or q) for q, t in zip(qids, texts)]

    # sizes
    fig = visualize_size_shift(cmp, title=f"Persona sizes: {base_wave} vs {new_wave}",
                               colors=colors)
    carried = {}
    corr = cmp.correspondence
    for r in (corr.to_dict("records") if corr is not None else []):
        m = r.get("matched_segment", -1)
        if r.get("kind") == "same" and m is not None and not pd.isna(m) and int(m) != -1:
            carried.setdefault(int(m), int(r["refit_segment"]))

    def own_segment(seg):
        b = _int_segment(seg)
        if b is None:
            return ""
        if b not in carried:
            return "none: not carried over"
        p = personas_now.get(carried[b])
        if p is None or not getattr(p, "size", None):
            return f"Segment {carried[b]}"
        return (f"{int(p.size['n']):,} ({float(p.size['weighted_share']):.1%}), "
                f"segment {carried[b]}")

    sizes = cmp.sizes.assign(
        **{base_wave: cmp.sizes["share_baseline"].map(_pct),
           new_wave: cmp.sizes["share_new"].map(_pct),
           "shift (points)": cmp.sizes["shift"].map(lambda v: f"{v:+.1f}"),
           "95% CI": [f"{lo:+.1f} to {hi:+.1f}" for lo, hi in
                      zip(cmp.sizes["ci_low"], cmp.sizes["ci_high"])]})
    own_col = f"{new_wave}'s own segment (persona card)"
    n_col = f"n placed ({new_wave})"
    sizes[own_col] = [own_segment(s) for s in sizes["segment"]]
    if "n_new" in sizes:
        sizes[n_col] = sizes["n_new"]
    cols = ["persona", base_wave, new_wave, n_col, "shift (points)", "95% CI", "p_adjusted",
            "significant", own_col]
    if base_wave == new_wave:
        cols = ["persona", n_col, "shift (points)", "95% CI", "p_adjusted", "significant",
                own_col]
    cols = [c for c in cols if c in sizes]
    parts += [f"<h3>Size shift</h3><p>Weighted share of all analysed respondents in each "
              f"persona: in {esc(base_wave)} its own personas, in {esc(new_wave)} the "
              f"respondents the baseline model places into each of them; the shift with its "
              "95% confidence interval (red: significant after Benjamini–Hochberg "
              "correction). Emerging and unassigned respondents are rows of their own: "
              "a respondent of an emerging segment fits no persona, so it counts in no "
              "persona's row, and the emerging row (new this wave) has no test. "
              f"The persona cards describe {esc(new_wave)}'s own segmentation instead: "
              "the last column gives the card's size of a persona carried over, which "
              "differs from the placed count when the two segmentations differ.</p>",
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
                     "waves (emerging respondents left out: they fit no persona).</p>")
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
    if corr is not None and len(corr):
        from .wave_step import resembles

        def carries(r):
            m = r.get("matched_segment", -1)
            return (r.get("kind") == "same" and m is not None and not pd.isna(m)
                    and int(m) != -1 and (not names_now or names_now.get(r["refit_segment"])
                                          == r.get("persona")))

        recs = corr.to_dict("records")
        t = pd.DataFrame({
            "persona now": [segment_label(r["refit_segment"], names_now) for r in recs],
            "n": [r.get("n") for r in recs],
            "vs baseline": [r.get("kind") for r in recs],
            "carries the name of": ["" for _ in recs],
            "closest persona (Jaccard)": [
                f"{r['closest']} ({float(r['jaccard']):.2f})"
                if r.get("closest") and pd.notna(r.get("jaccard")) else "–" for r in recs],
            f"made of (placed into {base_wave}'s personas)": [
                r.get("composition", "") if carries(r)
                else resembles(r.get("composition"), base_wave) or r.get("composition", "")
                for r in recs]})
        if "jaccard" not in corr:
            t = t.drop(columns="closest persona (Jaccard)")
        parts += [f"<h3>Personas now</h3><p>{esc(new_wave)} was also segmented on its own "
                  "(the persona cards). Each of its segments is compared with the baseline "
                  "personas by where the baseline model places its respondents (Jaccard: "
                  "the overlap of the segment with the respondents placed into its closest "
                  "persona, 1 = the same people). Only a "
                  "segment that <i>is</i> a baseline persona (<i>same</i>) keeps that "
                  "persona's name; a <i>split</i> (the persona divided), <i>merge</i> "
                  "(personas, or a persona and emerging respondents, joined), <i>new</i> "
                  "(mostly respondents who fit no persona) or <i>mixed</i> segment (made "
                  "of personas' respondents but none of them) keeps a name of its own, "
                  "never a baseline persona's, and says what it resembles.</p>",
                  str(table_html(t, cells={
                      "persona now": [persona_cell(r["refit_segment"], names_now, colors_now)
                                      for r in recs],
                      "carries the name of": [
                          persona_cell(int(r["matched_segment"]),
                                       {int(r["matched_segment"]): r["persona"]}, colors)
                          if carries(r) else Markup("–") for r in recs]}))]
    return Section("changes", f"What changed since {base_wave}", Markup("\n".join(parts)))
