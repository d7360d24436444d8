import pytest

from synnefo.astakos.logic import tokens, users


@pytest.fixture
def make_user(db):
    """Create an active user; returns (user, password, main token)."""
    counter = iter(range(1, 10_000))

    def make(email=None, password="secret-pass-1", admin=False, active=True, **fields):
        email = email or f"user{next(counter)}@example.org"
        user = users.create_user(email, "First", "Last", password=password, admin=admin, active=active, **fields)
        token, _ = tokens.renew_main_token(user)
        return user, password, token

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.org")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A live all-in-one node (``synnefo up``) shared by a test module; modules that need extra
    settings define their own with ``tests.live.running_node``."""
    from tests.live import running_node

    with running_node(tmp_path_factory.mktemp("node")) as live:
        yield live
