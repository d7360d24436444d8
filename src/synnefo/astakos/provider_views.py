"""Web pages of the authentication providers: LDAP and Shibboleth login, and the login methods
on the profile page (add, remove). The rules live in ``logic/providers.py``.

The "add" links of the profile page lead to a provider's login with ``link=1``: a logged-in
user who logs in there links that identity to their account (policy ADD). Without ``link=1``
a provider login is a plain login, whoever was logged in before on that browser (so that
somebody else's forgotten session never collects your identity).
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from synnefo.astakos.logic import ldap, providers, shibboleth, throttle
from synnefo.astakos.views import PROFILE, _safe_next
from synnefo.common.faults import Fault

log = logging.getLogger(__name__)

SESSION_BACKEND = "synnefo.astakos.logic.backends.EmailBackend"
LOGIN_URLS = {"ldap": "astakos-login-ldap", "shibboleth": "astakos-login-shibboleth"}


def wants_link(request) -> bool:
    return request.user.is_authenticated and (request.POST.get("link") or request.GET.get("link")) == "1"


def login_context(request, linking: bool = False) -> dict:
    """What the login page offers: only enabled providers that allow logging in (in linking
    mode, the LDAP form to add an LDAP login)."""
    offered = {p.module for p in providers.enabled() if p.allows("LOGIN")}
    return {
        "local_login": "local" in offered,
        "ldap_login": "ldap" in offered or (linking and providers.get("ldap") is not None),
        "shibboleth_login": "shibboleth" in offered,
        "linking": linking,
    }


def profile_context(user) -> dict:
    logins = [
        {"record": r, "title": providers.MODULES.get(r.module, r.module), "removable": providers.removable(user, r)}
        for r in user.auth_providers.order_by("created", "pk")
    ]
    addable = [{"title": p.title, "url": reverse(LOGIN_URLS[p.module]) + "?link=1"} for p in providers.addable(user)]
    return {"logins": logins, "addable": addable}


def _message(request, message: str, status: int, title: str = "Log in"):
    return render(request, "astakos/provider_message.html", {"message": message, "title": title}, status=status)


def _finish(request, outcome: providers.Outcome, next_url: str):
    if outcome.action == "linked":
        messages.success(request, "The login method was added to your account.")
        return HttpResponseRedirect(reverse(PROFILE))
    if not outcome.may_log_in:
        return _message(
            request,
            "Your account was created. An administrator has to accept it before you can log in.",
            200,
            "Account created",
        )
    login(request, outcome.user, backend=SESSION_BACKEND)
    return HttpResponseRedirect(next_url)


@require_http_methods(["GET", "POST"])
def ldap_login_view(request):
    if providers.get("ldap") is None:
        return _message(request, "LDAP login is not enabled on this service.", 404)
    next_url = _safe_next(request, reverse(PROFILE))
    linking = wants_link(request)
    context = {**login_context(request, linking), "next": next_url, "ldap_username": "", "ldap_error": None}
    if request.method == "GET":
        return render(request, "astakos/login.html", context)
    username = request.POST.get("username", "").strip()[:254]
    password = request.POST.get("password", "")[:4096]
    account = f"ldap:{username.lower()}"
    try:
        throttle.check(account, request.client_address)
    except Fault:
        context.update(ldap_username=username, ldap_error="Too many failed attempts. Please try again later.")
        return render(request, "astakos/login.html", context, status=429)
    try:
        identity = ldap.authenticate(request, username, password)
    except ldap.DirectoryUnavailable:
        context.update(ldap_username=username, ldap_error="The directory is not available. Please try again later.")
        return render(request, "astakos/login.html", context, status=503)
    if identity is None:
        throttle.record_failure(account, request.client_address)
        context.update(ldap_username=username, ldap_error="Wrong username or password.")
        return render(request, "astakos/login.html", context, status=401)
    throttle.clear(account)
    try:
        outcome = providers.login(identity, request.user if linking else None)
    except providers.ProviderError as error:
        return _message(request, error.message, error.status)
    return _finish(request, outcome, next_url)


@require_GET
def shibboleth_login_view(request):
    """The page behind Apache's mod_shib (``ShibRequireSession On``): by the time a request
    gets here the user has logged in at their identity provider."""
    if providers.get("shibboleth") is None:
        return _message(request, "Shibboleth login is not enabled on this service.", 404)
    peer = request.META.get("REMOTE_ADDR", "")
    if not shibboleth.trusted(peer):
        log.warning(
            "Shibboleth login from untrusted address %s refused (not in ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES); "
            "headers ignored: %s", peer, ", ".join(shibboleth.sent_headers(request.META)) or "none",
        )
        return _message(request, "Shibboleth login must come through the web server of this service.", 403)
    try:
        outcome = providers.login(shibboleth.identity(request.META), request.user if wants_link(request) else None)
    except providers.ProviderError as error:
        return _message(request, error.message, error.status)
    return _finish(request, outcome, _safe_next(request, reverse(PROFILE)))


@login_required
@require_POST
def remove_provider_view(request, provider_id: int):
    try:
        record = providers.remove(request.user, provider_id)
    except providers.ProviderError as error:
        return _message(request, error.message, error.status, "Login methods")
    messages.success(request, f"Removed the {providers.MODULES.get(record.module, record.module)} login.")
    return HttpResponseRedirect(reverse(PROFILE))
