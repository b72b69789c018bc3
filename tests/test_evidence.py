"""Which flagged frames outlive a refused draft: never those of sexual content."""

from __future__ import annotations

from gate.evidence import flagged_frames


def test_likeness_and_copyright_frames_are_kept_in_order() -> None:
    decisions = [
        {"name": "frames", "decision": "pass", "evidence": [{"frame": 3, "category": "violence"}]},
        {"name": "likeness", "decision": "block", "evidence": [
            {"frame": 12, "handle": "alice_cam", "allowed": False},
            {"frame": 4, "handle": "bob_cam", "allowed": True},  # a consented face is not evidence
        ]},
        {"name": "copyright", "decision": "review", "evidence": [{"frame": 7, "work": "Gopher"}]},
    ]
    assert flagged_frames(decisions) == [7, 12]


def test_sexual_content_frames_are_never_kept() -> None:
    decisions = [{"name": "frames", "decision": "block", "evidence": [
        {"frame": 5, "category": "nudity", "score": 0.9},
        {"frame": 9, "category": "violence", "score": 0.9},
    ]}]
    assert flagged_frames(decisions) == []
    decisions[0]["evidence"] = [{"frame": 2, "category": "minor_sexual", "score": 0.5}]
    assert flagged_frames(decisions) == []
