"""The real single-node Ceph of deploy/ceph-sandbox, for the RADOS backends' tests."""

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import require

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "deploy" / "ceph-sandbox"
SANDBOX_ENV = Path("/run/ceph-sandbox/env")


def sandbox_env() -> dict:
    """Bring the sandbox cluster up (root + Debian) and return its env; skip (fail under CI=true)
    when that is impossible here."""
    can = os.geteuid() == 0 and shutil.which("apt-get") is not None
    require(can, "the Ceph sandbox needs root and apt-get (deploy/ceph-sandbox up)")
    result = subprocess.run([str(SANDBOX), "up"], capture_output=True, text=True, timeout=600)
    require(result.returncode == 0, f"deploy/ceph-sandbox up failed: {result.stderr[-2000:]}")
    from synnefo.common.radosclient import rados_available

    require(rados_available(), "the python rados module does not load in this Python")
    env = {}
    for line in SANDBOX_ENV.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value.strip()
    return env


@pytest.fixture(scope="session")
def ceph():
    return sandbox_env()


def _fresh_pool(ceph):
    from synnefo.common.radosclient import cluster

    handle = cluster(ceph["CEPH_CONF"])
    name = f"test-{secrets.token_hex(4)}"
    handle.create_pool(name)
    return handle, name


@pytest.fixture(scope="session")
def rados_pool(ceph):
    """A fresh pool of the sandbox cluster for this test session (deleted afterwards): its name.
    Content-addressed blocks make sharing it between tests safe (tests use distinct data)."""
    handle, name = _fresh_pool(ceph)
    yield name
    handle.delete_pool(name)


@pytest.fixture
def fresh_rados_pool(ceph):
    """A pool of this test alone (for tests that use fixed names); about a second to delete."""
    handle, name = _fresh_pool(ceph)
    yield name
    handle.delete_pool(name)


@pytest.fixture(scope="session")
def rados_maps_pool(ceph):
    """A second fresh pool, for Archipelago's maps (tests use distinct volume names)."""
    handle, name = _fresh_pool(ceph)
    yield name
    handle.delete_pool(name)
