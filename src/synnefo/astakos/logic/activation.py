"""How a new account becomes active: sign-up, email verification, then the activation policy
(automatic, by email pattern, or by a moderator), with the mails each step sends.

Shared by the web pages, ``snf-manage user-activation-send`` / ``user-modify --verify
--accept --reject`` and the admin pages. Every step runs in one transaction that includes its
mail: when the mail server refuses, ``MailError`` is raised and nothing is changed, so the step
can simply be retried.

States (``User.status``): "Pending email verification" -> (link followed) -> activated at
once, or "Pending moderation" -> (accepted) "Accepted/Active" or (rejected) "Rejected".
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from synnefo.astakos.logic import links, mail, tokens, users
from synnefo.astakos.logic.users import UserError
from synnefo.astakos.models import EmailLink, User

# accepted_policy of accounts activated without a moderator.
POLICY_EMAIL = "email"  # moderation off: a verified email is enough
POLICY_REGEX = "regex"  # moderation on, the email matches ASTAKOS_RE_USER_EMAIL_PATTERNS
POLICY_MANUAL = "manual"  # accepted by an administrator


class DuplicateEmail(UserError):
    """The email belongs to an account that is verified (or was rejected)."""


def link_url(name: str, secret: str, request=None) -> str:
    """The absolute URL of the page ``name`` for a link secret, as mails carry it."""
    return urljoin(mail.base_url(request) + "/", reverse(name, args=[secret]))


def local_signup_enabled() -> bool:
    return "local" in settings.ASTAKOS_IM_MODULES


@transaction.atomic
def signup(email: str, first_name: str, last_name: str, password: str, request=None) -> User:
    """Register a local (email + password) account, inactive until its email is verified, and
    mail the verification link. Signing up again with the email of an account that is still
    unverified replaces that registration (names, password, a new link; the old link stops
    working); the email of a verified or rejected account is refused (``DuplicateEmail``).
    ``links.TooManyLinks`` when that email got enough links lately."""
    if not local_signup_enabled():
        raise UserError("Sign-up with an email and password is not enabled")
    email = users.clean_email(email)
    users.check_names(first_name, last_name)
    users.check_new_password(password, email, first_name, last_name)
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is not None and (user.email_verified or user.is_rejected):
        raise DuplicateEmail(f"An account with the email {email} already exists. Log in, or reset your password.")
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password, first_name=first_name, last_name=last_name)
        except IntegrityError:  # a concurrent sign-up with the same email won
            raise DuplicateEmail(f"An account with the email {email} already exists.") from None
    else:
        user.email = email
        user.first_name, user.last_name = first_name, last_name
        user.set_password(password)
        user.date_joined = timezone.now()
        user.save()
        tokens.revoke_all(user)
    users.add_local_provider(user)
    send_verification(user, request, limited=True)
    return user


@transaction.atomic
def send_verification(user: User, request=None, limited: bool = False) -> None:
    """(Re)send the verification mail with a new link; older links of the user stop working.
    Refused for a verified or a rejected account; ``links.TooManyLinks`` if ``limited``
    (requests from the web) and enough were sent lately."""
    if user.email_verified:
        raise UserError(f"The email of user {user.pk} ({user.email}) is already verified")
    if user.is_rejected:
        raise UserError(f"User {user.pk} ({user.email}) is rejected")
    secret = links.create(user, EmailLink.VERIFY, limited=limited)
    context = {"user": user, "link": link_url("astakos-verify", secret, request), "lifetime": links.lifetime_text("verify")}
    mail.send("verify", [user.email], context, request)
    user.activation_sent = timezone.now()
    user.save(update_fields=["activation_sent", "updated"])


@transaction.atomic
def resend_verification(email: str, request=None) -> bool:
    """The web's "resend the verification mail": sends it if ``email`` names an account still
    waiting for verification (and not rejected), within the per-user limit. Returns whether it
    sent; callers answer the same either way."""
    user = User.objects.filter(email__iexact=email.strip()[:254]).first() if email.strip() else None
    if user is None or user.email_verified or user.is_rejected or not local_signup_enabled():
        return False
    try:
        send_verification(user, request, limited=True)
    except links.TooManyLinks:
        return False
    return True


@transaction.atomic
def verify_link(secret: str, request=None) -> User:
    """Follow a verification link: the email is verified and the activation policy applied.
    ``LinkError`` for an unknown, used or expired link (nothing changes)."""
    link = links.consume(secret, EmailLink.VERIFY)
    user = User.objects.select_for_update().get(pk=link.user_id)
    if not user.email_verified:
        verify(user, request)
    return user


@transaction.atomic
def verify(user: User, request=None) -> None:
    """Mark the email verified (the link, or ``user-modify --verify``) and apply the policy."""
    if user.email_verified:
        raise UserError(f"The email of user {user.pk} ({user.email}) is already verified")
    users.verify_email(user)
    # Links still in the mailbox answer "already used" (verified by another way).
    EmailLink.objects.filter(user=user, purpose=EmailLink.VERIFY, used_at__isnull=True).update(used_at=timezone.now())
    _apply_policy(user, request)


def matches_patterns(email: str) -> bool:
    return any(re.fullmatch(pattern, email, re.IGNORECASE) for pattern in settings.ASTAKOS_RE_USER_EMAIL_PATTERNS)


def _apply_policy(user: User, request=None) -> None:
    if user.is_rejected:
        return
    if user.moderated:  # accepted by an administrator before the email was verified
        _activate(user, user.accepted_policy or POLICY_MANUAL, request)
    elif not settings.ASTAKOS_MODERATION_ENABLED:
        _activate(user, POLICY_EMAIL, request)
    elif matches_patterns(user.email):
        _activate(user, POLICY_REGEX, request)
    else:
        notify_moderators(user, request)


def _activate(user: User, policy: str, request=None) -> None:
    now = timezone.now()
    user.moderated = True
    user.moderated_at = user.moderated_at or now
    user.accepted_policy = policy
    user.is_active = True
    user.deactivated_reason = ""
    user.deactivated_at = None
    user.save()
    mail.send("welcome", [user.email], {"user": user}, request)


def moderators() -> list[str]:
    """Who hears of accounts waiting for moderation (ACCOUNT_NOTIFICATIONS_RECIPIENTS, else
    the addresses of ADMINS)."""
    if settings.ACCOUNT_NOTIFICATIONS_RECIPIENTS:
        return list(settings.ACCOUNT_NOTIFICATIONS_RECIPIENTS)
    return [entry[1] if isinstance(entry, (list, tuple)) else entry for entry in settings.ADMINS]


def notify_moderators(user: User, request=None) -> None:
    mail.send("moderation_request", moderators(), {"user": user}, request)


@transaction.atomic
def accept(user: User, request=None) -> None:
    """A moderator accepts the account. It becomes active at once if its email is verified
    (the user gets the welcome mail), else when the email is verified."""
    if user.moderated and not user.is_rejected:
        raise UserError(f"User {user.pk} ({user.email}) is already accepted")
    users.accept(user)
    if user.is_active:
        mail.send("welcome", [user.email], {"user": user}, request)


@transaction.atomic
def reject(user: User, reason: str = "", request=None) -> None:
    """A moderator rejects the account: it cannot log in, its tokens are revoked, and the user
    is told by mail (with the reason, if given)."""
    if user.is_rejected:
        raise UserError(f"User {user.pk} ({user.email}) is already rejected")
    users.reject(user, reason)
    links.expire(EmailLink.objects.filter(user=user))
    mail.send("rejected", [user.email], {"user": user, "reason": reason}, request)
