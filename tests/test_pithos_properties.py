"""Property test: no request to the object store, however odd, gets a 500."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.pithos_helpers import Store, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db

names = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0#?"), min_size=1, max_size=12)
header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    st.sampled_from(["bytes=0-1", "bytes=-5", "bytes=5-", "bytes=3-1", "bytes */*", "bytes 0-0/*", "*", "read=*", "true", "-1", "/c/o", "/c"]),
)
headers = st.dictionaries(
    st.sampled_from([
        "HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_X_OBJECT_SHARING",
        "HTTP_X_OBJECT_PUBLIC", "HTTP_X_COPY_FROM", "HTTP_X_MOVE_FROM", "HTTP_DESTINATION", "HTTP_CONTENT_RANGE",
        "HTTP_X_OBJECT_BYTES", "HTTP_X_OBJECT_MANIFEST", "HTTP_X_CONTAINER_POLICY_QUOTA",
        "HTTP_X_CONTAINER_POLICY_VERSIONING", "HTTP_X_OBJECT_META_A", "HTTP_X_CONTAINER_READ", "HTTP_ETAG",
        "HTTP_X_SOURCE_VERSION", "HTTP_X_ACCOUNT_GROUP_G",
    ]),
    header_values,
    max_size=3,
)
queries = st.sampled_from(["", "?hashmap", "?format=json", "?format=xml", "?version=list", "?version=x", "?update",
                           "?until=abc", "?delimiter=/", "?multipart-manifest=put", "?limit=-1", "?meta=a<b",
                           "?multipart-manifest=get", "?reverse=true&marker=z", "?bulk-delete"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "MOVE"]),
    path=st.one_of(st.just(""), names.map(lambda n: "/c"), names.map(lambda n: "/c/" + n), names.map(lambda n: "/" + n)),
    query=queries,
    extra=headers,
    body=st.sampled_from([b"", b"data", b"{}", b'{"hashes": [], "bytes": 0}', b"[]", b"\xff\xfe"]),
)
def test_no_request_gives_a_server_error(client, alice, small_blocks, method, path, query, extra, body):  # noqa: F811
    store = Store(client, alice[0], alice[2])
    store.call("PUT", "/c")
    store.call("PUT", "/c/o", b"some content")
    from urllib.parse import quote

    response = store.call(method, quote(path) + query, body, **extra)
    assert response.status_code < 500, (method, path, query, extra, body, store.body(response)[:200])
