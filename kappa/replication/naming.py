"""Names of a replicated topic: node names, ``tables`` keys and target paths.

Design note. Pure string rules, no broker: what the compiler (:mod:`kappa.replication.compiler`)
derives from a topic name and the envelope's ``source`` block (:mod:`kappa.replication.discovery`).

Target paths. ``{topic}``; ``{prefix}``, ``{schema}`` / ``{db}`` and ``{table}`` come from the
topic name ``<prefix>.<schema>.<table>`` (Postgres) or ``<prefix>.<db>.<table>`` (MySQL; MySQL
has no schemas, so ``{schema}`` is the database); what the name does not tell (Postgres'
``{db}``, topics renamed by a router) comes from the envelope's ``source`` block.
"""

from __future__ import annotations

import re

from kappa.errors import KappaError


def path_names(topic: str, connector: str | None, source: dict | None = None) -> dict[str, str | None]:
    """Values of the path placeholders for ``topic`` (see the module doc).

    >>> path_names("inventory.public.customers", "postgresql", {"db": "shop"})
    {'topic': 'inventory.public.customers', 'prefix': 'inventory', 'db': 'shop', 'schema': 'public', 'table': 'customers'}
    >>> path_names("shop.sales.orders", "mysql")
    {'topic': 'shop.sales.orders', 'prefix': 'shop', 'db': 'sales', 'schema': 'sales', 'table': 'orders'}
    """
    source = source or {}
    names: dict[str, str | None] = {"topic": topic, "prefix": None, "db": None, "schema": None, "table": None}
    parts = topic.split(".")
    if len(parts) >= 3:
        names["prefix"], middle, names["table"] = ".".join(parts[:-2]), parts[-2], parts[-1]
        if connector != "mysql":
            names["schema"] = middle
        if connector != "postgresql":
            names["db"] = middle
    for key in ("db", "schema", "table"):
        if names[key] is None and source.get(key):
            names[key] = str(source[key])
    if connector == "mysql" and names["schema"] is None:
        names["schema"] = names["db"]
    return names


def render_path(template: str, names: dict[str, str | None], what: str) -> str:
    """Fill a path template; raises naming the topic when a placeholder has no value."""
    import string

    used = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    missing = [f for f in used if not names.get(f)]
    if missing:
        raise KappaError(
            f"topic {names['topic']!r}: cannot fill {{{missing[0]}}} of {what} {template!r} (the topic "
            "name is not <prefix>.<schema|db>.<table> and its records do not tell); give the table "
            "a `path` in `tables`"
        )
    return template.format(**{k: v or "" for k, v in names.items()})


def node_name(topic: str, taken: set[str]) -> str:
    """A node name for ``topic``: non-name characters become ``_``; unique within ``taken``.

    >>> node_name("inventory.public.customers", set()), node_name("9.x", {"t_9_x"})
    ('inventory_public_customers', 't_9_x_2')
    """
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", topic)
    if not re.match(r"[A-Za-z_]", name):
        name = f"t_{name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def entry_keys(names: dict[str, str | None]) -> list[str]:
    """The ``tables`` keys that address a topic, most specific first.

    >>> entry_keys(path_names("inventory.public.customers", "postgresql", {"db": "shop"}))
    ['inventory.public.customers', 'public.customers', 'shop.customers', 'customers']
    """
    table = names["table"]
    keys = [names["topic"]]
    if table:
        keys += [f"{names[p]}.{table}" for p in ("schema", "db") if names[p]] + [table]
    return [k for k in dict.fromkeys(keys) if k]
