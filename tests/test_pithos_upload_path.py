"""The upload path under gunicorn: request bodies read from the socket into reused block
buffers (``socket_readinto``) and stored by the pipelined ``store_stream``; gunicorn must find
its connection state right afterwards (what it buffered, what belongs to the next request)."""

import hashlib
import os
import socket
import threading

import pytest
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from synnefo.common import faults
from synnefo.pithos.api.util import socket_readinto
from synnefo.pithos.backend import data
from tests.pithos_helpers import block_hash, small_blocks  # noqa: F401


def gunicorn_body(payload: bytes, length: int, already_buffered: int = 0, close: bool = True):
    """A gunicorn body of ``length`` over a socket carrying ``payload``; ``already_buffered``
    bytes of it sit in gunicorn's read-ahead buffer, as after parsing the headers."""
    server, client = socket.socketpair()
    unreader = SocketUnreader(server, 1024)
    unreader.buf.write(payload[:already_buffered])

    def send():
        client.sendall(payload[already_buffered:])
        if close:
            client.close()

    threading.Thread(target=send, daemon=True).start()
    return Body(LengthReader(unreader, length)), unreader, server, client


@pytest.mark.parametrize("already_buffered", [0, 100, 5000, 5122])  # 5122: body and next request
def test_body_into_blocks_straight_from_the_socket(small_blocks, already_buffered):  # noqa: F811
    body_bytes = os.urandom(5000) + b"\0" * 100
    nxt = b"GET /next HTTP/1.1\r\n\r\n"  # a pipelined request right behind the body
    stream, unreader, *_ = gunicorn_body(body_bytes + nxt, len(body_bytes), already_buffered)
    readinto = socket_readinto(stream, len(body_bytes))
    assert readinto is not None
    hashmap, size, md5 = data.store_stream(None, len(body_bytes), readinto=readinto)
    assert size == len(body_bytes) and md5 == hashlib.md5(body_bytes).hexdigest()
    expected = [block_hash(body_bytes[i : i + 1024]) for i in range(0, len(body_bytes), 1024)]
    assert [d.hex() for d in data.split_map(hashmap)] == expected
    # gunicorn sees the body consumed and the next request intact.
    assert stream.read() == b""
    rest = unreader.buf.getvalue() + unreader.read(len(nxt) - len(unreader.buf.getvalue()))
    assert rest == nxt


def test_short_body_is_refused(small_blocks):  # noqa: F811
    stream, *_ = gunicorn_body(os.urandom(3000), 4000)  # the client sends 3000 of 4000 and leaves
    with pytest.raises(faults.BadRequest):
        data.store_stream(None, 4000, readinto=socket_readinto(stream, 4000))


def test_not_gunicorn_or_already_read_falls_back(small_blocks):  # noqa: F811
    import io

    assert socket_readinto(io.BytesIO(b"x" * 10), 10) is None
    stream, *_ = gunicorn_body(b"y" * 3000, 3000)
    stream.read(10)
    assert socket_readinto(stream, 3000) is None  # part of the body is gone already: not ours to take


@pytest.mark.parametrize("length", [0, 1, 1024, 1025, 4096, 10_000])
def test_store_stream_sizes_and_chunked(small_blocks, length):  # noqa: F811
    import io

    payload = os.urandom(length)
    for known in (length, None):  # Content-Length, or chunked (read until the end)
        hashmap, size, md5 = data.store_stream(io.BytesIO(payload).read, known)
        assert size == length and md5 == hashlib.md5(payload).hexdigest()
        expected = [block_hash(payload[i : i + 1024]) for i in range(0, length, 1024)]
        assert [d.hex() for d in data.split_map(hashmap)] == expected
        assert b"".join(data.read_range(data.split_map(hashmap), size, 0, size)) == payload


def test_buffers_are_reused_between_uploads(small_blocks):  # noqa: F811
    import io

    data.store_stream(io.BytesIO(os.urandom(5000)).read, 5000)
    spare = list(data._spare_buffers)
    assert spare and all(len(b) == 1024 for b in spare)
    data.store_stream(io.BytesIO(os.urandom(5000)).read, 5000)
    assert {id(b) for b in data._spare_buffers} == {id(b) for b in spare}
