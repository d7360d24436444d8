from django.apps import AppConfig


class CycladesConfig(AppConfig):
    name = "synnefo.cyclades"
    label = "cyclades"
    verbose_name = "Compute (Cyclades): Ganeti backends"
