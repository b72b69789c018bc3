"""`reelgate rights register|check|list|delete`: the rights holders' registry from the command line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from api.cli.base import cli, emit, fail, json_option, settings

CLIP_SAMPLE_SECONDS = 1.0
MAX_CLIP_FRAMES = 20


def _components():
    from sqlmodel import SQLModel

    from gate.components import get_components
    from gate.db import DatabaseUnavailable
    from safety.copyright.models import Work, WorkReference

    try:
        c = get_components(settings())
        # The registry's tables, if no migration has created them yet (checkfirst: a no-op otherwise).
        SQLModel.metadata.create_all(c.engine, tables=[Work.__table__, WorkReference.__table__])  # type: ignore[attr-defined]
        return c
    except DatabaseUnavailable as exc:
        fail(str(exc))


def _store(c):
    def store_image(data: bytes, suffix: str) -> str:
        key = f"copyright/{hashlib.sha256(data).hexdigest()}{suffix}"
        return c.storage.put_bytes(key, data)

    return store_image


def _match_json(m) -> dict:
    return m.to_dict()


@cli.group()
def rights() -> None:
    """Registered characters and works (rights holders) and the copyright similarity check."""


@rights.command("register")
@click.argument("name")
@click.option("--image", "images", multiple=True, type=click.Path(path_type=Path), help="reference image")
@click.option("--clip", "clips", multiple=True, type=click.Path(path_type=Path),
              help=f"reference video: a frame every {CLIP_SAMPLE_SECONDS:g} s (at most {MAX_CLIP_FRAMES})")
@click.option("--alias", "aliases", multiple=True, help="another name (language, nickname); repeatable")
@click.option("--policy", default="block", show_default=True, type=click.Choice(["block", "review", "allow"]))
@click.option("--owner", default="local", show_default=True, help="rights holder account the work belongs to")
@json_option
def register(name: str, images: tuple[Path, ...], clips: tuple[Path, ...], aliases: tuple[str, ...],
             policy: str, owner: str, as_json: bool) -> None:
    """Register work NAME with reference images/clips; nothing is stored if any input is bad."""
    from sqlmodel import Session

    from safety.copyright import CopyrightError, read_image_file, references, register_work
    from safety.copyright.registry import is_flat
    from safety.copyright.video import sample_frames

    try:
        arrays, kinds = [], []
        for p in images:
            arrays.append(read_image_file(p, keep_alpha=True))  # transparency: a figure
            kinds.append("image")
        for p in clips:
            for _, _, frame in sample_frames(p, CLIP_SAMPLE_SECONDS, MAX_CLIP_FRAMES):
                if is_flat(frame):  # black fade-ins and title cards are no evidence of the work
                    continue
                arrays.append(frame)
                kinds.append("video_frame")
        c = _components()
        with Session(c.engine) as s:
            work = register_work(s, owner, name, list(aliases), policy, arrays, _store(c), kinds=kinds)
            refs = references(s, work.id)
            obj = {"work_id": work.id, "work": work.name, "owner": work.owner, "aliases": work.aliases,
                   "policy": work.policy, "references": [{"id": r.id, "kind": r.kind, "media": r.media,
                                                          "pdq": r.pdq.hex()} for r in refs]}
    except CopyrightError as exc:
        fail(str(exc))
    emit(obj, as_json, human=f"registered work {obj['work_id']} {obj['work']!r} ({len(refs)} "
         f"reference(s), policy {obj['policy']})")


@rights.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--every", default=0.5, show_default=True, type=float, help="video: seconds between frames")
@json_option
def check(file: Path, every: float, as_json: bool) -> None:
    """Check an image or video FILE against every registered work."""
    from safety.copyright import CopyrightError

    c = _components()
    index, why = c.copyright_index.get()
    if index is None:
        fail(f"copyright index unavailable: {why}")
    try:
        matches = index.check_path(file, sample_every=every)
    except CopyrightError as exc:
        fail(str(exc))
    obj = {"matches": [_match_json(m) for m in matches], "signals": index.signals_status(),
           "index": index.checkpoint.to_dict()}
    off = [n for n, st in obj["signals"].items() if not st["ran"]]
    human = "\n".join([f"{m.work}: score {m.score:.3f} frame {m.frame}" for m in matches] or ["no match"])
    if off:
        human += "\n(signals not run: " + "; ".join(f"{n}: {obj['signals'][n]['why']}" for n in off) + ")"
    emit(obj, as_json, human=human)


@rights.command("list")
@click.option("--owner", default=None, help="only this rights holder's works")
@json_option
def list_cmd(owner: str | None, as_json: bool) -> None:
    """List registered works."""
    from sqlmodel import Session

    from safety.copyright import list_works, references

    c = _components()
    with Session(c.engine) as s:
        works = [{"work_id": w.id, "work": w.name, "owner": w.owner, "aliases": w.aliases, "policy": w.policy,
                  "references": len(references(s, w.id))} for w in list_works(s, owner)]
    emit({"works": works}, as_json,
         human="\n".join(f"{w['work_id']}\t{w['work']}\t{w['policy']}\t{w['owner']}" for w in works) or "none")


@rights.command("delete")
@click.argument("work_id", type=int)
@click.option("--owner", default=None, help="refuse unless the work belongs to this rights holder")
@json_option
def delete_cmd(work_id: int, owner: str | None, as_json: bool) -> None:
    """Delete a registered work and its reference media."""
    from sqlmodel import Session

    from safety.copyright import CopyrightError, delete_work

    c = _components()
    try:
        with Session(c.engine) as s:
            keys = delete_work(s, work_id, owner)
    except CopyrightError as exc:
        fail(str(exc))
    shared = set()
    with Session(c.engine) as s:
        from safety.copyright import references

        shared = {r.media for r in references(s)}
    for k in keys:
        if k not in shared:  # content-addressed: another work may hold the same image
            c.storage.delete(k)
    emit({"deleted": work_id, "media_removed": len([k for k in keys if k not in shared])}, as_json,
         human=f"deleted work {work_id}")
