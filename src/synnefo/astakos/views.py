"""The identity service's web pages: log in, log out, profile with the API token.

Plain server-rendered HTML forms with CSRF protection. A token is shown once, right after it is
issued (only its hash is stored), so "Renew token" is also how a user gets a token to copy.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from synnefo.astakos.logic import recaptcha, tokens
from synnefo.astakos.logic.credentials import check_password_login
from synnefo.astakos.middleware import terms_exempt
from synnefo.common.faults import Fault

PROFILE = "astakos-profile"


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@terms_exempt
@require_http_methods(["GET", "POST"])
def login_view(request):
    """Email (or uuid) and password (or token). After ASTAKOS_RATELIMIT_RETRIES_ALLOWED failures
    of the account or the address the form also needs the captcha (when reCAPTCHA is enabled),
    and a missing or wrong answer refuses the form before the password is even checked."""
    from django.urls import reverse

    from synnefo.astakos.provider_views import login_context

    next_url = _safe_next(request, reverse(PROFILE))
    offered = login_context(request)
    error = None
    email = ""
    status = 200
    address = request.client_address
    if request.method == "POST" and not offered["local_login"]:
        error, status = "Login with email and password is disabled.", 403
    elif request.method == "POST":
        email = request.POST.get("email", "")[:254]
        password = request.POST.get("password", "")[:4096]
        refusal = recaptcha.check(request) if recaptcha.required_for_login(address, email) else None
        if refusal:
            error, status = str(refusal), refusal.status
        else:
            try:
                user = check_password_login(email, password, address)
            except Fault as fault:
                error = "Too many failed attempts. Please try again later." if fault.code == 429 else (
                    "Wrong email or password, or the account is not active."
                )
                status = fault.code
            else:
                login(request, user, backend="synnefo.astakos.logic.backends.EmailBackend")
                user.auth_providers.filter(module="local").update(last_login_at=timezone.now())
                return HttpResponseRedirect(next_url)
    captcha = recaptcha.required_for_login(address, email if request.method == "POST" else None)
    context = {**offered, "error": error, "email": email, "next": next_url, "captcha": captcha}
    return render(request, "astakos/login.html", context, status=status)


@terms_exempt
@require_POST
def logout_view(request):
    logout(request)
    return render(request, "astakos/logged_out.html")


def profile_context(user, new_token: str | None = None) -> dict:
    """What the profile page shows: the main token (a renewed one once), the login methods."""
    from synnefo.astakos import provider_views

    return {"main_token": user.tokens.filter(is_main=True).first(), "new_token": new_token,
            **provider_views.profile_context(user)}


@login_required
@require_http_methods(["GET"])
def profile_view(request):
    return render(request, "astakos/profile.html", profile_context(request.user))


@login_required
@require_POST
def renew_token_view(request):
    value, _ = tokens.renew_main_token(request.user)
    return render(request, "astakos/profile.html", profile_context(request.user, value))
