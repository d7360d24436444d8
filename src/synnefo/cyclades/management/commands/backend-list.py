from synnefo.common.management import ListCommand
from synnefo.cyclades.models import Backend


class Command(ListCommand):
    help = "List Ganeti backends."
    FIELDS = {
        "id": (lambda b: b.id, "Backend id"),
        "clustername": (lambda b: b.clustername, "Ganeti cluster name"),
        "host": (lambda b: b.rapi_host, "RAPI address"),
        "port": (lambda b: b.port, "RAPI port"),
        "username": (lambda b: b.username, "RAPI user"),
        "drained": (lambda b: b.drained, "No new VMs are allocated here"),
        "offline": (lambda b: b.offline, "No RAPI calls are made"),
        "public": (lambda b: b.public, "Open to every project"),
        "hypervisor": (lambda b: b.hypervisor, "Hypervisor"),
        "disk_templates": (lambda b: ",".join(b.disk_templates), "Enabled disk templates"),
        "mfree": (lambda b: b.mfree, "Free memory (MiB)"),
        "mtotal": (lambda b: b.mtotal, "Total memory (MiB)"),
        "dfree": (lambda b: b.dfree, "Free disk (MiB)"),
        "dtotal": (lambda b: b.dtotal, "Total disk (MiB)"),
        "pinst_cnt": (lambda b: b.pinst_cnt, "Primary instances"),
        "ctotal": (lambda b: b.ctotal, "CPUs"),
        "vms": (lambda b: b.vm_count, "Active VMs"),
        "updated": (lambda b: b.updated, "Statistics last read"),
    }
    DEFAULT_FIELDS = ("id", "clustername", "port", "username", "drained", "offline", "public", "hypervisor", "vms", "updated")
    FILTERS = {"id": "id", "clustername": "clustername", "drained": "drained", "offline": "offline", "public": "public",
               "hypervisor": "hypervisor"}

    def get_queryset(self, options):
        from django.db.models import Count, Q

        return Backend.objects.annotate(vm_count=Count("virtual_machines", filter=Q(virtual_machines__deleted=False)))
