"""snf-manage user-* and service-list."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from synnefo.astakos.logic import tokens
from synnefo.astakos.models import User

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_user_add_prints_password_and_a_working_token():
    out = run("user-add", "dave@example.org", "Dave", "D", "--admin")
    user = User.objects.get(email="dave@example.org")
    assert user.is_active and user.is_superuser and user.email_verified and user.moderated
    password = out.split("password: ")[1].split()[0]
    token = out.split("token: ")[1].split()[0]
    assert user.check_password(password)
    assert tokens.lookup(token).user == user


def test_user_add_refuses_duplicates_and_bad_emails():
    run("user-add", "erin@example.org", "Erin", "E", "--password", "pw-12345")
    with pytest.raises(CommandError, match="already exists"):
        run("user-add", "ERIN@example.org", "Erin", "E")
    with pytest.raises(CommandError, match="Invalid email"):
        run("user-add", "not-an-email", "X", "Y")
    assert User.objects.count() == 1


def test_user_list_formats_and_filters(make_user):
    a, _, _ = make_user("a@example.org", admin=True)
    b, _, _ = make_user("b@example.org", active=False)
    table = run("user-list")
    assert "a@example.org" in table and "b@example.org" in table and table.splitlines()[0].startswith("id")
    data = json.loads(run("user-list", "--output-format", "json", "-o", "id,email,active"))
    assert data == [{"id": a.pk, "email": "a@example.org", "active": True}, {"id": b.pk, "email": "b@example.org", "active": False}]
    rows = list(csv.reader(io.StringIO(run("user-list", "--output-format", "csv", "-o", "email", "--no-headers", "--active"))))
    assert rows == [["a@example.org"]]
    assert "b@example.org" not in run("user-list", "--filter-by", "admin=True")
    with pytest.raises(CommandError):
        run("user-list", "-o", "nosuchfield")
    with pytest.raises(CommandError):
        run("user-list", "--filter-by", "nosuchkey=1")


def test_user_show_by_id_uuid_or_email(alice):
    user = alice[0]
    for key in (str(user.pk), str(user.uuid), "ALICE@example.org"):
        assert "Accepted/Active" in run("user-show", key)
    assert json.loads(run("user-show", user.email, "--output-format", "json"))["uuid"] == str(user.uuid)
    with pytest.raises(CommandError, match="No user"):
        run("user-show", "nobody@example.org")


def test_user_modify(alice):
    user, _, token = alice
    run("user-modify", user.email, "--type", "ADMIN")
    assert User.objects.get(pk=user.pk).is_superuser
    run("user-modify", str(user.pk), "--set-noadmin")
    assert not User.objects.get(pk=user.pk).is_superuser

    run("user-modify", str(user.uuid), "--set-inactive", "--inactive-reason", "left the lab")
    user.refresh_from_db()
    assert not user.is_active and user.deactivated_reason == "left the lab" and tokens.lookup(token) is None
    assert "Inactive (left the lab)" in run("user-show", user.email)
    run("user-modify", user.email, "--set-active")
    assert User.objects.get(pk=user.pk).is_active

    out = run("user-modify", user.email, "--renew-password")
    assert User.objects.get(pk=user.pk).check_password(out.split("password: ")[1].split()[0])
    out = run("user-modify", user.email, "--renew-token")
    assert tokens.lookup(out.split("token: ")[1].split()[0]).user == user

    run("user-modify", user.email, "--reject", "--reject-reason", "spam")
    user.refresh_from_db()
    assert user.is_rejected and not user.is_active and user.status == "Rejected (spam)"
    run("user-modify", user.email, "--accept")
    user.refresh_from_db()
    assert user.is_active and not user.is_rejected

    run("user-modify", user.email, "--set-email", "alice2@example.org", "--first-name", "Alicia")
    user.refresh_from_db()
    assert user.email == "alice2@example.org" and user.first_name == "Alicia"


def test_user_modify_refuses_bad_changes(alice, make_user):
    make_user("taken@example.org")
    with pytest.raises(CommandError, match="already exists"):
        run("user-modify", alice[0].email, "--set-email", "TAKEN@example.org")
    with pytest.raises(CommandError, match="Nothing to change"):
        run("user-modify", alice[0].email)
    assert User.objects.get(pk=alice[0].pk).email == "alice@example.org"


def test_service_list(settings):
    settings.ASTAKOS_BASE_URL = "https://id.example.org/astakos"
    out = run("service-list")
    assert "astakos_identity" in out and "https://id.example.org/astakos/identity/v2.0" in out
    data = json.loads(run("service-list", "--output-format", "json"))
    assert {"component": "astakos", "name": "astakos_account", "type": "account", "version": "v1.0", "url": "https://id.example.org/astakos/account/v1.0"} in data


def test_over_long_names_are_refused_and_change_nothing(alice, settings):
    settings.ASTAKOS_MAX_NAME_LENGTH = 10
    with pytest.raises(CommandError, match="limited to 10"):
        run("user-add", "x@example.org", "A" * 11, "B")
    with pytest.raises(CommandError, match="limited to 10"):
        run("user-modify", alice[0].email, "--first-name", "A" * 11, "--set-admin")
    assert not User.objects.filter(email="x@example.org").exists()
    user = User.objects.get(pk=alice[0].pk)
    assert user.first_name == "First" and not user.is_superuser
