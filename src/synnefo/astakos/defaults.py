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
