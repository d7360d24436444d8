"""Quotaholder records: resources, holdings, commissions and their provisions, the log of
resolved provisions, service credentials (components) and the service-side serial table.

Holders and sources are strings, as upstream: ``user:<uuid>`` holds a resource from the
project ``project:<puuid>``; ``project:<puuid>`` holds it from no source (``""`` here, ``null``
on the wire). Every user's base (system) project has the user's uuid.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# "Unlimited", as upstream: the largest 64-bit signed integer.
UNLIMITED = 2**63 - 1


class Resource(models.Model):
    """A kind of thing services count (``cyclades.vm``, ``pithos.diskspace``, ...).

    ``uplimit`` is the system default: the limit of every base-project holding whose own
    ``limit`` is unset. ``project_default`` is the default for other projects' members."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=255, blank=True)  # "bytes" or "" (a count)
    service_type = models.CharField(max_length=255, blank=True)  # catalog type, e.g. "compute"
    service_origin = models.CharField(max_length=255, db_index=True)  # component, e.g. "cyclades"
    uplimit = models.BigIntegerField(default=0)
    project_default = models.BigIntegerField(default=0)
    allow_in_projects = models.BooleanField(default=True)
    ui_visible = models.BooleanField(default=True)
    api_visible = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holding(models.Model):
    """What ``holder`` may use of ``resource`` from ``source``. ``usage_min`` counts accepted
    quantities plus pending releases' floor; ``usage_max`` counts accepted plus pending imports.
    ``limit`` None means "the resource's system default" (so a changed default applies to every
    holding nobody set by hand)."""

    holder = models.CharField(max_length=255)
    source = models.CharField(max_length=255, blank=True, default="")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="holdings")
    limit = models.BigIntegerField(null=True, blank=True)
    usage_min = models.BigIntegerField(default=0)
    usage_max = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["holder", "source", "resource"], name="quotaholder_holding_unique"),
        ]

    def effective_limit(self) -> int:
        return self.resource.uplimit if self.limit is None else self.limit

    def __str__(self):
        return f"{self.holder} {self.source or '-'} {self.resource_id}"


class Commission(models.Model):
    """An issued, not yet resolved, set of provisions. ``clientkey`` is the issuing component;
    only it may resolve the commission. Resolved commissions are deleted (their provisions
    stay in ``ProvisionLog``)."""

    serial = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=4096, blank=True)
    clientkey = models.CharField(max_length=255, db_index=True)
    issue_datetime = models.DateTimeField(default=timezone.now)


class Provision(models.Model):
    commission = models.ForeignKey(Commission, on_delete=models.CASCADE, related_name="provisions")
    holding = models.ForeignKey(Holding, on_delete=models.CASCADE, related_name="provisions")
    quantity = models.BigIntegerField()


class ProvisionLog(models.Model):
    """One resolved provision: what was asked, and the holding before the resolution."""

    serial = models.BigIntegerField(db_index=True)
    name = models.CharField(max_length=4096, blank=True)
    clientkey = models.CharField(max_length=255)
    issue_time = models.DateTimeField()
    log_time = models.DateTimeField(default=timezone.now)
    holder = models.CharField(max_length=255)
    source = models.CharField(max_length=255, blank=True)
    resource = models.CharField(max_length=255)
    limit = models.BigIntegerField()
    usage_min = models.BigIntegerField()
    usage_max = models.BigIntegerField()
    delta_quantity = models.BigIntegerField()
    reason = models.CharField(max_length=16)  # "accept" or "reject"


class Component(models.Model):
    """A service (cyclades, pithos, ...) allowed on the service-only endpoints. Only the SHA-256
    of its token is stored; the token is shown once, by component-add / --renew-token."""

    name = models.CharField(max_length=255, unique=True)
    url = models.CharField(max_length=1024, blank=True)  # its UI/base URL, informational
    token_digest = models.CharField(max_length=64, unique=True)
    token_created = models.DateTimeField(default=timezone.now)
    token_expires = models.DateTimeField(null=True, blank=True)  # None: never

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ServiceSerial(models.Model):
    """Service-side bookkeeping of an issued commission (upstream's QuotaHolderSerial /
    qh_serials): written in the service's own transaction, so the decision survives the crash
    of a process between its commit and the resolution; ``reconcile-commissions`` finishes it.
    ``accept`` None: no decision yet."""

    component = models.CharField(max_length=255)
    serial = models.BigIntegerField()
    accept = models.BooleanField(null=True)
    resolved = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["component", "serial"], name="quotaholder_serial_unique"),
        ]
        indexes = [models.Index(fields=["component", "resolved"])]
