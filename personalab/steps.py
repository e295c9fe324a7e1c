"""The pipeline's steps as plain functions: what each notebook calls.

Each step reads what earlier steps saved in the run's output folder, does its work through
the library modules, saves its own results there, and returns them for the notebook to show.
A notebook holds the narrative and the display; the logic lives here and in the modules it
calls, so every step can be tested and rerun without Jupyter.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .artifacts import ArtifactStore


@dataclass
class IngestResult:
    """What the ingest step produced."""

    survey: object
    quality: object
    validation: object
    codebook_path: Path | None
    drafted_codebook: Path | None


def ingest(input_path, *, output_dir, codebook_path=None, wave=None, file_format="auto",
           exclude_flags=None) -> IngestResult:
    """Load a raw export, validate it against its codebook, and check data quality.

    Parameters
    ----------
    input_path : str or Path
        The raw export. It is only read, never modified.
    output_dir : str or Path
        The run's output folder.
    codebook_path : str or Path, optional
        The survey codebook. Without one, a draft is inferred, used, and written to
        ``<output_dir>/codebook_draft.yml`` for the researcher to review.
    wave : str, optional
        Wave name (default: the export's file name).
    file_format : str
        Export format or ``"auto"``.
    exclude_flags : list of str, optional
        Quality flags that exclude a respondent (default: ``QualityRules`` default).

    Returns
    -------
    IngestResult
    """
    from .codebook import infer_codebook, load_codebook, save_codebook, validate_codebook
    from .exports import to_safe_csv
    from .loaders import load_export
    from .quality import QualityRules, check_quality
    from .survey import Survey

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(out)
    raw = load_export(input_path, format=file_format)
    drafted = None
    if codebook_path is None:
        codebook = infer_codebook(raw)
        drafted = out / "codebook_draft.yml"
        save_codebook(codebook, drafted)
    else:
        codebook = load_codebook(codebook_path)
    validation = validate_codebook(codebook, raw)
    survey = Survey.from_raw(raw, codebook, wave=wave)
    rules = QualityRules() if exclude_flags is None else QualityRules(exclude=tuple(exclude_flags))
    quality = check_quality(survey, rules)
    store.save("survey", survey)
    store.save("quality", quality)
    store.save("validation", validation)
    to_safe_csv(quality.exclusions, out / "exclusions.csv")
    to_safe_csv(quality.flags, out / "quality_flags.csv")
    return IngestResult(survey=survey, quality=quality, validation=validation,
                        codebook_path=Path(codebook_path) if codebook_path else None,
                        drafted_codebook=drafted)


def report(output_dir, *, wave=None, seed=None) -> Path:
    """Render the stakeholder report from whatever steps have run."""
    from .report import build_report

    return build_report(Path(output_dir), wave=wave, run_info={"seed": seed})
