from django.apps import AppConfig


class WebprojectConfig(AppConfig):
    name = "synnefo.webproject"
    label = "webproject"
    verbose_name = "Synnefo web project"
