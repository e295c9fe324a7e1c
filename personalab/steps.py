"""The pipeline's steps as plain functions: what each notebook calls.

Each step reads what earlier steps saved in the run's output folder, does its work through
the library modules, saves its own results there, and returns them for the notebook to show.
A notebook holds the narrative and the display; the logic lives here and in the modules it
calls, so every step can be tested and rerun without Jupyter.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .artifacts import ArtifactStore


@dataclass
class IngestResult:
    """What the ingest step produced."""

    survey: object
    quality: object
    validation: object
    codebook_path: Path | None
    drafted_codebook: Path | None


def ingest(input_path, *, output_dir, codebook_path=None, wave=None, file_format="auto",
           exclude_flags=None, engine="local", scheduler=None, decimal=None, thousands=None,
           dayfirst=None, encoding=None, encoding_errors=None, exclude_respondents=None,
           config_file=None) -> IngestResult:
    """Load a raw export, validate it against its codebook, and check data quality.

    Parameters
    ----------
    input_path : str or Path
        The raw export. It is only read, never modified.
    output_dir : str or Path
        The run's output folder.
    codebook_path : str or Path, optional
        The survey codebook. Without one, a draft is inferred, used, and written to
        ``<output_dir>/codebook_draft.yml`` for the researcher to review.
    wave : str, optional
        Wave name (default: the export's file name).
    file_format : str
        Export format or ``"auto"``.
    exclude_flags : list of str, optional
        Quality flags that exclude a respondent (default: ``QualityRules`` default).
    exclude_respondents : dict or str or Path, optional
        Respondents to exclude by hand, ``{respondent id: reason}`` or a CSV with the
        columns ``respondent_id,reason`` (study.yml's ``exclude_respondents``): each is
        flagged ``listed`` with its reason and excluded (see
        :class:`personalab.quality.QualityRules`).
    config_file : str or Path, optional
        The study config the run read (named in an ``exclude_respondents`` error).
    engine : {"local", "dask"}
        ``"dask"`` reads, validates and types the partitions on a Dask cluster (see
        :mod:`personalab.dask_engine`); a glob pattern or folder as ``input_path`` is a
        partitioned wave for either engine.
    scheduler : str, optional
        Dask scheduler address (``engine="dask"``); default a LocalCluster.
    decimal, thousands, dayfirst, encoding, encoding_errors : optional
        How the export is read: the study config's keys of the same names, passed to
        :func:`personalab.loaders.load_export` (see :class:`personalab.config.StudyConfig`).
        A per-column option must name a numeric/weight (``decimal``, ``thousands``) or
        date (``dayfirst``) question of the codebook. A partitioned input takes ``decimal``,
        ``thousands`` and ``dayfirst`` (checked against every partition's values), not yet
        ``encoding`` / ``encoding_errors``.

    Returns
    -------
    IngestResult

    Raises
    ------
    InputError
        The export cannot be read as the codebook says. A refusal that an option settles
        (a number column that reads two ways, mixed date orders, undecodable bytes) names
        the option both as ``load_export`` takes it and as a study.yml key.
    ConfigError
        An option is not one PersonaLab reads, or names a column the codebook does not
        type that way, or ``encoding`` / ``encoding_errors`` is given for a partitioned input;
        or ``exclude_respondents`` is malformed or lists an id the wave does not have
        (naming ``config_file``, the key, the ids and the fix).
    """
    from .config import check_read_options
    from .errors import ConfigError, InputError
    from .quality import QualityRules

    options = {k: v for k, v in dict(decimal=decimal, thousands=thousands, dayfirst=dayfirst,
                                     encoding=encoding, encoding_errors=encoding_errors).items()
               if v is not None}
    check_read_options(options)
    kw = {} if exclude_flags is None else {"exclude": tuple(exclude_flags)}
    if exclude_respondents is not None:
        kw["exclude_respondents"] = exclude_respondents
    try:
        rules = QualityRules(**kw)      # checked (exclusion_list) before the export is read
        return _ingest(input_path, output_dir=output_dir, codebook_path=codebook_path,
                       wave=wave, file_format=file_format, rules=rules,
                       engine=engine, scheduler=scheduler, options=options)
    except ConfigError as err:
        if err.column == "exclude_respondents" and err.file is None and config_file:
            raise ConfigError(err.problem, file=config_file, column=err.column,
                              fix=err.fix) from None
        raise
    except InputError as err:
        raise _with_study_fix(err) from None


def _with_study_fix(err):
    """``err`` with the study.yml key of each option its fix names (a run's errors)."""
    from .config import study_fix

    fix = study_fix(err.fix)
    if fix == err.fix:
        return err
    new = type(err)(err.problem, file=err.file, column=err.column, row=err.row, fix=fix)
    new.__dict__.update({k: v for k, v in err.__dict__.items() if k not in new.__dict__})
    return new


def _ingest(input_path, *, output_dir, codebook_path, wave, file_format, rules, engine,
            scheduler, options) -> IngestResult:
    from .codebook import infer_codebook, load_codebook, save_codebook
    from .config import check_option_columns, study_fix
    from .errors import ConfigError
    from .exports import to_safe_csv
    from .loaders import load_export
    from .quality import check_quality
    from .survey import Survey

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(out)
    from . import dask_engine as de

    partitioned = engine == "dask" or de.is_pattern(input_path)
    # partitions take the number/date conventions (checked against every partition's
    # values); each partition's text encoding is still detected file by file
    unread = [k for k in ("encoding", "encoding_errors") if k in options]
    if partitioned and unread:
        key = unread[0]
        raise ConfigError(f"{', '.join(unread)} cannot be given for a partitioned input yet: "
                          "each partition's encoding is detected file by file", column=key,
                          fix=f"leave {key} out (damaged bytes are replaced and reported), or "
                              "run on one export file")
    conventions = {k: v for k, v in options.items() if k in ("decimal", "thousands", "dayfirst")}
    files = de.input_partitions(input_path) if partitioned else [Path(input_path)]
    raw = None
    drafted = None
    if codebook_path is None:
        raw = de.read_raw(files[0], file_format) if partitioned else \
            load_export(input_path, format=file_format, **options)
        codebook = infer_codebook(raw)
        drafted = out / "codebook_draft.yml"
        save_codebook(codebook, drafted)
    else:
        codebook = load_codebook(codebook_path)
    check_option_columns(options, codebook)
    typed = None
    if not partitioned:
        raw = raw if raw is not None else load_export(input_path, format=file_format, **options)
        # one reading: the survey and the report validate_codebook gives
        survey, validation = Survey.read_with_report(raw, codebook, wave=wave)
        for issue in validation.issues:         # the run's fixes name study.yml's keys
            issue.fix = study_fix(issue.fix)
    else:
        wave = wave or files[0].parent.name
        if engine == "dask":
            with de.dask_client(scheduler) as client:
                parts, validation, typed = de.ingest_partitions(
                    client, files, codebook, output_dir=out, wave=wave, file_format=file_format,
                    **conventions)
        else:
            parts, validation = de.read_partitions(files, codebook, wave=wave,
                                                   file_format=file_format, **conventions)
        survey = de.concat_surveys(parts, wave=wave, source=Path(str(input_path)))
    store.save("partitions", {"files": [str(f) for f in files], "typed": typed,
                              "engine": engine,
                              "partition_of": getattr(survey, "partition_of", None)})
    quality = check_quality(survey, rules)
    store.save("survey", survey)
    store.save("quality", quality)
    store.save("validation", validation)
    to_safe_csv(quality.exclusions, out / "exclusions.csv")
    to_safe_csv(quality.flags, out / "quality_flags.csv")
    return IngestResult(survey=survey, quality=quality, validation=validation,
                        codebook_path=Path(codebook_path) if codebook_path else None,
                        drafted_codebook=drafted)


@dataclass
class SegmentResult:
    """What the segment step produced."""

    model: object
    labels: object
    profile: object
    sizes: object
    stability: object
    recommendation: object | None
    sweep: object | None
    golden: object | None
    #: the survey's codebook (questions' short labels for the charts)
    codebook: object = None


def _kept(store: ArtifactStore):
    survey = store.load("survey")
    quality = store.load("quality")
    return survey, quality, quality.apply(survey)


#: Fewest respondents the segment step segments: below this, 80% subsamples of a
#: two-segment solution hold a handful of people each and no stability check means much.
MIN_RESPONDENTS = 20


def _auto_grid(reducer, clusterer, n_segments, sweep_grid):
    """The sweep grid for reducer/clusterer "auto" (one of them may be fixed)."""
    from .diagnostics import DEFAULT_GRID, UMAP_GRID

    if sweep_grid is not None:
        grid = [dict(g) for g in ([sweep_grid] if isinstance(sweep_grid, dict) else sweep_grid)]
    elif reducer == "umap" or clusterer == "hdbscan":
        grid = [dict(g) for g in UMAP_GRID]
    else:
        grid = [dict(g) for g in DEFAULT_GRID]
    for g in grid:
        if reducer != "auto":
            g["reducer"] = [reducer]
        if clusterer != "auto":
            g["clusterer"] = [clusterer]
        if n_segments is not None and any(c != "hdbscan" for c in g.get("clusterer", [])):
            g["n_segments"] = [n_segments]
    return grid


def segment_survey(survey, *, n_segments=None, seed=42, min_segment_share=0.05,
                   reducer="auto", clusterer="auto", n_neighbors=None, n_boot=10,
                   sweep_grid=None, fit_sample_size=None):
    """Choose, fit and check the segmentation of a survey's respondents.

    What :func:`segment` runs, without reading or writing a run folder (the benchmark on
    real surveys, ``benches/bench_real.py``, calls it too).

    Parameters
    ----------
    survey : Survey
        The respondents to segment (kept respondents, or the fit sample).
    n_segments : int, optional
        Number of personas the researcher asks for. With "auto" stages only that number is
        swept (both families); its stability is reported like any other, and a verdict
        says so when it does not reproduce.
    reducer, clusterer : str, default "auto"
        "auto": :func:`~personalab.diagnostics.sweep` over
        :data:`~personalab.diagnostics.DEFAULT_GRID` (k-means on the scaled features,
        with and without PCA, 2-7 segments) and
        :func:`~personalab.diagnostics.recommend` picks the finest stable solution the
        guards accept; ``reducer="umap"``/``clusterer="hdbscan"`` with the other "auto"
        sweeps :data:`~personalab.diagnostics.UMAP_GRID`. Both fixed: that model.
    n_boot : int, default 10
        Subsamples of the stability check, in the sweep and for the fitted model alike.

    Returns
    -------
    SimpleNamespace
        ``model`` (fitted), ``stability`` (:class:`~personalab.diagnostics.StabilityResult`
        or None), ``recommendation`` and ``sweep`` (None for fixed stages).

    Raises
    ------
    SegmentationError
        Fewer than :data:`MIN_RESPONDENTS` respondents, or none of them differ on the
        segmentation questions (naming the file, the rows and what to do).
    """
    from types import SimpleNamespace

    from .diagnostics import recommend, start_stability, sweep
    from .segmentation import PersonaModel, check_segmentable

    check_segmentable(survey, min_respondents=MIN_RESPONDENTS)
    fixed = {"min_segment_share": min_segment_share, "random_state": seed}
    if fit_sample_size is not None:
        fixed["fit_sample_size"] = fit_sample_size
    if n_neighbors is not None:
        fixed["n_neighbors"] = n_neighbors
    table = rec = None
    if reducer == "auto" or clusterer == "auto":
        grid = _auto_grid(reducer, clusterer, n_segments, sweep_grid)
        table = sweep(survey, grid, model=PersonaModel(**fixed), random_state=seed,
                      n_boot=n_boot)
        rec = recommend(table)
        if n_segments is not None:
            rec.reasons.insert(0, f"The researcher asked for {n_segments} segments: only that "
                                  "number was swept.")
            if not rec.stable:
                rec.verdict = (f"The {n_segments} segments asked for are not stable: "
                               + rec.verdict)
        model = rec.model(**{k: v for k, v in fixed.items() if k not in rec.params
                             or k == "random_state"})
        model.fit(survey)
        # the sweep refitted exactly this model on exactly these subsamples: its result
        # is the run's stability (tests/test_diagnostics.py checks they are identical)
        stab = table.attrs["stability"].get(int(rec.row.name)) if n_boot else None
    else:
        if n_segments is not None:
            fixed["n_segments"] = n_segments
        model = PersonaModel(reducer=reducer, clusterer=clusterer, **fixed)
        # the stability refits run in worker processes while the model itself is fitted
        stab_run = start_stability(model, survey, n_boot=n_boot, random_state=seed) \
            if n_boot else None
        model.fit(survey)
        stab = stab_run.result(model) if stab_run is not None else None
    return SimpleNamespace(model=model, stability=stab, recommendation=rec, sweep=table)


def segment(output_dir, *, seed=42, min_segment_share=0.05, reducer="auto", clusterer="auto",
            n_neighbors=None, n_boot=10, sweep_grid=None, golden=True, engine="local",
            scheduler=None, fit_sample_size=None, n_segments=None) -> SegmentResult:
    """Segment the kept respondents, check stability, profile the segments.

    With ``reducer`` or ``clusterer`` set to ``"auto"`` (the default), a sweep over the
    settings in :data:`personalab.diagnostics.DEFAULT_GRID` (or ``sweep_grid``) measures
    every candidate as the run fits it (whole pipeline refitted on 10 subsamples) and
    :func:`personalab.diagnostics.recommend` picks the finest solution (at most 7
    segments) that reproduces and that no single input or missing-answer pattern
    explains; otherwise the given stages are used as they are. ``n_segments``: the
    number of personas the researcher asks for (None: chosen as above). See
    :func:`segment_survey`.

    With ``engine="dask"`` the model is fitted on a stratified sample of the kept
    respondents (in proportion to each partition's) and every partition is placed and
    profiled on the Dask cluster (see :mod:`personalab.dask_engine`).
    ``fit_sample_size`` (default: PersonaModel's, 10,000) caps the respondents the
    reducer and clusterer are fitted on, for either engine.

    Too few respondents (or none who differ) raise
    :class:`personalab.segmentation.SegmentationError` naming the file and rows; the
    ingest step has already written the data-quality tables.

    Writes ``segments.csv`` (respondent id, ``segment``, and for each unassigned (-1)
    respondent the ``reason``, e.g. a cluster too small for a persona; empty for assigned
    ones), ``segment_profiles.csv`` and ``golden_questions.csv``, formulas neutralised.

    Saves: ``model.joblib`` (for typing the next wave), and the artifacts ``labels``,
    ``membership``, ``embedding``, ``map2d``, ``profile``, ``sizes``, ``stability``,
    ``sweep``, ``recommendation``, ``golden``.
    """
    import numpy as np
    import pandas as pd

    from .persistence import save_model
    from .profiles import profile_segments, segment_sizes
    from .segmentation import PersonaModel

    out = Path(output_dir)
    store = ArtifactStore(out)
    survey, quality, kept = _kept(store)
    fit_on = kept
    if engine == "dask":
        from .dask_engine import stratified_sample

        parts = store.load("partitions") if store.has("partitions") else None
        if not parts or not parts.get("typed"):
            from .errors import ConfigError

            raise ConfigError("the ingest step did not run with the Dask engine, so there "
                              "are no typed partitions to place", column="engine",
                              fix="run the whole pipeline with engine: dask")
        fit_on = kept.subset(stratified_sample(
            kept, fit_sample_size or PersonaModel().fit_sample_size,
            strata=parts.get("partition_of"), random_state=seed))
    chosen = segment_survey(fit_on, n_segments=n_segments, seed=seed,
                            min_segment_share=min_segment_share, reducer=reducer,
                            clusterer=clusterer, n_neighbors=n_neighbors, n_boot=n_boot,
                            sweep_grid=sweep_grid, fit_sample_size=fit_sample_size)
    model, stab = chosen.model, chosen.stability
    table, rec = chosen.sweep, chosen.recommendation
    weights = kept.weights()
    ids = kept.data.index
    stats = None
    if engine == "dask":
        from .dask_engine import dask_client, place_partitions

        fitted = pd.Series(model.labels_, index=fit_on.data.index)
        with dask_client(scheduler) as client:
            placed, stats = place_partitions(client, parts["typed"], ids, model, fitted)
        labels = placed["labels"].reindex(ids).rename("segment")
        membership = placed["membership"].reindex(ids)
        embedding = placed["embedding"].reindex(ids)
    else:
        labels = pd.Series(model.labels_, index=ids, name="segment")
        membership = pd.DataFrame(model.membership_).set_axis(ids, axis=0)
        embedding = pd.DataFrame(model.embedding_, index=ids)
    # a 2-D view of the segmentation space for the map: PCA of the embedding is cheap,
    # deterministic and keeps the segments' separation
    emb = embedding.to_numpy(dtype=float)
    if emb.shape[1] > 2:
        from sklearn.decomposition import PCA

        emb = PCA(n_components=2, random_state=seed).fit_transform(emb)
    map2d = pd.DataFrame(emb[:, :2], index=ids, columns=["x", "y"])
    if stats is not None:       # merged exactly from the partitions' moments
        from .profiles import profile_from_statistics

        profile = profile_from_statistics(stats)
    else:
        profile = profile_segments(kept, labels)
    sizes = segment_sizes(labels.to_numpy(), weights.to_numpy())
    gq = None
    if golden and model.n_segments_ >= 2:
        from .golden import golden_questions

        # golden_questions leaves unassigned (-1) respondents out itself: no subset copy
        gq = golden_questions(kept, labels, random_state=seed)
    save_model(model, out / "model.joblib")
    for name, obj in [("labels", labels), ("membership", membership), ("embedding", embedding),
                      ("map2d", map2d), ("profile", profile), ("sizes", sizes),
                      ("stability", stab), ("sweep", table), ("recommendation", rec),
                      ("golden", gq)]:
        store.save(name, obj)
    from .exports import to_safe_csv

    # segments.csv: every kept respondent, in a segment or unassigned (-1) with the reason
    # (the model's, for the respondents it was fitted on; respondents placed from a fit
    # sample take their unassigned neighbours' label, as PersonaModel says of its own)
    unassigned = labels == -1
    said = getattr(model, "unassigned_reasons_", None)
    reason = (pd.Series(said, dtype=object).reindex(ids) if said is not None
              else pd.Series(None, index=ids, dtype=object))
    reason = reason.where(unassigned)
    reason[unassigned & (reason.isna() | (reason == ""))] = (
        "placed next to fitted respondents who are unassigned")
    to_safe_csv(labels.to_frame().assign(reason=reason.fillna("")).reset_index(),
                out / "segments.csv")
    to_safe_csv(profile, out / "segment_profiles.csv")
    if gq is not None:
        to_safe_csv(gq.table(), out / "golden_questions.csv")
    return SegmentResult(model=model, labels=labels, profile=profile, sizes=sizes,
                         stability=stab, recommendation=rec, sweep=table, golden=gq,
                         codebook=kept.codebook)


@dataclass
class QuotesResult:
    """What the quotes step produced."""

    texts: object
    tags: dict
    theme_shares: object
    theme_profile: object
    quotes: object
    sentiment: object


def _flagged_ids(quality):
    flags = quality.flags
    return set(flags["respondent_id"].astype(str)) if len(flags) else set()


def quotes(output_dir, *, themes_path=None, n_quotes=5, seed=42, engine="local",
           scheduler=None) -> QuotesResult:
    """Tag open-text answers with themes, score sentiment, pick representative quotes.

    With ``engine="dask"`` tagging and sentiment run partition by partition on the Dask
    cluster and theme shares are merged exactly from the partitions' counts.

    Sentiment scores each answer with its question's wording from the survey codebook
    (``sentiment_scores(..., question=)``), so "Nothing" answering "What could we
    improve?" is not scored as a complaint (local engine; the Dask engine scores in
    :func:`personalab.dask_engine.tag_partitions`).

    Quotes never come from excluded or flagged respondents and are PII-redacted. Saves the
    artifacts ``tags`` ({question: TagResult}), ``theme_shares``, ``theme_profile``,
    ``quotes``, ``sentiment``, ``theme_info``.
    """
    import pandas as pd

    from .codebook import asks_about_the_survey, is_other_specification, question_wording
    from .discovery import distinctive_themes
    from .quotes import representative_quotes
    from .sentiment import sentiment_scores

    out = Path(output_dir)
    store = ArtifactStore(out)
    survey, quality, kept = _kept(store)
    labels = store.load("labels")
    embedding = store.load("embedding")
    texts = kept.text()
    tags, matrices, shares = {}, {}, []
    theme_profile, theme_info = None, {}
    codebook = None
    if themes_path is not None and texts.shape[1]:
        from .themes import load_themes

        codebook = load_themes(themes_path)
        theme_info = {t.id: {"label": t.label, "polarity": t.polarity,
                             "facet": getattr(t, "facet", None)} for t in codebook.themes}
    sentiment = merged_shares = None
    if engine == "dask" and texts.shape[1]:
        from .dask_engine import dask_client, tag_partitions

        parts = store.load("partitions")
        with dask_client(scheduler) as client:
            dtags, sentiment, merged_shares = tag_partitions(
                client, parts["typed"], kept.data.index, codebook, labels)
        sentiment = sentiment.reindex(texts.index)
        if codebook is not None:
            tags = {q: dtags[q] for q in texts.columns}
    elif codebook is not None:
        from .themes import tag_answers

        tags = {q: tag_answers(texts[q], codebook) for q in texts.columns}
    if codebook is not None:
        for q in texts.columns:
            result = tags[q]
            matrices[q] = result.matrix
            sh = merged_shares[q] if merged_shares is not None else \
                result.shares(by=labels.reindex(result.matrix.index))
            sh = sh.rename_axis("segment").reset_index().melt(id_vars="segment",
                                                                 var_name="theme",
                                                                 value_name="share")
            sh.insert(0, "question", q)
            shares.append(sh)
        combined = None
        for q, m in matrices.items():
            answered = tags[q].answered.reindex(m.index).fillna(False).to_numpy()
            m = m[answered]
            combined = m if combined is None else combined.add(m, fill_value=0).clip(upper=1)
        if combined is not None and len(combined):
            seg = labels.reindex(combined.index)
            theme_profile = distinctive_themes(combined.astype(int), seg)
    # each open question's wording, so an answer is scored as the answer to it: "Nothing"
    # to "What could we improve?" is praise, to "What did you like?" a complaint
    wording = question_wording(kept.codebook, texts.columns)
    if sentiment is None:
        sentiment = pd.DataFrame({q: sentiment_scores(texts[q], question=wording.get(q))
                                  for q in texts.columns}, index=texts.index)
    # quotes only from respondents typical of their persona on the traits its card will
    # state (personas drafted here without quotes: the traits do not depend on them), so the
    # personas step never has to leave a picked quote out for its respondent's answers
    eligible = None
    if texts.shape[1] and store.has("profile") and store.has("sizes"):
        from .personas import draft_personas, typical_respondents

        drafts = draft_personas(kept, labels, store.load("profile"), store.load("sizes"),
                                theme_profile=theme_profile, theme_info=theme_info)
        eligible = typical_respondents(kept, labels, drafts)
    # a closed question's "Other (please specify)" text names a category: it is tagged and
    # counted with the rest, but a persona is quoted from the open questions only (a
    # survey whose only free text is such answers is still quoted from them)

    # nor from answers about the questionnaire itself ("Any comments about this survey?",
    # "What question do you wish we had asked?"): those are feedback on the survey, not the
    # persona's voice; never quoted, even when nothing else is left. A text question with
    # role: ignore is not among ``texts`` at all (Survey.text leaves it out).
    voices = [q for q in texts.columns if not asks_about_the_survey(wording.get(q))]
    quotable = [q for q in voices if q not in kept.codebook
                or not is_other_specification(kept.codebook[q])] or voices
    quotes_df = representative_quotes(
        texts[quotable], labels, n=n_quotes, embedding=embedding,
        tag_matrix={q: m for q, m in matrices.items() if q in quotable} or None,
        sentiment=sentiment, exclude_ids=quality.exclusions, flagged_ids=_flagged_ids(quality),
        redact=True, random_state=seed, questions=wording, eligible=eligible)
    theme_shares = pd.concat(shares, ignore_index=True) if shares else pd.DataFrame()
    for name, obj in [("tags", tags), ("theme_shares", theme_shares),
                      ("theme_profile", theme_profile), ("quotes", quotes_df),
                      ("sentiment", sentiment), ("theme_info", theme_info)]:
        store.save(name, obj)
    return QuotesResult(texts=texts, tags=tags, theme_shares=theme_shares,
                        theme_profile=theme_profile, quotes=quotes_df, sentiment=sentiment)


def personas(output_dir, *, wave=None, not_a_fit=None, n_quotes=5) -> list:
    """Draft one persona per segment from the saved evidence and write the exports.

    Writes ``personas.json`` (versioned schema), ``personas.md``, ``persona_cards.html``,
    and CSV/XLSX of evidence, quotes and profiles (formulas neutralised) to
    ``<output_dir>/personas/``; saves the artifact ``personas``.
    """
    from .personas import draft_personas, write_persona_exports

    out = Path(output_dir)
    store = ArtifactStore(out)
    survey, quality, kept = _kept(store)
    labels = store.load("labels")
    profile, sizes = store.load("profile"), store.load("sizes")
    stab = store.load("stability")
    stability = None
    if stab is not None:
        seg = stab.segments
        stability = {int(s): float(v) for s, v in zip(seg.index if "segment" not in seg
                                                       else seg["segment"], seg["jaccard_mean"])}
    unassigned = float((labels == -1).mean())
    quotes_df = store.load("quotes") if store.has("quotes") else None
    theme_profile = store.load("theme_profile") if store.has("theme_profile") else None
    theme_info = store.load("theme_info") if store.has("theme_info") else {}
    drafted = draft_personas(kept, labels, profile, sizes, quotes=quotes_df,
                             theme_profile=theme_profile, theme_info=theme_info,
                             stability=stability, unassigned_share=unassigned,
                             not_a_fit=not_a_fit, n_quotes=n_quotes,
                             verdict=stab if stab is not None else (
                                 store.load("recommendation") if store.has("recommendation")
                                 else None))
    store.save("personas", drafted)
    write_persona_exports(drafted, out / "personas", wave=wave, profile=profile,
                          codebook=kept.codebook)
    return drafted


def report(output_dir, *, wave=None, seed=None) -> Path:
    """Render the stakeholder report from whatever steps have run."""
    from .report import build_report

    return build_report(Path(output_dir), wave=wave, run_info={"seed": seed})
