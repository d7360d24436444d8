"""Logging helpers: request ids on every record, and secrets kept out of every message.

Both are installed as a log-record factory rather than as handler filters, so they hold for
whatever handlers an operator configures in ``LOGGING_SETUP``.
"""

from __future__ import annotations

import contextvars
import logging
import re

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# key=value / "key": "value" / Header: value forms whose value is a credential.
_SECRET_KEYS = r"(?:x-auth-token|x-auth-key|x-subject-token|password|passwd|secret|token|auth_token)"
_SECRET_PATTERNS = [
    # JSON: "password": "...", the value possibly holding escaped quotes
    re.compile(r'("' + _SECRET_KEYS + r'"\s*:\s*")((?:[^"\\]|\\.)*)(")', re.IGNORECASE),
    # query strings and key=value pairs: X-Auth-Token=...
    re.compile(r"(\b" + _SECRET_KEYS + r"=)([^&\s,;'\"]+)()", re.IGNORECASE),
    # header dumps: X-Auth-Token: ...
    re.compile(r"(\b" + _SECRET_KEYS + r":\s*)([^\s,;'\"]+)()", re.IGNORECASE),
    # the secret of a link mailed to a user, in a URL path (astakos /ui/verify/<secret>, ...)
    re.compile(r"(/ui/(?:verify|password/reset|email/confirm)/)([^/?#\s'\"]+)()"),
]
REDACTED = "***"


def redact(text: str) -> str:
    """Replace the values of credential-looking keys in ``text``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    return text


class SynnefoLogRecord(logging.LogRecord):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_id = request_id_var.get()

    def getMessage(self) -> str:  # noqa: N802 - logging's name
        return redact(super().getMessage())


def install_record_factory() -> None:
    if logging.getLogRecordFactory() is not SynnefoLogRecord:
        logging.setLogRecordFactory(SynnefoLogRecord)


def default_logging_setup() -> dict:
    """The built-in ``LOGGING_SETUP``: everything to standard error, INFO for Synnefo."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "verbose": {
                "format": "%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "verbose"},
        },
        "loggers": {
            "synnefo": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
    }
