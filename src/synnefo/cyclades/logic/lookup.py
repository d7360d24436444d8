"""Finding one row by the id a client or an operator gave (servers, ports, floating IPs)."""

from __future__ import annotations


def row(queryset, ident, *, for_update: bool = False, **filters):
    """The row of ``queryset`` whose primary key is ``ident`` (matching ``filters`` too), locked
    when ``for_update``; None for a malformed or unknown id, so each caller answers its own 404."""
    try:
        pk = int(str(ident))
    except ValueError:
        return None
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.filter(pk=pk, **filters).first()
