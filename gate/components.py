"""The composition root: builds every domain object once per process from the settings.

Model loading can fail (missing weights, a broken install). Such failures are kept as the reason the
signal is unavailable, so /health and the decisions can say so, and the gate fails closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Engine

from gate import audit
from gate.audit_checkpoint import Checkpointer
from gate.db import make_engine, migrate
from gate.pipeline import HungStages
from gate.policy import Policy
from gate.settings import Settings
from gate.storage import LocalStorage
from gate.watermark_keys import WatermarkKeys

log = logging.getLogger(__name__)
T = TypeVar("T")


class Lazy(Generic[T]):
    """Load once, on first use; remember the failure instead of raising it at every call."""

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self._factory = factory
        self._lock = threading.Lock()
        self._loaded = False
        self._value: T | None = None
        self._error = ""

    def get(self) -> tuple[T | None, str]:
        with self._lock:
            if not self._loaded:
                try:
                    self._value = self._factory()
                except Exception as exc:  # reported, never swallowed: see health and decisions
                    log.exception("loading %s failed", self.name)
                    self._error = f"{self.name} failed to load: {type(exc).__name__}: {exc}"
                self._loaded = True
            return self._value, self._error

    def need(self) -> T:
        """The loaded value; a failed load raises its reason (a stage that runs without its model fails closed)."""
        value, why = self.get()
        if value is None:
            raise RuntimeError(why or f"{self.name} is not loaded")
        return value

    def reset(self) -> None:
        with self._lock:
            self._loaded, self._value, self._error = False, None, ""


class Components:
    def __init__(self, settings: Settings, run_migrations: bool = True) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.db_url)
        if run_migrations:
            migrate(self.engine)
        # audit checkpoints signed with a key outside the database (made at first start if not configured)
        self.audit_checkpoints = Checkpointer.from_settings(settings)
        audit.use_checkpoints(self.engine, self.audit_checkpoints)
        self.storage = LocalStorage(settings.media_root)
        self.workdir = settings.resolved_data_dir / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Derived tables (word frequencies, language lists, compiled name matchers) in the settings' data dir, as
        # the CLI keeps them, whether or not REELGATE_DATA_DIR is set: one cache per data dir, read by every process.
        from safety.local_cache import use_cache_dir

        use_cache_dir(settings.resolved_data_dir / "cache")
        self.hung_stages = HungStages()  # timed-out stage threads still running in this process
        # the watermark keyring: configured, or generated at first start into data_dir/keys
        self.watermark_keys = WatermarkKeys(settings)
        if warning := self.watermark_keys.shared_broker_warning():
            log.warning(warning)

        self.prompt_classifier: Lazy[Any] = Lazy("prompt classifier", self._load_prompt_classifier)
        self.frame_gate: Lazy[Any] = Lazy("frame gate", self._load_frame_gate)
        self.face_backend: Lazy[Any] = Lazy("face backend", self._load_face_backend)
        self.face_index: Lazy[Any] = Lazy("face index", self._load_face_index)
        self.copyright_index: Lazy[Any] = Lazy("copyright index", self._load_copyright_index)
        self.detector: Lazy[Any] = Lazy("AI-video detector", self._load_detector)
        self.signer: Lazy[Any] = Lazy("C2PA signer", self._load_signer)

    @property
    def policy(self) -> Policy:
        """The newest policy an operator set (read per job, so changes apply without a restart);
        before any, the policy file if there is one, else the built-in default."""
        from sqlmodel import Session, col, select

        from gate.models import PolicyVersion

        with Session(self.engine) as s:
            row = s.exec(select(PolicyVersion).order_by(col(PolicyVersion.id).desc()).limit(1)).first()
        if row is not None:
            return Policy.model_validate(row.body)
        return Policy.load(self.settings.policy_file or self.settings.resolved_data_dir / "policy.json")

    def set_policy(self, policy: Policy, actor: str) -> None:
        from sqlmodel import Session

        from gate.models import PolicyVersion

        with Session(self.engine) as s:
            s.add(PolicyVersion(actor=actor, body=policy.model_dump()))
            s.commit()

    # --- loaders (domain packages take plain arguments; this is the only place that wires them) ---
    def _load_prompt_classifier(self) -> Any:
        from gate.names import apply_names
        from safety.prompt_classifier import PromptClassifier

        # The exported encoder graph is cached in the data dir (keyed by the weights' hash): later loads are fast.
        clf = PromptClassifier.load(cache_dir=self.settings.resolved_data_dir / "cache")
        apply_names(clf, self.settings.resolved_data_dir)  # the operator's added and removed names
        return clf

    def _load_frame_gate(self) -> Any:
        from safety.frames import FrameGate

        return FrameGate(clip_weights=self.settings.clip_weights, clip_model=self.settings.clip_model)

    def _load_face_backend(self) -> Any:
        from consent.faces import get_face_backend

        return get_face_backend(self.settings.insightface_dir)

    def _load_face_index(self) -> Any:
        from consent.index import FaceIndex

        backend, why = self.face_backend.get()
        if backend is None:
            raise RuntimeError(why)
        index = FaceIndex(dim=int(getattr(backend, "dim", 128)))
        self._rebuild_face_index(index, backend.name)
        return index

    def _rebuild_face_index(self, index: Any, backend_name: str) -> None:
        from sqlmodel import Session

        from consent import registry

        with Session(self.engine) as s:
            index.rebuild(registry.all_embeddings(s, backend_name=backend_name))

    def fresh_face_index(self) -> tuple[Any, str]:
        """The face index, rebuilt if the database holds embeddings it has not seen: enrollments made
        by another process (the API) reach every worker before its next job."""
        from sqlalchemy import func
        from sqlmodel import Session, col, select

        from consent.models import CameoEmbedding

        index, why = self.face_index.get()
        if index is None:
            return None, why
        backend = self.face_backend.need()
        with Session(self.engine) as s:
            count, max_id = s.exec(select(func.count(col(CameoEmbedding.id)), func.max(CameoEmbedding.id))).one()
        cp = index.checkpoint()
        if cp.vectors != count or cp.max_row_id != (max_id if max_id is not None else -1):
            self._rebuild_face_index(index, backend.name)
        return index, ""

    def _load_copyright_index(self) -> Any:
        from sqlmodel import Session

        from safety.copyright.index import CopyrightIndex

        index = CopyrightIndex(clip_weights=self.settings.clip_weights)
        with Session(self.engine) as s:  # saved index restored and caught up; rebuilt only when unusable
            index.open(self.settings.resolved_data_dir / "copyright_index", s, lambda key: self.storage.path(key))
        return index

    def _load_detector(self) -> Any:
        from safety.detector.model import AIVideoDetector

        return AIVideoDetector.load()

    def _load_signer(self) -> Any:
        from provenance.certs import ensure_dev_signer, load_signer

        s = self.settings
        if s.c2pa_cert_chain and s.c2pa_private_key:
            return load_signer(s.c2pa_cert_chain, s.c2pa_private_key)
        return ensure_dev_signer(s.keys_dir)

    @cached_property
    def bank_index(self) -> Any:
        """The hash banks' PDQ index (gate.banks.BankIndex), caught up with the database at each use."""
        from gate.banks import BankIndex

        return BankIndex()

    @cached_property
    def trust_anchors_pem(self) -> bytes | None:
        """The public C2PA trust list (the installation's copy, else the shipped snapshot), the operator's
        anchors file and, for the embedded default, our own development CA."""
        from provenance import trust_list

        parts: list[bytes] = []
        try:
            parts.append(trust_list.load(self.settings.resolved_data_dir))
        except OSError as exc:  # a missing list narrows "trusted"; it must not stop verification
            log.warning("C2PA trust list not loaded: %s", exc)
        if self.settings.c2pa_trust_anchors and self.settings.c2pa_trust_anchors.exists():
            parts.append(self.settings.c2pa_trust_anchors.read_bytes())
        signer, _ = self.signer.get()
        if signer is not None and getattr(signer, "ca_pem", None):
            parts.append(signer.ca_pem)
        return b"\n".join(parts) if parts else None

    def generator(self) -> Any:
        from generator import get_backend

        if self.settings.generator_backend == "diffusion":
            return get_backend("diffusion", model_dir=self.settings.diffusion_model_dir)
        return get_backend(self.settings.generator_backend)


_lock = threading.Lock()
_instance: Components | None = None


def get_components(settings: Settings | None = None) -> Components:
    """One Components per process (the only process-wide state, as DESIGN.md allows)."""
    global _instance
    with _lock:
        if _instance is None or (settings is not None and _instance.settings is not settings):
            from gate.settings import load_settings

            _instance = Components(settings or load_settings())
        return _instance


def reset_components() -> None:
    global _instance
    with _lock:
        _instance = None
