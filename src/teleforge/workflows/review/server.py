"""The review app's HTTP side: routes over a :class:`~teleforge.curation.review_data.ReviewSession`."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from teleforge.curation.review_data import ReviewSession
from teleforge.errors import TeleforgeError

try:  # teleforge[review]
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError:  # pragma: no cover - reported by ReviewServer
    Starlette = None  # type: ignore[assignment,misc]

_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_FILTERS = ("task", "outcome", "operator_id", "decision", "rule", "kind")


class _TokenGate:
    """ASGI middleware: every HTTP request needs the run's token (query ``token`` or ``X-Teleforge-Token``)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = b""
            for k, v in scope.get("headers") or []:
                if k == b"x-teleforge-token":
                    given = v
            if not given:
                q = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                given = (q.get("token") or [""])[0].encode()
            if not secrets.compare_digest(given, self.token):
                await Response("forbidden: open the URL `teleforge review` printed (it carries the token)\n",
                               status_code=403, media_type="text/plain")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _static(name: str) -> str:
    return resources.files("teleforge.workflows.review").joinpath("static", name).read_text()


def make_app(session: ReviewSession, token: str) -> Any:
    """The ASGI app: routes for the page, the JSON API, frames and thumbnails, behind the token gate."""
    if Starlette is None:
        raise TeleforgeError("the review app needs Starlette and uvicorn: pip install 'teleforge[review]'")

    def err(exc: Exception, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status)

    def filters(req: Request) -> dict[str, Any]:
        q = req.query_params
        return {"sort": q.get("sort", "episode_id"), "desc": q.get("desc", "0") in ("1", "true"),
                "where": q.get("where", ""), "text": q.get("text", ""),
                "equals": {k: q.get(k, "") for k in _FILTERS if q.get(k)}}

    def index(req: Request) -> Response:
        return Response(_static("index.html").replace("__TOKEN__", token), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def static(req: Request) -> Response:
        name = req.path_params["name"]
        if name not in _STATIC:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=_STATIC[name], headers={"Cache-Control": "no-store"})

    def summary(req: Request) -> JSONResponse:
        return JSONResponse({**session.summary(), "facets": session.facets()})

    def episodes(req: Request) -> JSONResponse:
        q = req.query_params
        try:
            page = session.query(offset=int(q.get("offset", 0)), limit=int(q.get("limit", 50)), **filters(req))
        except (TeleforgeError, ValueError) as exc:
            return err(exc)
        return JSONResponse({"rows": page.rows, "total": page.total, "offset": page.offset, "columns": page.columns})

    def ids(req: Request) -> JSONResponse:
        try:
            return JSONResponse({"ids": session.ordered_ids(**filters(req))})
        except TeleforgeError as exc:
            return err(exc)

    def episode(req: Request) -> JSONResponse:
        try:
            return JSONResponse(session.episode(int(req.path_params["eid"])))
        except TeleforgeError as exc:
            return err(exc, 404)

    def frame(req: Request) -> Response:
        p = req.path_params
        try:
            data = session.frame(int(p["eid"]), p["cam"], int(p["step"]))
        except TeleforgeError as exc:
            return err(exc, 404)
        if data is None:
            return Response(status_code=204)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    def thumb(req: Request) -> Response:
        p = req.path_params
        step = req.query_params.get("step")
        try:
            data = session.thumbnail(int(p["eid"]), p["cam"], int(step) if step is not None else None)
        except TeleforgeError as exc:
            return err(exc, 404)
        if data is None:
            return Response(status_code=204)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    async def decide(req: Request) -> JSONResponse:
        try:
            body = await req.json()
        except ValueError as exc:
            return err(exc)
        if not isinstance(body, dict):
            return err(ValueError("expected a JSON object"))
        args = {k: body[k] for k in ("start", "stop", "outcome", "instruction") if body.get(k) is not None}
        try:
            row = session.decide(int(req.path_params["eid"]), str(body.get("action", "")), str(body.get("why") or ""), **args)
        except TeleforgeError as exc:
            return err(exc)
        return JSONResponse({"row": row, "summary": session.summary()})

    app = Starlette(routes=[
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/summary", summary),
        Route("/api/episodes", episodes),
        Route("/api/ids", ids),
        Route("/api/episode/{eid:int}", episode),
        Route("/api/frame/{eid:int}/{cam}/{step:int}", frame),
        Route("/api/thumb/{eid:int}/{cam}", thumb),
        Route("/api/decide/{eid:int}", decide, methods=["POST"]),
    ])
    return _TokenGate(app, token)


class ReviewServer:
    """Serve a review session on 127.0.0.1 in a background thread (``port=0``: a free port).

    ``url`` carries the per-run token; ``stop()`` shuts the server down.
    """

    def __init__(self, session: ReviewSession, port: int = 0, token: str | None = None) -> None:
        if Starlette is None:
            raise TeleforgeError("the review app needs Starlette and uvicorn: pip install 'teleforge[review]'")
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise TeleforgeError(f"cannot listen on 127.0.0.1:{port} ({exc}); pick another --port or 0 for any") from exc
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(make_app(session, self.token), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> ReviewServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name="teleforge-review")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)  # a timed join lets Ctrl-C through

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
