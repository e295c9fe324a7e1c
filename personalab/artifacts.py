"""Where one run keeps what each pipeline step hands to the next.

Every step (notebook) reads its inputs from, and writes its outputs to, the run's output
folder, so a step can be rerun alone and the analysis is a DAG rebuilt from the raw export.
Artifacts hold respondents' answers: they stay in ``reports/<wave>/artifacts/`` (git-ignored)
and never go into the stakeholder report as they are.

Every artifact carries the run it belongs to. ``artifacts/run.json`` names the current run
(an id, the wave and the export its survey was read from, with its SHA-256), for each
artifact the run that saved it, and for each earlier run the export it read (so a refusal
names the input an artifact was made from). The ingest step starts a new run: when it saves again an artifact the current
run already has (``survey``, ``quality``...), every artifact saved before belongs to the
earlier run, and :meth:`ArtifactStore.load` refuses it instead of pairing, say, a new wave's
survey with the last wave's personas. (``personalab run`` starts the run itself, with a
clean folder: see :mod:`personalab.pipeline`.)
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import joblib
import pandas as pd

from .errors import PersonaLabError

#: What the ingest step saves: saving one again starts a new run in the folder.
INGEST_ARTIFACTS = ("partitions", "survey", "quality", "validation")
#: The file that says which run each artifact belongs to.
RUN_FILE = "run.json"


class StaleArtifactError(PersonaLabError):
    """An artifact was saved by an earlier run (another input) than the folder's current one."""


class ArtifactStore:
    """Save and load a run's intermediate results by name.

    Parameters
    ----------
    output_dir : str or Path
        The run's output folder (``reports/<wave>``); artifacts go to ``artifacts/`` in it.
    """

    def __init__(self, output_dir):
        self.output_dir = Path(output_dir)
        self.dir = self.output_dir / "artifacts"

    def path(self, name: str, suffix: str = ".joblib") -> Path:
        return self.dir / f"{name}{suffix}"

    # ------------------------------------------------------------------ which run
    def run_info(self) -> dict | None:
        """The folder's current run: ``{"run_id", "started", "wave", "input", ...,
        "artifacts": {name: run_id}}``, or None when no run has been recorded."""
        p = self.dir / RUN_FILE
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise PersonaLabError(f"{p} is unreadable: the run that wrote this folder was cut "
                                  f"off. Fix: rerun every step (personalab run without "
                                  f"--steps).") from None

    def begin_run(self, **info) -> str:
        """Start a new run in this folder: artifacts saved before belong to the earlier run.

        ``info`` (wave, input...) is recorded for messages and returned by :meth:`run_info`.
        """
        before = self.run_info()
        run_id = uuid.uuid4().hex[:12]
        # the earlier run's artifacts stay listed under their run, so they are refused; the
        # input each earlier run read is kept for the refusal to name
        runs = dict(before.get("runs", {})) if before else {}
        if before:
            runs[before["run_id"]] = {k: before.get(k) for k in ("wave", "input",
                                                                 "input_sha256")}
        runs = {k: runs[k] for k in list(runs)[-20:]}
        self._write_run({"run_id": run_id, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                         **info, "artifacts": dict(before["artifacts"]) if before else {},
                         "runs": runs})
        return run_id

    def _write_run(self, info: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.dir / RUN_FILE
        tmp = p.with_name(f".{RUN_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, p)      # never a half-written run file

    def _stamp(self, name: str, obj=None) -> None:
        info = self.run_info()
        if info is None or (name in INGEST_ARTIFACTS
                            and info["artifacts"].get(name) == info["run_id"]):
            # the ingest step runs again: a new run starts here
            self.begin_run()
            info = self.run_info()
        if name == "survey":
            info["wave"] = getattr(obj, "wave", None)
            source = getattr(obj, "source", None)
            info["input"] = str(source) if source is not None else None
            info["input_sha256"] = getattr(obj, "sha256", None)
        info["artifacts"][name] = info["run_id"]
        self._write_run(info)

    def _check_current(self, name: str, key: str) -> None:
        info = self.run_info()
        if info is None:
            return
        owner = info["artifacts"].get(key)
        # an artifact the run file does not list was put there by hand: taken as it is
        if owner is None or owner == info["run_id"]:
            return
        now = f" (read from {info['input']})" if info.get("input") else ""
        made = (info.get("runs") or {}).get(owner) or {}
        was = f", made from {made['input']}" if made.get("input") else ""
        if made.get("input") and made.get("input") == info.get("input"):
            was += " (read again since)"
        raise StaleArtifactError(
            f"artifact {name!r} in {self.dir} belongs to an earlier run{was}, not to the "
            f"current run's survey{now}: the steps between ingest and this one have not run "
            f"since the wave was read again. Fix: run every step after ingest (personalab "
            f"run without --steps, or the notebooks in order).")

    # ------------------------------------------------------------------ objects
    def save(self, name: str, obj) -> Path:
        """Pickle any Python object (Survey, fitted model, result dataclass).

        Uncompressed: zlib took 1.4 s of a 100,000-respondent survey's 1.5 s to save (and
        ~14 s at a million) for a file 5x smaller; artifacts are working files of one run
        (about 1.6 KB per respondent), not an archive.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.path(name)
        self._stamp(name, obj)
        try:
            joblib.dump(obj, p, compress=0)
        except BaseException:
            p.unlink(missing_ok=True)     # a half-written pickle (disk full) is never read
            raise
        return p

    def load(self, name: str):
        p = self.path(name)
        if not p.exists():
            raise PersonaLabError(
                f"artifact {name!r} not found in {self.dir}: the step that makes it has not run "
                f"for this output folder. Fix: run the earlier notebooks (or `personalab run`) "
                f"with the same output_dir first.")
        self._check_current(name, name)
        return joblib.load(p)

    def has(self, name: str) -> bool:
        return self.path(name).exists()

    # ------------------------------------------------------------------ tables
    def save_table(self, name: str, df: pd.DataFrame) -> Path:
        """A tidy table as Parquet (typed, fast), for other steps and the report."""
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.path(name, ".parquet")
        self._stamp(f"{name}.parquet")
        try:
            df.to_parquet(p, index=True)
        except BaseException:
            p.unlink(missing_ok=True)
            raise
        return p

    def load_table(self, name: str) -> pd.DataFrame:
        p = self.path(name, ".parquet")
        if not p.exists():
            raise PersonaLabError(f"table {name!r} not found in {self.dir}. Fix: run the step "
                                  f"that writes it first.")
        self._check_current(name, f"{name}.parquet")
        return pd.read_parquet(p)
