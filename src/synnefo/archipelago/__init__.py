"""Archipelago: volumes as copy-on-write maps over the shared block store (see docs/volumes.md).

``config`` reads ``/etc/default/archipelago``; ``mapfile`` is the on-store map format;
``locks`` the per-volume owner locks; ``store`` the volume operations (create, clone, read,
write, resize, snapshot, remove); ``pithos`` the Django side (images in, snapshots out, the
garbage collector's view of volume maps); ``vlmc`` the command line tool.
"""
