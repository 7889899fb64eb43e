"""Lead writes in the control plane, one company at a time: each write takes the company's lead
lock first (core/leads/feed.py), so duplicate checks, the round-robin cursor and the phones'
feed positions see every earlier write; `lead_numbers`' primary key refuses a shared number
even if a check were wrong. The ClickHouse lookup is written just before the commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.employees.service import Scope, in_scope
from api.leads.assignment import Assigner, LeastLoaded, Nobody, RoundRobin, new_lead_loads
from api.leads.calls import LeadClientWrites, called_leads
from api.leads.custom import FieldSpec, checked, declared, merged
from api.leads.models import (
    Assign,
    FieldError,
    ImportResult,
    LeadFields,
    LeadUpdate,
    OnDuplicate,
    RowError,
)
from api.leads.rows import LeadInput, lead_input
from api.leads.rows import lead_numbers as lead_numbers_of
from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import Company, bulk_insert, employees, lead_history, lead_numbers, leads
from core.errors import Conflict, Invalid, NotFound
from core.leads.feed import FeedWriter, lock_company_leads
from core.number_crypto import CompanyKeys, blind_index, decrypt_number, encrypt_number
from schemas.events import HookEvent

SLOTS = ("primary", "secondary")
PLAIN_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "address",
    "country",
    "state",
    "zip",
    "notes",
)
CHUNK = 2_000  # ids per IN (...): well inside SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True, slots=True)
class WriteOptions:
    assign: Assign = Assign.round_robin
    on_duplicate: OnDuplicate = OnDuplicate.skip
    employee: str | None = None  # every row's employee (id or email) unless the row names one
    region: str | None = None  # read numbers in this country instead of the company's
    team: str | None = None  # `assign` among this team's employees only


@dataclass
class Written:
    result: ImportResult
    created: list[str] = field(default_factory=list)  # ids of new leads, in row order
    duplicate_of: dict[int, str] = field(default_factory=dict)  # row -> the lead it matched
    employees: set[str] = field(default_factory=set)  # whose phones' lists changed


def visible(company_id: str, scope: Scope) -> sa.Select[Any]:
    """The company's leads a caller sees: a team-limited one, those of their employees."""
    select = sa.select(leads).where(leads.c.company_id == company_id)
    return select if scope is None else select.where(leads.c.employee_id.in_(scope))


def newest_assigned(
    db: Connection, company_id: str, scope: Scope, limit: int
) -> list[dict[str, Any]]:
    """The visible leads with an employee, the latest assigned first."""
    select = visible(company_id, scope).where(leads.c.assigned_at.is_not(None))
    order = (leads.c.assigned_at.desc(), leads.c.id.desc())
    return [row._asdict() for row in db.execute(select.order_by(*order).limit(limit))]


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


@dataclass
class LeadWriter:
    """The state of one locked lead transaction of a company."""

    conn: Connection
    company: Company
    keys: CompanyKeys
    scope: Scope
    now: datetime
    feed: FeedWriter = field(init=False)
    clients: LeadClientWrites = field(init=False)
    cursor: str | None = field(init=False)
    # what REST hooks hear of this transaction: (event, the lead's row as it will be stored)
    announced: list[tuple[HookEvent, dict[str, Any]]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # lead_history rows
    _specs: dict[str, FieldSpec] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.cursor, seq = lock_company_leads(self.conn, self.company.id)
        self.feed = FeedWriter(self.company.id, seq)
        self.clients = LeadClientWrites.for_company(self.company.id)

    # --- who --------------------------------------------------------------------------------

    def specs(self) -> dict[str, FieldSpec]:
        """The company's own lead fields (read once per transaction)."""
        if self._specs is None:
            self._specs = declared(self.conn, self.company.id)
        return self._specs

    def staff(self) -> list[Any]:
        query = sa.select(
            employees.c.id,
            employees.c.name,
            employees.c.email,
            employees.c.tracking_enabled,
            employees.c.takes_leads,
            employees.c.team,
        ).where(employees.c.company_id == self.company.id, employees.c.archived_at.is_(None))
        return list(self.conn.execute(in_scope(query, self.scope)))

    def assigner(self, assign: Assign, staff: list[Any], ch: CompanyClickHouse) -> Assigner:
        candidates = [e.id for e in staff if e.tracking_enabled and e.takes_leads]
        if assign is Assign.round_robin:
            return RoundRobin(candidates, self.cursor)
        if assign is Assign.least_loaded:
            return LeastLoaded(new_lead_loads(candidates, self.new_leads_of(candidates, ch)))
        return Nobody()

    def new_leads_of(self, candidates: list[str], ch: CompanyClickHouse) -> dict[str, int]:
        if not candidates:
            return {}
        called = called_leads(ch)
        loads: dict[str, int] = {}
        for row in self.conn.execute(
            sa.select(leads.c.id, leads.c.employee_id).where(
                leads.c.company_id == self.company.id, leads.c.employee_id.in_(candidates)
            )
        ):
            if row.id not in called:
                loads[row.employee_id] = loads.get(row.employee_id, 0) + 1
        return loads

    # --- numbers ----------------------------------------------------------------------------

    def number_columns(self, slot: str, number: str | None) -> dict[str, Any]:
        if number is None:
            return {f"{slot}_enc": None, f"{slot}_masked": None}
        return {
            f"{slot}_enc": encrypt_number(self.keys, number),
            f"{slot}_masked": mask_number(number),
        }

    def holders(self, number_keys: Sequence[str]) -> dict[str, str]:
        """number key -> the lead holding it, for these keys."""
        found: dict[str, str] = {}
        for part in chunks(sorted(set(number_keys))):
            rows = self.conn.execute(
                sa.select(lead_numbers.c.number_key, lead_numbers.c.lead_id).where(
                    lead_numbers.c.company_id == self.company.id,
                    lead_numbers.c.number_key.in_(part),
                )
            )
            found.update({row.number_key: row.lead_id for row in rows})
        return found

    def visible_leads(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(sorted(set(ids))):
            query = visible(self.company.id, self.scope).where(leads.c.id.in_(part))
            found.update({row.id: row._asdict() for row in self.conn.execute(query)})
        return found

    # --- writing ----------------------------------------------------------------------------

    def remember(self, lead: dict[str, Any], was: dict[str, Any] | None) -> None:
        """The lead's history of this change (`was`: the lead before it; None: new)."""
        entries: list[tuple[str, list[str]]] = []
        if was is None:
            entries.append(("created", []))
        elif edited := self.edited_fields(was, lead):
            entries.append(("edited", edited))
        before = was.get("employee_id") if was else None
        if lead["employee_id"] != before:
            entries.append(("assigned" if lead["employee_id"] else "unassigned", []))
        self.history += [
            {
                "company_id": self.company.id,
                "lead_id": lead["id"],
                "seq": lead["feed_seq"],
                "kind": kind,
                "at": self.now,
                "employee_id": lead["employee_id"],
                "fields": json.dumps(names),
            }
            for kind, names in entries
        ]

    def edited_fields(self, was: dict[str, Any], lead: dict[str, Any]) -> list[str]:
        """The fields of `lead` that differ from `was` (a number by its value: each encryption
        of the same number differs)."""
        names = [name for name in (*PLAIN_FIELDS, "custom") if was.get(name) != lead.get(name)]
        for slot in SLOTS:
            old, new = was.get(f"{slot}_enc"), lead.get(f"{slot}_enc")
            if old != new and (
                old is None
                or new is None
                or decrypt_number(self.keys, old) != decrypt_number(self.keys, new)
            ):
                names.append(f"{slot}_number")
        return names

    def commit_to(self, clickhouse: ClickHouse, **company_values: Any) -> None:
        """Store the history, the feed and the company's position, then the ClickHouse lookup
        (which may fail: the caller's transaction then rolls back)."""
        bulk_insert(self.conn, lead_history, self.history)
        self.feed.finish(self.conn, **company_values)
        self.clients.write(clickhouse)


def changed_on_phones(writer: LeadWriter, lead: dict[str, Any], was: dict[str, Any]) -> None:
    """The lead changed (`was`: as it was before): its employee's phone gets it again, and the
    phone of its employee before drops it when it went to someone else (a new assignment, or
    none); its history records the change."""
    before = was["employee_id"]
    if before != lead["employee_id"]:
        writer.feed.taken(lead["id"], before)
        lead["assigned_at"] = writer.now if lead["employee_id"] else None
        if lead["employee_id"]:
            writer.announced.append(("lead.assigned", lead))
    lead["feed_seq"] = writer.feed.position(lead["employee_id"])
    writer.remember(lead, was)


def team_of(staff: list[Any], team: str | None) -> list[Any]:
    """The employees among whom leads are assigned: all of `staff`, or one team's (422 for a
    team none of them is in)."""
    if team is None:
        return staff
    members = [e for e in staff if e.team == team]
    if not members:
        why = f"no employee of team {team} (GET /v1/teams lists them)"
        raise Invalid("invalid_request", why, [("team", "no employee of this team")])
    return members


AMBIGUOUS = ""  # what a name two employees share resolves to: the row must give an id or email


def employee_refs(staff: list[Any]) -> dict[str, str]:
    """How a row may name an employee -> the employee id: the id, the email in any case, or
    the exact name (a name two employees share -> AMBIGUOUS)."""
    refs: dict[str, str] = {}
    for employee in staff:
        key = f"name:{employee.name}"
        refs[key] = AMBIGUOUS if key in refs else employee.id
    refs.update({employee.email.lower(): employee.id for employee in staff if employee.email})
    refs.update({employee.id: employee.id for employee in staff})
    return refs


def resolve_employee(ref: str, refs: dict[str, str]) -> str | None:
    """The employee `ref` names, AMBIGUOUS, or None (nobody)."""
    for key in (ref, ref.lower(), f"name:{ref.strip()}"):
        if key in refs:
            return refs[key]
    return None


def unresolved(ref: str, employee: str | None) -> str | None:
    """Why `ref` names no single employee, or None when it does."""
    if employee is None:
        return f"no employee {ref} of yours (an id, an email or an exact name)"
    if employee == AMBIGUOUS:
        return f"more than one employee is named {ref}: give the id or the email"
    return None


def fill(lead: dict[str, Any], fields: LeadFields) -> bool:
    """`on_duplicate=update`: the given fields replace the lead's; True when something changed."""
    changed = False
    for name in PLAIN_FIELDS:
        value = getattr(fields, name)
        if value is not None and lead.get(name) != value:
            lead[name] = value
            changed = True
    if fields.custom:
        custom = merged(lead.get("custom", "{}"), fields.custom)
        changed = changed or custom != lead.get("custom")
        lead["custom"] = custom
    return changed


Valid = tuple[int, LeadInput, list[str], str | None]  # row, input, number keys, employee


def write_leads(
    writer: LeadWriter,
    ch: CompanyClickHouse,
    rows: Iterable[tuple[int, Any]],
    options: WriteOptions,
) -> Written:
    """Import `rows` ((row number, raw row)): create, update or skip each, or report its errors.
    Writes into the writer's transaction; the caller commits (or rolls back for a dry run)."""
    staff = writer.staff()
    errors, valid = _parsed_rows(writer, rows, options, staff)
    holder = writer.holders([key for _, _, keys, _ in valid for key in keys])
    existing = (
        writer.visible_leads(holder.values()) if options.on_duplicate is OnDuplicate.update else {}
    )
    assigner = writer.assigner(options.assign, team_of(staff, options.team), ch)
    written = Written(ImportResult(created=0, updated=0, skipped=0, errors=errors))
    batch = _Batch()
    for row_number, parsed, number_keys, employee in valid:
        matched = list(dict.fromkeys(holder[key] for key in number_keys if key in holder))
        if len(matched) > 1:
            problem = FieldError(path="secondary_number", message="the number of another lead")
            errors.append(RowError(row=row_number, errors=[problem]))
            continue
        if not matched:
            lead = _new_lead(writer, parsed, employee or assigner.next())
            batch.created(writer, lead, number_keys, holder)
            written.created.append(lead["id"])
            written.result.created += 1
            continue
        lead_id = matched[0]
        written.duplicate_of[row_number] = lead_id
        found = batch.new_leads.get(lead_id) or existing.get(lead_id)
        if options.on_duplicate is OnDuplicate.skip:
            written.result.skipped += 1
        elif found is None:  # a lead of a team the caller does not see
            problem = FieldError(path="primary_number", message="the number of another lead")
            errors.append(RowError(row=row_number, errors=[problem]))
        else:
            batch.merge(writer, found, parsed, number_keys, employee, holder)
            written.result.updated += 1
    batch.write(writer)
    written.employees = writer.feed.employees
    if isinstance(assigner, RoundRobin):
        writer.cursor = assigner.last
    errors.sort(key=lambda error: error.row)
    return written


def _parsed_rows(
    writer: LeadWriter,
    rows: Iterable[tuple[int, Any]],
    options: WriteOptions,
    staff: list[Any],
) -> tuple[list[RowError], list[Valid]]:
    """Each row parsed, its employee resolved and its numbers' blind indexes: the rows' errors
    and the valid rows."""
    region = options.region or writer.company.country
    refs = employee_refs(staff)
    errors: list[RowError] = []
    valid: list[Valid] = []
    for row_number, raw in rows:
        parsed = lead_input(raw, region)
        if isinstance(parsed, list):
            errors.append(RowError(row=row_number, errors=parsed))
            continue
        ref = parsed.fields.employee_id or options.employee
        employee = resolve_employee(ref, refs) if ref else None
        why = unresolved(ref, employee) if ref else None
        if why:
            errors.append(
                RowError(row=row_number, errors=[FieldError(path="employee_id", message=why)])
            )
            continue
        if parsed.fields.custom:
            values, problems = checked(parsed.fields.custom, writer.specs())
            if problems:
                errors.append(RowError(row=row_number, errors=problems))
                continue
            fields = parsed.fields.model_copy(update={"custom": values})
            parsed = LeadInput(fields=fields, numbers=parsed.numbers)
        number_keys = [blind_index(writer.keys, number) for number in parsed.numbers]
        valid.append((row_number, parsed, number_keys, employee))
    return errors, valid


def _new_lead(writer: LeadWriter, parsed: LeadInput, owner: str | None) -> dict[str, Any]:
    """A new lead's row, announced (created, and assigned when it has an owner)."""
    lead = {
        "id": str(uuid.uuid4()),
        "company_id": writer.company.id,
        **{name: getattr(parsed.fields, name) for name in PLAIN_FIELDS},
        **writer.number_columns("primary", parsed.numbers[0]),
        **writer.number_columns("secondary", next(iter(parsed.numbers[1:]), None)),
        "employee_id": owner,
        "created_at": writer.now,
        "updated_at": writer.now,
        "feed_seq": writer.feed.position(owner),
        "assigned_at": writer.now if owner else None,
        "custom": merged("{}", parsed.fields.custom or {}),
    }
    writer.announced.append(("lead.created", lead))
    if owner:
        writer.announced.append(("lead.assigned", lead))
    writer.remember(lead, None)
    return lead


@dataclass
class _Batch:
    """What an import writes at its end: new leads, their numbers, the leads it changed."""

    new_leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_numbers: list[dict[str, Any]] = field(default_factory=list)
    created_numbers: list[tuple[str, str]] = field(default_factory=list)  # (lead, number key)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def created(
        self,
        writer: LeadWriter,
        lead: dict[str, Any],
        number_keys: list[str],
        holder: dict[str, str],
    ) -> None:
        lead_id = lead["id"]
        self.new_leads[lead_id] = lead
        for slot, key in zip(SLOTS, number_keys, strict=False):
            self.new_numbers.append(number_row(writer, lead_id, key, slot))
            holder[key] = lead_id
        self.created_numbers.extend((lead_id, key) for key in number_keys)

    def merge(
        self,
        writer: LeadWriter,
        lead: dict[str, Any],
        parsed: LeadInput,
        number_keys: list[str],
        employee: str | None,
        holder: dict[str, str],
    ) -> None:
        """A duplicate row into its lead: empty fields filled, new numbers into free slots, a
        new employee; the phones told when it changed hands."""
        lead_id = lead["id"]
        was = dict(lead)
        touched = fill(lead, parsed.fields)
        for number, key in zip(parsed.numbers, number_keys, strict=True):
            free = next((s for s in SLOTS if lead[f"{s}_enc"] is None), None)
            if key not in holder and free is not None:
                lead.update(writer.number_columns(free, number))
                self.new_numbers.append(number_row(writer, lead_id, key, free))
                holder[key] = lead_id
                writer.clients.hold(lead_id, [key])
                touched = True
        if employee is not None and employee != was["employee_id"]:
            lead["employee_id"] = employee
            touched = True
        if touched:
            lead["updated_at"] = writer.now
            if lead_id not in self.new_leads:
                self.changed[lead_id] = lead
            changed_on_phones(writer, lead, was)

    def write(self, writer: LeadWriter) -> None:
        writer.clients.hold_all(self.created_numbers)
        bulk_insert(writer.conn, leads, list(self.new_leads.values()))
        bulk_insert(writer.conn, lead_numbers, self.new_numbers)
        for lead_id, lead in self.changed.items():
            values = {k: v for k, v in lead.items() if k not in ("id", "company_id", "created_at")}
            writer.conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))


def number_row(writer: LeadWriter, lead_id: str, key: str, slot: str) -> dict[str, Any]:
    return {"company_id": writer.company.id, "number_key": key, "lead_id": lead_id, "slot": slot}


def find_lead(writer: LeadWriter, lead_id: str) -> dict[str, Any]:
    lead = writer.visible_leads([lead_id]).get(lead_id)
    if lead is None:
        raise NotFound("not_found", f"no lead {lead_id}")
    return lead


def held_keys(conn: Connection, lead_id: str) -> dict[str, str]:
    """slot -> number key of the lead."""
    rows = conn.execute(
        sa.select(lead_numbers.c.slot, lead_numbers.c.number_key).where(
            lead_numbers.c.lead_id == lead_id
        )
    )
    return {row.slot: row.number_key for row in rows}


def update_lead(writer: LeadWriter, lead_id: str, body: LeadUpdate) -> None:
    """PATCH: the given fields replace the lead's (null clears one); new numbers must be no
    other lead's (409); `employee_id` re-assigns (null: nobody)."""
    lead = find_lead(writer, lead_id)
    was = dict(lead)
    changes = body.model_dump(exclude_unset=True)
    for name in PLAIN_FIELDS:
        if name in changes:
            lead[name] = changes[name]
    if changes.get("custom"):
        values, problems = checked(changes["custom"], writer.specs())
        if problems:
            fields = [(problem.path, problem.message) for problem in problems]
            raise Invalid("invalid_request", "a field of the company's is invalid", fields)
        lead["custom"] = merged(lead["custom"], values)
    if {"primary_number", "secondary_number", "country"} & changes.keys():
        renumber(writer, lead, changes)
    if "employee_id" in changes:
        ref = changes["employee_id"]
        refs = employee_refs(writer.staff())
        lead["employee_id"] = resolve_employee(ref, refs) if ref else None
        why = unresolved(ref, lead["employee_id"]) if ref else None
        if why:
            raise Invalid("invalid_request", why, [("employee_id", why)])
    lead["updated_at"] = writer.now
    changed_on_phones(writer, lead, was)
    values = {k: v for k, v in lead.items() if k not in ("id", "company_id", "created_at")}
    writer.conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))


def renumber(writer: LeadWriter, lead: dict[str, Any], changes: dict[str, Any]) -> None:
    current = {
        slot: decrypt_number(writer.keys, lead[f"{slot}_enc"]) if lead[f"{slot}_enc"] else None
        for slot in SLOTS
    }
    wanted = LeadFields(
        primary_number=changes.get("primary_number", current["primary"]),
        secondary_number=changes.get("secondary_number", current["secondary"]),
        country=lead["country"],
    )
    numbers = lead_numbers_of(wanted, writer.company.country)
    if isinstance(numbers, list):
        raise Invalid(
            "invalid_request", "the request is invalid", [(e.path, e.message) for e in numbers]
        )
    keys = [blind_index(writer.keys, number) for number in numbers]
    holders = writer.holders(keys)
    for slot, key in zip(SLOTS, keys, strict=False):
        if holders.get(key, lead["id"]) != lead["id"]:
            raise Conflict(
                "duplicate_number",
                f"the {slot} number is lead {holders[key]}'s",
                [(f"{slot}_number", "the number of another lead")],
            )
    old = held_keys(writer.conn, lead["id"])
    writer.conn.execute(lead_numbers.delete().where(lead_numbers.c.lead_id == lead["id"]))
    for index, slot in enumerate(SLOTS):
        number = numbers[index] if index < len(numbers) else None
        lead.update(writer.number_columns(slot, number))
        if number is not None:
            writer.conn.execute(
                lead_numbers.insert().values(number_row(writer, lead["id"], keys[index], slot))
            )
    writer.clients.release(lead["id"], [key for key in old.values() if key not in keys])
    writer.clients.hold(lead["id"], [key for key in keys if key not in old.values()])


def delete_lead(writer: LeadWriter, lead_id: str) -> None:
    lead = find_lead(writer, lead_id)
    old = held_keys(writer.conn, lead_id)
    writer.conn.execute(lead_numbers.delete().where(lead_numbers.c.lead_id == lead_id))
    writer.conn.execute(leads.delete().where(leads.c.id == lead_id))
    writer.clients.release(lead_id, old.values())
    writer.feed.deleted(lead_id, lead["employee_id"])


def drop_field(writer: LeadWriter, key: str) -> int:
    """Every lead's value of the company's field `key` taken off (each such lead changed: its
    feed position, its history, its employee's phone); how many leads held one."""
    holding = writer.conn.execute(
        sa.select(leads).where(
            leads.c.company_id == writer.company.id, leads.c.custom.like(f'%"{key}":%')
        )
    )
    count = 0
    for row in holding:
        lead = row._asdict()
        if key not in json.loads(lead["custom"]):
            continue  # `_` in the key matched another character
        was = dict(lead)
        lead["custom"] = merged(lead["custom"], {key: None})
        lead["updated_at"] = writer.now
        changed_on_phones(writer, lead, was)
        values = {k: v for k, v in lead.items() if k not in ("id", "company_id", "created_at")}
        writer.conn.execute(leads.update().where(leads.c.id == lead["id"]).values(**values))
        count += 1
    return count
