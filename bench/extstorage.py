"""The archipelago ExtStorage provider on the real sandbox cluster (deploy/ganeti-sandbox).

* each script as Ganeti runs it (the installed wrapper, only Ganeti's variables), median of
  ``--runs``: create (a thin clone of a 10 GiB image's exported map), attach (vlmc map),
  attach again (already mapped), grow, detach, remove; beside the anchor, the same Python
  importing the provider and exiting (what every script pays before doing anything);
* Ganeti instance creation jobs (received -> end, from Ganeti's own timestamps), ``--instances``
  one after another: a 10 GiB ``ext`` disk cloned from that image beside a 10 GiB ``file``
  disk (sparse: no data written either), both with the sandbox's no-op OS and started.

Needs root (loop devices, FUSE, the sandbox). Leaves the cluster as it was (the provider
uninstalled, ``ext`` disabled again). Usage: python bench/extstorage.py [--runs 5] [--instances 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from synnefo.archipelago import config as archip_config  # noqa: E402
from synnefo.archipelago.store import VolumeStore  # noqa: E402
from synnefo.cyclades.ganeti.rapi import GanetiRapiClient  # noqa: E402
from tests.archip_helpers import Vlmcd, write_config_file  # noqa: E402
from tests.ganeti_helpers import SANDBOX, SANDBOX_ENV  # noqa: E402

GiB, BLOCK = 1 << 30, 4 << 20
INSTALL = ROOT / "deploy" / "install-extstorage"


def median_ms(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sandbox() -> dict:
    subprocess.run([str(SANDBOX), "up"], check=True, capture_output=True, timeout=600)
    env = {}
    for line in SANDBOX_ENV.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value.split("#")[0].strip()
    return env


def scripts(directory: Path, store: VolumeStore, origin: str, runs: int) -> None:
    def run(script, **env):
        result = subprocess.run([str(directory / script)], env={k: str(v) for k, v in env.items()},
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    conf = dict(line.split("=", 1) for line in (directory / "provider.conf").read_text().splitlines() if "=" in line)
    python = conf["PYTHON"]
    anchor = median_ms(lambda: subprocess.run([python, "-c", "import synnefo.archipelago.extstorage"],
                                              env={"PYTHONPATH": conf["PYTHONPATH"]}, check=True), runs)
    rows = {name: [] for name in ("create (10 GiB clone)", "attach (map)", "attach (mapped)", "grow", "detach (unmap)",
                                  "remove")}
    for index in range(runs):
        env = {"VOL_NAME": f"{uuid.uuid4()}.ext.disk0", "VOL_CNAME": f"bench-{index}"}
        for label, script, extra in (("create (10 GiB clone)", "create", {"VOL_SIZE": 10240, "EXTP_ORIGIN": origin}),
                                     ("attach (map)", "attach", {}), ("attach (mapped)", "attach", {}),
                                     ("grow", "grow", {"VOL_SIZE": 10240, "VOL_NEW_SIZE": 11264}),
                                     ("detach (unmap)", "detach", {}), ("remove", "remove", {})):
            rows[label].append(median_ms(lambda s=script, e=extra: run(s, **env, **e), 1))
    print(f"| script | median ms ({runs} runs) | anchor: Python importing the provider |")
    print("|---|---|---|")
    for label, times in rows.items():
        print(f"| {label} | {statistics.median(times):.0f} | {anchor:.0f} |")


def instances(ganeti: dict, origin: str, count: int) -> None:
    rapi = GanetiRapiClient(ganeti["GANETI_RAPI_HOST"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                            ganeti["GANETI_RAPI_PASSWORD"], ca_file=ganeti["GANETI_RAPI_CA"])
    tag = uuid.uuid4().hex[:6]
    results = {"ext": [], "file": []}
    names = []
    try:
        for index in range(count):
            for template, disk in (("ext", {"size": 10240, "provider": "archipelago", "origin": origin,
                                            "name": f"bench-{tag}-{index}-root"}),
                                   ("file", {"size": 10240})):
                name = f"bench-es-{tag}-{template}-{index}"
                names.append(name)
                job = rapi.wait_for_job(rapi.create_instance(
                    name, template, [disk], [{"link": ganeti["GANETI_NIC_LINK"], "mode": "bridged"}],
                    os_type="snf-image+default", osparams={"img_id": "bench", "img_format": "diskdump",
                                                           "img_properties": "{}"},
                    beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake",
                    pnode=ganeti["GANETI_NODE_NAME"], name_check=False, ip_check=False, start=True), timeout=300)
                received, end = job["received_ts"], job["end_ts"]
                results[template].append((end[0] - received[0]) + (end[1] - received[1]) / 1e6)
    finally:
        for name in names:
            try:
                rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False, timeout=300)
            except Exception:  # noqa: BLE001 - not created
                pass
    print(f"| instance create job (10 GiB disk, started) | median s ({count}) |")
    print("|---|---|")
    print(f"| `ext` archipelago, thin clone of a 10 GiB image | {statistics.median(results['ext']):.2f} |")
    print(f"| `file` (anchor: sparse file, nothing copied) | {statistics.median(results['file']):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instances", type=int, default=3)
    args = parser.parse_args()
    ganeti = sandbox()
    with tempfile.TemporaryDirectory(prefix="bench-extstorage-") as tmp:
        config_path = write_config_file(Path(tmp) / "archipelago", Path(tmp) / "store", block_size=BLOCK)
        store = VolumeStore(archip_config.load(config_path), f"{ganeti['GANETI_NODE_NAME']}/blockerm")
        digest = store.blocks.put(os.urandom(BLOCK))
        origin = store.export_pithos_map("image-10g", [digest] * (10 * GiB // BLOCK), 10 * GiB)
        subprocess.run([str(INSTALL), "--sandbox", "--python", sys.executable, "--archipelago-config",
                        str(config_path), "--host", ganeti["GANETI_NODE_NAME"]], check=True, capture_output=True)
        vlmcd = Vlmcd(config_path, store.config.run_dir, {"ARCHIPELAGO_HOST": ganeti["GANETI_NODE_NAME"]})
        try:
            scripts(Path("/srv/ganeti/extstorage/archipelago"), store, origin, args.runs)
            print()
            instances(ganeti, origin, args.instances)
        finally:
            vlmcd.stop()
            subprocess.run([str(INSTALL), "--uninstall", "--sandbox"], capture_output=True)


if __name__ == "__main__":
    main()
