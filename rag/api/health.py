"""Liveness and readiness."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from rag import __version__
from rag.api.state import ServiceState, get_state

router = APIRouter(tags=["health"])

State = Annotated[ServiceState, Depends(get_state)]


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Readiness: what is loaded and what is not",
    responses={503: {"description": "Not ready yet; the body says what is missing"}},
)
def readyz(state: State) -> JSONResponse:
    ready, reasons = state.readiness()
    models: dict[str, Any] = {}
    for kind, status in state.models.status().items():
        entry = asdict(status)
        entry["state"] = status.state.value
        entry["required"] = kind in state.warmup
        models[kind] = entry
    body = {"ready": ready, "reasons": reasons, "models": models}
    return JSONResponse(body, status_code=200 if ready else 503)
