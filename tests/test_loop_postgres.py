"""The loop's queries on PostgreSQL: remix lineage reads the request's JSON (->> there, json_extract on SQLite),
the feed's cursor, the queue, a cascade, an appeal and the transparency report."""

from __future__ import annotations

from datetime import timedelta

from gate import appeals, feed, lineage, moderation, reports, transparency
from gate.models import User, utcnow
from tests.loop_helpers import seed_clip
from tests.services import fresh_pg_database, require_services

SRC, R1, R2 = "b100000000000001", "b200000000000002", "b300000000000003"


def test_loop_on_postgresql(tmp_path) -> None:
    require_services("PostgreSQL")
    from sqlmodel import Session

    from gate.components import Components
    from gate.settings import Settings

    with fresh_pg_database() as url:
        c = Components(Settings(data_dir=tmp_path / "data", database_url=url))
        try:
            seed_clip(c, SRC, "alice", age_minutes=3)
            seed_clip(c, R1, "bob", remix=SRC, age_minutes=2)
            seed_clip(c, R2, "carl", remix=R1, age_minutes=1)
            with Session(c.engine) as s:
                assert [j.id for j in lineage.descendants(s, SRC)] == [R1, R2]
                assert lineage.remix_counts(s, [SRC, R1, R2]) == {SRC: 1, R1: 1}
            viewer = User(name="vera", role="creator", key_prefix="x", key_hash="x")
            first = feed.feed(c, viewer, limit=2)
            assert [i.job.id for i in first.items] == [R2, R1] and first.items[0].lineage[1]["id"] == SRC
            assert [i.job.id for i in feed.feed(c, viewer, cursor=first.next_cursor).items] == [SRC]
            reports.file_report(c, viewer, SRC, "sexual", "nudity")
            assert [i.job.id for i in reports.queue(c)] == [SRC]
            out = moderation.decide(c, SRC, "olga", "take_down", "sexual", "nudity at 0:02")
            assert out["cascade"]["taken_down"] == [R1, R2]
            appeal = appeals.file_appeal(c, User(name="alice", role="creator", key_prefix="a", key_hash="a"),
                                         out["id"], "it is a statue")
            done = appeals.decide_appeal(c, appeal.id or 0, "otto", "reverse", "a marble statue")
            assert done["restored"] == [SRC, R1, R2]
            t = transparency.report(c, utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1))
            assert t["takedowns_by_cause"] == {"cascade:sexual": 2, "operator:sexual": 1}
            assert t["appeals"]["reversed"] == 1
        finally:
            c.engine.dispose()
