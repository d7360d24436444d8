"""Built-in defaults of the identity service (Astakos). Names follow upstream's settings."""

# Public base URL of the identity service. None: derived from each request's host, with the
# path prefix /astakos (right for an all-in-one node). Set it when a proxy is in front, e.g.
# "https://accounts.example.org/astakos"; its path is where the service is mounted.
ASTAKOS_BASE_URL = None

# Lifetime of an API token, in seconds (upstream: 30 days).
ASTAKOS_AUTH_TOKEN_DURATION = 30 * 24 * 3600

# Live tokens kept per user (one per login or client, plus the main token). When a new one
# would exceed this, the oldest non-main tokens are dropped.
ASTAKOS_MAX_TOKENS_PER_USER = 500

# Authentication modules (the seed's ASTAKOS_IM_MODULES). "local" is email + password.
ASTAKOS_IM_MODULES = ["local"]

# Throttling of wrong passwords: at most this many failures per account, and per client address,
# within ASTAKOS_LOGIN_FAILURE_WINDOW seconds; after that, logins answer 429 until the window
# has passed, whatever the password.
ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT = 5
ASTAKOS_LOGIN_FAILURES_PER_ADDRESS = 30
ASTAKOS_LOGIN_FAILURE_WINDOW = 300

# Longest values accepted for user fields.
ASTAKOS_MAX_NAME_LENGTH = 100
ASTAKOS_MAX_PASSWORD_LENGTH = 4096

# The first administrator that `synnefo up` creates on an empty database.
ASTAKOS_BOOTSTRAP_ADMIN_EMAIL = "admin@example.org"

# The admin pages (users, moderation, quotas, audit trail), at this path of the host; only users
# of type ADMIN get in (`snf-manage user-modify <id> --type ADMIN`).
ASTAKOS_ADMIN_PREFIX = "/admin"
# Users or audit entries per page of the admin lists.
ASTAKOS_ADMIN_PAGE_SIZE = 50
# Audit entries shown on a user's admin page (the audit page has them all).
ASTAKOS_ADMIN_RECENT_AUDIT = 20
# Longest reason accepted for a deactivation or rejection.
ASTAKOS_ADMIN_MAX_REASON_LENGTH = 1000

# Terms of use (`snf-manage term-add <html file>`): the largest HTML file accepted, in bytes.
ASTAKOS_TERMS_MAX_SIZE = 1024 * 1024

# reCAPTCHA (v2 checkbox) on the web forms, as the seed's "Enabling reCAPTCHA": create a key
# pair at the reCAPTCHA admin console, set both keys, then ASTAKOS_RECAPTCHA_ENABLED = True.
# The sign-up form always asks for it; the login form only once an account or a client address
# has ASTAKOS_RATELIMIT_RETRIES_ALLOWED failed logins within ASTAKOS_LOGIN_FAILURE_WINDOW.
ASTAKOS_RECAPTCHA_ENABLED = False
ASTAKOS_RECAPTCHA_PUBLIC_KEY = ""  # the site key, shown in the page
ASTAKOS_RECAPTCHA_PRIVATE_KEY = ""  # the secret key, sent only to the verify URL
# Where answers are checked (server to server: secret + response + remoteip, form-encoded POST).
ASTAKOS_RECAPTCHA_VERIFY_URL = "https://www.google.com/recaptcha/api/siteverify"
# The widget's script, loaded by the browser.
ASTAKOS_RECAPTCHA_SCRIPT_URL = "https://www.google.com/recaptcha/api.js"
# Extra attributes of the widget, as data-<key>="<value>", e.g. {"theme": "dark", "size": "compact"}.
ASTAKOS_RECAPTCHA_OPTIONS = {}
# Seconds the verification call may take. When it fails or times out the form is refused.
ASTAKOS_RECAPTCHA_TIMEOUT = 5
# Failed logins (of one account, or from one address) after which the login form needs the captcha.
ASTAKOS_RATELIMIT_RETRIES_ALLOWED = 3

# --- Sign-up, activation and email links (see docs/accounts.md) ---

# Name of the service in the mails sent to users and administrators.
ASTAKOS_SITE_NAME = "Synnefo"

# Moderation. False (upstream's default): an account is activated as soon as its email is
# verified (accepted_policy "email"). True: after verification, an account whose email matches
# one of ASTAKOS_RE_USER_EMAIL_PATTERNS is activated too (accepted_policy "regex"); any other
# waits in "Pending moderation" for `snf-manage user-modify USER --accept` or `--reject`.
ASTAKOS_MODERATION_ENABLED = False

# Regular expressions (Python `re`, matched against the whole email, case-insensitively) of
# addresses activated without moderation, e.g. [r".*@example\.org"]. Only read when
# ASTAKOS_MODERATION_ENABLED is True.
ASTAKOS_RE_USER_EMAIL_PATTERNS = []

# Who is told by mail that an account waits for moderation: a list of addresses. Empty: the
# addresses of Django's ADMINS setting ([("name", "address"), ...], default empty); both empty:
# nobody is told (the pending accounts are in `snf-manage user-list --pending-moderation`).
ACCOUNT_NOTIFICATIONS_RECIPIENTS = []

# Lifetime, in seconds, of the single-use links sent by mail, per purpose: verify the email of
# a new account, reset a forgotten password, confirm a new email address.
ASTAKOS_EMAIL_LINK_LIFETIME = {
    "verify": 7 * 24 * 3600,
    "reset": 2 * 3600,
    "email_change": 2 * 24 * 3600,
}

# Requests that send a mail (sign-up, resend, password reset, email change) allowed per address
# within ASTAKOS_LOGIN_FAILURE_WINDOW seconds; beyond it they answer 429. Counted in the
# database, so every worker and node shares the budget.
ASTAKOS_EMAIL_REQUESTS_PER_ADDRESS = 10

# Links of one purpose mailed to one user within ASTAKOS_LOGIN_FAILURE_WINDOW seconds, whoever
# asks (so nobody can flood a mailbox from many addresses). Beyond it a password reset or a
# resend silently sends nothing (their page never tells), a repeated sign-up or email change
# answers 429.
# `snf-manage user-activation-send` is not limited.
ASTAKOS_EMAIL_LINKS_PER_USER = 3

# Rules for passwords chosen on the sign-up and password-reset pages (Django's validators;
# administrators setting a password with snf-manage are not held to them).
AUTH_PASSWORD_VALIDATORS = [
    # Not close to the user's email or names.
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "first_name", "last_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    # Not one of the 20,000 most common passwords (Django's list).
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Authentication policies of each module of ASTAKOS_IM_MODULES, as
# ASTAKOS_AUTH_PROVIDER_<MODULE>_<POLICY>_POLICY = True/False (MODULE: LOCAL, LDAP, SHIBBOLETH),
# e.g. ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_CREATE_POLICY = False (see docs/auth-providers.md):
#   CREATE True        an unknown identity creates an account
#   LOGIN True         a known identity logs in
#   ADD True           a logged-in user may link an identity of the module (profile page)
#   REMOVE True        a user may unlink it (never their last login method)
#   AUTOMODERATE False accounts it creates are accepted even when moderation is enabled
for _module in ("LOCAL", "LDAP", "SHIBBOLETH"):
    for _policy, _default in (("CREATE", True), ("LOGIN", True), ("ADD", True), ("REMOVE", True),
                              ("AUTOMODERATE", False)):
        globals()[f"ASTAKOS_AUTH_PROVIDER_{_module}_{_policy}_POLICY"] = _default
del _module, _policy, _default

# LDAP login (module "ldap"; needs the `ldap` extra: django-auth-ldap + python-ldap).
# Any AUTH_LDAP_* setting of django-auth-ldap may be set too (the settings files accept that
# prefix) and wins over the one derived from these.
ASTAKOS_LDAP_SERVER_URI = "ldap://localhost"
# The service account that searches for users ("" = anonymous search). The password is never
# logged.
ASTAKOS_LDAP_BIND_DN = ""
ASTAKOS_LDAP_BIND_PASSWORD = ""
# How a login name becomes a DN: a subtree search below USER_SEARCH_BASE with USER_SEARCH_FILTER
# (%(user)s is the escaped login name), or, when USER_DN_TEMPLATE is set (e.g.
# "uid=%(user)s,ou=people,dc=example,dc=org"), that DN directly, with no search.
ASTAKOS_LDAP_USER_SEARCH_BASE = ""
ASTAKOS_LDAP_USER_SEARCH_FILTER = "(uid=%(user)s)"
ASTAKOS_LDAP_USER_DN_TEMPLATE = None
# Account field <- LDAP attribute. Keys: email, first_name, last_name, affiliation, and
# identifier (an attribute that never changes, e.g. "entryUUID" or "objectGUID"; without it the
# login name, lowercased, identifies the person).
ASTAKOS_LDAP_USER_ATTR_MAP = {"email": "mail", "first_name": "givenName", "last_name": "sn"}
# Upgrade the connection with StartTLS before binding (use ldaps:// URIs for TLS from the start).
ASTAKOS_LDAP_START_TLS = False
# Seconds to wait for the directory before the login fails.
ASTAKOS_LDAP_TIMEOUT = 10

# Shibboleth login (module "shibboleth"): the addresses of the web servers (running mod_shib)
# whose identity headers are believed. The peer address of the connection is checked
# (REMOTE_ADDR, never X-Forwarded-For); addresses or CIDR networks.
ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES = ["127.0.0.1", "::1"]
# Headers, in order, whose first non-empty value is the user's email (IdPs differ).
ASTAKOS_SHIBBOLETH_EMAIL_HEADERS = ["Shib-InetOrgPerson-mail", "mail"]
