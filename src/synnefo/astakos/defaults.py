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
