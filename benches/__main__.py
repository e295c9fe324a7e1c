"""Run every benchmark module (``benches/bench_*.py``), each in a fresh process.

Usage::

    python -m benches                 # all benchmarks
    python -m benches loading tagging # only these
    python -m benches --quick         # smaller sizes, for a smoke run

Each module prints its own table (seconds, peak memory, and the plain baseline measured in the
same run). Benchmarks are never timed unit tests: the figures go into benches/README.md with
the machine they were measured on.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if m.removeprefix("bench_") in names or m in names]
    print(f"# PersonaLab benchmarks on {platform.node() or 'this machine'}: "
          f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}")
    failed = []
    for mod in modules:
        print(f"\n## {mod}\n", flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", f"benches.{mod}"] + (["--quick"] if quick else [])
        rc = subprocess.call(cmd, cwd=HERE.parent)
        print(f"\n({mod}: {time.perf_counter() - t0:.0f} s wall, exit {rc})", flush=True)
        if rc:
            failed.append(mod)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
