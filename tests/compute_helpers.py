"""A small cloud for compute tests: a user with an image, flavors, and a simulated Ganeti
backend whose events are applied by the dispatcher's own callbacks (in the test's database)."""

import json
import threading
import uuid
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command

from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.logic import callbacks
from synnefo.cyclades.models import Backend, Flavor, VolumeType
from tests.pithos_helpers import Store



class ListPublisher:
    def __init__(self):
        self.lock = threading.Lock()
        self.published = []

    def publish(self, routing_key, body, exchange=None, headers=None):
        with self.lock:
            self.published.append((routing_key, body))


@dataclass
class Cloud:
    client: object
    user: object
    token: str
    image_id: str
    flavors: list
    backend: Backend
    cluster: simulated.SimulatedCluster
    publisher: ListPublisher
    on_commit: object
    applied: int = 0
    results: list = field(default_factory=list)

    def call(self, method, path, body=None, token=None, version="v2.0", api="compute"):
        """A request to ``/cyclades/<api>/<version><path>`` (``api="volume", version="v3/<project>"``)."""
        data = b"" if body is None else json.dumps(body).encode()
        with self.on_commit(execute=True):
            return self.client.generic(method, f"/cyclades/{api}/{version}" + path, data=data,
                                       content_type="application/json", HTTP_X_AUTH_TOKEN=token or self.token)

    def settle(self, timeout=10.0):
        """Wait for every submitted job to end, then apply the events, as the dispatcher would."""
        rapi = simulated.SimulatedRapiClient(self.cluster)
        for job_id in list(self.cluster.jobs):
            rapi.wait_for_job(job_id, timeout=timeout, interval=0.01, raise_on_error=False)
        self.apply_events()

    def apply_events(self):
        with self.publisher.lock:
            pending = self.publisher.published[self.applied:]
            self.applied += len(pending)
        for _, msg in pending:
            with self.on_commit(execute=True):
                self.results.append(callbacks.handler_for(msg)(msg))


def register_image(client, store, name="Debian", path="images/debian.diskdump", data=b"image" * 100, **properties):
    assert store.call("PUT", "/" + path.split("/")[0]).status_code in (201, 202)
    assert store.call("PUT", "/" + path, data).status_code == 201
    headers = {"HTTP_X_IMAGE_META_NAME": name, "HTTP_X_IMAGE_META_LOCATION": f"pithos://{store.user.uuid}/{path}"}
    headers.update({f"HTTP_X_IMAGE_META_PROPERTY_{k.upper()}": v for k, v in properties.items()})
    r = client.generic("POST", "/cyclades/image/v1.0/images/", data=b"", HTTP_X_AUTH_TOKEN=store.token, **headers)
    assert r.status_code == 200, r.content
    return r["X-Image-Meta-Id"]


@pytest.fixture
def cloud(client, alice, small_blocks, django_capture_on_commit_callbacks, settings):
    user, _, token = alice
    store = Store(client, user, token, on_commit=django_capture_on_commit_callbacks)
    image_id = register_image(client, store, osfamily="linux", users="root")
    vt = VolumeType.objects.create(name="Standard", disk_template="drbd")
    call_command("flavor-create", "1,2", "1024,2048", "1", str(vt.id), stdout=None)
    flavors = list(Flavor.objects.order_by("cpu", "ram"))
    name = f"sim-{uuid.uuid4().hex[:8]}"
    publisher = ListPublisher()
    cluster = simulated.SimulatedCluster(name, speed=0.01, publisher=publisher)
    simulated._clusters[name] = cluster
    backend = Backend.objects.create(clustername=name, host=simulated.SIMULATED_HOST, drained=False, public=True,
                                     hypervisor="fake")
    call_command("backend-update-status", str(backend.id), stdout=None)
    backend.refresh_from_db()
    yield Cloud(client, user, token, image_id, flavors, backend, cluster, publisher, django_capture_on_commit_callbacks)
    simulated._clusters.pop(name, None)
