"""Persona drafts: every statement traceable to the profile, a theme or a quote."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from _planted_survey import LIKERT5, survey_from_frame
from personalab.codebook import Question, ScaleOption
from personalab.errors import ConfigError
from personalab.personas import (PERSONA_SCHEMA, draft_personas, personas_to_json,
                                 personas_to_markdown, write_persona_exports)
from personalab.profiles import profile_segments, segment_sizes


@pytest.fixture(scope="module")
def planted():
    """Three segments: 0 loves tracking (L_track high), 1 finds the app hard (reverse-keyed
    L_easy answered low = 'agree it is hard'), 2 is older; gender and age are profile-only."""
    rng = np.random.default_rng(0)
    n = 450
    seg = np.repeat([0, 1, 2], n // 3)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.7)), 1, 5).astype(int)

    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "L_track": likert(np.where(seg == 0, 4.6, 2.2)),
        # reverse-keyed: "The app is hard to use"; segment 1 agrees (5), others disagree
        "L_hard": likert(np.where(seg == 1, 4.6, 1.8)),
        "L_noise": likert(np.full(n, 3.0)),
        "gender": np.where(rng.random(n) < np.where(seg == 2, 0.85, 0.4), "Woman", "Man"),
        "age": np.where(seg == 2, rng.integers(60, 75, n), rng.integers(22, 40, n)),
    })
    questions = [
        Question("L_track", "I track every purchase", "likert", "segment", LIKERT5,
                 descriptor={"high": "Meticulous", "low": "Relaxed"}, facet="behaviour"),
        Question("L_hard", "The app is hard to use", "likert", "segment", LIKERT5,
                 reverse=True, facet="pain_point"),
        Question("L_noise", "I like the colour blue", "likert", "segment", LIKERT5),
        Question("gender", "How do you describe yourself?", "single", "profile",
                 [ScaleOption(1, "Woman"), ScaleOption(2, "Man")]),
        Question("age", "What is your age in years?", "numeric", "profile"),
    ]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    profile = profile_segments(survey, labels)
    sizes = segment_sizes(labels.to_numpy())
    return survey, labels, profile, sizes


def _draft(planted, **kw):
    survey, labels, profile, sizes = planted
    return draft_personas(survey, labels, profile, sizes, **kw)


def test_one_persona_per_segment_with_unique_remembered_names(planted):
    personas = _draft(planted)
    assert [p.segment for p in personas] == [0, 1, 2]
    assert len({p.first_name for p in personas}) == 3
    # the descriptor comes from the strongest trait's codebook words, alliterating if it can
    assert personas[0].descriptor == "Meticulous"
    assert personas[0].first_name.startswith("M")


def test_names_follow_age_band_and_gender_mix(planted):
    from personalab.personas import name_table

    p2 = _draft(planted)[2]  # older, mostly women: a name popular for women born ~1950-60s
    t = name_table()
    decades = set(t[(t["name"] == p2.first_name) & (t["sex"] == "F")]["decade"])
    assert decades & {1940, 1950, 1960, 1970}, (p2.first_name, decades)


def test_every_statement_has_evidence_that_exists_in_the_profile(planted):
    survey, labels, profile, sizes = planted
    personas = _draft(planted)
    checked = 0
    for p in personas:
        for st in p.statements():
            assert st.evidence, st.text
            for ev in st.evidence:
                if ev.kind != "profile":
                    continue
                row = profile[(profile["segment"] == p.segment)
                              & (profile["variable"] == ev.variable)]
                assert len(row) == 1, ev
                assert row["value"].iloc[0] == pytest.approx(ev.value)
                assert row["significant"].iloc[0]
                checked += 1
    assert checked >= 6


def test_reverse_keyed_items_are_worded_as_respondents_answered(planted):
    p1 = _draft(planted)[1]
    texts = [s.text for s in p1.pain_points]
    hard = [t for t in texts if "hard to use" in t]
    assert hard and hard[0].startswith("Agree more than most"), texts
    # the mean quoted is on the scale they saw (they agreed: about 4.6), not the flipped one
    assert "mean 4." in hard[0]


def test_facets_from_the_codebook_place_statements(planted):
    p0 = _draft(planted)[0]
    assert any("track every purchase" in s.text for s in p0.behaviours)
    assert not any("colour blue" in s.text for p in _draft(planted) for s in p.statements())


def test_negative_persona_from_not_a_fit_rules(planted):
    # rules read the profile, which holds reverse-keyed items as answered: segment 1
    # agrees the app is hard to use (about 4.6 of 5)
    personas = _draft(planted, not_a_fit={"question": "L_hard", "above": 4.0})
    assert [p.negative for p in personas] == [False, True, False]
    # named by its wording, not its export column (the evidence keeps the id)
    assert "“The app is hard to use”" in personas[1].negative_statement.text
    assert "L_hard" not in personas[1].negative_statement.text
    assert personas[1].negative_statement.evidence[0].question == "L_hard"
    with pytest.raises(ConfigError, match="not in the profile"):
        _draft(planted, not_a_fit={"question": "nope", "above": 1})
    with pytest.raises(ConfigError, match="needs a 'question'"):
        _draft(planted, not_a_fit={"question": "L_hard"})


def test_quotes_and_themes_enter_with_their_evidence(planted):
    survey, labels, profile, sizes = planted
    quotes = pd.DataFrame({"segment": [0, 0, 1], "rank": [2, 1, 1],
                           "respondent_id": ["R_0001", "R_0002", "R_0151"],
                           "question": ["Q8"] * 3, "text": ["b", "a", "=cmd|' /C calc'!A0"],
                           "themes": [("t1",), (), ("t2",)], "sentiment": [0.1, 0.2, -0.5]})
    theme_profile = pd.DataFrame({"segment": [1], "theme": ["price"], "n": [150],
                                  "share": [0.4], "share_rest": [0.1], "index": [200.0],
                                  "test": ["z"], "p_adjusted": [0.001], "over": [True]})
    personas = _draft(planted, quotes=quotes, theme_profile=theme_profile,
                      theme_info={"price": {"label": "Price and cost", "polarity": "negative"}})
    assert [q.text for q in personas[0].quotes] == ["a", "b"]  # by rank
    price = [s for s in personas[1].pain_points if "Price and cost" in s.text]
    assert price and price[0].evidence[0].ref == "theme:price"


def test_json_is_versioned_deterministic_and_strict(planted, tmp_path):
    a = json.dumps(personas_to_json(_draft(planted), wave="w"), sort_keys=True)
    b = json.dumps(personas_to_json(_draft(planted), wave="w"), sort_keys=True)
    assert a == b
    doc = json.loads(a)
    assert doc["schema"] == PERSONA_SCHEMA and len(doc["personas"]) == 3
    paths = write_persona_exports(_draft(planted), tmp_path, wave="w")
    # strict JSON: no NaN/Infinity tokens
    json.loads(paths["json"].read_text(), parse_constant=lambda c: pytest.fail(c))
    assert "## Meticulous" in paths["markdown"].read_text()
    assert "[^1]:" in personas_to_markdown(_draft(planted))


def test_exports_neutralise_formulas_and_escape_html(planted, tmp_path):
    survey, labels, profile, sizes = planted
    quotes = pd.DataFrame({"segment": [0], "rank": [1], "respondent_id": ["R_0001"],
                           "question": ["Q8"], "text": ["=HYPERLINK(\"x\") <script>x()</script>"],
                           "themes": [()], "sentiment": [0.0]})
    paths = write_persona_exports(_draft(planted, quotes=quotes), tmp_path, profile=profile)
    assert "'=HYPERLINK" in paths["quotes_csv"].read_text(encoding="utf-8-sig")
    html = paths["html"].read_text()
    assert "<script>x()" not in html and "&lt;script&gt;x()" in html


def test_a_pain_point_they_do_not_share_is_not_listed_as_theirs(planted):
    p0 = _draft(planted)[0]  # segment 0 finds the app easy: "agree less that it is hard"
    assert not any("hard to use" in s.text for s in p0.pain_points)
    assert any(s.text.startswith("Agree less than most that “The app is hard to use”")
               for s in p0.distinctive)
    for p in _draft(planted):
        for facet in ("goals", "pain_points", "motivations", "objections"):
            assert all(s.direction == "over" for s in getattr(p, facet) if s.direction)


def test_metadata_dates_take_the_columns_decided_day_month_order():
    """A Timestamp column read one way for all its values: '01.02.2023' is 1 February where
    '13.04.2023' says day-first (row-by-row guessing read it as 2 January), the time zone
    is not read (Google Forms' 'GMT+5:30'), and an undecidable column keeps only year-first
    values."""
    from personalab.personas import meta_dates

    got = meta_dates(pd.Series(["13.04.2023", "01.02.2023", None, "junk"]))
    assert got.tolist()[:2] == [pd.Timestamp(2023, 4, 13), pd.Timestamp(2023, 2, 1)]
    assert got.iloc[2:].isna().all()
    us = meta_dates(pd.Series(["04/13/2023", "01/02/2023"]))
    assert us.tolist() == [pd.Timestamp(2023, 4, 13), pd.Timestamp(2023, 1, 2)]
    assert meta_dates(pd.Series(["01/02/2023"]), dayfirst=True).iloc[0] == pd.Timestamp(2023, 2, 1)
    gf = meta_dates(pd.Series(["2024/04/07 8:54:18 PM GMT+5:30", "2024/12/31 11:54:18 PM GMT-5"]))
    assert gf.tolist() == [pd.Timestamp(2024, 4, 7), pd.Timestamp(2024, 12, 31)]
    mixed = meta_dates(pd.Series(["13/04/2023", "04/13/2023", "2023-05-01"]))
    assert mixed.isna().tolist() == [True, True, False]


def test_a_wave_across_a_clock_change_is_dated_by_its_timestamps():
    """Google Forms writes the zone of each answer: a wave spanning a daylight-saving change
    holds 'GMT+1' and 'GMT+2'. Row-by-row parsing refused the mixed zones (ValueError) and
    the personas step failed. Names are now picked for the wave's year (1995): respondents
    aged 30 were born in 1965, so every persona gets a name of the 1960s."""
    rng = np.random.default_rng(3)
    n = 120
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "Timestamp": np.where(np.arange(n) % 2 == 0, "1995/03/20 10:00:00 AM GMT+1",
                              "1995/04/02 10:00:00 AM GMT+2"),
        "L_track": np.clip(np.round(rng.normal(np.where(seg == 0, 4.5, 1.8), 0.6)), 1, 5)
        .astype(int),
        "age": np.full(n, 30),
    })
    questions = [Question("Timestamp", "Timestamp", "meta", "ignore"),
                 Question("L_track", "I track every purchase", "likert", "segment", LIKERT5),
                 Question("age", "What is your age in years?", "numeric", "profile")]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index)
    personas = draft_personas(survey, labels, profile_segments(survey, labels),
                              segment_sizes(labels.to_numpy()))
    from personalab.personas import _survey_year, name_table

    assert _survey_year(survey) == 1995
    born_1960s = set(name_table().query("decade == 1960")["name"])
    assert all(p.first_name in born_1960s for p in personas)


def test_personas_pickled_before_the_quote_check_still_load(planted):
    """A wave's baseline holds personas pickled by an earlier version, without
    ``quotes_left_out``/``quotes_note``: they load with the fields' defaults and export."""
    import pickle

    p = _draft(planted)[0]
    state = dict(p.__dict__)
    for name in ("quotes_left_out", "quotes_note"):
        state.pop(name)
    old = object.__new__(type(p))
    old.__dict__.update(state)
    blob = pickle.dumps(old)
    loaded = pickle.loads(blob)
    assert loaded.quotes_left_out == [] and loaded.quotes_note is None
    assert personas_to_json([loaded])["personas"][0]["quotes_left_out"] == []


def test_size_and_stability_footnotes_read_by_what_they_measure(planted, tmp_path):
    """Card footnotes never show a bare table key such as 'size:0' to stakeholders."""
    survey, labels, profile, sizes = planted
    personas = _draft(planted, stability={0: 0.93, 1: 0.88, 2: 0.91})
    p0 = personas[0]
    [size_note] = [ev.footnote() for ev in p0.size_statement.evidence]
    # an unweighted survey: the size is no weighted share
    assert size_note == "segment sizes: 33.3% of respondents, n = 150"
    [stab_note] = [ev.footnote() for ev in p0.confidence_statement.evidence]
    assert stab_note == "stability: mean Jaccard 0.93 with itself over the refits"
    html = write_persona_exports(personas, tmp_path, profile=profile,
                                 codebook=survey.codebook)["html"].read_text()
    assert "size:0" not in html and "stability:0" not in html
    assert "segment sizes: 33.3% of respondents" in html


def test_a_numeric_question_of_calendar_years_reads_as_years():
    """DETE's card read 'DETE Start Date: 1,999 on average (1,994 overall)'."""
    rng = np.random.default_rng(3)
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "L_track": np.clip(np.round(rng.normal(np.where(seg == 0, 4.5, 2.0), 0.6)), 1, 5),
        "start": np.where(seg == 0, rng.integers(1995, 2004, n), rng.integers(1985, 1995, n)),
        "staff": np.where(seg == 0, rng.integers(1200, 1400, n), rng.integers(1000, 1200, n)),
    })
    survey = survey_from_frame(frame, [
        Question("L_track", "I track every purchase", "likert", "segment", LIKERT5),
        Question("start", "DETE Start Date", "numeric", "profile", facet="demographic"),
        Question("staff", "Staff at your site", "numeric", "profile", facet="demographic")])
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    personas = draft_personas(survey, labels, profile_segments(survey, labels),
                              segment_sizes(labels.to_numpy()))
    text = " ".join(st.text for p in personas for st in p.demographics)
    assert re.search(r"DETE Start Date: 199\d on average \(199\d overall\)", text), text
    assert "1,99" not in text
    assert re.search(r"Staff at your site: 1,\d{3} on average", text), text   # not a year


def test_a_segment_of_respondents_not_asked_a_block_is_low_confidence_not_a_persona(planted):
    """OSMI's self-employed (not asked the current-employer block) were two 'medium'
    personas; the run's per-segment skip flag now caps them at 'low', naming the block."""
    from types import SimpleNamespace

    from personalab.personas import apply_run_verdict

    flag = ("segment(s) 1: defined by not answering 6 questions ('Employer size', …): "
            "respondents who were not asked them (skip logic, split ballot) or skipped them, "
            "not a persona")
    verdict = SimpleNamespace(stable=True, verdict="Stable: 3 segments reproduce.",
                              flags=[flag], not_asked_segments=[1],
                              not_asked_flags={1: flag})
    personas = _draft(planted, stability={0: 0.97, 1: 0.97, 2: 0.97}, verdict=verdict)
    by_seg = {p.segment: p for p in personas}
    assert by_seg[1].confidence == "low"
    assert "Not a persona: segment(s) 1: defined by not answering 6 questions" in \
        by_seg[1].confidence_statement.text
    assert by_seg[0].confidence == by_seg[2].confidence == "high"
    # the report's re-capping keeps it so, and is idempotent
    plain = _draft(planted, stability={0: 0.97, 1: 0.97, 2: 0.97})
    apply_run_verdict(plain, verdict)
    apply_run_verdict(plain, verdict)
    assert [p.confidence for p in plain] == ["high", "low", "high"]
    assert plain[1].confidence_statement.text.count("Not a persona:") == 1


def test_a_cut_short_label_is_written_whole_in_persona_sentences():
    """Google Forms: 'say yes to "Do you use any e-commerce websites to…"' lost what the
    question asks; a cut label reads whole in prose, a battery item's label stays."""
    rng = np.random.default_rng(4)
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "sell": np.where(rng.random(n) < np.where(seg == 0, 0.8, 0.1), "Yes", "No"),
        "med": np.clip(np.round(rng.normal(np.where(seg == 0, 4.4, 1.8), 0.6)), 1, 5),
    })
    wording = "Do you use any e-commerce websites to sell your own products?"
    survey = survey_from_frame(frame, [
        Question("sell", wording, "single", "segment",
                 [ScaleOption(1, "Yes"), ScaleOption(2, "No")],
                 short="Do you use any e-commerce websites to\u2026"),
        Question("med", "How often do you buy these online? [Medicines]", "likert", "segment",
                 [ScaleOption(i + 1, lab) for i, lab in
                  enumerate(["Never", "Rarely", "Sometimes", "Often", "Always"])],
                 short="Medicines")])
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    personas = draft_personas(survey, labels, profile_segments(survey, labels),
                              segment_sizes(labels.to_numpy()))
    text = " ".join(st.text for p in personas for st in p.distinctive)
    assert f"“{wording}”" in text and "websites to\u2026" not in text
    assert "“Medicines”" in text and "[Medicines]" not in text
