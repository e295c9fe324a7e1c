"""Persona text never contradicts its own data (one test per contradiction class).

Every fixture is planted: the answer each test expects is known from how the data was made.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _planted_survey import LIKERT5, survey_from_frame
from personalab.codebook import Question, ScaleOption
from personalab.personas import (apply_run_verdict, draft_personas, personas_to_markdown,
                                 question_label)
from personalab.profiles import profile_segments, segment_sizes

SATISFIED = [ScaleOption(i, lab) for i, lab in enumerate(
    ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"], start=1)]
ELEVEN = [ScaleOption(i, str(i)) for i in range(1, 12)]
SD_SA = [ScaleOption(i, lab) for i, lab in enumerate(["SD", "D", "N", "A", "SA"], start=1)]
LONG = ("Thinking about the whole journey from booking to arrival, how satisfied were you "
        "with the comfort of your seat?")


@pytest.fixture(scope="module")
def planted():
    """Three segments of 150.

    * ``R_hard`` "The app is hard to use" (reverse-keyed, pain point): segment 1 agrees
      (about 4.6), the others disagree (about 1.6).
    * ``Q_bank`` "I am comfortable linking my bank account" (objection, positively worded
      in a battery with a reverse-keyed item): segment 0 agrees, segment 1 disagrees.
    * ``S_seat`` a 1-5 satisfaction rating with a long text: segment 0 rates it high.
    * ``S_nps`` a 1-11 scale with bare numbers: segment 2 rates it high.
    * ``K_score`` a numeric knowledge score: segment 2 scores high.
    * ``G_goal`` a goal: segment 0 is above the others (about 2.3 vs 1.3) but below the
      scale's midpoint, so it is not their goal.
    * ``A_sdsa`` an agreement item on an SD/D/N/A/SA scale: segment 1 agrees.
    """
    rng = np.random.default_rng(7)
    n = 450
    seg = np.repeat([0, 1, 2], n // 3)

    def scale(mean, hi=5, sd=0.6):
        return np.clip(np.round(rng.normal(mean, sd)), 1, hi).astype(int)

    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(n)],
        "R_hard": scale(np.where(seg == 1, 4.6, 1.6)),
        "Q_bank": scale(np.select([seg == 0, seg == 1], [4.6, 1.4], 3.0)),
        "S_seat": scale(np.where(seg == 0, 4.4, 2.6)),
        "S_nps": scale(np.where(seg == 2, 9.5, 5.0), hi=11, sd=1.0),
        "K_score": np.round(np.where(seg == 2, 80, 50) + rng.normal(0, 8, n)).astype(int),
        "G_goal": scale(np.where(seg == 0, 2.3, 1.3), sd=0.4),
        "A_sdsa": scale(np.where(seg == 1, 4.6, 2.4)),
    })
    questions = [
        Question("R_hard", "The app is hard to use", "likert", "segment", LIKERT5,
                 reverse=True, grid="Q2", facet="pain_point"),
        Question("Q_bank", "I am comfortable linking my bank account to an app", "likert",
                 "segment", LIKERT5, grid="Q2", facet="objection"),
        Question("S_seat", LONG, "likert", "segment", SATISFIED),
        Question("S_nps", "How likely are you to recommend us", "likert", "segment", ELEVEN),
        Question("K_score", "Knowledge score", "numeric", "segment"),
        Question("G_goal", "Help with taxes would be useful", "likert", "segment", LIKERT5,
                 facet="goal"),
        Question("A_sdsa", "Staff morale was good", "likert", "segment", SD_SA),
    ]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    profile = profile_segments(survey, labels)
    sizes = segment_sizes(labels.to_numpy())
    return survey, labels, profile, sizes, frame


def _draft(planted, profile=None, **kw):
    survey, labels, prof, sizes, _ = planted
    return draft_personas(survey, labels, prof if profile is None else profile, sizes, **kw)


def _texts(persona) -> list[str]:
    return [s.text for s in persona.statements()]


FACET_LISTS = ("goals", "pain_points", "motivations", "behaviours", "objections", "distinctive")


def _bullets_about(persona, question) -> list:
    """The facet bullets (not the narrative) that rest on ``question``."""
    return [s for f in FACET_LISTS for s in getattr(persona, f)
            if any(ev.question == question for ev in s.evidence)]


# --------------------------------------------------------------------------- direction
def test_profile_reports_reverse_keyed_items_as_answered(planted):
    survey, labels, profile, sizes, frame = planted
    for seg in (0, 1, 2):
        row = profile[(profile["segment"] == seg) & (profile["variable"] == "R_hard")].iloc[0]
        answered = frame.loc[frame.index[labels.to_numpy() == seg], "R_hard"].mean()
        assert row["value"] == pytest.approx(answered)
    assert profile.loc[(profile["segment"] == 1) & (profile["variable"] == "R_hard"),
                       "effect_size"].iloc[0] > 0


def test_every_reverse_keyed_item_reads_as_its_profile_row(planted):
    """The card's direction is the profile's direction for every reverse-keyed item."""
    survey, labels, profile, sizes, _ = planted
    reverse = [q.id for q in survey.codebook.questions if q.reverse]
    assert reverse
    checked = 0
    for p in _draft(planted):
        for qid in reverse:
            row = profile[(profile["segment"] == p.segment) & (profile["question"] == qid)]
            for st in _bullets_about(p, qid):
                higher = row["effect_size"].iloc[0] > 0
                assert st.direction == ("over" if higher else "under")
                word = "more" if higher else "less"
                assert re.search(rf"\b[Aa]gree {word} than most", st.text), st.text
                assert f"mean {row['value'].iloc[0]:.1f}" in st.text
                checked += 1
    assert checked >= 2


# --------------------------------------------------------------------------- wording
def test_a_satisfaction_rating_is_rated_with_its_own_labels(planted):
    p0 = _draft(planted)[0]
    seat = _bullets_about(p0, "S_seat")
    assert seat, _texts(p0)
    for st in seat:
        assert "agree" not in st.text.lower(), st.text
        assert st.text.startswith("Rate “") and "higher than most" in st.text
        assert "of 5; 1 = Very dissatisfied, 5 = Very satisfied" in st.text


def test_an_eleven_point_scale_and_a_score_are_not_agreed_with(planted):
    p2 = _draft(planted)[2]
    nps = _bullets_about(p2, "S_nps")
    assert nps and all("agree" not in s.text.lower() for s in nps)
    assert any(re.search(r"\d\.\d vs \d\.\d of 11\)", s.text) for s in nps), nps[0].text
    score = _bullets_about(p2, "K_score")
    assert score and score[0].text.startswith("Report a higher “Knowledge score” than most")


def test_an_sd_to_sa_scale_reads_as_agreement(planted):
    p1 = _draft(planted)[1]
    morale = _bullets_about(p1, "A_sdsa")
    assert morale and morale[0].text.startswith("Agree more than most that “Staff morale")


def test_long_question_texts_get_a_short_label(planted):
    survey = planted[0]
    q = survey.codebook["S_seat"]
    label = question_label(q)
    assert len(label) <= 60 and label.endswith("…") and LONG.startswith(label[:-1])
    p0 = _draft(planted)[0]
    assert all(LONG not in t for t in _texts(p0))
    # the codebook's own short label wins (the field may not exist yet: set it on the object)
    object.__setattr__(q, "short", "Seat comfort")
    try:
        seat = _bullets_about(_draft(planted)[0], "S_seat")
        assert seat[0].text.startswith("Rate “Seat comfort” higher than most (")
    finally:
        object.__setattr__(q, "short", None)


# --------------------------------------------------------------------------- facets
def test_a_goal_below_the_midpoint_is_not_their_goal(planted):
    survey, labels, profile, sizes, _ = planted
    row = profile[(profile["segment"] == 0) & (profile["variable"] == "G_goal")].iloc[0]
    assert row["significant"] and row["effect_size"] > 0.2 and row["value"] < 3
    p0 = _draft(planted)[0]
    assert not any("taxes" in s.text for s in p0.goals)
    assert any("taxes" in s.text for s in p0.distinctive)


def test_objections_list_only_what_the_segment_objects_to(planted):
    p0, p1, _ = _draft(planted)
    # segment 0 is comfortable linking its bank: that is no objection
    assert not any("bank account" in s.text for s in p0.objections)
    assert any("bank account" in s.text for s in p0.distinctive)
    # segment 1 is not comfortable: that is its objection
    assert any(s.text.startswith("Agree less than most that “I am comfortable linking")
               for s in p1.objections)
    # and the reverse-keyed pain point is theirs because they agree with it
    assert any("hard to use" in s.text and s.text.startswith("Agree more")
               for s in p1.pain_points)


def test_no_highlight_from_a_tiny_cell_or_a_trivial_effect(planted):
    survey, labels, profile, sizes, _ = planted
    prof = profile.copy()
    tiny = (prof["segment"] == 2) & (prof["variable"] == "G_goal")
    prof.loc[tiny, ["significant", "effect_size", "n"]] = [True, 1.5, 3]
    trivial = (prof["segment"] == 2) & (prof["variable"] == "Q_bank")
    prof.loc[trivial, ["significant", "effect_size", "p_adjusted"]] = [True, 0.1, 0.001]
    p2 = _draft(planted, profile=prof)[2]
    about = {ev.question for s in p2.statements() for ev in s.evidence}
    assert "G_goal" not in about and "Q_bank" not in about
    assert "S_nps" in about  # the real, large trait is still there


def test_a_majority_segment_is_not_higher_than_most_by_a_hair():
    """87% of respondents cannot stand apart from a total they mostly make up."""
    rng = np.random.default_rng(3)
    n = 800
    seg = np.where(np.arange(n) < 700, 0, 1)
    frame = pd.DataFrame({"ResponseId": [f"R_{i}" for i in range(n)],
                          "L": np.clip(np.round(rng.normal(np.where(seg == 0, 3.2, 4.4), 0.6)),
                                       1, 5).astype(int)})
    survey = survey_from_frame(frame, [Question("L", "Morale is good", "likert", "segment",
                                                LIKERT5)])
    labels = pd.Series(seg, index=survey.data.index)
    profile = profile_segments(survey, labels)
    assert profile["significant"].all()
    big, small = draft_personas(survey, labels, profile, segment_sizes(seg))
    assert not big.distinctive and "treat this persona with caution" in big.narrative[0].text
    assert small.distinctive


# --------------------------------------------------------------------------- confidence
class _Verdict:
    def __init__(self, stable, verdict):
        self.stable, self.verdict = stable, verdict


def test_confidence_never_high_under_no_stable_segments(planted):
    stab = {0: 0.95, 1: 0.9, 2: 0.5}
    free = _draft(planted, stability=stab, unassigned_share=0.0)
    assert [p.confidence for p in free] == ["high", "high", "low"]
    text = ("No stable segments: mean ARI 0.78 is below 0.90. Segment(s) 0, 1 do reproduce "
            "(Jaccard >= 0.75) and may be described on their own, as exploratory findings.")
    for verdict in (text, _Verdict(False, text)):
        capped = _draft(planted, stability=stab, unassigned_share=0.0, verdict=verdict)
        assert [p.confidence for p in capped] == ["medium", "medium", "low"]
        assert all("No stable segments" in p.confidence_statement.text for p in capped)
    stable = _draft(planted, stability=stab, unassigned_share=0.0,
                    verdict=_Verdict(True, "Stable: 3 segments reproduce."))
    assert [p.confidence for p in stable] == ["high", "high", "low"]
    # the report applies the verdict it shows to personas drafted without it (idempotent)
    apply_run_verdict(free, text)
    apply_run_verdict(free, text)
    assert [p.confidence for p in free] == ["medium", "medium", "low"]
    assert free[0].confidence_statement.text.count("The run's verdict") == 1


# --------------------------------------------------------------------------- quotes
def test_quotes_carry_the_personas_themes_and_never_contradict_it(planted):
    quotes = pd.DataFrame({
        "segment": [0, 0, 0, 0], "rank": [1, 2, 3, 4],
        "respondent_id": ["R_0001", "R_0002", "R_0003", "R_0004"],
        "question": ["Q9"] * 4,
        "text": ["So easy, I love it", "Nothing to add", "Linking my bank took seconds",
                 "The price is fine"],
        "themes": [("ease",), (), ("bank",), ("price",)], "sentiment": [0.8, 0.0, 0.5, 0.1]})
    theme_profile = pd.DataFrame({
        "segment": [0, 0, 0], "theme": ["bank", "ease", "price"], "n": [150] * 3,
        "share": [0.5, 0.02, 0.1], "share_rest": [0.1, 0.3, 0.1], "index": [250.0, 10.0, 100.0],
        "test": ["z"] * 3, "p_adjusted": [0.001, 0.001, 0.9], "over": [True, False, False]})
    p0 = _draft(planted, quotes=quotes, theme_profile=theme_profile,
                theme_info={"bank": {"label": "Bank linking"}})[0]
    texts = [q.text for q in p0.quotes]
    assert "So easy, I love it" not in texts        # a theme they mention far less
    assert texts[0] == "Linking my bank took seconds"  # their own theme first
    assert set(texts) == {"Linking my bank took seconds", "Nothing to add", "The price is fine"}
    assert p0.headline_quote is not None and p0.headline_quote.themes == ["bank"]


# --------------------------------------------------------------------------- names
def test_names_without_a_descriptor_are_the_first_name_alone(planted):
    for p in _draft(planted):
        assert p.name == p.first_name and p.descriptor == ""
        assert not re.search(r"Distinct|-leaning", p.name)


# --------------------------------------------------------------------------- narrative
def test_each_persona_opens_with_a_footnoted_narrative(planted):
    survey, labels, profile, sizes, _ = planted
    personas = _draft(planted)
    for p in personas:
        assert 2 <= len(p.narrative) <= 3
        assert p.narrative[0].text.startswith(f"People like {p.first_name} ")
        bullets = [s.text for f in FACET_LISTS for s in getattr(p, f)]
        for st in p.narrative:
            assert len(st.evidence) == 1
            ev = st.evidence[0]
            row = profile[(profile["segment"] == p.segment) & (profile["variable"] == ev.variable)]
            assert row["significant"].iloc[0] and row["value"].iloc[0] == pytest.approx(ev.value)
            # the narrative says exactly what a bullet says
            phrase = re.sub(r"^(People like \w+|They also|And they) ", "", st.text)
            assert phrase[:1].upper() + phrase[1:] in bullets
    md = personas_to_markdown(personas)
    first = md.split("## ")[1]
    assert re.search(r"People like \w+ .*\[\^1\] They also .*\[\^2\]", first)


def test_a_theme_from_a_handful_of_answers_is_not_written_up(planted):
    theme_profile = pd.DataFrame({
        "segment": [0, 0], "theme": ["price", "yacht"], "n": [150, 150], "n_theme": [60, 3],
        "share": [0.4, 0.02], "share_rest": [0.1, 0.0], "index": [300.0, 900.0],
        "test": ["z", "fisher"], "p_adjusted": [0.001, 0.04], "over": [True, True]})
    p0 = _draft(planted, theme_profile=theme_profile,
                theme_info={"price": {"label": "Price"}, "yacht": {"label": "Yacht upkeep"}})[0]
    texts = " ".join(_texts(p0))
    assert "Price" in texts and "Yacht upkeep" not in texts
    assert "Price" in p0.narrative[-1].text  # the narrative's own-words clause


def test_yes_no_questions_read_as_yes_and_never_as_false():
    rng = np.random.default_rng(5)
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i}" for i in range(n)],
        "L": np.clip(np.round(rng.normal(np.where(seg == 0, 4.3, 2.0), 0.6)), 1, 5).astype(int),
        "workload": np.where(rng.random(n) < np.where(seg == 0, 0.6, 0.1), "TRUE", "FALSE")})
    questions = [Question("L", "Morale is good", "likert", "segment", LIKERT5),
                 Question("workload", "Reason for leaving: Workload", "single", "profile",
                          [ScaleOption(1, "FALSE"), ScaleOption(2, "TRUE")])]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index)
    personas = draft_personas(survey, labels, profile_segments(survey, labels),
                              segment_sizes(seg))
    texts = [t for p in personas for t in _texts(p)]
    assert not any("FALSE" in t for t in texts), texts
    assert any(t.startswith("Reason for leaving: Workload: yes for ") for t in texts), texts


def test_a_bounded_score_below_its_midpoint_is_not_a_motivation():
    rng = np.random.default_rng(11)
    n = 300
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i}" for i in range(n)],
        "drive": np.round(np.where(seg == 0, 35, 15) + rng.normal(0, 5, n)).clip(0, 100)})
    q = Question("drive", "Motivation score", "numeric", "segment", facet="motivation")
    q.min, q.max = 0, 100
    survey = survey_from_frame(frame, [q])
    labels = pd.Series(seg, index=survey.data.index)
    p0, _ = draft_personas(survey, labels, profile_segments(survey, labels), segment_sizes(seg))
    assert not p0.motivations                                   # 35 of 0-100: not theirs
    assert p0.distinctive and p0.distinctive[0].text.startswith("Report a higher “Motivation")


# --------------------------------------------------------------------------- quotes vs traits
@pytest.fixture(scope="module")
def rated():
    """Two segments of 150 that differ on one satisfaction rating, with an open follow-up.

    * ``S_app`` "How satisfied are you with the app?" (1-5): segment 0 is dissatisfied
      (about 1.5), segment 1 satisfied (about 4.5); ``U_use`` how often they use it (1-5):
      segment 0 rarely (about 1.8), segment 1 often (4.2).
    * ``S_app_why`` "Why did you give that rating?" follows ``S_app`` in the codebook.
    * Planted in segment 0: ``R_0000`` answered 5 (very satisfied) to ``S_app`` but writes
      the segment's most typical answer; ``R_0001`` answered 1 but praises the app;
      ``R_0002`` .. ``R_0005`` answered 1 to both and complain, as do the rest of
      segment 0 (drawn at random) in different words.
    """
    rng = np.random.default_rng(11)
    n = 300
    seg = np.repeat([0, 1], n // 2)
    sat = np.clip(np.round(rng.normal(np.where(seg == 0, 1.5, 4.5), 0.5)), 1, 5).astype(int)
    use = np.clip(np.round(rng.normal(np.where(seg == 0, 1.8, 4.2), 0.6)), 1, 5).astype(int)
    sat[0], use[0] = 5, 2          # the planted untypical respondent
    sat[1], use[1] = 1, 1          # typical, but praises the app
    sat[2:6], use[2:6] = 1, 1      # typical, and complain
    parts = ["statements page", "login", "support chat", "notifications", "transfers",
             "search"]
    why = [f"The {parts[i % 6]} is slow and the {parts[(i + 1 + i // 6) % 6]} keeps failing"
           if s == 0 else f"Everything works well, week {i}" for i, s in enumerate(seg)]
    # the segment's most typical wording (R_0020 writes the same): first on text alone
    why[0] = "The support chat is slow and the statements page keeps failing"
    why[1] = "Great app, I love it, amazing statements page and wonderful support"
    frame = pd.DataFrame({"ResponseId": [f"R_{i:04d}" for i in range(n)], "S_app": sat,
                          "U_use": use, "S_app_why": why})
    questions = [
        Question("S_app", "How satisfied are you with the app?", "likert", "segment", SATISFIED),
        Question("U_use", "How often do you use the app?", "likert", "segment",
                 [ScaleOption(i, lab) for i, lab in enumerate(
                     ["Never", "Rarely", "Sometimes", "Often", "Always"], start=1)]),
        Question("S_app_why", "Why did you give that rating?", "text", "profile"),
    ]
    survey = survey_from_frame(frame, questions)
    labels = pd.Series(seg, index=survey.data.index, name="segment")
    return survey, labels, profile_segments(survey, labels), segment_sizes(labels.to_numpy())


def _rated_quotes(ids, texts, sentiments):
    return pd.DataFrame({"segment": 0, "rank": range(1, len(ids) + 1), "respondent_id": ids,
                         "question": "S_app_why", "text": texts, "themes": [()] * len(ids),
                         "sentiment": sentiments})


def test_a_quote_from_a_respondent_on_the_other_side_of_a_defining_trait_is_left_out(rated):
    """The dissatisfied persona is not quoted by the one member who rated the app 5, even
    when that quote ranks first; its reason names the answer and the trait."""
    survey, labels, profile, sizes = rated
    quotes = _rated_quotes(["R_0000", "R_0002", "R_0003"],
                           ["The app is wonderful, I love it", "It crashes every time",
                            "Too slow to load"], [0.9, -0.4, 0.0])
    p0 = draft_personas(survey, labels, profile, sizes, quotes=quotes)[0]
    assert any(ev.variable == "S_app" and st.direction == "under"
               for st in p0.narrative for ev in st.evidence)
    assert [q.respondent_id for q in p0.quotes] == ["R_0002", "R_0003"]
    assert p0.headline_quote is not None and p0.headline_quote.respondent_id == "R_0002"
    (left,) = p0.quotes_left_out
    assert left["respondent_id"] == "R_0000"
    assert ("answered 5 (Very satisfied) to “How satisfied are you with the app?”"
            in left["reasons"][0])
    assert p0.quotes_note is None
    md = personas_to_markdown([p0])
    assert "wonderful" not in md and "It crashes every time" in md


def test_a_strongly_positive_quote_is_not_shown_for_a_dissatisfied_persona(rated):
    """R_0001 rated the app 1 (typical) but the quote that follows up that rating praises
    it (VADER +0.96): it contradicts "rate the app lower than most" and is left out."""
    survey, labels, profile, sizes = rated
    quotes = _rated_quotes(["R_0001", "R_0002"],
                           ["Great app, I love it, amazing and wonderful support",
                            "It crashes every time"], [0.96, -0.4])
    p0 = draft_personas(survey, labels, profile, sizes, quotes=quotes)[0]
    assert [q.respondent_id for q in p0.quotes] == ["R_0002"]
    assert "sentiment (+0.96) contradicts" in p0.quotes_left_out[0]["reasons"][0]
    # the quote says which question it answers: the follow-up of the rating
    assert p0.quotes[0].question_text == ("How satisfied are you with the app? — "
                                          "Why did you give that rating?")


def test_when_no_quote_fits_the_persona_says_so_instead_of_showing_one(rated):
    survey, labels, profile, sizes = rated
    quotes = _rated_quotes(["R_0000", "R_0001"], ["The app is wonderful, I love it",
                                                  "Great app, I love it, amazing"],
                           [0.9, 0.96])
    p0 = draft_personas(survey, labels, profile, sizes, quotes=quotes)[0]
    assert p0.quotes == [] and p0.headline_quote is None
    assert p0.quotes_note and "none of the segment's 2 representative quotes" in p0.quotes_note
    md = personas_to_markdown([p0])
    assert p0.quotes_note in md and "wonderful" not in md
    from personalab.report import persona_cards_html

    cards = persona_cards_html([p0])       # the report's and the standalone cards
    assert "none of the segment&#39;s 2 representative quotes" in cards
    assert "wonderful" not in cards


def test_quotes_are_picked_among_respondents_typical_of_the_persona(rated):
    """Without ``eligible`` the first quote of segment 0 is R_0000's (the most typical text,
    from a respondent who rated the app 5); with the persona's typical respondents it is
    never picked, and every picked quote passes the persona's check."""
    from personalab.personas import typical_respondents
    from personalab.quotes import representative_quotes

    survey, labels, profile, sizes = rated
    texts = survey.text()["S_app_why"]
    plain = representative_quotes(texts, labels, n=3, sentiment=False, redact=False)
    assert plain.loc[plain["segment"] == 0, "respondent_id"].iloc[0] == "R_0000"
    personas = draft_personas(survey, labels, profile, sizes)
    typical = typical_respondents(survey, labels, personas)
    assert "R_0000" not in typical[0] and "R_0001" in typical[0]
    assert set(typical[0]) <= set(labels.index[labels == 0].map(str))
    picked = representative_quotes(texts, labels, n=3, sentiment=False, redact=False,
                                   eligible=typical)
    assert "R_0000" not in set(picked["respondent_id"])
    assert (picked["segment"] == 0).sum() == 3
    drafted = draft_personas(survey, labels, profile, sizes, quotes=picked)
    assert all(not p.quotes_left_out for p in drafted)


def test_a_majority_segment_is_compared_with_the_average_not_with_most():
    """A segment of 70% of respondents is most of them: "rate it lower than most" would say
    the majority rates it lower than the majority. It reads "than average" (the number
    shown is the overall mean); the 30% segment keeps "than most"."""
    rng = np.random.default_rng(5)
    seg = np.repeat([0, 1], [280, 120])
    frame = pd.DataFrame({"ResponseId": [f"R_{i:04d}" for i in range(400)],
                          "S_seat": np.clip(np.round(rng.normal(np.where(seg == 0, 2.0, 4.3),
                                                                0.6)), 1, 5).astype(int)})
    survey = survey_from_frame(frame, [Question("S_seat", "Seat comfort", "likert", "segment",
                                                SATISFIED)])
    labels = pd.Series(seg, index=survey.data.index)
    p0, p1 = draft_personas(survey, labels, profile_segments(survey, labels),
                            segment_sizes(labels.to_numpy()))
    assert p0.size["share"] == pytest.approx(0.7)
    texts0 = [s.text for s in p0.statements()]
    assert not any("than most" in t for t in texts0)
    assert any(t.startswith("Rate “Seat comfort” lower than average (2.") for t in texts0)
    assert p0.narrative[0].text.startswith(f"People like {p0.first_name} rate “Seat comfort” "
                                           "lower than average")
    assert any(t.startswith("Rate “Seat comfort” higher than most (4.")
               for t in (s.text for s in p1.statements()))


def test_an_open_question_follows_up_the_closed_question_the_codebook_shows():
    from personalab.codebook import Codebook
    from personalab.personas import follow_up_of

    phys = ("Would you be willing to bring up a physical health issue with a potential "
            "employer in an interview?")
    cb = Codebook(survey="s", respondent_id="id", questions=[
        Question("Q5", "How satisfied are you?", "likert", "segment", SATISFIED),
        Question("Q5_TEXT", "Tell us about it", "text", "profile"),
        Question("phys", phys, "single", "segment",
                 [ScaleOption(1, "Yes"), ScaleOption(2, "No")]),
        Question("why", "Why or why not?", "text", "profile"),
        Question("why2", "Please explain", "text", "profile"),
        Question("Q9", "Any other comments?", "text", "profile"),
        Question("Q10", "How often do you answer insincerely?", "likert", "segment", SATISFIED),
        # the projoint survey's closing question: "Please tell us" is not "tell us why"
        Question("Q11", "Please tell us if you have any comments about this survey.", "text",
                 "profile"),
        Question("Q12", "How easy was it?", "likert", "segment", SATISFIED),
        Question("Q13", "Please tell us why", "text", "profile"),
        Question("Q14", "How often do you use Cantera?", "likert", "segment", SATISFIED),
        # the Cantera survey: a "why" about something else than the answer before it
        Question("Q15", "Why do you use Cantera in your job or school?", "text", "profile"),
        Question("Q16", "How easy was it?", "likert", "segment", SATISFIED),
        Question("Q17", "Why did you give that rating?", "text", "profile"),
    ])
    assert follow_up_of(cb, "Q5_TEXT") == "Q5"          # its id extends Q5's
    assert follow_up_of(cb, "why") == "phys"            # "Why…" right after a closed one
    assert follow_up_of(cb, "why2") is None             # after an open question
    assert follow_up_of(cb, "Q9") is None               # not worded as a follow-up
    assert follow_up_of(cb, "nope") is None
    assert follow_up_of(cb, "Q11") is None
    assert follow_up_of(cb, "Q13") == "Q12"
    assert follow_up_of(cb, "Q15") is None
    assert follow_up_of(cb, "Q17") == "Q16"


def test_the_mean_of_an_identifier_or_postal_code_is_never_a_trait():
    """Real drafts type 'Clothing ID' (clothing reviews) and 'zip' (a Qualtrics panel) as
    numbers; 'zip: 59,879 on average (49,310 overall)' describes nobody. Planted: both
    differ strongly between the segments, as age does; only age is written up."""
    rng = np.random.default_rng(9)
    seg = np.repeat([0, 1], 150)
    frame = pd.DataFrame({
        "ResponseId": [f"R_{i:04d}" for i in range(300)],
        "S_seat": np.clip(np.round(rng.normal(np.where(seg == 0, 1.8, 4.3), 0.6)), 1, 5)
        .astype(int),
        "Clothing ID": np.where(seg == 0, rng.integers(100, 300, 300), rng.integers(800, 1200, 300)),
        "zip": np.where(seg == 0, rng.integers(10000, 20000, 300), rng.integers(80000, 99999, 300)),
        "age": np.where(seg == 0, rng.integers(20, 30, 300), rng.integers(50, 70, 300)),
    })
    survey = survey_from_frame(frame, [
        Question("S_seat", "Seat comfort", "likert", "segment", SATISFIED),
        Question("Clothing ID", "Clothing ID", "numeric", "profile"),
        Question("zip", "zip", "numeric", "profile"),
        Question("age", "What is your age?", "numeric", "profile")])
    labels = pd.Series(seg, index=survey.data.index)
    profile = profile_segments(survey, labels)
    assert profile.loc[profile["question"].isin(["Clothing ID", "zip"]), "significant"].all()
    for p in draft_personas(survey, labels, profile, segment_sizes(labels.to_numpy())):
        cited = {ev.question for st in p.statements() for ev in st.evidence}
        assert "age" in cited and not cited & {"Clothing ID", "zip"}


def test_than_average_never_rewrites_the_question_s_own_wording():
    """A majority segment compares 'than average'; a question worded 'more than most
    people' keeps its words (the rewording once edited the quoted question too)."""
    from personalab.personas import _phrase_for

    q = Question("Q1", "I save more than most people I know", "likert", "segment", LIKERT5)
    row = {"type": "likert", "effect_size": 0.8, "value": 4.3, "total": 3.5,
           "question": "Q1", "question_text": q.text}
    phrase, _ = _phrase_for(row, q, 0.6)
    assert "“I save more than most people I know”" in phrase
    assert phrase.startswith("agree more than average that")
    assert _phrase_for(row, q, 0.3)[0].startswith("agree more than most that")
