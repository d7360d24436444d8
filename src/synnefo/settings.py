"""The Django settings module of every Synnefo node.

Built-in defaults, then the operator's ``*.conf`` files (see ``synnefo.common.conf``), then the
values derived from both. Nothing here is meant to be edited: put overrides in
``/etc/synnefo/*.conf`` (or the ``SYNNEFO_SETTINGS_DIR`` directory).
"""

import os
import secrets
from pathlib import Path

from synnefo.common.conf import load_settings_dir
from synnefo.common.logging import install_record_factory

from synnefo.webproject.defaults import *  # noqa: F401,F403
from synnefo.astakos.defaults import *  # noqa: F401,F403
from synnefo.pithos.defaults import *  # noqa: F401,F403
from synnefo.astakos.quotaholder.defaults import *  # noqa: F401,F403
from synnefo.cyclades.defaults import *  # noqa: F401,F403
from synnefo.archipelago.defaults import *  # noqa: F401,F403

# Django's own wiring. Operators rarely need to touch these, but may.
ROOT_URLCONF = "synnefo.webproject.urls"
WSGI_APPLICATION = "synnefo.webproject.wsgi.application"
AUTH_USER_MODEL = "astakos.User"
AUTHENTICATION_BACKENDS = ["synnefo.astakos.logic.backends.EmailBackend"]
LOGIN_URL = "astakos-login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPEND_SLASH = False
STATIC_URL = "/static/"
SESSION_COOKIE_HTTPONLY = True
DATA_UPLOAD_MAX_MEMORY_SIZE = None  # enforced per API by synnefo.common.api instead
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "synnefo.webproject",
    "synnefo.astakos",
    "synnefo.pithos",
    "synnefo.astakos.quotaholder",
    "synnefo.cyclades",
    "synnefo.archipelago",
]
MIDDLEWARE = [
    "synnefo.common.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Web pages wait until a logged-in user accepted the newest terms of use (not the APIs).
    "synnefo.astakos.middleware.SignedTermsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
LOGGING_CONFIG = "logging.config.dictConfig"
# Emails are unique case-insensitively (a functional constraint Django's check cannot see).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

SETTINGS_FILES = load_settings_dir(globals())


def _secret_key(data_dir: Path) -> str:
    """The node's generated secret, created once (atomically) in the data directory."""
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def finalize(settings: dict) -> None:
    """Derive what the operator left as None from the data directory and the environment."""
    data_dir = settings["SYNNEFO_DATA_DIR"] or os.environ.get("SYNNEFO_DATA_DIR") or "var"
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings["SYNNEFO_DATA_DIR"] = str(data_dir)

    if settings["DATABASES"] is None:
        settings["DATABASES"] = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(data_dir / "synnefo.sqlite3"),
                "OPTIONS": {
                    # WAL lets readers go on while one process writes; IMMEDIATE takes the write
                    # lock up front so concurrent writers wait (timeout) instead of failing.
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 30,
                },
            }
        }
    for database in settings["DATABASES"].values():
        # Keep connections across requests: a new connection per request costs more than the
        # query of a token check. A connection broken by a database restart fails one request
        # and is then replaced (CONN_HEALTH_CHECKS = True trades a round trip per request for that).
        database.setdefault("CONN_MAX_AGE", 300)
    if settings["SECRET_KEY"] is None:
        settings["SECRET_KEY"] = _secret_key(data_dir)
    if settings["EMAIL_BACKEND"] is None:
        settings["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
        settings.setdefault("EMAIL_FILE_PATH", str(data_dir / "mail"))
    settings["SYNNEFO_BIND"] = settings["SYNNEFO_BIND"] or os.environ.get("SYNNEFO_BIND") or "127.0.0.1:8000"
    if settings["SYNNEFO_TRUST_FORWARDED_HEADERS"]:
        settings["SECURE_PROXY_SSL_HEADER"] = ("HTTP_X_FORWARDED_PROTO", "https")
        settings["USE_X_FORWARDED_HOST"] = True
    settings["LOGGING"] = settings["LOGGING_SETUP"]


install_record_factory()
finalize(globals())
