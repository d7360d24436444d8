"""Helpers of the server-* commands: what a server looks like to an administrator."""

from synnefo.cyclades.logic import servers
from synnefo.cyclades.management.commands._common import emails_of


def server_details(vm) -> dict:
    """Everything the database knows of a server, its flavor and its image (server-show, and
    the database side of server-inspect)."""
    data = {
        "id": vm.id, "name": vm.name, "user": vm.userid, "user email": emails_of([vm.userid]).get(vm.userid, ""),
        "project": vm.project, "state": servers.api_status(vm), "operstate": vm.operstate,
        "task": vm.task or "", "task job": vm.task_job_id, "commission": vm.serial, "last action": vm.action or "",
        "suspended": vm.suspended, "deleted": vm.deleted, "build progress": vm.buildpercentage,
        "backend": f"{vm.backend_id} ({vm.backend.clustername})" if vm.backend else "", "instance": vm.backend_vm_id,
        "last job": vm.backendjobid, "last opcode": vm.backendopcode or "", "last job status": vm.backendjobstatus or "",
        "last job message": vm.backendlogmsg or "", "last event at": vm.backendtime.isoformat(),
        "created": vm.created.isoformat(), "updated": vm.updated.isoformat(), "key names": ",".join(vm.key_names),
    }
    flavor = vm.flavor
    if flavor is not None:
        data.update({"flavor": f"{flavor.id} ({flavor.name})", "flavor cpu": flavor.cpu, "flavor ram (MiB)": flavor.ram,
                     "flavor disk (GiB)": flavor.disk, "flavor disk template": flavor.volume_type.disk_template,
                     "flavor deleted": flavor.deleted})
    data.update(image_details(vm.imageid))
    data.update({f"metadata:{k}": v for k, v in sorted(servers.metadata_of(vm).items())})
    for i, d in enumerate(vm.diagnostics.all()[:50]):
        data[f"diagnostic {i + 1}"] = f"{d.created.isoformat(timespec='seconds')} {d.level} {d.source}: {d.message}"
    return data


def image_details(image_id: str) -> dict:
    from synnefo.common import faults
    from synnefo.plankton.backend import any_image

    if not image_id:
        return {"image": ""}
    try:
        image = any_image(image_id)
    except faults.Fault:
        return {"image": f"{image_id} (no longer registered)"}
    return {"image": image_id, "image name": image.name, "image owner": image.owner, "image status": image.status,
            "image location": image.location, "image os": image.properties.get("os", ""),
            "image osfamily": image.properties.get("osfamily", "")}


def _ts(value) -> str:
    import datetime

    if isinstance(value, (list, tuple)) and value:
        return datetime.datetime.fromtimestamp(value[0], datetime.timezone.utc).isoformat(timespec="seconds")
    return "" if value is None else str(value)


def side_by_side(vm, instance: dict) -> list[list]:
    """[item, database, Ganeti, agrees?] rows: what reconciliation compares, and the rest."""
    from synnefo.cyclades.logic.reconciliation import ganeti_shape, ganeti_state

    cpu, ram = ganeti_shape(instance)
    flavor = vm.flavor
    state = (f"{ganeti_state(instance)} (admin {instance.get('admin_state')}, oper {instance.get('oper_state')}, "
             f"{instance.get('status')})")
    rows = [
        ["state", vm.operstate, state, vm.operstate == ganeti_state(instance)],
        ["cpu", flavor.cpu if flavor else "", cpu, bool(flavor) and flavor.cpu == cpu],
        ["ram (MiB)", flavor.ram if flavor else "", ram, bool(flavor) and flavor.ram == ram],
        ["disk template", flavor.volume_type.template if flavor else "", instance.get("disk_template"),
         bool(flavor) and flavor.volume_type.template == instance.get("disk_template")],
        ["disks (MiB)", flavor.disk * 1024 if flavor else "", ",".join(map(str, instance.get("disk.sizes") or [])), None],
    ]
    for key in ("nic.names", "nic.macs", "nic.ips", "nic.links", "nic.modes", "nic.networks.names"):
        if key in instance:
            rows.append([key, "", ",".join("-" if v is None else str(v) for v in instance[key]), None])
    for key in ("tags", "os", "pnode", "snodes", "hypervisor"):
        if key in instance:
            value = instance[key]
            rows.append([key, "", ",".join(map(str, value)) if isinstance(value, list) else value, None])
    rows.append(["created / modified", "", f"{_ts([instance.get('ctime') or 0])} / {_ts([instance.get('mtime') or 0])}", None])
    return [[item, db, gnt, "" if ok is None else ("yes" if ok else "NO")] for item, db, gnt, ok in rows]


def instance_jobs(client, name: str) -> list[list]:
    """The jobs still in Ganeti's queue that act on the instance."""
    rows = []
    for job in client.get_jobs(bulk=True):
        if any(isinstance(op, dict) and name in (op.get("instance_name"), op.get("name"), op.get("new_name"))
               for op in job.get("ops") or []):
            rows.append([job.get("id"), job.get("status"), ",".join(job.get("summary") or []), _ts(job.get("received_ts")),
                         _ts(job.get("end_ts"))])
    return rows
