"""Settings from REELGATE_* environment variables; one data directory holds everything by default."""

from __future__ import annotations

import contextlib
import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELGATE_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "reelgate-data")
    database_url: str | None = None  # default: SQLite file in data_dir
    broker_url: str | None = None  # default: broker-less queue in a SQLite file in data_dir
    queue_name: str = "reelgate"
    media_dir: Path | None = None  # default: data_dir/media (shared storage in scale-out)
    policy_file: Path | None = None  # default: data_dir/policy.json if present, else built-in policy

    generator_backend: str = "procedural"  # or "diffusion" with diffusion_model_dir
    diffusion_model_dir: Path | None = None  # a local diffusers text-to-video pipeline folder
    stage_timeout_seconds: float = 300.0
    job_lease_seconds: float = 60.0  # a running job whose worker stops renewing this is re-queued
    sweep_seconds: float = 15.0  # how often each worker looks for such jobs
    # generation requests' prompt limit: at most generator.validate.MAX_PROMPT_CHARS (2,000), which is the default
    max_prompt_chars: int = Field(2000, ge=1, le=2000)
    max_upload_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 20.0
    jobs_per_hour: int = 60  # per user, API and console (0: no limit)
    concurrent_jobs: int = 4  # per user: queued or running at once (0: no limit)
    # a registered work's name at or above this wordfreq Zipf frequency ("ball" 5.0) waits for an operator
    common_name_zipf: float = 3.5
    verify_report_ttl_days: float = Field(30.0, gt=0)  # stored verification reports are deleted after this
    # a worker's own Prometheus endpoint (workers have no HTTP server; the API has GET /metrics); unset: none
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_addr: str = "127.0.0.1"  # it takes no key: open it only to the scraper

    # provenance: operator-supplied signer; without it a development CA is created in data_dir/keys
    c2pa_cert_chain: Path | None = None
    c2pa_private_key: Path | None = None
    c2pa_trust_anchors: Path | None = None
    # invisible watermark key ("ID:HEX", >= 32 bytes); without it one is generated in data_dir/keys. Every
    # API and worker process must share it. Old keys (comma-separated, "legacy-v1" = the 3.x source key)
    # are tried when detecting.
    watermark_key: SecretStr | None = None
    watermark_old_keys: SecretStr | None = None
    software_agent: str = "reelgate"
    # console cookie Secure flag: unset = Secure unless the browser uses plain http on a loopback address
    secure_cookies: bool | None = None
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)  # absolute console session lifetime
    # audit checkpoints: Ed25519 key (PEM file path, PEM text or base64 32-byte seed) kept outside the
    # database; without it one is generated in data_dir/keys. A signed checkpoint every N entries.
    audit_signing_key: SecretStr | None = None
    audit_checkpoint_every: int = Field(default=100, ge=1)

    # weights an operator supplies (optional signals until configured)
    clip_weights: Path | None = None
    clip_model: str = "ViT-B-32"
    insightface_dir: Path | None = None

    @cached_property
    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # 0700 when made here: faces, keys, database
        return path

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{_private_file(self.resolved_data_dir / 'reelgate.db')}"

    @property
    def queue_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{_private_file(self.resolved_data_dir / 'queue.db')}"

    @property
    def embedded_queue(self) -> bool:
        return self.broker_url is None

    @property
    def media_root(self) -> Path:
        path = (self.media_dir or self.resolved_data_dir / "media").expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @property
    def keys_dir(self) -> Path:
        path = self.resolved_data_dir / "keys"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


def _private_file(path: Path) -> Path:
    """Create an SQLite file 0600 before SQLite does (it would use the umask, usually 0644); its -wal and
    -shm files take the database file's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def load_settings() -> Settings:
    return Settings()
