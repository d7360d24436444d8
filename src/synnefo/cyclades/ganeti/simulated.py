"""A SIMULATED Ganeti cluster: no Ganeti anywhere, for the all-in-one node and scale tests.

``SimulatedRapiClient`` has the methods of :class:`GanetiRapiClient` and answers in Ganeti's
shapes (job ids from mutations, job status objects, instance and node dicts). Jobs run in a
background thread through ``queued -> waiting -> running -> success|error`` with Ganeti-like
durations (create ~1.5 s, other instance jobs ~0.8 s; ``speed`` scales them) and, at every
state change, emit exactly the messages snf-ganeti-eventd would publish for the same job file
(it reuses eventd's ``messages_for_job``), through the same AMQP exchange. So the dispatcher
cannot tell a simulated cluster from a real one.

The state lives in the process that holds the cluster. Two ways to use it:
- ``snf-ganeti-simulated`` (``simulated_rapi.py``, started by ``synnefo up``) holds ONE cluster
  and serves it over HTTPS as a Ganeti RAPI, so every web worker, snf-manage and the dispatcher
  see the same cluster through the real :class:`GanetiRapiClient`. It gives ``state_file``: the
  instances, networks, tags and jobs are written there (atomically, see simulated_state.py)
  on every change and read back at start.
- In-process, for unit tests and benchmarks: a backend whose ``host`` is ``simulated``
  (``snf-manage backend-add --simulated-in-process``) gets a :class:`SimulatedRapiClient` over
  this process's registry (:func:`client_for`); other processes do not see its instances.

Resources are fixed numbers minus what instances use; a job fails only when asked (an unknown
OS, a disabled disk template, an instance or network that exists / does not exist).
"""

from __future__ import annotations

import copy
import heapq
import ipaddress
import itertools
import logging
import threading
import time
import uuid
from pathlib import Path

from synnefo.cyclades.ganeti.eventd import messages_for_job
from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiRapiClient
from synnefo.cyclades.ganeti.simulated_state import StateFile

log = logging.getLogger(__name__)

SIMULATED_HOST = "simulated"
STATE_VERSION = 1
#: Finished jobs kept (in memory and in the state file); older ones are archived away like
#: Ganeti's job queue archive (their /2/jobs/<id> answers 404).
JOBS_KEPT = 1000
RESTARTED = "simulated cluster restarted while the job was pending"

DURATIONS = {"OP_INSTANCE_CREATE": 1.5, "OP_INSTANCE_REMOVE": 0.8}
DEFAULT_DURATION = 0.8


def _ts(t: float) -> list[int]:
    return [int(t), int((t % 1) * 1_000_000)]


def _mac(name: str, index: int) -> str:
    """A stable, locally administered MAC for a NIC given none (Ganeti generates one)."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, f"{name}/{index}").bytes
    return "aa:00:" + ":".join(f"{b:02x}" for b in digest[:4])


class SimulatedCluster:
    def __init__(self, name: str, *, nodes: int = 1, mem_per_node: int = 65536, disk_per_node: int = 1_000_000,
                 cpus_per_node: int = 16, speed: float = 1.0, publisher=None, disk_templates=("file", "diskless", "drbd", "ext"),
                 state_file: str | Path | None = None):
        self.name = name
        self.nodes = [f"node{i + 1}.{name}" for i in range(nodes)]
        self.mem_per_node, self.disk_per_node, self.cpus_per_node = mem_per_node, disk_per_node, cpus_per_node
        self.speed = speed
        self.publisher = publisher
        self.disk_templates = list(disk_templates)
        self.instances: dict[str, dict] = {}
        self.jobs: dict[int, dict] = {}
        self.networks: dict[str, dict] = {}
        self.detached_disks: dict[str, dict] = {}  # Ganeti keeps detached disks in its configuration
        self.tags: list[str] = []
        self._next_id = 1
        self._lock = threading.RLock()
        self._timeline: list[tuple[float, int, int, str]] = []  # (when, seq, job id, step)
        self._seq = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._stopped = False
        self.state_file = Path(state_file) if state_file else None
        self._state = StateFile(self.state_file, self._snapshot, self._lock) if self.state_file else None
        if self._state:
            saved = self._state.read()
            if saved is not None:
                self._load(saved)
            self._state.start()
        self._thread = threading.Thread(target=self._run, name=f"simulated-ganeti-{name}", daemon=True)
        self._thread.start()

    # -- jobs --------------------------------------------------------------------------------

    def submit(self, op_id: str, fields: dict, apply, fail: str | None = None) -> int:
        """Queue a one-opcode job. ``apply()`` runs when it succeeds; ``fail`` makes it fail."""
        now = time.time()
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
            self.jobs[job_id] = {
                "id": job_id, "received_timestamp": _ts(now), "start_timestamp": None, "end_timestamp": None,
                "ops": [{"input": {"OP_ID": op_id, **fields}, "status": "queued", "result": None, "log": [],
                         "start_timestamp": None, "exec_timestamp": None, "end_timestamp": None}],
                "_apply": apply, "_fail": fail,
            }
            self._emit(job_id)
            duration = DURATIONS.get(op_id, DEFAULT_DURATION) * self.speed
            for step, fraction in (("waiting", 0.05), ("running", 0.15), ("final", 1.0)):
                heapq.heappush(self._timeline, (now + duration * fraction, next(self._seq), job_id, step))
            version = self._changed()
            self._wake.notify()
        if self._state:
            self._state.wait(version)  # the job id we answer is on disk
        return job_id

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (not self._timeline or self._timeline[0][0] > time.time()):
                    timeout = self._timeline[0][0] - time.time() if self._timeline else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, job_id, step = heapq.heappop(self._timeline)
                self._advance(job_id, step)

    def stop(self) -> None:
        """Stop running jobs (those pending stay pending in the state file, and fail at the next
        start); for a service shutting down, and tests."""
        with self._lock:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=10)
        if self._state:
            self._state.close()

    def cancel(self, job_id: int) -> list:
        """Ganeti's answer to a cancel: a job not yet running ends ``canceled``."""
        with self._lock:
            job = self.jobs.get(int(job_id))
            if job is None:
                raise GanetiApiError("Not Found", 404, f"Job {job_id} not found")
            op = job["ops"][0]
            if op["status"] not in ("queued", "waiting"):
                return [False, f"Job {job_id} is no longer waiting in the queue"]
            op["status"], op["result"] = "canceled", "Job canceled by request"
            op["end_timestamp"] = job["end_timestamp"] = _ts(time.time())
            job["_apply"] = None
            self._emit(job["id"])
            self._archive()
            self._changed()
            return [True, f"Job {job_id} canceled"]

    def _advance(self, job_id: int, step: str) -> None:
        job = self.jobs.get(job_id)
        if job is None or job["end_timestamp"] is not None:  # canceled, or archived
            return
        op = job["ops"][0]
        now = _ts(time.time())
        if step == "waiting":
            op["status"], op["start_timestamp"], job["start_timestamp"] = "waiting", now, now
        elif step == "running":
            op["status"], op["exec_timestamp"] = "running", now
            op["log"].append([1, now, "message", f"* simulated {op['input']['OP_ID'].lower()}"])
        else:
            waiting = self._unfinished_dependency(op["input"])
            if waiting:  # Ganeti runs a job after the jobs it depends on have ended
                heapq.heappush(self._timeline, (time.time() + 0.05 * self.speed, next(self._seq), job_id, "final"))
                return
            fail = job["_fail"] or self._dependency_failure(op["input"])
            if fail is None:
                try:
                    op["result"] = job["_apply"]()
                    op["status"] = "success"
                except GanetiApiError as exc:
                    fail = exc.message
            if fail is not None:
                op["status"], op["result"] = "error", ["OpPrereqError", [fail, "wrong_input"]]
                op["log"].append([2, now, "message", f"Failure: {fail}"])
            op["end_timestamp"] = job["end_timestamp"] = now
            job["_apply"] = None
        self._emit(job_id)
        if step == "final":
            self._archive()
            self._changed()

    def _unfinished_dependency(self, fields: dict) -> bool:
        return any(self.jobs.get(int(dep))
                   and self.jobs[int(dep)]["end_timestamp"] is None for dep, _ in fields.get("depends") or [])

    def _dependency_failure(self, fields: dict) -> str | None:
        """Ganeti's refusal of a job whose dependency ended in a status it did not accept."""
        from synnefo.cyclades.ganeti.eventd import job_status

        for dep, statuses in fields.get("depends") or []:
            job = self.jobs.get(int(dep))
            if job is None:
                return f"Dependency job {dep} not found"
            status = job_status([o["status"] for o in job["ops"]])
            if status not in statuses:
                return f"Dependency job {dep} finished with status '{status}', not one of {', '.join(map(repr, statuses))} as required"
        return None

    def _emit(self, job_id: int) -> None:
        if self.publisher is None:
            return
        job = {k: v for k, v in self.jobs[job_id].items() if not k.startswith("_")}
        try:
            for key, msg in messages_for_job(job, self.name, config_reader=self._config):
                self.publisher.publish(key, msg)
        except Exception:  # the job thread must outlive a broker outage; the job still ends
            log.exception("simulated cluster %s: cannot publish the events of job %s", self.name, job_id)

    def _config(self) -> dict:
        """The cluster as Ganeti's config.data has it (what eventd reads for ``instance_nics``,
        ``instance_disks`` and ``instance_hvparams``), built from the state under the lock."""
        with self._lock:
            networks = {net["uuid"]: {"name": name} for name, net in self.networks.items()}
            by_name = {v["name"]: k for k, v in networks.items()}
            instances, disks = {}, {}
            for name, inst in self.instances.items():
                nics = [{"name": n, "network": by_name.get(net), "ip": ip, "mac": mac, "uuid": nic_uuid,
                         "nicparams": {"mode": mode, "link": link}}
                        for n, net, ip, mac, nic_uuid, mode, link in zip(
                            inst.get("nic.names") or [], inst.get("nic.networks.names") or [], inst.get("nic.ips") or [],
                            inst.get("nic.macs") or [], inst.get("nic.uuids") or [], inst.get("nic.modes") or [],
                            inst.get("nic.links") or [])]
                for disk_name, size, disk_uuid in zip(inst.get("disk.names") or [], inst.get("disk.sizes") or [],
                                                      inst.get("disk.uuids") or []):
                    disks[disk_uuid] = {"name": disk_name, "size": size, "uuid": disk_uuid}
                instances[inst["uuid"]] = {"name": name, "nics": nics, "tags": list(inst.get("tags") or []),
                                           "disks": list(inst.get("disk.uuids") or []), "hvparams": dict(inst.get("hvparams") or {})}
            return {"cluster": {"nicparams": {"default": {"mode": "bridged", "link": ""}}}, "networks": networks,
                    "instances": instances, "disks": disks}

    def _archive(self) -> None:
        final = [i for i, j in self.jobs.items() if j["end_timestamp"] is not None]
        for job_id in final[: max(len(final) - JOBS_KEPT, 0)]:
            del self.jobs[job_id]

    # -- persistence -------------------------------------------------------------------------

    def _changed(self) -> int:
        """Note a change of the state (lock held): ``state_file`` is rewritten soon after (see
        simulated_state.py). Returns the version to wait for."""
        return self._state.changed() if self._state else 0

    def _snapshot(self) -> dict:
        return {"version": STATE_VERSION, "cluster": self.name, "next_job_id": self._next_id,
                "instances": self.instances, "networks": self.networks, "tags": self.tags,
                "detached_disks": self.detached_disks,
                "jobs": [{k: v for k, v in j.items() if not k.startswith("_")} for j in self.jobs.values()]}

    def _load(self, state: dict) -> None:
        """Take the saved state. Jobs that were pending when the service stopped cannot finish
        (their effect was never applied, or not saved): they end in ``error`` now, and their
        events say so."""
        if state.get("version") != STATE_VERSION or state.get("cluster") != self.name:
            raise ValueError(f"{self.state_file}: not a version {STATE_VERSION} state of cluster {self.name}")
        self.instances, self.networks, self.tags = state["instances"], state["networks"], state["tags"]
        self.detached_disks = state.get("detached_disks", {})
        self._next_id = int(state["next_job_id"])
        now = _ts(time.time())
        for job in state["jobs"]:
            self.jobs[job["id"]] = {**job, "_apply": None, "_fail": None}
            if job["end_timestamp"] is None:
                for op in job["ops"]:
                    if op["status"] not in ("success", "error", "canceled"):
                        op["status"], op["result"], op["end_timestamp"] = "error", ["OpExecError", [RESTARTED]], now
                job["end_timestamp"] = now
                self._emit(job["id"])

    def job_status(self, job_id: int) -> dict:
        with self._lock:
            job = self.jobs.get(int(job_id))
            if job is None:
                raise GanetiApiError("Not Found", 404, f"Job {job_id} not found")
            ops = job["ops"]
            from synnefo.cyclades.ganeti.eventd import job_status

            # Copies: the job thread changes them while an answer is serialized elsewhere.
            return copy.deepcopy({"id": job["id"], "status": job_status([o["status"] for o in ops]),
                                  "summary": [f"{o['input']['OP_ID'][3:]}" for o in ops], "ops": [o["input"] for o in ops],
                                  "opstatus": [o["status"] for o in ops], "opresult": [o["result"] for o in ops],
                                  "oplog": [o["log"] for o in ops], "received_ts": job["received_timestamp"],
                                  "start_ts": job["start_timestamp"], "end_ts": job["end_timestamp"]})

    # -- state -------------------------------------------------------------------------------

    def node_stats(self) -> list[dict]:
        with self._lock:
            per_node = {n: [] for n in self.nodes}
            for inst in self.instances.values():
                per_node[inst["pnode"]].append(inst)
            out = []
            for node, insts in per_node.items():
                mem = sum(i["beparams"].get("maxmem", 0) for i in insts if i["admin_state"] == "up")
                disk = sum(i["disk_usage"] for i in insts)
                out.append({"name": node, "offline": False, "drained": False, "vm_capable": True, "master_candidate": True,
                            "role": "M" if node == self.nodes[0] else "C", "mtotal": self.mem_per_node,
                            "mfree": max(self.mem_per_node - mem, 0), "dtotal": self.disk_per_node,
                            "dfree": max(self.disk_per_node - disk, 0), "ctotal": self.cpus_per_node, "cnodes": 1,
                            "pinst_cnt": len(insts), "pinst_list": sorted(i["name"] for i in insts)})
            return out


class SimulatedRapiClient:
    """The RAPI calls Synnefo makes, answered by a :class:`SimulatedCluster`."""

    def __init__(self, cluster: SimulatedCluster):
        self.cluster = cluster

    def __repr__(self) -> str:
        return f"<SimulatedRapiClient {self.cluster.name}>"

    def close(self) -> None:
        pass

    def get_version(self):
        return 2

    def get_features(self):
        return ["instance-create-reqv1", "instance-reinstall-reqv1"]

    def get_info(self):
        c = self.cluster
        return {"name": c.name, "master": c.nodes[0], "software_version": "3.0.2 (simulated)",
                "default_hypervisor": "kvm", "enabled_hypervisors": ["kvm"], "enabled_disk_templates": c.disk_templates,
                "ipolicy": {"disk-templates": c.disk_templates}, "tags": list(c.tags)}

    def get_nodes(self, bulk=True):
        stats = self.cluster.node_stats()
        return stats if bulk else [{"id": n["name"], "uri": f"/2/nodes/{n['name']}"} for n in stats]

    def get_operating_systems(self):
        return ["snf-image+default"]

    def get_instances(self, bulk=False):
        with self.cluster._lock:
            insts = copy.deepcopy(list(self.cluster.instances.values()))
        return insts if bulk else [{"id": i["name"], "uri": f"/2/instances/{i['name']}"} for i in insts]

    def get_instance(self, name):
        with self.cluster._lock:
            inst = self.cluster.instances.get(name)
            if inst is None:
                raise GanetiApiError("Not Found", 404, "Nothing matches the given URI")
            return copy.deepcopy(inst)

    def create_instance(self, name, disk_template, disks, nics, *, dry_run=False, **kwargs):
        c = self.cluster
        os_type = kwargs.get("os_type") or kwargs.get("os") or "snf-image+default"
        pnode = kwargs.get("pnode") or min(c.node_stats(), key=lambda n: n["pinst_cnt"])["name"]
        beparams = dict(kwargs.get("beparams") or {})
        if "memory" in beparams:
            beparams.setdefault("maxmem", beparams["memory"])
        fields = {"instance_name": name, "disk_template": disk_template, "disks": disks, "nics": nics,
                  "os_type": os_type, "beparams": beparams, "hvparams": kwargs.get("hvparams") or {},
                  "tags": kwargs.get("tags") or [], "pnode": pnode}
        if "no_install" in kwargs:  # an existing disk booted as it is
            fields["no_install"] = bool(kwargs["no_install"])
        fail = None
        if os_type != "snf-image+default":
            fail = f"OS Parameters validation failed: Directory for OS {os_type.split('+')[0]} not found in search path"
        elif disk_template not in c.disk_templates:
            fail = f"Disk template {disk_template} not enabled"

        def apply():
            with c._lock:
                if name in c.instances:
                    raise GanetiApiError(f"Instance '{name}' is already in the cluster")
                start = bool(kwargs.get("start", True))
                c.instances[name] = {
                    "name": name, "uuid": str(uuid.uuid4()), "admin_state": "up" if start else "down",
                    "oper_state": start, "status": "running" if start else "ADMIN_down",
                    "os": os_type, "pnode": pnode, "snodes": [], "disk_template": disk_template,
                    "disk_usage": sum(int(d.get("size", 0)) for d in disks), "disk.sizes": [int(d.get("size", 0)) for d in disks],
                    "disk.names": [d.get("name") for d in disks], "disk.uuids": [str(uuid.uuid4()) for _ in disks],
                    "nic.names": [n.get("name") for n in nics], "nic.ips": [n.get("ip") for n in nics],
                    "nic.macs": [n.get("mac") or _mac(name, i) for i, n in enumerate(nics)],
                    "nic.networks.names": [n.get("network") for n in nics], "nic.modes": [n.get("mode", "bridged") for n in nics],
                    "nic.links": [n.get("link", "") for n in nics], "nic.uuids": [str(uuid.uuid4()) for _ in nics],
                    "beparams": beparams, "hvparams": fields["hvparams"], "oper_ram": beparams.get("maxmem") if start else None,
                    "oper_vcpus": beparams.get("vcpus") if start else None, "network_port": None, "serial_no": 1,
                    "tags": list(fields["tags"]), "ctime": time.time(), "mtime": time.time(),
                }
            return [pnode]

        if dry_run:
            return 0
        return c.submit("OP_INSTANCE_CREATE", fields, apply, fail)

    def _instance_job(self, op_id, name, change, extra=None, dry_run=False):
        c = self.cluster

        def apply():
            with c._lock:
                inst = c.instances.get(name)
                if inst is None:
                    raise GanetiApiError(f"Instance '{name}' not known")
                if dry_run:
                    return None
                inst["serial_no"] = inst.get("serial_no", 0) + 1
                inst["mtime"] = time.time()
                return change(inst)

        return c.submit(op_id, {"instance_name": name, "dry_run": bool(dry_run), **(extra or {})}, apply)

    def _set_state(self, up):
        def change(inst):
            inst.update(admin_state="up" if up else "down", oper_state=up, status="running" if up else "ADMIN_down")

        return change

    def startup_instance(self, name, dry_run=False):
        return self._instance_job("OP_INSTANCE_STARTUP", name, self._set_state(True), dry_run=dry_run)

    def shutdown_instance(self, name, timeout=None, dry_run=False):
        return self._instance_job("OP_INSTANCE_SHUTDOWN", name, self._set_state(False), dry_run=dry_run)

    def reboot_instance(self, name, reboot_type="hard", shutdown_timeout=None, dry_run=False):
        return self._instance_job("OP_INSTANCE_REBOOT", name, self._set_state(True), {"reboot_type": reboot_type},
                                  dry_run=dry_run)

    def delete_instance(self, name, shutdown_timeout=None, dry_run=False):
        c = self.cluster

        def change(inst):
            c.instances.pop(name, None)

        return self._instance_job("OP_INSTANCE_REMOVE", name, change, dry_run=dry_run)

    def rename_instance(self, name, new_name, ip_check=False, name_check=False):
        c = self.cluster

        def change(inst):
            if inst["admin_state"] != "down":
                raise GanetiApiError(f"Instance '{name}' is running, can't rename")
            if new_name in c.instances:
                raise GanetiApiError(f"Instance '{new_name}' is already in the cluster")
            c.instances[new_name] = dict(c.instances.pop(name), name=new_name)
            return new_name

        return self._instance_job("OP_INSTANCE_RENAME", name, change, {"new_name": new_name})

    def modify_instance(self, name, **kwargs):
        def change(inst):
            changes = []
            for key, value in (kwargs.get("beparams") or {}).items():
                inst["beparams"][key] = value
                changes.append([f"be/{key}", value])
            for op, ident, params in kwargs.get("nics") or []:
                changes.append(_modify_nic(inst, op, ident, params or {}))
            for op, ident, params in kwargs.get("disks") or []:
                if op == "remove" and inst["admin_state"] == "up" and not kwargs.get("hotplug_if_possible"):
                    raise GanetiApiError(f"Instance '{name}' is marked to be up, can't remove volume from a running "
                                         "instance without using hotplug")
                changes.append(_modify_disk(self.cluster.detached_disks, inst, op, ident, params or {}))
            return changes

        fields = {k: kwargs[k] for k in ("beparams", "nics", "disks", "hvparams", "hotplug_if_possible", "depends")
                  if k in kwargs}
        return self._instance_job("OP_INSTANCE_SET_PARAMS", name, change, fields, dry_run=kwargs.get("dry_run", False))

    def get_instance_console(self, name):
        self.get_instance(name)
        return {"instance": name, "kind": "msg", "message": "Console not available: this is a SIMULATED cluster"}

    def get_instance_info(self, name, static=False):
        """A job whose result is the instance's runtime data, like OP_INSTANCE_QUERY_DATA."""
        def change(inst):
            return {name: {**inst, "run_state": inst["admin_state"], "disks": [{"size": s} for s in inst["disk.sizes"]]}}

        return self._instance_job("OP_INSTANCE_QUERY_DATA", name, change, {"instances": [name], "static": bool(static)})

    def get_instance_tags(self, name):
        return self.get_instance(name)["tags"]

    def add_instance_tags(self, name, tags, dry_run=False):
        def change(inst):
            inst["tags"] = sorted(set(inst["tags"]) | set(tags))

        return self._instance_job("OP_TAGS_SET", name, change, {"kind": "instance", "name": name, "tags": tags}, dry_run)

    def delete_instance_tags(self, name, tags, dry_run=False):
        def change(inst):
            inst["tags"] = [t for t in inst["tags"] if t not in tags]

        return self._instance_job("OP_TAGS_DEL", name, change, {"kind": "instance", "name": name, "tags": tags}, dry_run)

    def get_cluster_tags(self):
        return list(self.cluster.tags)

    def _cluster_job(self, op_id, fields, change, fail=None, dry_run=False):
        c = self.cluster

        def apply():
            with c._lock:
                return None if dry_run else change()

        return c.submit(op_id, {**fields, "dry_run": bool(dry_run)}, apply, fail)

    def add_cluster_tags(self, tags, dry_run=False):
        def change():
            self.cluster.tags[:] = sorted(set(self.cluster.tags) | set(tags))

        return self._cluster_job("OP_TAGS_SET", {"kind": "cluster", "tags": tags}, change, dry_run=dry_run)

    def delete_cluster_tags(self, tags, dry_run=False):
        def change():
            self.cluster.tags[:] = [t for t in self.cluster.tags if t not in tags]

        return self._cluster_job("OP_TAGS_DEL", {"kind": "cluster", "tags": tags}, change, dry_run=dry_run)

    def get_node(self, name):
        for node in self.cluster.node_stats():
            if node["name"] == name:
                return node
        raise GanetiApiError("Not Found", 404, "Nothing matches the given URI")

    def get_jobs(self, bulk=False):
        with self.cluster._lock:
            ids = sorted(self.cluster.jobs)
        return [self.get_job_status(i) for i in ids] if bulk else [{"id": i, "uri": f"/2/jobs/{i}"} for i in ids]

    def get_job_status(self, job_id):
        return self.cluster.job_status(job_id)

    def cancel_job(self, job_id):
        return self.cluster.cancel(job_id)

    # The same polling as the real client: it only needs get_job_status.
    wait_for_job = GanetiRapiClient.wait_for_job

    # -- networks ----------------------------------------------------------------------------

    def get_networks(self, bulk=False):
        with self.cluster._lock:
            nets = copy.deepcopy(list(self.cluster.networks.values()))
        return nets if bulk else [{"name": n["name"], "uri": f"/2/networks/{n['name']}"} for n in nets]

    def get_network(self, name):
        with self.cluster._lock:
            net = self.cluster.networks.get(name)
            if net is None:
                raise GanetiApiError("Not Found", 404, "Nothing matches the given URI")
            return copy.deepcopy(net)

    def _network_job(self, op_id, name, change, extra=None, dry_run=False):
        c = self.cluster

        def apply():
            with c._lock:
                net = c.networks.get(name)
                if net is None:
                    raise GanetiApiError(f"Network '{name}' not known")
                if dry_run:
                    return None
                net["serial_no"] += 1
                net["mtime"] = time.time()
                return change(net)

        return c.submit(op_id, {"network_name": name, "dry_run": bool(dry_run), **(extra or {})}, apply)

    def create_network(self, network_name, network, gateway=None, dry_run=False, **kwargs):
        c = self.cluster
        fields = {"network_name": network_name, "network": network, "gateway": gateway, **kwargs}

        def apply():
            with c._lock:
                if network_name in c.networks:
                    raise GanetiApiError(f"Network '{network_name}' already exists")
                if dry_run:
                    return None
                now = time.time()
                c.networks[network_name] = {
                    "name": network_name, "uuid": str(uuid.uuid4()), "network": network, "gateway": gateway,
                    "network6": kwargs.get("network6"), "gateway6": kwargs.get("gateway6"),
                    "mac_prefix": kwargs.get("mac_prefix"), "tags": list(kwargs.get("tags") or []),
                    "group_list": [], "inst_list": [], "serial_no": 1, "ctime": now, "mtime": now,
                    "external_reservations": _reservations(_implicit(network, gateway) + list(kwargs.get("add_reserved_ips") or [])),
                }
            return None

        return c.submit("OP_NETWORK_ADD", {**fields, "dry_run": bool(dry_run)}, apply)

    def connect_network(self, network_name, group_name="default", mode="bridged", link="", conflicts_check=True, dry_run=False):
        def change(net):
            net["group_list"] = [g for g in net["group_list"] if g[0] != group_name] + [[group_name, mode, link, ""]]

        extra = {"group_name": group_name, "network_mode": mode, "network_link": link, "conflicts_check": conflicts_check}
        return self._network_job("OP_NETWORK_CONNECT", network_name, change, extra, dry_run)

    def disconnect_network(self, network_name, group_name="default", dry_run=False):
        def change(net):
            net["group_list"] = [g for g in net["group_list"] if g[0] != group_name]

        return self._network_job("OP_NETWORK_DISCONNECT", network_name, change, {"group_name": group_name}, dry_run)

    def modify_network(self, network_name, dry_run=False, **kwargs):
        def change(net):
            have = [a.strip() for a in (net.get("external_reservations") or "").split(",") if a.strip()]
            for address in kwargs.get("add_reserved_ips") or []:
                if address in have:
                    raise GanetiApiError(f"IP address '{address}' already reserved")
                have.append(address)
            for address in kwargs.get("remove_reserved_ips") or []:
                if address not in have:
                    raise GanetiApiError(f"IP address '{address}' is not reserved")
                have.remove(address)
            net["external_reservations"] = _reservations(have)
            for key in ("network6", "gateway6", "gateway"):
                if kwargs.get(key) is not None:
                    net[key] = kwargs[key]

        return self._network_job("OP_NETWORK_SET_PARAMS", network_name, change, dict(kwargs), dry_run)

    def delete_network(self, network_name, dry_run=False):
        c = self.cluster

        def change(net):
            if net["group_list"]:
                raise GanetiApiError(f"Network '{network_name}' is still connected")
            c.networks.pop(network_name)

        return self._network_job("OP_NETWORK_REMOVE", network_name, change, dry_run=dry_run)

    def get_groups(self, bulk=False):
        c = self.cluster
        group = {"name": "default", "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, c.name)), "alloc_policy": "preferred",
                 "node_cnt": len(c.nodes), "node_list": list(c.nodes), "ipolicy": {"disk-templates": c.disk_templates},
                 "networks": sorted(n for n, net in c.networks.items() if any(g[0] == "default" for g in net["group_list"])),
                 "tags": [], "serial_no": 1}
        return [group] if bulk else [{"name": "default", "uri": "/2/groups/default"}]


def _implicit(network: str, gateway) -> list[str]:
    """What Ganeti reserves in a new network: its network and broadcast address and gateway."""
    net = ipaddress.ip_network(network)
    return [str(net.network_address), *([gateway] if gateway else []), str(net.broadcast_address)]


def _reservations(addresses) -> str:
    """Ganeti's ``external_reservations``: a comma-separated string, in address order."""
    return ", ".join(sorted(dict.fromkeys(addresses), key=ipaddress.ip_address))


NIC_FIELDS = {"nic.names": "name", "nic.ips": "ip", "nic.macs": "mac", "nic.networks.names": "network",
              "nic.modes": "mode", "nic.links": "link"}


def _modify_nic(inst: dict, op: str, ident, params: dict) -> list:
    """A NIC added (at ``ident`` -1: the end) or removed (by name or index), as Ganeti does."""
    if op == "add":
        params = {"mode": "bridged", "link": "", **params}
        for key, field in NIC_FIELDS.items():
            inst.setdefault(key, []).append(params.get(field))
        inst.setdefault("nic.uuids", []).append(str(uuid.uuid4()))
        index = len(inst["nic.names"]) - 1
        return [f"nic.{index}", "add:" + ",".join(f"{k}={v}" for k, v in params.items() if v is not None)]
    if op == "remove":
        index = _nic_index(inst, ident)
        for key in (*NIC_FIELDS, "nic.uuids"):
            inst[key].pop(index)
        return [f"nic.{index}", "remove"]
    if op == "modify":
        index = _nic_index(inst, ident)
        for key, field in NIC_FIELDS.items():
            if field in params:
                inst[key][index] = params[field]
        return [f"nic.{index}", "modify:" + ",".join(f"{k}={v}" for k, v in params.items())]
    raise GanetiApiError(f"Unsupported NIC modification {op!r}")


def _modify_disk(detached: dict, inst: dict, op: str, ident, params: dict) -> list:
    """A disk added at the end, removed or detached (by name or index; a detached disk is kept
    in ``detached``, the cluster's, by name), or attached from ``detached``, as Ganeti does.
    Changes of one job apply in order: ``[["attach", -1, {"name": n}], ["remove", -1, {}]]``
    removes a detached disk (Ganeti has no other way)."""
    names = inst.setdefault("disk.names", [])
    if op == "attach":  # a disk the cluster keeps detached, by name
        name = params.get("name")
        if name not in detached:
            raise GanetiApiError(f"No disk was found with this name: {name}")
        change = _modify_disk(detached, inst, "add", -1, detached[name])
        del detached[name]
        return [change[0], "attach"]
    if op == "add":
        try:
            size = int(params["size"])
        except (KeyError, TypeError, ValueError):
            raise GanetiApiError("Missing or invalid disk size") from None
        if params.get("name") and params["name"] in names:
            raise GanetiApiError(f"Disk name '{params['name']}' already used")
        names.append(params.get("name"))
        inst.setdefault("disk.sizes", []).append(size)
        inst.setdefault("disk.uuids", []).append(str(uuid.uuid4()))
        inst["disk_usage"] = sum(inst["disk.sizes"])
        return [f"disk/{len(names) - 1}", f"add:size={size},mode=rw"]
    if op in ("remove", "detach"):
        index = names.index(ident) if ident in names else int(ident) if str(ident).lstrip("-").isdigit() else None
        if index is None or not -len(names) <= index < len(names):
            raise GanetiApiError(f"Cannot find disk {ident!r}")
        index %= len(names)  # Ganeti reports the absolute index
        removed = {key: inst[key].pop(index) for key in ("disk.names", "disk.sizes", "disk.uuids")}
        if op == "detach" and removed["disk.names"]:
            detached[removed["disk.names"]] = {"name": removed["disk.names"], "size": removed["disk.sizes"]}
        inst["disk_usage"] = sum(inst["disk.sizes"])
        if not names:  # as Ganeti: an instance whose last disk goes is diskless
            inst["disk_template"] = "diskless"
        return [f"disk/{index}", op]
    raise GanetiApiError(f"Unsupported disk modification {op!r}")


def _nic_index(inst: dict, ident) -> int:
    """A NIC by name, uuid or index, as Ganeti identifies them."""
    for key in ("nic.names", "nic.uuids"):
        if ident in (inst.get(key) or []):
            return inst[key].index(ident)
    count = len(inst.get("nic.names") or [])
    if str(ident).lstrip("-").isdigit() and -count <= int(ident) < count:
        return int(ident) % count
    raise GanetiApiError(f"Cannot find NIC {ident!r}")


_clusters: dict[str, SimulatedCluster] = {}
_clusters_lock = threading.Lock()


def cluster_for(name: str, **kwargs) -> SimulatedCluster:
    """This process's simulated cluster of that name, created on first use, publishing through
    the configured AMQP brokers unless ``publisher`` is given."""
    with _clusters_lock:
        cluster = _clusters.get(name)
        if cluster is None:
            if "publisher" not in kwargs:
                from synnefo.common.amqp import AMQPClient

                kwargs["publisher"] = _LockedPublisher(AMQPClient())
            cluster = _clusters[name] = SimulatedCluster(name, **kwargs)
        return cluster


class _LockedPublisher:
    """One AMQP connection shared by the API threads and the job thread."""

    def __init__(self, client):
        self.client = client
        self.lock = threading.Lock()

    def publish(self, key, msg):
        with self.lock:
            self.client.publish(key, msg)


def runs_here(name: str) -> bool:
    """Whether this process simulates that cluster (another process sees an empty one)."""
    with _clusters_lock:
        return name in _clusters


def client_for(name: str) -> SimulatedRapiClient:
    return SimulatedRapiClient(cluster_for(name))
