"""Changes a user confirms from their mailbox: a forgotten password (a link to the account's
address) and a new email address (a link to the NEW address, proving it is theirs).

Links come from ``links`` (single use, expiring); mails from ``mail``. A change and the use of
its link commit together: a change refused at the last moment (a weak password, an address
taken in the meantime) leaves the link usable and the account as it was.
"""

from __future__ import annotations

from django.db import transaction

from synnefo.astakos.logic import activation, links, mail, throttle, users
from synnefo.astakos.logic.users import UserError
from synnefo.astakos.models import EmailLink, User


class AddressTaken(UserError):
    """The new email belongs to another account."""


@transaction.atomic
def request_password_reset(email: str, request=None) -> bool:
    """Mail a reset link if ``email`` names an account that may reset its password (verified,
    not rejected, local logins enabled). Returns whether a mail was sent; callers show the same
    page either way, so the answer does not tell who has an account."""
    if not activation.local_signup_enabled():
        return False
    user = User.objects.filter(email__iexact=email.strip()[:254]).first() if email.strip() else None
    if user is None or not user.email_verified or user.is_rejected:
        return False
    try:
        secret = links.create(user, EmailLink.RESET)
    except links.TooManyLinks:
        return False  # the owner has fresh mails already; the page must not tell
    context = {
        "user": user,
        "link": activation.link_url("astakos-password-reset-confirm", secret, request),
        "lifetime": links.lifetime_text("reset"),
    }
    mail.send("password_reset", [user.email], context, request)
    return True


@transaction.atomic
def reset_password(secret: str, password: str) -> User:
    """Set the password a reset link's owner chose (held to the password rules) and revoke the
    user's tokens; the link is used up. ``LinkError`` or ``UserError``; nothing changes then."""
    link = links.consume(secret, EmailLink.RESET)
    user = User.objects.select_for_update().get(pk=link.user_id)
    users.check_new_password(password, user.email, user.first_name, user.last_name)
    users.set_password(user, password)
    users.add_local_provider(user)
    throttle.clear(user.email)  # the owner of the mailbox may log in again at once
    return user


def _check_free(user: User, email: str) -> None:
    if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise AddressTaken(f"The email {email} is already used by another account")


@transaction.atomic
def request_email_change(user: User, new_email: str, request=None) -> str:
    """Mail a confirmation link to ``new_email``; the email changes when it is followed.
    Returns the cleaned address; ``links.TooManyLinks`` when enough were sent lately."""
    new_email = users.clean_email(new_email)
    if new_email.lower() == user.email.lower():
        raise UserError(f"{new_email} is already your email")
    _check_free(user, new_email)
    secret = links.create(user, EmailLink.EMAIL_CHANGE, new_email=new_email)
    context = {
        "user": user,
        "new_email": new_email,
        "link": activation.link_url("astakos-email-change-confirm", secret, request),
        "lifetime": links.lifetime_text("email_change"),
    }
    mail.send("email_change", [new_email], context, request)
    return new_email


@transaction.atomic
def confirm_email_change(secret: str) -> User:
    """Follow an email-change link: the login email and the local provider's identifier become
    the new address, if it is still free (``AddressTaken`` otherwise, the link stays usable).
    The previous address is told."""
    link = links.consume(secret, EmailLink.EMAIL_CHANGE)
    user = User.objects.select_for_update().get(pk=link.user_id)
    _check_free(user, link.new_email)
    old_email = user.email
    users.set_email(user, link.new_email)
    # The previous address hears of it, so a hijacked session cannot move an account silently.
    mail.send("email_changed", [old_email], {"user": user, "old_email": old_email})
    return user
