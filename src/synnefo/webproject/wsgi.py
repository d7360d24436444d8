"""WSGI entry point for gunicorn: ``synnefo.webproject.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synnefo.settings")
application = get_wsgi_application()
