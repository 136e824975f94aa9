"""Notifier ``webhook``: POST each notification as JSON to a URL — the bridge into the
support tool's chat, where both the rep and the customer see it.

Delivery happens on a thread of its own, with a timeout and retries with
exponential backoff, so a slow or dead endpoint never touches capture. A
delivery that fails after every retry is recorded in the manifest
(``notifier-failure`` events, counted in ``notifier_failures``).

Redirects are not followed: urllib would resend the request, bearer token and
all, to wherever the answer points (another host, a plain-http port), and turn
the POST into a GET that "succeeds" without reaching the chat. A redirect is a
failed delivery, recorded like any other.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import attrs
import recorder
from recorder import UsageError, hookimpl, option


def _http_url(instance, attribute, value):
    if urlparse(value).scheme not in ("http", "https") or not urlparse(value).hostname:
        # the URL itself is often the credential: never repeat it
        raise ValueError(f"must be an http:// or https:// URL (got one starting "
                         f"{urlparse(value).scheme[:10]!r})" if urlparse(value).scheme else
                         "must be an http:// or https:// URL")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx answer as an HTTPError


_opener = urllib.request.build_opener(_NoRedirects)


def endpoint(url: str) -> str:
    """What may be said of the URL in events and logs: its scheme and host, not its
    path, query or user info (chat webhooks carry their token there)."""
    parts = urlparse(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@attrs.frozen
class WebhookOptions:
    url: str = option(help="Where to POST notifications (the chat bridge).", validator=_http_url,
                      metadata={"secret": True})  # chat webhooks carry their token in the URL
    token_env: str = option("", "Name of an environment variable holding a bearer token "
                                "(the token itself never goes in the config).")
    timeout: float = option(5.0, "Seconds to wait for each attempt.",
                            validator=[attrs.validators.gt(0), attrs.validators.le(300)])
    retries: int = option(3, "Attempts after the first one fails.", validator=[attrs.validators.ge(0), attrs.validators.le(20)])
    backoff: float = option(1.0, "Seconds before the first retry; doubles each time.",
                            validator=[attrs.validators.ge(0), attrs.validators.le(300)])
    drain: float = option(10.0, "At the end of the session, seconds to wait for pending deliveries.",
                          validator=[attrs.validators.ge(0), attrs.validators.le(300)])


class WebhookNotifier:
    def __init__(self, options: WebhookOptions):
        self.options = options
        self.token = ""
        if options.token_env:
            self.token = os.environ.get(options.token_env, "")
            if not self.token:
                raise UsageError(f"webhook: environment variable {options.token_env} (token_env) is not set")
        self.pending: queue.Queue = queue.Queue()
        self.session = None
        self.thread = threading.Thread(target=self._deliver_all, name="recorder-webhook", daemon=True)

    def start(self, session) -> None:
        self.session = session
        self.thread.start()

    def notify(self, notification) -> None:
        self._post({"kind": notification.kind, "level": notification.level, "text": notification.text,
                    "audience": list(notification.audience), "by": notification.by})

    def receipt(self, receipt: dict) -> None:
        """The session's receipt, for the support tool to keep (see recorder verify --receipt)."""
        self._post({"kind": "receipt", "level": "info", "text": f"Recording receipt {receipt['head']}",
                    "audience": [self.session.role] if self.session else [], "by": "recorder", **receipt})

    def _post(self, data: dict) -> None:
        # No host or user name: the chat may show the customer anything it is sent.
        session = self.session
        self.pending.put({
            **data,
            "session_id": session.id if session else None,
            "support_session_id": session.support_id if session else None,
            "profile": session.profile if session else None,
            "role": session.role if session else None,
            "t": round(session.offset(), 3) if session else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    def stop(self) -> None:
        self.pending.put(None)
        self.thread.join(self.options.drain)

    def _deliver_all(self) -> None:
        while (payload := self.pending.get()) is not None:
            error = self._deliver(payload)
            if error and self.session is not None:
                self.session.add_event("notifier-failure", f"webhook {endpoint(self.options.url)}: {error}",
                                       level="warning", by="webhook")

    def _deliver(self, payload: dict) -> str | None:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"recorder/{recorder.__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        delay, error = self.options.backoff, None
        for attempt in range(self.options.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            request = urllib.request.Request(self.options.url, data=body, headers=headers, method="POST")
            try:
                with _opener.open(request, timeout=self.options.timeout) as response:
                    response.read()
                return None
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code} {exc.reason}"
                if 300 <= exc.code < 400:
                    # where to, by origin only: a Location's path may carry a token as the URL's does
                    location = urlparse(exc.headers.get("Location", "") if exc.headers else "")
                    target = f" to {endpoint(location.geturl())}" if location.hostname else ""
                    error += f": redirect{target} not followed"
                    break  # the URL is the configuration's: retrying will not change the answer
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the request itself is wrong: retrying will not help
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return f"{error} (after {attempt + 1} attempt(s))".replace(self.options.url, endpoint(self.options.url))


@hookimpl
def recorder_register_notifiers(register):
    register("webhook", WebhookNotifier, options=WebhookOptions,
             description="POSTs notifications as JSON to a URL (the chat bridge)")
