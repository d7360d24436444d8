from django.apps import AppConfig


class ArchipelagoConfig(AppConfig):
    name = "synnefo.archipelago"
    label = "archipelago"
    verbose_name = "Block storage (Archipelago)"

    def ready(self):
        # Volume and snapshot maps reference Pithos blocks: the block GC must see them.
        from synnefo.archipelago.pithos import volume_maps
        from synnefo.pithos.backend import gc

        if volume_maps not in gc.MAP_SOURCES:
            gc.MAP_SOURCES.append(volume_maps)
