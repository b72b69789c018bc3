"""Hash banks: exchange files round-trip, a malformed file changes nothing, a takedown feeds the bank `removed`
and an altered re-upload is recognised by verify and by the generation frame stage (as the bank's policy says),
and only operators reach the API."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from gate import banks
from gate.models import AuditEntry
from gate.users import create_user
from safety.hashbank import exchange
from safety.hashbank.models import BankEntry
from tests.conftest import FIXTURES

BANK_FILES = FIXTURES / "banks"
CLIP = FIXTURES / "watermark" / "bikes_3s.mp4"  # the clip taken down (real footage)
OTHER = FIXTURES / "liveness" / "carphone_face_qcif.mp4"  # unrelated real footage


def recode(src: Path, dst: Path, edit: Callable[[np.ndarray], np.ndarray], crf: int = 28,
           seconds: float | None = None) -> Path:
    """Re-encode with PyAV (H.264 at `crf`), each frame edited, optionally only the first `seconds`."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        st = None
        for frame in inp.decode(vin):
            if seconds is not None and frame.time is not None and frame.time > seconds:
                break
            img = np.ascontiguousarray(edit(frame.to_ndarray(format="rgb24")))
            h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
            if st is None:
                st = out.add_stream("libx264", rate=int(round(float(vin.average_rate or 25))))
                st.width, st.height, st.pix_fmt = w, h, "yuv420p"
                st.options = {"crf": str(crf)}
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h, :w]), format="rgb24")):
                out.mux(p)
        assert st is not None
        for p in st.encode():
            out.mux(p)
    return dst


def mirror_half(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(img[:, ::-1], (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


def state(c) -> tuple:
    with Session(c.engine) as s:
        entries = s.exec(select(func.count()).select_from(BankEntry)).one()
        audit = s.exec(select(func.count()).select_from(AuditEntry)).one()
    return banks.list_banks(c), entries, audit


def test_import_export_round_trip(components, tmp_path) -> None:
    c = components
    out = banks.import_file(c, "industry", BANK_FILES / "industry.te", "op", policy="review")
    assert out == {"bank": "industry", "added": 4, "already": 0,
                   "by_signal": {"pdq": 1, "video_md5": 1, "video_sha256": 1, "vpdq": 1}}
    te = banks.export_text(c, "industry", "te")
    given = exchange.parse((BANK_FILES / "industry.te").read_text())
    assert [r.signal for r in exchange.parse(te)] == [r.signal for r in given]
    # threatexchange's own file exchange (what HMA fetches from) reads the export back, signal for signal
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

    exported = tmp_path / "industry.te"
    exported.write_text(te)
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(
        name="ours", api=LocalFileSignalExchangeAPI.get_name(), enabled=True, filename=str(exported)))
    read = [k for delta in api.fetch_iter([], None) for k in delta.updates]
    assert read == [(r.signal_type, r.signal) for r in given]
    # CSV (threatexchange dataset --csv) into a second bank gives back the same file
    banks.import_text(c, "copy", banks.export_text(c, "industry", "csv"), "op")
    assert banks.export_text(c, "copy", "te") == te
    again = banks.import_file(c, "industry", BANK_FILES / "industry.te", "op")
    assert (again["added"], again["already"]) == (0, 4)
    # threatexchange's CSV with its indicator type names and upper-case hex
    ds = banks.import_file(c, "sample", BANK_FILES / "dataset.csv", "op", policy="log")
    assert ds["by_signal"] == {"pdq": 1, "video_md5": 1}
    assert banks.export_text(c, "sample").splitlines()[0] == te.splitlines()[0]
    listed = {b["name"]: (b["policy"], b["entries"]) for b in banks.list_banks(c)}
    assert listed == {"industry": ("review", 4), "copy": ("block", 4), "sample": ("log", 2),
                      "removed": ("block", 0)}  # made by the migration, fed by takedowns


def test_malformed_file_changes_nothing(components, tmp_path) -> None:
    c = components
    banks.import_file(c, "industry", BANK_FILES / "industry.te", "op", policy="review")
    before = state(c)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("signal_type,signal_str\npdq,00ff\n")
    binary = tmp_path / "bin.te"
    binary.write_bytes(b"pdq \xff\xfe\x00")
    no_header = tmp_path / "nohdr.csv"
    no_header.write_text("pdq,8793786c8f9370e4af1b40e43f1bc0e03f1cc2e33d2483537cac821b6cecf376\n")
    cases = [(BANK_FILES / "malformed.te", "line 3: invalid pdq signal"), (bad_csv, "line 2"),
             (binary, "not a UTF-8 text file"), (no_header, "expected '<signal_type> <signal>'"),
             (tmp_path / "missing.te", "no such file")]
    for path, why in cases:
        for bank in ("industry", "brand-new"):  # an existing bank and one the import would have made
            with pytest.raises(banks.BankError, match=why):
                banks.import_file(c, bank, path, "op", policy="block")
    with pytest.raises(banks.BankError, match="unknown signal type 'tmk'"):
        banks.import_text(c, "industry", "pdq " + "ab" * 32 + "\ntmk 1234\n", "op")
    with pytest.raises(banks.BankError, match="bank name"):
        banks.import_file(c, "Bad Name!", BANK_FILES / "industry.te", "op")
    assert state(c) == before


def test_takedown_stays_down_in_verify_and_the_frame_stage(components, tmp_path) -> None:
    from gate.job_review import take_down
    from gate.models import Job
    from gate.pipeline import JobState
    from gate.requests import JobRequest
    from gate.stages.frames import FrameStage
    from gate.verify import verify_file

    c = components
    c.storage.put_file("videos/00000000000000aa.mp4", CLIP)  # a published clip
    with Session(c.engine) as s:
        s.add(Job(id="00000000000000aa", user="creator1", status="published", request={"prompt": "bikes"},
                  video_key="videos/00000000000000aa.mp4", attempts=1))
        s.commit()
    take_down(c, "00000000000000aa", "op1", "harassment")
    with Session(c.engine) as s:
        rows = s.exec(select(BankEntry.signal_type, BankEntry.content_id)).all()
    assert {t for t, _ in rows} == {"video_sha256", "video_md5", "vpdq"}
    assert {j for _, j in rows} == {"00000000000000aa"}

    # re-uploaded to verify, mirrored and at half size (CRF 28): recognised as a near copy of the taken-down clip
    altered = recode(CLIP, tmp_path / "altered.mp4", mirror_half)
    report = verify_file(c, altered)
    top = report["banks"]["matches"][0]
    assert (top["bank"], top["policy"], top["signal"], top["content_id"]) == ("removed", "block", "vpdq",
                                                                             "00000000000000aa")
    assert top["distance"] <= 31 and top["via"] == "mirror" and "taken down here" in report["verdict"]
    assert banks.check_file(c, OTHER)["matches"] == []

    # a generation that reproduces it: the frame stage acts as the bank's policy says
    def frame_stage_on(clip: Path, job: str, remix_of: Path | None = None):
        draft = tmp_path / f"{job}.mp4"
        shutil.copy(clip, draft)
        return FrameStage(c).run(JobState(job_id=job, user="creator2", request=JobRequest(prompt="x"), workdir=tmp_path,
                                          draft=draft, remix_source=remix_of))

    d = frame_stage_on(altered, "g1")
    assert d.decision == "block" and any("hash bank 'removed' (block)" in r for r in d.reasons)
    # used as a remix source (an uploaded copy), whatever the generated frames show
    assert frame_stage_on(OTHER, "g1r", remix_of=altered).decision == "block"
    banks.set_policy(c, "removed", "log", "op1")
    d = frame_stage_on(altered, "g3")
    assert d.decision == "pass" and d.scores["hash_bank_matches"] == 1.0  # recorded, not acted on
    assert any("hash bank 'removed' (log)" in r for r in d.reasons)
    banks.set_policy(c, "removed", "review", "op1")
    assert banks.verdict(banks.match_images(c, [f.image for f in banks.sample(altered)]))[0] == "review"



def test_frames_are_hashed_only_when_something_is_banked(components, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the banks empty no frame is hashed (nothing could match); once a hash is banked they are."""
    hashed: list[int] = []
    real = banks.query_frames
    monkeypatch.setattr(banks, "query_frames", lambda images: hashed.append(len(images)) or real(images))
    frames = [f.image for f in banks.sample(OTHER)]
    assert banks.match_images(components, frames) == [] and hashed == []
    from gate.job_review import take_down
    from gate.models import Job

    components.storage.put_file("videos/00000000000000ab.mp4", CLIP)
    with Session(components.engine) as s:
        s.add(Job(id="00000000000000ab", user="creator1", status="published", request={"prompt": "bikes"},
                  video_key="videos/00000000000000ab.mp4", attempts=1))
        s.commit()
    take_down(components, "00000000000000ab", "op1", "harassment")
    assert banks.match_images(components, frames) == [] and hashed == [len(frames)]

def test_banks_on_postgresql(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same import (atomic), takedown banking and lookup on PostgreSQL."""
    from gate.components import Components
    from gate.db import session_scope
    from gate.settings import Settings
    from tests.services import fresh_pg_database, require_services

    require_services("PostgreSQL")
    with fresh_pg_database() as url:
        monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("REELGATE_DATABASE_URL", url)
        c = Components(Settings())
        try:
            assert banks.import_file(c, "industry", BANK_FILES / "industry.te", "op", policy="review")["added"] == 4
            before = state(c)
            with pytest.raises(banks.BankError, match="line 3"):
                banks.import_file(c, "industry", BANK_FILES / "malformed.te", "op")
            assert state(c) == before
            with session_scope(c.engine, write=True) as s:
                assert banks.add_to_removed_bank(s, "00000000000000bb", banks.clip_signals(CLIP), "op") == 9
            found = banks.check_file(c, CLIP)
            assert found["decision"] == "block"
            assert [(m["bank"], m["exact"], m["content_id"]) for m in found["matches"]] == [
                ("removed", True, "00000000000000bb")]
            assert banks.check_file(c, OTHER)["decision"] == "review"  # the industry list's clip
        finally:
            c.engine.dispose()


@pytest.fixture
def api(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {n: create_user(components.engine, n, r)[1] for n, r in [("olga", "operator"), ("cleo", "creator"),
                                                                     ("jay", "journalist")]}
    return TestClient(app), {n: {"Authorization": f"Bearer {k}"} for n, k in keys.items()}, components


def test_api_is_for_operators_only(api) -> None:
    client, h, c = api
    files = {"file": ("industry.te", (BANK_FILES / "industry.te").read_bytes(), "text/plain")}
    for who in ("cleo", "jay"):
        assert client.get("/v1/banks", headers=h[who]).status_code == 403
        assert client.post("/v1/banks/industry/import", headers=h[who], files=files).status_code == 403
        assert client.get("/v1/banks/industry/export", headers=h[who]).status_code == 403
        assert client.post("/v1/banks/check", headers=h[who],
                           files={"file": ("c.mp4", OTHER.read_bytes(), "video/mp4")}).status_code == 403
    assert client.get("/v1/banks").status_code == 401
    assert [b["name"] for b in banks.list_banks(c)] == ["removed"]

    r = client.post("/v1/banks/industry/import", headers=h["olga"], files=files, data={"policy": "review"})
    assert r.status_code == 200 and r.json()["added"] == 4, r.text
    before = state(c)
    bad = {"file": ("bad.te", (BANK_FILES / "malformed.te").read_bytes(), "text/plain")}
    r = client.post("/v1/banks/industry/import", headers=h["olga"], files=bad)
    assert r.status_code == 422 and "line 3" in r.json()["detail"]
    assert state(c) == before
    r = client.get("/v1/banks/industry/export?format=te", headers=h["olga"])
    assert r.status_code == 200 and r.text == (BANK_FILES / "industry.te").read_text()
    assert client.get("/v1/banks/nope/export", headers=h["olga"]).status_code == 404
    assert client.put("/v1/banks/industry/policy", headers=h["olga"], json={"policy": "allow"}).status_code == 422

    # the bank's clip (exact file) is found, with the bank's policy
    r = client.post("/v1/banks/check", headers=h["olga"], files={"file": ("c.mp4", OTHER.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "review" and r.json()["matches"][0]["exact"] is True
    r = client.post("/v1/banks/check", headers=h["olga"], files={"file": ("x.mp4", b"not a video", "video/mp4")})
    assert r.status_code == 422
