"""Public verification: upload a clip or image, get the provenance report. Rate-limited per IP and key;
journalists' keys get a higher limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, status

from api.auth import components, optional_user
from api.limits import before_body, ran_before_body
from api.schemas import COMMON_ERRORS, VerifyReport, error_responses
from api.uploads import save_upload
from gate.components import Components
from gate.models import User
from gate.uploads import UploadError
from gate.verify import verify_file

router = APIRouter(tags=["verify"])
LIMITS = {"anonymous": 10, "journalist": 120, "operator": 600}  # requests per minute
DEFAULT_LIMIT = 30


@before_body  # an over-limit client is refused before it uploads its file
def rate_limit(request: Request, user: User | None = Depends(optional_user)) -> None:
    if ran_before_body(request, rate_limit):
        return  # counted once, by api.limits.RequestGuard
    limiter = request.app.state.rate_limiter
    if user is None:
        client = f"ip:{request.client.host if request.client else 'unknown'}"
        limit = LIMITS["anonymous"]
    else:
        client, limit = f"key:{user.name}", LIMITS.get(user.role, DEFAULT_LIMIT)
    ok, retry = limiter.hit(client, limit)
    if not ok:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"rate limit of {limit} verifications per minute reached; retry in {retry} s",
                            headers={"Retry-After": str(retry)})


# Open to anyone; a key, if sent, must be valid (401). 422: a file we will not read (empty, truncated, bomb).
@router.post("/v1/verify", dependencies=[Depends(rate_limit)], response_model=VerifyReport,
             responses=error_responses(*COMMON_ERRORS, 401, 422, 429))
async def verify(
    file: UploadFile = File(..., description="MP4/MOV/WebM/GIF clip or an image"),
    c: Components = Depends(components),
) -> dict:
    path: Path = await asyncio.to_thread(save_upload, file, c.settings.max_upload_bytes)
    try:
        # The checks and models are CPU work: off the event loop so other requests keep flowing.
        return await asyncio.to_thread(verify_file, c, path, file.filename)
    except UploadError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        path.unlink(missing_ok=True)
