"""Configuration: one pydantic-settings model, validated once at cold start.

Nothing else in the package reads ``os.environ``; code takes a ``Settings`` (or the values it needs).
Every variable is prefixed ``SYNC_GUARD_``; the template sets them in its Globals. A variable set but empty
means the setting's default: the template passes a stack parameter left empty straight through.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """``observe`` decides and records but writes nothing to Zoho; ``enforce`` also acts."""

    OBSERVE = "observe"
    ENFORCE = "enforce"


class DataCentre(StrEnum):
    """Zoho data centres, by the top-level domain of their accounts/API hosts."""

    US = "com"
    EU = "eu"
    IN = "in"
    AU = "com.au"
    JP = "jp"
    CN = "com.cn"
    CA = "ca"
    SA = "sa"
    UK = "uk"  # unconfirmed by Zoho's public docs; kept configurable


class BooksSignatureScheme(StrEnum):
    """How Books webhooks are authenticated beyond the shared-secret header (pluggable, off by default)."""

    NONE = "none"
    HMAC_SHA256 = "hmac-sha256"


class Settings(BaseSettings):
    """Everything the guard needs to know about its environment."""

    model_config = SettingsConfigDict(
        env_prefix="SYNC_GUARD_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    mode: Mode = Mode.OBSERVE
    service_name: str = "zoho-sync-guard"

    # DynamoDB tables and the processing queue.
    events_table: str = "sync-guard-events"
    shadow_table: str = "sync-guard-shadow"
    audit_table: str = "sync-guard-audit"
    # Actions the guard decided on (tag, mark inactive, notify), written with the audit entry; the executor
    # takes their ids from the outbox queue, the sweep re-queues stragglers found through the status index.
    outbox_table: str = "sync-guard-outbox"
    queue_url: str = ""
    dlq_url: str = ""
    outbox_queue_url: str = ""
    outbox_dlq_url: str = ""
    # Must equal the OutboxQueue's maxReceiveCount: the executor marks an action dead-lettered on the
    # failure of its last receive, since SQS then moves the message to the dead-letter queue.
    outbox_max_receives: int = Field(default=5, ge=1)
    # A claimed action whose executor vanished (timeout, crash) may be claimed again after this long.
    outbox_lease_seconds: int = Field(default=120, gt=0)
    # The sweep re-queues actions still pending this long after they were queued (retrying ones after 15
    # minutes untouched, running ones once their lease has run out: executor.Executor.sweep).
    outbox_sweep_after_seconds: int = Field(default=120, ge=0)
    finance_topic_arn: str = ""
    # The scheduled Zoho checks' function, which ``sync-guard checks`` invokes on demand (a stack output).
    zoho_checks_function: str = ""
    aws_region: str = Field(default="eu-west-2", validation_alias="AWS_REGION")
    # Point boto3 at local servers (the local stack, integration tests). Empty on AWS.
    # ``aws_endpoint_url`` serves every service (moto's server); ``dynamodb_endpoint_url`` overrides it for
    # DynamoDB (e.g. DynamoDB Local beside moto's server for SQS/SNS).
    aws_endpoint_url: str = ""
    dynamodb_endpoint_url: str = ""

    # Webhook authentication. Locally the secret comes from the environment; on AWS from Secrets Manager
    # (``webhook_secret_name``) or SSM (``webhook_secret_parameter``), resolved once per container.
    webhook_secret: SecretStr | None = None
    webhook_secret_name: str = ""
    webhook_secret_parameter: str = ""
    books_signature_scheme: BooksSignatureScheme = BooksSignatureScheme.NONE
    books_signature_header: str = "X-Zoho-Webhook-Signature"
    books_signature_secret: SecretStr | None = None

    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # Raw events are kept this long for replay and investigation.
    event_retention_days: int = Field(default=30, gt=0)

    # Zoho.
    zoho_data_centre: DataCentre = DataCentre.EU
    zoho_secret_name: str = ""
    zoho_client_id: str = ""
    zoho_client_secret: SecretStr | None = None
    zoho_refresh_token: SecretStr | None = None
    zoho_books_organization_id: str = ""
    zoho_crm_org_id: str = ""
    # Overrides for the simulator/local stack; on AWS they are derived from the data centre.
    zoho_accounts_url: str = ""
    zoho_api_url: str = ""
    # Every Zoho call has this timeout; failed calls are tried this many times in all (see zoho.http).
    zoho_timeout_seconds: float = Field(default=10.0, gt=0)
    zoho_max_attempts: int = Field(default=4, ge=1)
    # Credentials Zoho's accounts server refused are not sent again, by any container, for this long (0: off).
    zoho_refusal_memory_seconds: float = Field(default=60.0, ge=0)
    # Links to records in Zoho's web UI in finance notifications. Empty: derived from the data centre.
    # The URL shapes are not in Zoho's API docs, hence overridable;
    # placeholders {domain} {org_id} {module} {record_id}.
    zoho_crm_record_url: str = ""
    zoho_books_contact_url: str = ""
    # Scheduled checks against Zoho (see docs/operations.md, "Scheduled Zoho checks").
    # The Notification API channel the guard keeps alive: its id (empty: no channel is renewed), the URL
    # Zoho calls back (the stack's CrmNotificationUrl) and the events it watches. The channel's token is
    # the webhook secret, which the ingest function checks callbacks against.
    crm_notification_channel_id: str = Field(default="", pattern=r"^\d*$")
    crm_notify_url: str = ""
    crm_notification_events: str = "Accounts.all,Contacts.all"
    # Each renewal asks Zoho for this lifetime (Zoho allows at most a week); a channel with less than
    # ``crm_notification_renew_hours`` left is renewed.
    crm_notification_channel_hours: int = Field(default=144, ge=2, le=168)
    crm_notification_renew_hours: int = Field(default=48, ge=1, le=166)
    # Webhook failures and deleted records: a check's first run looks back this far; every run reads
    # from its watermark minus the overlap (clock skew, late writes: repeats are recognised, not redone).
    zoho_checks_first_lookback_hours: int = Field(default=24, ge=1, le=2160)
    zoho_checks_overlap_seconds: int = Field(default=300, ge=0)
    # Sync stall: CRM edits of linked records older than the grace (time the sync may take) and younger
    # than the lookback are sampled, at most ``sync_stall_sample``; this many not carried to Books and
    # none carried is a stall. 0 edits: the check is off.
    sync_stall_grace_minutes: int = Field(default=180, ge=5)
    sync_stall_lookback_hours: int = Field(default=24, ge=1, le=720)
    sync_stall_min_edits: int = Field(default=3, ge=0)
    sync_stall_sample: int = Field(default=10, ge=1, le=200)
    # The check looks this often at most (each look reads Books, whose daily API cap can be 1,000 calls).
    sync_stall_every_minutes: int = Field(default=60, ge=0)
    # Books customers deleted without a webhook: a pass lists every Books contact, then asks Books about
    # each live customer of the shadow's that the listing lacked. A pass starts this often (0: off) and
    # spends at most ``books_deleted_max_calls`` Books calls per run, going on at the next run.
    books_deleted_every_minutes: int = Field(default=180, ge=0)
    books_deleted_max_calls: int = Field(default=25, ge=1, le=1000)
    # Holds nobody decided about: once a day, in the first run at or after this hour (UTC), finance is
    # reminded of the holds written in Zoho that have waited longer than this many days (0: never).
    hold_reminder_after_days: int = Field(default=3, ge=0, le=365)
    hold_reminder_hour_utc: int = Field(default=8, ge=0, le=23)

    # Matching defaults.
    default_phone_region: str = "GB"

    # Finance notifications: a batch with more notices than this becomes one digest.
    notify_max_individual: int = Field(default=5, ge=1)
    # Local stack: also append every notification to this file (readable text). Empty: off.
    notify_file: str = ""

    # Decisions (see docs/rules.md). ``rule_policy`` overrides the per-rule outcome, as JSON in the
    # environment: SYNC_GUARD_RULE_POLICY='{"NAME_DRIFT": "flag"}'. Unknown codes are rejected at start-up.
    rule_policy: dict[str, str] = Field(default_factory=dict)
    # The CRM tag whose presence takes a record out of the CRM view the native sync uses.
    crm_hold_tag: str = "sync-guard-hold"
    # Optionally also set this CRM checkbox field (API name) on hold and clear it on release. Empty: off.
    crm_hold_field: str = ""
    # A burst of this many creates matching existing customers within the window trips the storm breaker.
    storm_threshold: int = Field(default=10, gt=1)
    storm_window_seconds: int = Field(default=600, gt=0)
    # How long one event may spend re-deciding after lost races or throttled commits before it is left to
    # the queue's redelivery. A batch of ten events must finish well inside the processor's timeout.
    commit_retry_budget_seconds: float = Field(default=3.0, gt=0)
    # Records created on both sides within this many hours of each other count as "both sides created".
    both_sides_window_hours: int = Field(default=72, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()


def setting_variable(field: str) -> str:
    """The environment variable that sets a field of ``Settings`` (``mode`` -> ``SYNC_GUARD_MODE``); a
    variable of its own (``AWS_REGION``, which pydantic names a refused value by) is its own name."""
    known = Settings.model_fields.get(field)
    alias = known.validation_alias if known is not None else None
    if isinstance(alias, str):
        return alias
    return field if known is None and field.isupper() else f"SYNC_GUARD_{field.upper()}"
