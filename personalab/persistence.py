"""Save and load fitted segmentation models.

A saved model is a joblib file holding the model plus a small header: the file format, its
version and the versions of PersonaLab and of the libraries whose objects it pickles.
`load_model` refuses a file written by another PersonaLab release or file format with a
clear error (a pickled UMAP/HDBSCAN/scikit-learn object from another release may load
and then give different answers silently) and warns when only a library version differs.

Only load model files you trust: joblib files are pickles and can run code when loaded.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from personalab.errors import ConfigError, short_path

__all__ = ["save_model", "load_model", "ModelVersionError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "personalab.persona_model"
FORMAT_VERSION = 1
_LIBRARIES = ("scikit-learn", "umap-learn", "hdbscan", "numpy")


class ModelVersionError(ConfigError):
    """A saved model was written by a different PersonaLab release or file format."""


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    import personalab

    out = {"personalab": personalab.__version__}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:  # pragma: no cover
            out[lib] = None
    return out


def save_model(model, path, *, compress=3):
    """Write a fitted model to ``path`` (joblib, compressed).

    Parameters
    ----------
    model : fitted PersonaModel (or any fitted estimator)
    path : str or Path
    compress : int, default=3
        joblib compression level.

    Returns
    -------
    Path : the file written.
    """
    import joblib

    path = Path(path)
    if not any(k.endswith("_") and not k.startswith("_") for k in vars(model)):
        raise ConfigError(
            f"{type(model).__name__} is not fitted: there is nothing to save.",
            file=short_path(path),
            fix="Call model.fit(...) first.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "model": model,
    }
    joblib.dump(payload, path, compress=compress)
    return path


def load_model(path, *, strict=True):
    """Read a model written by `save_model`.

    Parameters
    ----------
    path : str or Path
    strict : bool, default=True
        Raise `ModelVersionError` when the file was written by another PersonaLab
        release. With False, only warn (at your own risk).

    Returns
    -------
    The fitted model.

    Raises
    ------
    ModelVersionError
        The file format or the PersonaLab release differs.
    ConfigError
        The file is not a PersonaLab model file.
    """
    import joblib

    path = Path(path)
    where = short_path(path)
    if not path.exists():
        raise ConfigError("No model file here.", file=where, fix="Check the path, or save the model first.")
    try:
        payload = joblib.load(path)
    except Exception as exc:
        raise ConfigError(
            f"Could not read the model file ({type(exc).__name__}: {exc}).",
            file=where,
            fix="Refit the model and save it again with personalab.persistence.save_model.",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(
            "This is not a PersonaLab model file.",
            file=where,
            fix="Load files written by personalab.persistence.save_model.",
        )
    saved = payload.get("versions", {})
    now = _versions()
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelVersionError(
            f"Model file format version {payload.get('format_version')} cannot be read by this "
            f"PersonaLab ({now['personalab']}, format version {FORMAT_VERSION}).",
            file=where,
            fix=f"Install personalab=={saved.get('personalab')} to read it, or refit and save again.",
        )
    if saved.get("personalab") != now["personalab"]:
        msg = (
            f"Model saved with PersonaLab {saved.get('personalab')}, "
            f"this is PersonaLab {now['personalab']}."
        )
        fix = f"Refit the model with this release, or install personalab=={saved.get('personalab')}."
        if strict:
            raise ModelVersionError(msg, file=where, fix=fix)
        warnings.warn(f"{where}: {msg} {fix}", UserWarning, stacklevel=2)
    drift = [f"{lib} {saved.get(lib)} -> {now[lib]}" for lib in _LIBRARIES if saved.get(lib) != now.get(lib)]
    if drift:
        warnings.warn(
            f"{where}: library versions differ from when the model was saved ({'; '.join(drift)}). "
            "Predictions may differ slightly; refit if exact reproduction matters.",
            UserWarning,
            stacklevel=2,
        )
    return payload["model"]
