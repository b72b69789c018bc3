"""Authentication by API key (Authorization: Bearer KEY, or X-API-Key) and role checks."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.limits import before_body
from gate.components import Components
from gate.models import User
from gate.users import user_for_key

_bearer = HTTPBearer(auto_error=False, description="API key from `reelgate users create`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def components(request: Request) -> Components:
    return request.app.state.components


def optional_user(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header: str | None = Depends(_header),
) -> User | None:
    key = bearer.credentials if bearer else header
    if not key:
        return None
    user = user_for_key(components(request).engine, key)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or disabled API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def current_user(user: User | None = Depends(optional_user)) -> User:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required (Authorization: Bearer KEY)",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def require_roles(*roles: str) -> Callable[[User], User]:
    def check(user: User = Depends(current_user)) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this needs the role {' or '.join(roles)}; your key has {user.role}")
        return user

    return before_body(check)  # a wrong role is refused before the body (an upload) is read
