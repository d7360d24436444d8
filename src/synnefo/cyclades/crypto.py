"""Encryption at rest of Ganeti RAPI passwords.

The key is derived from ``SECRET_KEY`` with HKDF-SHA256 (a standard KDF; a fixed ``info`` label
keeps it distinct from any other key derived from the same secret) and used with Fernet
(AES-128-CBC + HMAC-SHA256, authenticated). Changing SECRET_KEY makes stored passwords
unreadable: re-enter them with ``snf-manage backend-modify --pass``.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"synnefo cyclades backend password").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt the stored RAPI password (SECRET_KEY changed?)") from exc
