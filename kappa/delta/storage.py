"""Object-store options of a Delta table: the pipeline's defaults, the table's own, safe S3 commits.

Design note. A pipeline names its object store once (``storage_options`` at the pipeline level:
endpoint, region, keys as ``${env.X}`` references); every Delta table kappa reads or writes on an
object-store URI (sources, sinks of every mode, dead-letter and quarantine tables) takes them,
a source's or sink's own ``storage_options`` overriding them key by key (:func:`table_options`,
applied once by :func:`kappa.plan.build_plan`, so both engines and every checkpoint check see the
same options). Local tables keep only their own options.

Safe concurrent commits on S3. A Delta commit is the creation of ``_delta_log/<version>.json``:
two writers racing for one version must not both succeed. delta-rs 1.x does this on S3 with a
conditional PUT (``If-None-Match: *``; its DynamoDB locking provider is gone in 1.0); kappa asks
for it explicitly (``conditional_put: etag``) on every ``s3://``/``s3a://`` table it writes unless the
options already choose (``conditional_put``/``aws_conditional_put``), so a change of delta-rs's
default cannot silently make concurrent commits unsafe. SeaweedFS (kappa's test server) honours
``If-None-Match: *`` (measured: of 20 concurrent creates of one key exactly one got 200, the
others 412); a store that ignores the header would let the later of two racing commits
overwrite the earlier one, so such a store needs a single writer per table.

>>> table_options("s3://lake/t", {"AWS_REGION": "eu-west-1"}, {"AWS_REGION": "us-east-1", "k": "v"})
{'AWS_REGION': 'eu-west-1', 'k': 'v', 'conditional_put': 'etag'}
>>> table_options("/data/t", {}, {"AWS_REGION": "us-east-1"})
{}
>>> table_options("s3://lake/t", {"aws_conditional_put": "etag"}, {})
{'aws_conditional_put': 'etag'}
>>> table_options("s3://lake/t", {}, {"AWS_REGION": "us-east-1"}, writes=False)  # a source
{'AWS_REGION': 'us-east-1'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: option keys (lower case) that choose how S3 commits are made exclusive
_COMMIT_KEYS = frozenset({"conditional_put", "aws_conditional_put"})
S3_SCHEMES = frozenset({"s3", "s3a"})


def scheme_of(uri: str | None) -> str | None:
    """The URI scheme in lower case (``s3``), None for a local path (``file://`` is local).

    >>> scheme_of("S3://b/t"), scheme_of("/x"), scheme_of("file:///x")
    ('s3', None, None)
    """
    if not uri or "://" not in uri:
        return None
    scheme = uri.split("://", 1)[0].lower()
    return None if scheme == "file" else scheme


def table_options(uri: str | None, own: Mapping[str, Any] | None, pipeline: Mapping[str, Any] | None,
                  writes: bool = True) -> dict[str, Any]:
    """The storage options of the Delta table at ``uri``: on an object store the pipeline's
    defaults updated with the table's ``own``, plus, when kappa ``writes`` it, ``conditional_put:
    etag`` on S3 unless chosen; a local table keeps ``own``. Values stay as written (``${env.X}``
    resolved at use time)."""
    scheme = scheme_of(uri)
    if scheme is None:
        return dict(own or {})
    merged = {**dict(pipeline or {}), **dict(own or {})}
    if writes and scheme in S3_SCHEMES and not any(str(k).lower() in _COMMIT_KEYS for k in merged):
        merged["conditional_put"] = "etag"
    return merged
