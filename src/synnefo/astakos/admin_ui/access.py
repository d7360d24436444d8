"""Who may use the admin pages: logged-in, active users of type ADMIN, nobody else.

Anonymous requests are sent to the login page (``?next=`` brings them back); logged-in
users of another type get 403, whatever the method, before any form is read.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache


def error_page(request, status: int, message: str, back: str | None = None):
    """An HTML refusal with its reason; ``back`` is the page to return to (default: the users)."""
    context = {"status": status, "message": message, "back": back}
    return render(request, "astakos/admin/error.html", context, status=status)


def admin_required(view):
    @never_cache
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("astakos-login"))
        if not (user.is_superuser and user.is_active):
            return error_page(request, 403, "Only administrators (user type ADMIN) may use these pages.")
        return view(request, *args, **kwargs)

    return wrapper
