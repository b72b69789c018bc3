"""Copyright registry and similarity index: real images, real transformations, real bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, SQLModel, create_engine, select

from safety.copyright import (
    CopyrightError,
    CopyrightIndex,
    Work,
    WorkReference,
    decode_image,
    delete_work,
    list_works,
    match_prompt,
    read_image_file,
    references,
    register_work,
    work_names,
)

FIX = Path(__file__).parent / "fixtures" / "copyright"
GOPHERS = ["vector_fairy-tale_king.png", "vector_party_birthday.png", "sketch_science_jetpack.png"]
UNRELATED = ["rocket_400.jpg", "chelsea_cat_400.jpg", "coffee_400.jpg", "earth_apollo17_640.jpg"]


class MemoryStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes, suffix: str) -> str:
        key = f"copyright/{len(self.blobs)}{suffix}"
        self.blobs[key] = data
        return key

    def load(self, key: str) -> np.ndarray:
        return decode_image(self.blobs[key])


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Work.__table__, WorkReference.__table__])
    with Session(engine) as s:
        yield s


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture(scope="module")
def registered():
    """One index over the three gopher works, shared by the (read-only) detection tests."""
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Work.__table__, WorkReference.__table__])
    store = MemoryStore()
    with Session(engine) as s:
        for name in GOPHERS:
            register_work(s, "holder-a", name, [], "block", [read_image_file(FIX / name)], store.put)
        index = CopyrightIndex()
        cp = index.rebuild(s, store.load)
    assert cp.references == 3 and cp.per_signal == {"pdq": 3, "keypoints": 3}
    return index


def gopher(name: str = GOPHERS[0]) -> np.ndarray:
    return read_image_file(FIX / name)


def jpeg(img: np.ndarray, q: int = 60) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q)
    return decode_image(buf.getvalue())


def hue_shift(img: np.ndarray, deg: int = 60) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + deg // 2) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def crop20(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[int(h * 0.1) : int(h * 0.9), int(w * 0.1) : int(w * 0.9)])


def composite(name: str, scene_h_frac: float = 0.35, at: tuple[float, float] = (0.55, 0.3)) -> np.ndarray:
    scene = Image.open(FIX / "earth_apollo17_640.jpg").convert("RGBA")
    art = Image.open(FIX / name).convert("RGBA")
    h = int(scene.height * scene_h_frac)
    art = art.resize((int(art.width * h / art.height), h), Image.LANCZOS)
    scene.alpha_composite(art, (int(scene.width * at[0]), int(scene.height * at[1])))
    return np.asarray(scene.convert("RGB"))


TRANSFORMS = {
    "jpeg q60": jpeg,
    "resize 0.5": lambda a: cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA),
    "crop 20%": crop20,
    "mirror": lambda a: np.ascontiguousarray(a[:, ::-1]),
    "hue shift 60": hue_shift,
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_transformed_reference_is_detected(registered, transform):
    for name in GOPHERS[:2]:
        matches = registered.check_image(TRANSFORMS[transform](gopher(name)))
        assert matches, f"{name} after {transform} not detected"
        assert matches[0].work == name
        assert 0.5 <= matches[0].score <= 1.0
        assert matches[0].reference_id is not None and matches[0].frame is None
        assert matches[0].signals["clip"] == {"ran": False, "why": registered.signals_status()["clip"]["why"]}


def test_composited_small_into_a_scene_is_found_by_keypoints(registered):
    img = composite(GOPHERS[0])
    matches = registered.check_image(img)
    assert matches and matches[0].work == GOPHERS[0]
    kp = matches[0].signals["keypoints"]
    assert kp["inliers"] >= 10
    # the region found is where composite() pasted it: top-left at (0.55 W, 0.3 H), 0.35 H high
    h, w = img.shape[:2]
    xs = [p[0] for p in kp["region"]]
    ys = [p[1] for p in kp["region"]]
    assert abs(min(xs) - 0.55 * w) < 0.03 * w and abs(min(ys) - 0.3 * h) < 0.03 * h
    assert abs((max(ys) - min(ys)) - 0.35 * h) < 0.05 * h
    assert "pdq" not in matches[0].signals  # a global hash cannot see a small inset: keypoints did it


@pytest.mark.parametrize("name", UNRELATED)
def test_unrelated_images_do_not_match(registered, name):
    img = read_image_file(FIX / name)
    assert registered.check_image(img) == []
    assert registered.check_image(hue_shift(img[::-1].copy())) == []


def test_video_frames_report_which_frame(registered, tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    scene = np.asarray(Image.open(FIX / "earth_apollo17_640.jpg").convert("RGB"))[:352, :640]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 352, "yuv420p"
        for i in range(20):  # 2 s; the gopher appears from frame 10 (t = 1.0 s)
            frame = composite(GOPHERS[1])[:352, :640] if i >= 10 else scene
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    matches = registered.check_video(path, sample_every=0.5)
    assert [m.work for m in matches] == [GOPHERS[1]]
    assert matches[0].frame is not None and matches[0].frame >= 10
    assert matches[0].signals["keypoints"]["frame"] == matches[0].frame


def test_registry_roundtrip_names_and_delete(session, store):
    w = register_work(
        session, "holder-a", "  Go   Gopher\u200b ", ["Gopher", "gopher", "Gophie"], "review", [gopher()], store.put
    )
    assert w.id and w.name == "Go Gopher" and w.aliases == ["Gopher", "Gophie"] and w.policy == "review"
    register_work(session, "holder-b", "Other", [], "allow", [gopher(GOPHERS[2])], store.put)
    refs = references(session, w.id)
    assert len(refs) == 1 and len(refs[0].pdq) == 32 and refs[0].media in store.blobs
    assert [x.name for x in list_works(session, "holder-a")] == ["Go Gopher"]
    assert work_names(session) == {"Go Gopher": ["Gopher", "Gophie"]}  # "allow" works are not flagged
    with pytest.raises(CopyrightError):
        delete_work(session, w.id, owner="holder-b")  # not theirs
    assert delete_work(session, w.id, owner="holder-a") == [refs[0].media]
    assert list_works(session, "holder-a") == [] and references(session, w.id) == []


def test_index_updates_on_register_and_forgets_deleted_work(session, store):
    index = CopyrightIndex()
    index.rebuild(session, store.load)
    assert index.check_image(gopher()) == []
    w = register_work(session, "h", "King", [], "block", [gopher()], store.put)
    assert index.is_stale(session)
    index.add_work(w, references(session, w.id), store.load)
    assert not index.is_stale(session)
    assert [m.work for m in index.check_image(jpeg(gopher()))] == ["King"]
    index.remove_work(w.id)
    assert index.check_image(gopher()) == []


def test_signals_status_says_semantic_signal_is_off(tmp_path):
    index = CopyrightIndex(clip_weights=None)
    st = index.signals_status()
    assert st["pdq"]["ran"] and st["keypoints"]["ran"]
    assert st["clip"]["ran"] is False and st["clip"]["real_weights"] is False and "off" in st["clip"]["why"]
    bad = tmp_path / "clip.pt"
    bad.write_bytes(b"not a checkpoint")
    st = CopyrightIndex(clip_weights=bad).signals_status()["clip"]
    assert st["ran"] is False and "could not load" in st["why"]


def _png_bomb(w: int = 60_000, h: int = 60_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * w
    z = zlib.compressobj(9)
    idat = z.compress(row * 64) + z.flush()  # a few rows suffice: the header is what matters
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "0 bytes"),
        (_png_bomb(), "too large"),
        (_png_bomb(7_000, 7_000), "too large"),  # under PIL's own bomb limit, over ours
        (b"\x89PNG\r\n\x1a\nnot really a png", "not a readable image|could not be decoded"),
        ((FIX / GOPHERS[0]).read_bytes()[:3000], "could not be decoded"),
    ],
)
def test_bad_image_bytes_raise_copyright_error(data, message):
    with pytest.raises(CopyrightError, match=message):
        decode_image(data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x" * 5000}, "5000 characters"),
        ({"name": " \u200b "}, "empty"),
        ({"aliases": ["a"] * 51}, "aliases"),
        ({"aliases": ["y" * 201]}, "alias 1"),
        ({"policy": "delete-everything"}, "policy must be"),
        ({"images": []}, "at least one"),
        ({"images": [np.full((64, 64, 3), 200, np.uint8)]}, "flat"),
        ({"images": [np.zeros((8, 8, 3), np.uint8)]}, "at least 16"),
        ({"images": [np.zeros((64, 64), np.uint8)]}, "RGB array"),
    ],
)
def test_bad_registration_stores_nothing(session, store, kwargs, message):
    args = {"name": "Go Gopher", "aliases": [], "policy": "block", "images": [gopher()]} | kwargs
    with pytest.raises(CopyrightError, match=message):
        register_work(session, "holder-a", args["name"], args["aliases"], args["policy"], args["images"], store.put)
    assert store.blobs == {}
    assert list(session.exec(select(Work))) == [] and list(session.exec(select(WorkReference))) == []


def test_bad_video_raises_copyright_error(registered, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    for p in (empty, junk):
        with pytest.raises(CopyrightError):
            registered.check_video(p)


def test_prompt_names_are_found_after_normalisation():
    names = {"Go Gopher": ["Gopher", "Gophie"]}
    assert [h.canonical for h in match_prompt("a G\u03bfpher in a crown", names)] == ["Go Gopher"]  # Greek o
    assert [h.canonical for h in match_prompt("go\u200bgopher wearing a hat", names)] == ["Go Gopher"]
    assert match_prompt("a corgi surfing at sunset", names) == []


def _keypoint_index(**kwargs):
    from safety.copyright.signals.keypoints import KeypointIndex, KeypointSignal

    sig = KeypointSignal()
    index = KeypointIndex(**kwargs)
    for i, name in enumerate(GOPHERS):
        index.add(i, sig.describe_reference(gopher(name)))
    return sig, index


def test_keypoint_index_trains_ivf_pq_and_still_finds_the_inset():
    sig, flat = _keypoint_index()
    _, ivf = _keypoint_index(flat_limit=1000, nlist=16, nprobe=4)
    assert flat.kind == "flat" and ivf.kind == "ivf-pq" and ivf.ntotal == flat.ntotal > 1000
    assert ivf.stats()["faiss_bytes"] < flat.stats()["faiss_bytes"] / 4  # 16-byte codes instead of 512
    q = sig.describe_query(composite(GOPHERS[0]))
    for index in (flat, ivf):
        best = max(index.search(q), key=lambda h: h.score)
        assert best.reference_id == 0 and best.score >= 0.5 and best.evidence["mirrored"] is False


def test_sift_of_a_mirrored_image_is_the_permuted_descriptor():
    from safety.copyright.signals.keypoints import MIRROR_PERMUTATION

    gray = cv2.cvtColor(read_image_file(FIX / "coffee_400.jpg"), cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=300)
    k1, d1 = sift.detectAndCompute(gray, None)
    k2, d2 = sift.detectAndCompute(np.ascontiguousarray(gray[:, ::-1]), None)
    p2 = np.array([(gray.shape[1] - k.pt[0], k.pt[1]) for k in k2])
    gaps = []
    for k, d in zip(k1, d1, strict=True):
        near = np.nonzero(np.linalg.norm(p2 - k.pt, axis=1) < 1.0)[0]  # the same keypoint, seen mirrored
        if len(near):
            gaps.append(min(np.linalg.norm(d[MIRROR_PERMUTATION] - d2[j]) for j in near))
    unrelated = np.linalg.norm(d1[:100, None] - d2[None, 100:200], axis=2)
    # most agree exactly (up to rounding); a few differ where SIFT picked a slightly different orientation
    assert len(gaps) > 100 and np.median(gaps) < 1.0 and np.mean(np.array(gaps) < 5) > 0.7
    assert np.percentile(unrelated, 1) > 150


def test_mirrored_composite_is_found_by_keypoints(registered):
    img = np.ascontiguousarray(composite(GOPHERS[0])[:, ::-1])
    matches = registered.check_image(img)
    assert matches and matches[0].work == GOPHERS[0]
    kp = matches[0].signals["keypoints"]
    assert kp["mirrored"] is True and kp["inliers"] >= 10
    w = img.shape[1]  # pasted at x = 0.55 W in the unmirrored frame: its right edge is now at 0.45 W
    assert abs(max(p[0] for p in kp["region"]) - 0.45 * w) < 0.03 * w


def test_keypoint_index_delete_and_persist(tmp_path):
    from safety.copyright.signals.keypoints import KeypointIndex

    sig, index = _keypoint_index(flat_limit=1000, nlist=16, nprobe=4)
    q = sig.describe_query(composite(GOPHERS[0]))
    before = {h.reference_id: h.score for h in index.search(q)}
    index.save(tmp_path / "kp")
    loaded = KeypointIndex.load(tmp_path / "kp")
    assert loaded.kind == "ivf-pq" and len(loaded) == 3 and loaded.ntotal == index.ntotal
    assert {h.reference_id: h.score for h in loaded.search(q)} == before
    n = loaded.ntotal
    assert loaded.remove(0) and not loaded.remove(0)
    assert loaded.ntotal < n and len(loaded) == 2
    assert all(h.reference_id != 0 for h in loaded.search(q))


def test_remove_work_deletes_its_keypoints(session, store):
    index = CopyrightIndex()
    w = register_work(session, "h", "King", [], "block", [gopher()], store.put)
    index.rebuild(session, store.load)
    kp = index.index_of("keypoints")
    assert kp.ntotal > 100
    index.remove_work(w.id)
    assert kp.ntotal == 0 and index.check_image(composite(GOPHERS[0])) == []


@pytest.mark.slow
def test_clip_signal_wiring_with_a_local_weights_file(tmp_path, session, store):
    """Wiring only: a tiny randomly initialised open_clip model saved to a local file stands in for real
    weights (none exist offline). It proves the file is loaded, embeddings are indexed and fused, and that
    the status reports the configured file; it says nothing about semantic quality."""
    import importlib

    import torch

    from safety.copyright.signals import ClipSignal

    importlib.import_module("safety.torch_compat")  # before open_clip imports torchvision
    open_clip = importlib.import_module("open_clip")

    name = "reelgate-tiny-test"
    open_clip.factory._MODEL_CONFIGS[name] = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 64, "heads": 2, "layers": 1},
    }
    weights = tmp_path / "tiny_clip.pt"
    torch.save(open_clip.create_model(name).state_dict(), weights)

    clip = ClipSignal(weights, name)
    assert clip.available()[0], clip.available()[1]
    register_work(session, "h", "King", [], "block", [gopher()], store.put)
    index = CopyrightIndex(signals=[clip])
    index.rebuild(session, store.load)
    st = index.signals_status()["clip"]
    assert st["ran"] and str(weights) in st["why"]
    [m] = index.check_image(gopher())
    assert m.work == "King" and m.signals["clip"]["cosine"] > 0.999 and m.score > 0.99


def test_region_is_reported_in_the_original_frame_coordinates(registered):
    img = composite(GOPHERS[0])
    big = cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2), interpolation=cv2.INTER_CUBIC)  # > 960 px
    [m] = registered.check_image(big)
    xs = [p[0] for p in m.signals["keypoints"]["region"]]
    assert abs(min(xs) - 0.55 * big.shape[1]) < 0.03 * big.shape[1]


def test_index_is_saved_restored_and_caught_up_without_redescribing(session, store, tmp_path):
    king = register_work(session, "h", "King", [], "block", [gopher(GOPHERS[0])], store.put)
    register_work(session, "h", "Party", [], "block", [gopher(GOPHERS[1])], store.put)
    first = CopyrightIndex()
    cp = first.open(tmp_path / "idx", session, store.load)  # nothing saved yet: rebuilt, then saved
    assert cp.references == 2 and (tmp_path / "idx" / "meta.json").is_file()

    described: list[str] = []

    def counting_load(key: str) -> np.ndarray:
        described.append(key)
        return store.load(key)

    again = CopyrightIndex()
    again.open(tmp_path / "idx", session, counting_load)
    assert described == []  # restored from disk: no reference decoded or described again
    assert [m.work for m in again.check_image(composite(GOPHERS[0]))] == ["King"]

    # another process registers one work and deletes one: the saved index catches up with exactly those
    register_work(session, "h", "Jetpack", [], "block", [gopher(GOPHERS[2])], store.put)
    delete_work(session, king.id, owner="h")
    third = CopyrightIndex()
    third.open(tmp_path / "idx", session, counting_load)
    assert len(described) == 1 and third.checkpoint.references == 2 and not third.is_stale(session)
    assert third.check_image(composite(GOPHERS[0])) == []
    assert [m.work for m in third.check_image(jpeg(gopher(GOPHERS[2])))] == ["Jetpack"]

    (tmp_path / "idx" / "meta.json").write_text("{not json")
    ok, why = CopyrightIndex().restore(tmp_path / "idx")
    assert not ok and "unreadable" in why
    fourth = CopyrightIndex()
    assert fourth.open(tmp_path / "idx", session, store.load).references == 2  # rebuilt instead


def test_an_unwritable_store_does_not_fail_the_index(session, store, tmp_path):
    register_work(session, "h", "King", [], "block", [gopher()], store.put)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    index = CopyrightIndex()
    cp = index.open(blocker / "idx", session, store.load)  # cannot create a folder under a file
    assert cp.references == 1 and "not saved" in index.save_error
    assert [m.work for m in index.check_image(gopher())] == ["King"]


def test_an_empty_signal_index_skips_describing_the_frame(session, store):
    """With nothing registered no frame is described (nothing to find: SIFT and PDQ cost the gate ~0.15 s a
    720p frame); once a work is registered every frame is described again and the work is found."""
    from safety.copyright.signals import KeypointSignal, PdqSignal

    calls: list[str] = []

    def counting(sig):
        describe = sig.describe_query

        def wrapped(img):
            calls.append(sig.name)
            return describe(img)

        sig.describe_query = wrapped
        return sig

    index = CopyrightIndex(signals=[counting(PdqSignal()), counting(KeypointSignal())])
    index.rebuild(session, store.load)
    frames = [(0, 0.0, composite(GOPHERS[0])), (1, 0.5, gopher(GOPHERS[0]))]
    assert index.check_frames(frames) == [] and calls == []
    register_work(session, "holder-a", "king", [], "block", [gopher(GOPHERS[0])], store.put)
    index.rebuild(session, store.load)
    matches = index.check_frames(frames)
    assert sorted(calls) == ["keypoints", "keypoints", "pdq", "pdq"]
    assert [m.work for m in matches] == ["king"]
