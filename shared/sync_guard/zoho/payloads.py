"""Wire models for the three webhook kinds Zoho sends, and their normalisation into ``GuardEvent``.

Zoho CRM workflow webhook (Setup > Automation > Actions > Webhooks, body type ``raw`` JSON, or
``form_data`` with the same keys). One rule per trigger, so ``event`` is a constant in the template.
The recommended templates (each stays under the 500-character cap of the CRM API) are:

Accounts::

    {"event":"edit","module":"Accounts","id":"${!Accounts.Id}","name":"${!Accounts.Account_Name}",
     "modified":"${!Accounts.Modified_Time}","phone":"${!Accounts.Phone}","website":"${!Accounts.Website}",
     "postcode":"${!Accounts.Billing_Code}","city":"${!Accounts.Billing_City}",
     "country":"${!Accounts.Billing_Country}"}

Contacts::

    {"event":"edit","module":"Contacts","id":"${!Contacts.Id}","first_name":"${!Contacts.First_Name}",
     "last_name":"${!Contacts.Last_Name}","email":"${!Contacts.Email}","phone":"${!Contacts.Phone}",
     "modified":"${!Contacts.Modified_Time}","postcode":"${!Contacts.Mailing_Zip}",
     "city":"${!Contacts.Mailing_City}","account_id":"${!Contacts.Account_Name.id}"}

``event`` is ``create``, ``edit`` (``update`` is accepted), ``delete`` or ``create_or_edit`` (treated as an
update: the guard cannot tell which, so it checks the record as a possibly new one either way). Keys the
guard does not know are kept in ``GuardEvent.fields``. The lookup merge field ``Account_Name.id`` is not
confirmed by Zoho's documentation; when it does not resolve, enrichment fetches the contact.

Zoho CRM Notification API callback (``POST /crm/v8/actions/watch``): ``ids`` (several per call), ``operation``
``insert|update|delete``, ``server_time`` (epoch ms), ``channel_id``, the echoed ``token`` and, with
``return_affected_field_values``, ``affected_values``. One ``GuardEvent`` per id; the record itself must be
fetched (``record=None``), deletes excepted, which the shadow's last known state answers.

Zoho Books workflow webhook on the Customers entity. Books offers a "Default Payload" (``{"contact": {...}}``
as JSON), ``x-www-form-urlencoded`` key/value pairs the admin chooses (placeholders such as
``${contact.contact_id}``), or a user-defined raw body. Accepted here: the default payload; the same JSON
in a ``JSONString`` form field (the Books API's own convention for form bodies); flat fields named like the
contact's (``contact_id=..&contact_name=..``) as form or JSON; and a delete carrying only the id (Zoho does
not document the delete body, so ``{"contact_id": ..}`` and ``{"contact": {"contact_id": ..}}`` both work).
Books does not say in the default payload which trigger fired, so configure each webhook with the query
parameter ``event=create|edit|delete`` (or an ``event`` form field); without one the guard infers it: an id
with nothing else is a delete, equal created/modified times a create, anything else an update.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sync_guard.errors import InvalidPayload, invalid_payload
from sync_guard.models.events import Channel, GuardEvent, Operation, event_key
from sync_guard.models.records import RECORD_ID_RULE, Module, PartyRecord, System, is_record_id
from sync_guard.zoho.convert import books_contact_to_party, crm_module, crm_record_to_party, parse_zoho_time

# Keys never copied into an event's fields: the shared secret some deployments put in the body.
_SECRET_KEYS = frozenset({"token"})


def _scalar_text(value: Any) -> Any:
    """Zoho ids arrive as strings or, from an unquoted template, as numbers: accept both as text."""
    if isinstance(value, bool):
        return value  # let the str validator reject it
    if isinstance(value, int | float):
        return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return value


def _required_text(value: Any) -> Any:
    """Text that must be there: spaces around it dropped (a padded id is the same record), and blank
    refused (an id of spaces is no id)."""
    value = _scalar_text(value)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
    return value


def _optional_text(value: Any) -> Any:
    """Empty strings and nulls mean "absent" in Zoho payloads; an unfilled merge field is empty too."""
    value = _scalar_text(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# A record's own id that is no record id (``is_record_id``) is refused. A linked record's id is optional: one
# that is no id is read as absent, as an unreadable time is, since the event is worth more than the link
# (enrichment or the shadow supplies it).
# The Zoho fields a party record is built from (names, emails, phones, address lines) hold a few hundred
# characters at most. A longer value did not come from them, and a record of such values does not fit the
# shadow's DynamoDB items (400 KB, each holding the record more than once): the processor would fail on
# every delivery of an event it had acknowledged.
MAX_RECORD_TEXT = 2_000


def _zoho_id(value: Any) -> Any:
    value = _required_text(value)
    if isinstance(value, str) and not is_record_id(value):
        raise ValueError(f"is not a Zoho record id ({RECORD_ID_RULE})")
    return value


def _optional_zoho_id(value: Any) -> Any:
    value = _optional_text(value)
    return value if not isinstance(value, str) or is_record_id(value) else None


def _record_text(value: Any) -> Any:
    value = _optional_text(value)
    if isinstance(value, str) and len(value) > MAX_RECORD_TEXT:
        raise ValueError(f"longer than {MAX_RECORD_TEXT} characters")
    return value


Text = Annotated[str, BeforeValidator(_required_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
ZohoId = Annotated[str, BeforeValidator(_zoho_id)]
OptionalZohoId = Annotated[str | None, BeforeValidator(_optional_zoho_id)]
RecordText = Annotated[str | None, BeforeValidator(_record_text)]


def _id_list(value: Any) -> Any:
    """``ids`` is a JSON array; a comma-separated string (form bodies, hand-made tests) is accepted too."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [_scalar_text(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------- wire models
class CrmWorkflowPayload(BaseModel):
    """The body a CRM workflow webhook sends with the recommended template (raw JSON or form data)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event: Text
    module: Text
    id: ZohoId
    name: RecordText = None
    modified: OptionalText = None
    email: RecordText = None
    phone: RecordText = None
    website: RecordText = None
    postcode: RecordText = None
    city: RecordText = None
    country: RecordText = None
    first_name: RecordText = None
    last_name: RecordText = None
    account_id: OptionalZohoId = None


class AffectedValues(BaseModel):
    """One entry of ``affected_values``: the changed fields of one record (with the channel's flag set)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    record_id: Text
    values: dict[str, Any] = Field(default_factory=dict)


class CrmNotificationPayload(BaseModel):
    """A Notification API callback: several record ids, one operation, the echoed channel token."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Epoch milliseconds; bounded so that a hostile value cannot overflow the datetime conversion.
    server_time: int = Field(ge=0, le=253_402_300_799_999)
    module: Text
    ids: Annotated[list[ZohoId], BeforeValidator(_id_list), Field(min_length=1)]
    operation: Text
    channel_id: Text
    token: OptionalText = None
    resource_uri: OptionalText = None
    affected_fields: list[dict[str, Any]] | None = None
    affected_values: list[AffectedValues] | None = None
    query_params: dict[str, Any] | None = None


class BooksContactPerson(BaseModel):
    """One of a Books contact's ``contact_persons``: the values the party record takes from it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    first_name: RecordText = None
    last_name: RecordText = None
    email: RecordText = None


class BooksAddress(BaseModel):
    """A Books contact's ``billing_address``: the lines the party record takes from it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    address: RecordText = None
    street2: RecordText = None
    city: RecordText = None
    zip: RecordText = None
    country: RecordText = None


class BooksContactPayload(BaseModel):
    """The ``contact`` of a Books webhook: only the id is required; the rest is whatever Books sent."""

    model_config = ConfigDict(extra="allow", frozen=True)

    contact_id: ZohoId
    contact_name: RecordText = None
    created_time: OptionalText = None
    last_modified_time: OptionalText = None
    # Typed here so that a malformed body fails with the field named, not inside the converter.
    company_name: RecordText = None
    email: RecordText = None
    phone: RecordText = None
    mobile: RecordText = None
    website: RecordText = None
    vat_reg_no: RecordText = None
    currency_code: RecordText = None
    zcrm_account_id: OptionalZohoId = None
    zcrm_contact_id: OptionalZohoId = None
    contact_persons: list[BooksContactPerson] | None = None
    billing_address: BooksAddress | None = None
    custom_fields: list[Any] | None = None


# ---------------------------------------------------------------------------------------------- helpers
ModelT = TypeVar("ModelT", bound=BaseModel)


# Zoho's payloads nest a few levels (contact -> contact_persons -> person -> value). The stored event and the
# queue message wrap the fields in a few more, and pydantic's JSON reader and writer stop at about 200: a
# deeper value would fail the events table write (a 5xx for the caller's mistake) or, a little shallower,
# be acknowledged and then never be read back by the processor.
MAX_NESTING = 32


def _refuse_deep_nesting(data: Mapping[str, Any], prefix: str = "") -> None:
    """``InvalidPayload`` naming the top-level field whose value nests lists/objects deeper than allowed."""
    pending: list[tuple[str, Any, int]] = [(str(key), value, 1) for key, value in data.items()]
    while pending:
        top, value, depth = pending.pop()
        if isinstance(value, Mapping):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_NESTING:
            field = ".".join(part for part in (prefix, top) if part)
            raise InvalidPayload(f"{field}: nested more than {MAX_NESTING} levels deep", field=field)
        pending.extend((top, child, depth + 1) for child in children)


def _validate(model: type[ModelT], data: Mapping[str, Any], prefix: str = "") -> ModelT:
    _refuse_deep_nesting(data, prefix)
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        raise invalid_payload(error, prefix) from None


def _canonical_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body without secrets: what a content-derived event key hashes."""
    return {key: value for key, value in data.items() if key not in _SECRET_KEYS}


_CRM_OPERATIONS = {
    "create": Operation.CREATE,
    "insert": Operation.CREATE,
    "edit": Operation.UPDATE,
    "update": Operation.UPDATE,
    # One rule fires for both; the guard treats it as an update of a possibly new record.
    "create_or_edit": Operation.UPDATE,
    "delete": Operation.DELETE,
}


def _operation(value: str, field: str) -> Operation:
    operation = _CRM_OPERATIONS.get(value.strip().lower())
    if operation is None:
        raise InvalidPayload(f"unsupported operation {value!r}", field=field)
    return operation


# Wire keys of the recommended CRM templates -> CRM API field names, so one converter builds every record.
_CRM_ACCOUNT_FIELDS = {
    "name": "Account_Name",
    "email": "Email",
    "phone": "Phone",
    "website": "Website",
    "postcode": "Billing_Code",
    "city": "Billing_City",
    "country": "Billing_Country",
    "modified": "Modified_Time",
}
_CRM_CONTACT_FIELDS = {
    "name": "Full_Name",
    "first_name": "First_Name",
    "last_name": "Last_Name",
    "email": "Email",
    "phone": "Phone",
    "website": "Website",
    "postcode": "Mailing_Zip",
    "city": "Mailing_City",
    "country": "Mailing_Country",
    "modified": "Modified_Time",
}
# The record's fields each wire key fills. A person's name and its parts change together.
_CRM_CARRIED = {
    "name": ("name", "first_name", "last_name"),
    "first_name": ("name", "first_name", "last_name"),
    "last_name": ("name", "first_name", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
    "website": ("website",),
    "postcode": ("postcode",),
    "city": ("city",),
    "country": ("country",),
    "account_id": ("account_id",),
    "modified": ("modified_at",),
}


def _crm_workflow_carries(payload: CrmWorkflowPayload) -> tuple[str, ...]:
    """The record's fields the payload sent, blank ones included (a blank merge field is a cleared value)."""
    return tuple(sorted({field for key in payload.model_fields_set for field in _CRM_CARRIED.get(key, ())}))


# Fields that identify a party; a payload with none of them has too little to match on without a fetch.
_CRM_IDENTIFYING = ("name", "first_name", "last_name", "email", "phone", "website", "postcode")


def _crm_workflow_record(module: Module, payload: CrmWorkflowPayload) -> PartyRecord | None:
    if not any(getattr(payload, key) for key in _CRM_IDENTIFYING):
        return None
    mapping = _CRM_ACCOUNT_FIELDS if module is Module.CRM_ACCOUNTS else _CRM_CONTACT_FIELDS
    data: dict[str, Any] = {"id": payload.id}
    for wire_key, crm_key in mapping.items():
        value = getattr(payload, wire_key)
        if value is not None:
            data[crm_key] = value
    if module is Module.CRM_CONTACTS and payload.account_id:
        data["Account_Name"] = {"id": payload.account_id}  # the lookup, as the API gives it
    return crm_record_to_party(module, data)


def crm_workflow_body(module: Module | str, data: Mapping[str, Any], *, event: str) -> dict[str, Any]:
    """The body the recommended workflow-webhook template sends, built from a record as the CRM API gives it.

    What a webhook Zoho failed to deliver would have carried (the scheduled checks replay such failures):
    ``parse_crm_workflow`` turns it into the same ``GuardEvent``, with the same id when the record has not
    changed since. Empty values and nested objects (owner, lookups) are left out, as the template leaves
    them; a contact's account lookup becomes ``account_id``.
    """
    mod = crm_module(module)
    mapping = _CRM_ACCOUNT_FIELDS if mod is Module.CRM_ACCOUNTS else _CRM_CONTACT_FIELDS
    body: dict[str, Any] = {"event": event, "module": mod.value, "id": str(data.get("id", ""))}
    for wire_key, crm_key in mapping.items():
        value = data.get(crm_key)
        if value is not None and value != "" and not isinstance(value, Mapping | list | bool):
            body[wire_key] = value
    lookup = data.get("Account_Name")
    if mod is Module.CRM_CONTACTS and isinstance(lookup, Mapping) and lookup.get("id"):
        body["account_id"] = str(lookup["id"])
    return body


def _template_fields(payload: CrmWorkflowPayload) -> dict[str, Any]:
    """The recommended template's fields the body sent, as read (ids stripped)."""
    known = CrmWorkflowPayload.model_fields
    return {key: getattr(payload, key) for key in sorted(payload.model_fields_set) if key in known}


# ---------------------------------------------------------------------------------------------- parsers
def parse_crm_workflow(data: Mapping[str, Any], *, received_at: datetime) -> GuardEvent:
    """Normalise a CRM workflow webhook body (JSON object or form fields) into one ``GuardEvent``.

    The event id hashes source, module, operation and every template field the body sent (record id and
    ``modified`` among them; not the token, nor fields of its own a template adds): a re-delivery, or a
    failed delivery replayed, is recognised, and two edits within the second of ``modified`` (Zoho's
    times have whole seconds) are two events.
    """
    payload = _validate(CrmWorkflowPayload, data)
    module = crm_module(payload.module)
    operation = _operation(payload.event, "event")
    return GuardEvent(
        event_id=event_key(System.CRM, module, operation, _template_fields(payload)),
        source=System.CRM,
        channel=Channel.CRM_WORKFLOW,
        module=module,
        operation=operation,
        record_id=payload.id,
        fields=_canonical_body(data),
        record=_crm_workflow_record(module, payload),
        carries=_crm_workflow_carries(payload),
        modified_at=parse_zoho_time(payload.modified),
        received_at=received_at,
    )


def _affected_values_by_id(payload: CrmNotificationPayload) -> dict[str, dict[str, Any]]:
    return {entry.record_id: dict(entry.values) for entry in payload.affected_values or []}


def parse_crm_notification(data: Mapping[str, Any], *, received_at: datetime) -> list[GuardEvent]:
    """Normalise a Notification API callback into one ``GuardEvent`` per id (duplicate ids collapse).

    Each event's id hashes module, operation, record id, ``server_time`` and ``channel_id``; its fields are
    the affected values Zoho sent for that record (empty without ``return_affected_field_values``).
    """
    payload = _validate(CrmNotificationPayload, data)
    module = crm_module(payload.module)
    operation = _operation(payload.operation, "operation")
    server_time = datetime.fromtimestamp(payload.server_time / 1000, tz=UTC)
    values = _affected_values_by_id(payload)
    events: list[GuardEvent] = []
    for record_id in dict.fromkeys(payload.ids):
        events.append(
            GuardEvent(
                event_id=event_key(
                    System.CRM,
                    Channel.CRM_NOTIFICATION,
                    module,
                    operation,
                    record_id,
                    payload.server_time,
                    payload.channel_id,
                ),
                source=System.CRM,
                channel=Channel.CRM_NOTIFICATION,
                module=module,
                operation=operation,
                record_id=record_id,
                fields=values.get(record_id, {}),
                record=None,
                modified_at=server_time,
                received_at=received_at,
            )
        )
    return events


def _books_contact_data(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """Find the contact in any accepted Books body shape; returns it and the path prefix for errors."""
    if "JSONString" in data:
        raw = data["JSONString"]
        try:
            decoded = json.loads(raw) if isinstance(raw, str | bytes) else raw
        except (ValueError, RecursionError):
            raise InvalidPayload("JSONString is not valid JSON", field="JSONString") from None
        if not isinstance(decoded, Mapping):
            raise InvalidPayload("JSONString must hold a JSON object", field="JSONString")
        data = decoded
    contact = data.get("contact")
    if isinstance(contact, Mapping):
        return contact, "contact"
    if contact is not None:
        raise InvalidPayload("contact must be an object", field="contact")
    if "contact_id" in data:
        # Flat fields (form body or user-defined raw JSON) named like the contact's own.
        return {key: value for key, value in data.items() if key not in {"event", "operation"}}, ""
    raise InvalidPayload("contact.contact_id: field required", field="contact.contact_id")


_BOOKS_OPERATIONS = {
    "create": Operation.CREATE,
    "created": Operation.CREATE,
    "edit": Operation.UPDATE,
    "edited": Operation.UPDATE,
    "update": Operation.UPDATE,
    "updated": Operation.UPDATE,
    "create_or_edit": Operation.UPDATE,
    "delete": Operation.DELETE,
    "deleted": Operation.DELETE,
}


def _books_operation(hint: str | None, contact: BooksContactPayload, raw: Mapping[str, Any]) -> Operation:
    if hint:
        operation = _BOOKS_OPERATIONS.get(hint.strip().lower())
        if operation is None:
            raise InvalidPayload(f"unsupported event {hint!r}", field="event")
        return operation
    if not any(_optional_text(value) for key, value in raw.items() if key != "contact_id"):
        return Operation.DELETE
    if contact.created_time and contact.created_time == contact.last_modified_time:
        return Operation.CREATE
    return Operation.UPDATE


def parse_books_webhook(
    data: Mapping[str, Any], *, received_at: datetime, operation: str | None = None
) -> GuardEvent:
    """Normalise a Books Customers webhook body into one ``GuardEvent``.

    ``operation`` is the trigger named by the webhook's ``event`` query parameter, if configured; an
    ``event``/``operation`` field in the body serves too, else it is inferred (see the module docstring).
    The event id hashes contact id, operation and the whole contact (the token excepted).
    """
    contact_data, prefix = _books_contact_data(data)
    contact = _validate(BooksContactPayload, contact_data, prefix)
    hint = operation or _optional_text(data.get("event")) or _optional_text(data.get("operation"))
    if hint is not None and not isinstance(hint, str):
        raise InvalidPayload("event must be text", field="event")
    # The shared token may come as a body field too: it says nothing about the contact.
    fields = _canonical_body(contact_data)
    op = _books_operation(hint, contact, fields)
    # The whole contact, not only last_modified_time: two edits within one second are two events.
    key = event_key(System.BOOKS, Module.BOOKS_CUSTOMERS, op, {**fields, "contact_id": contact.contact_id})
    id_only = not any(_optional_text(value) for key_, value in fields.items() if key_ != "contact_id")
    links = {"zcrm_account_id": contact.zcrm_account_id, "zcrm_contact_id": contact.zcrm_contact_id}
    record = (
        None if id_only else books_contact_to_party({**fields, "contact_id": contact.contact_id, **links})
    )
    return GuardEvent(
        event_id=key,
        source=System.BOOKS,
        channel=Channel.BOOKS_WORKFLOW,
        module=Module.BOOKS_CUSTOMERS,
        operation=op,
        record_id=contact.contact_id,
        fields=fields,
        record=record,
        modified_at=parse_zoho_time(contact.last_modified_time),
        received_at=received_at,
    )


__all__: Sequence[str] = (
    "AffectedValues",
    "BooksAddress",
    "BooksContactPayload",
    "BooksContactPerson",
    "CrmNotificationPayload",
    "CrmWorkflowPayload",
    "crm_workflow_body",
    "parse_books_webhook",
    "parse_crm_notification",
    "parse_crm_workflow",
)
