"""The shapes of every report answer, as the OpenAPI document shows them to integrators (the
Zapier app, generated clients). Times are RFC 3339 in the report's zone."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RangeOut(BaseModel):
    """The range a report covers: half-open [from, to) in `tz`."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="first instant covered")
    to: str = Field(description="first instant no longer covered")
    tz: str = Field(description="the IANA zone of every time in the answer")


class CallCounts(BaseModel):
    total_calls: int
    incoming: int
    outgoing: int
    missed: int
    voicemail: int
    rejected: int
    blocked: int
    answered_externally: int
    connected: int = Field(description="incoming or outgoing with a duration above 0")
    unanswered_outgoing: int = Field(description="outgoing calls of duration 0")
    talk_time_s: int = Field(description="the summed duration of connected calls")
    avg_talk_s: float = Field(description="talk_time_s / connected (0 without connected calls)")


class BasicCounts(CallCounts):
    unique_clients: int = Field(description="distinct numbers (calls without a number excluded)")


class LongestCall(BaseModel):
    id: str
    employee_id: str
    duration_s: int
    started_at: str
    number: str | None = Field(description="masked")
    name: str | None


class Summary(BasicCounts):
    range: RangeOut
    longest_call: LongestCall | None = Field(description="null without connected calls")
    never_attended: int = Field(description="clients missed and never connected afterwards")
    not_picked_up: int = Field(description="clients who never picked up an outgoing call")
    working_s: int = Field(description="summed working time of the employee-days")


class EmployeeRow(BasicCounts):
    employee_id: str
    name: str
    team: str | None
    working_s: int
    last_call_at: str | None


class EmployeesReport(BaseModel):
    range: RangeOut
    items: list[EmployeeRow]


class Bucket(CallCounts):
    bucket: str | int = Field(
        description="day: YYYY-MM-DD; hour: the hour's start; hour_of_day: 0-23; weekday: 1-7 "
        "(Monday 1); employee: employee id; type: call type"
    )
    unique_clients: int | None = Field(
        default=None,
        description="distinct numbers of the bucket; null with `unique_clients=false`",
    )


class Analytics(BaseModel):
    range: RangeOut
    group_by: str
    series: list[Bucket]


class ClientOut(BaseModel):
    number: str = Field(description="masked")
    name: str | None = Field(description="the latest name the call log gave the number")


class NeverAttendedItem(ClientOut):
    missed_count: int
    first_missed_at: str
    last_missed_at: str
    employee_ids: list[str] = Field(description="who missed the calls")
    unanswered_count: int | None = Field(
        default=None, description="with callback_within_h only: missed calls not called back"
    )


class NotPickedUpItem(ClientOut):
    attempts: int
    first_attempt_at: str
    last_attempt_at: str
    employee_ids: list[str] = Field(description="who tried")


class CustomerItem(ClientOut, CallCounts):
    first_call_at: str
    last_call_at: str
    last_employee_id: str


class ListPage(BaseModel):
    range: RangeOut
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class NeverAttended(ListPage):
    items: list[NeverAttendedItem]


class NotPickedUp(ListPage):
    items: list[NotPickedUpItem]


class Customers(ListPage):
    items: list[CustomerItem]


class WorkingDay(BaseModel):
    employee_id: str
    day: str = Field(description="the local day, YYYY-MM-DD")
    first_activity_at: str
    last_activity_at: str = Field(description="the end of the day's last activity call")
    working_s: int
    talk_time_s: int
    activity_calls: int


class TeamDay(BaseModel):
    day: str
    active_employees: int
    working_s: int
    mean_working_s: float


class TeamTotals(BaseModel):
    days: list[TeamDay]
    employee_days: int
    working_s: int
    mean_working_s: float
    talk_time_s: int


class WorkingHours(ListPage):
    items: list[WorkingDay]
    team: TeamTotals = Field(description="over the whole range, not only this page")


class LeadsRow(BaseModel):
    employee_id: str
    name: str
    assigned: int = Field(description="leads assigned to the employee now")
    new: int = Field(description="of those, without a call before the end of the range")
    attempted: int = Field(description="with calls before the end of the range, none connected")
    connected: int = Field(description="with a connected call before the end of the range")
    calls: int = Field(description="calls in range with those leads' numbers, by anyone")
    connected_calls: int
    talk_time_s: int


class LeadsReport(BaseModel):
    range: RangeOut
    items: list[LeadsRow]
