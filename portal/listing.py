"""Public listings of published statements: filters, sort orders and keyset pagination.

One module for what the session page and the JSON API list, so both always agree. It
starts from queries.public_statements() (nothing unpublished or under embargo) narrowed by
search.apply_filters(), orders by a key that ends with the statement id (a total order),
and pages with an opaque cursor holding the last row's key: a deep page costs an index
range scan, never an OFFSET walk over the rows before it.

Ranked full-text results (a `q`) are paged by search.search_public(), whose order is
computed per query; their cursor holds a bounded position instead (MAX_SEARCH_RESULTS).

`parse_args()` reads filters, sort, cursor and limit from query arguments with a plain
message per bad parameter (InvalidParameter), for the API's JSON errors and the pages.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal import search
from portal.enums import Language, OrganisationKind, StatementKind
from portal.extensions import db
from portal.models import (
    Area,
    MeetingSession,
    Organisation,
    Statement,
    statement_areas,
    statement_cosignatories,
    statement_on_behalf_of,
)
from portal.queries import public_statements

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Ranked search results can be paged this deep; past it, the query should be refined.
MAX_SEARCH_RESULTS = 1000
MAX_CURSOR_LENGTH = 512
MAX_ID = 2**31 - 1


class Sort(enum.StrEnum):
    DATE = "date"  # newest published first
    ORGANISATION = "organisation"  # organisation name A-Z, then newest first

    @property
    def label(self) -> str:
        return {"date": "Date published (newest first)", "organisation": "Organisation (A to Z)"}[self.value]


class InvalidParameter(ValueError):
    """A query argument that cannot be used; `name` is the argument, the message says why in plain words."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


# The order of the organisation kinds in grouped listings: the enum's own order
# (Member States, observer States, UN system, IGOs, civil society, others).
KIND_RANK = sa.case({kind: rank for rank, kind in enumerate(OrganisationKind)}, value=Organisation.kind)


# --- cursors --------------------------------------------------------------------------------


def encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), default=_json_default).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()
    raise TypeError(type(value))


def decode_cursor(text: str, name: str = "cursor") -> dict[str, Any]:
    """The payload of a cursor made by encode_cursor; InvalidParameter for anything else."""
    if len(text) > MAX_CURSOR_LENGTH:
        raise InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.") from None
    if not isinstance(payload, dict):
        raise InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.")
    return payload


# --- the ordering keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """One column of a listing's order: its expression, direction and value type."""

    name: str
    column: Any
    descending: bool
    kind: type  # int, str or datetime

    def coerce(self, value: object) -> object:
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
            return value
        if self.kind is str and isinstance(value, str) and len(value) <= 400 and "\x00" not in value:
            try:
                value.encode("utf-8")  # a lone surrogate cannot be a name
            except UnicodeEncodeError:
                raise ValueError(value) from None
            return value
        if self.kind is datetime and isinstance(value, str) and len(value) <= 40:
            try:
                parsed = datetime.fromisoformat(value)
                return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            except (ValueError, OverflowError):
                raise ValueError(value) from None
        raise ValueError(value)


def _keys(sort: Sort, grouped: bool) -> list[_Key]:
    keys: list[_Key] = []
    if grouped:
        keys += [_Key("area", Area.position, False, int), _Key("area_id", Area.id, False, int), _Key("kind", KIND_RANK, False, int)]
    if sort is Sort.ORGANISATION:
        keys.append(_Key("organisation", Organisation.name, False, str))
    keys += [_Key("published", Statement.published_at, True, datetime), _Key("id", Statement.id, True, int)]
    return keys


def _beyond(keys: Sequence[_Key], values: Sequence[object], reverse: bool) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the keys' order (before them with `reverse`)."""
    clauses = []
    for i, key in enumerate(keys):
        later = key.column < values[i] if key.descending != reverse else key.column > values[i]
        clauses.append(sa.and_(*[keys[j].column == values[j] for j in range(i)], later))
    return sa.or_(*clauses)


def _order(keys: Sequence[_Key], reverse: bool) -> list[Any]:
    return [key.column.desc() if key.descending != reverse else key.column.asc() for key in keys]


# --- listing --------------------------------------------------------------------------------


@dataclass
class Item:
    statement: Statement
    area: Area | None = None  # the group's area in a listing grouped by area
    kind: OrganisationKind | None = None  # the group's organisation kind in a grouped listing


@dataclass
class Page:
    items: list[Item]
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total: int | None = None  # counted only where asked for

    @property
    def statements(self) -> list[Statement]:
        return [item.statement for item in self.items]


@dataclass(frozen=True)
class Params:
    """What a listing request asks for, read and checked by parse_args()."""

    filters: search.SearchFilters = field(default_factory=search.SearchFilters)
    q: str = ""
    sort: Sort = Sort.DATE
    after: str | None = None
    before: str | None = None
    limit: int = DEFAULT_LIMIT


# What a listing item shows beyond what search_public loads (organisation and session): the
# panel; load_details() then adds the areas and a joint statement's partners.
SEARCH_LISTING_OPTIONS = (joinedload(Statement.panel),)

LISTING_OPTIONS = (
    selectinload(Statement.areas),
    selectinload(Statement.organisation),
    selectinload(Statement.on_behalf_of),
    selectinload(Statement.cosignatories),
    selectinload(Statement.panel),
    selectinload(Statement.meeting_session),
)


def load_details(statements: Sequence[Statement]) -> None:
    """Set each statement's areas, on-behalf-of and co-signatories as loaded, from one query
    for the links with the areas they lead to, and one for the organisations, only for a
    joint statement. Three collection loads (selectinload) cost an API search some 5 ms at
    100,000 statements, and one joined query some 3 ms: the ORM's work on their rows."""
    by_id = {s.id: s for s in statements}
    if not by_id:
        return
    rows = db.session.execute(_links_statement(), {"ids": list(by_id)}).all()
    partners = {target for kind, _, target, _ in rows if kind > 0}
    organisations = (
        {o.id: o for o in db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(partners)))} if partners else {}
    )
    collected: dict[int, tuple[list[Any], list[Any], list[Any]]] = {i: ([], [], []) for i in by_id}
    for kind, statement_id, target, area in rows:
        collected[statement_id][kind].append(area if kind == 0 else organisations[target])
    for statement_id, (in_areas, on_behalf_of, cosignatories) in collected.items():
        # In the relationships' own order (portal/models/statements.py).
        set_committed_value(by_id[statement_id], "areas", sorted(in_areas, key=lambda a: a.position))
        set_committed_value(by_id[statement_id], "on_behalf_of", sorted(on_behalf_of, key=lambda o: o.name))
        set_committed_value(by_id[statement_id], "cosignatories", sorted(cosignatories, key=lambda o: o.name))


@functools.cache
def _links_statement() -> sa.Select:
    """load_details' query, built once: (kind, statement id, target id, the Area for kind 0)
    of the links of the statements given as `ids`: 0 an area, 1 on behalf of, 2 a co-signatory."""
    ids = sa.bindparam("ids", expanding=True)
    links = sa.union_all(*(
        sa.select(sa.literal_column(str(kind), sa.Integer).label("kind"), table.c.statement_id, target.label("target"))
        .where(table.c.statement_id.in_(ids))
        for kind, table, target in (
            (0, statement_areas, statement_areas.c.area_id),
            (1, statement_on_behalf_of, statement_on_behalf_of.c.organisation_id),
            (2, statement_cosignatories, statement_cosignatories.c.organisation_id),
        )
    )).subquery("links")
    return (
        sa.select(links.c.kind, links.c.statement_id, links.c.target, Area)
        .select_from(links)
        .outerjoin(Area, sa.and_(links.c.kind == 0, Area.id == links.c.target))
    )


def list_public(
    filters: search.SearchFilters | None = None,
    *,
    sort: Sort = Sort.DATE,
    grouped: bool = False,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
    now: datetime | None = None,
    options: Sequence[Any] = LISTING_OPTIONS,
) -> Page:
    """One page of published statements matching `filters`, in `sort` order.

    `grouped` lists them by area (in the session's order), then organisation kind, then
    `sort`: a statement about several areas appears under each (the rows are
    statement-area pairs), as on a meeting's record. `after`/`before` are cursors from a
    previous page's next_cursor/previous_cursor; a cursor made for another sort or grouping
    is an InvalidParameter.
    """
    filters = filters or search.SearchFilters()
    keys = _keys(sort, grouped)
    shape = f"{sort.value}{'/area' if grouped else ''}"
    reverse = before is not None
    position = None
    if after is not None or before is not None:
        name = "before" if reverse else "after"
        position = _position(decode_cursor(before if reverse else after or "", name), keys, shape, name)

    query = search.apply_filters(public_statements(now).order_by(None), filters)
    if grouped or sort is Sort.ORGANISATION:
        # Only these orders need the organisation; without the join, a listing by date reads
        # an index on (…, status, published_at) in order and stops after one page.
        query = query.join(Statement.organisation)
    if grouped:
        query = query.join(statement_areas, statement_areas.c.statement_id == Statement.id).join(
            Area, Area.id == statement_areas.c.area_id
        )
        if filters.area_id is not None:
            query = query.where(Area.id == filters.area_id)
    columns = [Statement.id] + [key.column.label(f"k_{key.name}") for key in keys]
    query = query.with_only_columns(*columns)
    if position is not None:
        query = query.where(_beyond(keys, position, reverse))
    rows = db.session.execute(query.order_by(*_order(keys, reverse)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()

    statements = {
        s.id: s
        for s in db.session.scalars(sa.select(Statement).where(Statement.id.in_({row.id for row in rows})).options(*options))
    }
    areas = {a.id: a for s in statements.values() for a in s.areas}
    kinds = list(OrganisationKind)
    items = [
        Item(
            statements[row.id],
            areas.get(row.k_area_id) if grouped else None,
            kinds[row.k_kind] if grouped else None,
        )
        for row in rows
    ]

    def cursor(row: sa.Row[Any]) -> str:
        return encode_cursor({"s": shape, "k": [getattr(row, f"k_{key.name}") for key in keys]})

    page = Page(items)
    if rows:
        has_next = more if not reverse else True
        has_previous = (position is not None) if not reverse else more
        page.next_cursor = cursor(rows[-1]) if has_next else None
        page.previous_cursor = cursor(rows[0]) if has_previous else None
    return page


def _position(payload: dict[str, Any], keys: Sequence[_Key], shape: str, name: str) -> list[object]:
    values = payload.get("k")
    if payload.get("s") != shape or not isinstance(values, list) or len(values) != len(keys):
        raise InvalidParameter(
            name, "The cursor belongs to another sort order or grouping: start again from the first page."
        )
    try:
        return [key.coerce(value) for key, value in zip(keys, values, strict=True)]
    except ValueError:
        raise InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.") from None


# --- ranked search, paged by position ---------------------------------------------------------


def search_page(
    params: Params, *, now: datetime | None = None, options: Sequence[Any] = ()
) -> tuple[search.SearchPage, str | None, str | None]:
    """Ranked results for `params.q` with its filters, one page of `params.limit`, and the
    cursors of the next and previous pages (positions, at most MAX_SEARCH_RESULTS deep).
    `options` load more of each statement with it (search_public's)."""
    offset = 0
    if params.after or params.before:
        name = "before" if params.before else "after"
        payload = decode_cursor(params.before or params.after or "", name)
        raw = payload.get("o")
        if payload.get("s") != "rank" or not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_SEARCH_RESULTS:
            raise InvalidParameter(name, "The cursor belongs to another search or is not valid: start again from the first page.")
        offset = raw if params.after else max(0, raw - params.limit)
    # search_public pages by page number; a position that is not a multiple of the limit
    # (a previous page near the start) is served from page 1.
    page_number = offset // params.limit + 1
    result = search.search_public(
        params.q, params.filters, page=page_number, per_page=params.limit, now=now, options=options
    )
    start = (page_number - 1) * params.limit
    end = start + len(result.results)
    next_cursor = (
        encode_cursor({"s": "rank", "o": end})
        if end < min(result.total, MAX_SEARCH_RESULTS) and result.results
        else None
    )
    previous_cursor = encode_cursor({"s": "rank", "o": start}) if start > 0 else None
    return result, next_cursor, previous_cursor


# --- reading query arguments ------------------------------------------------------------------

_ID_ARGS = {"session": "session_id", "area": "area_id", "panel": "panel_id", "organisation": "organisation_id"}


def _positive_int(name: str, raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        raise InvalidParameter(name, f"'{name}' must be a positive whole number (an id), not {raw[:40]!r}.")
    return int(raw)


def _choice(name: str, raw: str, enum_type: type[enum.StrEnum]) -> Any:
    try:
        return enum_type(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise InvalidParameter(name, f"'{name}' must be one of: {allowed}; not {raw[:40]!r}.") from None


def parse_args(
    args: Mapping[str, str],
    *,
    allowed: Sequence[str] = ("session", "area", "panel", "organisation_kind", "organisation", "language", "kind", "q", "sort", "after", "before", "limit"),
    default_limit: int = DEFAULT_LIMIT,
) -> Params:
    """Params from query arguments. Empty values count as absent; an unknown argument, a
    repeated one, or a bad value is an InvalidParameter naming it.

    `args` may be a werkzeug MultiDict (then a repeated argument is an error).
    """
    getlist = getattr(args, "getlist", None)
    for name in args:
        if name not in allowed:
            raise InvalidParameter(name, f"Unknown parameter '{name}'. Allowed: {', '.join(allowed)}.")
        if getlist is not None and len(getlist(name)) > 1:
            raise InvalidParameter(name, f"Give '{name}' at most once.")
    values = {name: str(value).strip() for name, value in args.items() if str(value).strip()}

    filters: dict[str, Any] = {}
    for name, attribute in _ID_ARGS.items():
        if name in values:
            filters[attribute] = _positive_int(name, values[name])
    if "organisation_kind" in values:
        filters["organisation_kind"] = _choice("organisation_kind", values["organisation_kind"], OrganisationKind)
    if "language" in values:
        filters["language"] = _choice("language", values["language"], Language)
    if "kind" in values:
        filters["kind"] = _choice("kind", values["kind"], StatementKind)

    q = values.get("q", "")
    if len(q) > search.MAX_QUERY_LENGTH:
        raise InvalidParameter("q", f"'q' is too long: at most {search.MAX_QUERY_LENGTH} characters.")
    sort = _choice("sort", values["sort"], Sort) if "sort" in values else Sort.DATE
    if q and "sort" in values:
        raise InvalidParameter("sort", "Search results ('q') are ranked by relevance; 'sort' cannot be combined with 'q'.")
    after, before = values.get("after"), values.get("before")
    if after and before:
        raise InvalidParameter("before", "Give 'after' or 'before', not both.")
    limit = default_limit
    if "limit" in values:
        raw = values["limit"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIMIT:
            raise InvalidParameter("limit", f"'limit' must be a whole number from 1 to {MAX_LIMIT}, not {raw[:40]!r}.")
        limit = int(raw)
    return Params(search.SearchFilters(**filters), q, sort, after, before, limit)


def check_filters_exist(filters: search.SearchFilters) -> None:
    """InvalidParameter for a filter naming a session, area, panel or organisation that does
    not exist publicly (a typo should not look like "nothing published")."""
    from portal.models import Panel  # local: catalogue models are only needed here

    checks: list[tuple[str, int | None, Any]] = [
        ("session", filters.session_id, sa.select(MeetingSession.id).where(MeetingSession.id == filters.session_id)),
        ("area", filters.area_id, sa.select(Area.id).where(Area.id == filters.area_id)),
        ("panel", filters.panel_id, sa.select(Panel.id).where(Panel.id == filters.panel_id)),
    ]
    for name, value, query in checks:
        if value is not None and db.session.scalar(query) is None:
            raise InvalidParameter(name, f"There is no {name} with id {value}.")
    if filters.organisation_id is not None:
        from portal.queries import public_organisation

        if public_organisation(filters.organisation_id) is None:
            raise InvalidParameter("organisation", f"There is no organisation with id {filters.organisation_id}.")


# --- counts for the session page's overview ---------------------------------------------------


@dataclass(frozen=True)
class GroupCounts:
    """How many published statements fall in each area and panel, per organisation kind.

    `by_area[area_id][kind]` ignores the area and organisation-kind filters, and
    `by_panel[panel_id][kind]` the panel and organisation-kind filters: those are the
    dimensions counted, so each count is exactly what the listing shows once its area (or
    panel) and kind are chosen, whatever the other filters. `total` honours every filter.
    Only non-zero counts are present.
    """

    by_area: dict[int, dict[OrganisationKind, int]]
    by_panel: dict[int, dict[OrganisationKind, int]]
    total: int

    def area_total(self, area_id: int, kind: OrganisationKind | None = None) -> int:
        """Statements in the area (of `kind` only, if given)."""
        counts = self.by_area.get(area_id, {})
        return counts.get(kind, 0) if kind is not None else sum(counts.values())

    def panel_total(self, panel_id: int, kind: OrganisationKind | None = None) -> int:
        counts = self.by_panel.get(panel_id, {})
        return counts.get(kind, 0) if kind is not None else sum(counts.values())


def _public_subquery(filters: search.SearchFilters, now: datetime | None) -> sa.Subquery:
    """The published statements matching `filters` (their id, organisation and panel)."""
    return (
        search.apply_filters(public_statements(now).order_by(None), filters)
        .with_only_columns(Statement.id, Statement.organisation_id, Statement.panel_id)
        .subquery("public")
    )


def count_public(filters: search.SearchFilters | None = None, *, now: datetime | None = None) -> int:
    """How many published statements match `filters` (each once, whatever its areas)."""
    public = _public_subquery(filters or search.SearchFilters(), now)
    return db.session.scalar(sa.select(sa.func.count()).select_from(public)) or 0


def group_counts(
    filters: search.SearchFilters | None = None, *, panels: bool = True, now: datetime | None = None
) -> GroupCounts:
    """Counts of published statements per area and (with `panels`) per panel, by organisation
    kind (see GroupCounts).

    Each grouped query runs over public_statements() narrowed by search.apply_filters(), so
    nothing unpublished is counted. It counts per organisation first and maps organisations to
    their kind afterwards: the join to organisations then touches a few hundred grouped rows,
    not every statement.
    """
    filters = filters or search.SearchFilters()

    public = _public_subquery(replace(filters, area_id=None, organisation_kind=None), now)
    per_organisation = (
        sa.select(statement_areas.c.area_id.label("key"), public.c.organisation_id, sa.func.count().label("n"))
        .select_from(public)
        .join(statement_areas, statement_areas.c.statement_id == public.c.id)
        .group_by(statement_areas.c.area_id, public.c.organisation_id)
        .subquery("per_organisation")
    )
    by_area = _by_kind(per_organisation)

    by_panel: dict[int, dict[OrganisationKind, int]] = {}
    total = None
    if panels:
        # Grouped by panel including "no panel": without a panel or kind filter its sum is the total.
        public = _public_subquery(replace(filters, panel_id=None, organisation_kind=None), now)
        per_organisation = (
            sa.select(public.c.panel_id.label("key"), public.c.organisation_id, sa.func.count().label("n"))
            .group_by(public.c.panel_id, public.c.organisation_id)
            .subquery("per_organisation")
        )
        by_panel = _by_kind(per_organisation)
        if filters.panel_id is None and filters.organisation_kind is None:
            total = sum(sum(counts.values()) for counts in by_panel.values())
        by_panel.pop(None, None)  # type: ignore[call-overload]
    if total is None:
        total = count_public(filters, now=now)
    return GroupCounts(by_area, by_panel, total)


def _by_kind(per_organisation: sa.Subquery) -> dict[Any, dict[OrganisationKind, int]]:
    """{key: {kind: n}} from rows (key, organisation_id, n)."""
    rows = db.session.execute(
        sa.select(per_organisation.c.key, Organisation.kind, sa.func.sum(per_organisation.c.n))
        .join(Organisation, Organisation.id == per_organisation.c.organisation_id)
        .group_by(per_organisation.c.key, Organisation.kind)
    )
    counts: dict[Any, dict[OrganisationKind, int]] = {}
    for key, kind, n in rows:
        counts.setdefault(key, {})[OrganisationKind(kind)] = int(n)
    return counts


def cursor_group(cursor: str | None) -> tuple[int, OrganisationKind] | None:
    """The (area id, organisation kind) of the row a grouped listing's cursor was made from:
    where the previous page ended. None for any other cursor (or none)."""
    if not cursor:
        return None
    try:
        payload = decode_cursor(cursor)
    except InvalidParameter:
        return None
    values = payload.get("k")
    shape = payload.get("s")
    if not isinstance(shape, str) or not shape.endswith("/area") or not isinstance(values, list) or len(values) < 3:
        return None
    area_id, rank = values[1], values[2]
    kinds = list(OrganisationKind)
    if not isinstance(area_id, int) or not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < len(kinds):
        return None
    return area_id, kinds[rank]
