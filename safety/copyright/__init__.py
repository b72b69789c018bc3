"""Rights holders' registry and the copyright-similarity checks (PDQ, SIFT keypoints, optional CLIP).

Domain only: no gate/api imports. Callers pass a SQLModel Session, a media store and decoded images.
"""

from safety.copyright.errors import CopyrightError
from safety.copyright.fusion import MATCH_SCORE, Match
from safety.copyright.images import decode_image, read_image_file
from safety.copyright.index import CopyrightIndex, IndexCheckpoint
from safety.copyright.models import ReferenceKind, Work, WorkPolicy, WorkReference
from safety.copyright.prompt import match_prompt
from safety.copyright.registry import (
    delete_work,
    get_work,
    list_all_works,
    list_works,
    references,
    register_work,
    work_names,
)

__all__ = [
    "MATCH_SCORE",
    "CopyrightError",
    "CopyrightIndex",
    "IndexCheckpoint",
    "Match",
    "ReferenceKind",
    "Work",
    "WorkPolicy",
    "WorkReference",
    "decode_image",
    "delete_work",
    "get_work",
    "list_all_works",
    "list_works",
    "match_prompt",
    "read_image_file",
    "references",
    "register_work",
    "work_names",
]
