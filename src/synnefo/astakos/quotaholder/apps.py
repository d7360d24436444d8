from django.apps import AppConfig


class QuotaholderConfig(AppConfig):
    """The quotaholder: resources, holdings and two-phase commissions (kept apart from the
    account records of ``synnefo.astakos`` so the two evolve and migrate independently)."""

    name = "synnefo.astakos.quotaholder"
    label = "quotaholder"
    verbose_name = "Quotaholder (resources, holdings, commissions)"
