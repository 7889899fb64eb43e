"""The `closecall` command: run each service, migrate, start the local stack, simulate phones."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.accounts.subscription import STATUSES
from core.settings import MissingSetting, Settings, get_settings
from deploy.runtime import configure_logging

Run = Callable[[argparse.Namespace, Settings], None]


def command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, run: Run, **kw: Any
) -> argparse.ArgumentParser:
    """A subcommand whose handler is `run(args, settings)`; each handler imports its service
    itself, so `closecall --help` and one service's start load only what they need."""
    parser = commands.add_parser(name, **kw)
    parser.set_defaults(run=run)
    return parser


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.services import migrate, migration_plan

    if args.plan:
        print("\n".join(migration_plan(settings)))
    else:
        migrate(settings, contract=args.contract)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.services import run_ingest

    run_ingest(settings)


def cmd_api(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.services import run_api

    run_api(settings)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.services import run_worker

    run_worker(
        settings,
        with_api=args.with_api,
        with_hooks=not args.without_hooks,
        keep_aggregates=not args.without_aggregates,
    )


def cmd_hooks(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.services import run_hooks

    run_hooks(settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.local_stack import run_local_stack

    run_local_stack(settings, fleet_size=args.fleet)


def service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrating = command(
        commands,
        "migrate",
        cmd_migrate,
        help="apply database and ClickHouse migrations, create topics",
    )
    migrating.add_argument(
        "--plan", action="store_true", help="print what would be applied and created, apply nothing"
    )
    migrating.add_argument(
        "--contract",
        action="store_true",
        help="also the contract migrations (they remove what the previous release used): once "
        "every service runs this release",
    )
    command(commands, "ingest", cmd_ingest, help="run the ingest service (phones talk to it)")
    command(commands, "api", cmd_api, help="run the report API alone (needs a ClickHouse server)")
    worker = command(
        commands,
        "worker",
        cmd_worker,
        help="run the calls worker (and the hooks worker as its child process)",
    )
    worker.add_argument(
        "--with-api", action="store_true", help="serve the report API from the worker (chDB mode)"
    )
    worker.add_argument(
        "--without-hooks",
        action="store_true",
        help="do not start the hooks worker (run `closecall hooks` elsewhere)",
    )
    worker.add_argument(
        "--without-aggregates",
        action="store_true",
        help="the benchmark's baseline only (python -m bench --only pipeline): store calls"
        " without keeping the per-employee aggregates, which the reports then read stale",
    )
    command(commands, "hooks", cmd_hooks, help="run the hooks worker alone (webhook deliveries)")
    up = command(commands, "up", cmd_up, help="start the whole local stack on embedded defaults")
    up.add_argument("--fleet", type=int, default=5, help="simulated phones (0: none)")


def cmd_agent_schema(args: argparse.Namespace, settings: Settings) -> None:
    from schemas.agent_contract import SCHEMA_DIR, write_agent_schemas

    for path in write_agent_schemas(args.out or SCHEMA_DIR):
        print(path)


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.api_reference import OPENAPI_DIR, write_openapi

    for path in write_openapi(args.out or OPENAPI_DIR):
        print(path)


def cmd_fleet(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.fleet import DEMO, FleetConfig, run_fleet

    if args.calls_per_hour is None:  # a sales team's working days
        config = replace(DEMO, phones=args.phones, backfill_days=args.backfill_days)
    else:  # a steady rate around the clock
        config = FleetConfig(
            phones=args.phones, calls_per_hour=args.calls_per_hour, backfill_days=args.backfill_days
        )
    run_fleet(settings, config, api_key=fleet_api_key(settings, args.api_key_file))


def tool_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = command(
        commands, "agent-schema", cmd_agent_schema, help="write the agent payloads' JSON Schema"
    )
    schema.add_argument("--out", type=Path, default=None, help="directory (default: schemas/agent)")
    openapi = command(
        commands, "openapi", cmd_openapi, help="write both services' OpenAPI documents"
    )
    openapi.add_argument("--out", type=Path, default=None, help="directory (default: docs/openapi)")
    fleet = command(
        commands,
        "fleet",
        cmd_fleet,
        help="simulate phones uploading calls",
        description="Simulated phones of one company: enrol them, then upload calls and status "
        "like the agent. The company's API key comes from CLOSECALL_FLEET_API_KEY or "
        "--api-key-file (never the command line, where `ps` shows it).",
    )
    fleet.add_argument("--phones", type=int, default=5, help="phones to enrol (default 5)")
    fleet.add_argument(
        "--calls-per-hour",
        type=float,
        default=None,
        help="a steady rate per phone, day and night; default: each rep 40-120 calls a working "
        "day, 09:00-19:00 in the company's zone",
    )
    fleet.add_argument(
        "--backfill-days", type=int, default=0, help="past working days of calls to upload first"
    )
    fleet.add_argument(
        "--api-key-file", type=Path, default=None, help="a file holding the company's API key"
    )


def cmd_company_list(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import list_companies

    list_companies(settings, args.state)


def cmd_period_end(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import set_period_end

    set_period_end(settings, args.company_id, args.at)


def cmd_company_cancel(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import cancel

    cancel(settings, args.company_id, args.reason)


def cmd_company_reactivate(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import reactivate

    reactivate(settings, args.company_id)


def cmd_distribute(args: argparse.Namespace, settings: Settings) -> None:
    from core.clickhouse import connect
    from core.clickhouse_shards import distribute

    store = connect(settings.clickhouse_url)
    for table in distribute(store, args.cluster, args.shard_database):
        print(table)
    store.close()


def cmd_rotate_master_key(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import rotate_master_key

    rotate_master_key(settings)


def cmd_policy_publish(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.operator import publish_policy

    publish_policy(settings, args.kind, args.version, args.url)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.backup import BackupError, backup

    try:
        manifest = backup(settings, args.directory, progress)
    except BackupError as exc:
        sys.exit(f"closecall backup: {exc}")
    print(f"backed up release {manifest['release']} into {args.directory}")


def cmd_restore(args: argparse.Namespace, settings: Settings) -> None:
    from deploy.backup import BackupError, restore

    try:
        done = restore(settings, args.directory, progress)
    except BackupError as exc:
        sys.exit(f"closecall restore: {exc}")
    print(
        f"restored release {done['release']}; migrations applied since: {done['migrations_since']}"
    )


def cmd_release(args: argparse.Namespace, settings: Settings) -> None:
    from datetime import date

    from deploy.release import ReleaseError, release

    try:
        print("\n".join(release(args.checkout, args.version, date.today())))
    except ReleaseError as exc:
        sys.exit(f"closecall release: {exc}")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def operator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    releasing = command(
        commands,
        "release",
        cmd_release,
        help="cut release X.Y.Z in a checkout: CHANGELOG section, version, commit, tag vX.Y.Z, image",
    )
    releasing.add_argument("version", help="semantic version MAJOR.MINOR.PATCH")
    releasing.add_argument("--checkout", type=Path, default=Path("."), help="the git checkout")
    command(
        commands,
        "backup",
        cmd_backup,
        help="the control plane (pg_dump) and every ClickHouse table into a new directory; "
        "never the master key (docs/OPERATIONS.md)",
    ).add_argument("directory", type=Path)
    command(
        commands,
        "restore",
        cmd_restore,
        help="a backup into an empty database and ClickHouse database, the services stopped, "
        "with the master key it was made under",
    ).add_argument("directory", type=Path)
    company = commands.add_parser(
        "company",
        help="the operator's manual billing: list companies, set a paid period's end, cancel, "
        "reactivate",
    )
    company_commands = company.add_subparsers(dest="company_command", required=True)
    listing = command(
        company_commands, "list", cmd_company_list, help="companies with their subscription state"
    )
    listing.add_argument("--state", choices=STATUSES, default=None, help="only this state")
    period = command(
        company_commands,
        "period-end",
        cmd_period_end,
        help="set when the paid period ends (shown; a cancelled company is deactivated then)",
    )
    period.add_argument("company_id")
    period.add_argument("at", help="RFC 3339 time (2027-01-31T00:00:00Z), a date, or none")
    ending = command(
        company_commands,
        "cancel",
        cmd_company_cancel,
        help="manual billing ends: deactivated at the period's end (now without one), purged "
        "CLOSECALL_EXPORT_GRACE_DAYS later",
    )
    ending.add_argument("company_id")
    ending.add_argument("--reason", required=True, help="why, for the audit log (non-payment)")
    command(
        company_commands, "reactivate", cmd_company_reactivate, help="undo a cancellation"
    ).add_argument("company_id")
    shards = command(
        commands,
        "distribute",
        cmd_distribute,
        help="on a sharded ClickHouse: Distributed tables over every shard's (migrated) tables "
        "in CLOSECALL_CLICKHOUSE_URL's database, sharded by company (deploy/README.md)",
    )
    shards.add_argument("--cluster", required=True, help="the cluster in remote_servers")
    shards.add_argument("--shard-database", required=True, help="each shard's database")
    policy = commands.add_parser(
        "policy", help="the operator's privacy policy and terms versions users must accept"
    )
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    publish = command(
        policy_commands,
        "publish",
        cmd_policy_publish,
        help="a new version in force: every user is mailed once and accepts it at their next "
        "sign-in (API.md 'Sign-in')",
    )
    publish.add_argument("--kind", choices=("privacy", "terms"), required=True)
    publish.add_argument("--version", required=True, help="such as 2027-01 (at most 40 chars)")
    publish.add_argument("--url", required=True, help="where its text is published (https://...)")
    command(
        commands,
        "rotate-master-key",
        cmd_rotate_master_key,
        help="re-wrap every data key under CLOSECALL_MASTER_KEY (from ..._PREVIOUS); the "
        "services keep running",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="closecall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    service_commands(commands)
    tool_commands(commands)
    operator_commands(commands)
    args = parser.parse_args(argv)

    os.umask(0o077)  # whatever a command writes (data directory, logs, keys) is the owner's only
    try:
        settings = get_settings()
        configure_logging(settings.log_level)
        args.run(args, settings)
    except MissingSetting as exc:
        sys.exit(f"closecall: {exc}")


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
