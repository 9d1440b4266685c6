"""Constant-time tenant schema provisioning.

`migrate_schemas` per tenant costs more with every migration file, and django-tenants'
`clone_schema` slows down as schemas accumulate (its catalog queries scan every schema). Instead
the template schema is kept migrated, its DDL is read once per migration state from the
PostgreSQL catalog, and a new schema is that DDL replayed in one round trip plus a copy of the
template's rows (django_migrations, content types), all inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists

from tenants.models import SchemaTemplate

PLACEHOLDER = "__tillbridge_schema__"
SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TEMPLATE_LOCK_ID = 0x7B1D6E  # pg advisory lock: one process migrates/captures the template at a time


class ProvisioningError(Exception):
    pass


def template_schema_name() -> str:
    return settings.TENANT_TEMPLATE_SCHEMA


@lru_cache(maxsize=1)
def migration_key() -> str:
    """A digest of every migration the code knows; a new migration file gives a new key."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    nodes = sorted(f"{app}.{name}" for app, name in loader.graph.nodes)
    return hashlib.sha256("\n".join(nodes).encode()).hexdigest()


def template_migrate() -> None:
    """Create the template schema if needed and bring it up to date with migrate_schemas' executor."""
    name = template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def template_ensure() -> SchemaTemplate:
    """The captured template for the current code, migrating and capturing first when stale."""
    key = migration_key()
    snapshot = SchemaTemplate.objects.filter(migration_key=key).first()
    if snapshot is not None and schema_exists(template_schema_name()):
        return snapshot
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_TEMPLATE_LOCK_ID])
    try:
        snapshot = SchemaTemplate.objects.filter(migration_key=key).first()
        if snapshot is not None and schema_exists(template_schema_name()):
            return snapshot
        template_migrate()
        return template_capture(key=key)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_TEMPLATE_LOCK_ID])


def _qualify(sql: str, schema: str) -> str:
    return re.sub(rf'(?<![\w"])"?{re.escape(schema)}"?\.', f'"{PLACEHOLDER}".', sql)


def _catalog(cursor, query: str, schema: str) -> list[tuple]:
    cursor.execute(query, [schema])
    return cursor.fetchall()


_UNSUPPORTED = """
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('v', 'm', 'p', 'f', 'c')
UNION ALL
SELECT t.typname, 'type' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %s AND t.typtype IN ('e', 'd', 'r')
"""
_SEQUENCES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'S'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
ORDER BY c.oid
"""
_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.oid
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
       pg_get_expr(ad.adbin, ad.adrelid),
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND con.contype IN ('p', 'u', 'c', 'x', 'f')
ORDER BY CASE con.contype WHEN 'f' THEN 1 ELSE 0 END, con.oid
"""
_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                                     AND con.contype IN ('p', 'u', 'x'))
ORDER BY i.indexrelid
"""
_FUNCTIONS = """
SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s ORDER BY p.oid
"""
_TRIGGERS = """
SELECT pg_get_triggerdef(tg.oid) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT tg.tgisinternal ORDER BY tg.oid
"""


def _column_sql(column: tuple) -> str:
    name, type_sql, not_null, identity, generated, default, collation = column
    parts = [f'"{name}"', type_sql]
    if collation:
        parts.append(f'COLLATE "{collation}"')
    if generated == "s":
        parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
    elif identity == "a":
        parts.append("GENERATED ALWAYS AS IDENTITY")
    elif identity == "d":
        parts.append("GENERATED BY DEFAULT AS IDENTITY")
    elif default is not None:
        parts.append(f"DEFAULT {default}")
    if not_null:
        parts.append("NOT NULL")
    return " ".join(parts)


def template_capture(*, key: str) -> SchemaTemplate:
    """Read the template schema's DDL from the catalog and store it for this migration state."""
    schema = template_schema_name()
    statements: list[str] = []
    copy_tables: list[list[str | None]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        previous_path = cursor.fetchone()[0]
        # Only the template on the path: references to it print unqualified, to public qualified.
        cursor.execute(f'SET LOCAL search_path TO "{schema}"')
        cursor.execute(_UNSUPPORTED, [schema, schema])
        unsupported = cursor.fetchall()
        if unsupported:
            raise ProvisioningError(f"The template schema holds objects the provisioner cannot replay: {unsupported}")
        for (sequence,) in _catalog(cursor, _SEQUENCES, schema):
            statements.append(f'CREATE SEQUENCE "{PLACEHOLDER}"."{sequence}"')
        for oid, table in _catalog(cursor, _TABLES, schema):
            cursor.execute(_COLUMNS, [oid])
            columns = cursor.fetchall()
            body = ", ".join(_column_sql(column) for column in columns)
            statements.append(f'CREATE TABLE "{PLACEHOLDER}"."{table}" ({body})')
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{schema}"."{table}")')
            if cursor.fetchone()[0]:
                identity = next((column[0] for column in columns if column[3] in ("a", "d")), None)
                copy_tables.append([table, identity])
        for table, name, _kind, definition in _catalog(cursor, _CONSTRAINTS, schema):
            statements.append(
                f'ALTER TABLE "{PLACEHOLDER}"."{table}" ADD CONSTRAINT "{name}" {_qualify(definition, schema)}'
            )
        for (definition,) in _catalog(cursor, _INDEXES, schema):
            statements.append(_qualify(definition, schema))
        for (definition,) in _catalog(cursor, _FUNCTIONS, schema):
            statements.append(_qualify(definition, schema))
        for (definition,) in _catalog(cursor, _TRIGGERS, schema):
            statements.append(_qualify(definition, schema))
        cursor.execute(f"SET LOCAL search_path TO {previous_path}")
        snapshot, _ = SchemaTemplate.objects.update_or_create(
            migration_key=key, defaults={"ddl": ";\n".join(statements) + ";", "copy_tables": copy_tables}
        )
    return snapshot


@dataclass(frozen=True)
class ProvisionResult:
    schema_name: str
    statements: int
    rows_copied: int


def schema_provision(*, schema_name: str, snapshot: SchemaTemplate | None = None) -> ProvisionResult:
    """Create `schema_name` as an exact copy of the migrated template. Runs in the caller's
    transaction, so a failure later in tenant creation leaves no schema behind."""
    if not SCHEMA_NAME_RE.match(schema_name) or schema_name in ("public", template_schema_name()):
        raise ProvisioningError(f"{schema_name!r} is not a usable schema name.")
    snapshot = snapshot or template_ensure()
    template = template_schema_name()
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        previous_path = cursor.fetchone()[0]
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        cursor.execute(f'SET LOCAL search_path TO "{schema_name}"')
        cursor.execute(snapshot.ddl.replace(PLACEHOLDER, schema_name))
        for table, identity in snapshot.copy_tables:
            override = " OVERRIDING SYSTEM VALUE" if identity else ""
            cursor.execute(f'INSERT INTO "{schema_name}"."{table}"{override} SELECT * FROM "{template}"."{table}"')
            rows += cursor.rowcount
            if identity:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f'COALESCE((SELECT max("{identity}") FROM "{schema_name}"."{table}"), 1))',
                    [f'"{schema_name}"."{table}"', identity],
                )
        cursor.execute(f"SET LOCAL search_path TO {previous_path}")
    return ProvisionResult(schema_name=schema_name, statements=snapshot.ddl.count(";\n") + 1, rows_copied=rows)


def schema_drop(*, schema_name: str) -> None:
    if not SCHEMA_NAME_RE.match(schema_name) or schema_name in ("public", template_schema_name()):
        raise ProvisioningError(f"Refusing to drop schema {schema_name!r}.")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def schema_describe(*, schema_name: str) -> dict[str, object]:
    """Everything that must match between a provisioned and a migrated schema, with the schema
    name factored out: tables and columns, constraints, indexes, triggers, functions, migrations."""
    with connection.cursor() as cursor:
        tables = {}
        for oid, table in _catalog(cursor, _TABLES, schema_name):
            cursor.execute(_COLUMNS, [oid])
            tables[table] = [
                (*column[:5], _qualify(column[5], schema_name) if column[5] else None, column[6])
                for column in cursor.fetchall()
            ]
        constraints = sorted(
            (table, name, kind, _qualify(definition, schema_name))
            for table, name, kind, definition in _catalog(cursor, _CONSTRAINTS, schema_name)
        )
        indexes = sorted(_qualify(row[0], schema_name) for row in _catalog(cursor, _INDEXES, schema_name))
        triggers = sorted(_qualify(row[0], schema_name) for row in _catalog(cursor, _TRIGGERS, schema_name))
        functions = sorted(_qualify(row[0], schema_name) for row in _catalog(cursor, _FUNCTIONS, schema_name))
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations ORDER BY app, name')
        migrations = cursor.fetchall()
    return {
        "tables": tables,
        "constraints": constraints,
        "indexes": indexes,
        "triggers": triggers,
        "functions": functions,
        "migrations": migrations,
    }
