import json


def post_json(client, path, body, content_type="application/json", **meta):
    """POST a JSON body; ``meta`` are WSGI environ keys (HTTP_X_AUTH_TOKEN=..., REMOTE_ADDR=...)."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, **meta)


V2 = "/astakos/identity/v2.0"
V3 = "/astakos/identity/v3"
ACCOUNT = "/astakos/account/v1.0"
