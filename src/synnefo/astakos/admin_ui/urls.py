"""URLs of the admin pages, below ``ASTAKOS_ADMIN_PREFIX`` (``/admin/``)."""

from django.urls import path

from synnefo.astakos.admin_ui import views

urlpatterns = [
    path("", views.user_list, name="astakos-admin-users"),
    path("users/<int:user_id>", views.user_detail, name="astakos-admin-user"),
    path("users/<int:user_id>/quota", views.user_quota, name="astakos-admin-quota"),
    path("users/<int:user_id>/<slug:slug>", views.user_action, name="astakos-admin-action"),
    path("audit", views.audit_list, name="astakos-admin-audit"),
]
