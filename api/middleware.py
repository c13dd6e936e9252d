"""ASGI middleware and log filters of the API."""

import logging
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Refuses request bodies over `max_bytes` with a 413 before anything parses them, also
    when they come chunked without a length. Exempt paths (uploads) have their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        length = length if length and length.isdigit() else None
        if length is not None and int(length) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        messages, size = [], 0
        while length is None or int(length) <= self.max_bytes:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes or not message.get("more_body"):
                break
        if size > self.max_bytes or (length is not None and int(length) > self.max_bytes):
            mb = self.max_bytes / 1024 / 1024
            response = JSONResponse(status_code=413, content={"detail": (
                f"the request body is over {mb:g} MB (RECOVERY_MAX_BODY_MB); send less, or "
                "history in several requests")})
            await response(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


class RedactQuery(logging.Filter):
    """uvicorn's access log prints the full path: the values of its query (a key someone put
    in the URL, a signer's name) are replaced, their names kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def redact_query(path: str) -> str:
    base, _, query = path.partition("?")
    if not query:
        return path
    return base + "?" + re.sub(r"=[^&]*", "=…", query)


def install_log_filters() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
