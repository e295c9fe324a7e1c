"""The offline text pipeline shared by theme tagging, PII redaction and quotes.

PersonaLab never downloads anything at run time. :func:`get_nlp` builds

* ``spacy.blank("en")`` + ``sentencizer`` + a lookup lemmatizer (tables from
  ``spacy-lookups-data``), by default; or
* ``en_core_web_sm`` (better lemmas, named entities) when that optional package is
  importable. It is picked up when present and never required.

Either way every token's ``lemma_`` is **lower case**, so phrases match on lemmas
case-insensitively ("Prices", "PRICE" and "price" all have the lemma ``price``).

Normalisation helpers turn raw open-text cells into clean strings: stripped,
blank -> NaN, Unicode NFC, with emoji (and the joiners and variation selectors that
build them) left intact.
"""
from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

#: spaCy package used when it is installed (``pip install en_core_web_sm``).
OPTIONAL_MODEL = "en_core_web_sm"
#: Value of ``nlp.meta["personalab_pipeline"]`` for the built-in blank pipeline.
LOOKUP_PIPELINE = "blank_en_lookup"
#: Texts per batch in ``nlp.pipe``.
BATCH_SIZE = 1000

# Characters that carry no text and come from copy-paste or exports (BOM, NUL, C0/C1
# controls other than tab and newline). Zero-width *joiner* (U+200D) and variation
# selectors are kept: they are parts of emoji.
_JUNK_CHARS = re.compile("[\ufeff\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b]")


@functools.lru_cache(maxsize=1)
def lemma_table() -> dict[str, str]:
    """The English lookup lemma table (lower-case form -> lemma), from spacy-lookups-data.

    Keys are folded to lower case: the table's own lower-case entries win over an
    entry that only differs in case.
    """
    lower: dict[str, str] = {}
    cased: dict[str, str] = {}
    data = _lookup_json()
    for form, lemma in data.items():
        target = lower if form == form.lower() else cased
        target[form.lower()] = lemma.lower()
    for form, lemma in cased.items():
        lower.setdefault(form, lemma)
    return lower


def _lookup_json() -> dict[str, str]:
    """The packaged English lemma lookup JSON (gzipped in recent spacy-lookups-data)."""
    from pathlib import Path

    import spacy_lookups_data
    import srsly

    path = Path(spacy_lookups_data.en["lemma_lookup"])
    if path.exists():
        return srsly.read_json(path)
    return srsly.read_gzip_json(path.with_name(path.name + ".gz"))


def lemmatize_word(word: str) -> str:
    """Lemma of one token as the default pipeline gives it (lower case)."""
    low = word.lower()
    return lemma_table().get(low, low)


def _register_components() -> None:
    from spacy.language import Language

    if Language.has_factory("personalab_lookup_lemmatizer"):
        return

    @Language.component("personalab_lookup_lemmatizer")
    def lookup_lemmatizer(doc):
        table = lemma_table()
        for token in doc:
            low = token.lower_
            token.lemma_ = table.get(low, low)
        return doc

    @Language.component("personalab_lower_lemmas")
    def lower_lemmas(doc):
        for token in doc:
            token.lemma_ = token.lemma_.lower()
        return doc


def optional_model_available() -> bool:
    """True when ``en_core_web_sm`` can be imported."""
    return importlib.util.find_spec(OPTIONAL_MODEL) is not None


@functools.lru_cache(maxsize=4)
def get_nlp(model: str = "auto"):
    """The shared spaCy pipeline, built once per process.

    Parameters
    ----------
    model : {"auto", "blank", "en_core_web_sm"}
        ``"auto"`` uses ``en_core_web_sm`` when it is installed, else the blank
        pipeline; ``"blank"`` always uses the blank pipeline (deterministic across
        machines, and what the fast tagging path reproduces).

    Returns
    -------
    spacy.language.Language
        Tokens carry lower-case ``lemma_`` and sentence boundaries.
    """
    import spacy

    from .errors import ConfigError

    _register_components()
    if model not in ("auto", "blank", OPTIONAL_MODEL):
        raise ConfigError(f"unknown text model {model!r}",
                          fix=f"use 'auto', 'blank' or '{OPTIONAL_MODEL}'")
    if model == OPTIONAL_MODEL or (model == "auto" and optional_model_available()):
        try:
            nlp = spacy.load(OPTIONAL_MODEL)
        except (ImportError, OSError) as exc:
            if model == OPTIONAL_MODEL:
                raise ConfigError(f"{OPTIONAL_MODEL} cannot be loaded ({exc})",
                                  fix=f"pip install {OPTIONAL_MODEL}, or use model='blank'") from exc
        else:
            nlp.add_pipe("personalab_lower_lemmas", last=True)
            nlp.meta["personalab_pipeline"] = OPTIONAL_MODEL
            return nlp
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("personalab_lookup_lemmatizer")
    nlp.meta["personalab_pipeline"] = LOOKUP_PIPELINE
    return nlp


def is_lookup_pipeline(nlp) -> bool:
    """True for the blank pipeline of :func:`get_nlp` (the one the fast path reproduces)."""
    return nlp.meta.get("personalab_pipeline") == LOOKUP_PIPELINE


def has_entities(nlp) -> bool:
    """True when the pipeline has a named-entity recogniser."""
    return "ner" in nlp.pipe_names


def pipe(texts: Iterable[str], nlp=None, *, batch_size: int = BATCH_SIZE) -> Iterator:
    """``nlp.pipe`` over texts, single process (``n_process>1`` is slower here)."""
    nlp = nlp or get_nlp()
    return nlp.pipe(texts, batch_size=batch_size)


def normalize_text(value, *, na_values: Iterable[str] = ()) -> str | float:
    """One open-text cell as a clean string, or NaN when it holds no answer.

    Strips surrounding whitespace and invisible junk (BOM, control characters,
    zero-width spaces), applies Unicode NFC, and keeps emoji intact.

    Parameters
    ----------
    value : object
        The cell (str, number, None, NaN).
    na_values : iterable of str
        Extra answers that mean "no answer" (compared case-insensitively after
        stripping), e.g. ``("n/a", "-")``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    text = unicodedata.normalize("NFC", _JUNK_CHARS.sub("", str(value))).strip()
    if not text:
        return np.nan
    if na_values and text.lower() in {v.strip().lower() for v in na_values}:
        return np.nan
    return text


def normalize_series(texts, *, na_values: Iterable[str] = ()) -> pd.Series:
    """:func:`normalize_text` over a Series (index kept; result dtype object)."""
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    na_values = tuple(na_values)
    return pd.Series([normalize_text(v, na_values=na_values) for v in s.to_numpy(dtype=object)],
                     index=s.index, name=s.name, dtype=object)
