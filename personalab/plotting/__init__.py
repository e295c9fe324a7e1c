"""Plotting: small ``visualize_*`` functions that return a ``plotly.graph_objects.Figure``.

None of them calls ``.show()``: a notebook displays the returned figure, a report embeds
it. Every piece of respondent text shown on hover is HTML-escaped (answers are untrusted).
A segment keeps one colour in every figure (:func:`segment_colors`, keyed on its label
alone) and one name (:func:`segment_label`: the persona's, else 'Segment <k>'); unassigned
is grey.
"""
from __future__ import annotations

from personalab.plotting._common import UNASSIGNED_COLOR, segment_colors, segment_label
from personalab.plotting.profiles import visualize_profile_heatmap
from personalab.plotting.segments import (visualize_overlap, visualize_segment_map,
                                          visualize_sizes)

__all__ = [
    "segment_colors",
    "segment_label",
    "UNASSIGNED_COLOR",
    "visualize_segment_map",
    "visualize_sizes",
    "visualize_profile_heatmap",
    "visualize_overlap",
]
