"""The checkpoint's one seam to object storage: small objects on ``s3://`` checkpoint roots.

Design note. A local checkpoint root keeps its exact code paths (atomic renames, ``fsync``,
``flock``): every caller asks :func:`is_remote` first and only an ``s3://``/``s3a://`` root comes
here. Object storage has no rename and no directories, so this module offers only what S3 does
atomically, on whole objects: :func:`get`, :func:`put` (a plain PUT replaces an object atomically:
a reader sees the old or the new bytes, never half), :func:`create` (a conditional PUT with
``If-None-Match: *``: the first writer wins, the others get False), :func:`put_if` (``If-Match``
an ETag: a compare-and-swap, for the run lease of :mod:`kappa.checkpoint.lease`), :func:`names`
(the immediate children of a "folder", i.e. a key prefix), :func:`exists` and
:func:`delete_tree`. The client is `obstore <https://developmentseed.org/obstore>`_ (Rust's
``object_store``, the crate delta-rs uses), with ``conditional_put: etag``; SeaweedFS (the test
server) honours both preconditions (measured: a second create and a stale ``If-Match`` answer
HTTP 412).

Options. A pipeline names its object store once (``storage_options``, ``${env.X}`` secrets
resolved at use time): :func:`kappa.plan.build_plan` :func:`register`\\ s them for its remote
checkpoint root, and every store for a URI under that root uses them (delta-rs-style keys such as
``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP`` are mapped to obstore's). Without registered options
obstore reads the ``AWS_*`` environment variables, like delta-rs.

>>> is_remote("s3://lake/ck"), is_remote("/data/ck"), is_remote("file:///data/ck")
(True, False, False)
>>> split("s3://lake/ck/pl/n/replay")
('lake', 'ck/pl/n/replay')
>>> sorted(s3_settings({"AWS_ENDPOINT_URL": "http://h:1", "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"})[0].items())
[('conditional_put', 'etag'), ('endpoint', 'http://h:1')]
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

REMOTE_SCHEMES = frozenset({"s3", "s3a"})
#: obstore's S3 configuration keys (lower case, without ``aws_``) kappa passes on
_S3_KEYS = frozenset({
    "access_key_id", "secret_access_key", "session_token", "token", "region", "default_region", "endpoint", "bucket",
    "conditional_put", "virtual_hosted_style_request", "skip_signature", "unsigned_payload", "request_payer",
    "role_arn", "role_session_name", "web_identity_token_file", "sts_endpoint", "metadata_endpoint",
    "server_side_encryption", "sse_kms_key_id", "sse_bucket_key_enabled", "checksum_algorithm",
})
_ALIASES = {"endpoint_url": "endpoint", "token": "session_token", "default_region": "region"}
_CLIENT_KEYS = frozenset({"allow_http", "allow_invalid_certificates", "timeout", "connect_timeout", "proxy_url"})

_lock = threading.Lock()
_registered: dict[str, Mapping[str, Any]] = {}  # checkpoint root URI -> its storage options (as written)
_stores: dict[tuple, Any] = {}


def is_remote(path: Any) -> bool:
    """True for an object-store URI kappa keeps checkpoints on (``s3://``, ``s3a://``)."""
    text = str(path)
    return "://" in text and text.split("://", 1)[0].lower() in REMOTE_SCHEMES


def split(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key`` (no leading or trailing ``/`` on the key)."""
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


def register(root: str, options: Mapping[str, Any] | None) -> None:
    """Use ``options`` (a pipeline's ``storage_options``) for every URI under checkpoint ``root``."""
    if is_remote(root):
        with _lock:
            _registered[root.rstrip("/")] = dict(options or {})


def _options_for(uri: str) -> dict[str, Any]:
    from kappa.plan_kinds import resolve_secrets

    with _lock:
        roots = [r for r in _registered if uri == r or uri.startswith(r + "/")]
        chosen = _registered[max(roots, key=len)] if roots else {}
    return dict(resolve_secrets(chosen) or {})


def s3_settings(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """obstore's ``(config, client_options)`` from delta-rs-style storage options (other keys,
    e.g. delta-rs's own ``AWS_S3_ALLOW_UNSAFE_RENAME``, are not the checkpoint's business)."""
    config: dict[str, Any] = {"conditional_put": "etag"}
    client: dict[str, Any] = {}
    for raw, value in options.items():
        key = str(raw).lower()
        key = key[4:] if key.startswith("aws_") else key
        key = _ALIASES.get(key, key)
        if key in _CLIENT_KEYS:
            client[key] = str(value).lower() in ("1", "true", "yes") if key.startswith("allow_") else str(value)
        elif key in _S3_KEYS:
            config[key] = value
    return config, client


def _store(uri: str) -> tuple[Any, str]:
    """The obstore store of ``uri``'s bucket (cached per bucket and options) and the key."""
    from obstore.store import S3Store

    bucket, key = split(uri)
    config, client = s3_settings(_options_for(uri))
    cache = (bucket, tuple(sorted((k, str(v)) for k, v in config.items())), tuple(sorted(client.items())))
    with _lock:
        store = _stores.get(cache)
        if store is None:
            store = _stores[cache] = S3Store(bucket, config=config, client_options=client or None)
    return store, key


def get(uri: str) -> bytes | None:
    """The object's bytes, None when it does not exist."""
    found = get_tagged(uri)
    return None if found is None else found[0]


def get_tagged(uri: str) -> tuple[bytes, str] | None:
    """The object's bytes and ETag, None when it does not exist."""
    import obstore

    store, key = _store(uri)
    try:
        result = obstore.get(store, key)
    except FileNotFoundError:
        return None
    return bytes(result.bytes()), str(result.meta.get("e_tag"))


def put(uri: str, data: bytes) -> str:
    """Replace (or create) the object; returns its ETag."""
    import obstore

    store, key = _store(uri)
    return str(obstore.put(store, key, data).get("e_tag"))


def create(uri: str, data: bytes) -> bool:
    """Create the object unless it exists (``If-None-Match: *``); False when another writer was first."""
    import obstore
    from obstore.exceptions import AlreadyExistsError, PreconditionError

    store, key = _store(uri)
    try:
        obstore.put(store, key, data, mode="create")
    except (AlreadyExistsError, PreconditionError):
        return False
    return True


def create_tagged(uri: str, data: bytes) -> str | None:
    """:func:`create` returning the new ETag (None when another writer was first)."""
    import obstore
    from obstore.exceptions import AlreadyExistsError, PreconditionError

    store, key = _store(uri)
    try:
        return str(obstore.put(store, key, data, mode="create").get("e_tag"))
    except (AlreadyExistsError, PreconditionError):
        return None


def put_if(uri: str, data: bytes, etag: str) -> str | None:
    """Replace the object only if its ETag is still ``etag`` (``If-Match``); the new ETag, or
    None when it changed (or vanished) in between."""
    import obstore
    from obstore.exceptions import PreconditionError

    store, key = _store(uri)
    try:
        return str(obstore.put(store, key, data, mode={"e_tag": etag}).get("e_tag"))
    except (PreconditionError, FileNotFoundError):
        return None


def _listing(uri: str) -> tuple[list[str], list[str]]:
    import obstore

    store, key = _store(uri)
    found = obstore.list_with_delimiter(store, prefix=key + "/" if key else None)
    cut = len(key) + 1 if key else 0
    files = [o["path"][cut:] for o in found["objects"]]
    folders = [p[cut:].rstrip("/") for p in found["common_prefixes"]]
    return files, folders


def _any_under(store: Any, prefix: str) -> bool:
    """True when at least one object has a key under ``prefix`` (one page of a lazy listing)."""
    import obstore

    for batch in obstore.list(store, prefix=prefix, chunk_size=1):
        return bool(batch)
    return False


def names(uri: str) -> list[str]:
    """Names of the objects directly under ``uri`` (a folder): its files."""
    return _listing(uri)[0]


def folders(uri: str) -> list[str]:
    """Names of the "sub-folders" directly under ``uri``: common key prefixes holding an object
    (SeaweedFS also lists the empty directories its filer keeps after a delete)."""
    store, key = _store(uri)
    base = key + "/" if key else ""
    return [f for f in _listing(uri)[1] if _any_under(store, f"{base}{f}/")]


def exists(uri: str) -> bool:
    """True when ``uri`` is an object or a non-empty folder."""
    import obstore

    store, key = _store(uri)
    try:
        obstore.head(store, key)
        return True
    except FileNotFoundError:
        pass
    return _any_under(store, key + "/")


def delete_tree(uri: str) -> None:
    """Delete every object under ``uri`` (and ``uri`` itself)."""
    import obstore

    store, key = _store(uri)
    keys = [o["path"] for batch in obstore.list(store, prefix=key + "/") for o in batch]
    if keys:
        obstore.delete(store, keys)
    try:
        obstore.delete(store, key)
    except FileNotFoundError:
        pass
