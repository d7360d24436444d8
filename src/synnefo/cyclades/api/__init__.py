"""HTTP APIs of Cyclades (compute; later network, image, volume)."""
