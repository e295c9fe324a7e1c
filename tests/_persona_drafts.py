"""Hand-made persona drafts and artifact stores shared by the report tests."""
from __future__ import annotations

from personalab.artifacts import ArtifactStore
from personalab.personas import Evidence, PersonaDraft, Statement


def persona_draft(seg: int, name: str, jaccard: float = 0.95, *, share: float = 0.25,
                  ci: tuple = (0.2, 0.3), text: str | None = None) -> PersonaDraft:
    """A persona of 100 respondents, "high" at ``jaccard``, with one statement on "x"."""
    st = Statement(text or f"People like {name} agree more than most that “x” (mean 4.1 vs "
                   "3.0 of 5).",
                   [Evidence("profile", "profile:x", question="x", value=4.1, total=3.0)], "over")
    return PersonaDraft(
        segment=seg, name=name, first_name=name, descriptor="", headline=st,
        size={"n": 100, "share": share, "weighted_share": share, "ci_low": ci[0],
              "ci_high": ci[1]},
        size_statement=Statement("100 respondents.", [Evidence("size", f"size:{seg}")]),
        confidence="high",
        confidence_statement=Statement(
            f"High confidence: the segment reproduces at Jaccard {jaccard:.2f} across "
            "resamples and 0% of respondents are unassigned.",
            [Evidence("stability", f"stability:{seg}", value=jaccard)]),
        distinctive=[st], narrative=[st])


def artifact_store(tmp_path, **artifacts) -> ArtifactStore:
    """An ArtifactStore in ``tmp_path`` holding ``artifacts`` (name -> object)."""
    store = ArtifactStore(tmp_path)
    for name, obj in artifacts.items():
        store.save(name, obj)
    return store
