"""ASGI middleware of the API."""

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
