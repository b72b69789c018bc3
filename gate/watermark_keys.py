"""The installation's watermark keyring for this process, from the settings (see provenance.wm_keys).

REELGATE_WATERMARK_KEY (operator-configured, the same on every API and worker process) wins; without it the
keyring is generated at first start into DATA_DIR/keys (0600) and re-read when `reelgate watermark
rotate-key` replaces it. REELGATE_WATERMARK_OLD_KEYS adds keys that are only tried when detecting.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gate.settings import Settings
from provenance.errors import ProvenanceError
from provenance.wm_keys import KEYRING_FILE, Keyring, ensure_keyring_file, parse_keyring, parse_old_keys

log = logging.getLogger(__name__)

SHARED_BROKER_WARNING = (
    "{who} marks clips with a watermark key generated in its own data dir while the job broker is shared "
    "(REELGATE_BROKER_URL): set REELGATE_WATERMARK_KEY to the same key on every API and worker process, or "
    "clips one process marks are not recognised as ours by another"
)


class WatermarkKeys:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._ring: Keyring | None = None
        self._stamp: tuple[int, int, int] | None = None
        self.get()  # validated (or generated) at start: a bad key is a startup error, not a per-job one

    def get(self) -> Keyring:
        s = self.settings
        with self._lock:
            try:
                if s.watermark_key is not None:
                    if self._ring is None:
                        self._ring = parse_keyring(s.watermark_key.get_secret_value(), self._old_text(), "configured")
                    return self._ring
                path = s.keys_dir / KEYRING_FILE
                stamp = self._file_stamp(path)
                if self._ring is None or stamp is None or stamp != self._stamp:
                    ring = ensure_keyring_file(s.keys_dir)
                    if self._old_text():
                        ring = Keyring(ring.current, (*ring.old, *parse_old_keys(self._old_text())), ring.source)
                    self._ring, self._stamp = ring, self._file_stamp(path)
                return self._ring
            except ProvenanceError as exc:
                raise ProvenanceError(f"watermark key (REELGATE_WATERMARK_KEY / REELGATE_WATERMARK_OLD_KEYS or "
                                      f"{s.keys_dir / KEYRING_FILE}): {exc}") from None

    def _old_text(self) -> str | None:
        old = self.settings.watermark_old_keys
        return old.get_secret_value() if old is not None else None

    @staticmethod
    def _file_stamp(path: Any) -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_ino, st.st_size

    def shared_broker_warning(self, who: str = "this process") -> str | None:
        """Set when a generated key meets a shared broker: workers elsewhere hold other generated keys."""
        if self.settings.broker_url is not None and self.get().source == "generated":
            return SHARED_BROKER_WARNING.format(who=who)
        return None

    def stamp(self) -> str:
        """What a job records about the key that marked it: id, fingerprint (not secret) and source."""
        ring = self.get()
        return f"{ring.current.key_id} {ring.current.fingerprint} {ring.source}"


def key_warnings(engine: Any, keys: WatermarkKeys, who: str, recent: int = 50) -> list[str]:
    """What /health says about watermark keys across processes: this process on a generated key while the
    broker is shared, and recent clips (the `recent` newest jobs) that workers marked on a generated key or
    with a key this process does not hold (verify would not recognise them as ours)."""
    from sqlmodel import Session, col, select

    from gate.models import Job

    out = [w] if (w := keys.shared_broker_warning(who)) else []
    held = {k.fingerprint for k in keys.get().all}
    foreign: set[str] = set()
    generated = 0
    with Session(engine) as s:
        rows = s.exec(select(Job.decisions).order_by(col(Job.created_at).desc()).limit(recent)).all()
    for decisions in rows:
        for d in decisions or []:
            parts = str((d.get("models") or {}).get("provenance.watermark_key") or "").split()
            if len(parts) != 3:
                continue  # not a watermark decision, or a job marked before keys were recorded
            key_id, fingerprint, source = parts
            if fingerprint not in held:
                foreign.add(key_id)
            generated += source == "generated"
    if generated and keys.settings.broker_url is not None and not out:
        out.append(SHARED_BROKER_WARNING.format(who=f"a worker ({generated} of the last {recent} jobs)"))
    if foreign:
        out.append(f"recent clips were marked with watermark key(s) {', '.join(sorted(foreign))} that this process "
                   "does not hold: verify will not recognise them as ours; give every process the same "
                   "REELGATE_WATERMARK_KEY (retired keys in REELGATE_WATERMARK_OLD_KEYS)")
    return out
