"""Swift-compatible URLs at the host root: ``/v1/<account>/...``, ``/info``, ``/auth/v1.0``.

Requests through ``/v1`` follow Swift's conventions where Swift and Pithos differ (e.g. POST
answers 204, not 202), so unchanged Swift clients and kamaki both get what they expect."""

from functools import wraps

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from synnefo.pithos.api import swift
from synnefo.pithos.urls import store_patterns


def swift_flavoured(view):
    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.swift = True
        return view(request, *args, **kwargs)

    return wrapper


urlpatterns = [
    re_path(r"^info/?$", swift.info),
    re_path(r"^auth/v1\.0/?$", swift.auth_v1),
    re_path(r"^auth/v1/?$", swift.auth_v1),
] + [re_path(r"^v1/" + p.pattern.regex.pattern[1:], swift_flavoured(p.callback)) for p in store_patterns]
