"""Plankton, the image service: an image is a Pithos object plus metadata in the ``plankton``
domain. Served below Cyclades' prefix by two APIs over the same records: Synnefo's image API
v1.0 (kamaki; ``api_v1``) and a Glance v2 subset (the OpenStack clients; ``glance_v2``)."""
