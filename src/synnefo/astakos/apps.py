from django.apps import AppConfig


class AstakosConfig(AppConfig):
    name = "synnefo.astakos"
    label = "astakos"
    verbose_name = "Identity (Astakos)"
