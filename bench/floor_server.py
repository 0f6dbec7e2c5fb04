"""The floor server: Patron's essential writes on its schema with raw ASGI and asyncpg.

The limit server (`bench/limit_server.py`) runs Patron's own service code without the framework,
so `Patron / limit` is what Litestar and Patron's outer layers cost. The floor goes further: no
Patron service, repository or route code at all, only the least work that still gives a client
the same answer from the same tables:

- authentication by `X-App-Id` / `X-App-Token`: the SHA-256 of the token compared in constant
  time with `projects.app_token_hash`, cached per app id for the process's life;
- `POST /v1/customers`: ONE `INSERT … ON CONFLICT (project_id, source_id) … DO UPDATE …
  RETURNING` into `customers` and ONE `INSERT` of its `customer.created` / `customer.updated`
  activity (the customer's JSON snapshot) into `customer_activities`, in one transaction;
- `GET /v1/customers/{id or source_id}`: ONE `SELECT`, outside any explicit transaction;
- `POST /v1/publications` of one code of a campaign to a customer, in one transaction: the
  customer's upsert as above; ONE `UPDATE` that finds the campaign, picks its oldest code no
  one holds (`FOR UPDATE SKIP LOCKED`) and makes the customer its holder; ONE `INSERT` of the
  publication; ONE `INSERT` of its two activities (`customer.created` / `.updated` and
  `customer.publication.succeeded`);
- `POST /v1/redemptions` of one discount code (AMOUNT off) for an existing customer (by
  source_id) with a new order, in one transaction (five round trips with `BEGIN` and
  `COMMIT`): ONE `UPDATE` that counts (so locks) the code if it can be redeemed now; ONE
  statement that inserts the order `PAID` with its discount and moves the customer's
  summary.orders and summary.redemptions counters; ONE statement that inserts the stacked
  redemption (parent and child) and the three activities (`customer.order.created`,
  `customer.order.paid`, `customer.redemption.succeeded`);
- the customer, the publication and the redemption rendered as Patron renders them
  (`bench.http_bench` and `bench.redemptions` compare them before they measure).

What it leaves out, and `Patron / floor` therefore contains along with the framework: request
ids and the access log, msgspec's checks of every field, the upsert's row locks taken before
writing, the project's customer count, distinct creation milliseconds, segments, and skipping
the write when nothing changes (the floor writes and records an activity every time). It
serves nothing else: every other path is a 404, and a body names its customer by `source_id`
only (an `id` in it is ignored). A redemption evaluates no validation rules (a code with
rules assigned is refused), reserves nothing in sessions, never creates the customer or
changes an existing order, and a refused one is a 400 that is not stored. A publication takes
one code from a discount campaign (not STANDALONE, no `activity_duration_after_publishing`: the
rest is refused with a 400), ignores `join_once`, and a refused one is not stored.

    .venv/bin/python -m bench.floor_server --dsn postgresql://… [--port 8002]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec
import uvicorn
from msgspec import UNSET, UnsetType

from patron.kit import ids, json
from patron.kit.collector import settle_after_startup
from patron.kit.time import render_datetime

Record = asyncpg.Record

JSON_HEADER = (b"content-type", b"application/json; charset=utf-8")
CUSTOMERS = "/v1/customers"
CUSTOMER_PREFIX = "/v1/customers/"
PUBLICATIONS = "/v1/publications"
REDEMPTIONS = "/v1/redemptions"

# Every column the customer object is rendered from (those that exist in Patron's schema today).
COLUMNS = (
    "id, source_id, name, description, email, phone, birthdate, birthday, address, metadata, "
    "system_metadata, created_at, updated_at, orders_total_amount, orders_total_count, "
    "orders_last_amount, orders_last_date, gift_balance, loyalty_balance, redemptions_succeeded, "
    "redemptions_failed, rollbacks_succeeded, rollbacks_failed, gift_redeemed, loyalty_redeemed"
)

# The one read: a live customer by id or source_id, an id match first (as Patron's).
SELECT_CUSTOMER = f"""
SELECT {COLUMNS} FROM customers
WHERE project_id = $1 AND deleted_at IS NULL AND (id = $2 OR source_id = $2)
ORDER BY id = $2 DESC
LIMIT 1
"""

INSERT_ACTIVITY = """
INSERT INTO customer_activities
    (project_id, id, customer_id, type, category, data, group_id, created_at)
VALUES ($1, $2, $3, $4, 'ACTION', $5, $6, date_trunc('milliseconds', clock_timestamp()))
"""

# The one pick of a publication: the live, active campaign of this id or name (an id match
# first), its oldest code no one holds that no other publication has locked, and the customer
# made its holder. The campaign is matched with `= ANY` and leads the order, so that only an
# index beginning with the campaign serves that order and the planner reads the free codes'
# (`vouchers_unpublished_idx`, PostgreSQL 17 or later): with `campaign_id = …` it may walk
# `vouchers_created_at_idx` over every code the campaign has published (see bench/README.md).
PUBLISH_CODE = """
WITH c AS (
    SELECT id, name, campaign_type, type, voucher -> 'code_config' AS code_config
    FROM campaigns
    WHERE project_id = $1 AND (id = $2 OR name = $2) AND deleted_at IS NULL AND active
      AND campaign_type = 'DISCOUNT_COUPONS' AND type <> 'STANDALONE'
      AND activity_duration_after_publishing IS NULL
    ORDER BY id = $2 DESC
    LIMIT 1
), picked AS (
    SELECT id FROM vouchers
    WHERE project_id = $1 AND campaign_id = ANY (ARRAY(SELECT id FROM c)) AND holder_id IS NULL
      AND deleted_at IS NULL AND active
    ORDER BY campaign_id, created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE vouchers v SET holder_id = $3, publish_count = v.publish_count + 1, updated_at = now()
FROM c
WHERE v.project_id = $1 AND v.id = (SELECT id FROM picked)
RETURNING v.*, c.name AS campaign_name, c.code_config AS campaign_code_config,
    c.campaign_type, c.type AS campaign_kind
"""

INSERT_PUBLICATION = """
INSERT INTO publications
    (project_id, id, campaign_id, customer_id, tracking_id, source_id, channel, metadata, result,
     voucher_ids, customer, vouchers, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'SUCCESS', $9, $10, $11,
        date_trunc('milliseconds', clock_timestamp()))
ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL AND result = 'SUCCESS'
DO NOTHING
RETURNING created_at
"""

# The customer's activity and the publication's, in one statement (clock_timestamp() is read
# per row: the customer's comes first).
INSERT_PUBLICATION_ACTIVITIES = """
INSERT INTO customer_activities
    (project_id, id, customer_id, type, category, campaign_id, campaign_type, data, group_id,
     created_at)
VALUES ($1, $2, $3, $4, 'ACTION', NULL, NULL, $5, $6,
        date_trunc('milliseconds', clock_timestamp())),
       ($1, $7, $3, 'customer.publication.succeeded', 'ACTION', $8, 'DISCOUNT_COUPONS', $9, $6,
        date_trunc('milliseconds', clock_timestamp()))
"""

# A redemption's first statement: the code counted (and so locked) if it can be redeemed now,
# with its campaign's fields. What the floor cannot redeem is not matched: a code that is not a
# live, active discount code within its dates and quantity (of an active campaign, if any),
# one with a validity timeframe, days or hours, and one with validation rules assigned to it or
# to its campaign (the floor evaluates none).
REDEEM_CODE = """
WITH v AS (
    UPDATE vouchers v
    SET redeemed_quantity = v.redeemed_quantity + 1,
        updated_at = date_trunc('milliseconds', clock_timestamp())
    WHERE v.project_id = $1 AND v.code = $2 AND v.deleted_at IS NULL AND v.active
      AND v.type = 'DISCOUNT_VOUCHER'
      AND (v.start_date IS NULL OR v.start_date <= now())
      AND (v.expiration_date IS NULL OR v.expiration_date >= now())
      AND v.validity_timeframe IS NULL AND v.validity_hours IS NULL
      AND (v.validity_day_of_week IS NULL OR v.validity_day_of_week = '[]'::jsonb)
      AND (v.redemption_quantity IS NULL OR v.redeemed_quantity < v.redemption_quantity)
      AND (v.campaign_id IS NULL OR EXISTS (
          SELECT 1 FROM campaigns c
          WHERE c.project_id = v.project_id AND c.id = v.campaign_id AND c.active))
      AND NOT EXISTS (
          SELECT 1 FROM validation_rule_assignments a
          WHERE a.project_id = v.project_id
            AND a.related_object_id IN (v.id, coalesce(v.campaign_id, v.id)))
    RETURNING v.*
)
SELECT v.*, c.name AS campaign_name, c.voucher -> 'code_config' AS campaign_code_config,
    c.campaign_type, c.type AS campaign_kind
FROM v LEFT JOIN campaigns c ON c.project_id = v.project_id AND c.id = v.campaign_id
"""

# The second: the order inserted PAID for the live customer of this source_id, and that
# customer's counters moved (summary.orders and summary.redemptions) in the same statement.
# An order source_id that exists already matches nothing (the floor only creates orders).
ORDER_AND_COUNTERS = f"""
WITH o AS (
    INSERT INTO orders (project_id, id, source_id, status, amount, discount_amount, metadata,
                        customer_id, counted_amount, created_at)
    SELECT $1, $2, $4, 'PAID', $5::bigint, $6::bigint, $7, c.id, $5::bigint - $6::bigint,
           date_trunc('milliseconds', clock_timestamp())
    FROM customers c
    WHERE c.project_id = $1 AND c.source_id = $3 AND c.deleted_at IS NULL
    ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL DO NOTHING
    RETURNING id, customer_id, counted_amount, created_at
)
UPDATE customers c
SET redemptions_succeeded = c.redemptions_succeeded + 1,
    orders_total_amount = c.orders_total_amount + o.counted_amount,
    orders_total_count = c.orders_total_count + 1,
    orders_last_amount = CASE WHEN c.orders_last_date > o.created_at THEN c.orders_last_amount
                              ELSE o.counted_amount END,
    orders_last_date = greatest(c.orders_last_date, o.created_at)
FROM o
WHERE c.project_id = $1 AND c.id = o.customer_id
RETURNING {", ".join(f"c.{column.strip()}" for column in COLUMNS.split(","))},
    o.id AS order_id, o.created_at AS order_created_at
"""

# The third: the stacked redemption's parent and its one child, and the three activities
# (`customer.order.created`, `customer.order.paid`, `customer.redemption.succeeded`).
INSERT_REDEMPTIONS = """
WITH r AS (
    INSERT INTO redemptions
        (project_id, id, parent_id, created_at, customer_id, tracking_id, metadata, channel_type,
         result, status, related_object_type, related_object_id, voucher_id, campaign_id,
         holder_id, discount, discount_amount, order_amount, order_id, "order", customer,
         voucher, children)
    VALUES ($1, $2, NULL, $4, $5, $6, $7, 'API', 'SUCCESS', 'SUCCEEDED', 'redemption', $2,
            NULL, NULL, NULL, NULL, NULL, NULL, $8, $9, $10, NULL, ARRAY[$3]),
           ($1, $3, $2, $4, $5, $6, $7, 'API', 'SUCCESS', 'SUCCEEDED', 'voucher', $11,
            $11, $12, $13, $14, $23, $24, $8, $9, $10, $15, NULL)
)
INSERT INTO customer_activities
    (project_id, id, customer_id, type, category, campaign_id, campaign_type, data, group_id,
     created_at)
VALUES ($1, $16, $5, 'customer.order.created', 'ACTION', NULL, NULL, $17, $18, $4),
       ($1, $19, $5, 'customer.order.paid', 'ACTION', NULL, NULL, $17, $18, $4),
       ($1, $20, $5, 'customer.redemption.succeeded', 'ACTION', $12, $21, $22, $18, $4)
"""

# The fields a body may set, in the order they are written.
FIELDS = ("name", "description", "email", "phone", "address", "metadata")


def upsert_statement(sent: tuple[str, ...]) -> str:
    """The one upsert statement for a body that sets the fields `sent` (a subsequence of FIELDS).

    Only the fields sent are written, on insert and on update alike (an update keeps the rest).
    The conflict target repeats the predicate of Patron's partial unique index
    `customers_source_id_key`, which is how PostgreSQL picks that index as the arbiter; `xmax = 0`
    holds for a row this statement inserted and not for one it updated.
    """
    # Names from FIELDS only, never from the request: the values go as parameters.
    columns = "".join(f", {field}" for field in sent)
    values = "".join(f", ${index}" for index in range(4, 4 + len(sent)))
    updates = "".join(f"{field} = EXCLUDED.{field}, " for field in sent)
    return f"""
INSERT INTO customers AS c (project_id, id, source_id, created_at{columns})
VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()){values})
ON CONFLICT (project_id, source_id) WHERE source_id IS NOT NULL AND deleted_at IS NULL
DO UPDATE SET {updates}updated_at = greatest(date_trunc('milliseconds', clock_timestamp()),
                                             c.created_at)
RETURNING xmax = 0 AS inserted, {COLUMNS}
"""


class CustomerBody(msgspec.Struct):
    """`POST /v1/customers` as the floor reads it: UNSET is "not sent", None clears a field."""

    source_id: str | None = None
    name: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    address: dict[str, str | None] | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET


_decode_body = msgspec.json.Decoder(CustomerBody).decode


class CampaignName(msgspec.Struct):
    name: str
    count: int | None = None


class PublicationBody(msgspec.Struct):
    """`POST /v1/publications` as the floor reads it: a customer and a campaign, one code."""

    customer: CustomerBody
    campaign: CampaignName | str | None = None
    voucher: str | None = None
    source_id: str | None = None
    channel: str | None = None
    metadata: dict[str, Any] | None = None


_decode_publication = msgspec.json.Decoder(PublicationBody).decode


class Redeemable(msgspec.Struct):
    object: str
    id: str


class OrderBody(msgspec.Struct):
    amount: int
    source_id: str
    metadata: dict[str, Any] | None = None


class CustomerKey(msgspec.Struct):
    source_id: str


class RedemptionBody(msgspec.Struct):
    """`POST /v1/redemptions` as the floor reads it: one code, an existing customer by
    source_id, and a new order with an amount."""

    redeemables: list[Redeemable]
    customer: CustomerKey
    order: OrderBody
    metadata: dict[str, Any] | None = None


_decode_redemption = msgspec.json.Decoder(RedemptionBody).decode

ADDRESS_FIELDS = ("city", "state", "line_1", "line_2", "country", "postal_code")
LOYALTY = msgspec.Raw(b'{"points":0,"referred_customers":0,"campaigns":{}}')
REFERRALS = msgspec.Raw(b'{"total":0,"campaigns":[]}')


def _date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def render(row: Record) -> dict[str, Any]:
    """The customer object of a row, key for key as Patron shows it (Voucherify's shape)."""
    address = row["address"]
    customer: dict[str, Any] = {
        "id": row["id"],
        "source_id": row["source_id"],
        "name": row["name"],
        "description": row["description"],
        "email": row["email"],
        "phone": row["phone"],
        "birthdate": _date(row["birthdate"]),
    }
    if row["birthday"] is not None:
        customer["birthday"] = _date(row["birthday"])
    # The address with the keys it was sent with; metadata left out while empty (as Patron).
    customer["address"] = (
        None
        if address is None
        else {field: address[field] for field in ADDRESS_FIELDS if field in address}
    )
    if row["metadata"]:
        customer["metadata"] = row["metadata"]
    total = int(row["orders_total_amount"])  # numeric(38, 0)
    count = row["orders_total_count"]
    orders: dict[str, Any] = {
        "total_amount": total,
        "total_count": count,
        "average_amount": total // count if count else 0,
        "last_order_amount": row["orders_last_amount"],
    }
    last: datetime | None = row["orders_last_date"]
    if last is not None:
        orders["last_order_date"] = render_datetime(last)
    succeeded, failed = row["redemptions_succeeded"], row["redemptions_failed"]
    rolled_back, rollback_failed = row["rollbacks_succeeded"], row["rollbacks_failed"]
    redemptions = {
        "total_redeemed": succeeded + failed,
        "total_failed": failed,
        "total_succeeded": succeeded,
        "total_rolled_back": rolled_back + rollback_failed,
        "total_rollback_failed": rollback_failed,
        "total_rollback_succeeded": rolled_back,
        "gift": {"redeemed_amount": row["gift_redeemed"], "amount_to_go": row["gift_balance"]},
        "loyalty_card": {
            "redeemed_points": row["loyalty_redeemed"],
            "points_to_go": row["loyalty_balance"],
        },
    }
    customer["summary"] = {"redemptions": redemptions, "orders": orders}
    customer["loyalty"] = LOYALTY
    customer["referrals"] = REFERRALS
    system_metadata = row["system_metadata"]
    customer["system_metadata"] = system_metadata
    customer["created_at"] = render_datetime(row["created_at"])
    updated: datetime | None = row["updated_at"]
    customer["updated_at"] = None if updated is None else render_datetime(updated)
    consents = system_metadata.get("consents") or {}
    customer["email_unsubscribed"] = (consents.get("unsubscribed") or {}).get("value") is True
    customer["assets"] = None
    customer["object"] = "customer"
    return customer


def _moment(value: datetime | None) -> str | None:
    return None if value is None else render_datetime(value)


def render_voucher(row: Record) -> dict[str, Any]:
    """A discount code of a row (with its campaign's name and code_config), key for key as
    Patron shows it."""
    code = row["code"]
    return {
        "id": row["id"],
        "code": code,
        "campaign": row["campaign_name"],
        "campaign_id": row["campaign_id"],
        "category": row["category"],
        "category_id": None,
        "categories": [],
        "type": row["type"],
        "discount": row["discount"],
        "gift": None,
        "loyalty_card": None,
        "start_date": _moment(row["start_date"]),
        "expiration_date": _moment(row["expiration_date"]),
        "validity_timeframe": row["validity_timeframe"],
        "validity_day_of_week": row["validity_day_of_week"],
        "validity_hours": row["validity_hours"],
        "active": row["active"],
        "additional_info": row["additional_info"],
        "metadata": row["metadata"],
        "assets": None,
        "is_referral_code": row["is_referral_code"],
        "created_at": render_datetime(row["created_at"]),
        "updated_at": _moment(row["updated_at"]),
        "holder_id": row["holder_id"],
        "referrer_id": row["referrer_id"],
        "redemption": {
            "quantity": row["redemption_quantity"],
            "redeemed_quantity": row["redeemed_quantity"],
            "object": "list",
            "url": f"/v1/vouchers/{code}/redemptions?page=1&limit=10",
        },
        "publish": {
            "object": "list",
            "count": row["publish_count"],
            "url": f"/v1/vouchers/{code}/publications?page=1&limit=10",
        },
        "code_config": row["code_config"] or row["campaign_code_config"],
        "object": "voucher",
    }


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + json.encode(value)  # jsonb's binary format: version 1, then the text


def _decode_jsonb(data: bytes) -> Any:
    return json.decode(data[1:])


def _json_as_is(value: bytes) -> bytes:
    return value  # activity data arrives here as JSON already rendered


async def _codecs(conn: asyncpg.Connection[Record]) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=_json_as_is, decoder=bytes, schema="pg_catalog", format="binary"
    )


class Refusal(Exception):
    """A request answered with an error body in Voucherify's shape."""

    def __init__(self, status: int, key: str, message: str, details: str, **extra: str) -> None:
        super().__init__(details)
        self.status = status
        self.body = {"code": status, "key": key, "message": message, "details": details, **extra}


def unauthorized() -> Refusal:
    return Refusal(401, "unauthorized", "Unauthorized", "Missing or invalid credentials")


class FloorApp:
    """The floor as an ASGI app over one asyncpg pool (as many connections as Patron's)."""

    def __init__(self, dsn: str, *, pool_size: int = 20) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool: asyncpg.Pool[Record] | None = None
        # app id -> (project id, SHA-256 of its token, the activities' rendered event source)
        self.projects: dict[str, tuple[str, bytes, bytes]] = {}
        # the upsert statement of each set of fields sent
        self.statements: dict[tuple[str, ...], str] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request_id = ids.request_id()
        try:
            status, content = await self.handle(scope, body, request_id)
        except Refusal as refusal:
            status, content = (
                refusal.status,
                json.encode({**refusal.body, "request_id": request_id}),
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [JSON_HEADER, (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=2,
                    max_size=self.pool_size,
                    init=_codecs,
                    server_settings={"application_name": "patron-floor", "timezone": "UTC"},
                )
                settle_after_startup()  # the collector as Patron sets it
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(
        self, scope: dict[str, Any], body: bytes, request_id: str
    ) -> tuple[int, bytes]:
        """(status, JSON body) of one request; raises Refusal for an error answer."""
        project_id, event_source = await self.authenticate(scope["headers"])
        path: str = scope["path"]
        method: str = scope["method"]
        if path == CUSTOMERS and method == "POST":
            return 200, await self.upsert(project_id, body, event_source, request_id)
        if path == REDEMPTIONS and method == "POST":
            return 200, await self.redeem(project_id, body, event_source, request_id)
        if path == PUBLICATIONS and method == "POST":
            return 200, await self.publish(project_id, body, event_source, request_id)
        key = path[len(CUSTOMER_PREFIX) :]
        if path.startswith(CUSTOMER_PREFIX) and key and "/" not in key and method == "GET":
            return 200, await self.read(project_id, key)
        raise Refusal(404, "not_found", "Resource not found", f"Cannot route {method} {path}")

    async def authenticate(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes]:
        """(project id, rendered event source) of the request's credentials."""
        app_id = token = None
        for name, value in headers:
            if name == b"x-app-id":
                app_id = value.decode("latin-1")
            elif name == b"x-app-token":
                token = value
        if not app_id or not token:
            raise unauthorized()
        project = self.projects.get(app_id)
        if project is None:
            assert self.pool is not None
            row = await self.pool.fetchrow(
                "SELECT id, app_token_hash FROM projects WHERE app_id = $1", app_id
            )
            if row is None:
                raise unauthorized()
            source = {"channel": "API", "api_key": {"name": "server", "app_id": app_id}}
            project = self.projects[app_id] = (
                row["id"],
                row["app_token_hash"],
                json.encode(source),
            )
        if not hmac.compare_digest(project[1], hashlib.sha256(token).digest()):
            raise unauthorized()
        return project[0], project[2]

    async def upsert(
        self, project_id: str, body: bytes, event_source: bytes, request_id: str
    ) -> bytes:
        """Create the customer of the body's source_id, or update the live one that has it;
        the customer's JSON, which is also the activity's snapshot."""
        try:
            customer = _decode_body(body)
        except msgspec.DecodeError as error:  # ValidationError is one
            raise Refusal(400, "invalid_payload", "Invalid payload", str(error)) from None
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self.write_customer(conn, project_id, customer)
            rendered = json.encode(render(row))
            snapshot = b'{"customer":' + rendered + b',"event_source":' + event_source + b"}"
            await conn.execute(
                INSERT_ACTIVITY,
                project_id,
                ids.activity_id(),
                row["id"],
                "customer.created" if row["inserted"] else "customer.updated",
                snapshot,
                request_id,
            )
        return rendered

    async def write_customer(
        self,
        conn: asyncpg.pool.PoolConnectionProxy[Record],
        project_id: str,
        customer: CustomerBody,
    ) -> Record:
        """The one upsert statement of a customer body: the row, and whether it is new."""
        sent = tuple(field for field in FIELDS if getattr(customer, field) is not UNSET)
        values = [getattr(customer, field) for field in sent]
        if customer.metadata is None:
            values[sent.index("metadata")] = {}  # a null clears metadata, which is never null
        if isinstance(customer.address, dict):
            # Kept with the keys it was sent with, nulls included.
            address = {k: v for k, v in customer.address.items() if k in ADDRESS_FIELDS}
            values[sent.index("address")] = address
        statement = self.statements.get(sent)
        if statement is None:
            statement = self.statements[sent] = upsert_statement(sent)
        row = await conn.fetchrow(
            statement, project_id, ids.customer_id(), customer.source_id, *values
        )
        assert row is not None
        return row

    async def publish(
        self, project_id: str, body: bytes, event_source: bytes, request_id: str
    ) -> bytes:
        """Upsert the body's customer and make it the holder of its campaign's oldest free code;
        the publication's JSON."""
        try:
            publication = _decode_publication(body)
        except msgspec.DecodeError as error:
            raise Refusal(400, "invalid_payload", "Invalid payload", str(error)) from None
        campaign = publication.campaign
        key = campaign.name if isinstance(campaign, CampaignName) else campaign
        if key is None or publication.voucher is not None:
            raise Refusal(400, "invalid_payload", "Invalid payload", "The floor needs a campaign")
        if isinstance(campaign, CampaignName) and campaign.count not in (None, 1):
            raise Refusal(400, "invalid_payload", "Invalid payload", "The floor publishes one code")
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self.write_customer(conn, project_id, publication.customer)
            customer = render(row)
            voucher = await conn.fetchrow(PUBLISH_CODE, project_id, key, row["id"])
            if voucher is None:
                raise Refusal(
                    400,
                    "no_voucher_suitable_for_publication",
                    "No voucher suitable for publication",
                    f"Campaign {key} has no code the floor can publish",
                )
            brief = {
                "id": row["id"],
                "name": row["name"],
                "email": row["email"],
                "source_id": row["source_id"],
                **({"metadata": row["metadata"]} if row["metadata"] else {}),
                "object": "customer",
            }
            rendered_voucher = render_voucher(voucher)
            publication_id = ids.publication_id()
            metadata = publication.metadata or {}
            created_at = await conn.fetchval(
                INSERT_PUBLICATION,
                project_id,
                publication_id,
                voucher["campaign_id"],
                row["id"],
                row["source_id"],
                publication.source_id,
                publication.channel or "API",
                metadata,
                [voucher["id"]],
                brief,
                [rendered_voucher],
            )
            if created_at is None:
                raise Refusal(
                    400,
                    "duplicate_source_id",
                    "Duplicate source_id",
                    f"Publication source_id {publication.source_id} was used already",
                )
            answer = json.encode(
                {
                    "id": publication_id,
                    "object": "publication",
                    "created_at": render_datetime(created_at),
                    "customer_id": row["id"],
                    "tracking_id": row["source_id"],
                    "metadata": metadata,
                    "channel": "API",
                    "source_id": publication.source_id,
                    "result": "SUCCESS",
                    "customer": brief,
                    "vouchers_id": [voucher["id"]],
                    "voucher": rendered_voucher,
                }
            )
            rendered_customer = json.encode(customer)
            campaign_brief = json.encode(
                {
                    "id": voucher["campaign_id"],
                    "name": voucher["campaign_name"],
                    "campaign_type": voucher["campaign_type"],
                    "type": voucher["campaign_kind"],
                    "object": "campaign",
                }
            )
            source = b',"event_source":' + event_source + b"}"
            await conn.execute(
                INSERT_PUBLICATION_ACTIVITIES,
                project_id,
                ids.activity_id(),
                row["id"],
                "customer.created" if row["inserted"] else "customer.updated",
                b'{"customer":' + rendered_customer + source,
                request_id,
                ids.activity_id(),
                voucher["campaign_id"],
                b'{"customer":'
                + rendered_customer
                + b',"campaign":'
                + campaign_brief
                + b',"publication":'
                + answer
                + source,
            )
        return answer

    async def redeem(
        self, project_id: str, body: bytes, event_source: bytes, request_id: str
    ) -> bytes:
        """Redeem one discount code (AMOUNT off) for an existing customer with a new order, as a
        stacked redemption (a parent and one child); the answer's JSON."""
        try:
            request = _decode_redemption(body)
        except msgspec.DecodeError as error:
            raise Refusal(400, "invalid_payload", "Invalid payload", str(error)) from None
        if len(request.redeemables) != 1 or request.redeemables[0].object != "voucher":
            raise Refusal(400, "invalid_payload", "Invalid payload", "The floor redeems one code")
        code = request.redeemables[0].id
        order_in = request.order
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            voucher = await conn.fetchrow(REDEEM_CODE, project_id, code)
            discount = voucher["discount"] if voucher is not None else None
            if voucher is None or discount is None or discount.get("type") != "AMOUNT":
                raise Refusal(400, "voucher_not_redeemable", "Not redeemable", code)
            amount_off = min(int(discount.get("amount_off") or 0), order_in.amount)
            metadata = order_in.metadata or {}
            row = await conn.fetchrow(
                ORDER_AND_COUNTERS,
                project_id,
                ids.order_id(),
                request.customer.source_id,
                order_in.source_id,
                order_in.amount,
                amount_off,
                metadata,
            )
            if row is None:
                raise Refusal(
                    400, "invalid_payload", "Invalid payload", "An existing customer, a new order"
                )
            customer = render(row)
            brief = {
                "id": row["id"],
                "name": row["name"],
                "email": row["email"],
                "source_id": row["source_id"],
                **({"metadata": row["metadata"]} if row["metadata"] else {}),
                "object": "customer",
            }
            order = {
                "id": row["order_id"],
                "source_id": order_in.source_id,
                "created_at": render_datetime(row["order_created_at"]),
                "updated_at": None,
                "status": "PAID",
                "amount": order_in.amount,
                "discount_amount": amount_off,
                "items_discount_amount": 0,
                "total_discount_amount": amount_off,
                "total_amount": order_in.amount - amount_off,
                "items": [],
                **({"metadata": metadata} if metadata else {}),
                "customer_id": row["id"],
                "referrer_id": None,
                "customer": {"id": row["id"], "object": "customer"},
                "object": "order",
            }
            answered_order = {
                **order,
                "applied_discount_amount": amount_off,
                "items_applied_discount_amount": 0,
                "total_applied_discount_amount": amount_off,
            }
            rendered_voucher = render_voucher(voucher)
            now = datetime.now(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            moment = render_datetime(now)
            parent_id, child_id = ids.redemption_id(), ids.redemption_id()
            common = {
                "object": "redemption",
                "date": moment,
                "customer_id": row["id"],
                "tracking_id": row["source_id"],
                "metadata": request.metadata or {},
            }
            tail = {
                "order": answered_order,
                "channel": {"channel_id": None, "channel_type": "API"},
                "customer": brief,
            }
            child = {
                "id": child_id,
                **common,
                "redemption": parent_id,
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                **tail,
                "related_object_type": "voucher",
                "related_object_id": voucher["id"],
                "voucher": rendered_voucher,
            }
            parent = {
                "id": parent_id,
                **common,
                "redemption": None,
                "result": "SUCCESS",
                "status": "SUCCEEDED",
                **tail,
                "related_object_type": "redemption",
                "related_object_id": parent_id,
            }
            campaign = (
                None
                if voucher["campaign_id"] is None
                else {
                    "id": voucher["campaign_id"],
                    "name": voucher["campaign_name"],
                    "campaign_type": voucher["campaign_type"],
                    "type": voucher["campaign_kind"],
                    "object": "campaign",
                }
            )
            rendered_customer = json.encode(customer)
            source = b',"event_source":' + event_source + b"}"
            await conn.execute(
                INSERT_REDEMPTIONS,
                project_id,
                parent_id,
                child_id,
                now,
                row["id"],
                row["source_id"],
                request.metadata or {},
                row["order_id"],
                answered_order,
                brief,
                voucher["id"],
                voucher["campaign_id"],
                voucher["holder_id"],
                discount,
                rendered_voucher,
                ids.activity_id(),
                b'{"customer":' + rendered_customer + b',"order":' + json.encode(order) + source,
                request_id,
                ids.activity_id(),
                ids.activity_id(),
                voucher["campaign_type"],
                json.encode(
                    {
                        "customer": customer,
                        "order": answered_order,
                        "campaign": campaign,
                        "voucher": rendered_voucher,
                        "holder": None
                        if voucher["holder_id"] is None
                        else {"id": voucher["holder_id"], "object": "customer"},
                        "redemption": child,
                    }
                )[:-1]
                + source,
                amount_off,
                order_in.amount,
            )
        return json.encode(
            {"redemptions": [child], "parent_redemption": parent, "order": answered_order}
        )

    async def read(self, project_id: str, key: str) -> bytes:
        """The live customer with this id or source_id, as JSON."""
        assert self.pool is not None
        row = await self.pool.fetchrow(SELECT_CUSTOMER, project_id, key)
        if row is None:
            raise Refusal(
                404,
                "not_found",
                "Resource not found",
                f"Cannot find customer with id {key}",
                resource_id=key,
                resource_type="customer",
            )
        return json.encode(render(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--pool-size", type=int, default=20, help="as Patron's default")
    args = parser.parse_args()
    uvicorn.run(
        FloorApp(args.dsn, pool_size=args.pool_size),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
    )


if __name__ == "__main__":
    main()
