"""The wave-tracking step: this run's wave against an earlier run (the *baseline*).

:func:`track` is what ``notebooks/06_waves.ipynb`` calls. It reads this run's artifacts and
the baseline run's, checks the new codebook against the baseline's, types every new
respondent into the baseline personas (with a membership strength), finds emerging
segments, and matches this run's own segmentation (the refit on the new wave) to the
baseline personas. Matched personas keep their baseline names (:func:`renamed_personas`);
the persona artifact and exports of this run are rewritten with those names so the report's
persona cards show them.

Saves the artifacts ``wave_comparison`` (:class:`~personalab.waves.WaveComparison`),
``emerging_quotes`` (redacted representative quotes of each emerging candidate) and, when
names were carried over, ``personas`` again; writes ``wave_sizes.csv``, ``wave_drift.csv``,
``wave_codebook_diff.csv`` and ``wave_correspondence.csv`` beside the report.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from .artifacts import ArtifactStore
from .errors import InputError

__all__ = ["load_baseline", "track", "renamed_personas"]


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
        kinds = cmp.correspondence.loc[cmp.correspondence["kind"] != "same", "kind"]
        if len(kinds):
            cmp.notes.append("This wave's segmentation differs from the personas: " + ", ".join(
                f"{v} {k}" for k, v in kinds.value_counts().items()) + " segment(s).")
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

    # the persona cards keep their baseline names where the segment is the same persona
    if store.has("personas"):
        from .personas import write_persona_exports

        base_store = ArtifactStore(baseline_dir)
        base_personas = base_store.load("personas") if base_store.has("personas") else None
        personas = store.load("personas")
        renamed = renamed_personas(personas, cmp, base_personas or cmp.persona_names)
        if [p.name for p in renamed] != [p.name for p in personas]:
            store.save("personas", renamed)
            profile = store.load("profile") if store.has("profile") else None
            write_persona_exports(renamed, out / "personas", wave=survey.wave, profile=profile,
                                  codebook=survey.codebook)
    return cmp


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


def renamed_personas(personas, comparison, baseline_personas):
    """This wave's personas, named after the baseline persona their segment matches.

    A segment matched to a baseline persona in ``comparison.correspondence`` (kind
    ``same``, ``split``'s matched part, or ``merge``'s matched part: Hungarian matching
    gives each persona at most one segment) takes that persona's name (and first name
    and descriptor); ``new`` and unmatched segments keep their freshly drafted names,
    marked "(new)" if one would collide with a carried-over name. A segment this wave's
    checks refuse (``not_a_persona``) keeps its plain "Segment N (not a persona)" name,
    and no segment takes such a name from the baseline.

    Parameters
    ----------
    personas : list of PersonaDraft
        This wave's drafted personas (``segment`` = this wave's segment id).
    comparison : WaveComparison
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
    corr = comparison.correspondence
    match = {}
    for r in corr.itertuples():
        if r.kind != "new" and int(r.matched_segment) != -1:
            match[int(r.refit_segment)] = int(r.matched_segment)
    out, taken = [], set()
    for p in personas:
        b = match.get(int(p.segment))
        # a segment the checks refuse keeps its plain name, and a persona never takes the
        # plain name of a refused baseline segment: neither is a persona carried over
        if b is not None and b in base and not getattr(p, "not_a_persona", None) \
                and not str(base[b][0]).endswith("(not a persona)"):
            name, first, descriptor = base[b]
            q = dataclasses.replace(p, name=name, first_name=first or p.first_name,
                                    descriptor=descriptor or p.descriptor,
                                    narrative=_renamed_narrative(p.narrative, p.first_name,
                                                                 first))
            taken.add(name)
        else:
            q = dataclasses.replace(p)
        out.append(q)
    for i, p in enumerate(out):
        if match.get(int(p.segment)) is None and p.name in taken:
            out[i] = dataclasses.replace(p, name=f"{p.name} (new)")
    return out
