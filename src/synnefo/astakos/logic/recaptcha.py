"""reCAPTCHA (v2) on the web forms: the widget in the page, the answer checked server-side.

A form that wants a captcha renders ``{% recaptcha_widget %}`` (template library
``astakos_ui``) and calls ``check(request)`` on submit: ``None`` means go on (the answer was
verified, or reCAPTCHA is disabled), anything else is the message to show, refusing the form.
The check POSTs the secret key, the browser's answer and the client's address to
``ASTAKOS_RECAPTCHA_VERIFY_URL``; a verification service that fails, times out or answers
nonsense refuses the form too (fail closed), and is logged.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings

from synnefo.astakos.logic import throttle

log = logging.getLogger("synnefo.astakos.recaptcha")

# The form field the reCAPTCHA script fills in with the browser's answer.
FIELD = "g-recaptcha-response"
# Real answers are about 500 to 2,000 characters; anything much longer is not one.
MAX_ANSWER_LENGTH = 8192

MISSING = "Please complete the captcha (tick “I'm not a robot”) and submit again."
WRONG = "The captcha was not solved; please try it again."
UNAVAILABLE = "The captcha cannot be checked right now; please try again in a few minutes."


class Refusal(str):
    """Why a form was refused; a string (the message to show) with the HTTP status to answer:
    400 for a missing or wrong answer, 503 when the answer could not be verified."""

    status: int

    def __new__(cls, message: str, status: int = 400):
        refusal = super().__new__(cls, message)
        refusal.status = status
        return refusal


def enabled() -> bool:
    return bool(settings.ASTAKOS_RECAPTCHA_ENABLED)


def required_for_login(address: str, account: str | None = None) -> bool:
    """Whether the login form needs the captcha: reCAPTCHA is enabled and ``account`` (the
    email or uuid typed, when known) or ``address`` has at least
    ``ASTAKOS_RATELIMIT_RETRIES_ALLOWED`` failed logins within the throttling window."""
    if not enabled():
        return False
    allowed = settings.ASTAKOS_RATELIMIT_RETRIES_ALLOWED
    account = account.strip() if account is not None else None
    of_account, from_address = throttle.recent_failures(account, address)
    return of_account >= allowed or from_address >= allowed


def check(request) -> Refusal | None:
    """Verify the captcha answer posted with ``request``; ``None`` when it passes or reCAPTCHA
    is disabled, else the refusal to show (the form must then do nothing else)."""
    if not enabled():
        return None
    answer = request.POST.get(FIELD, "").strip()
    if not answer:
        return Refusal(MISSING)
    if len(answer) > MAX_ANSWER_LENGTH:
        return Refusal(WRONG)
    secret = settings.ASTAKOS_RECAPTCHA_PRIVATE_KEY
    if not secret:
        log.error("ASTAKOS_RECAPTCHA_ENABLED is set but ASTAKOS_RECAPTCHA_PRIVATE_KEY is empty; refusing the form")
        return Refusal(UNAVAILABLE, 503)
    address = getattr(request, "client_address", "") or request.META.get("REMOTE_ADDR", "")
    data = {"secret": secret, "response": answer}
    if address:
        data["remoteip"] = address
    url = settings.ASTAKOS_RECAPTCHA_VERIFY_URL
    try:
        reply = requests.post(url, data=data, timeout=settings.ASTAKOS_RECAPTCHA_TIMEOUT)
        reply.raise_for_status()
        result = reply.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("reCAPTCHA verification at %s failed (%s); refusing the form", url, type(exc).__name__)
        return Refusal(UNAVAILABLE, 503)
    if not isinstance(result, dict):
        log.warning("reCAPTCHA verification at %s answered no JSON object; refusing the form", url)
        return Refusal(UNAVAILABLE, 503)
    if result.get("success") is True:
        return None
    codes = result.get("error-codes") or []
    # A bad secret is the operator's mistake, not the user's: say so louder.
    level = logging.WARNING if any("secret" in str(code) for code in codes) else logging.INFO
    log.log(level, "reCAPTCHA answer from %s refused: %s", address or "?", codes)
    return Refusal(WRONG)
