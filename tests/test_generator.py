"""Generation core: spec checks, physics, A/V sync from the decoded MP4, styles, cameo, remix, encoding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from generator import (
    CameoError,
    CameoRef,
    ClipDecodeError,
    GenerationSpec,
    GeneratorError,
    SpecError,
    get_backend,
)
from generator.analysis import color_track, hue_mask, onset_offsets
from generator.encode import probe, read_audio, read_clip, write_mp4
from generator.physics import FLOOR_Y, simulate_shot
from generator.scene import parse_prompt
from generator.spec import Clip

FIX = Path(__file__).parent / "fixtures" / "generator"
FACE = FIX / "face_luciano_small.jpg"
FACE2 = FIX / "face_pratt_small.jpg"
RED_HUE, BLUE_HUE = 179, 112  # OpenCV hues of the palette's red (220,30,35) and blue (30,80,220)
RED = {"hue_tol": 5}  # wood is orange-brown (hue ~13): keep red tight
BALL = "a red ball bouncing on a wooden floor"


@pytest.fixture(scope="module")
def backend():
    return get_backend("procedural")


@pytest.fixture(scope="module")
def ball_mp4(tmp_path_factory, backend) -> tuple[Path, Clip]:
    clip = backend.generate(GenerationSpec(BALL, seconds=4.0, seed=3))
    path = tmp_path_factory.mktemp("gen") / "ball.mp4"
    write_mp4(clip, path)
    return path, clip


def decoded_frames(path: Path) -> list[np.ndarray]:
    return list(read_clip(path).frames())


# ---------- bad input ----------
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": 1000}, "seconds"),
        ({"seconds": 600}, "seconds"),
        ({"seconds": float("nan")}, "seconds"),
        ({"resolution": "4k"}, "resolution"),
        ({"resolution": "99999x99999"}, "resolution"),
        ({"fps": 25}, "fps"),
        ({"style": "vaporwave"}, "style"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "\u200b\u200d\ufeff"}, "prompt"),
        ({"seed": -1}, "seed"),
        ({"cameos": (CameoRef("x", Path("/nonexistent.jpg")),)}, "cameo"),
        ({"source_clip": Path("/nonexistent.mp4")}, "remix"),
    ],
)
def test_bad_spec_is_refused_before_work(backend, kwargs, words):
    spec = GenerationSpec(**{"prompt": BALL, **kwargs})
    with pytest.raises(SpecError, match=words):
        backend.generate(spec)
    assert issubclass(SpecError, ValueError)


def test_unknown_backend_and_unavailable_diffusion(tmp_path):
    with pytest.raises(GeneratorError, match="unknown generator backend"):
        get_backend("magic")
    from generator import GeneratorBackend

    assert isinstance(get_backend(), GeneratorBackend) and isinstance(get_backend("diffusion"), GeneratorBackend)
    assert get_backend().available() == (True, "")
    ok, why = get_backend("diffusion").available()
    assert not ok and why
    ok, why = get_backend("diffusion", model_dir=tmp_path).available()
    assert not ok and "model_index.json" in why
    with pytest.raises(GeneratorError, match="unavailable"):
        get_backend("diffusion", model_dir=tmp_path).generate(GenerationSpec(BALL))


# ---------- scene parsing ----------
def test_prompt_parser_reads_the_scene():
    s = parse_prompt('A corgi running on the beach at sunset, gentle ukulele music, rain. A woman says "Hi there!" '
                     "then cut to the corgi jumping at night, slow motion, pan left", seed=1, seconds=6)
    assert len(s.shots) == 2
    dogs = [x for x in s.subjects.values() if x.kind == "dog"]
    assert len(dogs) == 1 and dogs[0].noun == "corgi"
    assert dogs[0].id in s.shots[0].subjects and dogs[0].id in s.shots[1].subjects  # same subject kept
    a, b = s.shots
    assert (a.setting, a.time_of_day, a.weather) == ("beach", "sunset", "rain")
    assert b.time_of_day == "night" and b.actions[dogs[0].id] == "jump"
    assert "pan_left" in b.camera and b.slow_motion < 1
    assert s.music == {"mood": "calm", "instrument": "ukulele", "tempo": 80}
    assert "rain" in s.ambience and "waves" in s.ambience
    assert s.dialogue == ["Hi there!"]
    ball = parse_prompt(BALL).subjects["ball1"]
    assert (ball.color_name, ball.kind) == ("red", "ball")
    assert parse_prompt(BALL).shots[0].floor == "wood"
    assert parse_prompt("a ball in anime style").style == "anime"
    assert parse_prompt("a ball in anime style", style="noir").style == "noir"


# ---------- physics ----------
def test_dropped_ball_bounces_lower_each_time_and_comes_to_rest():
    scene = parse_prompt(BALL, seed=0, seconds=5)
    m = simulate_shot(scene.shots[0], scene.subjects, 24, 5 * 24, 16.0, seed=0)  # settles within a 5 s clip
    y = m.tracks["ball1"].y
    frames = [e["frame"] for e in m.impacts]
    assert len(frames) >= 4
    peaks = [y[a:b].max() for a, b in zip(frames, frames[1:], strict=False) if b - a > 2]
    assert len(peaks) >= 3
    assert all(p2 < p1 for p1, p2 in zip(peaks, peaks[1:], strict=False)), peaks
    r = scene.subjects["ball1"].size * 0.45  # radius as simulated
    tail = y[-24:]
    assert np.ptp(tail) < 0.01 and abs(tail.mean() - (FLOOR_Y + r)) < 0.05  # at rest on the floor
    assert all(e["speed"] > 0.5 for e in m.impacts)


# ---------- the red ball clip ----------
def test_output_is_h264_aac_with_requested_format(ball_mp4):
    path, clip = ball_mp4
    info = probe(path)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert (info["width"], info["height"], round(info["fps"])) == (854, 480, 24)
    assert info["frames"] == 96 and info["pix_fmt"] == "yuv420p"
    assert abs(info["duration"] - 4.0) < 0.1
    assert info["sample_rate"] == 48000 and info["channels"] == 2
    meta = clip.metadata
    for key in ("backend", "version", "scene", "speech_text", "collisions", "tts"):
        assert key in meta
    assert meta["backend"] == "procedural"
    json.loads(json.dumps(meta))  # JSON-able for the audit log and API
    assert all(set(c) >= {"frame", "time"} for c in meta["collisions"])


def test_red_ball_on_wood_floor_is_visible(ball_mp4):
    path, clip = ball_mp4
    frames = decoded_frames(path)
    red = [int(hue_mask(f, RED_HUE, **RED).sum()) for f in frames]
    assert min(red) > 300  # a visibly red ball in every frame
    ys = color_track(frames, RED_HUE, **RED)[:, 1]
    assert np.nanmax(ys) - np.nanmin(ys) > 100  # it moves a lot vertically (bounces)
    floor = frames[10][-50:].reshape(-1, 3).astype(float)
    r, g, b = floor.mean(axis=0)
    assert r > g > b and r - b > 40  # brown
    rows = frames[10][-60:].astype(float).mean(axis=(1, 2))
    assert rows.std() > 4  # planks and seams, not a flat fill


def test_impact_sounds_are_within_one_frame_of_collisions(ball_mp4):
    path, clip = ball_mp4
    audio, sr = read_audio(path)
    cols = clip.metadata["collisions"]
    assert len(cols) >= 3
    times = [c["frame"] / clip.fps for c in cols]
    offs = onset_offsets(audio, sr, times, clip.fps)
    assert all(o is not None for o in offs), offs
    assert max(abs(o) for o in offs) <= 1.0 / clip.fps, offs
    # and silence-ish between impacts: the sound really comes from the collisions
    quiet = onset_offsets(audio, sr, [times[0] - 0.4], clip.fps, window_frames=1)
    env_before = np.abs(audio[:, int((times[0] - 0.5) * sr): int((times[0] - 0.1) * sr)]).max()
    env_at = np.abs(audio[:, int(times[0] * sr) - 400: int(times[0] * sr) + 2400]).max()
    assert env_at > 5 * env_before, (env_at, env_before, quiet)


def test_same_seed_same_frames_other_seed_differs(backend):
    def digest(seed: int) -> str:
        clip = backend.generate(GenerationSpec(BALL, seconds=1.0, seed=seed))
        h = hashlib.sha256()
        for f in clip.frames():
            h.update(f.tobytes())
        h.update(clip.audio.tobytes())
        return h.hexdigest()

    assert digest(5) == digest(5)
    assert digest(5) != digest(6)


def test_styles_differ_measurably(backend):
    styles = ["photorealistic", "cinematic", "anime", "cartoon", "watercolor", "noir", "pixel", "sketch"]
    frames = {}
    for st in styles:
        clip = backend.generate(GenerationSpec("a dog running in a park at sunset", style=st, seconds=1.0))
        frames[st] = next(f for i, f in enumerate(clip.frames()) if i == 12).astype(np.float32)
    for i, a in enumerate(styles):
        for b in styles[i + 1:]:
            assert np.abs(frames[a] - frames[b]).mean() > 4.0, (a, b)
    for st in ("noir", "sketch"):
        f = frames[st]
        assert np.abs(f[..., 0] - f[..., 2]).mean() < 1.0  # no colour
    assert np.abs(frames["anime"][..., 0] - frames["anime"][..., 2]).mean() > 20
    cin = frames["cinematic"]
    assert cin[:20].max() == 0 and cin[-20:].max() == 0  # letterbox bars


def test_time_of_day_changes_light(backend):
    def mean(p: str) -> float:
        clip = backend.generate(GenerationSpec(p, seconds=1.0))
        return float(next(iter(clip.frames())).mean())

    assert mean("a ball in a field at noon") > mean("a ball in a field at night") + 40


# ---------- cameo ----------
@pytest.mark.parametrize("style", [None, "noir"])
def test_cameo_faces_are_detectable_by_dlib(backend, tmp_path, style):
    from generator.cameo import detect_faces

    cameos = (CameoRef("luciano", FACE), CameoRef("pratt", FACE2))
    spec = GenerationSpec("two people talking in a city street at night", style=style, seconds=1.0, cameos=cameos)
    clip = backend.generate(spec)
    path = tmp_path / "cameo.mp4"
    write_mp4(clip, path)
    frames = decoded_frames(path)[::4]
    hits = [len(detect_faces(f, 0)) for f in frames]  # after H.264, as the likeness gate will see it
    assert sum(h == 2 for h in hits) >= 0.8 * len(frames), hits
    assert clip.metadata["cameos"] == ["luciano", "pratt"]
    plain = backend.generate(GenerationSpec("a person waving in a park", seconds=1.0))
    assert sum(len(detect_faces(f, 0)) for f in list(plain.frames())[::4]) == 0  # the face comes from the cameo


def test_cameo_without_a_face_is_refused(backend, tmp_path):
    from PIL import Image

    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(noise)
    with pytest.raises(CameoError, match="no face"):
        backend.generate(GenerationSpec("a person", seconds=1.0, cameos=(CameoRef("n", noise),)))
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(CameoError, match="not a readable image"):
        backend.generate(GenerationSpec("a person", seconds=1.0, cameos=(CameoRef("j", junk),)))


# ---------- remix ----------
def test_remix_recolours_and_keeps_motion(backend, ball_mp4, tmp_path):
    src_path, _ = ball_mp4
    # the first 2.5 s, while the ball is still moving: a thing at rest for most of a clip is background
    src = decoded_frames(src_path)[:60]
    clip = backend.generate(GenerationSpec("make the ball blue", seconds=2.5, source_clip=src_path))
    assert clip.metadata["remix"]["change"] == "color" and clip.metadata["remix_of"] == str(src_path)
    out_path = tmp_path / "remix.mp4"
    write_mp4(clip, out_path)
    out = decoded_frames(out_path)
    assert len(out) == len(src)
    a, b = color_track(src, RED_HUE, **RED), color_track(out, BLUE_HUE)
    ok = ~np.isnan(a[:, 1]) & ~np.isnan(b[:, 1])
    assert ok.mean() > 0.9
    assert np.corrcoef(a[ok, 1], b[ok, 1])[0, 1] > 0.98
    assert np.abs(a[ok] - b[ok]).max() < 8  # same place, frame by frame
    assert max(int(hue_mask(f, RED_HUE, **RED).sum()) for f in out) < 50  # the red is gone


def test_remix_background_and_object_swap_keep_motion(backend, ball_mp4):
    src_path, _ = ball_mp4
    src = decoded_frames(src_path)[:60]
    red = color_track(src, RED_HUE, **RED)
    bg = backend.generate(GenerationSpec("replace the background with a snowy mountain", seconds=2.5,
                                         source_clip=src_path))
    frames = list(bg.frames())
    assert np.abs(frames[5][:100].astype(float) - src[5][:100].astype(float)).mean() > 30  # new sky
    moved = color_track(frames, RED_HUE, **RED)
    ok = ~np.isnan(moved[:, 1]) & ~np.isnan(red[:, 1])
    assert ok.mean() > 0.9 and np.abs(moved[ok] - red[ok]).max() < 8
    swap = backend.generate(GenerationSpec("replace the ball with a blue cube", seconds=2.5, source_clip=src_path))
    assert swap.metadata["remix"]["to"] == "cube"
    frames = list(swap.frames())
    cube = color_track(frames, BLUE_HUE)
    ok = ~np.isnan(cube[:, 1]) & ~np.isnan(red[:, 1])
    assert ok.mean() > 0.9 and np.corrcoef(cube[ok, 1], red[ok, 1])[0, 1] > 0.95
    with pytest.raises(GeneratorError, match="say what to change"):
        backend.generate(GenerationSpec("something nice", seconds=2.0, source_clip=src_path))


# ---------- encoding / decoding ----------
def test_read_clip_refuses_bad_files(tmp_path, ball_mp4):
    src_path, _ = ball_mp4
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 255, 50_000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(src_path.read_bytes()[: src_path.stat().st_size // 2])
    for bad in (empty, garbage, truncated, tmp_path / "missing.mp4"):
        with pytest.raises(ClipDecodeError):
            read_clip(bad)
    assert issubclass(ClipDecodeError, ValueError)
    clip = read_clip(src_path, max_seconds=1.0)
    assert clip.n_frames == 24 and (clip.width, clip.height) == (854, 480)


def test_write_mp4_streams_and_is_atomic(tmp_path):
    calls = []

    def frames():
        for i in range(10):
            if i == 6:
                raise RuntimeError("renderer died")
            yield np.full((64, 96, 3), i * 20, np.uint8)

    clip = Clip(24, 96, 64, 10, frames, np.zeros((2, 20000), np.float32), 48000)
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        write_mp4(clip, out, progress=lambda i, n: calls.append((i, n)))
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written left behind
    assert calls[-1] == (6, 10)
    good = Clip(24, 96, 64, 6, lambda: (np.zeros((64, 96, 3), np.uint8) for _ in range(6)),
                np.zeros((1, 100), np.float32), 22050)
    write_mp4(good, out)
    assert probe(out)["frames"] == 6
    bad = Clip(24, 96, 64, 3, lambda: (np.zeros((10, 10, 3), np.uint8) for _ in range(3)),
               np.zeros((2, 10), np.float32), 48000)
    with pytest.raises(GeneratorError, match="frame 0"):
        write_mp4(bad, tmp_path / "bad.mp4")


def test_write_mp4_hands_the_encoder_input_to_the_hooks(tmp_path):
    """yuv_fn sees the very planes the encoder would make of the RGB frame (an identity hook writes the same
    file), its changes are what is encoded; audio_fn's sound is what is written; a failing hook leaves no
    file behind."""
    import av

    rng = np.random.default_rng(0)
    pics = [rng.integers(0, 256, (64, 96, 3), np.uint8) for _ in range(12)]
    clip = Clip(24, 96, 64, 12, lambda: iter(pics), np.zeros((2, 24000), np.float32), 48000)
    write_mp4(clip, tmp_path / "plain.mp4")
    write_mp4(clip, tmp_path / "same.mp4", yuv_fn=lambda yuv, i: yuv)
    assert (tmp_path / "plain.mp4").read_bytes() == (tmp_path / "same.mp4").read_bytes()

    def grey(yuv, i):
        yuv[: 64] = 128
        return yuv

    tone = np.sin(np.arange(24000) / 48000 * 2 * np.pi * 440).astype(np.float32) * 0.5
    write_mp4(clip, tmp_path / "grey.mp4", yuv_fn=grey, audio_fn=lambda a, sr: np.stack([tone, tone]),
              audio_bitrate=None)
    with av.open(str(tmp_path / "grey.mp4")) as c:
        lumas = [f.to_ndarray(format="yuv420p")[:64] for f in c.decode(video=0)]
    assert len(lumas) == 12 and all(abs(float(y.mean()) - 128) < 2 for y in lumas)
    sound, _ = read_audio(tmp_path / "grey.mp4")
    assert float(np.abs(sound).max()) > 0.3  # the hook's tone, not the clip's silence

    def dies(yuv, i):
        raise RuntimeError("mark failed")

    with pytest.raises(RuntimeError, match="mark failed"):
        write_mp4(clip, tmp_path / "dead.mp4", yuv_fn=dies)
    assert not (tmp_path / "dead.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]



def test_write_mp4_stages_run_apart_in_order_and_stop_together(tmp_path):
    """The picture is drawn on its own thread and yuv_fn runs on another (issue 19): the hook still sees
    every frame once, in order, the file is the same as a one-thread encode's would be (an identity hook
    writes the plain file, checked above), a clip with more or fewer frames than it declares is refused, and
    an error on any side (the encoder's side: a progress callback) ends every stage's thread and runs the
    renderer's own clean-up, with nothing left behind."""
    import threading

    seen: list[int] = []
    cleaned: list[bool] = []

    def frames(n):
        try:
            for i in range(n):
                yield np.full((64, 96, 3), (i * 7) % 256, np.uint8)
        finally:
            cleaned.append(True)

    clip = Clip(24, 96, 64, 40, lambda: frames(40), np.zeros((2, 80000), np.float32), 48000)
    write_mp4(clip, tmp_path / "ok.mp4", yuv_fn=lambda yuv, i: seen.append(i) or yuv)
    assert seen == list(range(40)) and probe(tmp_path / "ok.mp4")["frames"] == 40

    def stop_at(i, n):
        if i == 5:
            raise RuntimeError("encoder side failed")

    cleaned.clear()
    with pytest.raises(RuntimeError, match="encoder side failed"):
        write_mp4(clip, tmp_path / "dead.mp4", progress=stop_at, yuv_fn=lambda yuv, i: yuv)
    assert cleaned == [True]  # the renderer's generator was closed, on its thread
    assert not [t for t in threading.enumerate() if t.name.startswith("write_mp4-")]
    assert not list(p for p in tmp_path.iterdir() if p.name != "ok.mp4")
    for n in (39, 41):
        odd = Clip(24, 96, 64, 40, lambda n=n: frames(n), np.zeros((2, 80000), np.float32), 48000)
        with pytest.raises(GeneratorError, match="40"):
            write_mp4(odd, tmp_path / f"odd{n}.mp4", yuv_fn=lambda yuv, i: yuv)
        assert not (tmp_path / f"odd{n}.mp4").exists()

def test_dialogue_is_spoken_or_reported(backend, tmp_path):
    clip = backend.generate(GenerationSpec('A woman in a kitchen says "Good morning, everyone."', seconds=3.0))
    meta = clip.metadata
    assert meta["speech_text"] == ["Good morning, everyone."]
    from generator.tts import get_tts

    ok, why = get_tts().available()
    if ok:
        assert meta["tts"] == "espeak-ng" and meta["speech"].startswith("spoken")
        speech = clip.audio[:, int(0.4 * 48000): int(1.4 * 48000)]
        silence = backend.generate(GenerationSpec("A woman in a kitchen", seconds=3.0)).audio[
            :, int(0.4 * 48000): int(1.4 * 48000)]
        assert np.sqrt((speech**2).mean()) > 5 * np.sqrt((silence**2).mean())
    else:
        assert meta["tts"] is None and "no TTS engine" in meta["speech"]


def test_multishot_keeps_subjects_consistent(backend):
    clip = backend.generate(GenerationSpec("a blue ball rolling in a park, then cut to the ball bouncing at night",
                                           seconds=2.0))
    scene = clip.metadata["scene"]
    assert len(scene["shots"]) == 2 and list(scene["subjects"]) == ["ball1"]
    assert scene["shots"][1]["subjects"] == ["ball1"] and scene["shots"][1]["time_of_day"] == "night"
    frames = list(clip.frames())
    assert len(frames) == 48
    day, night = frames[10].mean(), frames[40].mean()
    assert day > night + 30
    assert min(int(hue_mask(f, BLUE_HUE, min_val=30).sum()) for f in (frames[10], frames[40])) > 100


def test_read_clip_decodes_gif_and_webm(tmp_path):
    from PIL import Image

    imgs = [Image.fromarray(np.full((48, 64, 3), (i * 40, 20, 200 - i * 40), np.uint8)) for i in range(5)]
    gif = tmp_path / "a.gif"
    imgs[0].save(gif, save_all=True, append_images=imgs[1:], duration=100, loop=0)
    clip = read_clip(gif)
    assert clip.n_frames == 5 and (clip.width, clip.height) == (64, 48) and clip.fps == 10
    frames = list(clip.frames())
    assert abs(int(frames[4][10, 10, 0]) - 160) < 12  # the last frame's own colour, decoded
    assert clip.audio.shape[0] == 2 and not clip.audio.any()  # no sound track: silence, not an error


@pytest.mark.parametrize("prompt", [
    "🎈🎈🎈 \u202eevil\u202c", "\"\"\"", 'unbalanced "quote here', "a " * 900, "1234567890 !!! ???",
    "a ball then then then cut to", "ثلاث كرات حمراء", "A RED BALL ON A WOODEN FLOOR AT NIGHT IN THE RAIN",
])
def test_odd_prompts_still_make_a_clip(backend, prompt):
    clip = backend.generate(GenerationSpec(prompt, seconds=1.0))
    first = next(iter(clip.frames()))
    assert first.shape == (480, 854, 3) and clip.audio.shape == (2, 48000)
    json.dumps(clip.metadata)


def test_remix_refuses_cameos(backend, ball_mp4):
    src_path, _ = ball_mp4
    with pytest.raises(GeneratorError, match="cannot add cameos"):
        backend.generate(GenerationSpec("noir", source_clip=src_path, cameos=(CameoRef("o", FACE),)))


def test_footsteps_land_on_their_frames(backend, tmp_path):
    clip = backend.generate(GenerationSpec("a man walking on a wooden floor", seconds=3.0))
    steps = clip.metadata["footsteps"]
    assert len(steps) >= 3
    path = tmp_path / "walk.mp4"
    write_mp4(clip, path)
    audio, sr = read_audio(path)
    offs = onset_offsets(audio, sr, [s["frame"] / clip.fps for s in steps], clip.fps)
    assert all(o is not None and abs(o) <= 1.0 / clip.fps for o in offs), offs


def test_too_many_shots_for_the_length_are_dropped_and_reported(backend):
    clip = backend.generate(GenerationSpec("a ball then a dog then a cat then a car then a bird", seconds=1.0))
    scene = clip.metadata["scene"]
    assert len(scene["shots"]) == 2 and scene["dropped_shots"] == ["a cat", "a car", "a bird"]
    assert len(list(clip.frames())) == clip.n_frames == 24
