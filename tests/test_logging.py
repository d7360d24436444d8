"""Logs carry request ids and never secrets."""

import logging

import pytest

from synnefo.common.logging import redact
from tests.helpers import V2, post_json


@pytest.mark.parametrize(
    "text",
    [
        'body {"auth": {"passwordCredentials": {"username": "u", "password": "SECRET"}}}',
        "GET /x?X-Auth-Token=SECRET&a=1",
        "headers X-Auth-Token: SECRET",
        "x-auth-key=SECRET",
        'token {"token": "SECRET"}',
    ],
)
def test_redaction(text):
    assert "SECRET" not in redact(text)


@pytest.mark.django_db
def test_requests_log_with_ids_and_without_secrets(client, alice, caplog):
    user, password, token = alice
    caplog.set_level(logging.DEBUG)
    post_json(client, f"{V2}/tokens?X-Auth-Token={token}", {"auth": {"token": {"id": token}}})
    body = {"auth": {"passwordCredentials": {"username": user.email, "password": password}}}
    r = post_json(client, f"{V2}/tokens", body)
    logging.getLogger("synnefo.test").info("debug dump password=%s", password)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in text and password not in text
    assert r.json()["access"]["token"]["id"] not in text
    access = [rec for rec in caplog.records if rec.name == "synnefo.access"]
    assert access and all(rec.request_id.startswith("req-") for rec in access)
    assert r["X-Openstack-Request-Id"].startswith("req-")


def test_a_command_run_in_process_keeps_the_logging_it_found(capsys):
    """vlmc (and other commands) set Django up; in a process that already has it (a test, or
    snf-manage running vlmc's code) they must not configure logging again: the new console
    handler would write to the sys.stderr of that moment (here capsys's, closed after the test)."""
    import logging

    from synnefo.common.conf import setup_django_or_exit

    handlers = list(logging.getLogger("synnefo").handlers)
    setup_django_or_exit("test")
    assert logging.getLogger("synnefo").handlers == handlers
