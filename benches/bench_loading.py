"""Benchmark: load and validate a large survey export.

A generated Qualtrics-format wave (``personalab.datasets.make_survey``, padded with extra
Likert items to 60 columns) is written once to ``.cache/bench/``; each case then runs in a
fresh process, which reports its wall time and peak resident memory:

* ``pandas.read_csv`` (default C parser, every column as text) — the plain baseline;
* ``pandas.read_csv(engine="pyarrow")`` — the faster parser alone;
* ``load_export`` — PersonaLab's loader (format, header rows, labels, encoding);
* ``load_export + Survey.from_raw`` — loading plus codebook validation and typing.

CPU seconds (user + system, every thread) are reported beside the wall time: on a shared
machine they show the work done, whatever else was running.

Target (issue "Foundation"): 1,000,000 respondents x 60 columns loaded and validated in
under 15 s and under 4 GiB on a 2-core machine.

Usage: ``python -m benches.bench_loading [--quick] [--sizes 100000 1000000] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
N_COLUMNS = 60


def _make_file(n: int) -> tuple[Path, Path]:
    """Write the n-respondent export and its codebook once (cached by size)."""
    import numpy as np
    import yaml

    from personalab.datasets import make_survey, write_qualtrics_csv

    CACHE.mkdir(parents=True, exist_ok=True)
    path, cb_path = CACHE / f"wave_{n}.csv", CACHE / f"wave_{n}.codebook.yml"
    if path.exists() and cb_path.exists():
        return path, cb_path
    wave = make_survey(n, random_state=0, with_text=False, with_pii=False)
    # pad to N_COLUMNS with extra 5-point Likert items, as a long attitude battery would
    extra = N_COLUMNS - wave.raw.shape[1]
    if extra > 0:
        rng = np.random.default_rng(1)
        labels = ["Strongly disagree", "Somewhat disagree", "Neither agree nor disagree",
                  "Somewhat agree", "Strongly agree"]
        scale = [{"code": i + 1, "label": lab} for i, lab in enumerate(labels)]
        for k in range(extra):
            col = f"QX_{k + 1}"
            wave.raw[col] = np.asarray(labels, dtype=object)[rng.integers(0, 5, len(wave.raw))]
            wave.labels[col] = f"Extra battery item {k + 1}"
            wave.import_ids[col] = {"ImportId": f"QIDX{k + 1}"}
            wave.codebook["questions"].append(
                {"id": col, "text": f"Extra battery item {k + 1}", "type": "likert",
                 "role": "segment", "grid": "QX", "scale": scale})
    # no open text in this benchmark: its all-blank columns would (rightly) fail validation
    wave.codebook["questions"] = [q for q in wave.codebook["questions"] if q["type"] != "text"]
    write_qualtrics_csv(wave, path)
    cb_path.write_text(yaml.safe_dump(wave.codebook, sort_keys=False), encoding="utf-8")
    return path, cb_path


_CASES = {
    "pandas.read_csv (C engine)":
        "import pandas as pd; df = pd.read_csv(P, dtype=str, skiprows=[1, 2])",
    "pandas.read_csv (pyarrow engine)":
        "import pandas as pd; df = pd.read_csv(P, dtype=str, engine='pyarrow').iloc[2:]",
    "personalab load_export":
        "from personalab.loaders import load_export; raw = load_export(P)",
    "personalab load_export + Survey.from_raw":
        "from personalab.loaders import load_export; from personalab.codebook import "
        "load_codebook; from personalab.survey import Survey; raw = load_export(P); "
        "s = Survey.from_raw(raw, load_codebook(C)); s.likert()",
}

_CHILD = """
import json, resource, sys, time
P, C = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
exec(sys.argv[3])
dt = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's across exec)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"seconds": dt, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_mib": peak}))
"""


def run_case(code: str, path: Path, cb: Path, repeat: int = 1) -> dict:
    """Run one case ``repeat`` times, each in a fresh process; the fastest run counts."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(cb), code],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            return {"seconds": float("nan"), "cpu_seconds": float("nan"),
                    "peak_mib": float("nan"),
                    "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["slowest"] = max(r["seconds"] for r in runs)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 respondents only")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per case, each in a fresh process; the fastest is shown")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    print("| respondents | columns | file MiB | case | seconds (fastest) | slowest of "
          f"{args.repeat} | CPU s | peak MiB |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        t0 = time.perf_counter()
        path, cb = _make_file(n)
        gen = time.perf_counter() - t0
        with open(path, encoding="utf-8") as fh:
            n_cols = len(fh.readline().split(","))
        size_mib = path.stat().st_size / 2 ** 20
        for name, code in _CASES.items():
            r = run_case(code, path, cb, args.repeat)
            err = f" ({r['error']})" if "error" in r else ""
            print(f"| {n:,} | {n_cols} | {size_mib:,.0f} | {name}{err} | {r['seconds']:.1f} | "
                  f"{r.get('slowest', float('nan')):.1f} | {r['cpu_seconds']:.1f} | "
                  f"{r['peak_mib']:,.0f} |", flush=True)
        print(f"(generating the {n:,}-respondent file took {gen:.0f} s, cached in {CACHE})",
              file=sys.stderr)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
