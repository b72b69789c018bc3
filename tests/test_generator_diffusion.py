"""Diffusion backend wiring, with a tiny randomly initialised text-to-video pipeline built here (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import generator.torch_compat  # noqa: F401  (before anything imports transformers)
from generator import BackendUnavailableError, GenerationSpec, GeneratorError, get_backend

pytest.importorskip("diffusers", reason="the optional `diffusion` extra is not installed")
pytestmark = pytest.mark.slow


def _byte_unicode() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table, so a character-level CLIP vocabulary covers any text."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = tmp_path_factory.mktemp("t2v")
    chars = _byte_unicode()
    vocab = {c: i for i, c in enumerate(chars)}
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=77)
    torch.manual_seed(0)
    unet = UNet3DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=8, attention_head_dim=4, norm_num_groups=2)
    vae = AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3, latent_channels=4, sample_size=16,
                        down_block_types=["DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D"],
                        norm_num_groups=2)
    text = CLIPTextModel(CLIPTextConfig(
        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"], vocab_size=len(vocab), hidden_size=8, intermediate_size=16,
        num_attention_heads=2, num_hidden_layers=2, projection_dim=8, max_position_embeddings=77))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False)
    model = root / "model"
    TextToVideoSDPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched).save_pretrained(model)
    return model


def test_diffusion_backend_runs_a_local_pipeline(tiny_model, tmp_path):
    from generator.encode import probe, write_mp4

    backend = get_backend("diffusion", model_dir=tiny_model, steps=2, model_frames=4, height=32, width=32)
    assert backend.available() == (True, "")
    spec = GenerationSpec("a red ball bouncing, gentle piano music", seconds=1.0, seed=7)
    clip = backend.generate(spec)
    frames = list(clip.frames())
    assert len(frames) == 24 and frames[0].shape == (480, 854, 3)
    assert frames[0].std() > 1  # the model's (random) pixels, not a blank frame
    meta = clip.metadata
    assert meta["backend"] == "diffusion" and meta["model_frames"] == 4 and meta["scene"]["music"]
    assert np.abs(clip.audio).max() > 0.001  # the procedural music bed
    again = np.stack(list(backend.generate(spec).frames()))
    assert np.array_equal(again, np.stack(frames))  # seeded
    out = tmp_path / "d.mp4"
    write_mp4(clip, out)
    assert probe(out)["video_codec"] == "h264"
    with pytest.raises(GeneratorError, match="cameos or remix"):
        backend.generate(GenerationSpec("x", source_clip=out))


def test_diffusion_backend_reports_missing_parts(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text((tiny_model / "model_index.json").read_text())
    ok, why = get_backend("diffusion", model_dir=broken).available()
    assert not ok and "lacks component folders" in why
    with pytest.raises(BackendUnavailableError):
        get_backend("diffusion", model_dir=broken).generate(GenerationSpec("a ball"))
