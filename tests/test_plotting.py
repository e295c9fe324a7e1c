"""Plots hold the data they claim to show, never call show(), and escape respondent text."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from personalab.plotting import (UNASSIGNED_COLOR, segment_colors, visualize_overlap,
                                 visualize_profile_heatmap, visualize_segment_map,
                                 visualize_sizes)
from personalab.profiles import segment_sizes


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("visualize_* must not call show()")
    monkeypatch.setattr(go.Figure, "show", refuse)


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 60 + [1] * 30 + [-1] * 10)
    xy = rng.normal(size=(100, 2)) + labels[:, None] * 3
    hover = pd.DataFrame({"respondent_id": [f"R_{i}" for i in range(100)],
                          "answer": ["fine"] * 99 + ["<script>alert('x')</script> & more"]})
    return xy, labels, hover


def test_segment_map_has_one_webgl_trace_per_segment_with_the_points(points):
    xy, labels, hover = points
    fig = visualize_segment_map(xy, labels, hover=hover)
    assert [t.name for t in fig.data] == ["Segment 0", "Segment 1", "unassigned"]
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    for trace, seg in zip(fig.data, [0, 1, -1]):
        rows = np.flatnonzero(labels == seg)
        np.testing.assert_array_equal(trace.customdata, rows)
        np.testing.assert_allclose(trace.x, xy[rows, 0])
        np.testing.assert_allclose(trace.y, xy[rows, 1])
    assert fig.data[2].marker.color == UNASSIGNED_COLOR
    assert fig.data[0].marker.color != fig.data[1].marker.color != UNASSIGNED_COLOR
    assert fig.data[0].hovertext[0] == "respondent_id: R_0<br>answer: fine"


def test_segment_map_escapes_hover_text(points):
    xy, labels, hover = points
    fig = visualize_segment_map(xy, labels, hover=hover)
    text = fig.data[2].hovertext[-1]
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in text
    assert "<script>" not in fig.to_json()
    named = visualize_segment_map(xy, labels, names={0: "<b>Planners</b>"})
    assert named.data[0].name == "&lt;b&gt;Planners&lt;/b&gt;"


def test_segment_map_downsamples_deterministically_and_proportionally(points):
    xy, labels, hover = points
    a = visualize_segment_map(xy, labels, hover=hover, max_points=20, random_state=1)
    b = visualize_segment_map(xy, labels, hover=hover, max_points=20, random_state=1)
    counts = [len(t.x) for t in a.data]
    assert counts == [12, 6, 2]
    for ta, tb in zip(a.data, b.data):
        np.testing.assert_array_equal(ta.customdata, tb.customdata)
    for trace, seg in zip(a.data, [0, 1, -1]):
        assert (labels[trace.customdata] == seg).all()
        np.testing.assert_allclose(trace.x, xy[trace.customdata, 0])
        assert list(trace.hovertext) == [f"respondent_id: R_{i}<br>answer: " + (
            "fine" if i < 99 else "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more")
            for i in trace.customdata]
    assert "showing 20 of 100" in a.layout.title.text
    c = visualize_segment_map(xy, labels, max_points=20, random_state=2)
    assert any(not np.array_equal(x.customdata, y.customdata) for x, y in zip(a.data, c.data))


def test_sizes_bars_and_confidence_intervals():
    sizes = segment_sizes(np.array([0] * 50 + [1] * 30 + [-1] * 20))
    fig = visualize_sizes(sizes)
    (bar,) = fig.data
    assert list(bar.x) == ["Segment 0", "Segment 1", "unassigned"]
    np.testing.assert_allclose(bar.y, [50, 30, 20])
    np.testing.assert_allclose(bar.error_y.array, sizes["ci_high"] * 100 - [50, 30, 20])
    np.testing.assert_allclose(bar.error_y.arrayminus, [50, 30, 20] - sizes["ci_low"] * 100)
    assert bar.marker.color[2] == UNASSIGNED_COLOR
    assert list(bar.customdata[:, 0]) == [50, 30, 20]


def _profile():
    rows = []
    for seg in [0, 1]:
        rows.append(dict(segment=seg, question="Q1", variable="Q1", level=None,
                         value=4.0 if seg == 0 else 2.0, total=3.0,
                         index=133.3 if seg == 0 else 66.7, significant=True,
                         p_adjusted=0.001, effect_size=1.2 if seg == 0 else -1.2))
        rows.append(dict(segment=seg, question="plan", variable="plan=<i>Pro</i>",
                         level="<i>Pro</i>", value=0.3, total=0.3, index=100.0,
                         significant=False, p_adjusted=0.9, effect_size=0.01))
        rows.append(dict(segment=seg, question="Q2", variable="Q2", level=None,
                         value=3.1, total=3.0, index=103.3 if seg == 0 else 96.7,
                         significant=seg == 0, p_adjusted=0.04, effect_size=0.3))
    return pd.DataFrame(rows)


def test_profile_heatmap_holds_effect_sizes_and_marks_significance():
    fig = visualize_profile_heatmap(_profile())
    (hm,) = fig.data
    assert list(hm.x) == ["Segment 0", "Segment 1"]
    assert list(hm.y) == ["Q1", "plan: &lt;i&gt;Pro&lt;/i&gt;", "Q2"]
    # colour: the signed effect size, centred on 0
    np.testing.assert_allclose(np.asarray(hm.z, dtype=float),
                               [[1.2, -1.2], [0.01, 0.01], [0.3, 0.3]])
    assert hm.zmid == 0
    # text: a mean's difference in scale points, an answer's index
    text = np.asarray(hm.text)
    assert text[0, 0] == "+1.0*" and text[0, 1] == "-1.0*"
    assert text[1, 0] == "100" and text[2, 0] == "+0.1*" and text[2, 1] == "+0.1"
    assert "<i>" not in "".join(np.asarray(hm.hovertext).ravel())
    top = visualize_profile_heatmap(_profile(), top_n=1)
    assert list(top.data[0].y) == ["Q1"]
    only = visualize_profile_heatmap(_profile(), questions=["Q2"])
    assert list(only.data[0].y) == ["Q2"]


def test_overlap_mean_membership_and_hybrid_counts():
    membership = pd.DataFrame({0: [0.9, 0.6, 0.7, 0.1, 0.3],
                               1: [0.1, 0.4, 0.1, 0.8, 0.6],
                               2: [0.0, 0.0, 0.2, 0.1, 0.1]})
    fig = visualize_overlap(membership, hybrid_threshold=0.3)
    mean, hybrids = fig.data
    assert list(mean.y) == ["Segment 0", "Segment 1"]
    assert list(mean.x) == ["Segment 0", "Segment 1", "Segment 2"]
    np.testing.assert_allclose(np.asarray(mean.z), [[0.7333333, 0.2, 0.0666667],
                                                    [0.2, 0.7, 0.1]], atol=1e-6)
    # respondent 1 (0.6 / 0.4) and respondent 4 (0.6 / 0.3) are hybrids
    np.testing.assert_array_equal(np.asarray(hybrids.z), [[0, 1, 0], [1, 0, 0]])
    assert "2" in fig.layout.annotations[1].text
    labelled = visualize_overlap(membership, labels=[0, 0, -1, 1, 1], hybrid_threshold=0.3)
    assert list(labelled.data[0].y) == ["Segment 0", "Segment 1", "unassigned"]


def test_segment_colours_are_stable_and_grey_for_unassigned():
    colors = segment_colors([2, 0, 1, -1, 10])
    assert colors[-1] == UNASSIGNED_COLOR
    assert len({colors[s] for s in [0, 1, 2, 10]}) == 4
    assert segment_colors([0, 1, 2, 10])[10] == colors[10]


def test_a_segment_has_the_same_colour_in_every_chart(points):
    # The map shows segments 0, 1 and unassigned; a sizes chart of another selection shows
    # only segment 1 and a segment 4 (e.g. the explorer's new segment): segment 1 keeps its
    # colour, whatever else each chart shows and whatever it is named.
    xy, labels, _ = points
    fig_map = visualize_segment_map(xy, labels, names={1: "Budget-minded Beth"})
    fig_sizes = visualize_sizes(segment_sizes(np.array([1] * 30 + [4] * 20 + [-1] * 5)),
                                names={1: "Budget-minded Beth"})
    map_colors = {t.name: t.marker.color for t in fig_map.data}
    bar_colors = dict(zip(fig_sizes.data[0].x, fig_sizes.data[0].marker.color))
    assert map_colors["Budget-minded Beth"] == bar_colors["Budget-minded Beth"]
    assert map_colors["unassigned"] == bar_colors["unassigned"] == UNASSIGNED_COLOR
    assert bar_colors["Segment 4"] not in (map_colors["Segment 0"],
                                           bar_colors["Budget-minded Beth"], UNASSIGNED_COLOR)
    # the same holds for numpy ints, floats that hold an integer, and one segment alone
    assert segment_colors(np.array([1, 4]))[1] == segment_colors([1.0])[1.0] == \
        segment_colors([0, 1, 2, 3])[1]


def test_no_segment_is_coloured_like_unassigned():
    colors = segment_colors(range(40))
    assert UNASSIGNED_COLOR not in colors.values()
    # plotly's Safe and Vivid palettes end in a grey: it is never a segment's colour
    assert not any(c.replace(" ", "") in ("rgb(136,136,136)", "rgb(165,170,153)")
                   for c in colors.values())
    assert len(set(colors[k] for k in range(20))) == 20


LONG_Q = ("To what extent do you agree that your employer takes mental health as seriously "
          "as physical health?")


def _profile_with_text():
    """Two segments; a question with a long wording and a codebook short label, one with a
    long wording and none, and a choice question with a long option."""
    rows = []
    for seg, sign in ((0, 1), (3, -1)):
        rows.append(dict(segment=seg, question="mh_serious", question_text=LONG_Q,
                         variable="mh_serious", level=None, value=3 + sign, total=3.0,
                         index=100 + 30 * sign, significant=True, p_adjusted=0.001,
                         effect_size=0.9 * sign))
        rows.append(dict(segment=seg, question="q17",
                         question_text="How many employees does your company or "
                                       "organization have?",
                         variable="q17", level=None, value=3 + sign / 2, total=3.0,
                         index=100 + 15 * sign, significant=False, p_adjusted=0.2,
                         effect_size=0.4 * sign))
        rows.append(dict(segment=seg, question="told", question_text="Have you told anyone?",
                         variable="told=long", level="Yes, I know several people with a "
                                                      "diagnosed mental health condition",
                         value=0.5, total=0.4, index=125, significant=True,
                         p_adjusted=0.01, effect_size=0.3))
    return pd.DataFrame(rows)


def test_profile_heatmap_names_questions_by_their_short_label_and_personas_by_name():
    from personalab.codebook import Question

    names = {0: "Open Olivia", 3: "Guarded Gary"}
    codebook = [Question(id="mh_serious", type="likert", text=LONG_Q, short="Employer takes MH "
                         "seriously"), Question(id="q17", type="numeric",
                                                text="How many employees does your company or "
                                                     "organization have?")]
    fig = visualize_profile_heatmap(_profile_with_text(), names=names, labels=codebook,
                                    max_label_chars=50)
    (hm,) = fig.data
    # rows: the codebook's short label, the text when there is none (cut to the limit at a
    # word), and a long option cut too; never the question id
    assert list(hm.y)[0] == "Employer takes MH seriously"
    assert all(len(y) <= 50 for y in hm.y) and not {"mh_serious", "q17"} & set(hm.y)
    assert hm.y[1].startswith("How many employees") and hm.y[1].endswith("…")
    assert hm.y[2].startswith("Have you told anyone?: Yes, I know") and hm.y[2].endswith("…")
    # hover keeps the full wording and the full option
    hover = np.char.replace(np.asarray(hm.hovertext, dtype=str), "<br>", " ")
    assert hover[0, 0].startswith(LONG_Q) and hover[1, 1].startswith("How many employees "
                                                                     "does your company or "
                                                                     "organization have?")
    assert "several people with a diagnosed mental health condition" in hover[2, 1]
    # columns are the personas' names; the axis puts a square in each one's colour
    assert list(hm.x) == ["Open Olivia", "Guarded Gary"]
    colors = segment_colors([0, 3])
    assert list(fig.layout.xaxis.ticktext) == [
        f"<span style='color:{colors[0]}'>■</span> Open Olivia",
        f"<span style='color:{colors[3]}'>■</span> Guarded Gary"]
    # without a codebook the short label is drafted from the profile's question text
    # (personalab.codebook.draft_short), as infer_codebook drafts it
    drafted = visualize_profile_heatmap(_profile_with_text())
    assert list(drafted.data[0].y[:2]) == ["To what extent do you agree that your…",
                                           "How many employees does your company or…"]


def test_profile_heatmap_keeps_rows_apart_that_cut_to_one_label():
    df = _profile_with_text()
    twin = df[df["question"] == "q17"].assign(question="q18", variable="q18")
    fig = visualize_profile_heatmap(pd.concat([df, twin]), labels={"q17": "Company size",
                                                                   "q18": "Company size"})
    y = list(fig.data[0].y)
    assert "Company size" in y and "Company size (2)" in y and len(set(y)) == len(y)
