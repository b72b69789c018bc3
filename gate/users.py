"""Accounts and API keys. Keys are 256-bit random tokens; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gate import audit
from gate.models import ROLES, User

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
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    user = User(name=name, role=role, key_prefix=key[:10], key_hash=hash_key(key))
    with Session(engine, expire_on_commit=False) as s:
        s.add(user)
        try:
            s.commit()
        except IntegrityError as exc:
            raise UserError(f"user {name!r} already exists") from exc
    audit.append(engine, actor, "user.created", name, {"role": role})
    return user, key


def user_for_key(engine: Engine, key: str) -> User | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    with Session(engine) as s:
        user = s.exec(select(User).where(User.key_hash == hash_key(key))).first()
    if user is None or user.disabled:
        return None
    return user
