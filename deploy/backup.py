"""`closecall backup DIR` and `closecall restore DIR` (docs/OPERATIONS.md "Back up and restore"):
the control plane with PostgreSQL's own `pg_dump` / `pg_restore`, every ClickHouse table as its
rows, and a manifest. The company keys travel in the control plane, wrapped under the master
key; the master key itself is never written: a restore needs the same CLOSECALL_MASTER_KEY, and
checks it against the manifest before it writes anything.

ClickHouse 18.16 has no `BACKUP`, and `clickhouse-backup` needs the server's own disk: this is
a logical dump instead, each table read block by block over the native protocol (any size in
constant memory) into a gzip file of JSON lines (a row an array; dates, times and UUIDs as
text, turned back by the column's type), restored by INSERT into tables that
`closecall migrate` created, with the materialized views detached meanwhile (the aggregates and
the change feed come from the dump, not again from the views). It works the same on a single
server, a replicated shard and across versions. The embedded local stack (chDB, SQLite) is
backed up by copying its data directory while it is stopped."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import clickhouse, controlplane
from core.health import RELEASE
from core.number_crypto import DecryptionError, new_wrapped_data_key, unwrap_data_key
from core.settings import Settings
from deploy.runtime import resolve_master_key

Progress = Callable[[str], None]
MANIFEST = "manifest.json"
CONTROL_PLANE = "controlplane.dump"
KEY_CHECK = "closecall-backup-key-check"  # sealed under the master key in the manifest


class BackupError(RuntimeError):
    """What stopped a backup or a restore, and what to do about it."""


def backup(settings: Settings, target: Path, progress: Progress) -> dict[str, Any]:
    """Everything needed to rebuild the installation, into the empty directory `target`."""
    store = server_store(settings)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    (target / "clickhouse").mkdir(parents=True, exist_ok=True)
    try:
        progress("control plane: pg_dump")
        run_tool(
            ["pg_dump", "--format=custom", f"--file={target / CONTROL_PLANE}", libpq_url(settings)]
        )
        tables = {}
        for table, columns in table_columns(store).items():
            rows = dump_table(store, table, columns, target / "clickhouse" / f"{table}.jsonl.gz")
            progress(f"clickhouse: {table}: {rows:,} rows")
            tables[table] = {"columns": columns, "rows": rows}
        manifest = {
            "release": RELEASE.version,
            "created_at": datetime.now(UTC).isoformat(),
            "clickhouse_migrations": migration_versions(store),
            "tables": tables,
            "key_check": new_wrapped_data_key(resolve_master_key(settings), KEY_CHECK),
        }
    finally:
        store.close()
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def restore(settings: Settings, source: Path, progress: Progress) -> dict[str, Any]:
    """The backup in `source` into an empty control-plane database and ClickHouse database
    (the services stopped): control plane, ClickHouse at the backup's migrations, its rows,
    then the migrations since."""
    manifest = read_manifest(source)
    try:
        unwrap_data_key(resolve_master_key(settings), KEY_CHECK, manifest["key_check"])
    except DecryptionError as exc:
        raise BackupError(
            "CLOSECALL_MASTER_KEY is not the key this backup was made under: without it no "
            "restored number can be read; set the original key and restore again"
        ) from exc
    store = server_store(settings)
    try:
        refuse_unless_empty(settings, store)
        progress("control plane: pg_restore")
        run_tool(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={libpq_url(settings)}",
                str(source / CONTROL_PLANE),
            ]
        )
        clickhouse.migrate(store, up_to=max(manifest["clickhouse_migrations"], default=0))
        views = [
            row["name"]
            for row in store.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase()"
                " AND engine = 'MaterializedView'"
            )
        ]
        for view in views:  # the dump holds what they wrote
            store.execute(f"DETACH TABLE {view}")
        try:
            for table, facts in manifest["tables"].items():
                rows = load_table(
                    store, table, facts["columns"], source / "clickhouse" / f"{table}.jsonl.gz"
                )
                progress(f"clickhouse: {table}: {rows:,} rows")
        finally:
            for view in views:
                store.execute(f"ATTACH TABLE {view}")
        later = clickhouse.migrate(store)
    finally:
        store.close()
    controlplane.migrate(controlplane.make_engine(settings.database_url))
    return {"release": manifest["release"], "migrations_since": later}


def server_store(settings: Settings) -> clickhouse.ServerClickHouse:
    store = clickhouse.connect(settings.clickhouse_url)
    if not isinstance(store, clickhouse.ServerClickHouse) or not settings.database_url.startswith(
        "postgresql"
    ):
        store.close()
        raise BackupError(
            "backup and restore are for a ClickHouse server and PostgreSQL; the embedded local"
            " stack is backed up by copying its data directory while it is stopped"
        )
    return store


def libpq_url(settings: Settings) -> str:
    """The control plane's URL as PostgreSQL's own tools read it (no SQLAlchemy driver)."""
    url = sa.make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def run_tool(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not installed: install PostgreSQL's client tools")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[-500:]}")


def table_columns(store: clickhouse.ClickHouse) -> dict[str, dict[str, str]]:
    """Each table holding rows (not views): the columns a row is written with (not the ones
    ClickHouse computes) and their types."""
    rows = store.query(
        "SELECT c.table AS table, c.name AS name, c.type AS type FROM system.columns AS c"
        " WHERE c.database = currentDatabase() AND c.default_kind IN ('', 'DEFAULT')"
        " AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND engine LIKE '%%MergeTree' AND name != 'schema_migrations')"
    )
    columns: dict[str, dict[str, str]] = {}
    for row in rows:
        columns.setdefault(row["table"], {})[row["name"]] = row["type"]
    return dict(sorted(columns.items()))


def as_text(value: Any) -> Any:
    """A value in JSON: dates, times and UUIDs as their ISO / canonical text."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def reader(column_type: str) -> Callable[[Any], Any]:
    """What turns a column's JSON value back into what the driver inserts."""
    if column_type.startswith("DateTime"):
        return datetime.fromisoformat
    if column_type == "Date":
        return date.fromisoformat
    if column_type == "UUID":
        return uuid.UUID
    return lambda value: value


def migration_versions(store: clickhouse.ClickHouse) -> list[int]:
    return sorted(
        int(row["version"]) for row in store.query("SELECT version FROM schema_migrations")
    )


def dump_table(
    store: clickhouse.ServerClickHouse, table: str, columns: dict[str, str], path: Path
) -> int:
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as sink:
        for chunk in store.stream(f"SELECT {', '.join(columns)} FROM {table}"):
            sink.writelines(json.dumps([as_text(v) for v in row]) + "\n" for row in chunk)
            count += len(chunk)
    return count


def chunks(path: Path, columns: dict[str, str], rows: int = 50_000) -> Iterator[list[list[Any]]]:
    readers = [reader(column_type) for column_type in columns.values()]
    chunk: list[list[Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as source:
        for line in source:
            chunk.append([read(v) for read, v in zip(readers, json.loads(line), strict=True)])
            if len(chunk) == rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def load_table(
    store: clickhouse.ClickHouse, table: str, columns: dict[str, str], path: Path
) -> int:
    count = 0
    for chunk in chunks(path, columns):
        store.insert(table, list(columns), chunk)
        count += len(chunk)
    return count


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{source} holds no readable {MANIFEST}: is it a closecall backup?"
        ) from exc
    return manifest


def refuse_unless_empty(settings: Settings, store: clickhouse.ClickHouse) -> None:
    engine = controlplane.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    held = [
        table
        for table in table_columns(store)
        if store.query(f"SELECT count() AS n FROM {table}")[0]["n"]
    ]
    if tables or held:
        raise BackupError(
            "restore goes into an empty control-plane database: create a new one (and a new"
            " ClickHouse database) and point CLOSECALL_DATABASE_URL and CLOSECALL_CLICKHOUSE_URL"
            " at them"
        )
