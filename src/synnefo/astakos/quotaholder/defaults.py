"""Built-in defaults of the quotaholder (resources, holdings, commissions, service tokens)."""

# Where a service finds the quotaholder. None: in the same process and database (the identity
# service is co-located, as on an all-in-one node). Otherwise the base URL of the account API,
# e.g. "https://accounts.example.org/astakos/account/v1.0"; the service then authenticates
# with its service token from ASTAKOS_QUOTAHOLDER_TOKENS.
ASTAKOS_QUOTAHOLDER_URL = None

# Service tokens of the components running on this node, by component name
# ({"cyclades": "...", "pithos": "..."}), as `snf-manage component-add` printed them.
# Only read when ASTAKOS_QUOTAHOLDER_URL is set.
ASTAKOS_QUOTAHOLDER_TOKENS = {}

# Seconds an HTTP call to a remote quotaholder may take before it counts as failed.
ASTAKOS_QUOTAHOLDER_TIMEOUT = 10

# A commission pending in the quotaholder that the issuing service has no record of is only
# rejected by `snf-manage reconcile-commissions --fix` once it is older than this many seconds:
# younger ones may belong to a transaction that has not committed yet.
ASTAKOS_QUOTAHOLDER_RECONCILE_GRACE = 60

# Most provisions one commission may carry (bigger requests get 400).
ASTAKOS_QUOTAHOLDER_MAX_PROVISIONS = 1000
