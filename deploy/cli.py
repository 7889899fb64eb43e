"""The `closecall` command: run each service, migrate, start the local stack, simulate phones."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.accounts.subscription import STATUSES
from core.settings import MissingSetting, Settings, get_settings
from deploy.runtime import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="closecall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database and ClickHouse migrations, create topics")
    commands.add_parser("ingest", help="run the ingest service (phones talk to it)")
    commands.add_parser("api", help="run the report API alone (needs a ClickHouse server)")
    worker = commands.add_parser(
        "worker", help="run the calls worker (and the hooks worker as its child process)"
    )
    worker.add_argument(
        "--with-api", action="store_true", help="serve the report API from the worker (chDB mode)"
    )
    worker.add_argument(
        "--without-hooks",
        action="store_true",
        help="do not start the hooks worker (run `closecall hooks` elsewhere)",
    )
    commands.add_parser("hooks", help="run the hooks worker alone (webhook deliveries)")
    up = commands.add_parser("up", help="start the whole local stack on embedded defaults")
    up.add_argument("--fleet", type=int, default=5, help="simulated phones (0: none)")
    schema = commands.add_parser("agent-schema", help="write the agent payloads' JSON Schema")
    schema.add_argument("--out", type=Path, default=None, help="directory (default: schemas/agent)")
    openapi = commands.add_parser("openapi", help="write both services' OpenAPI documents")
    openapi.add_argument("--out", type=Path, default=None, help="directory (default: docs/openapi)")
    fleet = commands.add_parser(
        "fleet",
        help="simulate phones uploading calls",
        description="Simulated phones of one company: enrol them, then upload calls and status "
        "like the agent. The company's API key comes from CLOSECALL_FLEET_API_KEY or "
        "--api-key-file (never the command line, where `ps` shows it).",
    )
    fleet.add_argument("--phones", type=int, default=5, help="phones to enrol (default 5)")
    fleet.add_argument(
        "--calls-per-hour", type=float, default=240.0, help="calls per phone per hour (240)"
    )
    fleet.add_argument(
        "--backfill-days", type=int, default=0, help="past working days of calls to upload first"
    )
    fleet.add_argument(
        "--api-key-file", type=Path, default=None, help="a file holding the company's API key"
    )
    company = commands.add_parser(
        "company", help="the operator's billing: list companies, set a paid period's end"
    )
    company_commands = company.add_subparsers(dest="company_command", required=True)
    listing = company_commands.add_parser("list", help="companies with their subscription state")
    listing.add_argument("--state", choices=STATUSES, default=None, help="only this state")
    period = company_commands.add_parser(
        "period-end",
        help="set when the paid period ends (deactivated from then on; purged after "
        "CLOSECALL_EXPORT_GRACE_DAYS)",
    )
    period.add_argument("company_id")
    period.add_argument("at", help="RFC 3339 time (2027-01-31T00:00:00Z), a date, or none")
    shards = commands.add_parser(
        "distribute",
        help="on a sharded ClickHouse: Distributed tables over every shard's (migrated) tables "
        "in CLOSECALL_CLICKHOUSE_URL's database, sharded by company (deploy/README.md)",
    )
    shards.add_argument("--cluster", required=True, help="the cluster in remote_servers")
    shards.add_argument("--shard-database", required=True, help="each shard's database")
    commands.add_parser(
        "rotate-master-key",
        help="re-wrap every data key under CLOSECALL_MASTER_KEY (from ..._PREVIOUS); the "
        "services keep running",
    )
    args = parser.parse_args(argv)

    os.umask(0o077)  # whatever a command writes (data directory, logs, keys) is the owner's only
    try:
        settings = get_settings()
        configure_logging(settings.log_level)
        dispatch(args, settings)
    except MissingSetting as exc:
        sys.exit(f"closecall: {exc}")


def dispatch(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "migrate":
        from deploy.services import migrate

        migrate(settings)
    elif args.command == "ingest":
        from deploy.services import run_ingest

        run_ingest(settings)
    elif args.command == "api":
        from deploy.services import run_api

        run_api(settings)
    elif args.command == "worker":
        from deploy.services import run_worker

        run_worker(settings, with_api=args.with_api, with_hooks=not args.without_hooks)
    elif args.command == "hooks":
        from deploy.services import run_hooks

        run_hooks(settings)
    elif args.command == "up":
        from deploy.local_stack import run_local_stack

        run_local_stack(settings, fleet_size=args.fleet)
    elif args.command == "agent-schema":
        from schemas.agent_contract import SCHEMA_DIR, write_agent_schemas

        for path in write_agent_schemas(args.out or SCHEMA_DIR):
            print(path)
    elif args.command == "openapi":
        from deploy.api_reference import OPENAPI_DIR, write_openapi

        for path in write_openapi(args.out or OPENAPI_DIR):
            print(path)
    elif args.command == "company":
        from deploy import operator

        if args.company_command == "list":
            operator.list_companies(settings, args.state)
        else:
            operator.set_period_end(settings, args.company_id, args.at)
    elif args.command == "distribute":
        from core.clickhouse import connect
        from core.clickhouse_shards import distribute

        store = connect(settings.clickhouse_url)
        for table in distribute(store, args.cluster, args.shard_database):
            print(table)
        store.close()
    elif args.command == "rotate-master-key":
        from deploy.operator import rotate_master_key

        rotate_master_key(settings)
    elif args.command == "fleet":
        from deploy.fleet import FleetConfig, run_fleet

        run_fleet(
            settings,
            FleetConfig(
                phones=args.phones,
                calls_per_hour=args.calls_per_hour,
                backfill_days=args.backfill_days,
            ),
            api_key=fleet_api_key(settings, args.api_key_file),
        )


def fleet_api_key(settings: Settings, path: Path | None) -> str:
    if path is not None:
        return path.read_text().strip()
    if settings.fleet_api_key:
        return settings.fleet_api_key
    raise MissingSetting(
        "set CLOSECALL_FLEET_API_KEY or pass --api-key-file with the company's key"
    )


if __name__ == "__main__":
    main()
