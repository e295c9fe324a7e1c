"""The synthetic survey generator: determinism, planted answers, Qualtrics format, sample files."""
from __future__ import annotations

import csv
import io
import json
import re

import pandas as pd
import pytest
import yaml

from personalab import paths
from personalab.datasets import (WAVE2_SHARES, _banks, _text_spec, codebook_yaml, make_survey,
                                 themes_yaml, write_qualtrics_csv, write_sample)

TRUTH_DIR = paths.TESTS_DIR / "fixtures" / "sample_truth"
LIKERT = ["Strongly disagree", "Somewhat disagree", "Neither agree nor disagree",
          "Somewhat agree", "Strongly agree"]


@pytest.fixture(scope="module")
def wave():
    return make_survey(1500, random_state=11)


@pytest.fixture(scope="module")
def wave2():
    return make_survey(1400, random_state=12, emerging_segment=True,
                       segment_shares=WAVE2_SHARES)


def _questions(wave, **kw):
    return [q for q in wave.codebook["questions"]
            if all(q.get(k) == v for k, v in kw.items())]


def _grids(wave):
    out = {}
    for q in _questions(wave, type="likert"):
        out.setdefault(q["grid"], []).append(q["id"])
    return out


def _codes(wave):
    """Likert answers as codes 1..5, NaN for blank and "Don't know"."""
    cols = [q["id"] for q in _questions(wave, type="likert")]
    return wave.raw[cols].apply(lambda c: c.map({lab: i + 1 for i, lab in enumerate(LIKERT)}))


# ------------------------------------------------------------------ determinism, sizes
def test_same_seed_same_wave_byte_for_byte(tmp_path):
    a = make_survey(400, random_state=5)
    b = make_survey(400, random_state=5)
    pd.testing.assert_frame_equal(a.raw, b.raw)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.pii, b.pii)
    write_qualtrics_csv(a, tmp_path / "a.csv")
    write_qualtrics_csv(b, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_different_seed_different_wave():
    a = make_survey(400, random_state=5)
    b = make_survey(400, random_state=6)
    assert not a.raw["ResponseId"].equals(b.raw["ResponseId"])
    assert (a.raw["Q1_1"].to_numpy() != b.raw["Q1_1"].to_numpy()).mean() > 0.3
    assert not a.raw["Q8"].equals(b.raw["Q8"])


def test_with_text_false_blanks_text_and_changes_nothing_else():
    a = make_survey(600, random_state=3)
    b = make_survey(600, random_state=3, with_text=False)
    assert b.raw[["Q8", "Q9"]].isna().all().all() and b.pii.empty
    other = [c for c in a.raw.columns if c not in ("Q8", "Q9")]
    pd.testing.assert_frame_equal(a.raw[other], b.raw[other])
    c = make_survey(600, random_state=3, with_pii=False)
    assert c.pii.empty and c.raw["Q8"].notna().sum() == a.raw["Q8"].notna().sum()


def test_sizes_and_planted_shares(wave):
    t, p = wave.truth, wave.planted
    assert len(wave.raw) == len(t) == 1500
    genuine = t[~t["is_test"] & ~t["is_duplicate"]]
    assert len(genuine) == p["n_genuine"] == 1500 - 6 - 9
    realised = genuine["segment"].value_counts(normalize=True)
    planted = wave.segments.set_index("segment")["planted_share"]
    assert set(realised.index) == set(planted.index)
    # exact counts: within one respondent of share * n
    assert (abs(realised - planted) * len(genuine) <= 1).all()
    assert t.loc[t["is_test"], "segment"].isna().all()
    small = planted.min()
    assert 0.04 <= small <= 0.07 and planted.idxmin() == "privacy_first"
    assert realised["privacy_first"] == pytest.approx(0.055, abs=0.002)
    assert wave.segments["n"].sum() == len(genuine)


def test_segment_shares_argument():
    w = make_survey(1000, n_segments=3, segment_shares=[0.5, 0.3, 0.2], random_state=1)
    counts = w.truth.loc[~w.truth["is_test"] & ~w.truth["is_duplicate"], "segment"].value_counts()
    g = counts.sum()
    assert counts["planners"] == round(0.5 * g) and len(counts) == 3
    e = make_survey(1000, emerging_segment=True, random_state=1).segments
    assert e["segment"].tolist()[-1] == "investors" and e["planted_share"].iloc[-1] == 0.08
    assert e["planted_share"].sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="sum to 1"):
        make_survey(500, n_segments=3, segment_shares=[0.5, 0.3, 0.3])
    with pytest.raises(ValueError, match="3 values"):
        make_survey(500, n_segments=3, segment_shares=[0.5, 0.5])
    with pytest.raises(ValueError, match="n_segments"):
        make_survey(500, n_segments=7)
    with pytest.raises(ValueError, match="too small"):
        make_survey(30)


# ------------------------------------------------------------------ codebook and columns
def test_codebook_matches_raw_columns(wave):
    cb = wave.codebook
    assert cb["schema_version"] == 1 and cb["respondent_id"] == "ResponseId"
    ids = [q["id"] for q in cb["questions"]]
    assert ids == list(wave.raw.columns) == list(wave.labels) == list(wave.import_ids)
    assert wave.raw["ResponseId"].is_unique
    for q in cb["questions"]:
        col = wave.raw[q["id"]].dropna()
        if q["type"] in ("likert", "single"):
            allowed = {s["label"] for s in q["scale"]} | {m["label"] for m in q.get("missing", [])}
            assert set(col) <= allowed, q["id"]
            assert set(col) >= {s["label"] for s in q["scale"]}, q["id"]  # every option used
        elif q["type"] == "multi":
            chosen = {o for cell in col for o in cell.split(q["separator"])}
            assert chosen == set(q["options"]), q["id"]
            assert not any("," in o for o in q["options"])
        elif q["type"] == "numeric":
            x = col.astype(float)
            assert x.between(q["min"], q["max"]).all(), q["id"]
    likert = _questions(wave, type="likert", role="segment")
    assert len(likert) >= 20 and sum(q["reverse"] for q in likert) == 6
    assert len(_grids(wave)) == 3
    att = [q for q in cb["questions"] if "attention_check" in q]
    assert len(att) == 1 and att[0]["role"] == "ignore"
    assert att[0]["attention_check"]["expected"] == "Somewhat agree"
    roles = {q["id"]: q["role"] for q in cb["questions"]}
    assert roles["Q4"] == "segment" and roles["Q5"] == "profile" and roles["Q10"] == "profile"
    # Don't know appears, a few percent of the time
    dk = (wave.raw[[q["id"] for q in likert]] == "Don't know").to_numpy().mean()
    assert 0.01 < dk < 0.04
    w = wave.raw["weight"].astype(float)
    assert (w > 0).all() and w.mean() == pytest.approx(1, abs=0.002) and w.std() > 0.1


def test_codebook_gives_persona_facets_and_descriptors(wave):
    persona_facets = {"goal", "pain_point", "motivation", "behaviour", "objection"}
    by_id = {q["id"]: q for q in wave.codebook["questions"]}
    for q in wave.codebook["questions"]:
        if q["role"] == "segment":
            assert q["facet"] in persona_facets, q["id"]
            d = q["descriptor"]
            if q["type"] == "likert":
                assert set(d) == {"high", "low"} and d["high"] != d["low"], q["id"]
            else:
                assert set(d) == set(q["options"]), q["id"]
            words = list(d.values())
            assert all(w[:1].isupper() and " " not in w for w in words), (q["id"], words)
        elif q["type"] in ("single", "numeric") and q["role"] == "profile" and \
                q["id"] not in ("Q6", "Q7"):
            assert q["facet"] == "demographic", q["id"]
        elif q["role"] == "ignore":
            assert "facet" not in q and "descriptor" not in q, q["id"]
    assert by_id["Q5"]["facet"] == by_id["Q6"]["facet"] == by_id["Q7"]["facet"] == "behaviour"
    assert set(by_id["Q5"]["descriptor"]) <= set(by_id["Q5"]["options"])
    assert by_id["Q2_2"]["reverse"] and by_id["Q2_2"]["descriptor"]["high"] == "Privacy-wary"
    # the codebook loader reads them back
    from personalab.codebook import load_codebook
    cb = load_codebook(paths.SAMPLE_DIR / "codebook.yml")
    q = next(q for q in cb.questions if q.id == "Q3_4")
    assert q.facet == "motivation" and q.descriptor == {"high": "Goal-driven",
                                                        "low": "Goal-indifferent"}


def test_codebook_and_themes_yaml_round_trip(wave):
    assert yaml.safe_load(codebook_yaml(wave.codebook)) == wave.codebook
    assert yaml.safe_load(themes_yaml(wave.themes)) == wave.themes
    themes = wave.themes["themes"]
    assert any(t["parent"] for t in themes)
    assert {t["polarity"] for t in themes} == {"positive", "negative", "neutral"}
    assert all(t["phrases"] and "patterns" in t and "exclude" in t for t in themes)


# ------------------------------------------------------------------ Qualtrics format
def test_qualtrics_csv_three_header_rows(wave, tmp_path):
    path = write_qualtrics_csv(wave, tmp_path / "w.csv")
    raw_bytes = path.read_bytes()
    assert raw_bytes.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, as Qualtrics writes it
    rows = list(csv.reader(io.StringIO(raw_bytes.decode("utf-8-sig"))))
    assert rows[0][:11] == ["StartDate", "EndDate", "Status", "IPAddress", "Progress",
                            "Duration (in seconds)", "Finished", "RecordedDate", "ResponseId",
                            "DistributionChannel", "UserLanguage"]
    assert rows[1][rows[0].index("Q1_1")].endswith(" - I track every purchase I make")
    imports = {c: json.loads(v) for c, v in zip(rows[0], rows[2])}
    assert imports["Q2_3"] == {"ImportId": "QID2_3"}
    assert imports["ResponseId"] == {"ImportId": "_recordId"}
    assert imports["Q8"] == {"ImportId": "QID8_TEXT"}
    assert len(rows) == 3 + len(wave.raw)
    back = pd.read_csv(path, skiprows=[1, 2], dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")
    expected = wave.raw.fillna("")
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert wave.raw["StartDate"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert wave.raw["ResponseId"].str.fullmatch(r"R_[A-Za-z0-9]{15}").all()


# ------------------------------------------------------------------ planted problems
def test_truth_aligned_with_rows(wave):
    assert wave.truth["ResponseId"].tolist() == wave.raw["ResponseId"].tolist()
    start = pd.to_datetime(wave.raw["StartDate"])
    assert start.is_monotonic_increasing


def test_planted_problem_counts(wave):
    t, raw = wave.truth, wave.raw
    counts = {"is_test": 6, "is_duplicate": 9, "is_speeder": 15, "is_straightliner": 12,
              "is_incomplete": 22}
    for col, n in counts.items():
        assert t[col].sum() == n, col
    # disjoint: each genuine respondent has at most one planted answer pattern
    pattern = t[["is_speeder", "is_straightliner", "is_incomplete"]].sum(axis=1)
    assert pattern.max() == 1
    tests = raw[t["is_test"].to_numpy()]
    assert set(tests["Status"]) == {"Survey Preview", "Survey Test"}
    assert set(tests["DistributionChannel"]) == {"preview", "test"}
    assert set(raw.loc[~t["is_test"].to_numpy(), "Status"]) == {"IP Address"}


def test_speeders_are_far_below_the_median(wave):
    t, d = wave.truth, wave.raw["Duration (in seconds)"].astype(int)
    normal = ~t["is_speeder"] & ~t["is_incomplete"] & ~t["is_test"]
    median = d[normal].median()
    assert d[t["is_speeder"]].max() < median / 3 < d[normal].min()


def test_straightliners_and_nobody_else(wave):
    x = _codes(wave)
    t = wave.truth
    for grid, cols in _grids(wave).items():
        g = x[cols]
        same_all = g.notna().all(axis=1) & (g.nunique(axis=1) == 1)
        assert same_all[t["is_straightliner"]].all(), grid
        # also without the attention check and ignoring Don't know: only the planted ones
        real = [c for c in cols if c != "Q2_5"]
        answered = x[real].notna().sum(axis=1)
        same = (answered >= 2) & (x[real].nunique(axis=1) == 1)
        assert not same[~t["is_straightliner"]].any(), grid


def test_attention_failures(wave):
    t, att = wave.truth, wave.raw["Q2_5"]
    fails = att.notna() & (att != "Somewhat agree")
    assert fails.tolist() == t["fails_attention"].tolist()
    assert wave.planted["attention_failures_planted"] == 18
    clean = ~t[["is_test", "is_speeder", "is_straightliner", "is_incomplete"]].any(axis=1)
    assert t.loc[clean, "fails_attention"].sum() == 18


def test_incomplete_responses(wave):
    t, raw = wave.truth, wave.raw
    inc = raw[t["is_incomplete"].to_numpy()]
    assert (inc["Finished"] == "False").all()
    assert (inc["Progress"].astype(int) < 100).all()
    assert inc["Q14"].isna().all()  # the last page is never reached
    assert (raw.loc[~t["is_incomplete"].to_numpy(), "Progress"] == "100").all()
    # answered pages are answered, later ones blank: Q1 is always reached
    assert inc["Q1_1"].notna().all()


def test_duplicates_are_near_copies(wave):
    t, raw = wave.truth, wave.raw.set_index("ResponseId")
    likert = [q["id"] for q in _questions(wave, type="likert")]
    dups = t[t["is_duplicate"]]
    assert dups["duplicate_of"].notna().all()
    for rid, src in zip(dups["ResponseId"], dups["duplicate_of"]):
        a, b = raw.loc[rid], raw.loc[src]
        assert 1 <= (a[likert] != b[likert]).sum() <= 3
        assert a[["Q4", "Q8", "Q9", "Q10", "Q12"]].equals(b[["Q4", "Q8", "Q9", "Q10", "Q12"]])
        assert a["IPAddress"] == b["IPAddress"]
        assert a["StartDate"] > b["StartDate"]
    assert t.set_index("ResponseId").loc[dups["ResponseId"], "segment"].tolist() == \
        t.set_index("ResponseId").loc[dups["duplicate_of"], "segment"].tolist()


# ------------------------------------------------------------------ open text
def test_pii_spans_match_the_text_exactly(wave):
    raw = wave.raw.set_index("ResponseId")
    pii = wave.pii
    assert len(pii) > 40
    for r in pii.itertuples():
        assert raw.at[r.ResponseId, r.question][r.start:r.end] == r.text
    assert set(pii["kind"]) == {"email", "phone", "person", "url", "address", "postcode"}
    assert pii.loc[pii["kind"] == "email", "text"].str.fullmatch(r"[\w.]+@[\w.]+").all()
    phones = pii.loc[pii["kind"] == "phone", "text"]
    assert phones.str.contains("555").any() and phones.str.contains("7700|7946").any()
    # spans never overlap, and the test rows and speeders hold none
    for _, g in pii.groupby(["ResponseId", "question"]):
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1]).all()
    t = wave.truth.set_index("ResponseId")
    assert not t.loc[pii["ResponseId"], ["is_test", "is_speeder"]].any().any()


def _theme_finder():
    """Literal phrase matching (with exclusions): a stand-in for a theme tagger."""
    def rx(phrases):
        alts = "|".join(re.escape(p.lower()) for p in phrases)
        return re.compile(r"(?<!\w)(?:" + alts + r")(?!\w)") if phrases else None

    themes = [(t["id"], rx(t["phrases"]), rx(t["exclude"])) for t in _text_spec()["themes"]]

    def found(text):
        low, out = text.lower(), set()
        for theme, phrases, exclude in themes:
            veto = [m.span() for m in exclude.finditer(low)] if exclude else []
            if any(not any(m.start() < e1 and e0 < m.end() for e0, e1 in veto)
                   for m in phrases.finditer(low)):
                out.add(theme)
        return out
    return found


def test_text_banks_keep_their_contract():
    found = _theme_finder()
    negation = re.compile(r"\b(not|no|never|none|nothing)\b|n't\b", re.I)
    for q in ("Q8", "Q9"):
        bank = _banks()[q]
        for i, theme in enumerate(bank["themes"]):
            o, n = bank["offsets"][i], bank["sizes"][i]
            for s in list(bank["sentences"][o:o + n]) + list(bank["typos"][o:o + n]):
                assert found(s) == {theme}, s
                assert not negation.search(s), s
        for s in bank["fillers"]:
            assert found(s) == set() and not negation.search(s), s
        for s, theme in zip(bank["negations"], bank["negation_theme"]):
            assert found(s) == {theme} and negation.search(s), s
        # unlisted phrasings: every theme has some, and no codebook phrase finds them
        assert (bank["unlisted_sizes"] >= 4).all()
        for s in list(bank["unlisted"]) + list(bank["unlisted_typos"]):
            assert found(s) == set() and not negation.search(s), s
    for tpl in _text_spec()["pii"]["templates"]:
        assert not found(tpl) and not negation.search(tpl), tpl


def test_planted_themes_and_negations_in_answers(wave):
    found = _theme_finder()
    t, raw = wave.truth, wave.raw
    def ids(cell):
        return set(cell.split(";")) - {""} if isinstance(cell, str) else set()

    n_neg = 0
    for q in ("Q8", "Q9"):
        for text, themes, neg, unl in zip(raw[q], t[f"{q}_themes"], t[f"{q}_negated"],
                                          t[f"{q}_unlisted"]):
            planted, unlisted = ids(themes), ids(unl)
            negated = neg if isinstance(neg, str) and neg else None
            if not isinstance(text, str):
                assert not planted and not unlisted and negated is None
                continue
            hits = found(text)
            assert unlisted <= planted, (text, planted, unlisted)
            # the codebook finds every planted theme but those said in unlisted words
            assert planted - unlisted <= hits and not unlisted & hits, (text, planted)
            assert hits - planted <= ({negated} if negated else set()), (text, planted)
            if negated:
                n_neg += 1
                assert negated not in planted
        # every theme: about 12% of its mentions in words the codebook does not list
        mentions = t[f"{q}_themes"].str.split(";").explode().value_counts()
        mentions = mentions.drop("", errors="ignore")
        unl = t[f"{q}_unlisted"].str.split(";").explode().value_counts()
        share = unl.reindex(mentions.index, fill_value=0) / mentions
        assert share.between(0.08, 0.15).all(), share.round(3).to_dict()
    assert n_neg >= 30
    assert wave.planted["unlisted_mentions"] == sum(
        t[f"{q}_unlisted"].str.count(r"[^;]+").sum() for q in ("Q8", "Q9"))
    # segments differ in what they write about
    q9 = t.assign(theme=t["Q9_themes"].str.split(";")).explode("theme")
    top = q9.groupby("segment")["theme"].agg(lambda s: s.value_counts().index[0])
    assert top["privacy_first"] == "privacy" and top["overwhelmed"] == "overwhelm"
    # realistic mess: blanks, one-word answers, emoji, typos
    q8 = raw["Q8"]
    assert 0.04 < q8.isna().mean() < 0.15
    assert (q8.str.split().str.len() == 1).sum() > 20
    assert q8.str.contains("[\U0001F300-\U0001FAFF]", regex=True).sum() > 10
    assert q8.str.contains(r"\b(?:evrey|wnat|becuase|mnoth|acount)\b", regex=True).sum() > 5


# ------------------------------------------------------------------ recoverability, waves
def test_planted_segments_are_recoverable(wave):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    t = wave.truth
    keep = ~t[["is_test", "is_duplicate", "is_speeder", "is_straightliner", "is_incomplete",
               "fails_attention"]].any(axis=1).to_numpy()
    cols = [q["id"] for q in _questions(wave, type="likert", role="segment")]
    x = _codes(wave)[cols]
    tools = _questions(wave, id="Q4")[0]["options"]
    chosen = wave.raw["Q4"].fillna("").str.split(",")
    for o in tools:
        x[o] = chosen.apply(lambda c, o=o: o in c).astype(float)
    x = x[keep]
    x = x.fillna(x.mean())
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):  # OpenMP threads on a busy CI box cost more than they give
        labels = KMeans(6, n_init=4, random_state=0).fit_predict(x)
    assert adjusted_rand_score(t.loc[keep, "segment"], labels) >= 0.9
    # but single items overlap: no single item separates the segments on its own
    for c in cols:
        between = x[c].groupby(t.loc[keep, "segment"].to_numpy()).mean().var()
        assert between / x[c].var() < 0.9


def test_wave2_has_the_emerging_segment_and_the_shifts(wave, wave2):
    t = wave2.truth
    genuine = t[~t["is_test"] & ~t["is_duplicate"]]
    share = genuine["segment"].value_counts(normalize=True)
    assert share["investors"] == pytest.approx(0.08, abs=0.002)
    assert t["is_emerging"].sum() == (t["segment"] == "investors").sum() > 100
    assert "investors" not in set(wave.truth["segment"].dropna())
    for seg, s in WAVE2_SHARES.items():
        assert share[seg] == pytest.approx(s, abs=0.002)
    # the emerging segment stands apart in the segmentation items
    x = _codes(wave2)
    inv = t["segment"] == "investors"
    assert x.loc[inv.to_numpy(), "Q3_2"].mean() - x.loc[~inv.to_numpy(), "Q3_2"].mean() > 1.5


# ------------------------------------------------------------------ the committed sample
def test_committed_sample_equals_the_generator(tmp_path):
    out, truth = tmp_path / "sample", tmp_path / "truth"
    write_sample(out, truth)
    for folder, committed in ((out, paths.SAMPLE_DIR), (truth, TRUTH_DIR)):
        names = sorted(p.name for p in folder.iterdir())
        assert names, folder
        for name in names:
            assert (committed / name).read_bytes() == (folder / name).read_bytes(), (
                f"{committed / name} differs from the generator: run "
                f"`python -m personalab.datasets data/sample`")
    assert not any("truth" in p.name for p in paths.SAMPLE_DIR.iterdir())
    with pytest.raises(ValueError, match="must not"):
        write_sample(tmp_path / "s2", tmp_path / "s2" / "truth")


def test_sample_truth_files():
    summary = json.loads((TRUTH_DIR / "summary.json").read_text(encoding="utf-8"))
    shifts = summary["wave2_shift"]
    assert shifts["investors"] == {"wave1": 0.0, "wave2": 0.08, "shift_pp": 8.0}
    assert shifts["planners"]["shift_pp"] == pytest.approx(-5.0)
    assert sum(v["shift_pp"] for v in shifts.values()) == pytest.approx(0, abs=1e-6)
    t2 = pd.read_csv(TRUTH_DIR / "wave2_truth.csv")
    assert sorted(summary["emerging_members"]) == sorted(
        t2.loc[t2["segment"] == "investors", "ResponseId"])
    raw = pd.read_csv(paths.SAMPLE_DIR / "sample_wave.csv", skiprows=[1, 2], dtype=str,
                      encoding="utf-8-sig").set_index("ResponseId")
    pii = pd.read_csv(TRUTH_DIR / "sample_wave_pii.csv")
    for r in pii.itertuples():
        assert raw.at[r.ResponseId, r.question][r.start:r.end] == r.text
    study = yaml.safe_load((paths.SAMPLE_DIR / "study.yml").read_text(encoding="utf-8"))
    assert study == {"wave": "sample", "input": "sample_wave.csv", "codebook": "codebook.yml",
                     "themes": "themes.yml", "seed": 42, "output": "reports/sample",
                     "not_a_fit": {"question": "Q2_1", "below": 2.5}}
    assert "synthetic" in (paths.SAMPLE_DIR / "README.md").read_text(encoding="utf-8").lower()


def test_sample_reads_with_the_codebook_and_quality_finds_the_planted_problems():
    from personalab.quality import check_quality
    from personalab.survey import read_survey

    s = read_survey(paths.SAMPLE_DIR / "sample_wave.csv",
                    codebook=paths.SAMPLE_DIR / "codebook.yml")
    assert len(s.data) == 1500 and s.format == "qualtrics"
    assert s.likert(role="segment").shape[1] == 22
    assert s.multi(role="segment").shape[1] == 7
    assert s.weights().mean() == pytest.approx(1, abs=0.002)
    t = pd.read_csv(TRUTH_DIR / "sample_wave_truth.csv").set_index("ResponseId")
    flags = check_quality(s).flags
    for flag, col in (("speeder", "is_speeder"), ("straightliner", "is_straightliner"),
                      ("incomplete", "is_incomplete"), ("test_response", "is_test"),
                      ("duplicate_answers", "is_duplicate"), ("attention_check", "fails_attention")):
        got = set(flags.loc[flags["flag"] == flag, "respondent_id"])
        assert got == set(t.index[t[col]]), flag


@pytest.mark.slow
def test_large_waves_are_fast():
    # 250,000 rows in under 12 s of CPU: a million, linearly, in well under a minute
    import time
    start = time.process_time()
    w = make_survey(250_000, random_state=0)
    assert len(w.raw) == 250_000 and w.planted["speeders"] == 2500
    assert time.process_time() - start < 12


def test_sample_not_a_fit_rule_marks_only_the_segment_that_will_not_link_a_bank():
    """study.yml's not_a_fit holds on privacy_first's profile (true labels) and no other's."""
    from personalab.profiles import profile_segments
    from personalab.survey import read_survey

    rule = yaml.safe_load((paths.SAMPLE_DIR / "study.yml").read_text(encoding="utf-8"))[
        "not_a_fit"]
    for stem in ("sample_wave", "wave2"):
        s = read_survey(paths.SAMPLE_DIR / f"{stem}.csv",
                        codebook=paths.SAMPLE_DIR / "codebook.yml")
        t = pd.read_csv(TRUTH_DIR / f"{stem}_truth.csv").set_index("ResponseId")
        names = sorted(t["segment"].dropna().unique())
        seg = t["segment"].reindex(s.data.index)
        labels = pd.Series([names.index(v) if isinstance(v, str) else -1 for v in seg],
                           index=s.data.index)
        prof = profile_segments(s, labels)
        value = prof[prof["question"] == rule["question"]].set_index("segment")["value"]
        value.index = [names[i] for i in value.index]
        # measured (sample_wave): privacy_first 1.57; the others 3.07 (overwhelmed) to 4.02
        fits = value < rule["below"]
        assert fits.sum() == 1 and fits["privacy_first"], value.round(2).to_dict()
        assert value.drop("privacy_first").min() > rule["below"] + 0.5
