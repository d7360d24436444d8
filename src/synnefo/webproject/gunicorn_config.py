"""gunicorn settings that `synnefo up` passes with ``-c`` (operators running gunicorn
themselves may pass it too).

gunicorn reads request bodies from the socket in 8 KiB pieces, each one a pass through Python;
object uploads arrive in 4 MiB blocks, so reading up to 1 MiB per ``recv`` cuts that work by
two orders of magnitude. ``recv`` returns what has arrived, never waiting for a full piece.

Idle keep-alive connections are kept 75 s (gunicorn's default is 2 s): clients that poll every
couple of seconds (``openstack server delete --wait``, kamaki's ``--wait``) would otherwise send
their next request on a connection the server is closing at that moment and get a reset."""

from gunicorn.http import unreader

BODY_READ_CHUNK = 1024 * 1024

unreader.SocketUnreader.__init__.__defaults__ = (BODY_READ_CHUNK,)

keepalive = 75
