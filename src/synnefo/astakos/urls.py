"""URLs of the identity service, below its prefix (``/astakos`` by default).

API paths take an optional trailing slash, since clients differ on it.
"""

from django.urls import include, path, re_path

from synnefo.astakos import account_views, provider_views, terms_views, views
from synnefo.astakos.api import account, identity_v2, keystone_v3

urlpatterns = [
    # Astakos identity v2.0
    re_path(r"^identity/v2\.0/?$", identity_v2.version),
    re_path(r"^identity/v2\.0/tokens/?$", identity_v2.authenticate),
    re_path(r"^identity/v2\.0/tokens/(?P<token_id>[^/]+)/?$", identity_v2.validate),
    # Keystone v3
    re_path(r"^identity/?$", keystone_v3.versions),
    re_path(r"^identity/v3/?$", keystone_v3.version),
    re_path(r"^identity/v3/auth/tokens/?$", keystone_v3.auth_tokens),
    re_path(r"^identity/v3/auth/catalog/?$", keystone_v3.auth_catalog),
    re_path(r"^identity/v3/auth/projects/?$", keystone_v3.auth_projects),
    re_path(r"^identity/v3/auth/domains/?$", keystone_v3.auth_domains),
    re_path(r"^identity/v3/users/(?P<user_id>[^/]+)/?$", keystone_v3.user_detail),
    re_path(r"^identity/v3/projects/(?P<project_id>[^/]+)/?$", keystone_v3.project_detail),
    # Account v1.0
    re_path(r"^account/v1\.0/user_catalogs/?$", account.user_catalogs),
    path("", include("synnefo.astakos.quotaholder.urls")),  # resources, quotas, commissions
    # Web pages
    path("ui/", views.profile_view, name="astakos-profile"),
    path("ui/login", views.login_view, name="astakos-login"),
    path("ui/login/ldap", provider_views.ldap_login_view, name="astakos-login-ldap"),
    path("ui/login/shibboleth", provider_views.shibboleth_login_view, name="astakos-login-shibboleth"),
    path("ui/logins/<int:provider_id>/remove", provider_views.remove_provider_view, name="astakos-remove-login"),
    path("ui/logout", views.logout_view, name="astakos-logout"),
    path("ui/renew-token", views.renew_token_view, name="astakos-renew-token"),
    path("ui/terms", terms_views.terms_view, name="astakos-terms"),
    path("ui/terms/accept", terms_views.accept_terms_view, name="astakos-terms-accept"),
    path("ui/signup", account_views.signup_view, name="astakos-signup"),
    path("ui/signup/resend", account_views.resend_view, name="astakos-resend-verification"),
    path("ui/verify/<str:secret>", account_views.verify_view, name="astakos-verify"),
    path("ui/password/reset", account_views.password_reset_view, name="astakos-password-reset"),
    path("ui/password/reset/<str:secret>", account_views.password_reset_confirm_view, name="astakos-password-reset-confirm"),
    path("ui/email/change", account_views.email_change_view, name="astakos-email-change"),
    path("ui/email/confirm/<str:secret>", account_views.email_change_confirm_view, name="astakos-email-change-confirm"),
]
