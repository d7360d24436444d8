"""The slapd sandbox (deploy/slapd-sandbox) as a pytest fixture, for the LDAP tests."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.live import free_port
from tests.services import require

SANDBOX = Path(__file__).resolve().parent.parent / "deploy" / "slapd-sandbox"
PEOPLE = "ou=people,dc=example,dc=org"


@pytest.fixture(scope="session")
def slapd():
    """A private slapd with alice and bob (see deploy/slapd-sandbox); its env as a dict."""
    try:
        import django_auth_ldap  # noqa: F401
    except ImportError:
        require(False, "django-auth-ldap is not installed (the test extra)")
    can = os.geteuid() == 0 and (shutil.which("apt-get") is not None or shutil.which("slapd") is not None)
    require(can, "the slapd sandbox needs root and apt-get (deploy/slapd-sandbox up)")
    directory = tempfile.mkdtemp(prefix="synnefo-slapd-")
    env = dict(os.environ, SLAPD_SANDBOX_DIR=directory, SLAPD_SANDBOX_PORT=str(free_port()))
    result = subprocess.run([str(SANDBOX), "up"], env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        subprocess.run([str(SANDBOX), "down"], env=env, capture_output=True, timeout=120)
    require(result.returncode == 0, f"deploy/slapd-sandbox up failed: {result.stderr[-2000:]}")
    values = {}
    for line in (Path(directory) / "env").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    yield values
    subprocess.run([str(SANDBOX), "down"], env=env, capture_output=True, timeout=120)
