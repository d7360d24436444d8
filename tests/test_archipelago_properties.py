"""Properties of clone / copy-on-write / snapshot / resize against a reference byte model.

The model is a bytearray per volume and an immutable bytes per snapshot. Every operation is run
on the store and on the model; after each step every volume and snapshot must read back exactly
as the model says, and refused operations must change nothing."""

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from synnefo.archipelago import mapfile
from synnefo.archipelago.store import VolumeError
from tests.archip_helpers import make_store

BLOCK = 512
MAX_SIZE = 6 * BLOCK
sizes = st.integers(min_value=1, max_value=MAX_SIZE)
patterns = st.binary(min_size=1, max_size=2 * BLOCK + 3)


class VolumeModel(RuleBasedStateMachine):
    volumes = Bundle("volumes")
    snapshots = Bundle("snapshots")

    def __init__(self):
        super().__init__()
        self.store = self.make_store()
        self.model: dict[str, bytearray] = {}
        self.frozen: dict[str, bytes] = {}
        self.counter = 0
        # Names unique to this run: a RADOS store's pools outlive it.
        self.tag = secrets.token_hex(3)

    def make_store(self):
        self.root = Path(tempfile.mkdtemp(prefix="archip-props-"))
        return make_store(self.root, block_size=BLOCK)

    def teardown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh(self, prefix):
        self.counter += 1
        return f"{self.tag}{prefix}{self.counter}"

    @rule(target=volumes, size=sizes)
    def create(self, size):
        name = self.fresh("v")
        self.store.create(name, size)
        self.model[name] = bytearray(size)
        return name

    @rule(target=volumes, snapshot=snapshots, grow=st.integers(min_value=0, max_value=2 * BLOCK))
    def clone(self, snapshot, grow):
        name = self.fresh("c")
        size = len(self.frozen[snapshot]) + grow
        map_writes, object_writes = self.store.stats.map_writes, self.store.stats.object_writes
        self.store.clone(name, snapshot, size)
        # A clone is one map write and copies no data, whatever the size.
        assert self.store.stats.map_writes == map_writes + 1 and self.store.stats.object_writes == object_writes
        self.model[name] = bytearray(self.frozen[snapshot]) + bytearray(grow)
        return name

    @rule(volume=volumes, offset=st.integers(min_value=0, max_value=MAX_SIZE + BLOCK), data=patterns)
    def write(self, volume, offset, data):
        model = self.model[volume]
        if offset + len(data) > len(model):
            before = self.store.map_of(volume)
            with pytest.raises(VolumeError, match="beyond the end"):
                self.store.write(volume, offset, data)
            assert self.store.map_of(volume) == before
            return
        self.store.write(volume, offset, data)
        model[offset : offset + len(data)] = data

    @rule(target=snapshots, volume=volumes)
    def snapshot(self, volume):
        name = self.fresh("s")
        epoch = self.store.map_of(volume).epoch
        self.store.snapshot(volume, name)
        self.frozen[name] = bytes(self.model[volume])
        volume_map = self.store.map_of(volume)
        assert volume_map.epoch == epoch + 1
        assert not any(isinstance(entry, str) for entry in volume_map.entries)  # all frozen
        return name

    @rule(volume=volumes, grow=st.integers(min_value=0, max_value=3 * BLOCK))
    def resize(self, volume, grow):
        self.store.resize(volume, len(self.model[volume]) + grow)
        self.model[volume] += bytearray(grow)

    @rule(volume=volumes)
    def shrink_is_refused(self, volume):
        size = len(self.model[volume])
        if size > 1:
            with pytest.raises(VolumeError, match="cannot shrink"):
                self.store.resize(volume, size - 1)

    @rule(volume=consumes(volumes))
    def remove_volume(self, volume):
        if self.store.locks.get(volume):  # writes opened it
            self.store.close(volume)
        self.store.remove(volume)
        del self.model[volume]
        pattern = mapfile.object_pattern(volume)
        assert not any(pattern.fullmatch(name) for name, _ in self.store.storage.objects())

    @rule(snapshot=consumes(snapshots))
    def remove_snapshot(self, snapshot):
        self.store.remove(snapshot)
        del self.frozen[snapshot]

    @rule(volume=volumes, offset=st.integers(min_value=0, max_value=MAX_SIZE), length=st.integers(0, 2 * BLOCK))
    def partial_read(self, volume, offset, length):
        model = self.model[volume]
        if offset + length > len(model):
            with pytest.raises(VolumeError):
                self.store.read(volume, offset, length)
        else:
            assert self.store.read(volume, offset, length) == bytes(model[offset : offset + length])

    @invariant()
    def every_volume_and_snapshot_reads_as_the_model(self):
        for name, data in list(self.model.items()) + list(self.frozen.items()):
            assert self.store.read(name, 0, len(data)) == bytes(data), name

    @invariant()
    def writable_objects_belong_to_live_volumes_of_the_current_epoch(self):
        owned = set()
        for name in self.model:
            volume_map = self.store.map_of(name)
            owned.update(e for e in volume_map.entries if isinstance(e, str))
            for entry in volume_map.entries:
                if isinstance(entry, str):
                    assert entry.startswith(f"{name}_{volume_map.epoch:016x}_")
        stored = {name for name, _ in self.store.storage.objects() if name.startswith(self.tag)}
        assert stored == owned


VolumeModel.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_volume_model = VolumeModel.TestCase
