"""Plotting: small ``visualize_*`` functions that return a ``plotly.graph_objects.Figure``.

None of them calls ``.show()``: a notebook displays the returned figure, a report embeds
it. Every piece of respondent text shown on hover is HTML-escaped (answers are untrusted).
Segments keep one colour across figures (:func:`segment_colors`); unassigned is grey.
"""
from __future__ import annotations

from personalab.plotting._common import UNASSIGNED_COLOR, segment_colors
from personalab.plotting.profiles import visualize_profile_heatmap
from personalab.plotting.segments import (visualize_overlap, visualize_segment_map,
                                          visualize_sizes)

__all__ = [
    "segment_colors",
    "UNASSIGNED_COLOR",
    "visualize_segment_map",
    "visualize_sizes",
    "visualize_profile_heatmap",
    "visualize_overlap",
]
