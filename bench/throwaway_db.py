"""A throwaway database for benchmarks that drive Synnefo's code in-process (the test
settings, on SQLite or PostgreSQL), created on entry and dropped on exit."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager


@contextmanager
def throwaway_database(database: str):
    os.environ["SYNNEFO_TEST_DATABASE"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    logging.getLogger("synnefo").setLevel(logging.WARNING)
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        yield connection
    finally:
        if connection.vendor == "postgresql":
            # Threads of the benchmark (dispatchers, simulated clusters) may still hold sessions.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
