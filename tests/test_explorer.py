"""The explorer's logic (what the widgets show), without a kernel."""
from __future__ import annotations

from pathlib import Path

import pytest

from personalab import steps
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
