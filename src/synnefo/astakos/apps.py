from django.apps import AppConfig


class AstakosConfig(AppConfig):
    name = "synnefo.astakos"
    label = "astakos"
    verbose_name = "Identity (Astakos)"

    def ready(self):
        # A misspelt module in ASTAKOS_IM_MODULES stops the node at start, with the reason.
        from synnefo.astakos.logic import providers

        providers.check_configuration()
