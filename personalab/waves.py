"""Fresh survey waves: type a new wave into last wave's personas and say what changed.

A persona study is rarely run once. When the next wave comes in, a researcher wants to know,
against the personas already shared with the team:

* does the new questionnaire still measure the same thing? (:func:`compare_codebooks`)
* how big is each persona now, and did that change beyond sampling noise?
* did a persona itself change (its answers, its open-text themes)?
* who fits none of the personas, and are they a new kind of respondent (an *emerging*
  segment) rather than a few stragglers?
* would a fresh segmentation of the new wave find the same personas, or split, merged
  and new ones?

:func:`track_wave` answers all of it from a :class:`Baseline` (what the previous run saved)
and the new :class:`~personalab.survey.Survey`, in one :class:`WaveComparison` of tidy
tables, with :func:`visualize_size_shift` and :func:`visualize_drift` to show them.

Decisions
---------
* **Nothing is silently re-mapped.** A question renamed between waves (same or similar text,
  new id) is *reported* with a suggested mapping; it is used only when the researcher passes
  ``mapping={new_id: baseline_id}``. A segmentation input that was dropped, renamed or whose
  answer scale changed stops the comparison (:class:`~personalab.errors.CodebookError`) until
  it is mapped: typing respondents through a model whose inputs mean something else gives
  confident nonsense.
* **Shares are over everyone; an emerging respondent is in no persona.** Persona shares in
  both waves are shares of all (kept) respondents, with "unassigned" and, in the new wave,
  "emerging" as rows of their own: the rows of each wave sum to 1. A respondent of an
  emerging candidate fits no persona (candidates come only from the poorly-fitting or
  off-map respondents, and are kept only when still new relative to the baseline, below),
  so it counts in neither a persona's size nor its drift: a new group that the baseline
  model would type into a persona shows as the emerging row, not as that persona growing
  or drifting (bundled sample: the planted investors take share from the planners, and
  the planners' row shows the decline). The emerging row has no test (its baseline share
  is 0 by construction).
* **Weights and tests as in** :mod:`personalab.profiles`: weighted shares and means; tests use
  Kish's effective sample size; two-proportion z for shares, Welch t for means; every family
  of tests is corrected (``correction``, Benjamini-Hochberg by default).
* **Membership of a k-means persona is calibrated on the baseline.** A k-means model has no
  probabilities of its own, and a softmax over squared distances scaled by the within-segment
  variance gives nearly even shares in many dimensions (on the bundled sample, 6 personas
  on 29 scaled inputs: at most 0.53, and 3 of 1,419 respondents at 0.5 or more when the new
  wave was the baseline file itself). :func:`track_wave` uses a softmax over the squared
  distances to the personas' centres (the k-means centres, in the space the model
  clusters) whose temperature is set so that the median fitted respondent holds
  ``MEDIAN_MEMBERSHIP`` (3/4) of its own persona: a new respondent as clearly placed as
  the baseline's typical one gets 75%, one half-way between two personas about 50% or
  less. The model sets it when it is fitted (``PersonaModel.membership_temperature_``);
  :func:`kmeans_membership` calibrates a baseline model pickled before that on the
  baseline. ``params["membership_temperature"]`` holds the temperature. Other clusterers
  keep their own membership (a Gaussian mixture's posterior).
* **Emerging segments are new relative to the baseline, not just badly fitted.** A soft
  membership is relative (a Gaussian mixture is 99% sure of a point far from every
  component), so "fits no persona well" means: unassigned, or membership below
  ``min_membership`` (by default set on the baseline: below what 90% of its respondents
  reach, and always at 0.5 or less; see :func:`track_wave`), or *off the baseline map*:
  among the respondent's ``n_neighbors`` nearest neighbours in the model's feature space
  (both waves pooled), new-wave respondents are at least ``novelty_ratio`` times as common
  as the two waves' sizes predict. These respondents (the *pool*) are clustered (Gaussian
  mixture, BIC); a cluster of at least ``min_size`` whose median novelty is at least
  ``novelty_ratio`` is a candidate. Each candidate is then completed within the pool: a
  pool respondent closer to the candidate than to any baseline persona (a naive-Bayes rule
  with the personas' baseline profiles) joins it; a respondent who fits a persona well
  never does. A completed candidate is kept only if it still has ``min_size`` members
  whose median novelty is at least ``novelty_ratio``. Hybrids who sit between personas in
  both waves are not candidates: they are familiar.
* **The refit is independent.** The new wave is segmented again on its own with a clone of
  the baseline model (same parameters, same seed); refit segments are matched to personas
  with the Hungarian algorithm on the Jaccard table (segment vs the respondents typed into
  each persona), and each is called ``new`` (mostly emerging or unassigned respondents),
  ``same`` (its largest persona, matched, Jaccard above ``SAME_JACCARD`` = 0.5, unless it
  also holds most of another persona's members or a fifth of the emerging respondents),
  ``merge`` (at least 20% of the typed members of each of two or more personas, the
  emerging respondents counting as one), ``split`` (at least 20% of its largest persona's
  members, and another segment holds at least 20% of them too) or ``mixed`` (none of
  these). Only a ``same`` segment *is* a baseline persona (``matched_segment``); see
  :attr:`WaveComparison.correspondence`.

Examples
--------
>>> baseline = Baseline.from_run("reports/sample")               # doctest: +SKIP
>>> new = read_survey("data/sample/wave2.csv", "data/sample/codebook.yml")  # doctest: +SKIP
>>> cmp = track_wave(baseline, new, random_state=42)             # doctest: +SKIP
>>> cmp.sizes                                                    # doctest: +SKIP
>>> cmp.candidates                                               # doctest: +SKIP
>>> visualize_size_shift(cmp)                                    # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from personalab.errors import CodebookError, ConfigError, InputError
from personalab.segmentation import MEDIAN_MEMBERSHIP, distance_membership, membership_temperature

__all__ = [
    "CodebookDiff",
    "compare_codebooks",
    "Baseline",
    "BASELINE_ARTIFACTS",
    "WaveComparison",
    "track_wave",
    "kmeans_membership",
    "visualize_size_shift",
    "visualize_drift",
]

#: Artifact names :meth:`Baseline.from_run` reads from a run's ``ArtifactStore``
#: (required ones first). See the docstring of :meth:`Baseline.from_run`.
BASELINE_ARTIFACTS = {
    "survey": "required: the wave's Survey as ingested (all respondents)",
    "model": "required: the fitted PersonaModel (ArtifactStore.save, or a save_model file)",
    "quality": "optional: QualityResult; its exclusions are applied to 'survey'",
    "labels": "optional: segment per kept respondent (Series by respondent id, or array in "
              "survey order); default: model.labels_",
    "profile": "optional: profile_segments table (joblib or parquet table)",
    "sizes": "optional: segment_sizes table (joblib or parquet table)",
    "tags": "optional: {question id: TagResult or 0/1 matrix} of the open-text answers",
    "personas": "optional: {segment: name}, or a list of PersonaDraft",
}

_DIFF_COLUMNS = ["baseline_id", "new_id", "status", "type", "role", "segment_input",
                 "similarity", "detail", "fix"]
#: Statuses that stop a comparison when they hit a segmentation input.
_BLOCKING = ("dropped", "renamed", "changed_scale", "changed_type")


# =========================================================================== codebooks
def _norm_text(text) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", str(text or "").lower())).strip()


def _answer_set(q):
    """What a question's answers are: (labels, codes) of its scale or its options."""
    if q.type == "multi":
        return list(q.multi_options), None
    return list(q.scale_labels), [_code(c) for c in q.scale_codes]


def _code(c):
    try:
        f = float(c)
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return str(c)


def _scale_change(bq, nq, label_map=None) -> str | None:
    """How the new question's answers differ from the baseline's; None when they agree."""
    b_labels, b_codes = _answer_set(bq)
    n_labels, n_codes = _answer_set(nq)
    if label_map:
        n_labels = [label_map.get(lab, lab) for lab in n_labels]
        if not set(n_labels) - set(b_labels):
            return None  # every new answer maps onto a baseline answer
    if n_labels == b_labels and (n_codes is None or n_codes == b_codes
                                 or bq.type == "single"):
        return None
    added = [lab for lab in n_labels if lab not in b_labels]
    gone = [lab for lab in b_labels if lab not in n_labels]
    parts = []
    if added:
        parts.append("new answers " + ", ".join(map(repr, added[:6])))
    if gone:
        parts.append("answers no longer offered " + ", ".join(map(repr, gone[:6])))
    if not added and not gone:
        parts.append("the answers were reordered" if n_labels != b_labels
                     else f"the codes changed ({b_codes} -> {n_codes})")
    return "; ".join(parts)


def _scale_fix(bq, nq) -> str:
    """The fix of a changed scale: a ``scale_mapping`` entry for the answers the new wave
    added (each still to be pointed at a baseline answer), and where it goes."""
    b_labels = _answer_set(bq)[0]
    n_labels = _answer_set(nq)[0]
    added = [lab for lab in n_labels if lab not in b_labels]
    where = ("in study.yml under the key 'scale_mapping:' (or as the scale_mapping "
             "parameter of notebooks/06_waves.ipynb)")
    if added:
        ex = {lab: "<baseline answer>" for lab in added[:4]}
        more = f" (and the other {len(added) - 4} new answers)" if len(added) > 4 else ""
        return (f"Map each new answer onto the baseline answer it means: scale_mapping="
                f"{{{bq.id!r}: {ex!r}}}{more} {where}, or refit the personas.")
    # no new answer (reordered, recoded or fewer answers): mapping the answers by label
    # onto themselves recodes them to the baseline's codes
    ex = {lab: lab for lab in n_labels[:2]}
    return (f"The answers are the baseline's, read by label: scale_mapping={{{bq.id!r}: "
            f"{ex!r}}} {where} recodes them to the baseline's codes; or refit the personas.")


@dataclass
class CodebookDiff:
    """How a new wave's codebook differs from the baseline's (:func:`compare_codebooks`).

    Attributes
    ----------
    rows : DataFrame
        One row per question (see :meth:`table`).
    mapping : dict
        ``{new_id: baseline_id}`` applied (the researcher's).
    scale_mapping : dict
        ``{baseline_id: {new_label: baseline_label}}`` applied (the researcher's).
    suggested_mapping : dict
        ``{new_id: baseline_id}`` for questions that look renamed; never applied unless
        passed back as ``mapping``.
    baseline, new : Codebook
    """

    rows: pd.DataFrame
    mapping: dict
    scale_mapping: dict
    suggested_mapping: dict
    baseline: object = field(repr=False)
    new: object = field(repr=False)

    def table(self) -> pd.DataFrame:
        """Tidy: baseline_id, new_id, status, type, role, segment_input, similarity,
        detail, fix. ``status``: ``same``, ``mapped`` (renamed, mapping given),
        ``renamed`` (looks renamed, not mapped), ``added``, ``dropped``,
        ``changed_scale``, ``scale_mapped``, ``changed_type``."""
        return self.rows.copy()

    @property
    def renamed(self) -> pd.DataFrame:
        return self.rows[self.rows["status"].isin(["renamed", "mapped"])].reset_index(drop=True)

    @property
    def problems(self) -> pd.DataFrame:
        """Rows that stop the comparison: segmentation inputs dropped, renamed unmapped,
        with an unmapped scale change or a changed type."""
        r = self.rows
        return r[r["segment_input"] & r["status"].isin(_BLOCKING)].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def check(self, strict=True) -> "CodebookDiff":
        """Refuse a diff that would make the baseline model read the wrong answers.

        Parameters
        ----------
        strict : bool, default True
            Raise :class:`~personalab.errors.CodebookError` on problems; with False, warn.
            Only segmentation inputs are checked: any other question that differs is left
            out of the drift tests without a warning (:meth:`table` lists it, and the
            report's Questionnaire table says why).

        Returns
        -------
        self

        Raises
        ------
        CodebookError
            Names every segmentation input that was dropped, renamed without a mapping,
            changed type, or whose scale changed without a scale mapping, and the fix.
        """
        bad = self.problems
        # other questions that differ are no problem here: they are left out of the drift
        # tests, and the report's Questionnaire table says why for each one
        # (:func:`personalab.wave_report.drift_coverage`)
        if bad.empty:
            return self
        lines = [f"{r.baseline_id!r} {r.status.replace('_', ' ')}: {r.detail}"
                 for r in bad.itertuples()]
        fixes = sorted({r.fix for r in bad.itertuples()})
        problem = (f"{len(bad)} segmentation input(s) of the baseline do not match the new "
                   "wave's codebook, so the baseline personas cannot be applied: "
                   + "; ".join(lines))
        if strict:
            raise CodebookError(problem, column=bad["baseline_id"].iloc[0], file=self.new.source,
                                fix=" ".join(fixes))
        warnings.warn(problem, UserWarning, stacklevel=2)
        return self

    def apply(self, survey):
        """The new wave's Survey in the baseline's terms: mapped ids, baseline scales.

        Questions the baseline also has are renamed to the baseline id and take the
        baseline's codebook entry (codes recoded through ``scale_mapping``); other
        questions are kept as they are. The data itself is not changed in place.
        """
        from personalab.codebook import Codebook
        from personalab.survey import Survey

        data = survey.data.copy()
        rename, questions = {}, []
        r = self.rows.set_index("new_id", drop=False)
        for nq in survey.codebook.questions:
            row = r.loc[nq.id] if nq.id in r.index else None
            status = None if row is None else row["status"]
            if status in ("same", "mapped", "scale_mapped"):
                bid = row["baseline_id"]
                bq = self.baseline[bid]
                lab_map = self.scale_mapping.get(bid, {})
                self._recode(data, nq, bq, lab_map, rename)
                questions.append(bq)
            else:
                questions.append(nq)
        data = data.rename(columns=rename)
        cb = Codebook(survey=survey.codebook.survey, respondent_id=survey.codebook.respondent_id,
                      weight=survey.codebook.weight, questions=questions,
                      schema_version=survey.codebook.schema_version,
                      source=survey.codebook.source)
        qmap = {n: b for n, b, st in zip(self.rows["new_id"], self.rows["baseline_id"],
                                          self.rows["status"])
                if st in ("same", "mapped", "scale_mapped")}
        answered = {qmap.get(qid, qid): v for qid, v in survey._answered.items()}
        mr = survey.missing_reasons.copy()
        if len(mr):
            mr["question"] = mr["question"].astype(str).map(lambda q: qmap.get(q, q))
        return Survey(data, cb, wave=survey.wave, source=survey.source, sha256=survey.sha256,
                      format=survey.format, file_rows=survey.file_rows, missing_reasons=mr,
                      duplicate_ids=survey.duplicate_ids, no_answer=answered)

    @staticmethod
    def _recode(data, nq, bq, lab_map, rename):
        if nq.type == "multi":
            for opt in nq.multi_options:
                rename[f"{nq.id}:{opt}"] = f"{bq.id}:{lab_map.get(opt, opt)}"
            return
        if nq.id != bq.id:
            rename[nq.id] = bq.id
        if nq.id not in data.columns:
            return
        if nq.type == "likert":
            to_base = {lab: c for c, lab in zip(bq.scale_codes, bq.scale_labels)}
            codes = {float(c): float(to_base[lab_map.get(lab, lab)])
                     for c, lab in zip(nq.scale_codes, nq.scale_labels)
                     if lab_map.get(lab, lab) in to_base}
            v = data[nq.id].to_numpy(dtype=float)
            data[nq.id] = pd.Series(v, index=data.index).map(codes).to_numpy(dtype=float)
        elif nq.type == "single" and isinstance(data[nq.id].dtype, pd.CategoricalDtype):
            s = data[nq.id].astype(object).map(lambda v: lab_map.get(v, v) if isinstance(v, str)
                                               else v)
            cats = bq.scale_labels or list(pd.unique(s.dropna()))
            data[nq.id] = pd.Categorical(s, categories=cats, ordered=bq.is_ordered)


def compare_codebooks(baseline_cb, new_cb, mapping=None, scale_mapping=None, *,
                      similarity=0.8) -> CodebookDiff:
    """Compare a new wave's codebook with the baseline's, question by question.

    Parameters
    ----------
    baseline_cb, new_cb : Codebook
    mapping : dict, optional
        ``{new_id: baseline_id}``: questions the researcher says are the same question.
    scale_mapping : dict, optional
        ``{baseline_id: {new_label: baseline_label}}``: how a changed scale's answers map onto
        the baseline's (multi-select: options).
    similarity : float, default 0.8
        Question texts at least this similar (``difflib``) suggest a rename.

    Returns
    -------
    CodebookDiff
        Its :meth:`~CodebookDiff.table` lists every question once; renamed questions are
        *reported* (``suggested_mapping``), never silently applied.

    Raises
    ------
    ConfigError
        A mapping names a question that is not in the codebook it belongs to.
    """
    mapping = dict(mapping or {})
    scale_mapping = {k: dict(v) for k, v in (scale_mapping or {}).items()}
    for new_id, base_id in mapping.items():
        if new_id not in new_cb:
            raise ConfigError(f"mapping names {new_id!r}, which is not in the new codebook",
                              column="mapping", fix="map {new_id: baseline_id}, new ids first")
        if base_id not in baseline_cb:
            raise ConfigError(f"mapping maps {new_id!r} to {base_id!r}, which is not in the "
                              "baseline codebook", column="mapping",
                              fix="map {new_id: baseline_id}, baseline ids second")
    for base_id in scale_mapping:
        if base_id not in baseline_cb:
            raise ConfigError(f"scale_mapping names {base_id!r}, which is not in the baseline "
                              "codebook", column="scale_mapping",
                              fix="key scale_mapping by baseline question id")
    structural = {"id", "meta", "date", "weight"}
    mapped_base = set(mapping.values())
    new_to_base = dict(mapping)
    for q in new_cb.questions:
        if q.id in baseline_cb and q.id not in new_to_base and q.id not in mapped_base:
            new_to_base[q.id] = q.id
    base_left = [q for q in baseline_cb.questions if q.id not in set(new_to_base.values())]
    new_left = [q for q in new_cb.questions if q.id not in new_to_base]

    # suggested renames: same text first, then similar text (each question used once)
    suggested = {}
    by_text = {}
    for q in new_left:
        by_text.setdefault(_norm_text(q.text), []).append(q)
    sims = {}
    for bq in base_left:
        if bq.type in structural:
            continue
        same = [q for q in by_text.get(_norm_text(bq.text), []) if q.id not in suggested]
        if _norm_text(bq.text) and same:
            suggested[same[0].id] = bq.id
            sims[same[0].id] = 1.0
    for bq in base_left:
        if bq.type in structural or bq.id in suggested.values():
            continue
        best, best_s = None, similarity
        for q in new_left:
            if q.id in suggested or q.type in structural:
                continue
            s = difflib.SequenceMatcher(None, _norm_text(bq.text), _norm_text(q.text)).ratio()
            if s >= best_s:
                best, best_s = q, s
        if best is not None:
            suggested[best.id] = bq.id
            sims[best.id] = round(best_s, 3)

    rows = []

    def add(bid, nid, status, q, detail, fix, sim=np.nan):
        role = q.role if q is not None else None
        rows.append(dict(baseline_id=bid, new_id=nid, status=status,
                         type=q.type if q is not None else None, role=role,
                         segment_input=role == "segment", similarity=sim,
                         detail=detail, fix=fix))

    base_of = {v: k for k, v in new_to_base.items()}
    for bq in baseline_cb.questions:
        nid = base_of.get(bq.id)
        if nid is not None:
            nq = new_cb[nid]
            renamed = nid != bq.id
            if nq.type != bq.type:
                add(bq.id, nid, "changed_type", bq, f"type {bq.type} in the baseline, "
                    f"{nq.type} in the new wave", "Fix the new codebook's type, or drop the "
                    "question from the segmentation inputs and refit.")
                continue
            change = _scale_change(bq, nq)
            if change and bq.id in scale_mapping:
                still = _scale_change(bq, nq, scale_mapping[bq.id])
                if still is None:
                    add(bq.id, nid, "scale_mapped", bq, f"scale changed ({change}); mapped "
                        "with scale_mapping", "")
                    continue
                change = f"{change} (scale_mapping leaves: {still})"
            if change:
                add(bq.id, nid, "changed_scale", bq, f"scale changed: {change}",
                    _scale_fix(bq, nq))
                continue
            if renamed:
                add(bq.id, nid, "mapped", bq, f"renamed {bq.id!r} -> {nid!r} (mapping given)",
                    "")
            else:
                add(bq.id, nid, "same", bq, "", "")
            continue
        sug = next((n for n, b in suggested.items() if b == bq.id), None)
        if sug is not None:
            how = "same text" if sims[sug] == 1.0 else f"similar text ({sims[sug]:.0%})"
            add(bq.id, sug, "renamed", bq, f"looks renamed to {sug!r} ({how})",
                f"Pass mapping={{{sug!r}: {bq.id!r}}} if it is the same question.", sims[sug])
        else:
            add(bq.id, None, "dropped", bq, "not in the new wave's codebook",
                "Pass mapping={<new id>: " + repr(bq.id) + "} if the question was renamed, "
                "or refit the personas without it.")
    for q in new_cb.questions:
        if q.id not in new_to_base and q.id not in suggested:
            add(None, q.id, "added", q, "new in this wave (not used by the baseline model)", "")
    table = pd.DataFrame(rows, columns=_DIFF_COLUMNS)
    table["segment_input"] = table["segment_input"].astype(bool)
    return CodebookDiff(rows=table, mapping=mapping, scale_mapping=scale_mapping,
                        suggested_mapping=suggested, baseline=baseline_cb, new=new_cb)


# =========================================================================== baseline
@dataclass
class Baseline:
    """What a previous run saved, bundled for :func:`track_wave`.

    Parameters
    ----------
    model : fitted PersonaModel
    survey : Survey
        The baseline wave's *kept* respondents (quality exclusions applied).
    labels : Series or array, optional
        Segment per respondent of ``survey`` (-1 = unassigned); default ``model.labels_``.
    profile, sizes : DataFrame, optional
        The baseline's ``profile_segments`` and ``segment_sizes`` tables (kept for reports).
    tags : dict or DataFrame, optional
        Open-text theme tags: ``{question id: TagResult or respondent x theme 0/1 matrix}``
        (one matrix alone is taken as ``{"text": matrix}``).
    personas : dict, optional
        ``{segment: persona name}`` (a list of PersonaDraft is read too).
    """

    model: object
    survey: object
    labels: object = None
    profile: pd.DataFrame | None = None
    sizes: pd.DataFrame | None = None
    tags: object = None
    personas: dict | None = None

    def __post_init__(self):
        ids = self.survey.data.index
        if self.labels is None:
            self.labels = self.model.labels_
        if isinstance(self.labels, pd.Series):
            missing = ids.difference(self.labels.index.astype(str))
            if len(missing):
                raise InputError(f"the baseline labels have no segment for {len(missing)} "
                                 f"respondent(s), e.g. {list(missing[:3])}",
                                 fix="save the labels of the kept respondents (model.labels_)")
            lab = self.labels.set_axis(self.labels.index.astype(str)).reindex(ids)
        else:
            arr = np.asarray(self.labels)
            if len(arr) != len(ids):
                raise InputError(f"{len(arr)} baseline labels for {len(ids)} respondents",
                                 fix="pass one label per kept respondent, in survey order")
            lab = pd.Series(arr, index=ids)
        self.labels = lab.astype(int).rename("segment")
        self.personas = _persona_names(self.personas)
        if self.tags is not None and not isinstance(self.tags, dict):
            self.tags = {"text": self.tags}

    @property
    def segments(self) -> list[int]:
        n = getattr(self.model, "n_segments_", None)
        found = sorted(int(s) for s in pd.unique(self.labels) if s != -1)
        return list(range(n)) if n is not None else found

    def name(self, seg) -> str:
        if seg in self.personas:
            return self.personas[seg]
        return "unassigned" if seg == -1 else f"Segment {seg}"

    @classmethod
    def from_run(cls, output_dir) -> "Baseline":
        """Read a previous run's artifacts (``<output_dir>/artifacts/``).

        Names read through :class:`personalab.artifacts.ArtifactStore` (see
        :data:`BASELINE_ARTIFACTS`): ``survey`` and ``model`` (required); ``quality``
        (exclusions applied to ``survey``), ``labels``, ``profile``, ``sizes``, ``tags``,
        ``personas`` (optional). Tables are read from ``<name>.joblib`` or, failing that,
        ``<name>.parquet``. ``model`` may be a plain pickle or a
        :func:`personalab.persistence.save_model` file saved under that name.
        """
        from personalab.artifacts import ArtifactStore

        store = ArtifactStore(output_dir)
        for name in ("survey", "model"):
            if not store.has(name):
                raise InputError(f"the run in {output_dir} has no {name!r} artifact",
                                 file=str(store.path(name)),
                                 fix="run the segmentation step of that wave first "
                                     "(it saves 'survey' and 'model'), or build "
                                     "Baseline(model=..., survey=...) yourself")
        survey = store.load("survey")
        if store.has("quality"):
            survey = store.load("quality").apply(survey)
        model = store.load("model")
        if isinstance(model, dict) and model.get("format", "").startswith("personalab"):
            from personalab.persistence import load_model

            model = load_model(store.path("model"))

        def opt(name):
            if store.has(name):
                return store.load(name)
            if store.path(name, ".parquet").exists():
                return store.load_table(name)
            return None

        return cls(model=model, survey=survey, labels=opt("labels"), profile=opt("profile"),
                   sizes=opt("sizes"), tags=opt("tags"), personas=opt("personas"))


def _persona_names(personas) -> dict:
    if personas is None:
        return {}
    if isinstance(personas, dict):
        return {int(k): str(v) for k, v in personas.items()}
    if isinstance(personas, pd.Series):
        return {int(k): str(v) for k, v in personas.items()}
    out = {}
    for p in personas:
        out[int(p.segment)] = str(p.name)
    return out


# =========================================================================== comparison
@dataclass
class WaveComparison:
    """A new wave against the baseline personas (:func:`track_wave`). Tidy tables throughout.

    Attributes
    ----------
    assignments : DataFrame
        One row per new respondent (index ``respondent_id``): ``segment`` (baseline persona
        it is typed into, -1 = none; what the size table and drift count it as),
        ``membership`` (its soft membership), ``novelty`` (how many times as common such
        respondents are in the new wave as in the baseline, locally), ``fit`` (``persona``,
        ``weak``: unassigned or membership below ``params["min_membership"]``,
        ``off_map``), ``candidate`` (emerging candidate id, -1 = none) and ``category``
        (what :attr:`correspondence` counts it as: the persona id as a string,
        ``"emerging"`` for a candidate's member, or ``"unassigned"``).
    sizes : DataFrame
        Size shift per persona (+ ``unassigned`` and ``emerging`` rows): segment, persona,
        n_baseline, n_new, share_baseline, share_new (weighted), shift (points), ci_low,
        ci_high, unweighted_shift, statistic, p_value, effect_size, n_emerging,
        p_adjusted, significant. Each new respondent counts in one row, by
        ``assignments["category"]``: the persona it is typed into, ``emerging`` (a member
        of an emerging candidate, whatever persona the model would type it into) or
        ``unassigned``; the rows of each wave sum to 1. ``n_emerging`` (persona rows): how
        many respondents the baseline model types into the persona are emerging instead,
        so not in ``n_new`` (they are in the ``emerging`` row). The ``emerging`` row (only
        when there is a candidate): its baseline share is 0 by construction, so it has no
        test (statistic, p_value, p_adjusted NaN; never significant; not in the
        correction's family) and its CI is that of the new share alone.
    drift : DataFrame
        Per persona and variable, baseline vs new wave within the persona (new-wave
        respondents typed into it, emerging ones left out: they fit no persona).
        Questions that take one value for everyone in each wave are left out (named in
        ``notes`` and in ``params["drift_left_out"]``). Tests as the profiles': Welch for
        means; for answer shares the z-test, or Fisher's exact test when an expected count
        is below 5 (``test`` says which). A row resting on fewer than 5 respondents (an
        answer given by fewer than 5 in the wave where it is more common, or a mean over
        fewer than 5 answers in a wave) keeps its p in the correction but is never
        ``significant``.
    theme_shifts : DataFrame
        Per persona, question and theme (empty without tags); respondents, tests and the
        5-respondent rule as in ``drift``.
    candidates : DataFrame
        Emerging candidates: candidate, n, share, weighted_share, novelty, from_personas,
        respondent_ids.
    candidate_profiles : DataFrame
        ``profile_segments`` rows of each candidate against everyone else (segment =
        candidate id).
    correspondence : DataFrame
        One row per refit segment (this wave segmented on its own), against the baseline
        personas' *placed members* (new respondents by ``assignments["category"]``):

        * ``refit_segment``, ``n``: the segment and its size;
        * ``kind``: ``same``, ``merge``, ``split``, ``new`` or ``mixed`` (module doc;
          ``_correspondence`` has the rules);
        * ``matched_segment``, ``persona``: the baseline persona this segment *is*, only
          when ``kind == "same"``; -1 and "" for every other kind (a name may be carried
          over only there);
        * ``closest_segment``, ``closest``: the baseline segment with the highest Jaccard
          with this one, whatever the kind (-1 / "" when it shares nobody with any);
        * ``jaccard``: |segment ∩ closest's placed members| / |union| (0 to 1);
        * ``overlap_share``: share of the segment's respondents placed in ``closest``;
        * ``composition``: the segment's make-up, e.g. "Mary 65%, emerging 25%".
    refit_model : PersonaModel or None
    codebook_diff : CodebookDiff
    baseline_sizes : DataFrame
    params : dict
        The settings used (``min_membership`` as applied, ``novelty_ratio``, ...), the
        waves' names, and ``drift_left_out``: ``{baseline question id: reason}`` for the
        questions the drift tests leave out as one answer for everyone in each wave.
    notes : list of str
    """

    assignments: pd.DataFrame
    sizes: pd.DataFrame
    drift: pd.DataFrame
    theme_shifts: pd.DataFrame
    candidates: pd.DataFrame
    candidate_profiles: pd.DataFrame
    correspondence: pd.DataFrame
    refit_model: object
    codebook_diff: CodebookDiff
    persona_names: dict
    params: dict
    notes: list = field(default_factory=list)

    def top_drift(self, n=5, *, significant_only=True) -> pd.DataFrame:
        """Each persona's ``n`` variables that moved most (by absolute effect size)."""
        d = self.drift[self.drift["significant"]] if significant_only else self.drift
        d = d[d["effect_size"].notna()].copy()
        d["_s"] = d["effect_size"].abs()
        d = d.sort_values(["segment", "_s"], ascending=[True, False], kind="stable")
        return d.groupby("segment", sort=True).head(n).drop(columns="_s").reset_index(drop=True)

    def members(self, candidate) -> pd.Index:
        """Respondent ids of one emerging candidate (for ``representative_quotes``)."""
        a = self.assignments
        return a.index[a["candidate"] == candidate]


def track_wave(baseline: Baseline, new_survey, *, mapping=None, scale_mapping=None,
               new_tags=None, min_membership=None, novelty_ratio=2.5, n_neighbors=30,
               min_size=None, refit=True, weights=True, alpha=0.05, correction="fdr_bh",
               strict=True, random_state=0) -> WaveComparison:
    """Type a new wave into the baseline personas and measure what changed.

    Parameters
    ----------
    baseline : Baseline
    new_survey : Survey
        The new wave's kept respondents (apply its quality exclusions first).
    mapping, scale_mapping : dict, optional
        Passed to :func:`compare_codebooks`: ``{new_id: baseline_id}`` and
        ``{baseline_id: {new_label: baseline_label}}``.
    new_tags : dict or DataFrame, optional
        The new wave's theme tags, keyed like ``baseline.tags``; both are needed for
        ``theme_shifts``.
    min_membership : float, optional
        Below this soft membership a respondent fits their persona only weakly. Default
        (None): set on the baseline, as the larger of the membership that 90% of the
        baseline's respondents reach in the persona they are typed into
        (``WEAK_QUANTILE``) and a bare majority (just over 0.5). So a respondent fits
        weakly when fewer than 1 in 10 baseline respondents fit as loosely, and always when
        it sits half-way between two personas (at most 0.5): with two personas the top
        membership is never below 0.5, so a fixed 0.5 would call nobody weak. For a k-means
        model the membership is calibrated (the median fitted respondent holds 0.75 of its
        persona; :func:`kmeans_membership` for models pickled before that); for others,
        the model's own. ``params["min_membership"]`` holds the threshold used.
    novelty_ratio : float, default 2.5
        A respondent is *off the baseline map* when, among their ``n_neighbors`` nearest
        neighbours (both waves pooled, model feature space), new-wave respondents are this
        many times as common as the wave sizes predict.
    n_neighbors : int, default 30
    min_size : int, optional
        Smallest emerging candidate, in respondents. Default: the baseline model's
        ``min_segment_share`` of the new wave (at least 10).
    refit : bool, default True
        Also segment the new wave on its own and match the result to the personas.
    weights : bool, default True
        Use the surveys' weights for shares, means and tests (Kish effective n).
    alpha : float, default 0.05
    correction : str, default "fdr_bh"
        ``statsmodels`` ``multipletests`` method, applied per table.
    strict : bool, default True
        Refuse codebook problems with segmentation inputs (see :meth:`CodebookDiff.check`).
    random_state : int, default 0
        Seed of the candidate clustering (the refit uses the baseline model's own seed).

    Returns
    -------
    WaveComparison

    Raises
    ------
    CodebookError
        A segmentation input was dropped, renamed or rescaled without a mapping.
    """
    from sklearn.base import clone

    from personalab.segmentation import assign_wave

    notes = []
    diff = compare_codebooks(baseline.survey.codebook, new_survey.codebook, mapping,
                             scale_mapping).check(strict=strict)
    renamed = diff.rows[diff.rows["status"] == "renamed"]
    for r in renamed.itertuples():
        notes.append(f"Question {r.baseline_id!r} {r.detail}; not used until mapped.")
    new = diff.apply(new_survey)
    model = baseline.model
    ids2 = new.data.index
    w1 = _wts(baseline.survey, weights)
    w2 = _wts(new, weights)
    lab1 = baseline.labels.to_numpy()

    # 1. type every new respondent into the baseline personas
    typed = assign_wave(model, new)
    typed.index = ids2
    seg2 = typed["segment"].to_numpy().astype(int)
    conf = typed["confidence"].to_numpy(dtype=float)
    # a k-means model calibrates its membership when it is fitted (PersonaModel's
    # membership_temperature_), so the typed confidence is already calibrated; a baseline
    # model pickled before that is calibrated here, on the baseline
    temperature = getattr(model, "membership_temperature_", None)
    own_kmeans = (temperature is None
                  and type(getattr(model, "clusterer_", None)).__name__ == "KMeans")
    if own_kmeans:
        member, temperature = kmeans_membership(model, baseline.survey, lab1, new)
        typed_in = seg2 >= 0
        conf = np.where(typed_in, member[np.arange(len(seg2)), np.clip(seg2, 0, None)], 0.0)
    weak_default = min_membership is None
    if weak_default:
        min_membership = _weak_threshold(model, baseline, lab1, own_kmeans)

    # 2. who fits no persona: weak membership, or off the baseline map
    F1, F2 = _features(model, baseline.survey), _features(model, new)
    mu, sd = F1.mean(0), F1.std(0)
    sd[sd == 0] = 1.0
    Z1, Z2 = (F1 - mu) / sd, (F2 - mu) / sd
    novelty = _novelty(Z1, Z2, n_neighbors)
    off_map = novelty >= novelty_ratio
    weak = (seg2 == -1) | (conf < min_membership)
    if min_size is None:
        share = getattr(model, "min_segment_share", 0.05)
        min_size = max(10, int(np.ceil(share * len(ids2))))
    cand = _emerging(Z1, lab1, Z2, seg2, weak | off_map, novelty, novelty_ratio, min_size,
                     random_state)
    fit = np.where(off_map, "off_map", np.where(weak, "weak", "persona"))
    category = np.where(cand >= 0, "emerging",
                        np.where(seg2 == -1, "unassigned", seg2.astype(str))).astype(object)
    # persona per new respondent for sizes, drift and themes: an emerging one is in none
    in_persona = np.where(cand >= 0, -1, seg2)
    assignments = pd.DataFrame({"segment": seg2, "membership": conf, "novelty": novelty,
                                "fit": fit, "candidate": cand, "category": category},
                               index=ids2)
    n_cand = int(cand.max()) + 1 if len(cand) else 0
    if n_cand:
        notes.append(f"{n_cand} emerging candidate(s): {int((cand >= 0).sum())} respondents "
                     "fit no baseline persona and are new relative to the baseline.")

    # 3. size shifts: each respondent in one row (persona, emerging or unassigned)
    cat1 = np.where(lab1 == -1, "unassigned", lab1.astype(str)).astype(object)
    sizes = _size_shift(baseline, cat1, w1, category, seg2, w2, alpha, correction)

    # 4. drift within personas: respondents typed into the persona in both waves, emerging
    # ones left out; questions with one answer per wave left out too
    drift, constant = _drift(baseline, new, lab1, w1, in_persona, w2, diff, alpha,
                             correction)
    b_wave, n_wave = baseline.survey.wave or "the baseline", new_survey.wave or "the new wave"
    drift_left_out = {q: (f"one answer for everyone in each wave ({a} in {b_wave}, {b} in "
                          f"{n_wave})") for q, a, b in constant}
    if constant:
        notes.append("Left out of the drift tests: " + ", ".join(
            f"{q!r} ({a} in {b_wave}, {b} in {n_wave})" for q, a, b in constant)
            + ": one answer for everyone in each wave (e.g. the column that defines the "
            "wave), so there is no variation within a wave to test a change against.")

    # 5. theme shifts (respondents as in drift)
    themes = _theme_shifts(baseline, lab1, w1, new_tags, in_persona, w2, ids2, alpha,
                           correction)

    # 6. candidates: size, where they would have gone, profile against everyone else
    candidates, cand_profiles = _describe_candidates(new, cand, seg2, w2, novelty, baseline,
                                                     weights, alpha)

    # 7. refit the new wave on its own and match segments to personas
    refit_model, corr = None, _empty_correspondence()
    if refit:
        refit_model = clone(model).fit(new)
        corr = _correspondence(refit_model.labels_, category, baseline)
        if (corr["kind"] != "same").any():
            kinds = corr.loc[corr["kind"] != "same", "kind"].value_counts()
            notes.append("The refit differs from the personas: " + ", ".join(
                f"{v} {k}" for k, v in kinds.items()) + " segment(s).")
    params = dict(min_membership=min_membership, min_membership_default=weak_default,
                  novelty_ratio=novelty_ratio,
                  n_neighbors=n_neighbors, min_size=min_size, refit=refit, weights=weights,
                  alpha=alpha, correction=correction, random_state=random_state,
                  baseline_wave=baseline.survey.wave, new_wave=new_survey.wave,
                  membership_temperature=temperature, drift_left_out=drift_left_out)
    return WaveComparison(assignments=assignments, sizes=sizes, drift=drift,
                          theme_shifts=themes, candidates=candidates,
                          candidate_profiles=cand_profiles, correspondence=corr,
                          refit_model=refit_model, codebook_diff=diff,
                          persona_names=dict(baseline.personas), params=params, notes=notes)


def kmeans_membership(model, baseline_survey, baseline_labels, survey,
                      median_membership=MEDIAN_MEMBERSHIP):
    """Soft membership of ``survey``'s respondents in a k-means model's personas.

    A softmax over the squared distances to the personas' centres (the k-means centres,
    each matched to the persona most of its baseline members belong to; else the mean of
    each persona's baseline members) in the space the model clusters (``model.transform``),
    with one temperature ``T`` for all: ``exp(-d2_k / T) / sum_j exp(-d2_j / T)``. ``T``
    is set on the baseline, so that the median baseline respondent's membership of its own
    persona is ``median_membership``: a respondent as clearly placed as the baseline's
    typical one gets that share, one equally close to two personas at most one half.

    Parameters
    ----------
    model : PersonaModel
        Fitted with a k-means clusterer.
    baseline_survey : Survey
        The survey the personas were found on (its kept respondents).
    baseline_labels : array-like
        Persona per baseline respondent (-1 = none), in ``baseline_survey`` order.
    survey : Survey
        The respondents to place (the baseline itself gives the calibration's memberships).
    median_membership : float, default 0.75

    Returns
    -------
    (ndarray, float)
        Membership (respondents x personas, rows sum to 1; persona ``k`` in column ``k``)
        and the temperature ``T``.
    """
    lab = np.asarray(baseline_labels, dtype=int)
    C1 = np.asarray(model.transform(baseline_survey), dtype=float)
    k = max(int(getattr(model, "n_segments_", 0) or 0), int(lab.max()) + 1 if len(lab) else 0)
    centres = np.stack([C1[lab == j].mean(axis=0) if (lab == j).any()
                        else np.full(C1.shape[1], np.inf) for j in range(k)])
    # the k-means centres themselves (weighted means when the fit was weighted), each
    # matched to the persona most of its baseline members belong to
    est = getattr(model, "clusterer_", None)
    fitted = np.asarray(getattr(est, "cluster_centers_", np.empty((0, 0))), dtype=float)
    if fitted.ndim == 2 and fitted.shape[1] == C1.shape[1] and len(fitted) >= 1:
        raw = np.asarray(est.predict(C1), dtype=int)
        match = {}
        for j in range(k):
            if (lab == j).any():
                match[j] = int(np.bincount(raw[lab == j], minlength=len(fitted)).argmax())
        if len(set(match.values())) == len(match):
            for j, r in match.items():
                centres[j] = fitted[r]
    C2 = C1 if survey is baseline_survey else np.asarray(model.transform(survey), dtype=float)

    def d2(C):
        out = ((C[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return out - out.min(axis=1, keepdims=True)     # shift: the softmax is unchanged

    D1 = d2(C1)
    kept = lab >= 0
    if k < 2 or not kept.any():
        return distance_membership(d2(C2), 1.0), 1.0
    T = membership_temperature(D1[kept], lab[kept], median_membership)
    return distance_membership(d2(C2), T), T


#: Default weak-fit line (:func:`track_wave`'s ``min_membership=None``): a new respondent
#: fits its persona weakly when its membership is below what 90% of the baseline's
#: respondents reach in theirs, and always at a bare majority or less.
WEAK_QUANTILE = 0.10


def _weak_threshold(model, baseline, lab1, own_kmeans, quantile=WEAK_QUANTILE) -> float:
    """The membership under which a respondent fits weakly, set on the baseline itself.

    The baseline's respondents are typed into the personas exactly as the new wave is
    (``assign_wave``; a k-means model pickled before calibration: :func:`kmeans_membership`)
    and the ``quantile`` of their membership in the persona they are typed into is taken;
    never below just over 0.5, so a respondent half-way between two personas (membership
    0.5 or less, whatever the number of personas) is always weak.
    """
    from personalab.segmentation import assign_wave

    typed = assign_wave(model, baseline.survey)
    seg = typed["segment"].to_numpy().astype(int)
    conf = typed["confidence"].to_numpy(dtype=float)
    if own_kmeans:
        member, _ = kmeans_membership(model, baseline.survey, lab1, baseline.survey)
        conf = member[np.arange(len(seg)), np.clip(seg, 0, None)]
    placed = seg >= 0
    q = float(np.quantile(conf[placed], quantile)) if placed.any() else 0.0
    return float(max(q, np.nextafter(0.5, 1.0)))


# --------------------------------------------------------------------------- internals
def _wts(survey, weights) -> np.ndarray:
    if weights is True:
        w = survey.weights().to_numpy(dtype=float)
    else:
        w = np.ones(len(survey.data))
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError("weights must be non-negative numbers with no missing values",
                         column=survey.codebook.weight or "weight",
                         fix="check the weight column, or pass weights=False")
    return w


def _features(model, survey) -> np.ndarray:
    """The model's encoded features of a survey (what its reducer sees)."""
    enc = getattr(model, "encoder_", None)
    if enc is None:
        raise ConfigError(
            "The baseline model has no encoder, so it cannot read the new wave's Survey.",
            fix="Fit the baseline PersonaModel on the Survey itself (encoder='auto').")
    F = np.asarray(enc.transform(survey), dtype=float)
    return np.nan_to_num(F)


def _novelty(Z1, Z2, k) -> np.ndarray:
    """Local density ratio new/baseline of each new respondent, normalised by wave sizes.

    Among a respondent's k nearest neighbours (both waves pooled, itself left out), the
    count of new-wave ones against the expected count; 1 = as common as in the baseline.
    """
    from sklearn.neighbors import NearestNeighbors

    from personalab.neighbors import kneighbors

    n1, n2 = len(Z1), len(Z2)
    k = int(max(1, min(k, n1 + n2 - 2)))
    Z = np.vstack([Z1, Z2])
    _, idx = kneighbors(NearestNeighbors(n_neighbors=k + 1).fit(Z), Z2, k + 1)
    # drop the respondent itself (the first neighbour, or wherever ties put it)
    own = np.arange(n1, n1 + n2)[:, None]
    nb = np.where(idx == own, -1, idx)
    c = ((nb >= n1).sum(1)).astype(float)
    b = ((nb >= 0) & (nb < n1)).sum(1).astype(float)
    b = np.minimum(b, k - c)
    # +0.5: no division by zero when every neighbour is new (a ratio, not infinity)
    return ((c + 0.5) / (b + 0.5)) / ((n2 - 1) / n1)


def _emerging(Z1, lab1, Z2, seg2, pool, novelty, ratio, min_size, seed):
    """Emerging candidate per new respondent (-1 = none); see the module doc.

    Only respondents of ``pool`` (those who fit no persona well, or are off the map) are
    clustered, and only they can join a candidate when it is completed; a completed
    candidate is kept when it still has ``min_size`` members whose median novelty is at
    least ``ratio``.
    """
    from sklearn.mixture import GaussianMixture

    out = np.full(len(Z2), -1)
    idx = np.flatnonzero(pool)
    if len(idx) < min_size:
        return out
    P = Z2[idx]
    k_max = int(max(1, min(6, len(idx) // min_size)))
    best, best_bic = None, np.inf
    for k in range(1, k_max + 1):
        gm = GaussianMixture(k, covariance_type="diag", random_state=seed, n_init=3,
                             reg_covar=1e-3).fit(P)
        bic = gm.bic(P)
        if bic < best_bic:
            best, best_bic = gm, bic
    lab = best.predict(P)
    seeds = []
    for c in np.unique(lab):
        members = idx[lab == c]
        if len(members) >= min_size and np.median(novelty[members]) >= ratio:
            seeds.append(members)
    if not seeds:
        return out
    # complete each candidate within the pool: naive-Bayes rule (pooled variances) among
    # baseline personas and candidates; the new wave's persona shares are the priors. A
    # respondent who fits a persona well never joins (it is familiar, not new)
    personas = sorted(s for s in np.unique(lab1) if s != -1)
    var = np.vstack([Z1[lab1 == s] - Z1[lab1 == s].mean(0) for s in personas]).var(0)
    var = np.maximum(var, 1e-3)
    means_p = np.array([Z1[lab1 == s].mean(0) for s in personas])
    Zp = Z2[idx]
    members = [m for m in seeds]
    for _ in range(10):
        # a candidate left with no member has no mean (NaN would win every argmax below
        # and pull the whole pool into it): drop it
        members = [m for m in members if len(m)]
        if not members:
            break
        means_c = np.array([Z2[m].mean(0) for m in members])
        taken = np.zeros(len(Z2), bool)
        for m in members:
            taken[m] = True
        prior_c = np.array([len(m) for m in members], dtype=float)
        prior_p = np.array([np.sum((seg2 == s) & ~taken) for s in personas], dtype=float)
        prior = np.concatenate([prior_p, prior_c]) + 1.0
        means = np.vstack([means_p, means_c])
        ll = -0.5 * (((Zp[:, None, :] - means[None]) ** 2) / var).sum(-1) + np.log(prior)
        pick = ll.argmax(1) - len(personas)
        new_members = [idx[pick == j] for j in range(len(members))]
        same = all(len(a) == len(b) and np.array_equal(a, b)
                   for a, b in zip(new_members, members))
        members = new_members
        if same:
            break
    # completed, a candidate must still be new relative to the baseline
    kept = [m for m in members if len(m) >= min_size and np.median(novelty[m]) >= ratio]
    for j, i in enumerate(np.argsort([-len(m) for m in kept], kind="stable")):
        out[kept[i]] = j
    return out


def _withhold_unsupported(out, supported, alpha):
    """``significant`` after the correction, withheld from rows resting on fewer than
    ``profiles.MIN_SUPPORT`` respondents (their p stays in the correction's family, as in
    the profiles: a handful of people is no change of a persona)."""
    return ((out["p_adjusted"] < alpha).fillna(False) & supported).astype(bool)


def _size_shift(baseline, cat1, w1, cat2, typed2, w2, alpha, correction) -> pd.DataFrame:
    """Persona, emerging and unassigned shares in both waves, each respondent in one row
    (``cat2``: ``assignments["category"]``); ``typed2`` is the persona the model types each
    new respondent into (for ``n_emerging``). The ``emerging`` row has no test (see
    :class:`WaveComparison`)."""
    from personalab.profiles import _prop_test, kish_n

    z = stats.norm.ppf(1 - alpha / 2)
    order = [str(s) for s in baseline.segments] + ["unassigned"]
    ne1, ne2 = kish_n(w1), kish_n(w2)
    W1, W2 = w1.sum(), w2.sum()
    emerging = np.asarray(cat2 == "emerging", bool)
    typed2 = np.asarray(typed2, dtype=int)
    typed2 = np.where(typed2 == -1, "unassigned", typed2.astype(str)).astype(object)
    rows = []
    for c in order:
        i1, i2 = cat1 == c, cat2 == c
        if c == "unassigned" and not i1.any() and not i2.any():
            continue
        p1, p2 = w1[i1].sum() / W1, w2[i2].sum() / W2
        u1, u2 = i1.mean(), i2.mean()
        se = np.sqrt(p1 * (1 - p1) / ne1 + p2 * (1 - p2) / ne2)
        stat, p, h = _prop_test(p2, ne2, p1, ne1)
        seg = int(c) if c.lstrip("-").isdigit() else c
        rows.append(dict(segment=seg, persona=baseline.name(seg) if isinstance(seg, int) else c,
                         n_baseline=int(i1.sum()), n_new=int(i2.sum()), share_baseline=p1,
                         share_new=p2, shift=100 * (p2 - p1), ci_low=100 * (p2 - p1 - z * se),
                         ci_high=100 * (p2 - p1 + z * se), unweighted_shift=100 * (u2 - u1),
                         statistic=stat, p_value=p, effect_size=h,
                         n_emerging=int(((typed2 == c) & emerging).sum())))
    if emerging.any():
        # the baseline has no emerging respondents by construction: nothing to test the
        # share against, so no p-value (and no place in the correction's family); the CI
        # is the new share's own
        p2 = w2[emerging].sum() / W2
        se = np.sqrt(p2 * (1 - p2) / ne2)
        rows.insert(len(baseline.segments), dict(
            segment="emerging", persona="emerging", n_baseline=0, n_new=int(emerging.sum()),
            share_baseline=0.0, share_new=p2, shift=100 * p2, ci_low=100 * (p2 - z * se),
            ci_high=100 * (p2 + z * se), unweighted_shift=100 * float(emerging.mean()),
            statistic=np.nan, p_value=np.nan, effect_size=np.nan,
            n_emerging=int(emerging.sum())))
    out = pd.DataFrame(rows)
    out["p_adjusted"] = _adjust(out["p_value"], correction)
    out["significant"] = (out["p_adjusted"] < alpha).fillna(False).astype(bool)
    return out


def _adjust(p, correction) -> pd.Series:
    from statsmodels.stats.multitest import multipletests

    p = pd.Series(p, dtype=float)
    out = p.copy()
    ok = p.notna().to_numpy()
    if correction and ok.any():
        out[ok] = multipletests(p[ok].to_numpy(), method=correction)[1]
    return out


_DRIFT_COLUMNS = ["segment", "persona", "question", "question_text", "variable", "level",
                  "type", "measure", "baseline", "new", "diff", "test", "statistic", "p_value",
                  "p_adjusted", "effect_size", "effect_measure", "n_baseline", "n_new",
                  "n_eff_baseline", "n_eff_new", "significant"]


def _drift(baseline, new, lab1, w1, lab2, w2, diff, alpha, correction):
    """(drift table, [(question, baseline answer, new answer)] left out as constant)."""
    from personalab.profiles import (MIN_SUPPORT, _mean_test, _share_test, _variables, _wmean,
                                     kish_n)

    ok_ids = set(diff.rows.loc[diff.rows["status"].isin(["same", "mapped", "scale_mapped"]),
                               "baseline_id"])
    v1 = {(q, var): (text, level, t, m, s) for q, text, var, level, t, m, s
          in _variables(baseline.survey) if q in ok_ids}
    v2 = {(q, var): s for q, _, var, _, _, _, s in _variables(new) if q in ok_ids}
    constant = _constant_questions(v1, v2, w1, w2)
    rows, support = [], []
    for key, (text, level, qtype, measure, s1) in v1.items():
        if key not in v2 or key[0] in constant:
            continue
        x1_all, x2_all = s1.to_numpy(dtype=float), v2[key].to_numpy(dtype=float)
        for seg in baseline.segments:
            m1 = (lab1 == seg) & np.isfinite(x1_all) & (w1 > 0)
            m2 = (lab2 == seg) & np.isfinite(x2_all) & (w2 > 0)
            x1, ww1, x2, ww2 = x1_all[m1], w1[m1], x2_all[m2], w2[m2]
            a = _wmean(x1, ww1) if len(x1) else np.nan
            b = _wmean(x2, ww2) if len(x2) else np.nan
            n1, n2 = kish_n(ww1), kish_n(ww2)
            if measure == "share":
                em = "cohen_h"
                test, stat, p, eff = (_share_test(b, n2, a, n1) if len(x1) and len(x2)
                                      else ("two_proportion_z", np.nan, np.nan, np.nan))
                # the answer given by MIN_SUPPORT respondents in the wave where it is more
                # common (the side the change reports)
                gave = int((x2 > 0.5).sum()) if b >= a else int((x1 > 0.5).sum())
                support.append(gave >= MIN_SUPPORT)
            else:
                test, em = "welch_t", "cohen_d"
                stat, p, eff = _mean_test(x2, ww2, x1, ww1, "welch")
                support.append(min(len(x1), len(x2)) >= MIN_SUPPORT)
            rows.append((seg, baseline.name(seg), key[0], text, key[1], level, qtype, measure,
                         a, b, b - a, test, stat, p, np.nan, eff, em, int(m1.sum()),
                         int(m2.sum()), n1, n2, False))
    out = pd.DataFrame(rows, columns=_DRIFT_COLUMNS)
    out["p_adjusted"] = _adjust(out["p_value"], correction)
    out["significant"] = _withhold_unsupported(out, np.asarray(support, bool), alpha)
    out["_s"] = out["effect_size"].abs()
    out = out.sort_values(["segment", "significant", "_s"], ascending=[True, False, False],
                          kind="stable").drop(columns="_s")
    return out.reset_index(drop=True), [(q,) + constant[q] for q in constant]


def _constant_questions(v1, v2, w1, w2) -> dict:
    """``{question: (baseline answer, new answer)}`` of the questions every variable of
    which takes one value in each wave (among weighted, answered respondents): nothing
    varies within a wave, so a within-persona test of the change has no noise to measure
    against (a year column that defines the wave: 2011 -> 2012 at "p = 0")."""
    by_q = {}
    for key, (_, level, _, measure, s1) in v1.items():
        if key not in v2:
            continue
        x1, x2 = s1.to_numpy(dtype=float), v2[key].to_numpy(dtype=float)
        x1, x2 = x1[np.isfinite(x1) & (w1 > 0)], x2[np.isfinite(x2) & (w2 > 0)]
        one = len(x1) > 0 and len(x2) > 0 and np.ptp(x1) == 0 and np.ptp(x2) == 0
        by_q.setdefault(key[0], []).append((one, measure, level, key[1],
                                            x1[0] if one else None, x2[0] if one else None))
    out = {}
    for q, vs in by_q.items():
        if not all(v[0] for v in vs):
            continue

        def answer(i):
            if vs[0][1] != "share":
                return ", ".join(f"{v[i]:g}" for v in vs)
            chosen = [str(v[2] if v[2] is not None else v[3]) for v in vs if v[i] == 1]
            return ", ".join(chosen) or "none"
        out[q] = (answer(4), answer(5))
    return out


_THEME_COLUMNS = ["segment", "persona", "question", "theme", "share_baseline", "share_new",
                  "diff", "statistic", "p_value", "p_adjusted", "effect_size", "n_baseline",
                  "n_new", "significant"]


def _tag_frames(tags, index):
    """{question: (0/1 matrix, answered mask)} aligned to index."""
    out = {}
    if tags is None:
        return out
    if not isinstance(tags, dict):
        tags = {"text": tags}
    for q, t in tags.items():
        if hasattr(t, "matrix"):
            m, ans = t.matrix, t.answered
        else:
            m, ans = t, pd.Series(True, index=t.index)
        m = m.set_axis(m.index.astype(str)).reindex(index)
        ans = ans.set_axis(ans.index.astype(str)).reindex(index).fillna(False).astype(bool)
        out[q] = (m.fillna(0).astype(float).clip(0, 1), ans.to_numpy() & m.notna().all(axis=1).to_numpy())
    return out


def _theme_shifts(baseline, lab1, w1, new_tags, lab2, w2, ids2, alpha, correction):
    from personalab.profiles import MIN_SUPPORT, _share_test, kish_n

    t1 = _tag_frames(baseline.tags, baseline.survey.data.index)
    t2 = _tag_frames(new_tags, ids2)
    rows, support = [], []
    for q in t1:
        if q not in t2:
            continue
        (m1, a1), (m2, a2) = t1[q], t2[q]
        for seg in baseline.segments:
            i1, i2 = (lab1 == seg) & a1, (lab2 == seg) & a2
            if not i1.any() or not i2.any():
                continue
            n1, n2 = kish_n(w1[i1]), kish_n(w2[i2])
            for theme in m1.columns.intersection(m2.columns):
                p1 = np.average(m1[theme].to_numpy()[i1], weights=w1[i1])
                p2 = np.average(m2[theme].to_numpy()[i2], weights=w2[i2])
                _, stat, p, h = _share_test(p2, n2, p1, n1)
                tagged = m2[theme].to_numpy()[i2] if p2 >= p1 else m1[theme].to_numpy()[i1]
                support.append(int((tagged > 0.5).sum()) >= MIN_SUPPORT)
                rows.append((seg, baseline.name(seg), q, theme, p1, p2, p2 - p1, stat, p,
                             np.nan, h, int(i1.sum()), int(i2.sum()), False))
    out = pd.DataFrame(rows, columns=_THEME_COLUMNS)
    if len(out):
        out["p_adjusted"] = _adjust(out["p_value"], correction)
        out["significant"] = _withhold_unsupported(out, np.asarray(support, bool), alpha)
    return out


def _describe_candidates(new, cand, seg2, w2, novelty, baseline, weights, alpha):
    from personalab.profiles import profile_segments

    cols = ["candidate", "n", "share", "weighted_share", "novelty", "from_personas",
            "respondent_ids"]
    ids = new.data.index
    rows = []
    for c in range(int(cand.max()) + 1 if len(cand) else 0):
        m = cand == c
        came = pd.Series(seg2[m]).value_counts(normalize=True)
        came = ", ".join(f"{baseline.name(int(s))} {v:.0%}" for s, v in came.items())
        rows.append(dict(candidate=c, n=int(m.sum()), share=float(m.mean()),
                         weighted_share=float(w2[m].sum() / w2.sum()),
                         novelty=float(np.median(novelty[m])), from_personas=came,
                         respondent_ids=list(ids[m])))
    table = pd.DataFrame(rows, columns=cols)
    profile = pd.DataFrame()
    if len(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            profile = profile_segments(new, pd.Series(cand, index=ids), weights=weights,
                                       alpha=alpha)
    return table, profile


_CORR_COLUMNS = ["refit_segment", "n", "matched_segment", "persona", "closest_segment",
                 "closest", "jaccard", "overlap_share", "composition", "kind"]

#: A refit segment is the *same* as a baseline persona only when the two sets of
#: respondents overlap on more than this share of their union (Jaccard): then more than
#: half of the segment is the persona's and more than half of the persona's placed
#: members are in the segment. An even split of a persona (Jaccard 0.5 each) is no "same".
SAME_JACCARD = 0.5


def _empty_correspondence():
    return pd.DataFrame(columns=_CORR_COLUMNS)


def _correspondence(refit_labels, category, baseline, min_part=0.2,
                    same_jaccard=SAME_JACCARD) -> pd.DataFrame:
    """Refit segments vs baseline personas (see :class:`WaveComparison.correspondence`).

    ``category`` is each new respondent's ``assignments["category"]``: the baseline
    persona it is typed into (as a string), ``"emerging"`` or ``"unassigned"``. A
    persona's *placed members* are the respondents of that category (refit-unassigned
    ones included). Each refit segment gets one kind, the first that applies:

    * ``new``: its largest group is emerging (or unassigned) respondents;
    * ``merge`` that no match overrides: at least ``min_part`` of the emerging
      respondents and of a persona's placed members fall into it, or more than half of
      the placed members of each of two personas do (a part of it is a group the matched
      persona did not have);
    * ``same``: its largest group is persona P, P is its Hungarian match (on the Jaccard
      table, so each persona is matched at most once) and its Jaccard with P's placed
      members is above ``same_jaccard``;
    * ``merge``: at least ``min_part`` of the placed members of each of two or more
      personas (the emerging respondents counting as one; baseline segments named
      "... (not a persona)" not counting) fall into it;
    * ``split``: at least ``min_part`` of its largest persona's placed members fall into
      it, and at least ``min_part`` of them into another refit segment too;
    * ``mixed``: none of these: it is made of baseline personas' respondents but is none
      of them (``closest`` and ``jaccard`` say what it resembles).
    """
    from scipy.optimize import linear_sum_assignment

    refit = np.asarray(refit_labels)
    cat = pd.Series(np.asarray(category, dtype=object), name="category").astype(str)
    segs = sorted(s for s in np.unique(refit) if s != -1)
    personas = [str(s) for s in baseline.segments]
    table = pd.crosstab(pd.Series(refit, name="refit"), cat)
    table = table.reindex(index=segs, fill_value=0)
    totals = cat.value_counts()                       # placed members, everyone counted
    n_seg = table.sum(axis=1).to_numpy(dtype=float)
    C = table.reindex(columns=personas, fill_value=0).to_numpy(dtype=float)
    N = totals.reindex(personas, fill_value=0).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        J = np.where(C > 0, C / (n_seg[:, None] + N[None, :] - C), 0.0)
    r_idx, c_idx = linear_sum_assignment(-J) if J.size else ([], [])
    match = {segs[r]: personas[c] for r, c in zip(r_idx, c_idx) if J[r, c] > 0}
    comp = table.div(table.sum(axis=1), axis=0)
    reach = table.div(totals.reindex(table.columns).to_numpy(dtype=float), axis=1)
    dominant = comp.idxmax(axis=1)
    fresh = ("emerging", "unassigned")
    refused = {p for p in personas if baseline.name(int(p)).endswith("(not a persona)")}
    kinds = {}
    for i, s in enumerate(segs):
        dom = dominant.loc[s]
        if dom in fresh:
            kinds[s] = "new"
            continue
        parts = [c for c in table.columns if c != "unassigned" and c not in refused
                 and reach.loc[s, c] >= min_part]
        j_dom = J[i, personas.index(dom)] if dom in personas else 0.0
        most = [c for c in parts if c != "emerging" and reach.loc[s, c] > 0.5]
        # the emerging respondents make a merge only when they are a real part of the
        # segment (min_part of it), not when a few of a small candidate land in a persona
        em_part = "emerging" in comp.columns and comp.loc[s, "emerging"] >= min_part
        if len(parts) >= 2 and (em_part or len(most) >= 2):
            # a persona with the emerging respondents, or most of two personas, in one:
            # not either persona, however well it matches one of them
            kinds[s] = "merge"
        elif match.get(s) == dom and j_dom > same_jaccard:
            kinds[s] = "same"
        elif len(parts) >= 2:
            kinds[s] = "merge"
        elif reach.loc[s, dom] >= min_part and any(
                reach.loc[t, dom] >= min_part for t in segs if t != s):
            kinds[s] = "split"
        else:
            kinds[s] = "mixed"
    rows = []
    for i, s in enumerate(segs):
        kind = kinds[s]
        best = int(np.argmax(J[i])) if J.shape[1] and J[i].max() > 0 else None
        closest = int(personas[best]) if best is not None else -1
        describe = ", ".join(
            f"{baseline.name(int(k)) if k.lstrip('-').isdigit() else k} {v:.0%}"
            for k, v in comp.loc[s].sort_values(ascending=False).items() if v >= 0.05)
        same = kind == "same"
        rows.append(dict(refit_segment=int(s), n=int(table.loc[s].sum()),
                         matched_segment=closest if same else -1,
                         persona=baseline.name(closest) if same else "",
                         closest_segment=closest,
                         closest=baseline.name(closest) if best is not None else "",
                         jaccard=float(J[i, best]) if best is not None else 0.0,
                         overlap_share=(float(comp.loc[s, str(closest)])
                                        if best is not None else 0.0),
                         composition=describe, kind=kind))
    return pd.DataFrame(rows, columns=_CORR_COLUMNS)


# =========================================================================== figures
def _color_of(colors, seg):
    """The persona colour of ``seg`` in a ``segment_colors`` map (keys may be ints or
    their strings), or None."""
    if not colors:
        return None
    if seg in colors:
        return colors[seg]
    try:
        return colors.get(int(seg), colors.get(str(seg)))
    except (TypeError, ValueError):
        return colors.get(str(seg))


def _swatch(color, text) -> str:
    return f"<span style='color:{color}'>\u25a0</span> {text}" if color else text


def visualize_size_shift(comparison: WaveComparison, *, title="Persona sizes: baseline vs "
                         "new wave", colors=None):
    """Dumbbell chart of each persona's weighted share in both waves, with the shift's CI.

    Parameters
    ----------
    comparison : WaveComparison
    title : str
    colors : dict, optional
        ``{segment: colour}``, e.g. :func:`personalab.plotting.segment_colors` of the
        baseline's segments: each persona's line, markers and shift are drawn in its one
        colour, with a square of it by its name; the baseline share is an open circle, the
        new share a filled one, a significant shift a filled marker (not significant:
        open). Rows the map lacks (``emerging``, ``unassigned`` unless given) stay grey.
        Without it, the two waves are told apart by colour (blue baseline, red new wave)
        and a significant shift is red.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from personalab.plotting._common import escape

    s = comparison.sizes.iloc[::-1]
    names = [escape(p) for p in s["persona"]]
    own = [_color_of(colors, seg) for seg in s["segment"]] if colors is not None else None
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.6, 0.4],
                        subplot_titles=("Share of respondents (%)", "Shift (points, CI)"))
    for i, (_, r) in enumerate(s.iterrows()):
        line = (own[i] if own else None) or "#B0B0B0"
        fig.add_trace(go.Scatter(x=[100 * r["share_baseline"], 100 * r["share_new"]],
                                 y=[escape(r["persona"])] * 2, mode="lines",
                                 line=dict(color=line, width=3), showlegend=False,
                                 hoverinfo="skip"), row=1, col=1)
    p = comparison.params
    waves = (("share_baseline", "#88CCEE", "circle-open", p.get("baseline_wave", "baseline")),
             ("share_new", "#CC6677", "circle", p.get("new_wave", "new wave")))
    for col, color, symbol, label in waves:
        marker = dict(size=11, color=color)
        if own is not None:
            marker = dict(size=11, symbol=symbol, line=dict(width=2),
                          color=[c or "#888888" for c in own])
        fig.add_trace(go.Scatter(x=100 * s[col], y=names, mode="markers",
                                 marker=marker, name=escape(label),
                                 hovertemplate="%{y}: %{x:.1f}%<extra>" + escape(label)
                                 + "</extra>"), row=1, col=1)
    if own is None:
        shift_marker = dict(size=9, color=np.where(s["significant"], "#CC6677", "#888888"))
    else:
        shift_marker = dict(size=9, line=dict(width=2), color=[c or "#888888" for c in own],
                            symbol=np.where(s["significant"], "circle", "circle-open"))
    fig.add_trace(go.Scatter(
        x=s["shift"], y=names, mode="markers", marker=shift_marker,
        error_x=dict(type="data", symmetric=False, array=s["ci_high"] - s["shift"],
                     arrayminus=s["shift"] - s["ci_low"]),
        name="shift", showlegend=False,
        customdata=np.c_[s["ci_low"], s["ci_high"], s["p_adjusted"]],
        hovertemplate="%{y}: %{x:+.1f} points (CI %{customdata[0]:.1f} to "
                      "%{customdata[1]:.1f}; adjusted p %{customdata[2]:.3g})<extra></extra>"),
        row=1, col=2)
    fig.add_vline(x=0, line=dict(color="#444", width=1), row=1, col=2)
    if own is not None:
        fig.update_yaxes(tickvals=names, ticktext=[_swatch(c, n) for c, n in zip(own, names)],
                         row=1, col=1)
    fig.update_layout(title=escape(title) + (" (filled shift: significant)" if own else ""),
                      template="plotly_white",
                      height=140 + 40 * len(s), legend=dict(orientation="h", y=-0.15))
    return fig


def visualize_drift(comparison: WaveComparison, n=5, *, significant_only=False,
                    title="What changed within each persona", colors=None):
    """Each persona's ``n`` most-moved variables: baseline vs new value, one panel per persona.

    Parameters
    ----------
    comparison : WaveComparison
    n : int, default 5
    significant_only : bool, default False
    title : str
    colors : dict, optional
        ``{segment: colour}`` (:func:`personalab.plotting.segment_colors`): each persona's
        bars in its one colour (baseline light, new wave solid) and a square of it by its
        panel's title. Without it, baseline bars are blue and new-wave bars red.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from personalab.plotting._common import escape

    top = comparison.top_drift(n, significant_only=significant_only)
    segs = list(dict.fromkeys(top["segment"]))
    if not segs:
        fig = go.Figure()
        fig.update_layout(title=escape(title) + " (no drift found)", template="plotly_white")
        return fig
    own = {s: _color_of(colors, s) for s in segs} if colors is not None else {}
    fig = make_subplots(rows=len(segs), cols=1, subplot_titles=[
        _swatch(own.get(s), escape(top.loc[top["segment"] == s, "persona"].iloc[0]))
        for s in segs],
        vertical_spacing=min(0.08, 0.6 / max(1, len(segs))))
    for i, s in enumerate(segs, start=1):
        d = top[top["segment"] == s].iloc[::-1]
        unit = np.where(d["measure"] == "share", 100.0, 1.0)
        labels = [escape(f"{v}" + (" *" if sig else "")) for v, sig in
                  zip(d["variable"], d["significant"])]
        c = own.get(s)
        for col, color, name, opacity in (("baseline", "#88CCEE", "baseline", 0.4),
                                          ("new", "#CC6677", "new wave", 1.0)):
            fig.add_trace(go.Bar(x=d[col] * unit, y=labels, orientation="h",
                                 marker_color=c or color, marker_opacity=opacity if c else 1.0,
                                 name=name, legendgroup=name,
                                 showlegend=i == 1 and not own,
                                 customdata=np.c_[d["p_adjusted"], d["measure"]],
                                 hovertemplate="%{y}: %{x:.2f} (%{customdata[1]}; adjusted p "
                                               "%{customdata[0]:.3g})<extra>" + name
                                               + "</extra>"), row=i, col=1)
    if own:              # the legend says which bar is which wave, in neutral grey
        for name, opacity in (("baseline", 0.4), ("new wave", 1.0)):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                     marker=dict(symbol="square", size=12, color="#666666",
                                                 opacity=opacity),
                                     legendgroup=name, hoverinfo="skip", showlegend=True),
                          row=1, col=1)
    fig.update_layout(barmode="group", title=escape(title) + " (* significant; shares in %)",
                      template="plotly_white", height=200 + 60 * n * len(segs) // 2)
    return fig
