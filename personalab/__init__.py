"""PersonaLab: from raw survey waves to data-driven personas."""
from __future__ import annotations

__version__ = "0.1.0"
