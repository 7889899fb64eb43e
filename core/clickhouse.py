"""ClickHouse access: one interface, two backends running the same SQL (embedded chDB and a
ClickHouse server through clickhouse-driver), chosen by CLOSECALL_CLICKHOUSE_URL; and migrations,
on one server or on every replica of a replicated shard (`Replication`)."""

from __future__ import annotations

import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from core.clock import utc_now
from core.redaction import redact_url
from schemas.migrations import Migration, numbered_migrations, ready

log = logging.getLogger(__name__)

Param = str | int | float | bool | tuple[Any, ...] | list[Any]
# values in one IN list of keys: a server parses at most max_query_size (256 KiB) of a query,
# which a worker's batch of call ids went over at ~10,000 (found draining into 18.16)
IN_LIST_LIMIT = 2_000

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
}
_TRANSLATION = str.maketrans(_ESCAPES)  # one C pass per string (a page's keys: 1,000 of them)


def quote(value: Param) -> str:
    """A SQL literal both engines read the same way. Times travel as Unix seconds (ints)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.translate(_TRANSLATION) + "'"
    if isinstance(value, tuple | list):
        if not value:
            raise ValueError("empty collections are not valid SQL literals; branch in the query")
        return "(" + ", ".join(quote(item) for item in value) + ")"
    raise TypeError(f"unsupported query parameter type {type(value).__name__}")


def greatest(terms: Sequence[str]) -> str:
    """The largest of the SQL terms ("0": none; nested: ClickHouse 18.16's greatest takes two)."""
    if not terms:
        return "0"
    out = terms[0]
    for term in terms[1:]:
        out = f"greatest({out}, {term})"
    return out


def render(sql: str, params: Mapping[str, Param]) -> str:
    """Substitute %(name)s placeholders with quoted literals (SELECTs only; inserts send rows)."""
    return sql % {name: quote(value) for name, value in params.items()}


# The dedup key of every ReplacingMergeTree here never spans partitions (a call's week is
# fixed), so FINAL may merge each partition on its own: 5-8x faster reports. Servers without
# the setting (18.16) merge across partitions, with the same results.
FINAL_WITHIN_PARTITIONS = "do_not_merge_across_partitions_select_final"


# ClickHouse error codes that mean "not now" (overload, timeouts, network, read-only replica),
# not "never": an insert failing with one of them is retried, never dead-lettered.
TRANSIENT_ERROR_CODES = frozenset(
    {159, 164, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 439, 999}
)
# Errors raised while turning rows into the wire format: the values do not fit their columns.
CONVERSION_ERRORS = (OverflowError, ValueError, TypeError, struct.error)
_CODE = re.compile(r"Code: (\d+)")


def refusal_reason(exc: BaseException) -> str | None:
    """Why ClickHouse refused the rows for good (an error class and code, never the values), or
    None when the error is an outage to retry. Unknown errors count as outages: retrying a bad
    record costs time, dead-lettering a good one loses it."""
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        found = _CODE.search(str(exc)) if type(exc).__name__ == "ChdbError" else None
        code = int(found.group(1)) if found else None
    if code is not None:
        return None if code in TRANSIENT_ERROR_CODES else f"{type(exc).__name__} code {code}"
    if isinstance(exc, CONVERSION_ERRORS) and not isinstance(exc, OSError):
        return type(exc).__name__
    return None


class ClickHouse(Protocol):
    """What the worker and the report API need of ClickHouse; both backends implement it."""

    url: str  # for messages: without a password

    def execute(self, sql: str) -> None: ...

    def query(
        self, sql: str, params: Mapping[str, Param] | None = None
    ) -> list[dict[str, Any]]: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...

    def drop_replaced_parts(self, tables: Collection[str]) -> int:
        """Asks for the parts that mutations replaced (they still hold the deleted rows) to leave
        the disk; answers how many are left (0 when ClickHouse removes them on its own)."""
        ...

    def close(self) -> None: ...


def _arrow_column(values: list[Any]) -> Any:
    """Arrow's own type for the values, unsigned 64-bit where they exceed a signed one (UInt64
    hashes such as `employee`)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except OverflowError:
        return pa.array(values, type=pa.uint64())


class ChdbClickHouse:
    """Embedded ClickHouse (chDB). One process per data directory: the owner serves every thread."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self.url = f"chdb://{path}"
        # Python(name) finds its table by variable name, not per thread: inserts of two tables at
        # once once read each other's rows. One insert at a time (they are batches anyway).
        self._insert_lock = threading.Lock()
        try:
            # chDB's memory worker reads the process's RSS every 100 ms by default, a tenth of
            # an idle stack's CPU (BENCHMARKS.md "Idle"); once a second is enough for its limit
            self._session = session.Session(f"{path}?memory_worker_period_ms=1000")
            self._session.query(f"SET {FINAL_WITHIN_PARTITIONS} = 1")
        except Exception as exc:
            raise RuntimeError(
                f"chDB could not open {path} ({exc}); only one process may open a chDB directory "
                "(and one per process): stop the other one or set CLOSECALL_CLICKHOUSE_URL to a server"
            ) from exc

    def execute(self, sql: str) -> None:
        self._session.query(sql)

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[dict[str, Any]]:
        result = self._session.query(render(sql, params or {}), "JSONCompact")
        raw = result.bytes()
        if not raw:
            return []
        doc = json.loads(raw)
        names = [col["name"] for col in doc["meta"]]
        return [dict(zip(names, row, strict=True)) for row in doc["data"]]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        import pyarrow as pa

        if not rows:
            return
        with self._insert_lock:
            # chDB's Python() table function reads this local variable by name.
            arrow_rows = pa.Table.from_pydict(  # noqa: F841
                {name: _arrow_column([row[i] for row in rows]) for i, name in enumerate(columns)}
            )
            self._session.query(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM Python(arrow_rows)"
            )

    def drop_replaced_parts(self, tables: Collection[str]) -> int:
        # chDB never schedules the cleanup of replaced parts by itself (chdb-io/chdb#107; its
        # old_parts_lifetime is already 0): SYSTEM START CLEANUP runs it at once. A part that a
        # running query still reads stays, and goes on a later call.
        for table in tables:
            self._session.query(f"SYSTEM START CLEANUP {table}")
        left = self.query(
            "SELECT count() AS n FROM system.parts WHERE database = currentDatabase()"
            " AND NOT active AND table IN %(tables)s",
            {"tables": sorted(tables)},
        )
        return int(left[0]["n"])

    def close(self) -> None:
        self._session.close()


class ServerClickHouse:
    """A ClickHouse server over the native protocol (clickhouse-driver); one client per thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = redact_url(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 9000
        self._database = parts.path.strip("/") or "default"
        self._user = parts.username or "default"
        self._password = parts.password or ""
        self._local = threading.local()
        bootstrap = self._client(database="default")
        try:
            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {self._database}")
            known = bootstrap.execute(
                render(
                    "SELECT count() FROM system.settings WHERE name = %(name)s",
                    {"name": FINAL_WITHIN_PARTITIONS},
                )
            )[0][0]
        except Exception as exc:
            raise RuntimeError(
                f"ClickHouse server at {self._host}:{self._port} is unreachable ({exc}); start it "
                "or fix CLOSECALL_CLICKHOUSE_URL"
            ) from exc
        finally:
            bootstrap.disconnect()
        self._settings = {FINAL_WITHIN_PARTITIONS: 1} if known else {}

    @property
    def database(self) -> str:
        return self._database

    @property
    def address(self) -> tuple[str, int]:
        """Its IP address and port, as a cluster's `system.clusters` names them."""
        return socket.gethostbyname(self._host), self._port

    def at(self, host: str, port: int, database: str) -> ServerClickHouse:
        """The same user on another server (a shard of this one's cluster)."""
        credentials = f"{self._user}:{self._password}@"  # as this one's URL gave them
        return ServerClickHouse(f"clickhouse://{credentials}{host}:{port}/{database}")

    def _client(self, database: str | None = None) -> Any:
        from clickhouse_driver import Client

        return Client(
            host=self._host,
            port=self._port,
            database=database or self._database,
            user=self._user,
            password=self._password,
            connect_timeout=5,
            send_receive_timeout=60,
        )

    def _thread_client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._client()
        return client

    def execute(self, sql: str) -> None:
        self._thread_client().execute(sql)

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[dict[str, Any]]:
        rows, columns = self._thread_client().execute(
            render(sql, params or {}), with_column_types=True, settings=self._settings
        )
        names = [name for name, _type in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def stream(self, sql: str, rows_per_chunk: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a query in chunks, read block by block on a connection of its own (a
        table of any size in constant memory: backups)."""
        client = self._client()
        try:
            chunk: list[tuple[Any, ...]] = []
            for row in client.execute_iter(
                sql, settings={**self._settings, "max_block_size": rows_per_chunk}
            ):
                chunk.append(row)
                if len(chunk) == rows_per_chunk:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        finally:
            client.disconnect()

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._thread_client().execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES", [tuple(r) for r in rows]
            )

    def drop_replaced_parts(self, tables: Collection[str]) -> int:
        # 18.16 has no SYSTEM START CLEANUP: its config removes replaced parts within 40 s
        # (deploy/clickhouse/erasure.xml: old_parts_lifetime 30 s, cleanup_delay_period 10 s).
        return 0

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.disconnect()


def connect(url: str) -> ClickHouse:
    """chdb://<directory> for the embedded engine, clickhouse://[user:pass@]host:port/db for a server."""
    if url.startswith("chdb://"):
        return ChdbClickHouse(Path(url.removeprefix("chdb://")))
    if url.startswith("clickhouse://"):
        return ServerClickHouse(url)
    raise ValueError(
        f"CLOSECALL_CLICKHOUSE_URL={url!r}: use chdb://<dir> or clickhouse://host:port/database"
    )


_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY version"""
_CREATED = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree\b(?:\(([^)]*)\))?")
# statements ClickHouse does not pass on between replicas; the rest (ALTER of a replicated
# table, INSERT: its parts) reach every replica through ZooKeeper
_EVERY_REPLICA = ("CREATE", "DROP", "RENAME")


@dataclass(frozen=True, slots=True)
class Replication:
    """Replicated tables (deploy/README.md "Replication"): every table a migration creates is
    `Replicated*MergeTree` at `<path>/<database>/<table>` in ZooKeeper (the server expands the
    `{shard}` and `{replica}` macros of its config), and the migrations run on each replica of
    the migrated server's shard in `cluster` (its `remote_servers`)."""

    path: str  # CLOSECALL_CLICKHOUSE_REPLICATION_PATH, e.g. /clickhouse/tables/{shard}
    cluster: str  # CLOSECALL_CLICKHOUSE_CLUSTER

    def engine(self, statement: str, database: str) -> str:
        """The statement with a created table's MergeTree engine made replicated."""
        created = _CREATED.match(statement)
        if created is None:
            return statement

        def replicated(engine: re.Match[str]) -> str:
            kind, args = engine.group(1), engine.group(2)
            where = quote(f"{self.path}/{database}/{created.group(1)}")
            more = f", {args}" if args and args.strip() else ""
            return f"ENGINE = Replicated{kind}MergeTree({where}, '{{replica}}'{more})"

        return _ENGINE.sub(replicated, statement, count=1)

    def replicas(self, clickhouse: ClickHouse) -> list[ServerClickHouse]:
        """The server itself, then the other replicas of its shard in the cluster."""
        if not isinstance(clickhouse, ServerClickHouse):
            raise ValueError("replicated tables need a ClickHouse server (clickhouse://...)")
        hosts = clickhouse.query(
            "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = %(c)s"
            " ORDER BY shard_num, replica_num",
            {"c": self.cluster},
        )
        # itself: by address and port (18.16's is_local says 1 for every replica on its host)
        me = clickhouse.address
        shard = next((h["shard_num"] for h in hosts if (h["host_address"], h["port"]) == me), None)
        if shard is None:
            raise ValueError(
                f"{clickhouse.url} is not a replica of cluster {self.cluster!r} in its"
                " remote_servers: fix CLOSECALL_CLICKHOUSE_CLUSTER or the server's config"
            )
        others = [
            clickhouse.at(h["host_address"], int(h["port"]), clickhouse.database)
            for h in hosts
            if h["shard_num"] == shard and (h["host_address"], h["port"]) != me
        ]
        return [clickhouse, *others]

    def wait_active(self, clickhouse: ClickHouse, timeout_s: float = 60) -> None:
        """Until every replica of each replicated table is active: a replica a CREATE made
        joins a moment later, and an ALTER before that fails (18.16's code 341)."""
        ends = time.monotonic() + timeout_s
        while True:
            behind = clickhouse.query(
                "SELECT table, total_replicas, active_replicas FROM system.replicas"
                " WHERE database = currentDatabase() AND active_replicas < total_replicas"
            )
            if not behind:
                return
            if time.monotonic() > ends:
                raise RuntimeError(
                    f"replicas of {', '.join(r['table'] for r in behind)} are not active after"
                    f" {timeout_s:.0f} s: start every replica of the shard, then migrate again"
                )
            time.sleep(0.2)


def pending(clickhouse: ClickHouse) -> list[Migration]:
    """The numbered clickhouse/*.sql migrations not applied yet, in order."""
    clickhouse.execute(_MIGRATIONS_TABLE)
    applied = {row["version"] for row in clickhouse.query("SELECT version FROM schema_migrations")}
    return numbered_migrations("clickhouse", applied)


def migrate(
    clickhouse: ClickHouse,
    up_to: int | None = None,
    replication: Replication | None = None,
    contract: bool = False,
) -> list[str]:
    """Apply the numbered clickhouse/*.sql migrations not applied yet (up to version `up_to`, all
    by default; a contract migration and those after it only with `contract`); returns their
    names. Replicated: what ClickHouse does not replicate itself
    (creating, dropping, renaming) runs on every replica of the shard, the rest on this one."""
    replicas: Sequence[ClickHouse] = [clickhouse]
    database = ""
    if replication is not None:
        servers = replication.replicas(clickhouse)
        replicas, database = servers, servers[0].database
    try:
        for replica in replicas[1:]:
            replica.execute(_MIGRATIONS_TABLE)
        done = []
        for migration in pending(clickhouse):
            if (up_to is not None and migration.version > up_to) or not ready(migration, contract):
                break
            for statement in migration.statements:
                if replication is not None:
                    statement = replication.engine(statement, database)
                every = statement.lstrip().upper().startswith(_EVERY_REPLICA)
                if replication is not None and not every:
                    replication.wait_active(clickhouse)
                for replica in replicas if every else replicas[:1]:
                    replica.execute(statement)
            for replica in replicas:
                replica.insert(
                    "schema_migrations",
                    ("version", "name", "applied_at"),
                    [(migration.version, migration.name, utc_now())],
                )
            log.info(
                "clickhouse: applied migration %s on %d replica(s)", migration.name, len(replicas)
            )
            done.append(migration.name)
        return done
    finally:
        for replica in replicas[1:]:  # the connections to the others were its own
            replica.close()
