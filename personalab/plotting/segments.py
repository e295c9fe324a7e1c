"""Segment map, segment sizes and soft-membership overlap."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from personalab.errors import InputError
from personalab.plotting._common import (colored_name, escape, segment_colors,
                                         segment_name, segment_order, _is_unassigned)

__all__ = ["visualize_segment_map", "visualize_sizes", "visualize_overlap"]


def _display_rows(labels: np.ndarray, max_points: int, random_state) -> np.ndarray:
    """Row positions to draw: all, or a deterministic per-segment proportional sample.

    Quotas follow the largest-remainder method, so the sample has ``max_points`` rows
    (plus at most one per segment too small to get a quota: every segment stays visible).
    """
    n = len(labels)
    if max_points is None or n <= max_points:
        return np.arange(n)
    segs = sorted(pd.unique(labels), key=segment_order)
    sizes = np.array([np.sum(labels == seg) for seg in segs])
    exact = max_points * sizes / n
    quota = np.floor(exact).astype(int)
    short = max_points - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    quota = np.maximum(quota, 1)
    rng = np.random.default_rng(random_state)
    keep = [rng.permutation(np.flatnonzero(labels == seg))[:q] for seg, q in zip(segs, quota)]
    return np.sort(np.concatenate(keep))


def visualize_segment_map(embedding_2d, labels, hover=None, *, max_points=20000,
                          random_state=0, names=None, max_hover_chars=200,
                          title="Segment map") -> go.Figure:
    """Respondents on a 2-D embedding, one WebGL trace per segment, unassigned grey.

    Parameters
    ----------
    embedding_2d : array-like or DataFrame, shape (n, 2)
        E.g. a UMAP embedding of the feature matrix.
    labels : array-like of int
        Segment per row; -1 = unassigned.
    hover : DataFrame, optional
        Same row order; its columns (e.g. respondent id and a short answer) are shown on
        hover, HTML-escaped and cut to ``max_hover_chars``.
    max_points : int, default 20000
        Above this many rows a deterministic sample (proportional per segment, seeded by
        ``random_state``) is drawn, so the browser stays responsive.
    names : dict, optional
        Segment label -> display name (e.g. persona names).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scattergl`` trace per segment; ``customdata`` holds each point's row
        position in the input.
    """
    xy = np.asarray(embedding_2d, dtype=float)
    labels = np.asarray(labels)
    if xy.ndim != 2 or xy.shape[1] < 2 or len(xy) != len(labels):
        raise InputError(f"embedding of shape {xy.shape} does not fit {len(labels)} labels",
                         fix="pass an (n, 2) embedding with one label per row")
    if hover is not None and len(hover) != len(labels):
        raise InputError(f"hover has {len(hover)} rows for {len(labels)} points",
                         fix="pass one hover row per respondent, in the same order")
    rows = _display_rows(labels, max_points, random_state)
    colors = segment_colors(pd.unique(labels))
    hover_text = None
    if hover is not None:
        hover = pd.DataFrame(hover).reset_index(drop=True)
        hover_text = np.array(["<br>".join(
            f"{escape(col)}: {escape(val, max_hover_chars)}" for col, val in zip(hover.columns, r))
            for r in hover.itertuples(index=False, name=None)], dtype=object)
    fig = go.Figure()
    for seg in sorted(pd.unique(labels), key=segment_order):
        pick = rows[labels[rows] == seg]
        name = segment_name(seg, names)
        fig.add_trace(go.Scattergl(
            x=xy[pick, 0], y=xy[pick, 1], mode="markers", name=name,
            marker=dict(color=colors[seg], size=5, opacity=0.5 if _is_unassigned(seg) else 0.8),
            customdata=pick,
            hovertext=None if hover_text is None else hover_text[pick],
            hoverinfo="text+name" if hover_text is not None else "name",
        ))
    subtitle = (f"showing {len(rows):,} of {len(labels):,} respondents (sampled)"
                if len(rows) < len(labels) else f"{len(labels):,} respondents")
    fig.update_layout(title=f"{escape(title)}<br><sup>{subtitle}</sup>",
                      xaxis=dict(showticklabels=False, title=None),
                      yaxis=dict(showticklabels=False, title=None),
                      legend_title_text="Persona" if names else "Segment",
                      template="plotly_white")
    return fig


def visualize_sizes(sizes_df: pd.DataFrame, *, names=None, title="Segment sizes") -> go.Figure:
    """Weighted share of each segment with its confidence interval as error bars.

    Parameters
    ----------
    sizes_df : DataFrame
        From :func:`personalab.profiles.segment_sizes` (segment, n, weighted_share,
        ci_low, ci_high).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` trace; y in percent, asymmetric error bars.
    """
    need = {"segment", "n", "weighted_share", "ci_low", "ci_high"}
    missing = need - set(sizes_df.columns)
    if missing:
        raise InputError(f"sizes table lacks columns {sorted(missing)}",
                         fix="pass the output of personalab.profiles.segment_sizes()")
    df = sizes_df.copy()
    df["_order"] = df["segment"].map(segment_order)
    df = df.sort_values("_order", kind="stable")
    colors = segment_colors(df["segment"].tolist())
    share = df["weighted_share"].to_numpy() * 100
    fig = go.Figure(go.Bar(
        x=[segment_name(s, names) for s in df["segment"]], y=share,
        marker_color=[colors[s] for s in df["segment"]],
        error_y=dict(type="data", symmetric=False,
                     array=df["ci_high"].to_numpy() * 100 - share,
                     arrayminus=share - df["ci_low"].to_numpy() * 100),
        customdata=np.column_stack([df["n"].to_numpy(), df["ci_low"].to_numpy() * 100,
                                    df["ci_high"].to_numpy() * 100]),
        hovertemplate="%{x}: %{y:.1f}% (CI %{customdata[1]:.1f}–%{customdata[2]:.1f}%)"
                      "<br>n = %{customdata[0]}<extra></extra>",
    ))
    fig.update_layout(title=escape(title), yaxis_title="Share of respondents (%)",
                      xaxis_title=None, template="plotly_white", showlegend=False)
    return fig


def visualize_overlap(membership_df: pd.DataFrame, labels=None, *, hybrid_threshold=0.25,
                      names=None, title="Segment overlap") -> go.Figure:
    """How crisp the segments are: mean soft membership by assigned segment, and hybrids.

    Parameters
    ----------
    membership_df : DataFrame
        One row per respondent, one column per segment: soft membership (e.g.
        probabilities or HDBSCAN membership vectors).
    labels : array-like, optional
        Assigned segment per row (-1 = unassigned); default: the column with the highest
        membership.
    hybrid_threshold : float, default 0.25
        A respondent is a *hybrid* of their assigned segment and another when their
        membership of that other segment is at least this.

    Returns
    -------
    plotly.graph_objects.Figure
        Two heatmaps: left, mean membership (rows: assigned segment, columns: membership
        of each segment); right, hybrid counts (rows: assigned, columns: the other
        segment with the highest membership).
    """
    m = pd.DataFrame(membership_df)
    segs = list(m.columns)
    values = m.to_numpy(dtype=float)
    if labels is None:
        assigned = np.asarray(segs, dtype=object)[np.nanargmax(values, axis=1)]
    else:
        assigned = np.asarray(labels, dtype=object)
        if len(assigned) != len(m):
            raise InputError(f"{len(assigned)} labels for {len(m)} membership rows",
                             fix="pass one label per membership row")
    rows = sorted(pd.unique(assigned), key=segment_order)
    mean = np.array([np.nanmean(values[assigned == r], axis=0) for r in rows])
    # hybrids: membership of the best *other* segment >= threshold
    col_of = {s: j for j, s in enumerate(segs)}
    counts = np.zeros((len(rows), len(segs)), dtype=int)
    for i, r in enumerate(rows):
        sub = values[assigned == r].copy()
        if r in col_of:
            sub[:, col_of[r]] = -np.inf
        best = np.nanargmax(sub, axis=1)
        hybrid = sub[np.arange(len(sub)), best] >= hybrid_threshold
        np.add.at(counts[i], best[hybrid], 1)
    row_names = [segment_name(r, names) for r in rows]
    col_names = [segment_name(s, names) for s in segs]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.15, subplot_titles=(
        "Mean membership by assigned segment",
        f"Hybrids (other membership ≥ {hybrid_threshold:g}): {int(counts.sum()):,}"))
    fig.add_trace(go.Heatmap(
        z=mean, x=col_names, y=row_names, zmin=0, zmax=1, colorscale="Blues",
        text=np.round(mean, 2), texttemplate="%{text}", name="mean membership",
        hovertemplate="assigned %{y}<br>membership of %{x}: %{z:.2f}<extra></extra>",
        colorbar=dict(x=0.42, len=0.9, title="mean")), row=1, col=1)
    fig.add_trace(go.Heatmap(
        z=counts, x=col_names, y=row_names, colorscale="Oranges", text=counts,
        texttemplate="%{text}", name="hybrids",
        hovertemplate="assigned %{y}, also %{x}: %{z}<extra></extra>",
        colorbar=dict(x=1.0, len=0.9, title="count")), row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    # both panels share their rows: labels once, so the second panel's labels cannot run
    # into the first panel's colour bar
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    # the rows' names carry a square in each segment's colour, as in every other chart
    colors = segment_colors(list(rows) + segs)
    fig.update_yaxes(tickvals=row_names, ticktext=[colored_name(r, names, colors) for r in rows],
                     row=1, col=1)
    fig.update_layout(title=escape(title), template="plotly_white")
    return fig
