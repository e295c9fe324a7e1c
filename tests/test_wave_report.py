"""Names, sizes, counts, drift coverage and colours of a wave comparison, on small synthetic
comparisons with known answers (no pipeline run: every table is written by hand).

The baseline ("2012") has personas Mary (0), Linda (1) and Nora (2); this wave ("2013") is
segmented on its own into segments 0, 1 and 2.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from personalab.artifacts import ArtifactStore
from personalab.personas import Evidence, PersonaDraft, Statement
from personalab.plotting import segment_colors
from personalab.wave_report import changes_section
from personalab.wave_step import renamed_personas
from personalab.waves import CodebookDiff, WaveComparison

BASE_WAVE, NEW_WAVE = "2012", "2013"


def _persona(seg, first, descriptor, n, share):
    name = f"{descriptor} {first}"
    size = {"n": n, "share": share, "weighted_share": share, "ci_low": share - 0.04,
            "ci_high": share + 0.04}
    ev = Evidence(kind="size", ref=f"size:{seg}", value=share, n=n)
    size_st = Statement(f"{n} respondents, {share:.0%} of the sample (95% CI "
                        f"{share - 0.04:.0%}–{share + 0.04:.0%}).", [ev])
    return PersonaDraft(
        segment=seg, name=name, first_name=first, descriptor=descriptor,
        headline=Statement(f"{share:.0%} of respondents.", [ev]), size=size,
        size_statement=size_st, confidence="medium",
        confidence_statement=Statement("Medium confidence."),
        narrative=[Statement(f"People like {first} rate pay higher than most.")])


BASELINE = [_persona(0, "Mary", "Careful", 244, 0.69), _persona(1, "Linda", "Loyal", 76, 0.22),
            _persona(2, "Nora", "Nervous", 33, 0.09)]

SIZES = pd.DataFrame({
    "segment": [0, 1, 2, "emerging"], "persona": ["Careful Mary", "Loyal Linda",
                                                  "Nervous Nora", "emerging"],
    "n_baseline": [244, 76, 33, 0], "n_new": [227, 58, 28, 65],
    "share_baseline": [0.69, 0.215, 0.093, 0.0], "share_new": [0.60, 0.153, 0.074, 0.172],
    "shift": [-9.0, -6.2, -1.9, 17.2], "ci_low": [-16.0, -11.8, -6.0, 13.4],
    "ci_high": [-2.2, -0.6, 2.1, 21.0], "p_adjusted": [0.02, 0.04, 0.34, np.nan],
    "significant": [True, True, False, False]})


def _comparison(correspondence, *, assignments=None, drift=None, diff_rows=None,
                min_membership=0.5):
    if assignments is None:
        assignments = pd.DataFrame({"segment": [0, 1], "membership": [0.9, 0.9],
                                    "candidate": [-1, -1]})
    if drift is None:
        drift = pd.DataFrame({"segment": [0], "persona": ["Careful Mary"],
                              "question": ["Q1"], "question_text": ["Pay"], "variable": ["Q1"],
                              "level": [None], "measure": ["mean"], "baseline": [3.0],
                              "new": [3.1], "p_value": [0.5], "p_adjusted": [0.5],
                              "effect_size": [0.1], "significant": [False]})
    if diff_rows is None:
        diff_rows = pd.DataFrame({"baseline_id": ["Q1"], "new_id": ["Q1"], "status": ["same"],
                                  "type": ["likert"], "role": ["segment"],
                                  "segment_input": [True], "similarity": [np.nan],
                                  "detail": [""], "fix": [""]})
    diff = CodebookDiff(rows=diff_rows, mapping={}, scale_mapping={}, suggested_mapping={},
                        baseline=None, new=None)
    return WaveComparison(
        assignments=assignments, sizes=SIZES.copy(), drift=drift,
        theme_shifts=pd.DataFrame(), candidates=pd.DataFrame(
            columns=["candidate", "n", "weighted_share", "from_personas"]),
        candidate_profiles=None, correspondence=correspondence, refit_model=None,
        codebook_diff=diff, persona_names={p.segment: p.name for p in BASELINE},
        params={"baseline_wave": BASE_WAVE, "new_wave": NEW_WAVE,
                "min_membership": min_membership})


def _corr(rows):
    return pd.DataFrame(rows, columns=["refit_segment", "n", "matched_segment", "persona",
                                       "overlap_share", "composition", "kind"])


# ----------------------------------------------------------------------------- names
def test_a_segment_that_is_a_mix_of_two_personas_keeps_its_own_name():
    """Segment 1 is 55% Linda, 45% Mary (kind "merge"; the matching still pairs it with
    Linda): it is not Linda, so it keeps its drafted name and its card says what it
    resembles. The old code named it "Loyal Linda"."""
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69), _persona(1, "Karen", "Keen", 118, 0.31)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%, Nervous Nora 10%",
                   "same"),
                  (1, 118, 1, "Loyal Linda", 0.55, "Loyal Linda 55%, Careful Mary 45%",
                   "merge")])
    out = renamed_personas(now, _comparison(corr), BASELINE)
    assert [p.name for p in out] == ["Careful Mary", "Keen Karen"]
    assert out[1].first_name == "Karen" and out[1].descriptor == "Keen"
    assert "Resembles 2012's Loyal Linda (55%) and Careful Mary (45%)." in \
        out[1].size_statement.text
    assert "Not one of 2012's personas carried over." in out[1].size_statement.text


def test_a_carried_persona_card_states_both_counts_for_what_they_are():
    """The card of the segment carried over as Mary counts this wave's own segment (260,
    69%) and says how many respondents the baseline model places into Mary (227, 60.0%)
    against 2012 (69.0%), the numbers of the size table."""
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same")])
    p = renamed_personas(now, _comparison(corr), BASELINE)[0]
    text = p.size_statement.text
    assert text.startswith("260 respondents, 69% of the sample (95% CI 65%–73%) in this "
                           "wave's own segmentation.")
    assert ("Placed into 2012's personas by the baseline model, 227 respondents (60.0%) "
            "fit Careful Mary, against 69.0% in 2012") in text
    refs = [ev.ref for ev in p.size_statement.evidence]
    assert refs == ["size:0", "wave_sizes.csv, segment 0"]
    # the footnote says what the number is (was the generic "wave_sizes.csv, segment 0;
    # n = 227"); the export keeps the table key
    assert p.size_statement.evidence[1].footnote() == \
        "placed into Careful Mary by the baseline model: 60.0% (n = 227)"
    assert p.size_statement.evidence[1].ref == "wave_sizes.csv, segment 0"
    assert now[0].size_statement.text.endswith("(95% CI 65%–73%).")     # input untouched


def test_wave_size_evidence_footnote_reads_as_the_placed_share():
    from personalab.personas import Evidence

    ev = Evidence(kind="wave_size", ref="wave_sizes.csv, segment 1", value=0.1534, n=58,
                  label="Loyal Linda")
    assert ev.footnote() == "placed into Loyal Linda by the baseline model: 15.3% (n = 58)"
    # evidence pickled without a label names the table row instead
    ev = Evidence(kind="wave_size", ref="wave_sizes.csv, segment 1", value=0.1534, n=1234)
    assert ev.footnote() == ("placed into the persona of wave_sizes.csv, segment 1 by the "
                             "baseline model: 15.3% (n = 1,234)")


def test_a_carried_persona_card_says_how_many_placed_there_are_emerging_instead():
    """The model would place 12 more respondents into Mary, but they are in an emerging
    segment: they fit no persona, so the placed count (227) leaves them out, and the card
    says so."""
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same")])
    cmp = _comparison(corr)
    cmp.sizes["n_emerging"] = [12, 0, 0, 65]
    text = renamed_personas(now, cmp, BASELINE)[0].size_statement.text
    assert ("227 respondents (60.0%) fit Careful Mary (not counting 12 more it places there "
            "who are in an emerging segment: they fit no persona), against 69.0% in 2012") \
        in text
    # run again on its own output: said once
    again = renamed_personas(renamed_personas(now, cmp, BASELINE), cmp, BASELINE)[0]
    assert again.size_statement.text == text


def test_no_segment_that_is_not_carried_keeps_a_baseline_persona_name():
    """Segment 0 (kind "new") was drafted "Careful Mary", the name of a baseline persona no
    segment carries; segment 2 ("split") was drafted with Linda's first name. Neither may
    read as last wave's persona: each gets another first name (same decade and sex as the
    clashing one), and its narrative follows."""
    now = [_persona(0, "Mary", "Careful", 100, 0.3), _persona(1, "Paul", "Plain", 150, 0.45),
           _persona(2, "Linda", "Lively", 80, 0.25)]
    corr = _corr([(0, 100, -1, "", 0.0, "emerging 70%, Careful Mary 30%", "new"),
                  (1, 150, 1, "Loyal Linda", 0.8, "Loyal Linda 80%, Careful Mary 20%",
                   "same"),
                  (2, 80, 2, "Nervous Nora", 0.6, "Nervous Nora 60%, Loyal Linda 40%",
                   "split")])
    out = renamed_personas(now, _comparison(corr), BASELINE)
    assert out[1].name == "Loyal Linda"
    base_names = {p.name for p in BASELINE}
    base_firsts = {p.first_name for p in BASELINE}
    for p, before in ((out[0], now[0]), (out[2], now[2])):
        assert p.name not in base_names and p.first_name not in base_firsts, p.name
        assert p.descriptor == before.descriptor
        assert p.name == f"{p.descriptor} {p.first_name}"
        assert p.narrative[0].text == f"People like {p.first_name} rate pay higher than most."
    assert len({p.first_name for p in out}) == 3
    assert "Of its respondents, 70% in an emerging segment" not in out[0].size_statement.text
    assert "Resembles 2012's Careful Mary (30%); 70% in an emerging segment." in \
        out[0].size_statement.text


def test_a_dict_baseline_name_clash_without_first_name_is_marked():
    now = [_persona(0, "Mary", "Careful", 100, 0.3)]
    now[0].first_name = ""
    corr = _corr([(0, 100, -1, "", 0.0, "emerging 70%, Careful Mary 30%", "new")])
    out = renamed_personas(now, _comparison(corr), {0: "Careful Mary"})
    assert out[0].name == "Careful Mary (new this wave)"


def test_running_the_wave_step_again_changes_nothing():
    """The wave step rewrites the persona artifact; run again on its output, it gives the
    same cards (no size sentence said twice, no second evidence, no new name)."""
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69), _persona(1, "Linda", "Keen", 118, 0.31)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same"),
                  (1, 118, -1, "", 0.0, "Loyal Linda 55%, Careful Mary 45%", "mixed")])
    cmp = _comparison(corr)
    once = renamed_personas(now, cmp, BASELINE)
    assert renamed_personas(once, cmp, BASELINE) == once
    assert once[1].first_name != "Linda"


# ----------------------------------------------------------------------------- note
def test_segmentation_note_lists_only_real_differences():
    """Two segments the same as Mary and Linda, a refused segment made of the refused
    baseline segment: nothing differs. A merge is named, and Nora (no segment of her own)
    too."""
    from personalab.wave_step import segmentation_note

    names = {0: "Careful Mary", 1: "Loyal Linda", 2: "Segment 2 (not a persona)"}
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same"),
                  (1, 118, 1, "Loyal Linda", 0.8, "Loyal Linda 80%", "same"),
                  (2, 30, 2, "Segment 2 (not a persona)", 0.7,
                   "Segment 2 (not a persona) 70%, Careful Mary 30%", "merge")])
    assert segmentation_note(corr, names, refused_now={2}, baseline_wave="2012") is None
    # a refused segment made of personas' respondents is not a persona difference either
    corr.loc[2, "composition"], corr.loc[2, "kind"] = "Careful Mary 55%, Loyal Linda 45%", \
        "mixed"
    assert segmentation_note(corr, names, refused_now={2}, baseline_wave="2012") is None
    names[2] = "Nervous Nora"
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same"),
                  (1, 118, 1, "Loyal Linda", 0.55, "Loyal Linda 55%, Nervous Nora 45%",
                   "merge")])
    note = segmentation_note(corr, names, baseline_wave="2012", names_now={1: "Keen Karen"})
    assert note == ("This wave's own segmentation differs from the 2012 personas: segment 1 "
                    "(Keen Karen) is a merge of personas (made of Loyal Linda 55%, Nervous "
                    "Nora 45%); no segment of this wave is the same persona as Loyal Linda "
                    "or Nervous Nora.")


# ----------------------------------------------------------------------------- report
@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path)


def _lead(html):
    return re.search(r"<p class='lead'>(.*?)</p>", html, re.S).group(1)


def test_opening_sentence_counts_are_disjoint_and_add_up(store):
    """10 respondents: 2 in an emerging segment (one of them also weak), 1 placed in no
    persona, 3 below the 0.6 threshold, 4 above it."""
    a = pd.DataFrame({"segment": [0, 0, 1, 1, 0, 1, 0, -1, 1, 0],
                      "membership": [0.9, 0.8, 0.95, 0.7, 0.55, 0.52, 0.59, 0.0, 0.4, 0.9],
                      "candidate": [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0]})
    corr = _corr([(0, 5, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same")])
    cmp = _comparison(corr, assignments=a, min_membership=0.6)
    cmp.candidates = pd.DataFrame({"candidate": [0], "n": [2], "weighted_share": [0.2],
                                   "from_personas": ["Loyal Linda 50%, Careful Mary 50%"]})
    store.save("wave_comparison", cmp)
    lead = _lead(str(changes_section(store).html))
    assert ("4 fit a persona well (membership ≥ 60%), 3 fit one only weakly (below 60%), "
            "1 fit none, and 2 are in 1 emerging segment that no baseline persona "
            "describes.") in lead
    assert "of them strongly" not in lead


def test_opening_sentence_says_a_threshold_of_one_over_k_flags_nobody(store):
    """Two personas (plus emerging) and a 50% threshold: the top membership of two is never
    below 50%, so the sentence says the weak count cannot be anything but 0."""
    sizes = SIZES[SIZES["segment"].isin([0, 1])].reset_index(drop=True)
    cmp = _comparison(_corr([]), min_membership=0.5)
    cmp.sizes = sizes
    store.save("wave_comparison", cmp)
    lead = _lead(str(changes_section(store).html))
    assert ("2 fit a persona well (membership ≥ 50%), 0 fit one only weakly (below 50%), "
            "0 fit none, and none is in an emerging segment.") in lead
    assert ("With 2 personas a respondent's strongest membership is never below 50%, so a "
            "50% threshold cannot flag a weak fit.") in lead


def test_questionnaire_table_says_which_questions_are_in_the_drift_tests(store):
    diff_rows = pd.DataFrame({
        "baseline_id": ["Q1", "Position", "ID", "Year", None, "CESSATION YEAR", "Grade"],
        "new_id": ["Q1", "Position", "ID", "Year", "Q9", "CESSATION YEAR", "Grade"],
        "status": ["same", "changed_scale", "same", "same", "added", "same",
                   "changed_scale"],
        "type": ["likert", "single", "id", "numeric", "likert", "numeric", "single"],
        "role": ["segment", "profile", "ignore", "profile", "profile", "profile", "profile"],
        "segment_input": [True, False, False, False, False, False, False],
        "similarity": [np.nan] * 7,
        "detail": ["", "scale changed: new answers 'Therapist'", "", "", "new", "",
                   "scale changed: answers reordered"],
        "fix": [""] * 7})
    drift = pd.DataFrame({
        "segment": [0, 0, 1], "persona": ["Careful Mary"] * 2 + ["Loyal Linda"],
        "question": ["Q1", "Year", "Year"], "question_text": ["Pay", "Year", "Year"],
        "variable": ["Q1", "Year", "Year"], "level": [None] * 3, "measure": ["mean"] * 3,
        "baseline": [3.0, 2012.0, 2012.0], "new": [3.1, 2013.0, 2013.0],
        "p_value": [0.5, np.nan, np.nan], "p_adjusted": [0.5, np.nan, np.nan],
        "effect_size": [0.1, np.nan, np.nan], "significant": [False] * 3})
    cmp = _comparison(_corr([]), drift=drift, diff_rows=diff_rows)
    # the column reads the comparison's record of what drift left out, not its notes'
    # wording (the old code searched the notes for repr(question): nothing here to find)
    cmp.params["drift_left_out"] = {
        "CESSATION YEAR": "one answer for everyone in each wave (2011 in 2012, 2012 in 2013)"}
    cmp.notes = ["Left out of the drift tests: CESSATION YEAR, as one answer per wave."]
    store.save("wave_comparison", cmp)
    html = str(changes_section(store).html)
    q = html[html.index("<h3>Questionnaire</h3>"):html.index("<h3>Size shift</h3>")]
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"<tr>\s*<td>([^<]*)</td>.*?<td>([^<]*)</td>\s*</tr>", q, re.S)}
    assert "in drift tests" in q
    assert rows["Position"].startswith("no: an answer not in the baseline codebook")
    assert rows["ID"] == "no: not a profile question (id, ignore)"
    assert rows["Year"].startswith("no: no test possible")
    assert rows["CESSATION YEAR"] == ("no: one answer for everyone in each wave (2011 in "
                                      "2012, 2012 in 2013), so no variation within a wave "
                                      "to test a change against")
    assert rows["Grade"] == "no: its answer scale changed; give a scale_mapping to test it"
    assert "Q1" not in rows          # unchanged and tested: not listed
    assert "no: not in the baseline" in q       # the added question


def test_size_table_gives_a_carried_persona_card_size_beside_the_placed_count(store):
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same")])
    cmp = _comparison(corr)
    store.save("personas", renamed_personas(now, cmp, BASELINE))
    store.save("wave_comparison", cmp)
    html = str(changes_section(store).html)
    table = html[html.index("<h3>Size shift</h3>"):html.index("<h3>Drift")]
    assert "n placed (2013)" in table and "2013's own segment (persona card)" in table
    mary = table[table.index("Careful Mary</td>"):]
    mary = mary[:mary.index("</tr>")]
    assert "<td>227</td>" in mary and "260 (69.0%), segment 0" in mary
    assert "none: not carried over" in table        # Linda and Nora have no segment


def test_a_carried_persona_keeps_its_colour_on_the_whole_page(store):
    """This wave's segment 0 is Linda (baseline 1) and segment 1 is Mary (baseline 0):
    Linda is drawn in segment 0's colour in the size chart and tables, as on her card;
    Nora (baseline 2, not carried) takes a colour none of this wave's segments has. The
    old code drew Linda in segment 1's colour, Mary's card colour."""
    now = [_persona(0, "Sarah", "Sunny", 120, 0.3), _persona(1, "Karen", "Keen", 200, 0.5),
           _persona(2, "Tina", "Tidy", 80, 0.2)]
    corr = _corr([(0, 120, 1, "Loyal Linda", 0.8, "Loyal Linda 80%", "same"),
                  (1, 200, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same"),
                  (2, 80, -1, "", 0.0, "emerging 60%, Nervous Nora 40%", "new")])
    cmp = _comparison(corr)
    store.save("personas", renamed_personas(now, cmp, BASELINE))
    store.save("labels", pd.Series([0, 1, 2, 1]))
    store.save("wave_comparison", cmp)
    html = str(changes_section(store).html)
    card = segment_colors([0, 1, 2])
    m = re.search(r'Plotly\.newPlot\(\s*"fig-size-shift",\s*', html)
    fig, _ = json.JSONDecoder().raw_decode(html, m.end())
    lines = {t["y"][0]: t["line"]["color"] for t in fig if t.get("mode") == "lines"}
    assert lines["Loyal Linda"] == card[0] and lines["Careful Mary"] == card[1]
    assert lines["Nervous Nora"] not in card.values()
    assert f"style='background:{card[0]}'></span>Loyal Linda" in html


def test_personas_now_says_what_a_segment_not_carried_resembles(store):
    """A "mixed" segment (Jaccard 0.49 with Linda's placed respondents) is listed under its
    own name, carries no baseline name, and its row says what it resembles."""
    now = [_persona(0, "Sarah", "Sunny", 260, 0.69), _persona(1, "Karen", "Keen", 118, 0.31)]
    corr = _corr([(0, 260, 0, "Careful Mary", 0.9, "Careful Mary 90%", "same"),
                  (1, 118, -1, "", 0.49, "Loyal Linda 49%, Careful Mary 48%", "mixed")])
    corr["closest"], corr["jaccard"] = ["Careful Mary", "Loyal Linda"], [0.74, 0.49]
    cmp = _comparison(corr)
    store.save("personas", renamed_personas(now, cmp, BASELINE))
    store.save("wave_comparison", cmp)
    html = str(changes_section(store).html)
    table = html[html.index("<h3>Personas now</h3>"):]
    karen = table[table.index("Keen Karen</td>"):]
    karen = karen[:karen.index("</tr>")]
    cells = re.findall(r"<td>([^<]*)</td>", karen)
    assert cells == ["118", "mixed", "–", "Loyal Linda (0.49)",
                     "Resembles 2012's Loyal Linda (49%) and Careful Mary (48%)."]


def test_opening_sentence_says_a_defaulted_weak_line_is_set_on_the_baseline(store):
    """The default weak-fit line is the baseline's own 10% membership quantile: about 10%
    of the baseline fall below it by construction, so the sentence says so (a weak count
    of about 10% in the new wave is no finding)."""
    cmp = _comparison(_corr([]), min_membership=0.58)
    cmp.params["min_membership_default"] = True
    store.save("wave_comparison", cmp)
    lead = _lead(str(changes_section(store).html))
    assert "fit one only weakly (below 58%, a line about 10% of " in lead
    assert "own respondents fall below)" in lead
    cmp.params["min_membership_default"] = False
    store.save("wave_comparison", cmp)
    assert "a line about" not in _lead(str(changes_section(store).html))
