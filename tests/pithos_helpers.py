"""Helpers for object-store tests: a user's account URL and authenticated calls."""

import hashlib

import pytest

from synnefo.pithos.backend.blocks import reset_block_store


class Store:
    """Calls to one account's object store through the Django test client."""

    def __init__(self, client, user, token, root="/pithos/object-store/v1", on_commit=None):
        self.client, self.user, self.token = client, user, token
        self.url = f"{root}/{user.uuid}"
        # Tests run inside a transaction that never commits; run on-commit work (quota
        # commissions resolve then) after each request, as a real commit would.
        self.on_commit = on_commit

    def call(self, method, path="", data=b"", token=True, **headers):
        extra = {"HTTP_X_AUTH_TOKEN": self.token} if token else {}
        extra["CONTENT_LENGTH"] = str(len(data))  # as real clients send, even for empty bodies
        extra.update(headers)
        content_type = extra.pop("content_type", "application/octet-stream")
        if self.on_commit is None:
            return self.client.generic(method, self.url + path, data=data, content_type=content_type, **extra)
        with self.on_commit(execute=True):
            return self.client.generic(method, self.url + path, data=data, content_type=content_type, **extra)

    def body(self, response) -> bytes:
        return b"".join(response.streaming_content) if response.streaming else response.content


def block_hash(data: bytes) -> str:
    return hashlib.sha256(data.rstrip(b"\0")).hexdigest()


@pytest.fixture
def small_blocks(settings, tmp_path):
    """A fresh block store with 1 KiB blocks, so multi-block objects stay small in tests."""
    settings.PITHOS_BACKEND_BLOCK_SIZE = 1024
    settings.PITHOS_BACKEND_BLOCK_PATH = str(tmp_path / "blocks")
    reset_block_store()
    yield 1024
    reset_block_store()
