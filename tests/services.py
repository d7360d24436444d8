"""Tests that need a real service skip with the reason when it is absent, but fail under CI."""

import os

import pytest

IN_CI = os.environ.get("CI") == "true"


def require(available: bool, reason: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)
