"""The report agrees with the run's verdict: capped confidence badges, a loud warning when
the segments are a split on one input or on a missing-answer pattern, and a sentence on
how the inputs were scaled."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from _persona_drafts import artifact_store, persona_draft
from _planted_survey import ReportSurvey
from personalab.personas import PersonaDraft, Statement
from personalab.report import guard_warnings, personas_section, scaling_sentence

NO_STABLE = ("No stable segments: mean ARI 0.78 is below 0.90 over 10 refits on random 80% "
             "subsamples. Segment(s) 0 do reproduce (Jaccard >= 0.75) and may be described on "
             "their own, as exploratory findings.")


def _persona(seg: int, jaccard: float) -> PersonaDraft:
    return persona_draft(seg, f"Ann{seg}", jaccard, share=0.5, ci=(0.4, 0.6),
                         text="Agree more than most that “x” (mean 4.1 vs 3.0 of 5).")


_store = artifact_store


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


# ------------------------------------------------------- persona names, colours and labels
LONG_Q = ("To what extent do you agree that your employer takes mental health as seriously "
          "as physical health?")
WHY_Q = "Why or why not would you bring up a mental health issue with a potential employer?"


def _figures(html: str) -> dict:
    """{div id: (data, layout)} of every plotly figure in a section's HTML."""
    import json

    out, dec = {}, json.JSONDecoder()
    for m in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        data, end = dec.raw_decode(html, m.end())
        layout, _ = dec.raw_decode(html, html.index("{", end))
        out[m.group(1)] = (data, layout)
    return out


@pytest.fixture
def named_run(tmp_path):
    """A run with two personas (segments 0 and 2), long question wordings with short
    labels, theme shares and a stability result."""
    import pandas as pd

    from personalab.codebook import Codebook, Question

    codebook = Codebook(questions=[
        Question(id="mh_serious", type="likert", text=LONG_Q, short="Employer takes MH seriously",
                 role="segment"),
        Question(id="why_not", type="text", text=WHY_Q, short="Why (not) tell an employer")])
    rows = []
    for seg, sign in ((0, 1), (2, -1), (-1, 0)):
        rows.append(dict(segment=seg, question="mh_serious", question_text=LONG_Q,
                         variable="mh_serious", level=None, type="likert", measure="mean",
                         value=3.0 + sign, total=3.0, index=100 + 30 * sign,
                         significant=sign != 0, p_adjusted=0.001 if sign else 0.9,
                         effect_size=0.9 * sign))
    profile = pd.DataFrame(rows)
    shares = pd.DataFrame({"question": "why_not", "segment": [0, 0, 0, 2, 2, 2, "all", "all"],
                           "theme": ["stigma", "career", "cost", "stigma", "career", "cost",
                                     "stigma", "career"],
                           "share": [0.6, 0.1, 0.0, 0.2, 0.5, 0.0, 0.4, 0.3]})
    segments = pd.DataFrame({"n": [50, 50], "share": [0.5, 0.5], "jaccard_mean": [0.95, 0.7],
                             "jaccard_min": [0.9, 0.5], "unstable": [False, False]},
                            index=pd.Index([0, 2], name="segment"))
    stab = SimpleNamespace(stable=True, verdict="Stable: 2 segments reproduce.", flags=[],
                           dominated_by=None, segments=segments)
    labels = pd.Series([0] * 50 + [2] * 50 + [-1] * 5,
                       index=[f"R{i}" for i in range(105)], name="segment")
    from personalab.personas import Quote

    ann0, ann2 = _persona(0, 0.95), _persona(2, 0.95)
    ann0.quotes = [Quote(respondent_id="R1", question="why_not", text="Stigma, mostly.")]
    return _store(tmp_path, personas=[ann0, ann2], labels=labels,
                  profile=profile, survey=ReportSurvey(codebook, labels.index),
                  theme_shares=shares, theme_info={"stigma": {"label": "Fear of stigma"}},
                  stability=stab)


def test_report_names_personas_in_one_colour_and_questions_by_short_label(named_run):
    from personalab.plotting import segment_colors
    from personalab.report import methods_section, profiles_section, themes_section

    colors = segment_colors([0, 2])
    profiles = str(profiles_section(named_run).html)
    themes = str(themes_section(named_run).html)
    cards = str(personas_section(named_run).html)
    methods = str(methods_section(named_run, None).html)

    # profile heat map: rows by short label (full wording on hover), columns by persona
    # name, each with a square in the persona's colour
    data, layout = _figures(profiles)["fig-profile-heatmap"]
    # (a segmentation input, by the codebook's role: marked, as the table's note says)
    assert data[0]["y"] == ["◆ Employer takes MH seriously"]
    assert LONG_Q in data[0]["hovertext"][0][0].replace("<br>", " ")
    assert data[0]["x"] == ["Ann0", "Ann2", "unassigned"]
    ticks = dict(zip(layout["xaxis"]["tickvals"], layout["xaxis"]["ticktext"]))
    for seg in (0, 2):
        assert f"color:{colors[seg]}" in ticks[f"Ann{seg}"]
    # top traits: persona names with their colour, short labels with the wording as title
    for seg in (0, 2):
        assert (f"<span class='swatch' style='background:{colors[seg]}'></span>Ann{seg}"
                in profiles)
    assert f'<span title="{LONG_Q}">Employer takes MH seriously</span>' in profiles
    assert ">Segment 0<" not in profiles and ">mh_serious<" not in profiles

    # theme chart: one bar trace per persona, by name, in the same colour; titled by the
    # short label with the wording under it
    data, layout = _figures(themes)["fig-themes-0"]
    assert {t["name"]: t["marker"]["color"] for t in data} == {"Ann0": colors[0],
                                                                "Ann2": colors[2]}
    assert layout["title"]["text"].startswith("Why (not) tell an employer<br><sup>")
    assert "why_not" not in layout["title"]["text"]
    assert data[0]["x"] == ["career", "Fear of stigma"]   # "cost": nobody mentioned it

    # a quote names its question by the short label (wording on hover), not the column
    assert (f'<span class="question" title="{WHY_Q}">Why (not) tell an employer</span>'
            in cards)
    # persona cards carry the same colour; the methods' reproducibility table names them
    for seg in (0, 2):
        card = cards[cards.index(f'id="persona-{seg}"'):]
        assert card.index(f"border-top:6px solid {colors[seg]}") < card.index(f"Ann{seg}")
        assert (f"<span class='swatch' style='background:{colors[seg]}'></span>Ann{seg}"
                in methods)
    assert colors[0] != colors[2]


class _Diff:
    def table(self):
        import pandas as pd

        return pd.DataFrame({"baseline_id": ["mh_serious"], "new_id": ["mh_serious"],
                             "status": ["same"], "segment_input": [True], "detail": [""]})


class _Comparison:
    """The parts of a WaveComparison that the "What changed" section reads."""

    def __init__(self):
        import pandas as pd

        self.params = {"baseline_wave": "2016", "new_wave": "2017", "min_membership": 0.5}
        self.assignments = pd.DataFrame({"segment": [0, 2, 2, -1], "membership": [0.9] * 4,
                                         "candidate": [-1, -1, -1, -1]})
        self.notes = []
        self.codebook_diff = _Diff()
        self.sizes = pd.DataFrame({
            "segment": [0, 2, "unassigned"], "persona": ["Ann0", "Ann2", "unassigned"],
            "share_baseline": [0.5, 0.45, 0.05], "share_new": [0.3, 0.65, 0.05],
            "shift": [-20.0, 20.0, 0.0], "ci_low": [-30.0, 10.0, -2.0],
            "ci_high": [-10.0, 30.0, 2.0], "p_adjusted": [0.001, 0.001, 0.9],
            "significant": [True, True, False]})
        self.drift = pd.DataFrame({
            "segment": [2], "persona": ["Ann2"], "question": ["mh_serious"],
            "variable": ["mh_serious"], "question_text": [LONG_Q], "level": [None], "measure": ["mean"],
            "baseline": [2.0], "new": [3.0], "effect_size": [0.8], "p_adjusted": [0.001],
            "significant": [True]})
        self.theme_shifts = pd.DataFrame({
            "segment": [0], "persona": ["Ann0"], "question": ["why_not"],
            "theme": ["stigma"], "share_baseline": [0.6], "share_new": [0.3],
            "p_adjusted": [0.01], "significant": [True]})
        self.candidates = pd.DataFrame(columns=["candidate", "n", "weighted_share",
                                                "from_personas"])
        self.candidate_profiles = None
        self.correspondence = pd.DataFrame({
            "refit_segment": [0, 2], "n": [30, 65], "matched_segment": [0, 2],
            "persona": ["Ann0", "Ann2"], "overlap_share": [0.9, 0.9],
            "composition": ["Ann0 90%", "Ann2 90%"], "kind": ["same", "same"]})

    def top_drift(self, n=5, *, significant_only=True):
        return self.drift.head(n)


def test_wave_changes_name_personas_in_their_colour_and_questions_by_short_label(named_run):
    from personalab.plotting import segment_colors
    from personalab.wave_report import changes_section

    named_run.save("wave_comparison", _Comparison())
    html = str(changes_section(named_run).html)
    colors = segment_colors([0, 2, "unassigned"])
    # size shift: each persona's line and axis square in its colour
    data, layout = _figures(html)["fig-size-shift"]
    lines = {t["y"][0]: t["line"]["color"] for t in data if t.get("mode") == "lines"}
    assert lines["Ann0"] == colors[0] and lines["Ann2"] == colors[2]
    ticks = dict(zip(layout["yaxis"]["tickvals"], layout["yaxis"]["ticktext"]))
    assert f"color:{colors[2]}" in ticks["Ann2"] and f"color:{colors[0]}" in ticks["Ann0"]
    # the drift chart draws each persona in its colour too (Ann2 moved)
    data, _ = _figures(html)["fig-drift"]
    assert {t["marker"]["color"] for t in data if t.get("type") == "bar"} >= {colors[2]}
    # tables: persona names with their square, questions by short label with the wording
    # on hover (drift) and the theme question by its short label, not its id
    for seg in (0, 2):
        assert f"<span class='swatch' style='background:{colors[seg]}'></span>Ann{seg}" in html
    assert f'<span title="{LONG_Q}">Employer takes MH seriously</span>' in html
    assert f'<span title="{WHY_Q}">Why (not) tell an employer</span>' in html
    assert ">why_not<" not in html and LONG_Q + "<" not in html


def test_methods_name_segmentation_questions_by_short_label(named_run):
    from personalab.report import methods_section, questions_section

    methods = str(methods_section(named_run, None).html)
    assert f'>1: <span title="{LONG_Q}">Employer takes MH seriously</span><' in methods
    assert "&lt;span" not in methods and "1: mh_serious" not in methods
    questions = str(questions_section(named_run).html)
    assert f'<td><span title="{LONG_Q}">Employer takes MH seriously</span></td>' in questions
    assert "<td>mh_serious</td>" in questions    # the export column, beside the label


def test_golden_questions_notes_reach_the_report(named_run):
    """A segment left out of the golden questions' cross-validation is said so, escaped."""
    from types import SimpleNamespace

    from personalab.report import profiles_section

    note = "Segment 3 (1 respondent) is left out of the <cross-validation>."
    named_run.save("golden", SimpleNamespace(questions_=["mh_serious"], accuracy_=0.9,
                                             notes_=[note]))
    html = str(profiles_section(named_run).html)
    assert "Golden questions" in html
    assert "Segment 3 (1 respondent) is left out of the &lt;cross-validation&gt;." in html


# ------------------------------------------------------------- second real-data audit
TYPEFORM_REASON = ("one input alone explains the segments: 'q2' reproduces 96% of them "
                   "(balanced accuracy), so they are bands of one answer, not personas")


def test_the_banner_says_each_reason_once(tmp_path):
    """OSMI, Typeform, projoint, womens: the "Read with care" banner gave each reason twice,
    once from the stability check and once in the sweep's "The closest setting is flagged:"
    line (which joins its reasons with "; ")."""
    a = "segment(s) 3, 5: defined by not answering 13 questions ('Q1', 'Q2'; … 10 more)"
    b = "segment(s) 4: defined by not answering 10 questions"
    c = "segment(s) 6: defined by not answering 7 questions"
    stab = SimpleNamespace(stable=False, verdict=NO_STABLE, dominated_by=None, flags=[a, b])
    rec = SimpleNamespace(stable=False, verdict=NO_STABLE, reasons=[],
                          flags=[f"The closest setting is flagged: {a}; {b}."])
    warns = guard_warnings(_store(tmp_path / "osmi", stability=stab, recommendation=rec))
    assert warns == [f"The segments are flagged: {a}.", f"The segments are flagged: {b}."]
    # Typeform: one reason, from both
    stab = SimpleNamespace(stable=False, verdict=NO_STABLE + f" Besides, {TYPEFORM_REASON}.",
                           dominated_by="q2", flags=[TYPEFORM_REASON])
    rec = SimpleNamespace(stable=False, verdict=NO_STABLE, reasons=[],
                          flags=[f"The closest setting is flagged: {TYPEFORM_REASON}."])
    store = _store(tmp_path / "tf", stability=stab, recommendation=rec)
    assert guard_warnings(store) == [f"The segments are flagged: {TYPEFORM_REASON}."]
    html = str(personas_section(_store(tmp_path / "tf2", stability=stab, recommendation=rec,
                                       personas=[_persona(0, 0.9)])).html)
    banner = html.split("<div class='alert'", 1)[1].split("</div>", 1)[0]
    assert banner.count("bands of one") == 1
    # a reason only the sweep gives is kept, alone
    stab = SimpleNamespace(stable=False, verdict=NO_STABLE, dominated_by=None, flags=[a])
    rec = SimpleNamespace(stable=False, verdict=NO_STABLE, reasons=[],
                          flags=[f"The closest setting is flagged: {a}; {c}."])
    assert guard_warnings(_store(tmp_path / "new", stability=stab, recommendation=rec)) == [
        f"The segments are flagged: {a}.", f"The closest setting is flagged: {c}."]


def test_a_guard_takes_back_describing_reproducing_segments_on_their_own():
    """Typeform: "Segment(s) 0, 2 do reproduce (Jaccard >= 0.75) and may be described on
    their own, as exploratory findings. Besides, one input alone explains the segments …
    not personas" while the summary said no segment is a persona."""
    from personalab.diagnostics import _flag_result

    verdict = ("No stable segments: mean ARI 0.56 is below 0.90 over 10 refits on random 80% "
               "subsamples; segment(s) 1 dissolve on resampling (Jaccard < 0.6). Segment(s) "
               "0, 2 do reproduce (Jaccard >= 0.75) and may be described on their own, as "
               "exploratory findings.")
    res = SimpleNamespace(verdict=verdict, stable=False, flags=[], dominated_by=None,
                          mean_ari=0.56)
    _flag_result(res, SimpleNamespace(reason=TYPEFORM_REASON, dominated_by="q2"))
    assert res.verdict.startswith("No stable segments: mean ARI 0.56")
    assert "described on their own" not in res.verdict
    assert "Segment(s) 0, 2 do reproduce (Jaccard >= 0.75). Besides, one input alone " \
           "explains the segments" in res.verdict
    assert res.verdict.endswith("not personas.")
    assert res.flags == [TYPEFORM_REASON] and res.dominated_by == "q2" and not res.stable
    # a stable solution the guard refuses still reads "Not personas: …"
    res = SimpleNamespace(verdict="Stable: 3 segments reproduce.", stable=True, flags=[],
                          dominated_by=None, mean_ari=0.97)
    _flag_result(res, SimpleNamespace(reason=TYPEFORM_REASON, dominated_by="q2"))
    assert res.verdict == ("Not personas: the segments reproduce on resampling (mean ARI "
                           f"0.97) but {TYPEFORM_REASON}.")


OSMI_VERDICT = ("No stable segments: mean ARI 0.76 is below 0.90 over 10 refits on random 80% "
                "subsamples; segment(s) 2 dissolve on resampling (Jaccard < 0.6). Segment(s) "
                "0, 3, 4, 5 do reproduce (Jaccard >= 0.75) and may be described on their own, "
                "as exploratory findings.")


def test_segments_not_asked_a_block_are_not_invited_to_be_described():
    """OSMI: "Segment(s) 0, 3, 4, 5 … may be described on their own … Segment(s) 3, 4, 5
    are respondents who were not asked (or skipped) a block of questions, not personas"."""
    import pandas as pd

    from personalab.diagnostics import _flag_segments

    res = SimpleNamespace(verdict=OSMI_VERDICT, flags=[], segments=pd.DataFrame(
        {"jaccard_mean": [0.9, 0.7, 0.5, 0.9, 0.9, 0.9]}, index=pd.Index(range(6))))
    flag = "segment(s) 3, 4, 5: defined by not answering 13 questions"
    _flag_segments(res, SimpleNamespace(not_asked={3: "b", 4: "b", 5: "b"},
                                        not_asked_flags={3: flag}, segment_flags=[flag]))
    assert res.verdict.startswith("No stable segments: mean ARI 0.76")
    assert ("Segment(s) 0, 3, 4, 5 do reproduce (Jaccard >= 0.75); of these, segment(s) 0 "
            "may be described on their own, as exploratory findings. Segment(s) 3, 4, 5 are "
            "respondents who were not asked") in res.verdict
    assert res.flags == [flag] and list(res.segments["not_asked"]) == [False] * 3 + [True] * 3


def test_the_report_shows_a_saved_verdict_without_the_taken_back_invitation(tmp_path):
    """Runs saved before the fix (Typeform, OSMI audit artifacts) read the same once the
    report is rebuilt."""
    from personalab.report import methods_section, summary_section, stability_verdict

    import pandas as pd

    typeform = SimpleNamespace(verdict=OSMI_VERDICT + f" Besides, {TYPEFORM_REASON}.",
                               dominated_by="q2", flags=[TYPEFORM_REASON], stable=False,
                               segments=pd.DataFrame({"jaccard_mean": [0.9, 0.5, 0.9]},
                                                     index=pd.Index(range(3), name="segment")))
    assert stability_verdict(typeform) == OSMI_VERDICT.replace(
        " and may be described on their own, as exploratory findings.", ".") + \
        f" Besides, {TYPEFORM_REASON}."
    osmi = SimpleNamespace(verdict=OSMI_VERDICT + " Segment(s) 3, 4, 5 are respondents …",
                           dominated_by=None, flags=[], not_asked_segments=[3, 4, 5])
    assert "; of these, segment(s) 0 may be described on their own" in stability_verdict(osmi)
    plain = SimpleNamespace(verdict=OSMI_VERDICT, dominated_by=None, flags=[])
    assert stability_verdict(plain) == OSMI_VERDICT
    from personalab.codebook import Codebook, Question

    store = _store(tmp_path, stability=typeform, survey=ReportSurvey(
        Codebook(questions=[Question(id="q2", type="likert", text="q2", role="segment")]),
        [f"r{i}" for i in range(10)]))
    for section in (summary_section(store), methods_section(store, None)):
        assert "described on their own" not in str(section.html)


def test_cards_quote_the_verdict_the_report_shows_for_a_run_saved_before_the_guards():
    """Review 3, item 1 (OSMI, re-drafted): the cards' confidence lines quoted "Segment(s) 0,
    3, 4, 5 do reproduce … and may be described on their own" while the report's Stability
    line said "of these, segment(s) 0 may be described". Both quote one sentence now, on a
    new draft (cap_confidence) and on a saved one (apply_run_verdict)."""
    from personalab.diagnostics import stability_verdict
    from personalab.personas import apply_run_verdict, cap_confidence, run_verdict
    from personalab.report import stability_verdict as report_verdict

    osmi = SimpleNamespace(verdict=OSMI_VERDICT, stable=False, dominated_by=None, flags=[],
                           not_asked_segments=[3, 4, 5])
    shown = stability_verdict(osmi)
    assert "; of these, segment(s) 0 may be described on their own" in shown
    assert report_verdict(osmi) == shown and run_verdict(osmi) == (False, shown)
    _, reason = cap_confidence("high", "r.", 0.9, osmi, segment=0)
    assert reason == f"r. The run's verdict: {shown}"
    assert "0, 3, 4, 5 do reproduce (Jaccard >= 0.75) and may be described" not in reason
    # a card saved with the old quote reads as the report once the report applies the verdict
    p = _persona(0, 0.9)
    p.confidence_statement = Statement(
        f"Medium confidence: r. The run's verdict: {OSMI_VERDICT}",
        p.confidence_statement.evidence)
    apply_run_verdict([p], osmi)
    assert p.confidence_statement.text == f"Medium confidence: r. The run's verdict: {shown}"
    # a result whose verdict the guards never took back is quoted as saved
    plain = SimpleNamespace(verdict=OSMI_VERDICT, stable=False, dominated_by=None, flags=[])
    assert run_verdict(plain) == (False, OSMI_VERDICT)


@pytest.mark.parametrize("stable", [True, False])
def test_a_saved_card_of_a_dissolving_segment_no_longer_reads_reproduces(stable):
    """Review 3, item 2 (old OSMI pickles): the Kendall card kept "Low confidence: the
    segment reproduces at Jaccard 0.54" while the summary said it dissolves on resampling.
    Applying the run's verdict rewords it below MIN_JACCARD and sets ``exploratory``; a
    segment at the bound is left alone."""
    from personalab.diagnostics import MIN_JACCARD
    from personalab.personas import apply_run_verdict

    verdict = (SimpleNamespace(stable=True, verdict="Stable: 2 segments reproduce.", flags=[],
                               dominated_by=None) if stable else
               SimpleNamespace(stable=False, verdict=NO_STABLE, flags=[], dominated_by=None))
    low, bound = _persona(0, 0.54), _persona(1, MIN_JACCARD)
    for p in (low, bound):
        p.exploratory = None
        p.confidence = "low"
        p.confidence_statement = Statement(
            p.confidence_statement.text.replace("High confidence", "Low confidence"),
            p.confidence_statement.evidence)
    apply_run_verdict([low, bound], verdict)
    note = f"dissolves on resampling (Jaccard 0.54, below {MIN_JACCARD:g})"
    assert low.confidence_statement.text.startswith(
        f"Low confidence: the segment {note} and 0% of respondents are unassigned.")
    assert "reproduces at Jaccard" not in low.confidence_statement.text
    assert low.exploratory == note
    assert "reproduces at Jaccard 0.60 across resamples" in bound.confidence_statement.text
    assert bound.exploratory is None
    apply_run_verdict([low, bound], verdict)     # idempotent
    assert low.confidence_statement.text.count(note) == 1


def test_exploratory_notes_say_do_not_reproduce_only_when_that_is_the_reason(tmp_path):
    """Review 3, item 3: the summary's "Exploratory" note and the golden questions' caveat
    said the segments "do not reproduce on resampling" whenever the solution was not
    stable, also when it reproduced (mean ARI 0.97, every Jaccard >= 0.6) and failed only
    on 15% unassigned."""
    from personalab.codebook import Codebook, Question
    from personalab.report import golden_html, summary_section

    golden = SimpleNamespace(questions_=["q2", "q3"], accuracy_=0.9)
    survey = ReportSurvey(Codebook(questions=[Question(id="q2", type="likert", text="q2",
                                                       role="segment")]),
                          [f"r{i}" for i in range(10)])
    base = dict(stable=False, n_segments=2, flags=[], dominated_by=None)
    unassigned = SimpleNamespace(**base, mean_ari=0.97, unassigned_share=0.15,
                                 unstable_segments=[], verdict="No stable segments: 15% of "
                                 "respondents are unassigned.")
    store = _store(tmp_path / "u", personas=[_persona(0, 0.9), _persona(1, 0.9)],
                   stability=unassigned, survey=survey)
    html = str(summary_section(store).html)
    assert "The solution as a whole is not stable (see Stability above)" in html
    assert "reproduce on resampling" not in html
    quiz = golden_html(store, golden)
    assert "the solution as a whole is not stable; see Stability" in quiz
    assert "reproduce on resampling" not in quiz
    # a solution that does not reproduce keeps the resampling wording
    ari = SimpleNamespace(**base, mean_ari=0.78, unassigned_share=0.0, unstable_segments=[],
                          verdict=NO_STABLE)
    store = _store(tmp_path / "a", personas=[_persona(0, 0.9), _persona(1, 0.9)],
                   stability=ari, survey=survey)
    assert "The segments as a whole do not reproduce on resampling (see Stability above)" \
        in str(summary_section(store).html)
    assert "the solution does not reproduce on resampling" in golden_html(store, golden)


def test_a_dissolving_segment_reads_dissolves_not_a_persona_without_on_its_own():
    """Review 3, item 8 (typeform segment 1): "dissolves on its own; not a persona"."""
    from personalab.report import segment_rating

    refused = {1: "one input explains the segments"}
    assert segment_rating("dissolves", 1, False, refused).startswith("dissolves; not a persona")
    assert segment_rating("highly stable", 1, True, refused).startswith(
        "highly stable on its own; not a persona")
    assert segment_rating("stable", 0, False, refused) == (
        "stable on its own; the solution as a whole is not stable")
    assert segment_rating("dissolves", 0, False, refused) == "dissolves"


def test_an_exploratory_card_carries_an_exploratory_badge_unless_not_a_persona():
    """Review 3, item 7: personas.md and personas.json marked a dissolving segment
    exploratory, the HTML cards did not."""
    from personalab.report import persona_cards_html

    note = "dissolves on resampling (Jaccard 0.54, below 0.6)"
    a, b, c = _persona(0, 0.54), _persona(1, 0.54), _persona(2, 0.9)
    a.exploratory = b.exploratory = note
    c.exploratory = None
    html = persona_cards_html([a, b, c], not_personas={1: "segment 1 was not asked"})
    cards = html.split('<article class="card"')[1:]
    badge = f'<span class="badge low" title="{note}">exploratory</span>'
    assert badge in cards[0]
    assert "exploratory</span>" not in cards[1] and "not a persona</span>" in cards[1]
    assert "exploratory</span>" not in cards[2]
