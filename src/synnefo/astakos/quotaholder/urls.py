"""Quota routes of the account API, included by ``synnefo.astakos.urls`` (below ``/astakos``)."""

from django.urls import re_path

from synnefo.astakos.quotaholder import api

urlpatterns = [
    re_path(r"^account/v1\.0/resources/?$", api.resources),
    re_path(r"^account/v1\.0/quotas/?$", api.quotas),
    re_path(r"^account/v1\.0/service_quotas/?$", api.service_quotas),
    re_path(r"^account/v1\.0/service_project_quotas/?$", api.service_project_quotas),
    re_path(r"^account/v1\.0/commissions/?$", api.commissions),
    re_path(r"^account/v1\.0/commissions/action/?$", api.commissions_action),
    re_path(r"^account/v1\.0/commissions/(?P<serial>[^/]+)/?$", api.commission),
    re_path(r"^account/v1\.0/commissions/(?P<serial>[^/]+)/action/?$", api.commission_action),
]
