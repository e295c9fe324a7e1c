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

:func:`effective_n_jobs` and :func:`map_blocks` split the work of theme tagging and
sentiment over forked worker processes (``n_jobs``, scikit-learn's convention).
"""
from __future__ import annotations

import functools
import importlib.util
import multiprocessing
import os
import re
import sys
import threading
import traceback
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

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


# --------------------------------------------------------------------------- distinct answers
#: Every character Python's ``str.isspace`` (and so ``str.strip`` / ``str.split``) treats as
#: whitespace, for Arrow's regular expressions (tests check it against Python's own table).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _re2_class(chars: str) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


#: An answer that is blank: nothing but whitespace (or empty).
_BLANK_RE2 = "^" + _re2_class(WHITESPACE) + "*$"
#: What keeps an answer off the fast paths: two spaces in a row, a space at either end,
#: or whitespace other than the plain space.
_NOT_PLAIN_RE2 = "  |^ | $|" + _re2_class(WHITESPACE.replace(" ", ""))


@dataclass
class DistinctTexts:
    """The distinct non-blank answers of a column, so that work is done once per text.

    Attributes
    ----------
    codes : ndarray of int64
        Per answer, the position of its text in the distinct texts; -1 for a blank
        or missing answer.
    arrow : pyarrow.LargeStringArray or None
        The distinct texts in order of first appearance; None when some text cannot
        be stored as UTF-8 (a lone surrogate), in which case only :attr:`values` exists.
    """

    codes: np.ndarray
    arrow: object = None
    _values: list | None = None

    def __len__(self) -> int:
        return len(self.arrow) if self.arrow is not None else len(self._values)

    @property
    def answered(self) -> np.ndarray:
        return self.codes >= 0

    def values(self) -> list[str]:
        """The distinct texts as Python strings."""
        if self._values is None:
            self._values = self.arrow.to_pylist()
        return self._values

    def take(self, positions) -> list[str]:
        """Some of the distinct texts as Python strings."""
        if self._values is not None:
            return [self._values[i] for i in positions]
        return self.arrow.take(pa_indices(positions)).to_pylist()

    def plain(self) -> np.ndarray:
        """Per distinct text: single spaces only, none at either end, no other whitespace."""
        if self.arrow is None:
            return np.array([not re.search(r"  |^ | $|[^\S ]", t) for t in self._values],
                            dtype=bool)
        import pyarrow.compute as pc

        return ~pc.match_substring_regex(self.arrow, _NOT_PLAIN_RE2).to_numpy(
            zero_copy_only=False).astype(bool)

    def sizes(self) -> np.ndarray:
        """Length of each distinct text (UTF-8 bytes, or characters without Arrow)."""
        if self.arrow is None:
            return np.fromiter(map(len, self._values), dtype=np.int64, count=len(self._values))
        import pyarrow.compute as pc

        return pc.binary_length(self.arrow).to_numpy(zero_copy_only=False).astype(np.int64)


def pa_indices(positions):
    import pyarrow as pa

    return pa.array(np.asarray(positions, dtype=np.int64))


def distinct_texts(texts) -> DistinctTexts:
    """Blank/missing answers and the distinct non-blank texts of a Series (see
    :class:`DistinctTexts`). Answers that are not strings count as missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    arr = None
    try:
        if isinstance(s.dtype, pd.StringDtype):
            arr = pa.array(s.array, from_pandas=True)
        else:
            values = s.to_numpy(dtype=object)
            if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
                arr = pa.array(values, type=pa.large_string(), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if arr is not None and not pa.types.is_large_string(arr.type):
            arr = arr.cast(pa.large_string())
    except (pa.ArrowException, UnicodeError, TypeError):  # e.g. a lone surrogate
        arr = None
    if arr is None:
        values = s.to_numpy(dtype=object)
        answered = np.array([isinstance(v, str) and bool(v.strip()) for v in values], dtype=bool)
        codes, uniques = pd.factorize(np.where(answered, values, None))
        return DistinctTexts(codes=codes.astype(np.int64), _values=list(uniques))
    blank = pc.match_substring_regex(arr, _BLANK_RE2)
    kept = pc.if_else(pc.fill_null(blank, True), pa.scalar(None, pa.large_string()), arr)
    encoded = pc.dictionary_encode(kept)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return DistinctTexts(codes=codes, arrow=encoded.dictionary)


# --------------------------------------------------------------------------- worker processes
#: With ``n_jobs=None``, inputs with at least this many distinct answers use every core.
#: Below it one process is faster: forking and sending results back cost ~0.1 s.
PARALLEL_MIN_TEXTS = 20_000


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes may be forked from here.

    Only on Linux, from the main thread of a process that is not itself a daemon
    worker (a Dask or multiprocessing worker cannot have children; forking from a
    thread of a multi-threaded scheduler risks deadlocks).
    """
    return (sys.platform.startswith("linux")
            and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon
            and threading.current_thread() is threading.main_thread())


def effective_n_jobs(n_jobs: int | None, n_texts: int) -> int:
    """How many processes work on ``n_texts`` distinct texts (1: this process only).

    ``n_jobs=None`` is 1 below :data:`PARALLEL_MIN_TEXTS` texts and every available
    core from there; ``-1`` is every core, ``-2`` all but one (scikit-learn's
    convention). Where processes cannot be forked (see :func:`can_fork`) it is 1:
    the results are the same either way.
    """
    from .errors import ConfigError

    if n_jobs is None:
        n = available_cpus() if n_texts >= PARALLEL_MIN_TEXTS else 1
    else:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
            raise ConfigError(f"n_jobs={n_jobs!r} is not a number of processes",
                              fix="use None (automatic), 1, 2, ... or -1 (every core)")
        n = int(n_jobs) if n_jobs > 0 else max(1, available_cpus() + 1 + int(n_jobs))
    n = max(1, min(n, n_texts))
    return n if n == 1 or can_fork() else 1


def split_even(sizes, n_parts: int) -> list[tuple[int, int]]:
    """``n_parts`` contiguous (start, stop) ranges over items of the given sizes, of
    about equal total size (so workers given texts by length finish together)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    if n_parts <= 1 or len(sizes) == 0:
        return [(0, len(sizes))]
    cum = np.cumsum(sizes)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_parts) / n_parts, side="right")
    bounds = [0, *np.minimum(cuts, len(sizes)).tolist(), len(sizes)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def map_blocks(fn: Callable[[int], object], n_blocks: int) -> list:
    """``[fn(0), ..., fn(n_blocks - 1)]``, block 0 here and each other block in a forked
    child process (its result comes back pickled).

    ``fn`` and the data it reads reach the children by ``fork`` (nothing is pickled on
    the way in), so callers hand it a closure over their inputs. Call only where
    :func:`can_fork` is true; with one block nothing is forked.
    """
    if n_blocks <= 1:
        return [fn(0)] if n_blocks == 1 else []
    ctx = multiprocessing.get_context("fork")
    children = []
    try:
        for i in range(1, n_blocks):
            receiver, sender = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_run_block, args=(fn, i, sender), daemon=True,
                               name=f"personalab-block-{i}")
            proc.start()
            sender.close()
            children.append((proc, receiver))
        results = [fn(0)]
        for i, (proc, receiver) in enumerate(children, start=1):
            try:
                ok, value = receiver.recv()
            except EOFError:
                proc.join()
                raise RuntimeError(f"worker process for block {i} died "
                                   f"(exit code {proc.exitcode}); rerun with n_jobs=1") from None
            if not ok:
                raise RuntimeError(f"worker process for block {i} failed:\n{value}")
            results.append(value)
        return results
    finally:
        for proc, receiver in children:
            receiver.close()
            if proc.is_alive():
                proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def _run_block(fn, i, sender) -> None:
    try:
        result = (True, fn(i))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        result = (False, traceback.format_exc())
    sender.send(result)
    sender.close()
