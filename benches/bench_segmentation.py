"""Segmentation benchmark: PersonaModel vs a plain umap-learn + hdbscan fit.

Each (method, size) runs in a fresh Python process, so numba JIT compilation and imports
are counted as a researcher would meet them in a new kernel. Prints one table:
seconds (wall, whole process work after start-up), peak memory (max RSS of the worker),
ARI against the planted segments, segments found and unassigned share.

Data: survey-like answers with 6 planted segments (one ~5%), 40 Likert items on 1..5:
each segment has a mean profile; a respondent answers around it with normal noise
(sd 0.85) plus a personal lean (sd 0.3), rounded and clipped, as personalab.datasets does.

    python -m benches.bench_segmentation                 # 10k and 100k
    python -m benches.bench_segmentation --sizes 10000 --skip-plain

Timings depend on the machine; report its cores with the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SHARES = (0.27, 0.22, 0.17, 0.15, 0.135, 0.055)
N_ITEMS = 40


def planted_answers(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    means = rng.uniform(1.3, 4.7, size=(len(SHARES), N_ITEMS))
    y = rng.choice(len(SHARES), size=n, p=np.array(SHARES) / sum(SHARES))
    lean = rng.normal(0, 0.3, size=(n, 1))
    X = np.clip(np.rint(means[y] + lean + rng.normal(0, 0.85, size=(n, N_ITEMS))), 1, 5)
    return X.astype(np.float64), y


def _worker(method, n):
    import resource

    t0 = time.perf_counter()
    from sklearn.metrics import adjusted_rand_score

    X, y = planted_answers(n)
    t_data = time.perf_counter() - t0
    t1 = time.perf_counter()
    if method == "personalab":
        from personalab.segmentation import PersonaModel

        model = PersonaModel(random_state=0).fit(X)
        labels = model.labels_
    elif method == "plain":
        import hdbscan
        import umap

        emb = umap.UMAP(n_components=5, min_dist=0.0, random_state=0).fit_transform(X)
        labels = hdbscan.HDBSCAN(min_cluster_size=max(5, int(0.05 * n))).fit(emb).labels_
    else:
        raise SystemExit(f"unknown method {method}")
    secs = time.perf_counter() - t1
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "method": method,
                "n": n,
                "seconds": round(secs, 1),
                "data_seconds": round(t_data, 1),
                "peak_mib": round(peak_kib / 1024),
                "ari": round(float(adjusted_rand_score(y, labels)), 3),
                "segments": int(len(set(labels) - {-1})),
                "unassigned": round(float((labels == -1).mean()), 3),
            }
        )
    )


def run(sizes=(10_000, 100_000), skip_plain=False, timeout=1800):
    rows = []
    methods = ["personalab"] + ([] if skip_plain else ["plain"])
    for n in sizes:
        for method in methods:
            t0 = time.perf_counter()
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "benches.bench_segmentation", "--worker", method, str(n)],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    env={**os.environ, "PYTHONWARNINGS": "ignore"},
                )
                line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                row = json.loads(line[-1]) if line else {"method": method, "n": n, "error": out.stderr[-300:]}
            except subprocess.TimeoutExpired:
                row = {"method": method, "n": n, "error": f"timeout after {timeout}s"}
            row["process_seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            print(_fmt(row), flush=True)
    return rows


_COLS = ("method", "n", "seconds", "process_seconds", "peak_mib", "ari", "segments", "unassigned")


def _fmt(row):
    return " | ".join(f"{row.get(c, row.get('error', ''))!s:>10}" for c in _COLS)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--skip-plain", action="store_true", help="only time PersonaModel")
    p.add_argument("--worker", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return
    print(f"machine: {os.cpu_count()} cores; NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(numba default)')}")
    print(" | ".join(f"{c:>10}" for c in _COLS))
    run(args.sizes, args.skip_plain)


if __name__ == "__main__":
    main()
