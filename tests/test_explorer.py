"""The explorer's logic (what the widgets show), without a kernel."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from personalab import steps
from personalab.artifacts import ArtifactStore
from personalab.explorer import load_state
from personalab.quotes import representative_quotes

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore")
    steps.ingest(SAMPLE / "sample_wave.csv", output_dir=out,
                 codebook_path=SAMPLE / "codebook.yml", wave="sample")
    return load_state(out, seed=0)


def test_refit_follows_the_knobs_and_caches_each_setting(state):
    a = state.refit(min_segment_share=0.05, n_neighbors=30)
    assert a.index.equals(state.survey.data.index)
    assert 4 <= state.model.n_segments_ <= 8
    model = state.model
    b = state.refit(min_segment_share=0.20, n_neighbors=30)
    assert state.model is not model and state.model.n_segments_ < model.n_segments_
    state.refit(min_segment_share=0.05, n_neighbors=30)
    assert state.model is model  # the same setting is not fitted twice
    assert state.map2d().shape == (len(a), 2)
    assert f"{model.n_segments_} segments" in state.summary()


def test_quotes_of_a_segment_are_its_own_and_never_from_flagged_respondents(state):
    labels = state.refit(min_segment_share=0.05, n_neighbors=30)
    quotes = state.quotes(1, n=4)
    assert 1 <= len(quotes) <= 4
    full = representative_quotes(
        state.texts, labels, n=4, exclude_ids=state.excluded, sentiment=False)
    ids = set(full[full["segment"] == 1]["respondent_id"])
    assert ids and not ids & state.excluded
    assert all(labels[r] == 1 for r in ids)


def test_align_segments_keeps_the_run_labels_of_matching_segments():
    from personalab.explorer import align_segments

    idx = [f"R_{i}" for i in range(12)]
    reference = pd.Series([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, -1, -1], index=idx)
    # new 5 is the run's 1 (Jaccard 1), new 3 is mostly the run's 0 (3/4), new 0 and new 7
    # overlap nothing above one half, -1 stays -1
    new = pd.Series([3, 3, 3, 0, 5, 5, 5, 5, 7, 0, -1, 7], index=idx, name="segment")
    aligned = align_segments(new, reference)
    assert aligned.name == "segment" and aligned.index.equals(new.index)
    assert list(aligned) == [0, 0, 0, 3, 1, 1, 1, 1, 4, 3, -1, 4]
    # halves of the run's 0 (Jaccard exactly one half) match nothing; 6 is the run's 1 plus
    # the run's 2 (Jaccard 4/6)
    half = pd.Series([8, 8, 9, 9, 6, 6, 6, 6, 6, 6, -1, -1], index=idx)
    assert list(align_segments(half, reference)) == [3, 3, 4, 4, 1, 1, 1, 1, 1, 1, -1, -1]


@pytest.fixture(scope="module")
def run_with_personas(tmp_path_factory):
    """A run whose segment step fitted what the explorer fits first (UMAP + HDBSCAN, 5 %,
    15 neighbours, same seed), then drafted personas."""
    out = tmp_path_factory.mktemp("explore-run")
    steps.ingest(SAMPLE / "sample_wave.csv", output_dir=out,
                 codebook_path=SAMPLE / "codebook.yml", wave="sample")
    steps.segment(out, seed=0, reducer="umap", clusterer="hdbscan", n_neighbors=15,
                  min_segment_share=0.05, n_boot=0, golden=False)
    steps.quotes(out, themes_path=SAMPLE / "themes.yml", seed=0)
    personas = steps.personas(out, wave="sample")
    return out, {p.segment: p.name for p in personas}


def _widgets(box):
    share, neighbours = box.children[0].children
    status, fig_map, fig_profile, segment = box.children[1:5]
    return share, neighbours, status, fig_map, fig_profile, segment


def test_explorer_shows_persona_names_and_colours_and_keeps_a_segment_picked(
        run_with_personas):
    from personalab.explorer import explore
    from personalab.plotting import UNASSIGNED_COLOR, segment_colors

    out, names = run_with_personas
    run_labels = ArtifactStore(out).load("labels")
    report_colors = segment_colors(pd.unique(run_labels))   # what the report colours by
    box = explore(out, seed=0)
    share, neighbours, status, fig_map, fig_profile, segment = _widgets(box)
    # the first fit is the run's: every segment is a persona, by name and colour
    traces = {t.name: t.marker.color for t in fig_map.data}
    expected = {names[s]: report_colors[s] for s in names}
    if -1 in set(run_labels):
        expected["unassigned"] = UNASSIGNED_COLOR
    assert traces == expected
    assert set(fig_profile.data[0].x) == set(names.values())
    # heat-map rows name questions as the report does (short label, else the wording), never
    # by their export column ("Q1_3"); the full wording is on hover
    from personalab.codebook import short_label

    codebook = ArtifactStore(out).load("survey").codebook
    labels = {q.id: short_label(q) for q in codebook}
    import html

    rows = [html.unescape(y) for y in fig_profile.data[0].y]
    assert not set(rows) & set(labels)
    assert all(any(r.split(": ")[0].rstrip("…") in lab for lab in labels.values())
               for r in rows)
    # the picker is never empty after a fit, and reads names, not numbers
    assert segment.value in names
    assert [label.split(" · ")[0] for label, _ in segment.options] == \
        [names[s] for s in sorted(names)]
    assert names[segment.value] in status.value
    segment.value = max(names)
    before = [(t.name, list(t.x)) for t in fig_map.data]
    neighbours.value = 50                   # what moving the slider does
    after = [(t.name, list(t.x)) for t in fig_map.data]
    assert after != before
    assert segment.value is not None and segment.options
    picked = [v for _, v in segment.options]
    assert segment.value == (max(names) if max(names) in picked else picked[0])
    # segments that match a persona keep its name and colour; others get a new number
    for t in fig_map.data:
        seg = next((s for s, n in names.items() if n == t.name), None)
        if seg is not None:
            assert t.marker.color == report_colors[seg]
        elif t.name != "unassigned":
            assert t.name.startswith("Segment ") and int(t.name.split()[1]) > max(names)


def test_explorer_says_to_install_anywidget(monkeypatch, tmp_path):
    import sys

    from personalab.explorer import explore

    monkeypatch.setitem(sys.modules, "anywidget", None)   # import anywidget fails
    with pytest.raises(ImportError, match="need the package 'anywidget', a dependency"):
        explore(tmp_path / "no-run-needed")


def test_quotes_show_their_themes_and_theme_shares_leave_out_unmentioned_themes(
        run_with_personas):
    from personalab.explorer import load_state

    out, names = run_with_personas
    state = load_state(out, seed=0)
    state.refit(min_segment_share=0.05, n_neighbors=15)
    seg = min(names)
    quotes = state.quotes(seg, n=5)
    assert len(quotes) and any(len(t) for t in quotes["themes"])
    # quotes and theme shares name their question by its label, not its column
    from personalab.codebook import short_label

    labels = {short_label(q) for q in state.survey.codebook}
    assert set(quotes["question"]) <= labels
    shares = state.theme_shares(seg)
    assert set(shares["question"]) <= labels
    assert len(shares) and ((shares["segment"] > 0) | (shares["everyone"] > 0)).all()
    full = sum(len(r.shares().columns) for r in state.tags.values())
    assert len(shares) < full     # the sample has themes some questions never get
