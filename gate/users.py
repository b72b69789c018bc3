"""Accounts and API keys. Keys are 256-bit random tokens; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gate import audit
from gate.models import ROLES, User, WebSession, utcnow
from provenance.secret_files import create_once

NAME = re.compile(r"^[a-z0-9_.]{2,32}$")
KEY_PREFIX = "rg_"


class UserError(ValueError):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_user(engine: Engine, name: str, role: str, actor: str = "cli") -> tuple[User, str]:
    """Returns the user and the API key (shown once, never stored)."""
    name = name.strip().lower()
    if not NAME.match(name):
        raise UserError("user name must be 2-32 of a-z 0-9 _ .")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    key, prefix, digest = _new_key()
    user = User(name=name, role=role, key_prefix=prefix, key_hash=digest)
    with Session(engine, expire_on_commit=False) as s:
        s.add(user)
        try:
            s.commit()
        except IntegrityError as exc:
            raise UserError(f"user {name!r} already exists") from exc
    audit.append(engine, actor, "user.created", name, {"role": role})
    return user, key


def _new_key() -> tuple[str, str, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], hash_key(key)


def _end_web_sessions(s: Session, name: str) -> None:
    s.exec(delete(WebSession).where(col(WebSession.user) == name))


def _get(s: Session, name: str) -> User:
    user = s.exec(select(User).where(User.name == name.strip().lower())).first()
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


def set_disabled(engine: Engine, name: str, disabled: bool, actor: str = "cli") -> User:
    """A disabled user's key is refused (401) and their console sessions end; enabling restores the key."""
    with Session(engine, expire_on_commit=False) as s:
        user = _get(s, name)
        user.disabled = disabled
        s.add(user)
        if disabled:
            _end_web_sessions(s, user.name)
        s.commit()
    audit.append(engine, actor, "user.disabled" if disabled else "user.enabled", user.name, {})
    return user


def rotate_key(engine: Engine, name: str, actor: str = "cli") -> tuple[User, str]:
    """A new key for the user (returned once); the old key stops working at once, so do its sessions."""
    key, prefix, digest = _new_key()
    with Session(engine, expire_on_commit=False) as s:
        user = _get(s, name)
        user.key_prefix, user.key_hash = prefix, digest
        s.add(user)
        _end_web_sessions(s, user.name)
        s.commit()
    audit.append(engine, actor, "user.key_rotated", user.name, {"key_prefix": prefix})
    return user, key


def user_for_key(engine: Engine, key: str) -> User | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    with Session(engine) as s:
        user = s.exec(select(User).where(User.key_hash == hash_key(key))).first()
    if user is None or user.disabled:
        return None
    return user


# --- console sessions: the row behind a cookie (only the session id's SHA-256 is stored) ----------------------

def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def open_web_session(engine: Engine, user: str, sid: str, lifetime: timedelta) -> None:
    now = utcnow()
    with Session(engine) as s:
        s.exec(delete(WebSession).where(col(WebSession.expires_at) < now))  # housekeeping: ended sessions
        s.add(WebSession(id_hash=_sid_hash(sid), user=user, created_at=now, expires_at=now + lifetime))
        s.commit()


def close_web_session(engine: Engine, sid: str) -> None:
    with Session(engine) as s:
        s.exec(delete(WebSession).where(col(WebSession.id_hash) == _sid_hash(sid)))
        s.commit()


def web_session_user(engine: Engine, name: str, key_hash: str, sid: str) -> User | None:
    """The session's user if the session is live and the user still enabled, on the key they signed in
    with (a disabled or rotated key ends every session made with it)."""
    with Session(engine) as s:
        row = s.exec(select(User).where(User.name == name)).first()
        live = s.get(WebSession, _sid_hash(sid))
    if (row is not None and not row.disabled and hmac.compare_digest(row.key_hash, key_hash)
            and live is not None and live.user == name and live.expires_at > utcnow()):
        return row
    return None


def session_secret(keys_dir: Path) -> str:
    """The console's cookie-signing secret, created once per data dir (0600) and shared by every API process."""
    path = keys_dir / "web_session.key"
    create_once(path, secrets.token_urlsafe(48).encode())  # first process wins; the others read its secret
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds a session secret that is too short; delete it to make a new one")
    return secret
