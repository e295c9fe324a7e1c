"""An ipywidgets explorer for segments: tune, watch the map and profiles change, read quotes.

Needs a live kernel (JupyterLab): it is for exploring, never the only way a result reaches a
report. The logic lives in :class:`ExplorerState` (plain Python, tested without widgets);
:func:`explore` wires it to sliders and dropdowns.
"""
from __future__ import annotations

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
    """

    survey: object
    texts: pd.DataFrame | None = None
    tags: dict | None = None
    excluded: set = field(default_factory=set)
    seed: int = 42
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

    def summary(self) -> str:
        m = self.model
        sizes = ", ".join(f"{s}: {n}" for s, n in self.labels.value_counts().sort_index().items())
        return (f"{m.n_segments_} segments, {m.unassigned_share_:.1%} unassigned "
                f"(sizes {sizes})")

    def quotes(self, segment: int, n: int = 5) -> pd.DataFrame:
        """Representative, redacted quotes of one segment under the current labels."""
        from .quotes import representative_quotes

        if self.texts is None or self.texts.empty:
            return pd.DataFrame()
        q = representative_quotes(self.texts, self.labels, n=n,
                                  embedding=pd.DataFrame(self.model.embedding_,
                                                         index=self.labels.index),
                                  exclude_ids=self.excluded, redact=True, sentiment=False)
        return q[q["segment"] == segment][["rank", "question", "text", "themes"]]

    def theme_shares(self, segment: int) -> pd.DataFrame:
        """Share of the segment's answers with each theme, against everyone, per question."""
        rows = []
        for q, result in (self.tags or {}).items():
            seg = self.labels.reindex(result.matrix.index)
            shares = result.shares(by=seg)
            if segment in shares.index:
                overall = result.shares().iloc[0]
                rows.append(pd.DataFrame({"question": q, "segment": shares.loc[segment],
                                          "everyone": overall}))
        return pd.concat(rows).round(3) if rows else pd.DataFrame()


def load_state(output_dir, *, seed: int = 42) -> ExplorerState:
    """An ExplorerState from a run's saved artifacts (after 01_ingest, and 03 for themes)."""
    store = ArtifactStore(output_dir)
    survey, quality = store.load("survey"), store.load("quality")
    kept = quality.apply(survey)
    flagged = set(quality.flags["respondent_id"].astype(str)) if len(quality.flags) else set()
    tags = store.load("tags") if store.has("tags") else None
    return ExplorerState(survey=kept, texts=kept.text(), tags=tags, excluded=flagged, seed=seed)


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
    import plotly.graph_objects as go

    from .plotting import visualize_profile_heatmap, visualize_segment_map

    state = load_state(output_dir, seed=seed)
    share = w.FloatSlider(value=0.05, min=0.02, max=0.20, step=0.01,
                          description="Min share", readout_format=".0%",
                          continuous_update=False)
    neighbours = w.IntSlider(value=15, min=5, max=100, step=5, description="Neighbours",
                             continuous_update=False)
    segment = w.Dropdown(description="Segment", options=[])
    status = w.HTML()
    fig_map = go.FigureWidget()
    fig_profile = go.FigureWidget()
    quotes_out, themes_out = w.Output(), w.Output()

    def redraw(*_):
        status.value = "<i>fitting…</i>"
        state.refit(min_segment_share=share.value, n_neighbors=neighbours.value)
        with fig_map.batch_update():
            new = visualize_segment_map(state.map2d(), state.labels.to_numpy())
            fig_map.data = []
            fig_map.add_traces(new.data)
            fig_map.layout = new.layout
        with fig_profile.batch_update():
            new = visualize_profile_heatmap(state.profile(), top_n=25)
            fig_profile.data = []
            fig_profile.add_traces(new.data)
            fig_profile.layout = new.layout
        segment.options = sorted(int(s) for s in state.labels.unique() if s >= 0)
        status.value = state.summary()
        show_segment()

    def show_segment(*_):
        quotes_out.clear_output()
        themes_out.clear_output()
        if segment.value is None:
            return
        with quotes_out:
            display(state.quotes(segment.value))
        with themes_out:
            display(state.theme_shares(segment.value))

    share.observe(redraw, names="value")
    neighbours.observe(redraw, names="value")
    segment.observe(show_segment, names="value")
    redraw()
    return w.VBox([w.HBox([share, neighbours]), status, fig_map, fig_profile,
                   segment, w.HTML("<b>Quotes</b>"), quotes_out,
                   w.HTML("<b>Themes</b>"), themes_out])
