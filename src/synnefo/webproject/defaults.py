"""Built-in defaults shared by every node (the web project, databases, logging, mail).

Each of these may be overridden in a ``*.conf`` file of the settings directory. ``None`` means
"derive it at start" (see ``synnefo.settings.finalize``).
"""

from synnefo.common.logging import default_logging_setup

# Where an all-in-one node keeps its state: SQLite database, secret key, mail files, blocks.
# The SYNNEFO_DATA_DIR environment variable sets it too.
SYNNEFO_DATA_DIR = None  # default: ./var

# Which components this node serves. All of them on an all-in-one node; a scale-out node names
# its roles, e.g. ["astakos"] on the identity nodes.
SYNNEFO_COMPONENTS = ["astakos", "pithos", "cyclades"]

# Region name advertised in the Keystone v3 catalog (OS_REGION_NAME of OpenStack clients).
SYNNEFO_REGION_NAME = "RegionOne"

# Largest request body an API accepts where no service sets its own limit (bytes). Larger
# requests get 413 before the body is read.
SYNNEFO_MAX_REQUEST_BODY = 1024 * 1024

# Honour X-Forwarded-For / X-Forwarded-Proto from a reverse proxy in front of gunicorn.
SYNNEFO_TRUST_FORWARDED_HEADERS = False

# The Django logging dictionary (the seed's "Logging" section): handlers, formatters and
# per-sub-logger levels such as LOGGING_SETUP["loggers"]["synnefo.api"] = {"level": "DEBUG"}.
LOGGING_SETUP = default_logging_setup()

# Database. None: SQLite (WAL) in the data directory. For PostgreSQL, set the Django
# dictionary, e.g. {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "synnefo",
# "HOST": "db.example.org", "USER": "synnefo", "PASSWORD": "..."}}.
DATABASES = None

# Secret used to sign sessions and links. None: generated once and kept in the data directory.
SECRET_KEY = None

# Mail. None: write each message as a file under <data dir>/mail (the embedded default). For
# SMTP set EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend" and EMAIL_HOST etc.
EMAIL_BACKEND = None
DEFAULT_FROM_EMAIL = "Synnefo <no-reply@localhost>"

# gunicorn, as started by `synnefo up`.
SYNNEFO_BIND = None  # default: 127.0.0.1:8000 (the SYNNEFO_BIND environment variable too)
SYNNEFO_WEB_WORKERS = None  # default: 2 x cores
SYNNEFO_WEB_THREADS = 4
# `synnefo up` runs the simulated Ganeti cluster's RAPI service (snf-ganeti-simulated) and adds
# it as backend `simulated.local` when the database has no backend at all (see docs/ganeti.md).
SYNNEFO_UP_SIMULATED_BACKEND = True

DEBUG = False
ALLOWED_HOSTS = ["*"]
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
