"""SSH key pairs of users (the compute API's os-keypairs). A public key is checked by parsing
it; a key pair asked for without one is generated here and its private key returned once."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import IntegrityError, transaction

from synnefo.common import faults
from synnefo.cyclades.models import Keypair

NAME = re.compile(r"^[A-Za-z0-9 _.@-]{1,255}$")
MAX_KEYPAIRS = 100


def fingerprint(public_key: str) -> str:
    """The MD5 of the key's blob in colon-separated hex, as Nova and ssh-keygen -E md5 show it."""
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def check_public_key(public_key) -> str:
    if not isinstance(public_key, str) or len(public_key) > 16384:
        raise faults.BadRequest("A public key is an OpenSSH public key line")
    public_key = public_key.strip()
    try:
        serialization.load_ssh_public_key(public_key.encode())
    except (ValueError, TypeError, IndexError, NotImplementedError):
        raise faults.BadRequest("Not a valid OpenSSH public key") from None
    return public_key


def create(user: str, name, public_key=None) -> tuple[Keypair, str | None]:
    """A new key pair; (record, private key or None when the public key was given)."""
    if not isinstance(name, str) or not NAME.match(name) or name.strip() != name:
        raise faults.BadRequest("Key pair names have 1 to 255 letters, digits, spaces, '_', '-', '.' or '@'")
    private = None
    if public_key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        public_key = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    public_key = check_public_key(public_key)
    try:
        with transaction.atomic():
            if Keypair.objects.filter(userid=user).count() >= MAX_KEYPAIRS:
                raise faults.RequestEntityTooLarge(f"At most {MAX_KEYPAIRS} key pairs per user")
            record = Keypair.objects.create(userid=user, name=name, public_key=public_key, fingerprint=fingerprint(public_key))
    except IntegrityError:
        raise faults.Conflict(f"Key pair '{name}' already exists") from None
    return record, private


def get(user: str, name: str) -> Keypair:
    record = Keypair.objects.filter(userid=user, name=name).first()
    if record is None:
        raise faults.ItemNotFound(f"Key pair '{name}' not found")
    return record


def delete(user: str, name: str) -> None:
    get(user, name).delete()


def for_server(user: str, names) -> list[Keypair]:
    """The key pairs a server is created with; 400 for a name the user has no key pair of."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise faults.BadRequest("Key names must be a list of strings")
    found = {k.name: k for k in Keypair.objects.filter(userid=user, name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise faults.BadRequest(f"Key pair '{missing[0]}' does not exist")
    return [found[n] for n in dict.fromkeys(names)]
