from django.apps import AppConfig


class PithosConfig(AppConfig):
    name = "synnefo.pithos"
    label = "pithos"
    verbose_name = "File storage (Pithos)"
