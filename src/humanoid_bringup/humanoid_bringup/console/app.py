"""The console's web side: a FastAPI app (HTTP API + one websocket that streams events).

Every request carries the access token: query parameter `token`, header
`Authorization: Bearer <token>` or `X-Console-Token`, or the cookie set when the page is
opened with `?token=...`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from humanoid_bringup.console.bridge import ConsoleError, Event
from humanoid_bringup.console.page import PAGE

COOKIE = 'humanoid_console_token'


class Bridge(Protocol):
    camera_jpeg: bytes | None

    def snapshot(self) -> Event: ...
    def start_task(self, instruction: str, dry_run: bool, require_approval: bool) -> Event: ...
    def approve(self, approve: bool, reason: str = '') -> str: ...
    def cancel(self) -> str: ...
    def set_estop(self, engage: bool) -> Event: ...


class TaskRequest(BaseModel):
    instruction: str = Field(max_length=1000)
    dry_run: bool = False
    require_approval: bool = False


class ApproveRequest(BaseModel):
    approve: bool
    reason: str = Field(default='', max_length=500)


class EstopRequest(BaseModel):
    engage: bool


class Hub:
    """Fan-out of bridge events (from the ROS thread) to the connected websockets."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[Event]] = set()

    def emit(self, event: Event) -> None:
        """Thread-safe: called from the ROS thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event) -> None:
        for q in list(self.queues):
            if q.qsize() > 200 and event.get('type') == 'camera':
                continue  # a slow browser skips camera frames, never task events
            q.put_nowait(event)


def _encode(event: Event) -> Event:
    if event.get('type') == 'camera' and isinstance(event.get('jpeg'), bytes):
        jpeg = base64.b64encode(event['jpeg']).decode('ascii')
        return {'type': 'camera', 'frames': event.get('frames', 0), 'jpeg': jpeg}
    return event


def _token_of(headers: Any, query: Any, cookies: Any) -> str:
    auth = headers.get('authorization', '')
    if auth.lower().startswith('bearer '):
        return auth[7:].strip()
    return headers.get('x-console-token') or query.get('token') or cookies.get(COOKIE) or ''


def create_app(bridge: Bridge, token: str, hub: Hub) -> FastAPI:
    """The console app. `hub.emit` must be the bridge's event sink."""
    if not token:
        raise ValueError('the console needs a non-empty access token')

    def authorised(supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode(), token.encode())

    app = FastAPI(title='Humanoid operator console', docs_url=None, redoc_url=None)

    @app.middleware('http')
    async def check_token(request: Request, call_next: Any) -> Response:
        if not authorised(_token_of(request.headers, request.query_params, request.cookies)):
            return JSONResponse(
                {
                    'error': 'missing or wrong access token: open the URL printed by '
                    '`humanoid console` (it ends in ?token=...) or send the header '
                    '"Authorization: Bearer <token>"'
                },
                status_code=401,
            )
        response = await call_next(request)
        if request.query_params.get('token'):
            response.set_cookie(COOKIE, token, httponly=True, samesite='strict')
        return response

    def fail(exc: Exception, status: int = 409) -> HTTPException:
        return HTTPException(status_code=status, detail=str(exc))

    @app.get('/', response_class=HTMLResponse)
    def index() -> str:
        return PAGE

    @app.get('/api/state')
    def state() -> Event:
        return _encode(bridge.snapshot())

    @app.get('/api/camera.jpg')
    def camera() -> Response:
        jpeg = bridge.camera_jpeg
        if jpeg is None:
            raise HTTPException(404, 'no camera image yet (is camera/color/image_raw published?)')
        return Response(jpeg, media_type='image/jpeg')

    @app.post('/api/task')
    def task(req: TaskRequest) -> Event:
        try:
            return bridge.start_task(req.instruction, req.dry_run, req.require_approval)
        except ConsoleError as exc:
            raise fail(exc) from exc

    @app.post('/api/approve')
    def approve(req: ApproveRequest) -> Event:
        try:
            return {'message': bridge.approve(req.approve, req.reason)}
        except ConsoleError as exc:
            raise fail(exc) from exc
        except TimeoutError as exc:
            raise fail(exc, 504) from exc

    @app.post('/api/cancel')
    def cancel() -> Event:
        try:
            return {'message': bridge.cancel()}
        except ConsoleError as exc:
            raise fail(exc) from exc

    @app.post('/api/estop')
    def estop(req: EstopRequest) -> Event:
        try:
            return bridge.set_estop(req.engage)
        except ConsoleError as exc:
            raise fail(exc) from exc

    @app.websocket('/ws')
    async def websocket(ws: WebSocket) -> None:
        if not authorised(_token_of(ws.headers, ws.query_params, ws.cookies)):
            await ws.close(code=4401, reason='missing or wrong access token')
            return
        hub.loop = asyncio.get_running_loop()
        await ws.accept()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        hub.queues.add(queue)
        try:
            await ws.send_json(_encode(bridge.snapshot()))
            while True:
                event = await queue.get()
                await ws.send_json(_encode(event))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.queues.discard(queue)

    return app
