"""``python -m personalab run ...`` is the same as ``personalab run ...``."""
import sys

from .cli import main

sys.exit(main())
