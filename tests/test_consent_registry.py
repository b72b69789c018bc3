"""Consent registry rules on an in-memory SQLite database, and the FAISS face index."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlmodel import Session, SQLModel, create_engine, select

from consent.index import FaceIndex, FaceIndexError
from consent.models import Appearance, Cameo
from consent.registry import (
    Conflict,
    ConsentError,
    Forbidden,
    NotFound,
    all_embeddings,
    appearances,
    approve,
    can_use,
    delete_appearance,
    enroll,
    match_faces,
    record_appearance,
    revoke,
    set_permission,
    unapprove,
)

RNG = np.random.default_rng(7)


def vec(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)  # random unit vectors are ~1.41 apart: far beyond any threshold


@pytest.fixture()
def session():
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def test_enroll_and_permissions(session: Session) -> None:
    c = enroll(session, "alice", "@Alice_1", [vec(1), vec(2)], "/media/ref.png", "dlib")
    assert c.id is not None and c.handle == "alice_1" and c.permission == "only_me"
    assert can_use(session, "alice_1", "alice") == (True, "@alice_1 is your own cameo")
    ok, why = can_use(session, "alice_1", "bob")
    assert not ok and "only be used by its owner" in why
    assert not can_use(session, "nobody_here", "bob")[0]

    with pytest.raises(Conflict, match="taken"):
        enroll(session, "bob", "ALICE_1", [vec(3)], "/x.png", "dlib")
    with pytest.raises(ConsentError):
        enroll(session, "bob", "a", [vec(3)], "/x.png", "dlib")  # handle too short
    with pytest.raises(ConsentError):
        enroll(session, "bob", "bobby", [], "/x.png", "dlib")
    with pytest.raises(ConsentError):
        enroll(session, "bob", "bobby", [vec(3), vec(4, 512)], "/x.png", "dlib")
    assert session.exec(select(Cameo)).all() == [c]  # refused enrollments stored nothing

    set_permission(session, c.id, "alice", "approved", ["bob"])
    assert can_use(session, "alice_1", "bob")[0]
    assert not can_use(session, "alice_1", "carol")[0]
    approve(session, c.id, "alice", "carol")
    assert can_use(session, "alice_1", "carol")[0]
    set_permission(session, c.id, "alice", "everyone")
    assert can_use(session, "alice_1", "mallory")[0]

    with pytest.raises(Forbidden):
        set_permission(session, c.id, "bob", "everyone")
    with pytest.raises(Forbidden):
        revoke(session, c.id, "bob")
    with pytest.raises(Forbidden):
        appearances(session, c.id, "bob")
    with pytest.raises(NotFound):
        revoke(session, 999, "alice")
    with pytest.raises(ConsentError):
        set_permission(session, c.id, "alice", "the_world")
    assert session.get(Cameo, c.id).status == "active"  # refused calls changed nothing


def test_unapprove_takes_down_that_users_clips(session: Session) -> None:
    c = enroll(session, "alice", "alice", [vec(1)], "/r.png", "dlib")
    set_permission(session, c.id, "alice", "approved", ["bob", "carol"])
    record_appearance(session, c.id, "v-bob", "published", creator="bob")
    record_appearance(session, c.id, "v-carol", "published", creator="carol")
    record_appearance(session, c.id, "v-alice", "draft", creator="alice")
    assert unapprove(session, c.id, "alice", "bob") == ["v-bob"]
    assert not can_use(session, "alice", "bob")[0]
    assert set_permission(session, c.id, "alice", "only_me") == ["v-carol"]
    status = {a.video_id: a.status for a in appearances(session, c.id, "alice")}
    assert status == {"v-bob": "removed", "v-carol": "removed", "v-alice": "draft"}
    with pytest.raises(Conflict):
        record_appearance(session, c.id, "v-bob", "published", creator="bob")  # no resurrection


def test_revoke_returns_appearances_and_blocks(session: Session) -> None:
    c = enroll(session, "alice", "alice", [vec(1)], "/r.png", "dlib")
    set_permission(session, c.id, "alice", "everyone")
    record_appearance(session, c.id, "v1", "published", creator="bob")
    record_appearance(session, c.id, "v2", "draft", creator="carol")
    record_appearance(session, c.id, "v3", "published", creator="dan")
    assert delete_appearance(session, c.id, "v3", "alice") == "v3"
    with pytest.raises(NotFound):
        delete_appearance(session, c.id, "v404", "alice")
    assert sorted(revoke(session, c.id, "alice")) == ["v1", "v2"]
    assert revoke(session, c.id, "alice") == []  # idempotent
    assert all(a.status == "removed" for a in session.exec(select(Appearance)).all())
    for user in ("alice", "bob"):
        ok, why = can_use(session, "alice", user)
        assert not ok and "revoked" in why
    with pytest.raises(Conflict):
        set_permission(session, c.id, "alice", "everyone")


def test_protected_never_usable(session: Session) -> None:
    p = enroll(session, "pat", "pat_protected", [vec(5)], "/p.png", "dlib", kind="protected")
    for user in ("pat", "bob"):
        ok, why = can_use(session, "pat_protected", user)
        assert not ok and "protected" in why
    with pytest.raises(Conflict):
        set_permission(session, p.id, "pat", "everyone")
    with pytest.raises(ConsentError):
        enroll(session, "x", "xyz", [vec(6)], "/p.png", "dlib", kind="celebrity")


def test_duplicate_face_of_another_owner_refused(session: Session) -> None:
    index = FaceIndex(128)
    c = enroll(session, "alice", "alice", [vec(1)], "/r.png", "dlib")
    index.rebuild(all_embeddings(session))
    near = vec(1) + 0.01 * vec(99)
    with pytest.raises(Conflict, match="already registered"):
        enroll(session, "mallory", "not_alice", [near], "/m.png", "dlib", index=index, threshold=0.6)
    # The owner may add a second cameo of their own face; a stranger's face is fine.
    enroll(session, "alice", "alice_2", [near], "/r2.png", "dlib", index=index, threshold=0.6)
    enroll(session, "bob", "bob", [vec(2)], "/b.png", "dlib", index=index, threshold=0.6)
    assert c.id is not None


def test_match_faces(session: Session) -> None:
    a = enroll(session, "alice", "alice", {"frontal": vec(1), "turn_left": vec(11)}, "/a.png", "dlib")
    b = enroll(session, "bob", "bob", [vec(2)], "/b.png", "dlib")
    p = enroll(session, "pat", "pat", [vec(3)], "/p.png", "dlib", kind="protected")
    set_permission(session, b.id, "bob", "everyone")
    index = FaceIndex(128)
    cp = index.rebuild(all_embeddings(session))
    assert (cp.vectors, cp.owners) == (4, 3)
    frame = [vec(11) + 0.02 * vec(50), vec(2), vec(3), vec(77)]  # alice (left pose), bob, pat, unknown
    hits = {h.handle: h for h in match_faces(index, frame, session, "carol", threshold=0.6)}
    assert set(hits) == {"alice", "bob", "pat"}  # the unknown face produces no hit
    assert not hits["alice"].allowed and hits["bob"].allowed and not hits["pat"].allowed
    assert hits["pat"].kind == "protected" and hits["alice"].face_index == 0
    hits = {h.handle: h for h in match_faces(index, frame, session, "alice", threshold=0.6)}
    assert hits["alice"].allowed and not hits["pat"].allowed
    revoke(session, a.id, "alice")
    # Revoked faces stay in the index and are blocked, even for their owner.
    index.rebuild(all_embeddings(session))
    hits = {h.handle: h for h in match_faces(index, frame, session, "alice", threshold=0.6)}
    assert not hits["alice"].allowed and "revoked" in hits["alice"].why
    assert p.id in index


def test_index_add_remove_search() -> None:
    index = FaceIndex(128)
    assert index.search(vec(1)) == []
    index.add(10, [vec(1), vec(2)], row_ids=[1, 2])
    index.add(20, vec(3), row_ids=[3])
    index.add(30, [vec(4)])
    assert index.checkpoint().vectors == 4 and index.checkpoint().max_row_id == 3
    res = index.search(vec(2), k=2)
    assert res[0][0] == 10 and res[0][1] < 1e-3 and len(res) == 2 and res[1][1] > 1.0
    assert [o for o, _ in index.search(vec(2), k=10)].count(10) == 1  # one result per owner
    assert index.remove(10) == 2 and index.remove(10) == 0
    assert 10 not in [o for o, _ in index.search(vec(2), k=10)]
    assert len(index) == 2
    with pytest.raises(FaceIndexError):
        index.add(40, np.zeros((2, 64), np.float32))
    with pytest.raises(FaceIndexError):
        index.add(40, [np.full(128, np.nan, np.float32)])
    with pytest.raises(FaceIndexError):
        index.add(40, [vec(9)], row_ids=[3])  # row id already indexed


def test_index_thread_safety() -> None:
    index = FaceIndex(32)
    errors: list[Exception] = []

    def worker(t: int) -> None:
        try:
            for i in range(50):
                owner = t * 1000 + i
                index.add(owner, [vec(owner, 32)])
                assert index.search(vec(owner, 32), k=1)[0][0] == owner
                if i % 2:
                    index.remove(owner)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(index) == 100


def test_index_finds_second_owner_behind_a_full_template() -> None:
    # Owner 1 has a 16-frame template all nearer the query than owner 2's one vector: owner 2 must still
    # come back among k=2 owners (a protected face behind the requester's own cameo, say).
    rng = np.random.default_rng(5)
    q = rng.standard_normal(128).astype(np.float32)
    index = FaceIndex(128)
    index.add(1, q + 0.01 * rng.standard_normal((64, 128)).astype(np.float32))
    index.add(2, q + 0.2)
    for other in range(3, 20):
        index.add(other, rng.standard_normal((16, 128)).astype(np.float32) * 5)
    owners = [o for o, _ in index.search(q, k=2)]
    assert owners == [1, 2]
