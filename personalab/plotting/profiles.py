"""Profile heatmap: every segment x variable, coloured by its effect size against the rest."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from personalab.errors import InputError
from personalab.plotting._common import (colored_name, cut, escape, question_labels,
                                         segment_colors, segment_name, segment_order,
                                         wrap)

__all__ = ["visualize_profile_heatmap"]


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == ""


def _question_name(row, labels: dict) -> str:
    """The question's short label: the codebook's (``labels``), else a short label drafted
    from the profile's ``question_text``, else the question id."""
    qid = str(row["question"])
    if qid in labels:
        return labels[qid]
    text = row.get("question_text")
    if not _blank(text):
        from personalab.codebook import draft_short

        return draft_short(str(text)) or " ".join(str(text).split())
    return qid


def _row_label(row, labels: dict, max_chars: int) -> str:
    """Heat-map row: 'short label: level', cut so neither crowds the chart out."""
    name = _question_name(row, labels)
    level = row["level"]
    if _blank(level):
        return cut(name, max_chars)
    level = cut(level, max(12, max_chars // 2))
    return f"{cut(name, max(12, max_chars - len(level) - 2))}: {level}"


def _row_title(row) -> str:
    """Hover title of a row: the full question wording and the full level."""
    text = row.get("question_text")
    text = str(row["question"]) if _blank(text) else " ".join(str(text).split())
    return text if _blank(row["level"]) else f"{text}: {row['level']}"


#: Row-label mark of a question the segments were formed on (no significance mark there).
INPUT_MARKER = "◆"

_EFFECT_SYMBOL = {"cohen_h": "h", "cohen_d": "d", "rank_biserial": "r"}


def _is_input(df: pd.DataFrame) -> pd.Series:
    if "segmentation_input" not in df:
        return pd.Series(False, index=df.index)
    return df["segmentation_input"].fillna(False).astype(bool)


def _is_mean(df: pd.DataFrame) -> pd.Series:
    """Whether each row is a mean (else an answer share): ``measure``, else no ``level``."""
    if "measure" in df:
        return df["measure"] == "mean"
    return df["level"].map(_blank)


def vs_total(row) -> str:
    """How a cell compares with the whole sample, as its text reads: the index for an answer
    share ('145'), the difference in scale points for a mean ('+0.8'); '' when unknown."""
    mean = row["measure"] == "mean" if "measure" in row else _blank(row["level"])
    if mean:
        diff = float(row["value"]) - float(row["total"])
        if not np.isfinite(diff):
            return ""
        return f"{diff:+.1f}" if abs(diff) < 10 else f"{diff:+,.0f}"
    return "" if pd.isna(row["index"]) else f"{row['index']:.0f}"


def effect_text(row) -> str:
    """The effect size with its symbol: 'h = 0.62' (Cohen's h), 'd = -1.20' (Cohen's d),
    'r = 0.31' (rank-biserial); '' when there is none."""
    eff = row["effect_size"]
    if pd.isna(eff):
        return ""
    sym = _EFFECT_SYMBOL.get(str(row.get("effect_measure")), "effect")
    return f"{sym} = {float(eff):.2f}"


def _drop_mirrors(df: pd.DataFrame) -> pd.DataFrame:
    """A two-answer single-choice question once: its two rows are one difference seen from
    both sides (Cohen's h of 'No' is minus that of 'Yes'), so keep one, the less common
    answer in the whole sample ('Lack of recognition: TRUE', 15%, not FALSE), whose index
    says the most; the first listed on a tie."""
    if "level" not in df or not len(df):
        return df
    kind = df["type"] if "type" in df else pd.Series("single", index=df.index)
    single = (~_is_mean(df)) & (kind == "single") & df["level"].map(lambda v: not _blank(v))
    drop = set()
    for _, block in df[single].groupby("question", sort=False):
        variables = list(dict.fromkeys(block["variable"]))
        if len(variables) != 2:
            continue
        total = block.groupby("variable", sort=False)["total"].first()
        keep = min(variables, key=lambda v: (np.nan_to_num(total.get(v, np.nan), nan=np.inf),
                                             variables.index(v)))
        drop.update(v for v in variables if v != keep)
    return df[~df["variable"].isin(drop)]


def _choose(df: pd.DataFrame, top_n: int) -> set:
    """The ``top_n`` variables to draw: first those with a starred cell (significant, on a
    question that is not a segmentation input: the tested findings), then inputs with a
    significant cell, then the rest, each group by its largest absolute effect size. A cell
    counts only when it rests on :data:`personalab.profiles.MIN_SUPPORT` respondents, and a
    variable with no such cell is never drawn."""
    sig = df["significant"].astype(bool) & df["_ok"]
    scored = df.assign(_s=df["effect_size"].abs().where(df["_ok"]), _sig=sig,
                       _star=sig & ~df["_input"].astype(bool))
    per = scored.groupby("variable", sort=False).agg(star=("_star", "any"), sig=("_sig", "any"),
                                                     s=("_s", "max"))
    per = per[per["s"].notna()]
    per = per.sort_values(["star", "sig", "s"], ascending=False, kind="stable")
    return set(per.index[:top_n])


def visualize_profile_heatmap(profile_df: pd.DataFrame, *, top_n=None, questions=None,
                              significant_marker="*", input_marker=INPUT_MARKER,
                              effect_range=(-1.0, 1.0), names=None, labels=None,
                              max_label_chars=60,
                              title="Segment profiles (effect size against the rest of the "
                                    "sample)") -> go.Figure:
    """Heatmap of each segment's effect size against the rest of the sample.

    Colour is the signed effect size of the row (Cohen's h for an answer share, Cohen's d or
    the rank-biserial correlation for a mean), the same scale for answers and means; the
    cell text says how the segment compares with the whole sample: the index for an answer
    share (100 = as common as in the total), the difference in scale points for a mean.

    Parameters
    ----------
    profile_df : DataFrame
        From :func:`personalab.profiles.profile_segments`.
    top_n : int, optional
        Keep ``top_n`` variables: those with a starred cell first (significant, not a
        segmentation input), then inputs with a significant cell, then the rest, each by the
        largest absolute effect size in any segment. Only cells resting on
        :data:`personalab.profiles.MIN_SUPPORT` respondents count
        (:func:`personalab.profiles.supported`); a variable without one is never drawn.
    questions : list of str, optional
        Keep only these questions.
    significant_marker : str, default "*"
        Appended to the cell text of significant cells of questions that are not
        segmentation inputs.
    input_marker : str, default "◆"
        Put before the row label of a question the segments were formed on
        (``segmentation_input``): its differences are expected, not tested, so its cells get
        no significance marker.
    effect_range : (float, float), default (-1, 1)
        Colour range of the effect size, centred on 0; values outside are clipped for colour
        only (hover shows the real value).
    names : dict, optional
        Segment label -> display name (e.g. the persona names).
    labels : Codebook, list of Question or dict, optional
        What to call each question: the codebook's ``short`` label (else its text); a dict
        maps question id -> label. Without it, a short label is drafted from the profile's
        ``question_text`` (:func:`personalab.codebook.draft_short`), else the id is shown.
    max_label_chars : int, default 60
        Row labels ('label: level') are cut to this many characters at a word boundary;
        hover shows the full question wording and level.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace: rows = variables (question label: level; a two-answer
        single-choice question shows its less common answer only, one fact as in
        :func:`personalab.profiles.top_traits`), columns = segments (named, with a square in
        each segment's colour on the axis), ``z`` = effect size (NaN in a cell resting on
        fewer than :data:`~personalab.profiles.MIN_SUPPORT` respondents), ``text`` = index
        or difference plus the marker where significant.
    """
    from personalab.profiles import MIN_SUPPORT, supported

    need = {"segment", "question", "variable", "level", "index", "significant", "value",
            "total", "p_adjusted", "effect_size"}
    missing = need - set(profile_df.columns)
    if missing:
        raise InputError(f"profile table lacks columns {sorted(missing)}",
                         fix="pass the output of personalab.profiles.profile_segments()")
    df = profile_df
    if questions is not None:
        df = df[df["question"].isin(list(questions))]
    df = df.assign(_ok=supported(df), _input=_is_input(df).to_numpy(),
                   measure=np.where(_is_mean(df), "mean", "share"))
    df = _drop_mirrors(df)
    chosen = _choose(df, len(df) if top_n is None else top_n)
    variables = [v for v in dict.fromkeys(df["variable"]) if v in chosen]
    df = df[df["variable"].isin(variables)]
    segments = sorted(pd.unique(df["segment"]), key=segment_order)
    cells = df.set_index(["variable", "segment"])
    qlabels = question_labels(labels)
    first = {v: df[df["variable"] == v].iloc[0] for v in variables}
    inputs = {v for v in variables if bool(first[v]["_input"])}
    rows, seen = {}, set()
    for v in variables:
        label = _row_label(first[v], qlabels, max_label_chars)
        k, base = 2, label
        while label in seen:   # two rows cut to one label would be drawn as one
            label, k = f"{base} ({k})", k + 1
        seen.add(label)
        rows[v] = f"{input_marker} {label}" if v in inputs and input_marker else label
    titles = {v: _row_title(first[v]) for v in variables}
    z = np.full((len(variables), len(segments)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    hover = np.full(z.shape, "", dtype=object)
    for i, v in enumerate(variables):
        for j, seg in enumerate(segments):
            if (v, seg) not in cells.index:
                continue
            c = cells.loc[(v, seg)]
            head = (f"{wrap(escape(titles[v]))}<br>{segment_name(seg, names)}: "
                    f"{c['value']:.3g} vs total {c['total']:.3g}")
            if not bool(c["_ok"]):
                text[i, j] = "–"
                hover[i, j] = head + f"<br>fewer than {MIN_SUPPORT} respondents: not compared"
                continue
            z[i, j] = c["effect_size"]
            sig = bool(c["significant"]) and v not in inputs
            comp = vs_total(c)
            text[i, j] = comp + (significant_marker if sig else "")
            what = (f"difference {comp} points" if c["measure"] == "mean"
                    else f"index {comp}" if comp else "index –")
            eff = effect_text(c) or "effect size –"
            n = "" if "n" not in c or pd.isna(c["n"]) else f", n = {int(c['n'])}"
            if v in inputs:
                verdict = "<br>used to form the segments: differences expected, not tested"
            else:
                verdict = (f"<br>adjusted p {c['p_adjusted']:.2g}"
                           + (" (significant)" if sig else ""))
            hover[i, j] = f"{head}<br>{what}, {eff}{n}{verdict}"
    low, high = effect_range
    x = [segment_name(s, names) for s in segments]
    colors = segment_colors(segments)
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=[escape(rows[v]) for v in variables],
        zmin=low, zmax=high, zmid=0, colorscale="RdBu", text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text",
        colorbar=dict(title="effect size<br>(h, d)"), name="effect size"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickvals=x, ticktext=[colored_name(s, names, colors) for s in segments])
    notes = [f"{escape(significant_marker)} = significant after correction"]
    if inputs and input_marker:
        notes.append(f"{escape(input_marker)} = used to form the segments: differences "
                     "expected, not tested")
    fig.update_layout(title=escape(title) + "<br><sup>" + "; ".join(notes) + "</sup>",
                      template="plotly_white",
                      height=max(350, 22 * len(variables) + 150))
    return fig
