"""snf-ganeti-eventd: turn Ganeti job-queue updates into AMQP messages (docs/ganeti.md).

Runs on every Ganeti master candidate; only the node that is master *now* publishes (checked
per job from ssconf, so a master failover needs no restart). Ganeti rewrites a job file by
writing a temp file (``job-N-….tmp`` from luxid, ``job-N….new`` from the job process) and
renaming it to ``job-N``: we watch ``IN_MOVED_TO | IN_CLOSE_WRITE`` and read only ``job-<digits>``
names, so every read sees one consistent JSON document. The file has no job-level status; each
opcode's status is in it, and one message is published per opcode.

A burst larger than the inotify queue (``IN_Q_OVERFLOW``) makes us rescan every job file, so a
final status is never missed; messages identical to the last one sent for an opcode are not
sent again, and any that are (after a restart or rescan) are dropped by the dispatcher's
ordering guard. The job file is read directly as JSON: no Ganeti Python modules are needed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import time
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger("synnefo.eventd")

JOB_NAME = re.compile(r"^job-(\d+)$")
FINAL = ("success", "error", "canceled")
NETWORK_FIELDS = ("subnet", "gateway", "add_reserved_ips", "remove_reserved_ips", "group_name")
INSTANCE_FIELDS = ("nics", "disks", "hvparams", "beparams")
HEARTBEAT_TAG = "snf:eventd:heartbeat:"


def job_status(op_statuses: list[str]) -> str:
    """The job's status derived from its opcodes' statuses, as Ganeti computes it."""
    status = "queued"
    all_success = True
    for op in op_statuses:
        if op == "success":
            continue
        all_success = False
        if op in ("waiting", "running"):
            status = op
        elif op in ("canceling", "error", "canceled"):
            return op
    return "success" if all_success and op_statuses else status


def _event_time(job: dict, op: dict) -> list[int] | None:
    status = op.get("status")
    if status == "queued":
        ts = job.get("received_timestamp")
    elif status == "waiting":
        ts = op.get("start_timestamp")
    elif status in ("running", "canceling"):
        ts = op.get("exec_timestamp") or op.get("start_timestamp")
    else:
        ts = op.get("end_timestamp")
    return ts or op.get("end_timestamp") or op.get("exec_timestamp") or op.get("start_timestamp") or job.get("received_timestamp")


def _last_log(op: dict) -> str:
    entries = op.get("log") or []
    if not entries:
        return ""
    message = entries[-1][3] if len(entries[-1]) > 3 else ""
    return message if isinstance(message, str) else json.dumps(message)


DETAIL_ON_SUCCESS = ("OP_INSTANCE_CREATE", "OP_INSTANCE_STARTUP")
DETAIL_ON_FINAL = ("OP_INSTANCE_SET_PARAMS", "OP_INSTANCE_GROW_DISK")


def instance_details(config: dict, name: str) -> dict | None:
    """The instance's NICs, disks and rescue-related hvparams from Ganeti's config.data (JSON),
    in the shape of upstream's ``instance_nics``/``instance_disks``/``instance_hvparams``."""
    inst = next((i for i in (config.get("instances") or {}).values() if i.get("name") == name), None)
    if inst is None:
        return None
    defaults = ((config.get("cluster") or {}).get("nicparams") or {}).get("default", {})
    networks = config.get("networks") or {}
    tags = inst.get("tags") or []
    nics = []
    for nic in inst.get("nics") or []:
        params = {**defaults, **(nic.get("nicparams") or {})}
        network = networks.get(nic.get("network") or "")
        prefix = f"synnefo:network:{nic.get('name')}:"
        firewall = next((t[len(prefix):] for t in tags if nic.get("name") and t.startswith(prefix)), None)
        nics.append({"name": nic.get("name"), "network": network.get("name") if network else None, "ip": nic.get("ip"),
                     "mac": nic.get("mac"), "mode": params.get("mode"), "link": params.get("link"),
                     "uuid": nic.get("uuid"), "firewall": firewall})
    disks = []
    for disk_uuid in inst.get("disks") or []:
        disk = (config.get("disks") or {}).get(disk_uuid)
        if disk:
            disks.append({"name": disk.get("name"), "size": disk.get("size"), "uuid": disk.get("uuid")})
    hv = inst.get("hvparams") or {}
    return {"instance_nics": nics, "instance_disks": disks,
            "instance_hvparams": {"boot_order": hv.get("boot_order"), "cdrom_image_path": hv.get("cdrom_image_path")}}


def messages_for_job(job: dict, cluster: str, config_reader=None) -> list[tuple[str, dict]]:
    """(routing key, message) for every opcode of a job file we report on. ``config_reader()``
    returns Ganeti's configuration (for the instance details sent on success), or None."""
    out = []
    ops = job.get("ops") or []
    for op in ops:
        inp = op.get("input") or {}
        op_id = inp.get("OP_ID", "")
        common = {
            "operation": op_id,
            "jobId": job.get("id"),
            "status": op.get("status"),
            "cluster": cluster,
            "logmsg": _last_log(op),
            "result": op.get("result"),
            "event_time": _event_time(job, op),
        }
        if op_id.startswith("OP_INSTANCE_"):
            name = inp.get("instance_name")
            if not isinstance(name, str) or not name:
                continue  # jobs with no (or several) instances are not about one VM
            msg = {"type": "ganeti-op-status", "instance": name, **common}
            msg["job_fields"] = {k: inp[k] for k in INSTANCE_FIELDS if k in inp}
            if op_id == "OP_INSTANCE_CREATE" and op.get("status") == "error":
                # The whole input, so that the creation can be resubmitted. Secrets are blanked.
                fields = dict(inp)
                if isinstance(fields.get("osparams"), dict) and "img_passwd" in fields["osparams"]:
                    fields["osparams"] = dict(fields["osparams"], img_passwd=None)
                fields.pop("osparams_secret", None)
                msg["job_fields"] = fields
            if "tags" in inp:
                msg["tags"] = inp["tags"]
            status = op.get("status")
            if config_reader is not None and (
                    (op_id in DETAIL_ON_SUCCESS and status == "success") or (op_id in DETAIL_ON_FINAL and status in FINAL)):
                config = config_reader()
                details = instance_details(config, name) if config else None
                if details:
                    msg.update(details)
            out.append((f"ganeti.{name.split('-')[0]}.event.op", msg))
        elif op_id.startswith("OP_TAGS_") and inp.get("kind") == "instance" and op.get("status") in FINAL:
            name = inp.get("name")
            if not isinstance(name, str):
                continue
            msg = {"type": "ganeti-op-status", "instance": name, "tags": inp.get("tags", []),
                   "job_fields": {"dry_run": inp.get("dry_run", False)}, **common}
            out.append((f"ganeti.{name.split('-')[0]}.event.op", msg))
        elif op_id.startswith("OP_NETWORK_"):
            name = inp.get("network_name")
            if not isinstance(name, str):
                continue
            fields = {k: inp[k] for k in NETWORK_FIELDS if k in inp}
            if "network" in inp and "subnet" not in fields:
                fields["subnet"] = inp["network"]
            msg = {"type": "ganeti-network-status", "network": name, "job_fields": fields, **common}
            out.append((f"ganeti.{name.split('-')[0]}.event.network", msg))
        elif op_id == "OP_TAGS_SET" and inp.get("kind") == "cluster":
            beats = [t for t in inp.get("tags") or [] if isinstance(t, str) and t.startswith(HEARTBEAT_TAG)]
            if beats:
                # snf-dispatcher --status-check's round trip: RAPI -> Ganeti job -> eventd -> AMQP.
                out.append(("eventd.heartbeat", {"type": "eventd-heartbeat", "tag": beats[0], **common}))
        elif op_id == "OP_CLUSTER_SET_PARAMS":
            out.append(("ganeti.event.cluster", {"type": "ganeti-cluster-status", **common}))
    return out


class Ssconf:
    """Cluster name and master node from Ganeti's ssconf files (re-read each time: failover)."""

    def __init__(self, data_dir: str = "/var/lib/ganeti"):
        self.data_dir = Path(data_dir)

    def _read(self, key: str) -> str:
        try:
            return (self.data_dir / f"ssconf_{key}").read_text().strip()
        except OSError:
            return ""

    def cluster_name(self) -> str:
        return self._read("cluster_name")

    def master_node(self) -> str:
        return self._read("master_node")


class EventDaemon:
    def __init__(self, queue_dir: str, client, ssconf: Ssconf, node_name: str | None = None,
                 cluster_name: str | None = None, remember: int = 10000):
        self.queue_dir = Path(queue_dir)
        self.client = client
        self.ssconf = ssconf
        self.node_name = node_name or socket.getfqdn()
        self.cluster_name = cluster_name
        self.sent: OrderedDict[tuple, tuple] = OrderedDict()
        self.remember = remember
        self.published = 0
        self.stopping = False
        self._config = None
        self._config_mtime = None

    def read_config(self) -> dict | None:
        """Ganeti's config.data (JSON), re-read only when it changed."""
        path = self.ssconf.data_dir / "config.data"
        try:
            mtime = path.stat().st_mtime_ns
            if mtime != self._config_mtime:
                self._config = json.loads(path.read_text())
                self._config_mtime = mtime
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s: %s", path, exc)
            return None
        return self._config

    def is_master(self) -> bool:
        master = self.ssconf.master_node()
        return bool(master) and master in (self.node_name, self.node_name.split(".")[0])

    def process_file(self, path: Path) -> int:
        """Publish the new opcode states of one job file; returns how many messages were sent."""
        if not JOB_NAME.match(path.name):
            return 0
        try:
            job = json.loads(path.read_text())
        except FileNotFoundError:
            return 0  # archived meanwhile
        except (OSError, ValueError) as exc:
            log.warning("cannot read job file %s: %s", path, exc)
            return 0
        if not self.is_master():
            log.debug("not the master; not publishing job %s", job.get("id"))
            return 0
        cluster = self.cluster_name or self.ssconf.cluster_name()
        count = 0
        for index, (key, msg) in enumerate(messages_for_job(job, cluster, self.read_config)):
            ident = (job.get("id"), index)
            fingerprint = (msg["status"], msg["logmsg"], json.dumps(msg["event_time"]))
            if self.sent.get(ident) == fingerprint:
                continue
            self.client.publish(key, msg)
            self.sent[ident] = fingerprint
            self.sent.move_to_end(ident)
            while len(self.sent) > self.remember:
                self.sent.popitem(last=False)
            count += 1
            log.info("job %s %s %s %s -> %s", msg["jobId"], msg.get("instance") or msg.get("network") or cluster,
                     msg["operation"], msg["status"], key)
        self.published += count
        return count

    def rescan(self) -> int:
        names = sorted((p for p in self.queue_dir.iterdir() if JOB_NAME.match(p.name)), key=lambda p: int(p.name[4:]))
        return sum(self.process_file(p) for p in names)

    def run(self, poll_interval: float = 1.0) -> None:
        try:
            from inotify_simple import INotify, flags
        except ImportError:  # pragma: no cover - packaged dependency
            INotify = None
        if INotify is None:
            log.warning("inotify_simple missing: polling %s every %.1f s", self.queue_dir, poll_interval)
            return self._poll(poll_interval)
        inotify = INotify()
        inotify.add_watch(str(self.queue_dir), flags.MOVED_TO | flags.CLOSE_WRITE)
        log.info("watching %s as node %s", self.queue_dir, self.node_name)
        needs_rescan = False
        while not self.stopping:
            events = inotify.read(timeout=500)
            try:
                if needs_rescan:
                    # A publish failed (no broker for AMQPClient.retry_seconds): send every job's
                    # current state again once the broker is back; nothing is skipped.
                    self.rescan()
                    needs_rescan = False
                for event in events:
                    if event.mask & flags.Q_OVERFLOW:
                        log.warning("inotify queue overflow: rescanning %s", self.queue_dir)
                        self.rescan()
                    elif event.name:
                        self.process_file(self.queue_dir / event.name)
            except Exception:
                log.exception("publishing failed; will rescan the queue and retry")
                self.client.close()
                needs_rescan = True
                time.sleep(1)

    def _poll(self, interval: float) -> None:
        mtimes: dict[str, float] = {}
        while not self.stopping:
            for path in self.queue_dir.iterdir():
                if not JOB_NAME.match(path.name):
                    continue
                try:
                    mtime = path.stat().st_mtime_ns
                except FileNotFoundError:
                    continue
                if mtimes.get(path.name) != mtime:
                    mtimes[path.name] = mtime
                    self.process_file(path)
            time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="snf-ganeti-eventd", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-dir", default="/var/lib/ganeti/queue", help="Ganeti job queue directory")
    parser.add_argument("--ganeti-data-dir", default="/var/lib/ganeti", help="Where ssconf_* files are")
    parser.add_argument("--node-name", help="This node's Ganeti name (default: the FQDN)")
    parser.add_argument("--cluster-name", help="Cluster name in messages (default: from ssconf)")
    parser.add_argument("--rescan", action="store_true", help="Publish the state of every job file at start")
    parser.add_argument("-p", "--pid-file", help="Write the pid here")
    parser.add_argument("-d", "--debug", action="store_true")
    args = parser.parse_args(argv)

    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("snf-ganeti-eventd")
    if args.debug:
        logging.getLogger("synnefo").setLevel(logging.DEBUG)
    from synnefo.common.amqp import AMQPClient

    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n")
    daemon = EventDaemon(args.queue_dir, AMQPClient(), Ssconf(args.ganeti_data_dir), args.node_name, args.cluster_name)

    def stop(signum, frame):
        daemon.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.rescan:
        daemon.rescan()
    try:
        daemon.run()
    finally:
        daemon.client.close()
        if args.pid_file:
            Path(args.pid_file).unlink(missing_ok=True)
    sys.exit(0)
