"""The terms of use pages: the public text (any version), and the page where a logged-in user
accepts the version in force (``SignedTermsMiddleware`` sends users there)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from synnefo.astakos.logic import terms
from synnefo.astakos.middleware import terms_exempt
from synnefo.astakos.views import PROFILE, _safe_next


def _none(request, message: str, status: int):
    return render(request, "astakos/terms_none.html", {"message": message}, status=status)


@terms_exempt
@require_GET
def terms_view(request):
    """The newest terms, or version ``?id=N``; public."""
    newest_id = terms.newest_id()
    wanted = request.GET.get("id")
    if wanted is None:
        shown = terms.get(newest_id) if newest_id is not None else None
        if shown is None:
            return _none(request, "No terms of use have been published.", 404)
    else:
        if not wanted.isdigit() or len(wanted) > 18:
            return _none(request, "The terms version must be a number, as in ?id=2.", 400)
        shown = terms.get(int(wanted))
        if shown is None:
            return _none(request, f"There is no version {wanted} of the terms of use.", 404)
    context = {"terms": shown, "newest_id": newest_id, "versions": terms.versions()}
    return render(request, "astakos/terms.html", context)


@terms_exempt
@login_required
@require_http_methods(["GET", "POST"])
def accept_terms_view(request):
    """Show the terms in force with a checkbox; accepting records the version shown."""
    next_url = _safe_next(request, reverse(PROFILE))
    current = terms.newest()
    if current is None or (request.method == "GET" and request.user.signed_terms_id == current.pk):
        return HttpResponseRedirect(next_url)
    error, status = None, 200
    if request.method == "POST":
        shown = request.POST.get("terms", "")
        if request.POST.get("accept") != "yes":
            error, status = "Tick the box to accept the terms of use.", 400
        elif not shown.isdigit() or len(shown) > 18:
            error, status = "The form did not say which terms you accept; please submit it again.", 400
        else:
            try:
                terms.sign(request.user, int(shown))
            except terms.TermsError as exc:
                error, status = str(exc), 409
            else:
                return HttpResponseRedirect(next_url)
    context = {"terms": current, "next": next_url, "error": error}
    return render(request, "astakos/terms_accept.html", context, status=status)
