"""The Dask engine agrees with the local engine on the same partitioned wave.

A LocalCluster with 2 worker processes (module fixture); the wave is a generated survey
with planted segments and themes, split into 3 Qualtrics CSV partitions.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from personalab import steps
from personalab.artifacts import ArtifactStore
from personalab.codebook import load_codebook
from personalab.dask_engine import (concat_surveys, input_partitions, read_partitions,
                                    stratified_sample)
from personalab.datasets import codebook_yaml, make_survey, themes_yaml, write_qualtrics_csv
from personalab.errors import InputError
from personalab.persistence import load_model

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]
N = 1200


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    d = tmp_path_factory.mktemp("partitioned")
    w = make_survey(N, random_state=3)
    write_qualtrics_csv(w, d / "whole.csv")
    cuts = np.split(np.arange(len(w.raw)), [300, 750])       # uneven partitions
    for i, idx in enumerate(cuts):
        part = dataclasses.replace(w, raw=w.raw.iloc[idx].reset_index(drop=True))
        write_qualtrics_csv(part, d / f"part-{i}.csv")
    (d / "codebook.yml").write_text(codebook_yaml(w.codebook), encoding="utf-8")
    (d / "themes.yml").write_text(themes_yaml(w.themes), encoding="utf-8")
    return d, w


@pytest.fixture(scope="module")
def scheduler():
    from personalab.dask_engine import start_local_cluster

    with start_local_cluster(n_workers=2) as cluster:
        yield cluster.scheduler_address


def test_a_local_cluster_leaves_this_process_environment_alone(monkeypatch):
    """Dask's nanny writes OMP_NUM_THREADS=1 & co. into the starting process's environment;
    every notebook kernel started after it would have run single-threaded."""
    import os

    from personalab.dask_engine import dask_client

    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(key, raising=False)
    before = dict(os.environ)
    with dask_client(n_workers=1) as client:
        assert dict(os.environ) == before
        worker_env = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    assert list(worker_env.values()) == ["1"]  # the workers themselves stay single-threaded
    assert dict(os.environ) == before


def _run(wave_dir, out, engine, scheduler=None, **segment_kw):
    steps.ingest(str(wave_dir / "part-*.csv"), output_dir=out,
                 codebook_path=wave_dir / "codebook.yml", wave="w", engine=engine,
                 scheduler=scheduler)
    steps.segment(out, reducer="umap", clusterer="hdbscan", n_boot=2, golden=False,
                  engine=engine, scheduler=scheduler, **segment_kw)
    steps.quotes(out, themes_path=wave_dir / "themes.yml", engine=engine, scheduler=scheduler)
    return ArtifactStore(out)


@pytest.fixture(scope="module")
def runs(wave, scheduler, tmp_path_factory):
    d, _ = wave
    local = _run(d, tmp_path_factory.mktemp("local"), "local")
    dask = _run(d, tmp_path_factory.mktemp("dask"), "dask", scheduler)
    return local, dask


def test_partitions_are_found_in_order_and_read_like_the_whole_file(wave):
    d, w = wave
    files = input_partitions(d / "part-*.csv")
    assert [f.name for f in files] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    cb = load_codebook(d / "codebook.yml")
    parts, report = read_partitions(files, cb, wave="w")
    whole, _ = read_partitions([d / "whole.csv"], cb, wave="w")
    survey = concat_surveys(parts, wave="w")
    pd.testing.assert_frame_equal(survey.data, whole[0].data)
    assert list(survey.partition_of.value_counts(sort=False)) == [300, 450, len(w.raw) - 750]
    assert report.ok
    with pytest.raises(InputError, match="no file matches"):
        input_partitions(d / "nothing-*.csv")


def test_an_id_in_two_partitions_is_an_error_naming_both_files(wave):
    d, _ = wave
    cb = load_codebook(d / "codebook.yml")
    parts, _ = read_partitions([d / "part-0.csv", d / "part-0.csv"], cb)
    with pytest.raises(InputError, match=r"part-0\.csv.*part-0\.csv"):
        concat_surveys(parts)


def test_dask_engine_gives_the_local_engines_results(runs):
    local, dask = runs
    pd.testing.assert_frame_equal(dask.load("survey").data, local.load("survey").data)
    pd.testing.assert_frame_equal(dask.load("quality").exclusions,
                                  local.load("quality").exclusions)
    # fewer kept respondents than the fit sample: both engines fit the same model on everyone
    pd.testing.assert_series_equal(dask.load("labels"), local.load("labels"))
    assert dask.load("labels").nunique() >= 4
    pd.testing.assert_frame_equal(dask.load("sizes"), local.load("sizes"))
    pl, pd_ = local.load("profile"), dask.load("profile")
    num = [c for c in pl.columns if pl[c].dtype.kind == "f"]
    pd.testing.assert_frame_equal(pd_.drop(columns=num), pl.drop(columns=num))
    for c in num:
        np.testing.assert_allclose(pd_[c].to_numpy(float), pl[c].to_numpy(float), rtol=1e-9,
                                   atol=1e-12, equal_nan=True, err_msg=c)
    keys = ["question", "segment", "theme"]
    sl = local.load("theme_shares").sort_values(keys).reset_index(drop=True)
    sd = dask.load("theme_shares").sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(sd[keys], sl[keys])
    np.testing.assert_allclose(sd["share"], sl["share"], rtol=1e-12)
    pd.testing.assert_frame_equal(dask.load("sentiment"), local.load("sentiment"))
    for q, tags in local.load("tags").items():
        other = dask.load("tags")[q]
        pd.testing.assert_frame_equal(other.matrix, tags.matrix)
        pd.testing.assert_frame_equal(other.tags, tags.tags)
    pd.testing.assert_frame_equal(dask.load("quotes"), local.load("quotes"))


def test_sampled_fit_places_every_partition_as_the_fitted_model_does(wave, scheduler, tmp_path):
    """With a fit sample smaller than the wave: stratified sample, exact placement, exact
    profile merged from the partitions."""
    from personalab.profiles import profile_segments

    d, _ = wave
    store = _run(d, tmp_path, "dask", scheduler, fit_sample_size=400)
    model = load_model(tmp_path / "model.joblib")
    survey, quality = store.load("survey"), store.load("quality")
    kept = quality.apply(survey)
    labels = store.load("labels")
    sample = model.respondent_ids_
    assert len(sample) == 400
    # stratified: each partition gives its share of the sample (largest remainders)
    per_part = store.load("partitions")["partition_of"].reindex(sample).value_counts().sort_index()
    kept_per_part = store.load("partitions")["partition_of"].reindex(kept.data.index) \
        .value_counts().sort_index()
    np.testing.assert_allclose(per_part / 400, kept_per_part / len(kept.data), atol=1 / 400)
    # fitted respondents keep their fit labels; everyone else is placed as place() does
    np.testing.assert_array_equal(labels.reindex(sample).to_numpy(), model.labels_)
    rest = kept.data.index.difference(sample, sort=False)
    placed = model.place(kept.subset(rest))
    np.testing.assert_array_equal(labels.reindex(rest).to_numpy(), placed.labels)
    # the profile merged from partitions equals the profile of all kept respondents
    whole = profile_segments(kept, labels)
    merged = store.load("profile")
    num = [c for c in whole.columns if whole[c].dtype.kind == "f"]
    for c in num:
        np.testing.assert_allclose(merged[c].to_numpy(float), whole[c].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=c)
    # the same seed gives the same sample
    again = stratified_sample(kept, 400, strata=store.load("partitions")["partition_of"],
                              random_state=42)
    assert set(again) == set(sample)


def test_parquet_partitions_are_read_like_csv(wave, tmp_path):
    from personalab.loaders import load_export

    d, _ = wave
    cb = load_codebook(d / "codebook.yml")
    for i in range(3):
        load_export(d / f"part-{i}.csv").data.to_parquet(tmp_path / f"part-{i}.parquet")
    from_pq, report = read_partitions(input_partitions(tmp_path), cb, wave="w")
    from_csv, _ = read_partitions(input_partitions(d / "part-*.csv"), cb, wave="w")
    assert report.ok
    pd.testing.assert_frame_equal(concat_surveys(from_pq).data, concat_surveys(from_csv).data)


# ----------------------------------------------------------------------- one convention
_CONVENTIONS_CODEBOOK = """schema_version: 1
survey: conventions
respondent_id: rid
questions:
  - id: rid
    type: id
  - id: spend
    type: numeric
  - id: when
    type: date
"""


def _conventions_wave(d, first, later):
    """A wave written whole and in two partitions: ``first`` and ``later`` are the
    partitions' (spend, when) values."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "codebook.yml").write_text(_CONVENTIONS_CODEBOOK, encoding="utf-8")
    frames = []
    for k, (spend, when) in enumerate([first, later]):
        f = pd.DataFrame({"rid": [f"p{k}-{i}" for i in range(len(spend))], "spend": spend,
                          "when": when})
        f.to_csv(d / f"part-{k}.csv", index=False)
        frames.append(f)
    pd.concat(frames).to_csv(d / "whole.csv", index=False)
    return load_codebook(d / "codebook.yml")


def _whole(d, cb):
    from personalab.loaders import load_export
    from personalab.survey import Survey

    return Survey.from_raw(load_export(d / "whole.csv"), cb).data


@pytest.mark.parametrize("first", [["1,393", "2,250", "3,125"], ["12,000", "1,393", "7"]],
                         ids=["undecided alone", "thousands alone"])
def test_every_partition_reads_numbers_and_dates_as_the_whole_file(tmp_path, first):
    # the first partition alone cannot tell ('1,393': refused) or tells otherwise ('12,000'
    # reads as thousands: 12000 and 1393); the later one's '1,5' decides it for the wave,
    # as it does in the whole file; the dates' day-first order likewise
    cb = _conventions_wave(tmp_path, (first, ["14/04/2024", "03/04/2024", "03/04/2024"]),
                           (["1,5", "7"], ["03/04/2024", "25/06/2024"]))
    whole = _whole(tmp_path, cb)
    assert whole["spend"].tolist()[:2] == [float(first[0].replace(",", ".")),
                                           float(first[1].replace(",", "."))]
    assert whole["when"].dt.month.tolist() == [4, 4, 4, 4, 6]
    parts, _ = read_partitions(input_partitions(tmp_path / "part-*.csv"), cb)
    pd.testing.assert_frame_equal(concat_surveys(parts).data, whole)


def test_partitions_that_mix_conventions_are_refused_naming_both_files(tmp_path):
    cb = _conventions_wave(tmp_path, (["1,5", "2"], ["03/04/2024"] * 2),
                           (["1.5", "7"], ["05/06/2024", "01/02/2024"]))
    with pytest.raises(InputError, match="mix two conventions") as whole_err:
        _whole(tmp_path, cb)
    with pytest.raises(InputError, match="mix two conventions") as err:
        read_partitions(input_partitions(tmp_path / "part-*.csv"), cb)
    assert "part-0.csv row 2" in str(err.value) and "part-1.csv row 2" in str(err.value)
    assert err.value.column == whole_err.value.column == "spend"
    # dates alike: each partition alone reads one order
    cb = _conventions_wave(tmp_path, (["1", "2"], ["13/04/2024", "03/04/2024"]),
                           (["3", "4"], ["04/13/2024", "03/04/2024"]))
    with pytest.raises(InputError, match="mix two orders") as err:
        read_partitions(input_partitions(tmp_path / "part-*.csv"), cb)
    assert err.value.column == "when" and "part-1.csv row 2" in str(err.value)


def test_dask_ingest_reads_every_partition_with_the_wave_convention(tmp_path, scheduler):
    from personalab.dask_engine import dask_client, ingest_partitions

    cb = _conventions_wave(tmp_path / "w", (["1,393", "2,250", "3,125"], ["03/04/2024"] * 3),
                           (["1,5", "7"], ["13/04/2024", "05/06/2024"]))
    with dask_client(scheduler) as client:
        parts, report, _ = ingest_partitions(
            client, input_partitions(tmp_path / "w" / "part-*.csv"), cb,
            output_dir=tmp_path / "out")
    pd.testing.assert_frame_equal(concat_surveys(parts).data, _whole(tmp_path / "w", cb))


def test_dask_sentiment_reads_each_answer_with_its_question(tmp_path, scheduler):
    """'Nothing' to 'What could we improve?' is praise, to 'What did you like?' a
    complaint: the workers score it with the question's wording, as the local engine does."""
    from personalab.dask_engine import dask_client, ingest_partitions, tag_partitions
    from personalab.sentiment import NOTHING_SCORE, sentiment_scores

    d = tmp_path / "w"
    d.mkdir()
    (d / "codebook.yml").write_text(
        "schema_version: 1\nsurvey: s\nrespondent_id: rid\nquestions:\n"
        "  - id: rid\n    type: id\n"
        "  - id: improve\n    text: What could we improve?\n    type: text\n"
        "  - id: liked\n    text: What did you like?\n    type: text\n", encoding="utf-8")
    answers = ["Nothing", "Nothing, it was perfect!", "The app crashes a lot", "nothing"]
    for k in range(2):
        pd.DataFrame({"rid": [f"p{k}-{i}" for i in range(4)], "improve": answers,
                      "liked": answers}).to_csv(d / f"part-{k}.csv", index=False)
    cb = load_codebook(d / "codebook.yml")
    with dask_client(scheduler) as client:
        parts, _, typed = ingest_partitions(client, input_partitions(d / "part-*.csv"), cb,
                                            output_dir=tmp_path / "out")
        kept = concat_surveys(parts)
        labels = pd.Series(0, index=kept.data.index, name="segment")
        _, sentiment, _ = tag_partitions(client, typed, kept.data.index, None, labels)
    texts = kept.text()
    local = pd.DataFrame({q: sentiment_scores(texts[q], question=cb[q].text)
                          for q in texts.columns}, index=texts.index)
    pd.testing.assert_frame_equal(sentiment, local)
    nothing = texts["improve"].str.lower() == "nothing"
    assert (sentiment.loc[nothing, "improve"] >= NOTHING_SCORE).all()
    assert (sentiment.loc[nothing, "liked"] <= -NOTHING_SCORE).all()


def test_given_options_read_every_partition_and_are_checked_against_all(tmp_path):
    # alone, each partition's '1,393' reads two ways; decimal=',' settles it for the wave
    cb = _conventions_wave(tmp_path, (["1,393", "2,250"], ["14/04/2024", "03/04/2024"]),
                           (["3,125", "7"], ["03/04/2024", "25/06/2024"]))
    files = input_partitions(tmp_path / "part-*.csv")
    with pytest.raises(InputError, match="can be read two ways"):
        read_partitions(files, cb)
    parts, _ = read_partitions(files, cb, decimal=",")
    assert concat_surveys(parts).data["spend"].tolist() == [1.393, 2.25, 3.125, 7.0]
    with pytest.raises(InputError, match="not a date with the month first") as err:
        read_partitions(files, cb, decimal=",", dayfirst=False)
    assert "part-0.csv" in str(err.value)


def test_typed_partitions_of_another_input_are_refused(tmp_path, scheduler):
    """The typed partitions live outside the artifacts: an ingest of another input rewrites
    them, and a step reading the earlier survey must not place or tag them."""
    from personalab.artifacts import StaleArtifactError
    from personalab.dask_engine import (dask_client, ingest_partitions, place_partitions,
                                        tag_partitions)

    cb_text = ("schema_version: 1\nsurvey: s\nrespondent_id: rid\nquestions:\n"
               "  - id: rid\n    type: id\n"
               "  - id: improve\n    text: What could we improve?\n    type: text\n")
    waves = {}
    for wave in ("a", "b"):
        d = tmp_path / wave
        d.mkdir()
        (d / "codebook.yml").write_text(cb_text, encoding="utf-8")
        for k in range(2):
            pd.DataFrame({"rid": [f"{wave}{k}-{i}" for i in range(3)],
                          "improve": ["Nothing", "More charts", "Faster sync"]}).to_csv(
                d / f"part-{k}.csv", index=False)
        waves[wave] = d
    cb = load_codebook(waves["a"] / "codebook.yml")
    out = tmp_path / "out"
    with dask_client(scheduler) as client:
        parts, _, typed = ingest_partitions(client, input_partitions(waves["a"] / "part-*.csv"),
                                            cb, output_dir=out)
        ids = concat_surveys(parts).data.index
        labels = pd.Series(0, index=ids, name="segment")
        assert len(tag_partitions(client, typed, ids, None, labels)[1]) == 6
        # wave b ingested into the same folder: wave a's survey no longer has its partitions
        ingest_partitions(client, input_partitions(waves["b"] / "part-*.csv"), cb,
                          output_dir=out)
        with pytest.raises(StaleArtifactError, match="6 of the 6 respondents") as err:
            tag_partitions(client, typed, ids, None, labels)
        assert "'a0-0'" in str(err.value) and "another input" in str(err.value)
        with pytest.raises(StaleArtifactError, match="written by another ingest"):
            place_partitions(client, typed, ids, _NoModel(), labels)


class _NoModel:
    """Stands in for a fitted model: no respondent of the survey is there to place."""

    def place(self, survey):        # pragma: no cover - never reached
        raise AssertionError("placed respondents of another input")
