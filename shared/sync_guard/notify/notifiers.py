"""Where rendered messages go: SNS for finance, a file for the local stack, memory for tests."""

from __future__ import annotations

import logging
import threading
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from sync_guard.config import Settings
from sync_guard.errors import SyncGuardError
from sync_guard.notify.aggregate import aggregate, fresh
from sync_guard.notify.links import ZohoLinks
from sync_guard.notify.model import FinanceNotice, RenderedMessage
from sync_guard.store import aws

logger = logging.getLogger(__name__)


class NotificationFailed(SyncGuardError):
    """A message could not be published; the outbox retries the action, then dead-letters it."""

    code = "notification_failed"

    def __init__(self, message: str, *, delivered: Sequence[Delivery] = ()) -> None:
        super().__init__(message)
        # What went out before the failure, so the caller can store those keys and not send them again.
        self.delivered = tuple(delivered)


@dataclass(frozen=True)
class Delivery:
    """A message that was published, with the id its channel gave it."""

    message: RenderedMessage
    message_id: str


@runtime_checkable
class Notifier(Protocol):
    """Anything that can deliver a rendered message and return an id for it."""

    def publish(self, message: RenderedMessage) -> str:
        """Deliver one message; raise ``NotificationFailed`` when it could not be delivered."""
        ...


def _log_fields(message: RenderedMessage) -> dict[str, Any]:
    # Rule, severity and keys only: subjects carry customer names, bodies carry emails.
    return {
        "rule": message.rule,
        "severity": message.severity.value,
        "kind": message.kind.value,
        "notices": message.notice_count,
        "message_key": message.key,
    }


class SnsNotifier:
    """Publishes to the finance SNS topic with ``severity`` and ``rule`` attributes for filter policies."""

    def __init__(self, settings: Settings, *, topic_arn: str | None = None, client: Any = None) -> None:
        self._topic_arn = topic_arn or settings.finance_topic_arn
        if not self._topic_arn:
            raise NotificationFailed("no finance topic configured (SYNC_GUARD_FINANCE_TOPIC_ARN)")
        self._client = client if client is not None else aws.client("sns", settings)

    @property
    def topic_arn(self) -> str:
        return self._topic_arn

    def publish(self, message: RenderedMessage) -> str:
        """Publish one message; botocore retries throttling, anything left becomes ``NotificationFailed``."""
        try:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=message.subject,
                Message=message.body,
                MessageAttributes=message.message_attributes(),
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "finance notification failed", extra=_log_fields(message) | {"error": type(error).__name__}
            )
            raise NotificationFailed(f"SNS publish failed: {type(error).__name__}") from error
        message_id = str(response["MessageId"])
        logger.info("finance notification published", extra=_log_fields(message) | {"message_id": message_id})
        return message_id


class InMemoryNotifier:
    """Keeps what it was given; tests and the local stack read ``messages``."""

    def __init__(self) -> None:
        self.messages: list[RenderedMessage] = []
        self._lock = threading.Lock()

    def publish(self, message: RenderedMessage) -> str:
        """Record the message and return its position as the id."""
        with self._lock:
            self.messages.append(message)
            return f"memory-{len(self.messages)}"


class FileNotifier:
    """Appends each message as readable text to a file (the local stack shows it beside SNS)."""

    SEPARATOR = "=" * 100

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def publish(self, message: RenderedMessage) -> str:
        """Append the message; the id is the message key."""
        text = f"{self.SEPARATOR}\n{message.as_text().rstrip()}\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            raise NotificationFailed(f"could not write {self.path}: {error.strerror}") from error
        return message.key


class FanOutNotifier:
    """Publishes to a primary notifier and copies to secondary ones (locally: SNS, then a file).

    Only the primary's failure fails the publish: a secondary failing after the primary succeeded must not
    make the outbox retry, which would send finance the same message twice. It is logged instead.
    """

    def __init__(self, primary: Notifier, *secondary: Notifier) -> None:
        self.notifiers: tuple[Notifier, ...] = (primary, *secondary)

    def publish(self, message: RenderedMessage) -> str:
        """Publish to the primary (its id is returned), then to each secondary."""
        primary, *secondary = self.notifiers
        message_id = primary.publish(message)
        for notifier in secondary:
            try:
                notifier.publish(message)
            except NotificationFailed as error:
                logger.warning(
                    "secondary finance channel failed",
                    extra=_log_fields(message) | {"channel": type(notifier).__name__, "error": error.code},
                )
        return message_id


def finance_notifier(settings: Settings) -> Notifier:
    """The notifier the configuration asks for: SNS when a topic is set, plus a file when one is set."""
    notifiers: list[Notifier] = []
    if settings.finance_topic_arn:
        notifiers.append(SnsNotifier(settings))
    if settings.notify_file:
        notifiers.append(FileNotifier(settings.notify_file))
    if not notifiers:
        raise NotificationFailed(
            "no finance channel configured (SYNC_GUARD_FINANCE_TOPIC_ARN or _NOTIFY_FILE)"
        )
    return notifiers[0] if len(notifiers) == 1 else FanOutNotifier(*notifiers)


def notify_finance(
    notices: Sequence[FinanceNotice],
    notifier: Notifier,
    *,
    sent_keys: Container[str] = frozenset(),
    max_individual: int | None = None,
    links: ZohoLinks | None = None,
) -> list[Delivery]:
    """Aggregate a batch, skip what was already sent, publish the rest in order.

    The caller stores ``delivery.message.dedup_keys`` of every delivery (also those on a raised
    ``NotificationFailed``) so that a retry of the batch sends only what is still missing.
    """
    messages = aggregate(fresh(notices, sent_keys), max_individual=max_individual, links=links)
    delivered: list[Delivery] = []
    for message in messages:
        try:
            delivered.append(Delivery(message, notifier.publish(message)))
        except NotificationFailed as error:
            raise NotificationFailed(error.message, delivered=delivered) from error
    return delivered
