"""Choosing the Ganeti backend of a new VM (SYNNEFO.md 1.9).

1. ``BACKEND_PER_USER`` names a backend for the user: it is used, even if drained or offline.
2. Candidates are the online, undrained backends, locked (``SELECT ... FOR UPDATE``) so that
   concurrent allocations see each other's resource reservations.
3. (after step 4) The strategy (``BACKEND_ALLOCATOR_MODULE``) filters them; the default ``FilterAllocator``
   applies ``BACKEND_FILTER_ALLOCATOR_FILTERS`` in order (public backends; backends the VM fits
   in, or all of them when none fits, because statistics are conservative and may be stale).
4. Before filtering, statistics older than ``BACKEND_REFRESH_MIN`` (or never read) are
   refreshed through RAPI (a failing RAPI keeps the old numbers and is logged).
5. Backends without the flavor's disk template are always dropped (``ext_*`` matches ``ext``).
6. The strategy's ``allocate`` picks one; the default takes the lowest load score
   ``0.5*cpu_ratio + 0.5*(mem_ratio + disk_ratio)``. The VM's size is subtracted from the chosen
   backend's free resources in the same transaction.

There is no limit on the number of backends (upstream had 16, from MAC prefixes).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.models import Backend

log = logging.getLogger(__name__)

VCPUS_PER_VM_GUESS = 4   # upstream's assumption when counting instances against CPUs
MAX_VCPU_RATIO = 3       # at most 3 virtual CPUs per physical one


class NoAvailableBackend(Exception):
    """No backend can take the VM (the API answers 503 "No available backends")."""


@dataclass
class VMRequest:
    ram: int            # MiB
    disk: int           # MiB (doubled for drbd, which mirrors)
    cpu: int
    disk_template: str
    userid: str = ""
    project: str | None = None


class FilterBase:
    def filter_backends(self, backends: list[Backend], vm: VMRequest) -> list[Backend]:
        raise NotImplementedError


class PublicFilter(FilterBase):
    """Only public backends (per-project backends arrive with projects in compute)."""

    def filter_backends(self, backends, vm):
        return [b for b in backends if b.public]


def vm_fits_in_backend(backend: Backend, vm: VMRequest) -> bool:
    if not backend.ctotal:
        return False
    return (backend.dfree > vm.disk and backend.mfree > vm.ram
            and ((backend.pinst_cnt + 1) * VCPUS_PER_VM_GUESS) / backend.ctotal < MAX_VCPU_RATIO)


class DefaultFilter(FilterBase):
    """Backends the VM fits in; all of them if none does (statistics lag behind reality)."""

    def filter_backends(self, backends, vm):
        fitting = [b for b in backends if vm_fits_in_backend(b, vm)]
        return fitting or backends


def backend_score(backend: Backend) -> float:
    mem_ratio = 1 - backend.mfree / backend.mtotal if backend.mtotal else 0
    disk_ratio = 1 - backend.dfree / backend.dtotal if backend.dtotal else 0
    cpu_ratio = ((backend.pinst_cnt + 1) * VCPUS_PER_VM_GUESS) / (backend.ctotal * MAX_VCPU_RATIO) if backend.ctotal else 1
    return 0.5 * cpu_ratio + 0.5 * (mem_ratio + disk_ratio)


class AllocatorBase:
    def filter_backends(self, backends: list[Backend], vm: VMRequest) -> list[Backend]:
        return backends

    def allocate(self, backends: list[Backend], vm: VMRequest) -> Backend | None:
        raise NotImplementedError


class FilterAllocator(AllocatorBase):
    def __init__(self):
        self.filters = [import_string(path)() for path in settings.BACKEND_FILTER_ALLOCATOR_FILTERS]

    def filter_backends(self, backends, vm):
        for backend_filter in self.filters:
            backends = backend_filter.filter_backends(backends, vm)
        return backends

    def allocate(self, backends, vm):
        if not backends:
            return None
        return min(backends, key=lambda b: (backend_score(b), b.id))


def get_strategy() -> AllocatorBase:
    return import_string(settings.BACKEND_ALLOCATOR_MODULE)()


def _template_matches(backend: Backend, template: str) -> bool:
    wanted = "ext" if template.startswith("ext_") else template
    return wanted in (backend.disk_templates or [])


def _per_user_backend(userid: str) -> Backend | None:
    target = settings.BACKEND_PER_USER.get(userid) if userid else None
    if target is None:
        return None
    query = Backend.objects.filter(pk=target) if isinstance(target, int) or str(target).isdigit() else \
        Backend.objects.filter(clustername=target)
    backend = query.first()
    if backend is None:
        log.error("BACKEND_PER_USER names backend %r for %s, which does not exist", target, userid)
    return backend


def _refresh(backend: Backend) -> None:
    from synnefo.cyclades.logic.backends import update_status

    try:
        update_status(backend)
    except GanetiApiError as exc:
        log.warning("backend %s: cannot refresh statistics (%s); using the old ones", backend.id, exc)


def allocate_backend(vm: VMRequest, strategy: AllocatorBase | None = None) -> Backend:
    """The backend for a new VM, its free resources already reduced. NoAvailableBackend if none."""
    chosen = _per_user_backend(vm.userid)
    if chosen is not None:
        return chosen
    strategy = strategy or get_strategy()
    if vm.disk_template == "drbd":
        vm.disk *= 2
    with transaction.atomic():
        candidates = list(Backend.objects.select_for_update().filter(offline=False, drained=False).order_by("id"))
        # Refresh before filtering (upstream filters first): stale numbers must not exclude a
        # backend that has room by now.
        stale_before = timezone.now() - datetime.timedelta(minutes=settings.BACKEND_REFRESH_MIN)
        for backend in candidates:
            if not backend.disk_templates or backend.updated is None or backend.updated < stale_before:
                _refresh(backend)
        candidates = strategy.filter_backends(candidates, vm)
        candidates = [b for b in candidates if _template_matches(b, vm.disk_template)]
        chosen = strategy.allocate(candidates, vm)
        if chosen is None:
            raise NoAvailableBackend("No available backends")
        chosen.mfree = max(chosen.mfree - vm.ram, 0)
        chosen.dfree = max(chosen.dfree - vm.disk, 0)
        chosen.pinst_cnt += 1
        chosen.save(update_fields=["mfree", "dfree", "pinst_cnt"])
    log.info("allocated backend %s for a %s MiB / %s MiB / %s CPU VM of %s", chosen.id, vm.ram, vm.disk, vm.cpu, vm.userid)
    return chosen
