"""A Python 3 client for Synnefo (and any upstream-compatible cloud): the library behind the
``kamaki`` command. Start from :class:`Cloud`::

    from synnefo.client import Cloud
    cloud = Cloud("https://host/astakos/identity/v2.0", token)
    cloud.pithos.create_container("images")
    cloud.pithos.upload_file("images", "disk.img", "/tmp/disk.img")
    image = cloud.images.register("Debian", f"pithos://{cloud.account}/images/disk.img")

Every failed call raises :class:`ClientError` with ``status`` and the server's ``message``.
See docs/kamaki.md."""

from synnefo.client.config import Config
from synnefo.client.cyclades import ComputeClient, NetworkClient, VolumeClient
from synnefo.client.http import ClientError
from synnefo.client.identity import AccountClient, IdentityClient
from synnefo.client.pithos import PithosClient
from synnefo.client.plankton import ImageClient
from synnefo.client.session import Cloud
from synnefo.client.transfer import DownloadResult, UploadResult, block_hash, hash_file

__all__ = [
    "AccountClient", "Cloud", "ClientError", "ComputeClient", "Config", "DownloadResult",
    "IdentityClient", "ImageClient", "NetworkClient", "PithosClient", "UploadResult",
    "VolumeClient", "block_hash", "hash_file",
]
