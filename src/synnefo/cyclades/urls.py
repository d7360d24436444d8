"""URLs of Cyclades, below its prefix (``/cyclades`` by default). API paths take an optional
trailing slash, since clients differ on it."""

from django.urls import re_path

from synnefo.cyclades.api import compute, networks, servers, volumes
from synnefo.plankton import api_v1 as plankton_v1, glance_v2

V = r"(?P<version>v2\.[01])"

urlpatterns = [
    re_path(r"^compute/?$", compute.versions),
    re_path(rf"^compute/{V}/?$", compute.version),
    re_path(rf"^compute/{V}/flavors/?$", compute.list_flavors),
    re_path(rf"^compute/{V}/flavors/(?P<detail>detail)/?$", compute.list_flavors),
    re_path(rf"^compute/{V}/flavors/(?P<flavor_id>[^/]+)/?$", compute.show_flavor),
    re_path(rf"^compute/{V}/flavors/(?P<flavor_id>[^/]+)/os-extra_specs/?$", compute.flavor_extra_specs),
    re_path(rf"^compute/{V}/images/?$", compute.list_images),
    re_path(rf"^compute/{V}/images/(?P<detail>detail)/?$", compute.list_images),
    re_path(rf"^compute/{V}/images/(?P<image_id>[^/]+)/?$", compute.image),
    re_path(rf"^compute/{V}/images/(?P<image_id>[^/]+)/metadata/?$", compute.image_metadata),
    re_path(rf"^compute/{V}/images/(?P<image_id>[^/]+)/metadata/(?P<key>[^/]+)/?$", compute.image_metadata_item),
    re_path(rf"^compute/{V}/servers/?$", servers.servers_view),
    re_path(rf"^compute/{V}/servers/(?P<detail>detail)/?$", servers.servers_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/?$", servers.server_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/action/?$", servers.action_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/metadata/?$", servers.metadata_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/metadata/(?P<key>[^/]+)/?$", servers.metadata_item_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/ips/?$", servers.ips_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/diagnostics/?$", servers.diagnostics_view),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/os-volume_attachments/?$", volumes.server_attachments),
    re_path(rf"^compute/{V}/servers/(?P<server_id>[^/]+)/os-volume_attachments/(?P<volume_id>[^/]+)/?$",
            volumes.server_attachment),
    re_path(rf"^compute/{V}/os-keypairs/?$", servers.keypairs_view),
    re_path(rf"^compute/{V}/os-keypairs/(?P<name>[^/]+)/?$", servers.keypair_view),
    re_path(rf"^compute/{V}/(?P<rest>.*)$", compute.unknown),
    re_path(r"^vmapi/v1\.0/server-params/(?P<key>[A-Za-z0-9_-]+)/?$", servers.server_params_view),
]

# Networks (Neutron v2.0 style).
N = r"network/v2\.0"
urlpatterns += [
    re_path(r"^network/?$", networks.versions),
    re_path(rf"^{N}/?$", networks.version),
    re_path(rf"^{N}/extensions/?$", networks.extensions),
    re_path(rf"^{N}/networks/?$", networks.networks_view),
    re_path(rf"^{N}/networks/(?P<detail>detail)/?$", networks.networks_view),
    re_path(rf"^{N}/networks/(?P<network_id>[^/]+)/?$", networks.network_view),
    re_path(rf"^{N}/networks/(?P<network_id>[^/]+)/action/?$", networks.network_action),
    re_path(rf"^{N}/subnets/?$", networks.subnets_view),
    re_path(rf"^{N}/subnets/(?P<subnet_id>[^/]+)/?$", networks.subnet_view),
    re_path(rf"^{N}/ports/?$", networks.ports_view),
    re_path(rf"^{N}/ports/(?P<port_id>[^/]+)/?$", networks.port_view),
    re_path(rf"^{N}/floatingips/?$", networks.floating_ips_view),
    re_path(rf"^{N}/floatingips/(?P<ip_id>[^/]+)/?$", networks.floating_ip_view),
    re_path(rf"^{N}/floatingips/(?P<ip_id>[^/]+)/action/?$", networks.floating_ip_action),
    re_path(rf"^{N}/(?P<rest>.*)$", networks.unknown),
]

# Images: Synnefo's v1.0 (kamaki) and Glance v2 (openstack), over the same Plankton records.
urlpatterns += [
    re_path(r"^image/v1\.0/images/?$", plankton_v1.images),
    re_path(r"^image/v1\.0/images/(?P<detail>detail)/?$", plankton_v1.images),
    re_path(r"^image/v1\.0/images/(?P<image_id>[^/]+)/?$", plankton_v1.image),
    re_path(r"^image/v1\.0/images/(?P<image_id>[^/]+)/members/?$", plankton_v1.members),
    re_path(r"^image/v1\.0/images/(?P<image_id>[^/]+)/members/(?P<member_id>[^/]+)/?$", plankton_v1.member),
    re_path(r"^image/v1\.0/shared-images/(?P<member_id>[^/]+)/?$", plankton_v1.shared_images),
    re_path(r"^image/?$", glance_v2.versions),
    re_path(r"^image/v2/?$", glance_v2.versions),
    re_path(r"^image/v2/images/?$", glance_v2.images),
    re_path(r"^image/v2/images/(?P<image_id>[^/]+)/?$", glance_v2.image),
    re_path(r"^image/v2/images/(?P<image_id>[^/]+)/file/?$", glance_v2.image_file),
]

# Volumes: Cinder v3 below the project (openstack) and Synnefo's v2.0 (kamaki), same views.
VOL = r"volume/(?:(?P<version>v2\.0)|(?P<v3>v3)/(?P<project>[^/]+))"
urlpatterns += [
    re_path(r"^volume/?$", volumes.versions),
    re_path(r"^volume/(?P<version>v2\.0|v3)/?$", volumes.version),
]
for pattern, view in [
    (r"volumes/?", volumes.volumes_view),
    (r"volumes/(?P<detail>detail)/?", volumes.volumes_view),
    (r"volumes/(?P<volume_id>[^/]+)/?", volumes.volume_view),
    (r"volumes/(?P<volume_id>[^/]+)/action/?", volumes.volume_action),
    (r"volumes/(?P<ident>[^/]+)/metadata/?", volumes.volume_metadata),
    (r"volumes/(?P<ident>[^/]+)/metadata/(?P<key>[^/]+)/?", volumes.volume_metadata_item),
    (r"types/?", volumes.types_view),
    (r"types/(?P<type_id>[^/]+)/?", volumes.type_view),
    (r"snapshots/?", volumes.snapshots_view),
    (r"snapshots/(?P<detail>detail)/?", volumes.snapshots_view),
    (r"snapshots/(?P<snapshot_id>[^/]+)/?", volumes.snapshot_view),
    (r"snapshots/(?P<ident>[^/]+)/metadata/?", volumes.snapshot_metadata),
    (r"snapshots/(?P<ident>[^/]+)/metadata/(?P<key>[^/]+)/?", volumes.snapshot_metadata_item),
]:
    urlpatterns.append(re_path(rf"^{VOL}/{pattern}$", volumes.versioned(view)))
urlpatterns.append(re_path(r"^volume/(?P<rest>.*)$", volumes.unknown))
