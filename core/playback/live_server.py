"""The live page's server: on the loopback interface only, read-only, for whoever opened it.

Every URL starts with a random token (256 bits). The first load of the page spends
it: the answer sets a cookie (HttpOnly, SameSite=Strict) that every later request
must carry, so a token seen in the browser's command line by someone else on the
machine is worth nothing once the page is open. Requests naming another host
(DNS rebinding) are refused, and there is nothing but GET: the server cannot change
the session. The page, the state and the fragments are never cached.

  /TOKEN/                    the replay page, following the session (live.js)
  /TOKEN/live.js             its script
  /TOKEN/state               JSON: the page's SESSION as it is now
  /TOKEN/init/PART           the init segment (ftyp + moov) of a part
  /TOKEN/fragments/PART?from=OFFSET | ?at=SECONDS
                             whole moof + mdat pairs only; X-Next: where to ask from next,
                             X-Complete: 1 when the part is sealed and this was its last
  /TOKEN/parts/PART          a part as one file, with byte ranges (the browser seeks in it): a
                             sealed one whole, one being written up to its last whole fragment
"""

from __future__ import annotations

import http.cookies
import json
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

from recorder.playback import replay
from recorder.playback.live import LiveSession

# Everything from this server itself, media also from MediaSource (blob:) URLs
LIVE_CSP = ("default-src 'none'; media-src 'self' blob:; connect-src 'self'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline' 'self'; img-src data: 'self'")
_CSP_META = re.compile(r'(http-equiv="Content-Security-Policy"\s+content=")[^"]*(")')
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
COOKIE = "recorder-live"


def live_page(data: dict) -> str:
    """The replay page with ``data``, allowed to fetch from this server, running live.js."""
    page, count = _CSP_META.subn(lambda m: m.group(1) + LIVE_CSP + m.group(2), replay.page_html(data), count=1)
    if count != 1:
        raise RuntimeError("replay.html has no Content-Security-Policy to widen for the live page")
    return page.replace("</body>", '<script src="live.js"></script>\n</body>', 1)


class LiveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: LiveSession):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(32)
        self.cookie = secrets.token_urlsafe(32)
        self.token_spent = False
        self.spend_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{self.token}/"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="recorder-live", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # nothing on the terminal per request
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if (self.headers.get("Host") != f"127.0.0.1:{self.server.server_address[1]}" or len(parts) < 3
                or not secrets.compare_digest(parts[1], self.server.token)):
            return self._error(HTTPStatus.NOT_FOUND)
        route, rest, query = parts[2], "/".join(parts[3:]), parse_qs(url.query)
        if route == "" and len(parts) == 3:
            return self._page()
        if not self._has_cookie():
            return self._error(HTTPStatus.FORBIDDEN)
        try:
            if route == "live.js":
                script = files("recorder.playback").joinpath("live.js").read_bytes()
                return self._send(script, "text/javascript; charset=utf-8")
            if route == "state":
                return self._send(json.dumps(self.server.session.state()).encode(), "application/json")
            if route == "init":
                return self._send(self.server.session.init(rest), "video/mp4")
            if route == "fragments":
                return self._fragments(rest, query)
            if route == "parts":
                return self._part(rest)
        except (KeyError, FileNotFoundError):  # not a part of the session, or renamed just now
            return self._error(HTTPStatus.NOT_FOUND)
        except ValueError:
            return self._error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        return self._error(HTTPStatus.NOT_FOUND)

    def _has_cookie(self) -> bool:
        jar = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        return COOKIE in jar and secrets.compare_digest(jar[COOKIE].value, self.server.cookie)

    def _page(self) -> None:
        with self.server.spend_lock:
            first, self.server.token_spent = not self.server.token_spent, True
        if not first and not self._has_cookie():
            return self._error(HTTPStatus.FORBIDDEN)
        page = live_page(self.server.session.state()).encode()
        cookie = f"{COOKIE}={self.server.cookie}; Path=/{self.server.token}/; HttpOnly; SameSite=Strict"
        self._send(page, "text/html; charset=utf-8", {"Content-Security-Policy": LIVE_CSP, "Set-Cookie": cookie})

    def _fragments(self, file: str, query: dict) -> None:
        start = int(query["from"][0]) if "from" in query else None
        at = float(query["at"][0]) if "at" in query else None
        data, offset, after, complete = self.server.session.fragments(file, start, at)
        self._send(data, "video/mp4", {"X-Offset": str(offset), "X-Next": str(after),
                                       "X-Complete": "1" if complete else "0"})

    def _part(self, file: str) -> None:
        path, head, size = self.server.session.playable(file)
        start, end, status = 0, size, HTTPStatus.OK
        if match := _RANGE.match(self.headers.get("Range", "")):
            start = int(match.group(1))
            end = min(size, int(match.group(2)) + 1) if match.group(2) else size
            if start >= end:
                return self._head(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "video/mp4", 0,
                                  {"Content-Range": f"bytes */{size}"})
            status = HTTPStatus.PARTIAL_CONTENT
        headers = {"Accept-Ranges": "bytes"}
        if status == HTTPStatus.PARTIAL_CONTENT:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self._head(status, "video/mp4", end - start, headers)
        with open(path, "rb") as part:
            position = start
            while position < end:
                if position < len(head):
                    chunk = head[position:min(end, len(head))]
                else:
                    part.seek(position)
                    chunk = part.read(min(end - position, 1 << 20))
                    if not chunk:
                        return
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):  # the browser has what it wanted
                    return
                position += len(chunk)

    def _head(self, status: int, kind: str, length: int, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, body: bytes, kind: str, headers: dict | None = None) -> None:
        self._head(HTTPStatus.OK, kind, len(body), headers)
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self._head(status, "text/plain; charset=utf-8", len(body))
        self.wfile.write(body)
