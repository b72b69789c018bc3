"""Hash banks for operators: list, import and export (HMA / threatexchange formats), set a bank's policy,
check a file against every bank."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse

from api.auth import components, require_roles
from api.bank_schemas import BankCheck, BankImported, BankList, BankOut, Policy, PolicyIn
from api.schemas import COMMON_ERRORS, error_responses
from api.uploads import save_upload
from gate import banks
from gate.components import Components
from gate.models import User
from gate.uploads import UploadError, check_media

router = APIRouter(prefix="/v1/banks", tags=["banks"], responses=error_responses(*COMMON_ERRORS, 401, 403))
operator = require_roles("operator")
BankName = PathParam(..., min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")
Format = Literal["te", "csv"]


@router.get("", response_model=BankList)
def list_banks(_: User = Depends(operator), c: Components = Depends(components)) -> dict:
    return {"banks": banks.list_banks(c)}


@router.post("/{name}/import", response_model=BankImported, responses=error_responses(422))
def import_bank(
    name: str = BankName,
    file: UploadFile = File(..., description="te: '<signal_type> <signal>' lines; csv: threatexchange dataset --csv"),
    policy: Policy | None = Form(None, description="the bank's policy (a new bank: block)"),
    format: Format | None = Form(None, description="default: detected from the first line"),
    user: User = Depends(operator),
    c: Components = Depends(components),
) -> dict:
    """Add every signal of the file; one bad line refuses the file and nothing is imported."""
    path = save_upload(file, c.settings.max_upload_bytes)
    try:
        return banks.import_file(c, name, path, user.name, format, policy)
    except banks.BankError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        path.unlink(missing_ok=True)


EXPORT_TYPES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the bank file", "content": {"text/plain": {"schema": {"type": "string"}},
                                                      "text/csv": {"schema": {"type": "string"}}}}}


# a PlainTextResponse is returned as it is; the route keeps the JSON class so its errors are documented as JSON
@router.get("/{name}/export", responses={**EXPORT_TYPES, **error_responses(404, 422)})
def export_bank(name: str = BankName, format: Format = Query("te"), _: User = Depends(operator),
                c: Components = Depends(components)) -> PlainTextResponse:
    try:
        text = banks.export_text(c, name, format)
    except banks.BankNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    media = "text/csv" if format == "csv" else "text/plain"
    return PlainTextResponse(text, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})


@router.put("/{name}/policy", response_model=BankOut, responses=error_responses(404, 422))
def set_policy(body: PolicyIn, name: str = BankName, user: User = Depends(operator),
               c: Components = Depends(components)) -> dict:
    try:
        return banks.set_policy(c, name, body.policy, user.name)
    except banks.BankNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except banks.BankError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.post("/check", response_model=BankCheck, responses=error_responses(422))
def check(file: UploadFile = File(..., description="a picture or a clip"), _: User = Depends(operator),
          c: Components = Depends(components)) -> dict:
    """Match a file against every bank: {"matches": [{"bank", "signal", "distance", "policy", ...}]}."""
    path: Path = save_upload(file, c.settings.max_upload_bytes)
    try:
        check_media(path, c.settings.max_upload_bytes)
        return banks.check_file(c, path)
    except (UploadError, banks.BankError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    finally:
        path.unlink(missing_ok=True)
