"""Versioned terms of use.

Each ``snf-manage term-add`` stores one more version (its HTML, so what users accepted never
changes under them); the newest one (highest id) is in force. A user has accepted the terms
when ``User.signed_terms`` is that newest version, so adding a version makes everybody accept
again. Web pages enforce it (``synnefo.astakos.middleware``); API tokens never depend on it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synnefo.astakos.logic.users import UserError
from synnefo.astakos.models import ApprovalTerms, User


class TermsError(UserError):
    """Terms cannot be added or signed (bad file, no terms at all, ...)."""


def newest() -> ApprovalTerms | None:
    return ApprovalTerms.objects.order_by("-pk").first()


def newest_id() -> int | None:
    return ApprovalTerms.objects.order_by("-pk").values_list("pk", flat=True).first()


def get(terms_id: int) -> ApprovalTerms | None:
    return ApprovalTerms.objects.filter(pk=terms_id).first()


def versions() -> list[ApprovalTerms]:
    """Every version, newest first, without the HTML."""
    return list(ApprovalTerms.objects.order_by("-pk").defer("html"))


def read_html_file(path: str) -> str:
    """The text of an HTML terms file: UTF-8 (a byte-order mark is dropped), not empty, no
    NUL characters (PostgreSQL cannot store them), at most ``ASTAKOS_TERMS_MAX_SIZE`` bytes."""
    file = Path(path)
    limit = settings.ASTAKOS_TERMS_MAX_SIZE
    try:
        with file.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise TermsError(f"No such file: {path}") from None
    except OSError as exc:
        raise TermsError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise TermsError(f"{path} is larger than {limit} bytes (ASTAKOS_TERMS_MAX_SIZE)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TermsError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise TermsError(f"{path} contains NUL characters; it is not an HTML text file")
    if not text.strip():
        raise TermsError(f"{path} is empty")
    return text


def add_from_file(path: str) -> ApprovalTerms:
    """A new version of the terms, in force at once, from an HTML file."""
    html = read_html_file(path)
    source = str(Path(path).resolve())[:1024]
    return ApprovalTerms.objects.create(html=html, source=source)


def has_accepted_newest(user: User) -> bool:
    """Whether ``user`` accepted the terms in force (True when there are none)."""
    current = newest_id()
    return current is None or user.signed_terms_id == current


@transaction.atomic
def sign(user: User, terms_id: int | None = None) -> ApprovalTerms:
    """Record that ``user`` accepted the newest terms. With ``terms_id`` (the version the user
    was shown), refuse if a newer one was added meanwhile: nobody accepts unseen terms."""
    current = newest()
    if current is None:
        raise TermsError("No terms of use have been added (snf-manage term-add)")
    if terms_id is not None and terms_id != current.pk:
        raise TermsError("The terms of use changed while you were reading them; please read the new version")
    user.signed_terms = current
    user.signed_terms_at = timezone.now()
    user.save(update_fields=["signed_terms", "signed_terms_at", "updated"])
    return current
