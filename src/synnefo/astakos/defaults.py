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
