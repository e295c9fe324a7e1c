"""An ipywidgets explorer for segments: tune, watch the map and profiles change, read quotes.

Needs a live kernel (JupyterLab): it is for exploring, never the only way a result reaches a
report. The logic lives in :class:`ExplorerState` (plain Python, tested without widgets);
:func:`explore` wires it to sliders and dropdowns. Its figures are plotly FigureWidgets,
which need ``anywidget`` (a dependency of PersonaLab).

Segments carry the run's names and colours: a refitted segment that is mostly one of the
run's segments (Jaccard overlap above one half, see :func:`align_segments`) takes that
segment's label, so it shows the persona's name and the colour it has in the report; any
other segment gets a new number, 'Segment <k>'.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from .artifacts import ArtifactStore


@dataclass
class ExplorerState:
    """What the explorer shows for one setting of the knobs.

    Parameters
    ----------
    survey : Survey
        The analysed (kept) respondents.
    texts : DataFrame, optional
        Open answers by respondent (redacted on display).
    tags : dict, optional
        {question: TagResult} for theme shares per segment.
    excluded : set, optional
        Respondent ids never quoted (excluded or flagged by quality checks).
    seed : int
    reference : Series, optional
        The run's segment per respondent (the ``labels`` artifact): refitted segments that
        match one of these keep its label (:func:`align_segments`).
    persona_names : dict, optional
        {run segment: persona name} from the personas step.
    """

    survey: object
    texts: pd.DataFrame | None = None
    tags: dict | None = None
    excluded: set = field(default_factory=set)
    seed: int = 42
    reference: pd.Series | None = None
    persona_names: dict = field(default_factory=dict)
    model: object = None
    labels: pd.Series | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def refit(self, *, min_segment_share: float = 0.05, n_neighbors: int = 15,
              reducer: str = "umap", clusterer: str = "hdbscan"):
        """Fit a PersonaModel with these knobs (cached per setting) and return its labels."""
        from .segmentation import PersonaModel

        key = (round(min_segment_share, 4), int(n_neighbors), reducer, clusterer)
        if key not in self._cache:
            model = PersonaModel(reducer=reducer, clusterer=clusterer,
                                 min_segment_share=min_segment_share, n_neighbors=n_neighbors,
                                 random_state=self.seed)
            model.fit(self.survey)
            labels = pd.Series(model.labels_, index=self.survey.data.index, name="segment")
            if self.reference is not None:
                labels = align_segments(labels, self.reference)
            self._cache[key] = (model, labels)
        self.model, self.labels = self._cache[key]
        return self.labels

    def map2d(self):
        """2-D coordinates of the current model's reduced space (PCA of the embedding)."""
        import numpy as np
        from sklearn.decomposition import PCA

        emb = np.asarray(self.model.embedding_, dtype=float)
        if emb.shape[1] > 2:
            emb = PCA(n_components=2, random_state=self.seed).fit_transform(emb)
        return emb[:, :2]

    def profile(self, top_n: int = 25):
        from .profiles import profile_segments

        return profile_segments(self.survey, self.labels)

    def names(self) -> dict:
        """{segment: display name} under the current labels: the persona's name for a
        segment that matches one of the run's, else 'Segment <k>'; 'unassigned' for -1."""
        from .plotting import segment_label

        return {s: segment_label(s, self.persona_names)
                for s in sorted(pd.unique(self.labels), key=_order)}

    def question_label(self, qid) -> str:
        """A question's short label (the codebook's ``short``, else its text), as the
        report's charts and tables name it; the id when the codebook lacks it."""
        from .codebook import short_label

        codebook = self.survey.codebook
        return short_label(codebook[qid]) if qid in codebook else str(qid)

    def segment_options(self) -> list[tuple[str, int]]:
        """(label, segment) pairs for the segment picker, assigned segments only:
        'Goal-driven Grace · 212 (14%)'."""
        names = self.names()
        sizes = self.labels.value_counts()
        return [(f"{names[s]} · {sizes[s]:,} ({sizes[s] / len(self.labels):.0%})", int(s))
                for s in names if s != -1]

    def summary(self) -> str:
        m = self.model
        names = self.names()
        sizes = self.labels.value_counts()
        listed = ", ".join(f"{names[s]}: {sizes[s]:,}" for s in names)
        text = (f"{m.n_segments_} segments, {m.unassigned_share_:.1%} unassigned "
                f"(sizes {listed})")
        if self.reference is not None:
            kept = [s for s in names if s != -1 and s in set(self.reference)]
            what = "personas" if self.persona_names else "segments"
            text += f"; {len(kept)} match one of the run's {what}"
        return text

    def quotes(self, segment: int, n: int = 5) -> pd.DataFrame:
        """Representative, redacted quotes of one segment under the current labels."""
        from .quotes import representative_quotes

        if self.texts is None or self.texts.empty:
            return pd.DataFrame()
        # the theme tags make each quote show its themes and cover the segment's own
        # themes, as in the quotes step
        matrices = {q: r.matrix for q, r in (self.tags or {}).items()}
        q = representative_quotes(self.texts, self.labels, n=n,
                                  embedding=pd.DataFrame(self.model.embedding_,
                                                         index=self.labels.index),
                                  tag_matrix=matrices or None, exclude_ids=self.excluded,
                                  redact=True, sentiment=False, random_state=self.seed)
        q = q[q["segment"] == segment][["rank", "question", "text", "themes"]]
        return q.assign(question=[self.question_label(x) for x in q["question"]])

    def theme_shares(self, segment: int) -> pd.DataFrame:
        """Share of the segment's answers with each theme, against everyone, per question
        (themes no one mentioned in a question left out)."""
        rows = []
        for q, result in (self.tags or {}).items():
            seg = self.labels.reindex(result.matrix.index)
            shares = result.shares(by=seg)
            if segment in shares.index:
                overall = result.shares().iloc[0]
                rows.append(pd.DataFrame({"question": self.question_label(q),
                                          "segment": shares.loc[segment],
                                          "everyone": overall}))
        if not rows:
            return pd.DataFrame()
        table = pd.concat(rows).round(3)
        # a theme nobody mentioned in a question is no finding
        return table[(table["segment"] > 0) | (table["everyone"] > 0)]


def _order(seg):
    from .plotting._common import segment_order

    return segment_order(seg)


def align_segments(labels: pd.Series, reference: pd.Series, *,
                   min_jaccard: float = 0.5) -> pd.Series:
    """Relabel ``labels`` so a segment that matches a ``reference`` segment takes its label.

    A segment matches the reference segment it overlaps most when their Jaccard index
    (shared respondents over respondents in either) is above ``min_jaccard``; above one
    half, no two segments can match the same reference segment. Every other segment gets
    a new label after the largest reference label, in the order of its original label.
    Unassigned (-1) stays -1. Respondents missing from ``reference`` count as in none of
    its segments.

    Returns
    -------
    Series
        Same index and name as ``labels``.
    """
    ref = reference.reindex(labels.index)
    matched = {}
    for seg in sorted(pd.unique(labels), key=_order):
        if seg == -1:
            continue
        members = labels == seg
        overlap = ref[members & ref.notna() & (ref != -1)].value_counts()
        if overlap.empty:
            continue
        best = overlap.index[0]
        union = int(members.sum() + (ref == best).sum() - overlap.iloc[0])
        if overlap.iloc[0] / union > min_jaccard:
            matched[seg] = int(best)
    assigned = [int(r) for r in pd.unique(ref.dropna()) if r != -1]
    nxt = max(assigned + [-1]) + 1
    mapping = {-1: -1}
    for seg in sorted(pd.unique(labels), key=_order):
        if seg == -1:
            continue
        if seg in matched:
            mapping[seg] = matched[seg]
        else:
            mapping[seg] = nxt
            nxt += 1
    return labels.map(mapping).astype(int).rename(labels.name)


def load_state(output_dir, *, seed: int = 42) -> ExplorerState:
    """An ExplorerState from a run's saved artifacts (after 01_ingest, and 03 for themes).

    With the segment step's labels and the personas step's drafts in the run, refitted
    segments that match the run's carry their names and colours.
    """
    store = ArtifactStore(output_dir)
    survey, quality = store.load("survey"), store.load("quality")
    kept = quality.apply(survey)
    flagged = set(quality.flags["respondent_id"].astype(str)) if len(quality.flags) else set()
    tags = store.load("tags") if store.has("tags") else None
    reference = store.load("labels") if store.has("labels") else None
    personas = store.load("personas") if store.has("personas") else None
    names = {int(p.segment): p.name for p in personas or []}
    return ExplorerState(survey=kept, texts=kept.text(), tags=tags, excluded=flagged, seed=seed,
                         reference=reference, persona_names=names)


def _require_anywidget() -> None:
    """plotly's FigureWidget is an anywidget: say what to install before plotly fails."""
    try:
        import anywidget  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the explorer's live figures (plotly FigureWidget) need the package 'anywidget', "
            "a dependency of PersonaLab: reinstall it (pip install -e .) or run "
            "`pip install anywidget` in the kernel's environment, then restart the kernel"
        ) from exc


def explore(output_dir, *, seed: int = 42):
    """Show the explorer: sliders for the minimum segment share and UMAP neighbours, the
    map and profile heatmap that follow them, and a segment picker with quotes and themes.

    Returns the ``ipywidgets.VBox`` (JupyterLab displays it).
    """
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError as exc:  # pragma: no cover - ipywidgets is a core dependency
        raise ImportError("the explorer needs ipywidgets and a Jupyter kernel") from exc
    _require_anywidget()
    import plotly.graph_objects as go

    from .plotting import visualize_profile_heatmap, visualize_segment_map

    state = load_state(output_dir, seed=seed)
    share = w.FloatSlider(value=0.05, min=0.02, max=0.20, step=0.01,
                          description="Min share", readout_format=".0%",
                          continuous_update=False)
    neighbours = w.IntSlider(value=15, min=5, max=100, step=5, description="Neighbours",
                             continuous_update=False)
    # wide enough for a persona's name with its size
    segment = w.Dropdown(description="Segment", options=[], layout=w.Layout(width="480px"))
    status = w.HTML()
    fig_map = go.FigureWidget()
    fig_profile = go.FigureWidget()
    quotes_out, themes_out = w.Output(), w.Output()

    def redraw(*_):
        status.value = "<i>fitting…</i>"
        try:
            state.refit(min_segment_share=share.value, n_neighbors=neighbours.value)
        except Exception as exc:  # shown where the user looks, not only in the log console
            status.value = f"<b>refit failed:</b> {html.escape(f'{type(exc).__name__}: {exc}')}"
            raise
        names = state.names()
        with fig_map.batch_update():
            new = visualize_segment_map(state.map2d(), state.labels.to_numpy(), names=names)
            fig_map.data = []
            fig_map.add_traces(new.data)
            fig_map.layout = new.layout
            fig_map.layout.height = 550   # a FigureWidget is drawn short by default
        with fig_profile.batch_update():
            new = visualize_profile_heatmap(state.profile(), top_n=25, names=names,
                                            labels=state.survey.codebook)
            fig_profile.data = []
            fig_profile.add_traces(new.data)
            fig_profile.layout = new.layout
        # New options alone leave the picker empty (ipywidgets keeps value None): keep the
        # segment picked before the refit when it is still there (a matched segment keeps
        # its label), else pick the first.
        before = segment.value
        options = state.segment_options()
        values = [v for _, v in options]
        segment.unobserve(show_segment, names="value")
        try:
            segment.options = options
            segment.value = before if before in values else (values[0] if values else None)
        finally:
            segment.observe(show_segment, names="value")
        status.value = html.escape(state.summary())
        show_segment()

    def show_segment(*_):
        quotes_out.clear_output()
        themes_out.clear_output()
        if segment.value is None:
            return
        quotes, themes = state.quotes(segment.value), state.theme_shares(segment.value)
        with quotes_out:
            display(quotes if len(quotes) else w.HTML(
                "<i>No quotes: no open answer from this segment qualifies (flagged "
                "respondents are never quoted).</i>"))
        with themes_out:
            display(themes if len(themes) else w.HTML(
                "<i>No theme shares: run 03_quotes on this output folder first.</i>"))

    segment.observe(show_segment, names="value")
    share.observe(redraw, names="value")
    neighbours.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([share, neighbours]), status, fig_map, fig_profile,
                   segment, w.HTML("<b>Quotes</b>"), quotes_out,
                   w.HTML("<b>Themes</b>"), themes_out])
