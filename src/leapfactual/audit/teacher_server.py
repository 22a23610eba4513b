"""A person as teacher: a local web page (127.0.0.1 only) that shows a queue of CEs and takes
one answer per CE from the keyboard.

Every answer is appended to a JSON Lines file (one object per line: ``id``, ``label``,
``kind``, ``time``; ``kind`` is ``label``, ``shortcut`` (the label is the source class),
``target`` (the label is the target class) or ``undo`` (the id's answer is withdrawn)) and
fsync'ed before the server replies, so closing the page or the server loses nothing. On start
the file is replayed (a later line for an id wins) and the page resumes at the first
unanswered item. The page is self-contained (inline CSS and JS, images as data URIs) and talks
to a small JSON API: ``GET /api/item`` (the current state), ``POST /api/answer``
(``{"id", "kind", "label"}``) and ``POST /api/undo``; a bad request gets a 400 with
``{"error": ...}`` and never stops the server.

Every request needs the session's secret token: a random one per server, in the printed link
(``?token=...``), or in the cookie the page sets when opened by that link, or in an
``X-Leapfactual-Token`` header. Without it the server answers 403, so another local user or a
web page in the same browser cannot read the images or write answers.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import threading
import warnings
import webbrowser
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import torch
from torch import Tensor

from leapfactual.audit.teachers import TeacherQueue
from leapfactual.io import png_data_uri
from leapfactual.report import diff_heatmap

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
KINDS = ("label", "shortcut", "target")
DISPLAY = 256
"""Images are shown enlarged by a whole factor (pixelated) to at most this many pixels."""
MAX_BODY = 4096
PAGE = Path(__file__).parent / "templates" / "teacher.html"
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'"
)


class BadRequest(ValueError):
    """A request the API refuses (answered with 400 and the message)."""


class AnswerLog:
    """The answers to a queue, replayed from and appended to a JSON Lines file (thread-safe)."""

    def __init__(self, queue: TeacherQueue, path: str | os.PathLike[str]) -> None:
        self.queue = queue
        self.path = Path(path)
        self.ids = tuple(queue.ids or ())
        self.index = {item: i for i, item in enumerate(self.ids)}
        self.answers: dict[str, tuple[int, str]] = {}
        self.order: list[str] = []
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._newline = False
        self._replay()

    def _replay(self) -> None:
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        self._newline = bool(text) and not text.endswith("\n")
        for number, line in enumerate(text.splitlines(), 1):
            try:
                record = json.loads(line)
                item, kind, label = record["id"], record["kind"], record.get("label")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                if line.strip():
                    warnings.warn(f"{self.path}:{number}: skipped a non-answer line", stacklevel=3)
                continue
            if not isinstance(item, str) or item not in self.index:
                continue  # an answer about another queue's item
            try:
                self._apply(*self._check(item, kind, label))
            except BadRequest as err:
                raise ValueError(f"{self.path}:{number}: {err}; fix or delete the line") from err

    def _check(self, item: object, kind: object, label: object) -> tuple[str, str, int | None]:
        """The id, kind and label of a valid answer; :class:`BadRequest` says what is wrong."""
        if not isinstance(item, str) or item not in self.index:
            raise BadRequest(f"unknown item id {item!r}")
        i = self.index[item]
        if kind == "undo":
            return item, kind, None
        if kind == "shortcut":
            return item, kind, int(self.queue.source[i])
        if kind == "target":
            return item, kind, int(self.queue.target[i])
        if kind != "label":
            raise BadRequest(f"unknown answer kind {kind!r}; choose one of {', '.join(KINDS)}")
        k = len(self.queue.class_names)
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < k:
            raise BadRequest(f"label must be a class index in [0, {k}), got {label!r}")
        return item, kind, label

    def _apply(self, item: str, kind: str, label: int | None) -> None:
        if item in self.answers:
            self.order.remove(item)
            del self.answers[item]
        if label is not None:
            self.answers[item] = (label, kind)
            self.order.append(item)
        if len(self.answers) == len(self.ids):
            self.done.set()
        else:
            self.done.clear()

    def _append(self, item: str, kind: str, label: int | None) -> None:
        record = {"id": item, "label": label, "kind": kind, "time": _now()}
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if self._newline else "") + json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            _fsync_dir(self.path.parent)
        self._newline = False
        self._apply(item, kind, label)

    def answer(self, item: object, kind: object, label: object = None) -> None:
        """Save an answer (``label`` is read only for ``kind="label"``)."""
        if kind == "undo":
            raise BadRequest("undo through POST /api/undo")
        with self._lock:
            self._append(*self._check(item, kind, label))

    def undo(self) -> None:
        """Withdraw the latest answer still standing (nothing to undo: no-op)."""
        with self._lock:
            if self.order:
                self._append(self.order[-1], "undo", None)

    def labels(self) -> Tensor:
        """The label of every item, ``-1`` where there is no answer yet (int64 ``[N]``)."""
        with self._lock:
            known = [self.answers.get(i, (-1, ""))[0] for i in self.ids]
        return torch.tensor(known, dtype=torch.int64)

    def state(self) -> dict[str, Any]:
        """What the page shows: progress, the first unanswered item, the latest answer."""
        with self._lock:
            ids = self.ids
            current = next((i for i, item in enumerate(ids) if item not in self.answers), None)
            last = self.order[-1] if self.order else None
            return {
                "total": len(ids),
                "answered": len(self.answers),
                "classes": list(self.queue.class_names),
                "position": None if current is None else current + 1,
                "item": None if current is None else _item(self.queue, current, ids[current]),
                "last": None
                if last is None
                else {"id": last, "label": self.answers[last][0], "kind": self.answers[last][1]},
            }


def _item(queue: TeacherQueue, i: int, item: str) -> dict[str, Any]:
    x, x_cf = queue.x[i], queue.x_cf[i]
    if queue.needed is None:
        change = diff_heatmap(x, x_cf)
    else:
        needed = queue.needed[i].detach().float().abs()
        change = needed / needed.max().clamp_min(1e-12)
    h, w = x.shape[1:]
    scale = max(1, DISPLAY // max(h, w))
    source, target = int(queue.source[i]), int(queue.target[i])
    return {
        "id": item,
        "source": source,
        "target": target,
        "source_name": queue.class_names[source],
        "target_name": queue.class_names[target],
        "width": w * scale,
        "height": h * scale,
        "images": {
            "input": png_data_uri(x),
            "ce": png_data_uri(x_cf),
            "change": png_data_uri(change),
        },
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_labels(queue: TeacherQueue, answers: str | os.PathLike[str]) -> Tensor:
    """The labels saved so far in ``answers`` (``-1`` where none), without serving anything."""
    return AnswerLog(queue, answers).labels()


class _Server(ThreadingHTTPServer):
    log: AnswerLog
    page: bytes
    token: str

    @property
    def cookie(self) -> str:
        """The cookie's name (per port: browsers share cookies across a host's ports)."""
        return f"leapfactual_teacher_{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: answers are in the answers file, not on the console."""

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def _guard(self, handle: Callable[[], None]) -> None:
        try:
            port = self.server.server_address[1]
            if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
                self._send(403, {"error": f"open the page at http://{HOST}:{port}/"})
            elif not self._has_token():
                self._send(
                    403,
                    {
                        "error": "this page needs the link printed when the teacher started "
                        f"(http://{HOST}:{port}/?token=...)"
                    },
                )
            else:
                handle()
        except BadRequest as err:
            self._send(400, {"error": str(err)})
        except Exception as err:  # never let a request stop the server
            self._send(500, {"error": f"{type(err).__name__}: {err}"})

    def _tokens(self) -> list[str]:
        """The tokens this request carries: query, header and the page's cookie."""
        found = parse_qs(urlsplit(self.path).query).get("token", [])
        found += [self.headers.get("X-Leapfactual-Token") or ""]
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.server.cookie:
                found.append(value)
        return found

    def _has_token(self) -> bool:
        expected = self.server.token.encode()
        return any(hmac.compare_digest(t.encode(), expected) for t in self._tokens())

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            cookie = f"{self.server.cookie}={self.server.token}; Path=/; HttpOnly; SameSite=Strict"
            self._send(200, self.server.page, "text/html; charset=utf-8", cookie)
        elif path == "/api/item":
            self._send(200, self.server.log.state())
        else:
            self._send(404, {"error": f"no page {path}"})

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/api/answer", "/api/undo"):
            self._send(404, {"error": f"no endpoint {path}"})
            return
        body = self._body()
        if path == "/api/undo":
            self.server.log.undo()
        else:
            self.server.log.answer(body.get("id"), body.get("kind", "label"), body.get("label"))
        self._send(200, self.server.log.state())

    def _body(self) -> dict[str, Any]:
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            raise BadRequest("send the body as JSON (Content-Type: application/json)")
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError as err:
            raise BadRequest("bad Content-Length") from err
        if not 0 <= size <= MAX_BODY:
            raise BadRequest(f"the body must be at most {MAX_BODY} bytes, got {size}")
        try:
            body = json.loads(self.rfile.read(size) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadRequest(f"the body is not JSON ({err})") from err
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _send(
        self, code: int, body: dict[str, Any] | bytes, kind: str = "", cookie: str = ""
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", kind or "application/json")
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(data)


class ServerHandle:
    """A running teacher server: its ``url`` (with the session's token), ``base`` (without),
    ``token``, the answers so far, ``stop()``."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.base = f"http://{HOST}:{server.server_address[1]}/"
        self.token = server.token
        self.url = f"{self.base}?token={self.token}"

    @property
    def done(self) -> bool:
        """Whether every item has an answer."""
        return self._server.log.done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every item has an answer (or ``timeout`` seconds); return ``done``."""
        return self._server.log.done.wait(timeout)

    def labels(self) -> Tensor:
        """The labels given so far, ``-1`` where none (int64 ``[N]``)."""
        return self._server.log.labels()

    def stop(self) -> None:
        """Shut the server down (requests in flight finish first); answers are already saved."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_host(host: str) -> None:
    if host != HOST:
        raise ValueError(
            f"the teacher server listens on {HOST} only (answers and images stay on this "
            f"machine), got host={host!r}; reach it remotely through an SSH tunnel "
            f"(ssh -L PORT:{HOST}:PORT)"
        )


def serve(
    queue: TeacherQueue,
    answers: str | os.PathLike[str],
    host: str = HOST,
    port: int = 0,
) -> ServerHandle:
    """Start serving the labelling page for ``queue`` in a background thread (port 0: any
    free port), saving answers to ``answers`` and resuming from what it holds. Each call draws
    a new secret token (``ServerHandle.token``) that every request must carry."""
    _check_host(host)
    if queue.x.shape[1] not in (1, 3):
        raise ValueError(
            f"the page shows images with 1 or 3 channels, got {queue.x.shape[1]} "
            f"(x has shape {tuple(queue.x.shape)})"
        )
    log = AnswerLog(queue, answers)
    server = _Server((host, port), _Handler)
    server.log = log
    server.page = PAGE.read_bytes()
    server.token = secrets.token_urlsafe(24)
    return ServerHandle(server)


class HumanTeacher:
    """A person labels each CE on a local page: a class, "shortcut" (the source class) or
    "shows the target" (the target class); answers are saved to ``answers`` as given."""

    def __init__(
        self,
        answers: str | os.PathLike[str],
        host: str = HOST,
        port: int = 0,
        open_browser: bool = False,
    ) -> None:
        _check_host(host)
        self.answers = Path(answers)
        self.host = host
        self.port = port
        self.open_browser = open_browser

    def label(self, queue: TeacherQueue, wait: bool = True) -> Tensor:
        """Serve the page until every CE has an answer, then return the labels (int64
        ``[N]``). ``wait=False``: only read the answers saved so far (``-1`` where none)."""
        if not wait:
            return read_labels(queue, self.answers)
        handle = serve(queue, self.answers, self.host, self.port)
        try:
            if not handle.done:
                logger.warning(  # a warning: shown without any logging set-up
                    "Label %d counterfactuals at %s (answers are saved to %s as you give them)",
                    len(queue),
                    handle.url,
                    self.answers,
                )
                if self.open_browser:
                    webbrowser.open(handle.url)
                handle.wait()
            return handle.labels()
        finally:
            handle.stop()
