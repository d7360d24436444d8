"""Settings of the test suite: the product's settings, on a throwaway database.

SYNNEFO_TEST_DATABASE=sqlite (default) or postgresql selects the engine. The machine's own
/etc/synnefo is never read.
"""

import os
import tempfile

from tests.pgcheck import params as pg_params

os.environ["SYNNEFO_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="synnefo-test-settings-")
os.environ["SYNNEFO_DATA_DIR"] = tempfile.mkdtemp(prefix="synnefo-test-data-")

from synnefo.settings import *  # noqa: E402,F401,F403

# Password hashing at full strength costs ~0.3 s per check; the suite checks hundreds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ASTAKOS_LOGIN_FAILURES_PER_ADDRESS = 1000

if os.environ.get("SYNNEFO_TEST_DATABASE", "sqlite") == "postgresql":
    pg = pg_params()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "postgres",
            "HOST": pg["host"],
            "PORT": pg["port"],
            "USER": pg["user"],
            "PASSWORD": pg["password"],
            "TEST": {"NAME": f"test_synnefo_{os.getpid()}"},
        }
    }
