"""Resource pools: bridges, MAC prefixes and IPv4 addresses (SYNNEFO.md 4.4).

A pool row holds ``size`` values as two bitmaps where a 1 bit means free: ``available`` is what
Cyclades itself handed out, ``reserved`` what is reserved *externally* (by an administrator, or
in use by Ganeti outside Cyclades). A value can be handed out only when free in both. Each map is
stored as base64 of ``ceil(size / 8)`` bytes, bit ``i`` being bit ``i % 8`` (least significant
first) of byte ``i // 8``; padding bits are 0.

Every change happens on a row read with ``select_for_update`` inside a transaction
(:func:`locked`), so two allocators never see the same free bit: on PostgreSQL the second waits
for the first's commit; SQLite serialises writers anyway.

Value mapping, index ``i`` (0-based):

* bridge: ``base + str(i + 1)`` (base ``prv``, size 20 -> ``prv1`` .. ``prv20``);
* MAC prefix: the hex digits of ``base`` plus ``i``, as many digits as ``base`` has, regrouped
  in pairs (``aa:00:0`` + 1 -> ``aa:00:1``). Index 0 (kept for public networks) and every
  prefix whose first octet is multicast or not locally administered are reserved externally
  when the pool is created;
* IPv4: ``base`` is the subnet's CIDR and ``offset`` the range's first address minus the
  network address: ``network + offset + i``. Network, broadcast and gateway are reserved
  externally when the pool is created.
"""

from __future__ import annotations

import base64
import ipaddress
from contextlib import contextmanager

from django.db import transaction

from synnefo.cyclades.models import BridgePoolTable, IPPoolTable, MacPrefixPoolTable

# A pool bigger than this is refused (a /16 of addresses, or every 5-digit MAC prefix x16).
MAX_POOL_SIZE = 1 << 20


class PoolError(Exception):
    """Anything wrong with a pool operation; the message says what, for users and operators."""


class PoolExhausted(PoolError):
    pass


class ValueNotAvailable(PoolError):
    pass


class InvalidValue(PoolError):
    pass


def _decode(text: str, size: int) -> int:
    return int.from_bytes(base64.b64decode(text), "little") & ((1 << size) - 1) if text else 0


def _encode(bits: int, size: int) -> str:
    return base64.b64encode(bits.to_bytes((size + 7) // 8, "little")).decode()


class Pool:
    """The two bitmaps of a locked pool row, with its value mapping; ``save()`` writes them."""

    kind = ""

    def __init__(self, row):
        self.row = row
        self.size = row.size
        self.available = _decode(row.available_map, self.size)
        self.reserved = _decode(row.reserved_map, self.size)

    # -- value mapping (per type) --
    def value_to_index(self, value) -> int:
        raise NotImplementedError

    def index_to_value(self, index: int) -> str:
        raise NotImplementedError

    def initial_reservations(self):
        """Values reserved externally when the pool is created (indexes)."""
        return ()

    # -- bit helpers --
    def _bit(self, bits: int, index: int) -> bool:
        return bool(bits >> index & 1)

    @property
    def _mask(self) -> int:
        return (1 << self.size) - 1

    def _index(self, value) -> int:
        try:
            index = self.value_to_index(value)
        except (ValueError, TypeError):
            index = -1
        if not 0 <= index < self.size:
            raise InvalidValue(f"'{value}' is not a value of {self.kind} pool {self.row.id}")
        return index

    # -- operations --
    def count_available(self) -> int:
        return (self.available & self.reserved).bit_count()

    def count_reserved(self) -> int:
        """Values reserved externally."""
        return self.size - self.reserved.bit_count()

    def count_unavailable(self) -> int:
        return self.size - self.count_available()

    def is_available(self, value) -> bool:
        index = self._index(value)
        return self._bit(self.available & self.reserved, index)

    def get(self, value=None) -> str:
        """Hand out the first free value, or ``value`` itself when free."""
        free = self.available & self.reserved
        if value is None:
            if not free:
                raise PoolExhausted(f"{self.kind} pool {self.row.id} is exhausted ({self.size} values, none free)")
            index = (free & -free).bit_length() - 1
        else:
            index = self._index(value)
            if not self._bit(free, index):
                raise ValueNotAvailable(f"'{self.index_to_value(index)}' is already in use in {self.kind} pool {self.row.id}")
        self.available &= ~(1 << index)
        return self.index_to_value(index)

    def put(self, value, external: bool = False) -> None:
        """Give ``value`` back: an allocation, or (``external``) an external reservation."""
        index = self._index(value)
        bits = self.reserved if external else self.available
        if self._bit(bits, index):
            what = "reserved externally" if external else "allocated"
            raise ValueNotAvailable(f"'{self.index_to_value(index)}' is not {what} in {self.kind} pool {self.row.id}")
        if external:
            self.reserved |= 1 << index
        else:
            self.available |= 1 << index

    def reserve(self, value, external: bool = True) -> None:
        """Reserve ``value`` externally (idempotent), or allocate it (``external=False``)."""
        if not external:
            self.get(value)
            return
        index = self._index(value)
        self.reserved &= ~(1 << index)

    def extend(self, count: int) -> None:
        if count < 1 or self.size + count > MAX_POOL_SIZE:
            raise PoolError(f"Cannot extend by {count}: the size must stay within 1..{MAX_POOL_SIZE}")
        new = ((1 << count) - 1) << self.size
        self.available |= new
        self.reserved |= new
        self.size += count

    def shrink(self, count: int) -> None:
        """Drop the last ``count`` values; refused while any of them is allocated."""
        if count < 1 or count >= self.size:
            raise PoolError(f"Cannot shrink {self.kind} pool {self.row.id} of size {self.size} by {count}")
        tail = self.available >> (self.size - count)
        if tail != (1 << count) - 1:
            raise PoolError(f"Cannot shrink {self.kind} pool {self.row.id}: values among the last {count} are in use")
        self.size -= count
        self.available &= self._mask
        self.reserved &= self._mask

    def resize(self, size: int) -> None:
        if size > self.size:
            self.extend(size - self.size)
        elif size < self.size:
            self.shrink(self.size - size)

    def save(self) -> None:
        self.row.size = self.size
        self.row.available_map = _encode(self.available, self.size)
        self.row.reserved_map = _encode(self.reserved, self.size)
        self.row.save()

    def to_map(self, bits: int | None = None, width: int = 64) -> list[str]:
        """Lines of ``.`` (free) and ``X`` (taken) for ``bits`` (default: both maps combined),
        each prefixed with its first index."""
        bits = (self.available & self.reserved) if bits is None else bits
        chars = "".join("." if bits >> i & 1 else "X" for i in range(self.size))
        return [f"{start:>7} {chars[start:start + width]}" for start in range(0, self.size, width)]

    def values(self, bits: int, limit: int = 10_000) -> list[str]:
        """The values whose bit is 0 in ``bits`` (allocated or reserved), at most ``limit``."""
        out = []
        for index in range(self.size):
            if not bits >> index & 1:
                out.append(self.index_to_value(index))
                if len(out) >= limit:
                    break
        return out


class BridgePool(Pool):
    kind = "bridge"

    def value_to_index(self, value) -> int:
        value = str(value)
        base = self.row.base
        if not value.startswith(base) or not value[len(base):].isdigit():
            raise ValueError(value)
        return int(value[len(base):]) - 1

    def index_to_value(self, index: int) -> str:
        return f"{self.row.base}{index + 1}"


def mac_prefix_digits(base: str) -> str:
    digits = base.replace(":", "").lower()
    if not digits or len(digits) > 11 or any(c not in "0123456789abcdef" for c in digits):
        raise PoolError(f"'{base}' is not a MAC prefix (hex digits in pairs separated by ':', e.g. aa:00:0)")
    return digits


def _grouped(digits: str) -> str:
    return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))


class MacPrefixPool(Pool):
    kind = "mac-prefix"

    @property
    def _digits(self) -> str:
        return mac_prefix_digits(self.row.base)

    def value_to_index(self, value) -> int:
        digits = mac_prefix_digits(str(value))
        if len(digits) != len(self._digits):
            raise ValueError(value)
        return int(digits, 16) - int(self._digits, 16)

    def index_to_value(self, index: int) -> str:
        width = len(self._digits)
        return _grouped(f"{int(self._digits, 16) + index:0{width}x}")

    def initial_reservations(self):
        yield 0  # kept for public networks
        for index in range(self.size):
            first_octet = int(self.index_to_value(index)[:2], 16)
            if first_octet & 0b11 != 0b10:  # multicast, or globally administered
                yield index


class IPPool(Pool):
    kind = "ip"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(self.row.base, strict=False)

    def value_to_index(self, value) -> int:
        address = ipaddress.ip_address(str(value))
        if address not in self.network:
            raise ValueError(value)
        return int(address) - int(self.network.network_address) - self.row.offset

    def index_to_value(self, index: int) -> str:
        return str(ipaddress.ip_address(int(self.network.network_address) + self.row.offset + index))

    def initial_reservations(self, gateway: str | None = None):
        net = self.network
        for address in (net.network_address, net.broadcast_address, gateway):
            if address is None:
                continue
            try:
                index = self.value_to_index(address)
            except ValueError:
                continue
            if 0 <= index < self.size:
                yield index


POOL_TYPES = {"bridge": (BridgePoolTable, BridgePool), "mac-prefix": (MacPrefixPoolTable, MacPrefixPool),
              "ip": (IPPoolTable, IPPool)}


def pool_class(kind: str):
    try:
        return POOL_TYPES[kind]
    except KeyError:
        raise PoolError(f"Unknown pool type '{kind}'; types: {', '.join(POOL_TYPES)}") from None


def _fill(pool: Pool, reservations) -> Pool:
    pool.available = pool.reserved = (1 << pool.size) - 1
    for index in reservations:
        pool.reserved &= ~(1 << index)
    pool.save()
    return pool


def create_pool(kind: str, base: str, size: int, offset: int = 0, **extra) -> Pool:
    """A new pool row with every value free except the type's initial reservations."""
    table, cls = pool_class(kind)
    if not 1 <= size <= MAX_POOL_SIZE:
        raise PoolError(f"Pool size must be within 1..{MAX_POOL_SIZE}, not {size}")
    if kind == "bridge" and (not base or len(base) > 14 or not base.replace("-", "").replace("_", "").isalnum()):
        raise PoolError(f"'{base}' is not a bridge name prefix (letters, digits, - and _; at most 14)")
    if kind == "mac-prefix":
        digits = mac_prefix_digits(base)
        if int(digits, 16) + size > 16 ** len(digits):
            raise PoolError(f"A pool of {size} prefixes from {base} runs past {_grouped('f' * len(digits))}")
        base = _grouped(digits)
    with transaction.atomic():
        if kind in ("bridge", "mac-prefix") and table.objects.exists():
            raise PoolError(f"A {kind} pool already exists (there is one of each); modify it with pool-modify")
        pool = cls(table(size=size, base=base, offset=offset, **extra))
        return _fill(pool, pool.initial_reservations())


def create_ip_pool(subnet_cidr: str, start: str, end: str, gateway: str | None = None, **extra) -> IPPool:
    network = ipaddress.ip_network(subnet_cidr, strict=False)
    first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
    if first not in network or last not in network or last < first:
        raise PoolError(f"Allocation range {start}-{end} is not inside {network}")
    size = int(last) - int(first) + 1
    if size > MAX_POOL_SIZE:
        raise PoolError(f"Allocation range {start}-{end} is too large (at most {MAX_POOL_SIZE} addresses)")
    pool = IPPool(IPPoolTable(size=size, base=str(network), offset=int(first) - int(network.network_address), **extra))
    return _fill(pool, pool.initial_reservations(gateway))


def get_row(kind: str, pool_id, *, lock: bool = False):
    table, _ = pool_class(kind)
    objects = table.objects.select_for_update() if lock else table.objects
    try:
        return objects.get(pk=int(pool_id))
    except (ValueError, TypeError, table.DoesNotExist):
        raise PoolError(f"No {kind} pool with id '{pool_id}'") from None


def load(kind: str, pool_id) -> Pool:
    """An unlocked snapshot of a pool (for showing it)."""
    return pool_class(kind)[1](get_row(kind, pool_id))


@contextmanager
def locked(kind: str, pool_id=None):
    """``with locked("bridge") as pool: pool.get()``: the pool row locked for the transaction,
    saved when the block ends without an exception (nothing is written otherwise). Without
    ``pool_id``: the single pool of that type."""
    table, cls = pool_class(kind)
    with transaction.atomic():
        if pool_id is None:
            row = table.objects.select_for_update().order_by("id").first()
            if row is None:
                raise PoolError(f"No {kind} pool exists; create one with snf-manage pool-create --type={kind}")
        else:
            row = get_row(kind, pool_id, lock=True)
        pool = cls(row)
        yield pool
        pool.save()
