"""Token lifecycle: renewal, revocation, expiry, the per-user cap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from synnefo.astakos.logic import tokens, users
from synnefo.astakos.models import AuthToken

pytestmark = pytest.mark.django_db


def test_tokens_are_random_and_long(alice):
    user = alice[0]
    values = {tokens.issue_token(user)[0] for _ in range(20)}
    assert len(values) == 20
    assert all(len(v) == 43 for v in values)  # 32 random bytes, unpadded URL-safe base64


def test_renewing_the_main_token_revokes_the_old_one_only(alice):
    user, _, main = alice
    other, _ = tokens.issue_token(user)
    new_main, _ = tokens.renew_main_token(user)
    assert tokens.lookup(main) is None
    assert tokens.lookup(new_main).is_main
    assert tokens.lookup(other) is not None


def test_password_change_revokes_every_token(alice):
    user, _, main = alice
    other, _ = tokens.issue_token(user)
    users.set_password(user, "a-new-password")
    assert tokens.lookup(main) is None and tokens.lookup(other) is None
    assert user.check_password("a-new-password")


def test_deactivation_and_rejection_revoke_tokens(make_user):
    for change in (lambda u: users.deactivate(u, "abuse"), lambda u: users.reject(u, "spam")):
        user, _, token = make_user()
        change(user)
        assert tokens.lookup(token) is None
        assert not AuthToken.objects.filter(user=user).exists()


def test_a_token_of_an_inactive_user_does_not_work(alice):
    user, _, token = alice
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert tokens.lookup(token) is None


def test_expiry_follows_the_setting(alice, settings):
    settings.ASTAKOS_AUTH_TOKEN_DURATION = 60
    value, token = tokens.issue_token(alice[0])
    assert timedelta(seconds=55) < token.expires - timezone.now() <= timedelta(seconds=60)
    AuthToken.objects.filter(pk=token.pk).update(expires=timezone.now())
    assert tokens.lookup(value) is None


def test_per_user_cap_drops_the_oldest_non_main_tokens(alice, settings):
    settings.ASTAKOS_MAX_TOKENS_PER_USER = 4
    user, _, main = alice
    issued = [tokens.issue_token(user)[0] for _ in range(6)]
    assert AuthToken.objects.filter(user=user).count() == 4
    assert tokens.lookup(main) is not None
    assert [tokens.lookup(v) is not None for v in issued] == [False, False, False, True, True, True]


def test_expired_tokens_are_purged_on_issue(alice):
    user = alice[0]
    old, record = tokens.issue_token(user)
    AuthToken.objects.filter(pk=record.pk).update(expires=timezone.now() - timedelta(days=1))
    tokens.issue_token(user)
    assert not AuthToken.objects.filter(pk=record.pk).exists()
