"""Core commands: serve, worker, generate, users, audit, health, eval."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from api.cli.base import cli, emit, fail, json_option, settings


def _components():
    from gate.audit_checkpoint import AuditKeyError
    from gate.components import get_components
    from gate.db import DatabaseUnavailable

    try:
        return get_components(settings())
    except (DatabaseUnavailable, AuditKeyError) as exc:
        fail(str(exc))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="job workers to start (0: none)")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API, the web pages and (by default) a job worker."""
    import uvicorn

    from api.app import create_app

    c = _components()
    # the gate's own log lines (audit checkpoints, takedowns) beside uvicorn's, on the operator's stderr
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    procs = [subprocess.Popen([sys.executable, "-m", "api.cli", "worker"]) for _ in range(max(0, workers))]
    try:
        click.echo(f"reelgate: data in {c.settings.resolved_data_dir}; queue "
                   f"{'embedded' if c.settings.embedded_queue else c.settings.broker_url}", err=True)
        uvicorn.run(create_app(components=c), host=host, port=port, log_level="info")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


@cli.command()
@click.option("--concurrency", default=1, show_default=True, type=int)
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int, loglevel: str) -> None:
    """Run a job worker (Celery) on the configured queue."""
    from gate.queue import run_worker

    _components()  # migrate before taking jobs
    run_worker(settings(), concurrency=concurrency, loglevel=loglevel)


def _progress_printer(as_json: bool):
    from gate.stages import STAGE_TITLES

    bar: dict[str, Any] = {"obj": None}  # the encoder's progress bar (tqdm), while one is shown

    def stage(name: str, decision) -> None:
        title = STAGE_TITLES.get(name, name)
        if decision is None:
            click.echo(f"  {title} ...", err=True)
        else:
            why = f" ({decision.reasons[0]})" if decision.reasons and decision.decision != "pass" else ""
            click.echo(f"  {title}: {decision.decision} in {decision.seconds:.2f} s{why}", err=True)

    def frames(done: int, total: int) -> None:
        from tqdm import tqdm

        if bar["obj"] is None:
            bar["obj"] = tqdm(total=total, desc="  encoding", unit="frame", file=sys.stderr, leave=False)
        bar["obj"].update(done - bar["obj"].n)
        if done >= total:
            bar["obj"].close()
            bar["obj"] = None

    return stage, frames


@cli.command()
@click.argument("prompt")
@click.option("--style", default=None)
@click.option("--seconds", default=5.0, show_default=True, type=float)
@click.option("--resolution", default="480p", show_default=True, type=click.Choice(["480p", "720p", "1080p"]))
@click.option("--fps", default=24, show_default=True, type=click.Choice(["24", "30"]))
@click.option("--seed", default=None, type=int)
@click.option("--cameo", "cameos", multiple=True, help="cameo handle (repeatable)")
@click.option("--remix", default=None, help="a video id, or a clip file to remix")
@click.option("--user", default="cli", show_default=True, help="who asks (for consent checks)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@json_option
def generate(prompt, style, seconds, resolution, fps, seed, cameos, remix, user, output, as_json) -> None:
    """Generate a clip through the whole gate, inline, and write the MP4 if it is published."""
    from gate import jobs
    from gate.models import JobStatus
    from gate.requests import GenerationRequest
    from gate.uploads import UploadError, check_video

    c = _components()
    remix_id = remix if remix and len(remix) == 16 and not Path(remix).exists() else None
    try:
        req = GenerationRequest(prompt=prompt, style=style, seconds=seconds, resolution=resolution,
                                fps=24 if fps == "24" else 30, seed=seed, cameos=list(cameos), remix=remix_id)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                       for e in exc.errors()))
    job_id = jobs.new_job_id()
    try:
        if remix and remix_id is None:
            src = Path(remix)
            check_video(src, c.settings.max_upload_bytes)
            key = c.storage.put_file(f"uploads/{job_id}-source{src.suffix.lower() or '.mp4'}", src)
            job = jobs.create_job(c, user, req, job_id=job_id, extra={"remix_key": key})
        else:
            job = jobs.create_job(c, user, req, job_id=job_id)
    except (jobs.JobError, UploadError) as exc:
        fail(str(exc))
    stage_cb, frame_cb = _progress_printer(as_json)
    # once the prompt passed, the later stages' models load while the clip is generated (cold: overlapped
    # instead of one after another); joined before exit so no thread is cut off mid-load
    preload = threading.Thread(target=jobs.prewarm, args=(c,), name="prewarm", daemon=True)

    def progress(name: str, decision) -> None:
        if name == "prompt" and decision is not None and decision.decision != "block":
            preload.start()
        stage_cb(name, decision)

    click.echo(f"reelgate: job {job.id}", err=True)
    status = jobs.run_job(c, job.id, progress=progress, frame_progress=frame_cb)
    if preload.is_alive():
        preload.join()
    final = jobs.get_job(c, job.id)
    if final is None:  # deleted while it ran (e.g. by an operator)
        fail(f"job {job.id} no longer exists")
    out = {"status": status, "video_id": job.id, "reasons": final.reasons, "stages": final.decisions,
           "output": None}
    if status == JobStatus.PUBLISHED and final.video_key:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(c.storage.path(final.video_key), output)
        out["output"] = str(output)
    human = f"{status}: {output if out['output'] else 'no file written'}"
    if final.reasons:
        human += "\n" + "\n".join(f"  - {r}" for r in final.reasons)
    emit(out, as_json, human=human)


@cli.group()
def users() -> None:
    """Accounts and API keys."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["creator", "operator", "rights_holder", "journalist"]))
@json_option
def users_create(name: str, role: str, as_json: bool) -> None:
    """Create a user and print its API key (shown once)."""
    from gate.users import UserError, create_user

    c = _components()
    try:
        user, key = create_user(c.engine, name, role)
    except UserError as exc:
        fail(str(exc))
    emit({"name": user.name, "role": user.role, "api_key": key}, as_json, human=key)


@users.command("rotate")
@click.argument("name")
@json_option
def users_rotate(name: str, as_json: bool) -> None:
    """Give NAME a new API key and print it (shown once); the old key and its sessions stop working."""
    from gate.users import UserError, rotate_key

    try:
        user, key = rotate_key(_components().engine, name)
    except UserError as exc:
        fail(str(exc))
    emit({"name": user.name, "role": user.role, "api_key": key}, as_json, human=key)


@users.command("disable")
@click.argument("name")
@json_option
def users_disable(name: str, as_json: bool) -> None:
    """Refuse NAME's API key (401) and end their console sessions; `users enable` undoes it."""
    _set_disabled(name, True, as_json)


@users.command("enable")
@click.argument("name")
@json_option
def users_enable(name: str, as_json: bool) -> None:
    """Accept NAME's API key again."""
    _set_disabled(name, False, as_json)


def _set_disabled(name: str, disabled: bool, as_json: bool) -> None:
    from gate.users import UserError, set_disabled

    try:
        user = set_disabled(_components().engine, name, disabled)
    except UserError as exc:
        fail(str(exc))
    emit({"name": user.name, "disabled": user.disabled}, as_json,
         human=f"{user.name}: {'disabled' if user.disabled else 'enabled'}")


@cli.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """Check every entry's hash and link, and the chain against its signed checkpoints (a deleted tail,
    a recomputed chain); exit 1 if anything fails. An intact chain gets a new signed checkpoint."""
    from gate.audit import verify_signed

    c = _components()
    report = verify_signed(c.engine, c.audit_checkpoints)
    human = (f"audit chain intact: {report.entries} entries, {report.checkpoints} signed checkpoint(s) hold"
             if report.ok else f"audit chain BROKEN at entry {report.first_bad_seq}: {report.problem}")
    emit(report.as_dict(), as_json, human=human)
    if not report.ok:
        sys.exit(1)


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--subject", default=None, help="only entries about this subject")
@json_option
def audit_list(limit: int, subject: str | None, as_json: bool) -> None:
    """The newest audit entries, newest first."""
    from gate.audit import recent

    rows = recent(_components().engine, limit=limit, subject=subject)
    out = [{"seq": e.seq, "ts": e.ts, "actor": e.actor, "event": e.event, "subject": e.subject,
            "payload": json.loads(e.payload)} for e in rows]
    emit(out, as_json, human="\n".join(f"{e['seq']:>6} {e['ts'][:19]} {e['actor']:<12} {e['event']:<24} {e['subject']}"
                                         for e in out) or "no entries")


@cli.command()
@json_option
def health(as_json: bool) -> None:
    """Every stage, its model, whether it runs on real weights."""
    from gate.health import health_report

    report = health_report(_components())
    lines = [f"status: {report['status']} (database {report['database']}, queue {report['queue']})"]
    for st in report["stages"]:
        for s in st["signals"]:
            state = "ok" if s.get("available") else f"NOT RUNNING: {s.get('why')}"
            req = "required" if s.get("required") else "optional"
            lines.append(f"  {st['stage']:<10} {s['name']:<24} {req:<8} {s.get('model', '')}: {state}")
    for s in report.get("verify", []):
        state = ("ok" if s["informative"] else "runs, NOT INFORMATIVE") if s["available"] else "NOT RUNNING"
        lines.append(f"  {'verify':<10} {s['name']:<24} {'':<8} {s['model']}: {state}: {s['why']}")
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    emit(report, as_json, human="\n".join(lines))


@cli.command("eval")
@click.argument("name")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None)
@json_option
def eval_cmd(name: str, data: Path | None, as_json: bool) -> None:
    """Run an evaluation and print its table."""
    from evals import EVALS, default_data_dir

    if name not in EVALS:
        fail(f"unknown evaluation {name!r}; known: {', '.join(sorted(EVALS))}")
    module = importlib.import_module(EVALS[name])
    table = module.run(data or default_data_dir())
    emit({"eval": name, "table": table}, as_json, human=table)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def verify(file: Path, as_json: bool) -> None:
    """Verification report: Content Credentials, our watermark, and the AI-artifact estimate."""
    from gate.uploads import UploadError
    from gate.verify import verify_file

    try:
        report = verify_file(_components(), file)
    except UploadError as exc:
        fail(str(exc))
    emit(report, as_json, human=report["verdict"])
