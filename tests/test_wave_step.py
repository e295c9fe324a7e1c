"""The wave-tracking step on the bundled sample: wave 1 is the baseline run, ``wave2`` the new.

Both runs go through the real steps in-process (ingest, segment, quotes, personas), with the
slow extras off (no stability bootstrap, no golden questions). ``wave2`` plants an emerging
segment (hands-on investors) whose members are in ``tests/fixtures/sample_truth``.
"""
from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

from personalab import paths, steps
from personalab.artifacts import ArtifactStore
from personalab.report import build_report
from personalab.wave_report import changes_section
from personalab.wave_step import load_baseline, renamed_personas, track

pytestmark = pytest.mark.slow

SEED = 42
NOT_A_FIT = {"question": "Q2_1", "below": 2.5}
TRUTH = paths.TESTS_DIR / "fixtures" / "sample_truth"


def _run(folder, export, wave):
    data = paths.SAMPLE_DIR
    steps.ingest(data / export, output_dir=folder, codebook_path=data / "codebook.yml",
                 wave=wave)
    steps.segment(folder, seed=SEED, reducer="umap", clusterer="hdbscan", n_boot=0,
                  golden=False)
    steps.quotes(folder, themes_path=data / "themes.yml", n_quotes=3, seed=SEED)
    steps.personas(folder, wave=wave, not_a_fit=NOT_A_FIT, n_quotes=3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not (paths.SAMPLE_DIR / "wave2.csv").exists():
        pytest.skip("the bundled sample has no wave2.csv")
    root = tmp_path_factory.mktemp("waves")
    base, new = root / "sample", root / "wave2"
    _run(base, "sample_wave.csv", "sample")
    _run(new, "wave2.csv", "wave2")
    drafted = ArtifactStore(new).load("personas")
    cmp = track(new, baseline_dir=base, seed=SEED)
    report = build_report(new, wave="wave2")
    summary = json.loads((TRUTH / "summary.json").read_text(encoding="utf-8"))
    return dict(base=base, new=new, cmp=cmp, drafted=drafted, report=report, summary=summary)


def test_baseline_reads_the_model_file_of_a_run(runs):
    assert not ArtifactStore(runs["base"]).has("model")
    b = load_baseline(runs["base"])
    assert b.model.n_segments_ >= 2
    assert b.personas and set(b.personas) <= set(range(b.model.n_segments_))


def test_emerging_segment_is_detected(runs):
    cmp, summary = runs["cmp"], runs["summary"]
    planted = set(summary["emerging_members"]) & set(cmp.assignments.index)
    assert len(planted) > 50
    assert len(cmp.candidates) >= 1
    best = max(len(set(ids) & planted) / len(planted) for ids in cmp.candidates["respondent_ids"])
    assert best >= 0.80, best
    # every new respondent is typed, with a membership strength
    a = cmp.assignments
    assert a["membership"].between(0, 1).all() and len(a) == len(set(a.index))
    assert (cmp.codebook_diff.table()["status"] == "same").all()


def test_persona_names_carry_over_only_to_segments_that_are_the_same_persona(runs):
    cmp = runs["cmp"]
    base = {p.segment: p.name for p in ArtifactStore(runs["base"]).load("personas")}
    now = {p.segment: p.name for p in ArtifactStore(runs["new"]).load("personas")}
    corr = cmp.correspondence
    same = corr[(corr["kind"] == "same") & (corr["matched_segment"] != -1)]
    assert len(same) >= 1
    for r in same.itertuples():
        assert now[r.refit_segment] == base[r.matched_segment]
    # a split, merge or new segment keeps a name of its own, never a baseline persona's
    for r in corr[corr["kind"] != "same"].itertuples():
        assert now[r.refit_segment] not in set(base.values()), r
    assert len(set(now.values())) == len(now)
    # the exports were rewritten with the carried-over names
    exported = json.loads((runs["new"] / "personas" / "personas.json").read_text("utf-8"))
    text = json.dumps(exported)
    for r in same.itertuples():
        assert base[r.matched_segment] in text


def test_renamed_personas_known_answer(runs):
    """Only the ``same`` segment takes the baseline name; the ``split`` segment keeps its
    drafted name, and the ``new`` segment whose drafted name is a baseline persona's
    (one not carried over) gets another first name."""
    drafted = runs["drafted"][:3]
    corr = pd.DataFrame({"refit_segment": [p.segment for p in drafted],
                         "matched_segment": [5, -1, 2], "kind": ["same", "new", "split"]})
    cmp = dataclasses.replace(runs["cmp"], correspondence=corr)
    base = {5: "Careful Carol", 2: drafted[1].name}
    out = renamed_personas(drafted, cmp, base)
    assert out[0].name == "Careful Carol"
    assert out[2].name == drafted[2].name            # a split part is not the persona
    assert out[1].name != drafted[1].name and out[1].name not in base.values()
    assert out[1].first_name != drafted[1].first_name
    assert [p.name for p in drafted][:1] != ["Careful Carol"]  # input untouched


def test_a_carried_over_persona_is_named_in_its_own_narrative(runs):
    """The card named after the baseline persona does not say "People like <the name this
    wave drafted>" in its narrative."""
    p = runs["drafted"][0]
    assert p.narrative and p.narrative[0].text.startswith(f"People like {p.first_name} ")
    corr = pd.DataFrame({"refit_segment": [p.segment], "matched_segment": [5],
                         "kind": ["same"]})
    cmp = dataclasses.replace(runs["cmp"], correspondence=corr)
    base = [dataclasses.replace(p, segment=5, name="Careful Carol", first_name="Carol")]
    out = renamed_personas([p], cmp, base)[0]
    assert out.name == "Careful Carol"
    assert out.narrative[0].text.startswith("People like Carol ")
    assert not any(f"like {p.first_name} " in st.text for st in out.narrative)
    assert p.narrative[0].text.startswith(f"People like {p.first_name} ")   # input untouched


def test_a_refused_segment_is_never_given_or_gives_a_persona_name(runs):
    """A wave-2 segment the checks refuse keeps its plain name although it matches a baseline
    persona; a wave-2 persona matching a refused baseline segment keeps its own name."""
    drafted = runs["drafted"][:2]
    refused = dataclasses.replace(drafted[0], name=f"Segment {drafted[0].segment} (not a "
                                  "persona)", not_a_persona="defined by not answering 6 questions")
    corr = pd.DataFrame({"refit_segment": [refused.segment, drafted[1].segment],
                         "matched_segment": [5, 2], "kind": ["same", "same"]})
    cmp = dataclasses.replace(runs["cmp"], correspondence=corr)
    out = renamed_personas([refused, drafted[1]], cmp,
                           {5: "Careful Carol", 2: "Segment 2 (not a persona)"})
    assert [p.name for p in out] == [refused.name, drafted[1].name]


def test_report_has_the_changes_section_with_the_size_shift_figure(runs):
    html = runs["report"].read_text(encoding="utf-8")
    assert "What changed since sample" in html
    assert 'id="fig-size-shift"' in html
    assert html.index("What changed since sample") < html.index('id="personas"')
    cmp = runs["cmp"]
    for name in cmp.sizes["persona"]:
        if name not in ("emerging", "unassigned"):
            assert name.replace("'", "&#39;") in html or name in html
    # emerging segment card with its redacted quotes
    assert "Emerging segment 1" in html


def test_changes_section_escapes_all_text(runs, tmp_path):
    cmp = runs["cmp"]
    evil = "<script>alert(1)</script>"
    sizes = cmp.sizes.copy()
    sizes.loc[0, "persona"] = evil
    cands = cmp.candidates.copy()
    cands["from_personas"] = evil
    bad = dataclasses.replace(cmp, sizes=sizes, candidates=cands,
                              notes=[*cmp.notes, evil],
                              params={**cmp.params, "baseline_wave": evil})
    store = ArtifactStore(tmp_path)
    store.save("wave_comparison", bad)
    store.save("emerging_quotes", pd.DataFrame({"segment": [0], "text": [evil]}))
    section = changes_section(store)
    text = str(section.html)
    assert "<script>alert" not in text and "alert(1)</script>" not in text
    assert "&lt;script&gt;" in text
    assert re.search(r"<q>&lt;script", text)


def test_no_baseline_no_section(tmp_path):
    assert changes_section(ArtifactStore(tmp_path)) is None
