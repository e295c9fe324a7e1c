"""The report and the quotes step on the shapes real exports gave (Young People Survey,
OSMI 2016, projoint/Qualtrics, Typeform/Cantera audit runs):

* the methods table never rates a segment "highly stable" under "No stable segments"
  without saying that the solution as a whole is not stable (YPS: three segments at Jaccard
  0.91-0.94, mean ARI 0.89);
* segments the checks refuse as personas (not asked a block of questions; a solution that
  is cells of one categorical answer) are listed apart in the executive summary, under
  "Not personas", with the reason;
* the quotes step never quotes answers about the questionnaire itself ("comments about this
  survey", "What question do you wish we had asked you?") nor a text question with
  role: ignore.
"""
from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

from _planted_survey import ReportSurvey, survey_from_frame
from personalab.artifacts import ArtifactStore
from personalab.codebook import Codebook, Question, ScaleOption
from personalab.diagnostics import StabilityResult
from personalab.personas import Evidence, PersonaDraft, Statement
from personalab.report import methods_section, personas_section, summary_section

YPS_VERDICT = ("No stable segments: mean ARI 0.89 is below 0.90 over 10 refits on random 80% "
               "subsamples. Segment(s) 0, 1, 2 do reproduce (Jaccard >= 0.75) and may be "
               "described on their own, as exploratory findings.")


def _stability(jaccard, *, stable, verdict, not_asked=(), not_asked_flags=None, flags=(),
               dominated_by=None) -> StabilityResult:
    """A StabilityResult as diagnostics.stability builds it (Hennig ratings by pd.cut)."""
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
    return StabilityResult(mean_ari=0.89, ari=pd.Series([0.89] * 10), segments=table,
                           unstable_segments=[], n_segments=len(jaccard),
                           unassigned_share=0.0, boot_n_segments=[len(jaccard)] * 10,
                           stable=stable, verdict=verdict, dominated_by=dominated_by,
                           flags=list(flags), not_asked_segments=list(not_asked),
                           not_asked_flags=not_asked_flags)


def _persona(seg: int, name: str, jaccard: float = 0.95) -> PersonaDraft:
    st = Statement(f"People like {name} agree more than most that “x” (mean 4.1 vs 3.0 of 5).",
                   [Evidence("profile", "profile:x", question="x", value=4.1, total=3.0)], "over")
    return PersonaDraft(
        segment=seg, name=name, first_name=name, descriptor="", headline=st,
        size={"n": 100, "share": 0.25, "weighted_share": 0.25, "ci_low": 0.2, "ci_high": 0.3},
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
    # named by the drafting step as it names a segment that is not a persona (personas.py
    # renames it "Segment 2 (not a persona)"), or by the report marking the drafted name
    assert len(refused) == 1
    assert refused[0][0] in ("Joshua (not a persona)", "Segment 2 (not a persona)")
    assert "not answering 13 questions" in refused[0][-1]
    assert "do not read them as kinds of people" in _text(html)
    # the card says it too, with the reason on hover
    cards = str(personas_section(store).html)
    joshua = cards.split('id="persona-2"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'class="badge neg" title="[^"]*not answering 13 questions[^"]*">not a '
                     r"persona<", joshua)
    michael = cards.split('id="persona-0"', 1)[1].split("</article>", 1)[0]
    assert "not a persona<" not in michael


def test_a_solution_of_categorical_cells_has_no_personas(tmp_path):
    """projoint: the two segments were the two cells of one answer ('Not personas' verdict,
    dominated_by set); the summary listed them as personas Jessica and Jennifer."""
    reason = ("the segments are cells of categorical answers: 'Q5.1' alone reproduces 100% "
              "of them (balanced accuracy), so they are groups a cross-tabulation of that "
              "answer gives, not personas")
    stab = _stability([1.0, 1.0], stable=False, verdict="Not personas: the segments reproduce "
                      f"on resampling (mean ARI 1.00) but {reason}.", flags=[reason],
                      dominated_by="Q5.1")
    store = _summary_store(tmp_path, stab, [_persona(0, "Jessica"), _persona(1, "Jennifer")])
    html = str(summary_section(store).html)
    assert "<h3>Personas</h3>" not in html
    refused = _table_rows(html, "<h3>Not personas</h3>")
    assert [r[0] for r in refused] in (
        ["Jessica (not a persona)", "Jennifer (not a persona)"],
        ["Segment 0 (not a persona)", "Segment 1 (not a persona)"])
    assert all(r[-1] == reason for r in refused)
    assert "No segment of this run is a persona" in _text(html)
    rows = _table_rows(str(methods_section(store, None).html), "Per-segment reproducibility")
    assert all("highly stable on its own; not a persona" in " ".join(r)
               and "the solution as a whole is not stable" in " ".join(r) for r in rows)


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
