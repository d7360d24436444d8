"""Connections to a Ceph cluster (RADOS), shared by the RADOS storage backends.

The ``rados`` module is Ceph's own binding (Debian's python3-rados, built for the system
Python 3.11). When the running interpreter cannot import it (a virtualenv of another Python
3.11 build), the extension file itself is loaded from Debian's place: it has the same ABI, and
only that one module is added, not the whole system site-packages.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import threading

# Where Debian's python3-rados installs the extension.
SYSTEM_RADOS_GLOB = "/usr/lib/python3/dist-packages/rados.cpython-{v.major}{v.minor}-*.so"

MAX_ERRNO = 4095  # librados reports a failed extent comparison as -(MAX_ERRNO + offset)
_lock = threading.Lock()
_clusters: dict[str, object] = {}


class RadosUnavailable(RuntimeError):
    """No usable rados module on this node."""


def rados_module():
    """Ceph's ``rados`` module; RadosUnavailable when this node has none."""
    if "rados" in sys.modules:
        return sys.modules["rados"]
    if importlib.util.find_spec("rados") is not None:
        import rados

        return rados
    paths = sorted(glob.glob(SYSTEM_RADOS_GLOB.format(v=sys.version_info)))
    if not paths:
        raise RadosUnavailable("no python rados module on this node (install Debian's python3-rados)")
    spec = importlib.util.spec_from_file_location("rados", paths[0])
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise RadosUnavailable(f"{paths[0]} does not load in this Python: {exc}") from None
    sys.modules["rados"] = module
    return module


def rados_available() -> bool:
    try:
        rados_module()
        return True
    except RadosUnavailable:
        return False


def cluster(conffile: str, timeout: int = 10):
    """A connected ``rados.Rados`` for ``conffile``, one per process and configuration."""
    with _lock:
        handle = _clusters.get(conffile)
        if handle is None:
            if not os.path.isfile(conffile):
                raise RadosUnavailable(f"no Ceph configuration file {conffile}")
            rados = rados_module()
            handle = rados.Rados(conffile=conffile)
            handle.connect(timeout=timeout)
            _clusters[conffile] = handle
        return handle


def ioctx(conffile: str, pool: str):
    """An I/O context on ``pool``; a clear error naming the pool when it does not exist."""
    handle = cluster(conffile)
    rados = rados_module()
    try:
        return handle.open_ioctx(pool)
    except rados.ObjectNotFound:
        raise RadosUnavailable(f"RADOS pool {pool!r} does not exist (create it: ceph osd pool create {pool})") from None


class ThreadIoctx:
    """An I/O context on ``pool`` (and ``namespace``) for each thread that uses it, standing for
    ``rados.Ioctx``: the version librados reports after an operation (``get_last_version``) is
    the I/O context's, so threads sharing one would read each other's. The pool is checked at
    once (a clear error naming it)."""

    def __init__(self, conffile: str, pool: str, namespace: str = ""):
        self.conffile, self.pool, self.namespace = conffile, pool, namespace
        self._local = threading.local()
        self._io()

    def _io(self):
        io = getattr(self._local, "io", None)
        if io is None:
            io = self._local.io = ioctx(self.conffile, self.pool)
            if self.namespace:
                io.set_namespace(self.namespace)
        return io

    def __getattr__(self, name):
        return getattr(self._io(), name)


def stat_version(io, name: str):
    """(mtime as epoch seconds, object version) of object ``name``, or None if absent."""
    import time

    rados = rados_module()
    try:
        _, mtime = io.stat(name)
    except rados.ObjectNotFound:
        return None
    return time.mktime(mtime), io.get_last_version()


def write_op(io, name: str, build, version: int | None = None) -> bool:
    """Run one atomic write operation on object ``name``: ``build(op)`` adds its steps. With
    ``version``, only if the object is still at that version (unchanged and not removed since
    it was looked at). False if that assertion (or an omap or extent comparison) failed, the object is
    gone, or an exclusive create found it there; any other failure raises."""
    import errno

    rados = rados_module()
    op = io.create_write_op()
    try:
        if version is not None:
            op.assert_version(version)
        build(op)
        io.operate_write_op(op, name)
    except (rados.ObjectNotFound, rados.ObjectExists, rados.ExtendMismatch):
        return False
    except rados.OSError as exc:
        # A version, omap or extent comparison (cmpext: -MAX_ERRNO - the offset of the mismatch).
        if exc.errno not in (errno.ERANGE, errno.EOVERFLOW, errno.ECANCELED) and not (exc.errno or 0) >= MAX_ERRNO:
            raise
        return False
    finally:
        io.release_write_op(op)
    return True
