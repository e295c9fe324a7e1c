"""The report and the quotes step on the shapes real exports gave (Young People Survey,
OSMI 2016, projoint/Qualtrics, Typeform/Cantera audit runs):

* the methods table never rates a segment "highly stable" under "No stable segments"
  without saying that the solution as a whole is not stable (YPS: three segments at Jaccard
  0.91-0.94, mean ARI 0.89), and never says "not stable" of segments that reproduce but that
  the guards refuse as personas (projoint, womens: mean ARI 1.00, "Not personas");
* a persona whose segment dissolves on resampling is marked so in the summary (OSMI:
  Kendall, Jaccard 0.54, sat in the Personas table unmarked);
* a segment is named one way in every section, and refused with one reason text, the one
  the drafting step gives (personas.not_a_persona_reason);
* segments the checks refuse as personas (not asked a block of questions; a solution that
  is cells of one categorical answer) are listed apart in the executive summary, under
  "Not personas", with the reason;
* the quotes step never quotes answers about the questionnaire itself ("comments about this
  survey", "What question do you wish we had asked you?") nor a text question with
  role: ignore;
* the second audit: under "No stable segments" the summary's persona table says its
  personas are exploratory; golden questions are no typing quiz when no segment is a persona
  ("1 question", not "1 questions"); the "not a fit" legend only beside a not-a-fit persona;
  the data-quality total row has no "None".
"""
from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from _persona_drafts import artifact_store, persona_draft
from _planted_survey import ReportSurvey, survey_from_frame
from personalab.artifacts import ArtifactStore
from personalab.codebook import Codebook, Question, ScaleOption
from personalab.diagnostics import StabilityResult
from personalab.personas import PersonaDraft, not_a_persona_reason
from personalab.report import (methods_section, personas_section, profiles_section,
                               summary_section)

YPS_VERDICT = ("No stable segments: mean ARI 0.89 is below 0.90 over 10 refits on random 80% "
               "subsamples. Segment(s) 0, 1, 2 do reproduce (Jaccard >= 0.75) and may be "
               "described on their own, as exploratory findings.")


def _stability(jaccard, *, stable, verdict, not_asked=(), not_asked_flags=None, flags=(),
               dominated_by=None, mean_ari=0.89, unassigned=0.0) -> StabilityResult:
    """A StabilityResult as diagnostics.stability builds it (Hennig ratings by pd.cut;
    ``unstable_segments``: Jaccard < 0.6)."""
    segs = pd.Index(range(len(jaccard)), name="segment")
    table = pd.DataFrame({"n": [100] * len(jaccard), "share": [1 / len(jaccard)] * len(jaccard),
                          "jaccard_mean": jaccard, "jaccard_min": [j - 0.05 for j in jaccard]},
                         index=segs)
    table["rating"] = pd.cut(table["jaccard_mean"], [-np.inf, 0.6, 0.75, 0.85, np.inf],
                             labels=["dissolves", "pattern", "stable", "highly stable"],
                             right=False)
    table["unstable"] = table["jaccard_mean"] < 0.6
    if not_asked:
        table["not_asked"] = [s in not_asked for s in segs]
    return StabilityResult(mean_ari=mean_ari, ari=pd.Series([mean_ari] * 10), segments=table,
                           unstable_segments=[int(s) for s in segs[table["unstable"]]],
                           n_segments=len(jaccard),
                           unassigned_share=unassigned, boot_n_segments=[len(jaccard)] * 10,
                           stable=stable, verdict=verdict, dominated_by=dominated_by,
                           flags=list(flags), not_asked_segments=list(not_asked),
                           not_asked_flags=not_asked_flags)


def _persona(seg: int, name: str, jaccard: float = 0.95) -> PersonaDraft:
    return persona_draft(seg, name, jaccard)


_store = artifact_store


def _text(html) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", str(html)))


def _table_rows(html: str, after: str) -> list[list[str]]:
    """The body rows (cell texts) of the first table after the heading ``after``."""
    part = str(html).split(after, 1)[1]
    body = part.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[" ".join(_text(c).split()) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# ------------------------------------------------------------------ (a) methods stability
def test_methods_never_rate_highly_stable_under_no_stable_segments(tmp_path):
    """YPS: each segment reproduces at Jaccard >= 0.91, yet the partition's mean ARI is
    0.89: the table must say both (it said "highly stable" three times, nothing else)."""
    stab = _stability([0.93, 0.91, 0.94], stable=False, verdict=YPS_VERDICT)
    store = _store(tmp_path, stability=stab,
                   personas=[_persona(0, "Emily"), _persona(1, "Madison"), _persona(2, "Jacob")])
    html = str(methods_section(store, None).html)
    rows = _table_rows(html, "Per-segment reproducibility")
    assert len(rows) == 3
    ratings = [r for row in rows for r in row if "stable" in r]
    assert len(ratings) == 3
    for cell in ratings:
        assert cell.startswith("highly stable")
        assert "the solution as a whole is not stable" in cell
    assert "The solution as a whole is not stable" in _text(html)
    # every "highly stable" in the section carries the whole solution's verdict
    for m in re.finditer("highly stable", _text(html)):
        assert "not stable" in _text(html)[m.end():m.end() + 60]


def test_a_stable_run_keeps_hennigs_words(tmp_path):
    stab = _stability([0.93, 0.78], stable=True, verdict="Stable: 2 segments reproduce.")
    store = _store(tmp_path, stability=stab)
    rows = _table_rows(str(methods_section(store, None).html), "Per-segment reproducibility")
    assert [r for row in rows for r in row if "stable" in r] == ["highly stable", "stable"]
    assert "not stable" not in _text(methods_section(store, None).html)


# -------------------------------------------------------- (c) not personas in the summary
OSMI_FLAG = ("segment(s) 2: defined by not answering 13 questions ('How many employees does "
             "your company or…', … 10 more): respondents who were not asked them (skip logic, "
             "split ballot) or skipped them, not a persona (which questions went unanswered "
             "tells them apart with balanced accuracy 99%)")


def _summary_store(tmp_path, stab, personas):
    cb = Codebook(questions=[Question(id="x", type="likert", text="x", role="segment")])
    return _store(tmp_path, survey=ReportSurvey(cb, [f"r{i}" for i in range(400)]),
                  stability=stab, personas=personas)


def test_a_not_asked_segment_is_listed_under_not_personas(tmp_path):
    """OSMI: the self-employed, who skipped the employer block, were a segment of their own
    and sat in the summary's persona table like the others."""
    stab = _stability([0.9, 0.8, 0.95], stable=False,
                      verdict=YPS_VERDICT + " Segment(s) 2 are respondents who were not asked "
                                            "(or skipped) a block of questions, not personas.",
                      not_asked=(2,), not_asked_flags={2: OSMI_FLAG}, flags=[OSMI_FLAG])
    store = _summary_store(tmp_path, stab, [_persona(0, "Michael"), _persona(1, "Laura"),
                                            _persona(2, "Joshua")])
    html = str(summary_section(store).html)
    personas = _table_rows(html, "<h3>Personas</h3>")
    refused = _table_rows(html, "<h3>Not personas</h3>")
    assert [r[0] for r in personas] == ["Michael", "Laura"]
    # named as the drafting step names a segment that is not a persona, never by the
    # person's name it was drafted with
    assert len(refused) == 1
    assert refused[0][0] == "Segment 2 (not a persona)"
    assert refused[0][-1] == OSMI_FLAG
    assert "do not read them as kinds of people" in _text(html)
    # the card says it too, with the reason on hover
    cards = str(personas_section(store).html)
    joshua = cards.split('id="persona-2"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'class="badge neg" title="[^"]*not answering 13 questions[^"]*">not a '
                     r"persona<", joshua)
    michael = cards.split('id="persona-0"', 1)[1].split("</article>", 1)[0]
    assert "not a persona<" not in michael


def test_a_refused_not_a_fit_segment_is_named_once(tmp_path):
    """A refused segment that the not-a-fit rules also match read "Segment 2 (not a persona)
    (not a fit) (not a persona)" in the summary: it is named plainly, once."""
    import dataclasses

    stab = _stability([0.9, 0.8, 0.95], stable=False,
                      verdict=YPS_VERDICT + " Segment(s) 2 are respondents who were not asked "
                                            "(or skipped) a block of questions, not personas.",
                      not_asked=(2,), not_asked_flags={2: OSMI_FLAG}, flags=[OSMI_FLAG])
    guarded = dataclasses.replace(_persona(2, "Joshua"), negative=True)
    store = _summary_store(tmp_path, stab, [_persona(0, "Michael"), _persona(1, "Laura"),
                                            guarded])
    refused = _table_rows(str(summary_section(store).html), "<h3>Not personas</h3>")
    assert [r[0] for r in refused] == ["Segment 2 (not a persona)"]


def test_a_solution_of_categorical_cells_has_no_personas(tmp_path):
    """projoint: the two segments were the two cells of one answer ('Not personas' verdict,
    dominated_by set); the summary listed them as personas Jessica and Jennifer."""
    reason = ("the segments are cells of categorical answers: 'Q5.1' alone reproduces 100% "
              "of them (balanced accuracy), so they are groups a cross-tabulation of that "
              "answer gives, not personas")
    verdict = f"Not personas: the segments reproduce on resampling (mean ARI 1.00) but {reason}."
    stab = _stability([1.0, 1.0], stable=False, verdict=verdict, flags=[reason],
                      dominated_by="Q5.1", mean_ari=1.0)
    store = _summary_store(tmp_path, stab, [_persona(0, "Jessica"), _persona(1, "Jennifer")])
    html = str(summary_section(store).html)
    assert "<h3>Personas</h3>" not in html
    refused = _table_rows(html, "<h3>Not personas</h3>")
    assert [r[0] for r in refused] == ["Segment 0 (not a persona)", "Segment 1 (not a persona)"]
    # the reason the drafting step gives (personas.json's not_a_persona), word for word
    assert all(r[-1] == not_a_persona_reason(s, stab) for s, r in enumerate(refused))
    assert all(reason in r[-1] for r in refused)
    assert "No segment of this run is a persona" in _text(html)
    # the segments reproduce (mean ARI 1.00, Jaccard 1.00): the guards refuse them as
    # personas, the table must not say they are unstable
    methods = str(methods_section(store, None).html)
    rows = _table_rows(methods, "Per-segment reproducibility")
    assert [r[0] for r in rows] == ["Segment 0 (not a persona)", "Segment 1 (not a persona)"]
    assert all("highly stable on its own; not a persona" in " ".join(r) for r in rows)
    assert "not stable" not in _text(methods)
    assert "The segments reproduce on resampling (mean ARI 1.00), but the checks refuse them " \
           "as personas" in _text(methods)


@pytest.mark.parametrize("mean_ari, unassigned, jaccard, reproduces", [
    (1.00, 0.00, [1.0, 1.0], True),       # projoint: every bar of diagnostics.stability met
    (0.90, 0.10, [0.9, 0.9], True),       # on the bars (MIN_ARI, MAX_UNASSIGNED)
    (0.89, 0.00, [0.9, 0.9], False),      # mean ARI below 0.90
    (0.95, 0.11, [0.9, 0.9], False),      # more than 10% unassigned
    (0.95, 0.00, [0.9, 0.59], False),     # a segment dissolves (Jaccard < 0.6)
])
def test_a_refused_solution_is_called_unstable_only_when_it_is(tmp_path, mean_ari, unassigned,
                                                               jaccard, reproduces):
    """The "not stable" wording follows diagnostics.stability's own bars, not ``stable``
    (which the guards also set False): womens/projoint read "the solution as a whole is not
    stable" beside a Stability line saying the segments reproduce (mean ARI 1.00)."""
    reason = "one input alone explains the segments: 'Q1' reproduces 99% of them"
    verdict = (f"Not personas: the segments reproduce on resampling (mean ARI {mean_ari:.2f}) "
               f"but {reason}." if reproduces else
               f"No stable segments: mean ARI {mean_ari:.2f}. Besides, {reason}.")
    stab = _stability(jaccard, stable=False, verdict=verdict, flags=[reason],
                      dominated_by="Q1", mean_ari=mean_ari, unassigned=unassigned)
    methods = _text(methods_section(_summary_store(tmp_path, stab, [_persona(0, "Ann"),
                                                                    _persona(1, "Bo")]),
                                    None).html)
    assert ("the solution as a whole is not stable" in methods) is not reproduces
    assert ("The solution as a whole is not stable" in methods) is not reproduces
    assert ("The segments reproduce on resampling" in methods) is reproduces
    assert methods.count("not a persona (why") == 2


OSMI_STABILITY = ("No stable segments: mean ARI 0.76 is below 0.90 over 10 refits on random 80% "
                  "subsamples; segment(s) 2 dissolve on resampling (Jaccard < 0.6). Segment(s) "
                  "0 do reproduce (Jaccard >= 0.75) and may be described on their own, as "
                  "exploratory findings.")


def test_a_persona_that_dissolves_on_resampling_is_marked_in_the_summary(tmp_path):
    """OSMI: Kendall (segment 2, Jaccard 0.54, in unstable_segments) sat in the summary's
    Personas table, narrative and all, with nothing to say it does not reproduce."""
    stab = _stability([0.87, 0.73, 0.54], stable=False, verdict=OSMI_STABILITY, mean_ari=0.76)
    assert stab.unstable_segments == [2]
    store = _summary_store(tmp_path, stab, [_persona(0, "Casey"), _persona(1, "Riley"),
                                            _persona(2, "Kendall", jaccard=0.54)])
    html = str(summary_section(store).html)
    rows = _table_rows(html, "Stability.")
    assert [r[0] for r in rows] == ["Casey", "Riley", "Kendall (dissolves on resampling)"]
    note = _text(html).split("Exploratory, not confirmed.", 1)[1]
    assert note.strip().startswith("Kendall (Jaccard 0.54) dissolves on resampling")
    assert "Casey" not in note and "Riley" not in note
    # a stable run has no such mark
    stable = _stability([0.87, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                        mean_ari=0.95)
    html = str(summary_section(_summary_store(tmp_path / "s", stable,
                                              [_persona(0, "Casey"), _persona(1, "Riley")])).html)
    assert "dissolves" not in html and "Exploratory" not in html


def test_every_section_names_a_refused_segment_as_the_summary_does(tmp_path):
    """Personas drafted without the verdict keep a person's name in the pickle: the summary
    renamed them "Segment 0 (not a persona)" (apply_run_verdict) while the methods table said
    "Jessica (not a persona)" and the profile tables "Jessica"."""
    reason = "one input alone explains the segments: 'Q1' reproduces 99% of them"
    stab = _stability([1.0, 1.0], stable=False, dominated_by="Q1", flags=[reason],
                      mean_ari=1.0, verdict="Not personas: the segments reproduce on "
                                            f"resampling (mean ARI 1.00) but {reason}.")
    store = _summary_store(tmp_path, stab, [_persona(0, "Jessica"), _persona(1, "Jennifer")])
    profile = pd.DataFrame([dict(segment=s, question="x", question_text="x", variable="x",
                                 level=None, type="likert", measure="mean", value=3.0 + d,
                                 total=3.0, index=100 + 30 * d, significant=True,
                                 p_adjusted=0.001, effect_size=0.9 * d)
                            for s, d in ((0, 1), (1, -1))])
    store.save("profile", profile)
    summary = _table_rows(str(summary_section(store).html), "<h3>Not personas</h3>")
    methods = _table_rows(str(methods_section(store, None).html), "Per-segment reproducibility")
    top = _table_rows(str(profiles_section(store).html), "Top distinguishing traits")
    expected = ["Segment 0 (not a persona)", "Segment 1 (not a persona)"]
    assert [r[0] for r in summary] == expected
    assert [r[0] for r in methods] == expected
    assert [r[0] for r in top] == expected
    for html in (summary_section(store).html, profiles_section(store).html,
                 methods_section(store, None).html):
        assert "Jessica" not in str(html)
    cards = str(personas_section(store).html)
    assert re.findall(r"</span>(Segment \d \(not a persona\))", cards) == expected


def test_a_legacy_persona_marked_only_by_its_name_is_still_refused(tmp_path):
    """A persona pickled before ``not_a_persona`` existed (a wave's baseline) is known by
    the name drafting gave it; a current persona is refused only by the verdict or its own
    ``not_a_persona`` field."""
    stab = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                      mean_ari=0.95)
    legacy = _persona(1, "Segment 1 (not a persona)")
    legacy.not_a_persona = None
    own = _persona(0, "Segment 0 (not a persona)")
    own.not_a_persona = "segment 0 is respondents who were not asked block B"
    store = _summary_store(tmp_path, stab, [own, legacy])
    from personalab.report import not_persona_reasons

    assert not_persona_reasons(store) == {
        0: "segment 0 is respondents who were not asked block B",
        1: "the drafting step marked it not a persona"}


def test_a_name_already_marked_by_the_drafting_step_is_not_marked_twice(tmp_path):
    stab = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                      not_asked=(1,), not_asked_flags={1: OSMI_FLAG.replace("(s) 2", "(s) 1")})
    store = _summary_store(tmp_path, stab, [_persona(0, "Ann"),
                                            _persona(1, "Segment 1 (not a persona)")])
    html = str(summary_section(store).html)
    assert [r[0] for r in _table_rows(html, "<h3>Not personas</h3>")] == \
        ["Segment 1 (not a persona)"]
    assert [r[0] for r in _table_rows(html, "<h3>Personas</h3>")] == ["Ann"]


def test_a_stable_run_with_no_flag_has_one_persona_table(tmp_path):
    stab = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.")
    html = str(summary_section(_summary_store(tmp_path, stab, [_persona(0, "Ann"),
                                                               _persona(1, "Bo")])).html)
    assert "Not personas" not in html and "not a persona" not in html
    assert html.count("<table") == 1


# ------------------------------------------------------------- (b) quotes about the survey
VOICE = "Why do you use the tool in your job or school?"
ABOUT = "Please tell us if you have any comments about this survey. Please use the space below."
WISH = "What question do you wish we had asked you? How would you have answered that question?"


def _quotes_run(tmp_path, questions_text: dict, role=None):
    """A run folder ready for the quotes step: 120 respondents in two segments, a likert
    segmentation question and the open questions ``{id: wording}`` (every one answered
    with 8-12 words); ``role`` {id: role} overrides a question's role."""
    from personalab.quality import check_quality

    rng = np.random.default_rng(0)
    n = 120
    seg = np.repeat([0, 1], n // 2)
    frame = {"ResponseId": [f"R{i:03d}" for i in range(n)],
             "L": np.where(seg == 0, 5, 1)}
    words = ["solver", "kinetics", "flames", "teaching", "research", "python", "models",
             "reactors", "speed", "docs", "examples", "support"]
    for qid in questions_text:
        frame[qid] = [f"{qid} answer " + " ".join(rng.choice(words, size=rng.integers(8, 12)))
                      for _ in range(n)]
    likert = [ScaleOption(i, str(i)) for i in range(1, 6)]
    qs = [Question(id="L", type="likert", text="Rate it", scale=likert, role="segment")]
    qs += [Question(id=q, type="text", text=t, role=(role or {}).get(q, "profile"))
           for q, t in questions_text.items()]
    survey = survey_from_frame(pd.DataFrame(frame), qs)
    ids = survey.data.index
    out = tmp_path / "run"
    _store(out, survey=survey, quality=check_quality(survey),
           labels=pd.Series(seg, index=ids, name="segment"),
           embedding=pd.DataFrame({"x": seg + rng.normal(0, 0.1, n),
                                   "y": rng.normal(0, 0.1, n)}, index=ids))
    return out


def test_quotes_skip_answers_about_the_survey_itself(tmp_path):
    """projoint Q7.3 ("comments about this survey") and typeform q32 ("What question do you
    wish we had asked you?") became headline quotes; only the voice question may be
    quoted."""
    from personalab import steps

    out = _quotes_run(tmp_path, {"why": VOICE, "Q7.3": ABOUT, "q32": WISH})
    quotes = steps.quotes(out, n_quotes=3, seed=0).quotes
    assert len(quotes) == 6                          # 3 per segment
    assert set(quotes["question"]) == {"why"}


def test_a_survey_whose_only_open_questions_are_about_it_is_not_quoted(tmp_path):
    """No fallback to the survey-feedback answers when nothing else is open text."""
    from personalab import steps

    out = _quotes_run(tmp_path, {"Q7.3": ABOUT, "q32": WISH})
    assert steps.quotes(out, n_quotes=3, seed=0).quotes.empty


def test_a_text_question_with_role_ignore_is_never_quoted(tmp_path):
    """The codebook drafter sets survey-feedback prompts role: ignore; a reviewer may set
    any text question so. Such a question is never quoted, whatever its wording."""
    from personalab import steps

    out = _quotes_run(tmp_path, {"why": VOICE, "notes": "Anything else to add?"},
                      role={"notes": "ignore"})
    quotes = steps.quotes(out, n_quotes=3, seed=0).quotes
    assert len(quotes) and set(quotes["question"]) == {"why"}


@pytest.mark.parametrize("wording, about", [
    (ABOUT, True), (WISH, True), ("Any feedback on the questionnaire?", True),
    ("How could we improve this survey?", True), ("Is there anything we should have asked?", True),
    ("Do you have any other comments regarding this study?", True),
    # the topic, not the questionnaire
    ("What overall could we improve about the experience of using Cantera?", False),
    ("Any other comments?", False), ("Why or why not?", False),
    ("What do you like about the survey tool you use at work?", False),
    ("How would you rate the study program?", False),
    ("Any comments on the form factor of the device?", False),
])
def test_which_wordings_ask_about_the_survey(wording, about):
    from personalab.codebook import asks_about_the_survey

    assert asks_about_the_survey(wording) is about


# ------------------------------------------------- (c) second real-data audit (report text)
def test_an_unstable_run_says_its_personas_are_exploratory(tmp_path):
    """YPS, gforms, OSMI: "Why this solution" said "Treat any segments from this data as
    exploratory, not as personas" while the summary's table listed named personas with
    "medium" badges and nothing in it said exploratory."""
    EXPLORATORY = "exploratory, not a confirmed persona"
    stab = _stability([0.9, 0.8, 0.95], stable=False, verdict=YPS_VERDICT, mean_ari=0.89)
    store = _summary_store(tmp_path, stab, [_persona(0, "Michael"), _persona(1, "Laura"),
                                            _persona(2, "Joshua")])
    html = str(summary_section(store).html)
    head = re.findall(r"<th>(.*?)</th>", html.split("<thead>", 1)[1].split("</thead>", 1)[0])
    assert head[:2] == ["persona", "read as"]
    rows = _table_rows(html, "Stability.")
    assert [r[:2] for r in rows] == [[n, EXPLORATORY] for n in ("Michael", "Laura", "Joshua")]
    assert "not confirmed personas" in _text(html)
    # no sweep stability check, only the sweep's verdict: the same
    rec = SimpleNamespace(stable=False, verdict="No stable segments: no setting reproduced. "
                          "Treat any segments from this data as exploratory, not as personas.",
                          reasons=[], flags=[])
    store = _store(tmp_path / "rec", survey=store.load("survey"), recommendation=rec,
                   personas=[_persona(0, "Michael"), _persona(1, "Laura")])
    assert [r[1] for r in _table_rows(str(summary_section(store).html), "Stability.")] == \
        [EXPLORATORY] * 2
    # a stable run's table has no such column
    stable = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                        mean_ari=0.95)
    html = str(summary_section(_summary_store(tmp_path / "s", stable,
                                              [_persona(0, "Ann"), _persona(1, "Bo")])).html)
    assert "read as" not in html and "exploratory" not in html.lower()


def _golden_store(tmp_path, stab, n_questions, **golden):
    store = _summary_store(tmp_path, stab, [_persona(0, "Jessica"), _persona(1, "Jennifer")])
    store.save("profile", pd.DataFrame([dict(
        segment=s, question="x", question_text="x", variable="x", level=None, type="likert",
        measure="mean", value=3.0 + d, total=3.0, index=100 + 30 * d, significant=True,
        p_adjusted=0.001, effect_size=0.9 * d) for s, d in ((0, 1), (1, -1))]))
    store.save("labels", pd.Series([0] * 200 + [1] * 200,
                                   index=[f"r{i}" for i in range(400)], name="segment"))
    golden = {"accuracy_": 1.0, **golden}
    store.save("golden", SimpleNamespace(questions_=[f"Q{i}" for i in range(n_questions)],
                                         notes_=[], **golden))
    return _text(profiles_section(store).html)


def test_golden_questions_are_no_typing_quiz_when_no_segment_is_a_persona(tmp_path):
    """projoint: '1 questions reproduce the segment assignment with 100% … a short typing
    quiz for future surveys' under "No segment of this run is a persona"."""
    reason = ("the segments are cells of categorical answers: 'Q2.5' alone reproduces 100% "
              "of them (balanced accuracy), so they are groups a cross-tabulation of that "
              "answer gives, not personas")
    refused = _stability([1.0, 1.0], stable=False, mean_ari=1.0, flags=[reason],
                         dominated_by="Q2.5", verdict="Not personas: the segments reproduce "
                                                      f"on resampling (mean ARI 1.00) but {reason}.")
    text = " ".join(_golden_store(tmp_path / "a", refused, 1).split())
    assert ("1 question reproduces the segment assignment for 100% of respondents held out "
            "of their selection (nested cross-validation)") in text
    assert "typing quiz for future surveys" not in text
    assert "No segment of this run is a persona" in text
    assert "which answers the segments are cut on" in text
    # personas: a quiz, with the plural right
    stable = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                        mean_ari=0.95)
    text = " ".join(_golden_store(tmp_path / "b", stable, 2).split())
    assert "2 questions reproduce the segment assignment for 100% of respondents held out of " \
           "their selection (nested cross-validation): a short typing quiz for future " \
           "surveys" in text
    assert "exploratory" not in text


def test_golden_questions_give_the_nested_accuracy_beside_chance_and_the_largest_segment(
        tmp_path):
    """golden.accuracy_ is nested cross-validation (selection rerun per outer fold); the
    report gives it with the balanced accuracy against chance (1 in 2 segments) and the
    accuracy of putting everyone in the largest segment. An older run's tool has no nested
    estimate (accuracy_ NaN): no number at all, rather than its selection score."""
    stable = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                        mean_ari=0.95)
    text = " ".join(_golden_store(tmp_path / "a", stable, 2, accuracy_=0.9,
                                  balanced_accuracy_=0.85, baseline_accuracy_=0.5,
                                  classes_=[0, 1]).split())
    assert ("2 questions reproduce the segment assignment for 90% of respondents held out of "
            "their selection (nested cross-validation; balanced accuracy 85%, chance 50%), "
            "against 50% for putting everyone in the largest segment: a short typing quiz "
            "for future surveys") in text
    assert "cross-validated accuracy" not in text
    text = " ".join(_golden_store(tmp_path / "b", stable, 2, accuracy_=float("nan"),
                                  selection_accuracy_=0.97).split())
    assert "2 questions reproduce the segment assignment: a short typing quiz" in text
    assert "97%" not in text and "nan" not in text


def test_the_not_a_fit_legend_needs_a_not_a_fit_persona(tmp_path):
    """Every report said "A not a fit persona matches the 'not a fit' criteria of this
    study" though no run defined such criteria."""
    stable = _stability([0.9, 0.9], stable=True, verdict="Stable: 2 segments reproduce.",
                        mean_ari=0.95)
    personas = [_persona(0, "Ann"), _persona(1, "Bo")]
    html = str(personas_section(_summary_store(tmp_path / "a", stable, personas)).html)
    assert "criteria of this study" not in html
    personas[1].negative = True
    html = str(personas_section(_summary_store(tmp_path / "b", stable, personas)).html)
    assert "matches the “not a fit” criteria of this study" in html


def test_the_data_quality_total_row_has_no_none(tmp_path):
    """All 8 real reports: the total row's ``excludes`` cell read "None"."""
    from personalab.report import quality_section

    run = _quotes_run(tmp_path, {"T": "Why do you use the tool?"})
    html = str(quality_section(ArtifactStore(run)).html)
    rows = _table_rows(html, "<h3>Checks</h3>")
    head = re.findall(r"<th>(.*?)</th>", html.split("<h3>Checks</h3>", 1)[1]
                      .split("</thead>", 1)[0])
    col = head.index("excludes")
    total = [r for r in rows if r[0] == "total"]
    assert len(total) == 1 and total[0][col] == ""
    assert {r[col] for r in rows if r[0] != "total"} <= {"True", "False"}
    assert ">None<" not in html


def test_report_tables_name_look_alike_questions_apart_as_the_charts_do():
    """Without ``short``, OSMI's two 'interferes with your work' questions cut to one label;
    the heat map told them apart while the report's tables and glossary did not."""
    from personalab.plotting._common import question_labels
    from personalab.report import _question_names

    stem = ("If you have a mental health issue, do you feel that it interferes with your work "
            "when ")
    qs = [Question("Q1", stem + "being treated effectively?"),
          Question("Q2", stem + "NOT being treated effectively?")]
    names = _question_names(qs)
    assert names["Q1"][0] != names["Q2"][0]
    assert {k: v[0] for k, v in names.items()} == question_labels(qs)
    assert names["Q2"][1] == stem + "NOT being treated effectively?"
