"""The report agrees with the run's verdict: capped confidence badges, a loud warning when
the segments are a split on one input or on a missing-answer pattern, and a sentence on
how the inputs were scaled."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from personalab.artifacts import ArtifactStore
from personalab.personas import Evidence, PersonaDraft, Statement
from personalab.report import guard_warnings, personas_section, scaling_sentence

NO_STABLE = ("No stable segments: mean ARI 0.78 is below 0.90 over 10 refits on random 80% "
             "subsamples. Segment(s) 0 do reproduce (Jaccard >= 0.75) and may be described on "
             "their own, as exploratory findings.")


def _persona(seg: int, jaccard: float) -> PersonaDraft:
    st = Statement("Agree more than most that “x” (mean 4.1 vs 3.0 of 5).",
                   [Evidence("profile", "profile:x", question="x", value=4.1, total=3.0)], "over")
    return PersonaDraft(
        segment=seg, name=f"Ann{seg}", first_name=f"Ann{seg}", descriptor="", headline=st,
        size={"n": 100, "share": 0.5, "weighted_share": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        size_statement=Statement("100 respondents.", [Evidence("size", f"size:{seg}")]),
        confidence="high",
        confidence_statement=Statement(
            f"High confidence: the segment reproduces at Jaccard {jaccard:.2f} across "
            "resamples and 0% of respondents are unassigned.",
            [Evidence("stability", f"stability:{seg}", value=jaccard)]),
        distinctive=[st], narrative=[st])


def _store(tmp_path, **artifacts) -> ArtifactStore:
    store = ArtifactStore(tmp_path)
    for name, obj in artifacts.items():
        store.save(name, obj)
    return store


def _badges(html: str) -> list[str]:
    return re.findall(r'class="badge (high|medium|low)"', html)


def test_cards_never_say_high_confidence_under_no_stable_segments(tmp_path):
    stab = SimpleNamespace(stable=False, verdict=NO_STABLE, flags=[], dominated_by=None)
    store = _store(tmp_path, personas=[_persona(0, 0.95), _persona(1, 0.70)], stability=stab)
    html = str(personas_section(store).html)
    assert _badges(html) == ["medium", "low"]
    assert "high confidence" not in html.lower()
    assert "No stable segments" in html


def test_stable_runs_keep_their_badges(tmp_path):
    stab = SimpleNamespace(stable=True, verdict="Stable: 2 segments reproduce.", flags=[],
                           dominated_by=None)
    store = _store(tmp_path, personas=[_persona(0, 0.95), _persona(1, 0.95)], stability=stab)
    html = str(personas_section(store).html)
    assert _badges(html) == ["high", "high"]
    assert "class='alert'" not in html


def test_a_split_on_one_input_is_shown_loudly_and_every_badge_is_low(tmp_path):
    verdict = ("Not personas: the segments reproduce on resampling (mean ARI 0.97) but one "
               "input alone explains the segments: 'Q7 <b>' reproduces 98% of the labels.")
    stab = SimpleNamespace(stable=False, verdict=verdict, dominated_by="Q7 <b>",
                           flags=["one input alone explains the segments: 'Q7 <b>'"])
    store = _store(tmp_path, personas=[_persona(0, 0.99)], stability=stab)
    warns = guard_warnings(store)
    assert warns and warns[0].startswith("Not personas")
    html = str(personas_section(store).html)
    assert "class='alert'" in html and "Q7 &lt;b&gt;" in html and "Q7 <b>" not in html
    assert _badges(html) == ["low"]


def test_missing_answer_pattern_from_the_sweep_is_flagged(tmp_path):
    rec = SimpleNamespace(stable=False, verdict=NO_STABLE, reasons=[],
                          flags=["k=3: the missing-answer pattern explains the segments.",
                                 "The closest setting is flagged: the missing-answer pattern "
                                 "explains the segments."])
    store = _store(tmp_path, recommendation=rec)
    assert guard_warnings(store) == [rec.flags[1]]


def test_a_reason_that_names_the_guards_is_not_a_warning(tmp_path):
    rec = SimpleNamespace(stable=True, verdict="Stable segmentation: 7 segments.", flags=[],
                          reasons=["11 of 12 settings passed the guards (no single input, "
                                   "missing-answer pattern or look-alike segments)."])
    assert guard_warnings(_store(tmp_path, recommendation=rec)) == []


@pytest.mark.parametrize("encoder, expected", [
    (SimpleNamespace(scale_description_="Every input was standardised (weighted)."),
     "Every input was standardised (weighted)."),
    (SimpleNamespace(scale="rank"), "Inputs were scaled with scale='rank' before distances "
                                    "were computed."),
    (SimpleNamespace(), "they were not standardised"),
])
def test_methods_say_how_inputs_were_scaled(encoder, expected):
    sentence = scaling_sentence(SimpleNamespace(encoder_=encoder))
    assert expected in sentence
    assert scaling_sentence(None) is None
