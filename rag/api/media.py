"""A FileResponse whose range errors are problem+json like every other error of the API.

Starlette answers a malformed ``Range`` with a ``text/plain`` 400 and an unsatisfiable one
with an empty 416; this checks the header first and answers both as problem+json."""

from __future__ import annotations

import os

from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send

from rag.api.middleware import problem_message, send_problem


class MediaFileResponse(FileResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http_range = None
        for name, value in scope.get("headers", ()):
            if name == b"range":
                http_range = value.decode("latin-1")
                break
        if http_range is not None and scope.get("method", "GET").upper() in ("GET", "HEAD"):
            try:
                size = os.stat(self.path).st_size
                self._parse_range_header(http_range, size)
            except MalformedRangeHeader as exc:
                detail = f"bad Range header: {exc.content or 'malformed'}"
                await send_problem(send, problem_message(scope, 400, detail, "bad-range"))
                return
            except RangeNotSatisfiable as exc:
                headers = {"Content-Range": f"bytes */{exc.max_size}"}
                detail = f"the range is outside the file ({exc.max_size} bytes)"
                await send_problem(
                    send, problem_message(scope, 416, detail, "range-not-satisfiable", headers)
                )
                return
        await super().__call__(scope, receive, send)
