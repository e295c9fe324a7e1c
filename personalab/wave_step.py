"""The wave-tracking step: this run's wave against an earlier run (the *baseline*).

:func:`track` is what ``notebooks/06_waves.ipynb`` calls. It reads this run's artifacts and
the baseline run's, checks the new codebook against the baseline's, types every new
respondent into the baseline personas (with a membership strength), finds emerging
segments, and matches this run's own segmentation (the refit on the new wave) to the
baseline personas. A segment that is the same as a baseline persona keeps that persona's
name; every other segment keeps a name of its own, never a baseline persona's, and says what
it resembles (:func:`renamed_personas`); the persona artifact and exports of this run are
rewritten so the report's persona cards show them.

Saves the artifacts ``wave_comparison`` (:class:`~personalab.waves.WaveComparison`),
``emerging_quotes`` (redacted representative quotes of each emerging candidate) and, when
names were carried over, ``personas`` again; writes ``wave_sizes.csv``, ``wave_drift.csv``,
``wave_codebook_diff.csv`` and ``wave_correspondence.csv`` beside the report.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from .artifacts import ArtifactStore
from .errors import InputError
from .personas import Evidence

__all__ = ["load_baseline", "track", "renamed_personas", "resembles", "segmentation_note"]


def load_baseline(baseline_dir):
    """:class:`~personalab.waves.Baseline` of an earlier run's output folder.

    Like :meth:`Baseline.from_run`, but the fitted model may also be the run's
    ``model.joblib`` (what the segment step writes with :func:`persistence.save_model`)
    when there is no ``model`` artifact.
    """
    from .persistence import load_model
    from .waves import Baseline

    baseline_dir = Path(baseline_dir)
    store = ArtifactStore(baseline_dir)
    model_file = baseline_dir / "model.joblib"
    if store.has("model") or not model_file.exists():
        return Baseline.from_run(baseline_dir)
    if not store.has("survey"):
        raise InputError(f"the run in {baseline_dir} has no 'survey' artifact",
                         file=str(store.path("survey")),
                         fix="point baseline at an earlier run's output folder (the folder "
                             "with artifacts/ and model.joblib)")
    survey = store.load("survey")
    if store.has("quality"):
        survey = store.load("quality").apply(survey)

    def opt(name):
        return store.load(name) if store.has(name) else None

    return Baseline(model=load_model(model_file), survey=survey, labels=opt("labels"),
                    profile=opt("profile"), sizes=opt("sizes"), tags=opt("tags"),
                    personas=opt("personas"))


def _tag_matrices(tags):
    return {q: t for q, t in (tags or {}).items()} or None


def track(output_dir, *, baseline_dir, seed=42, mapping=None, scale_mapping=None,
          n_quotes=3):
    """Compare this run's wave with the baseline run and save what changed.

    Parameters
    ----------
    output_dir : str or Path
        This run's output folder (ingest, segment, quotes and personas have run).
    baseline_dir : str or Path
        The earlier run's output folder.
    seed : int
        Seed of the emerging-segment clustering.
    mapping, scale_mapping : dict, optional
        ``{new_id: baseline_id}`` and ``{baseline_id: {new_label: baseline_label}}`` for
        renamed questions and changed scales (see :func:`personalab.waves.compare_codebooks`);
        a changed segmentation input without one is refused (CodebookError).
    n_quotes : int
        Representative quotes per emerging candidate.

    Returns
    -------
    WaveComparison
        Its ``correspondence`` matches this run's segments (``refit_segment``) to the
        baseline personas; ``refit_model`` is this run's model.
    """
    from .persistence import load_model
    from .waves import _correspondence, track_wave

    out = Path(output_dir)
    if out.resolve() == Path(baseline_dir).resolve():
        raise InputError("the baseline is this run's own output folder: the wave would be "
                         "compared with itself (every shift 0)", file=str(out),
                         fix="point baseline_dir at the earlier wave's run folder, and give "
                             "this wave a folder of its own")
    store = ArtifactStore(out)
    baseline = load_baseline(baseline_dir)
    survey = store.load("survey")
    quality = store.load("quality")
    kept = quality.apply(survey)
    new_tags = store.load("tags") if store.has("tags") else None
    # this run's segment step is the refit on the new wave: match it, do not fit again
    cmp = track_wave(baseline, kept, mapping=mapping, scale_mapping=scale_mapping,
                     new_tags=new_tags or None, refit=False, random_state=seed)
    labels = store.load("labels") if store.has("labels") else None
    if labels is not None:
        a = cmp.assignments
        lab = labels.set_axis(labels.index.astype(str)).reindex(a.index).fillna(-1).astype(int)
        cmp.correspondence = _correspondence(lab.to_numpy(), a["category"].to_numpy(), baseline)
        if (out / "model.joblib").exists():
            try:
                cmp.refit_model = load_model(out / "model.joblib")
            except Exception:  # the comparison stands without it
                cmp.refit_model = None
    # the persona cards keep their baseline names where the segment is the same persona
    personas = renamed = None
    if store.has("personas"):
        base_store = ArtifactStore(baseline_dir)
        base_personas = base_store.load("personas") if base_store.has("personas") else None
        personas = store.load("personas")
        renamed = renamed_personas(personas, cmp, base_personas or cmp.persona_names)
    if labels is not None:
        refused_now = {int(p.segment) for p in (renamed or [])
                       if getattr(p, "not_a_persona", None)}
        note = segmentation_note(cmp.correspondence, cmp.persona_names, refused_now,
                                 baseline.survey.wave,
                                 names_now={p.segment: p.name for p in (renamed or [])})
        if note:
            cmp.notes.append(note)
    cmp.params["baseline_dir"] = str(Path(baseline_dir).resolve())

    # redacted representative quotes of each emerging candidate (flagged respondents never)
    quotes = pd.DataFrame()
    if len(cmp.candidates):
        from .quotes import representative_quotes
        from .steps import _flagged_ids

        texts = kept.text()
        if texts.shape[1]:
            cand = cmp.assignments["candidate"].astype(int)
            tm = None
            if new_tags:
                tm = {q: t.matrix if hasattr(t, "matrix") else t for q, t in new_tags.items()}
            quotes = representative_quotes(
                texts, cand, n=n_quotes, tag_matrix=tm, sentiment=False,
                exclude_ids=quality.exclusions, flagged_ids=_flagged_ids(quality),
                redact=True, random_state=seed)

    store.save("wave_comparison", cmp)
    store.save("emerging_quotes", quotes)
    from .exports import to_safe_csv

    to_safe_csv(cmp.sizes, out / "wave_sizes.csv")
    to_safe_csv(cmp.drift, out / "wave_drift.csv")
    to_safe_csv(cmp.codebook_diff.table(), out / "wave_codebook_diff.csv")
    to_safe_csv(cmp.correspondence, out / "wave_correspondence.csv")
    to_safe_csv(cmp.candidates.drop(columns="respondent_ids", errors="ignore"),
                out / "wave_emerging.csv")

    if renamed is not None:
        from .personas import write_persona_exports

        if renamed != personas:
            store.save("personas", renamed)
            profile = store.load("profile") if store.has("profile") else None
            write_persona_exports(renamed, out / "personas", wave=survey.wave, profile=profile,
                                  codebook=survey.codebook)
    return cmp


def segmentation_note(correspondence, baseline_names, refused_now=(), baseline_wave=None,
                      names_now=None):
    """The note on how this wave's own segmentation differs from the baseline personas, or
    None when it does not.

    Only real differences are listed, each by name: a baseline persona no segment of this
    wave is ``same`` as ("no segment of this wave is the same persona as Linda"), and a
    segment that
    is ``split``, ``merge`` or ``new`` with what it is made of. Not differences: a segment
    ``same`` as its persona, and a segment this wave's checks refuse (``refused_now``):
    it is not a persona, whatever it is made of, and its card and the summary say so and
    why (TAFE 2011 -> 2012: a segment of non-answerers, 55% Lisa and 45% Mary, was listed
    as "segment 2 (Segment 2 (not a persona)) is mixed"). A persona such a segment takes
    respondents from is still listed when no segment is the same persona as it.

    Parameters
    ----------
    correspondence : DataFrame
        :attr:`WaveComparison.correspondence`.
    baseline_names : dict
        ``{baseline segment: name}`` (:attr:`WaveComparison.persona_names`).
    refused_now : iterable of int
        This wave's segments its checks refuse (``not_a_persona``).
    baseline_wave : str, optional
    names_now : dict, optional
        ``{segment: name}`` of this wave's personas (after :func:`renamed_personas`): a
        segment is named "segment 1 (Keen Karen)".
    """
    wave = baseline_wave or "the baseline"
    names_now = {int(k): str(v) for k, v in (names_now or {}).items()}
    names = {int(k): str(v) for k, v in (baseline_names or {}).items()}
    refused_now = {int(s) for s in refused_now}
    persona_names = {v for v in names.values() if not v.endswith("(not a persona)")}
    corr = correspondence if correspondence is not None else pd.DataFrame()
    found, parts = set(), []
    for r in corr.to_dict("records"):
        seg, kind = int(r["refit_segment"]), r.get("kind")
        if kind == "same":
            m = r.get("matched_segment", -1)
            found.add(names.get(int(m), "") if m is not None and not pd.isna(m) else "")
            continue
        if seg in refused_now:
            continue
        comp = _composition_parts(r.get("composition"))
        made = f" (made of {r['composition']})" if r.get("composition") else ""
        emerging = any(n == "emerging" for n, _ in comp)
        what = {"split": "part of a persona that divided",
                "merge": ("a merge of a persona and emerging respondents" if emerging
                          else "a merge of personas"),
                "new": "new: mostly respondents who fit no persona",
                "mixed": "mixed, none of the personas"
                }.get(kind, str(kind))
        label = f"segment {seg}" + (f" ({names_now[seg]})" if seg in names_now else "")
        parts.append(f"{label} is {what}{made}")
    lost = [n for s, n in sorted(names.items()) if n in persona_names and n not in found]
    if lost:
        parts.append("no segment of this wave is the same persona as "
                     + " or ".join(lost))
    if not parts:
        return None
    return f"This wave's own segmentation differs from the {wave} personas: " \
        + "; ".join(parts) + "."


def _renamed_narrative(narrative, old: str | None, new: str | None):
    """The narrative's "People like <old>" read as "People like <new>" (the persona carried
    over from the baseline keeps its name in its own sentences too)."""
    if not old or not new or old == new:
        return list(narrative or [])
    out = []
    for st in narrative or []:
        text = st.text.replace(f"People like {old} ", f"People like {new} ") \
            .replace(f"people like {old} ", f"people like {new} ")
        out.append(dataclasses.replace(st, text=text))
    return out


def _composition_parts(composition) -> list[tuple[str, float]]:
    """``[(name, share), ...]`` of a correspondence ``composition`` ("Linda 49%, Mary 48%",
    the largest first, parts of 5% or more)."""
    import re

    if not isinstance(composition, str) or not composition.strip():
        return []
    return [(m.group(1), int(m.group(2)) / 100)
            for m in re.finditer(r"\s*(.+?) (\d+)%(?:,|$)", composition)]


def resembles(composition, baseline_wave) -> str:
    """What a segment that is not carried over resembles among the baseline personas:
    "Resembles 2012's Linda (49%) and Mary (48%)" (the shares of its respondents that the
    baseline model places into each persona; "emerging" and "unassigned" parts read as
    respondents who fit no persona). Empty when the composition is unknown."""
    named, other = [], []
    for name, share in _composition_parts(composition):
        if name == "emerging":
            other.append(f"{share:.0%} in an emerging segment")
        elif name == "unassigned":
            other.append(f"{share:.0%} fit no persona")
        else:
            named.append(f"{name} ({share:.0%})")
    if not named and not other:
        return ""
    text = ""
    if named:
        joined = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        text = f"Resembles {baseline_wave}'s {joined}"
    if other:
        text += ("; " if text else "Of its respondents, ") + ", ".join(other)
    return text + "."


def _fresh_first_name(first: str, descriptor: str, used: set) -> str:
    """A first name of the same birth decade and sex as ``first`` (the popular-name table the
    personas draw from), alliterating with ``descriptor`` where one does, not in ``used``."""
    from .personas import _pick_name, name_table

    table = name_table()
    rows = table[table["name"] == first]
    decade, sex = ((int(rows.iloc[0]["decade"]), str(rows.iloc[0]["sex"])) if len(rows)
                   else (1980, "N"))
    return _pick_name(decade, sex, descriptor or "", set(used) | {first})


def renamed_personas(personas, comparison, baseline_personas):
    """This wave's personas, named after the baseline persona their segment *is*.

    A segment takes a baseline persona's name (and first name and descriptor) only when
    ``comparison.correspondence`` calls it ``same`` as that persona (:mod:`personalab.waves`
    decides ``same``: the matched persona is the one most of the segment's respondents
    are placed into, with a substantial overlap). A ``split`` part, a ``merge``, a
    ``new`` or ``mixed`` segment, or one without a match, is not that persona: it keeps
    the name this wave drafted for it, and its card says what it resembles ("Resembles
    2012's Linda (49%) and Mary (48%)", from the correspondence ``composition``).

    No segment that is not carried over keeps a name, or a first name, of ANY baseline
    persona (carried or not): a reader would take "Linda" for last wave's Linda. Such a
    segment gets another first name of the same birth decade and sex (alliterating with
    its descriptor where one does, as drafting does), and its narrative says
    "People like <new name>"; a name without a known first name gets " (new this wave)".

    Sizes: a carried persona's card counts this wave's own segment (the refit), while the
    "What changed" size table counts the respondents the baseline model places into the
    baseline persona; the two differ (DETE exit survey 2012 -> 2013: Mary's segment holds
    260 respondents, 69%, while 291, 77.0%, are placed into Mary). Rather than drop either
    number, the card shows both, each said for what it is, with the baseline share: "260
    respondents, 69% of the sample (…) in this wave's own segmentation. Placed into 2012's
    personas by the baseline model, 291 respondents (77.0%) fit Mary, against 69.1% in
    2012: the size shift under "What changed" compares these." The card is where a
    stakeholder reads a persona's size, so that is where the second number and the reason
    for the difference go; the trend (and its significance test) is the placed count, and
    the size table shows the card's number beside it from its side
    (:func:`personalab.wave_report.changes_section`). Respondents of an emerging segment
    fit no persona and are not in the placed count (the size table's ``n_emerging``); when
    the model would place some into the persona, the card says how many: "... fit Mary
    (not counting 12 more it places there who are in an emerging segment: they fit no
    persona), against ...".

    A segment this wave's checks refuse (``not_a_persona``) keeps its plain
    "Segment N (not a persona)" name, and no segment takes such a name from the baseline.

    Parameters
    ----------
    personas : list of PersonaDraft
        This wave's drafted personas (``segment`` = this wave's segment id).
    comparison : WaveComparison
        Its ``correspondence`` (refit_segment, matched_segment, kind, optionally
        composition), ``sizes`` and ``params["baseline_wave"]`` are read.
    baseline_personas : list of PersonaDraft or dict
        The baseline's personas, or ``{segment: name}``.

    Returns
    -------
    list of PersonaDraft
        New objects; the input is not changed.
    """
    base = {}
    if isinstance(baseline_personas, dict):
        base = {int(k): (str(v), None, None) for k, v in baseline_personas.items()}
    else:
        for p in baseline_personas or []:
            base[int(p.segment)] = (p.name, p.first_name, p.descriptor)
    params = getattr(comparison, "params", None) or {}
    base_wave = str(params.get("baseline_wave") or "the baseline")
    corr = comparison.correspondence
    rows, same = {}, {}
    for r in (corr.to_dict("records") if corr is not None else []):
        seg = int(r["refit_segment"])
        rows[seg] = r
        m = r.get("matched_segment", -1)
        m = -1 if m is None or pd.isna(m) else int(m)
        # one segment per persona (the matching guarantees it; a repeat is not carried)
        if r.get("kind") == "same" and m != -1 and m not in same.values():
            same[seg] = m
    sizes = getattr(comparison, "sizes", None)
    placed = {}
    if sizes is not None and len(sizes):
        for r in sizes.to_dict("records"):
            s = r.get("segment")
            if isinstance(s, (int, np.integer)) or (isinstance(s, str) and s.isdigit()):
                placed[int(s)] = r
    base_names = {str(v[0]) for v in base.values()}
    base_firsts = {str(v[1]) for v in base.values() if v[1]}
    used = base_firsts | {p.first_name for p in personas if p.first_name}

    out = []
    for p in personas:
        b = same.get(int(p.segment))
        refused = bool(getattr(p, "not_a_persona", None))
        if b is not None and b in base and not refused \
                and not str(base[b][0]).endswith("(not a persona)"):
            name, first, descriptor = base[b]
            q = dataclasses.replace(p, name=name, first_name=first or p.first_name,
                                    descriptor=descriptor or p.descriptor,
                                    narrative=_renamed_narrative(p.narrative, p.first_name,
                                                                 first))
            r = placed.get(b)
            if r is not None and p.size_statement is not None:
                k = r.get("n_emerging")
                k = int(k) if k is not None and not pd.isna(k) else 0
                aside = (f" (not counting {k:,} more it places there who are in an emerging "
                         "segment: they fit no persona)" if k else "")
                extra = (f" Placed into {base_wave}'s personas by the baseline model, "
                         f"{int(r['n_new']):,} respondents ({float(r['share_new']):.1%}) fit "
                         f"{name}{aside}, against {float(r['share_baseline']):.1%} in "
                         f"{base_wave}: the size shift under “What changed” compares these.")
                ev = Evidence(kind="wave_size", ref=f"wave_sizes.csv, segment {b}",
                              n=int(r["n_new"]), value=float(r["share_new"]), label=name)
                kept = [e for e in p.size_statement.evidence
                        if not str(getattr(e, "ref", "")).startswith("wave_sizes")]
                q.size_statement = dataclasses.replace(
                    p.size_statement, text=_own_segment(p.size_statement.text) + extra,
                    evidence=[*kept, ev])
            out.append(q)
            continue
        q = dataclasses.replace(p)
        if not refused:
            clash = p.name in base_names or (p.first_name and p.first_name in base_firsts)
            if clash and p.first_name:
                first = _fresh_first_name(p.first_name, p.descriptor, used)
                used.add(first)
                q = dataclasses.replace(
                    q, first_name=first,
                    name=f"{p.descriptor} {first}" if p.descriptor else first,
                    narrative=_renamed_narrative(p.narrative, p.first_name, first))
            elif clash:
                q = dataclasses.replace(q, name=f"{p.name} (new this wave)")
            like = resembles(rows.get(int(p.segment), {}).get("composition"), base_wave)
            if p.size_statement is not None:
                note = f"{_NOT_CARRIED}{base_wave}'s personas carried over."
                q.size_statement = dataclasses.replace(
                    p.size_statement, text=_drafted_size_text(p.size_statement.text) + note
                    + (f" {like}" if like else ""))
        out.append(q)
    return out


_OWN_SEGMENT = " in this wave's own segmentation."
_NOT_CARRIED = " Not one of "


def _drafted_size_text(text: str) -> str:
    """The size sentence as drafted, without what an earlier :func:`renamed_personas` of
    the same run added (so running the wave step again does not repeat it)."""
    for marker in (_OWN_SEGMENT, _NOT_CARRIED):
        i = text.find(marker)
        if i >= 0:
            text = text[:i].rstrip()
            if marker == _OWN_SEGMENT and not text.endswith("."):
                text += "."
    return text


def _own_segment(text: str) -> str:
    """A size sentence ("118 respondents, 31% of the sample (95% CI 27%–36%).") said to be
    this wave's own segment."""
    text = _drafted_size_text(text).rstrip()
    if text.endswith("."):
        text = text[:-1]
    return text + _OWN_SEGMENT
