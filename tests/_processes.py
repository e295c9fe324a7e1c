"""Process look-ups shared by the pipeline tests (Linux /proc)."""
from __future__ import annotations

import os
from pathlib import Path


def kernels_of_this_process() -> list[int]:
    """Pids of the ipykernel processes this test process started and has not reaped."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"ipykernel" in cmd:
            found.append(int(d.name))
    return found
