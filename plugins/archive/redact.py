"""``recorder --debug`` shows what botocore does (its requests, how they were signed)
without the credentials that sign them.

botocore logs, at DEBUG, each request's headers (``Authorization``, with the access
key id after ``Credential=`` and the signature; ``X-Amz-Security-Token``, the
session token of temporary credentials), the canonical request (the token again)
and the signature itself; a presigned URL would carry them in its query string
(``X-Amz-Credential``, ``X-Amz-Signature``, ``X-Amz-Security-Token``). A debug log
is pasted into tickets and chats: these are replaced by ``<redacted>``, and so is
any literal value of the credentials in use, whatever logged it.

The filter sits on the log handlers (recorder's one handler on the root logger),
because a filter on a logger sees only the records of that very logger, not of
botocore's many children.
"""

from __future__ import annotations

import logging
import re

REDACTED = "<redacted>"

PATTERNS = [
    # a header in a request's repr: 'Authorization': b'AWS4-HMAC-SHA256 Credential=..., Signature=...'
    (re.compile(r"""(?i)(['"]?\b(?:authorization|x-amz-security-token)['"]?\s*:\s*b?)(['"]).*?\2"""),
     r"\1\2" + REDACTED + r"\2"),
    # the canonical request's header lines: x-amz-security-token:VALUE
    (re.compile(r"(?im)^(authorization|x-amz-security-token)[ \t]*:.*$"), r"\1:" + REDACTED),
    # a presigned URL's query string
    (re.compile(r"(?i)\b(X-Amz-(?:Credential|Signature|Security-Token)=)[^&\s'\"]*"), r"\1" + REDACTED),
    # botocore.auth's own 'Signature:\n<hex>', and Credential=KEYID/... wherever else it shows
    (re.compile(r"(?i)\b(Signature\s*[:=]\s*)[0-9a-f]{16,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(Credential=)[^,\s'\"&]+"), r"\1" + REDACTED),
]


def redact(text: str, secrets: set[str] = frozenset()) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactCredentials(logging.Filter):
    def __init__(self) -> None:
        super().__init__("")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a record that cannot be formatted is logging's own error to report
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


FILTER = RedactCredentials()


def debug_log(session) -> None:
    """Before ``session`` (boto3's) makes a request: if botocore logs at DEBUG, every log
    handler redacts credentials, those of ``session`` included by value."""
    if not logging.getLogger("botocore").isEnabledFor(logging.DEBUG):
        return
    loggers = [logging.getLogger()] + [logger for logger in list(logging.Logger.manager.loggerDict.values())
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if FILTER not in handler.filters:
                handler.addFilter(FILTER)
    try:  # after the filter: finding them may log (an assumed role's request)
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    except Exception:
        frozen = None  # no credentials (said when the request fails); the patterns still apply
    if frozen is not None:
        FILTER.secrets |= {value for value in (frozen.access_key, frozen.secret_key, frozen.token)
                           if isinstance(value, str) and len(value) >= 4}
