"""Web pages wait until the user accepted the terms of use in force.

``SignedTermsMiddleware`` (in ``MIDDLEWARE`` after the authentication middleware) sends a
logged-in user who has not accepted the newest terms to the accept page, for every page below
the identity service's web root (``/astakos/ui/``), whichever app adds it. Pages a user must
reach anyway (log in, log out, the terms themselves) are marked ``@terms_exempt``; web pages
elsewhere may use ``@signed_terms_required``. APIs are never affected: they authenticate by
token, not by the session, and live outside the web root.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from synnefo.astakos.logic import terms

ACCEPT = "astakos-terms-accept"


def terms_exempt(view):
    """Mark a web view as reachable before the user accepted the terms."""
    view.terms_exempt = True
    return view


def _ui_root() -> str | None:
    try:
        return reverse("astakos-profile")
    except NoReverseMatch:  # this node does not serve the identity service's pages
        return None


def _redirect_unless_signed(request):
    """A redirect to the accept page if the logged-in user must accept the terms first."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or terms.has_accepted_newest(user):
        return None
    # After accepting, come back here; a form posted meanwhile is not replayed.
    back = request.get_full_path() if request.method in ("GET", "HEAD") else _ui_root()
    return HttpResponseRedirect(f"{reverse(ACCEPT)}?{urlencode({'next': back})}")


class SignedTermsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "terms_exempt", False):
            return None
        root = _ui_root()
        if root is None or not request.path_info.startswith(root):
            return None
        return _redirect_unless_signed(request)


def signed_terms_required(view):
    """For web views outside the identity service's web root (the middleware covers those)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return _redirect_unless_signed(request) or view(request, *args, **kwargs)

    return wrapper
