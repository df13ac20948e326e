"""The whole guard on one machine, built from ``template.yaml``.

The local stack reads the template for its functions, their HTTP routes and SQS event sources, its queues
(with their redrive policies), topics, tables and the environment the functions get, and stands each up
against real local servers: DynamoDB Local (persisted to a directory) and moto's server for SQS and SNS.
Handlers are the real ``functions/<name>/app.py`` modules, invoked as Lambda would invoke them.

A running stack writes ``<state dir>/stack.json`` so that the admin commands find it with no flags.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from sync_guard.config import get_settings
from sync_guard.executor.wiring import close_zoho_clients
from sync_guard.local.dynamodb import RunningServer, dynamodb_server, moto_server
from sync_guard.local.powertools import quiet_unpublished_metrics, scope_function_logs
from sync_guard.local.runtime import (
    HttpApiServer,
    LambdaHandler,
    Route,
    ScheduleEventSource,
    SqsEventSource,
    rate_seconds,
)
from sync_guard.local.template import DEFAULT_TEMPLATE, create_tables, load_template
from sync_guard.store.aws import reset_clients
from sync_guard.zoho.token_cache import DynamoTokenCache

REGION = "eu-west-2"
STACK_FILE = "stack.json"
#: What DynamoDB Local prints, in the state directory (moto's server logs in this process instead).
DYNAMODB_LOG = "dynamodb.log"
# ``!Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}``: an HTTP API's URL on AWS.
_API_URL = re.compile(r"https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}")
# Never written to stack.json: the serve command prints the webhook secret once, for the person running it.
_SECRET_VARIABLES = frozenset(
    {
        "SYNC_GUARD_WEBHOOK_SECRET",
        "SYNC_GUARD_ZOHO_CLIENT_SECRET",
        "SYNC_GUARD_ZOHO_REFRESH_TOKEN",
        "SYNC_GUARD_BOOKS_SIGNATURE_SECRET",
    }
)


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` of the template, as the local stack needs it."""

    logical_id: str
    code_dir: Path
    handler: str
    http_routes: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    sqs_sources: list[tuple[str, int]] = field(default_factory=list)  # (queue logical id, batch size)
    schedules: list[str] = field(default_factory=list)  # rate(...) expressions
    timeout_seconds: float = 3.0
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def handler_path(self) -> Path:
        """The file of the handler's module: ``<CodeUri>/<module>.py``."""
        module_name = self.handler.rpartition(".")[0]
        return self.code_dir / f"{module_name.replace('.', '/')}.py"


def function_specs(template: Mapping[str, Any], root: Path) -> list[FunctionSpec]:
    """The template's functions with their routes and queue triggers."""
    specs: list[FunctionSpec] = []
    default_timeout = float(template.get("Globals", {}).get("Function", {}).get("Timeout", 3))
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        spec = FunctionSpec(
            logical_id=logical_id,
            code_dir=root / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            environment=dict((props.get("Environment") or {}).get("Variables") or {}),
            timeout_seconds=float(props.get("Timeout", default_timeout)),
        )
        for event in (props.get("Events") or {}).values():
            event_props = event.get("Properties", {})
            if event["Type"] == "HttpApi":
                spec.http_routes.append((str(event_props["Method"]).upper(), str(event_props["Path"])))
            elif event["Type"] == "SQS":
                queue = event_props["Queue"]["Fn::GetAtt"][0]
                spec.sqs_sources.append((str(queue), int(event_props.get("BatchSize", 10))))
            elif event["Type"] in ("Schedule", "ScheduleV2"):
                spec.schedules.append(
                    str(event_props["Schedule" if event["Type"] == "Schedule" else "ScheduleExpression"])
                )
        specs.append(spec)
    return specs


def load_handler(spec: FunctionSpec) -> LambdaHandler:
    """Import ``<CodeUri>/<module>.py`` under a unique module name and return its handler function."""
    function_name = spec.handler.rpartition(".")[2]
    path = spec.handler_path
    unique = f"sync_guard_local_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(unique, path)
    if module_spec is None or module_spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[unique] = module
    module_spec.loader.exec_module(module)
    handler: LambdaHandler = getattr(module, function_name)
    return handler


@dataclass
class LocalStackState:
    """What a running stack publishes for the admin commands (``stack.json``)."""

    api_url: str
    aws_endpoint_url: str
    dynamodb_endpoint_url: str
    environment: dict[str, str]
    pid: int
    zoho_url: str = ""
    notifications_file: str = ""

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STACK_FILE
        path.write_text(json.dumps(self.__dict__, indent=2))
        return path

    @classmethod
    def read(cls, state_dir: Path) -> LocalStackState | None:
        path = state_dir / STACK_FILE
        if not path.exists():
            return None
        state = cls(**json.loads(path.read_text()))
        try:
            os.kill(state.pid, 0)
        except OSError:
            return None  # the stack that wrote it is gone
        return state


class LocalStack:
    """Start everything the template declares, locally; stop it all cleanly."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 3000,
        template_path: Path = DEFAULT_TEMPLATE,
        parameters: Mapping[str, str] | None = None,
        extra_environment: Mapping[str, str] | None = None,
        persist: bool = True,
        prefix: str = "local",
        schedule_interval_seconds: float | None = None,
        dynamodb_front: Callable[[str], str] | None = None,
        zoho_starts_afresh: bool = False,
    ) -> None:
        """``dynamodb_front``: given the DynamoDB server's URL, the endpoint the functions get instead (a
        test's proxy that fails some of their calls); the admin commands keep the server's own URL.

        ``zoho_starts_afresh``: the Zoho of ``extra_environment`` started with this stack (a simulator),
        so the access token kept in the tables from an earlier run is one it never issued, and is dropped:
        kept, it would be refused, and a token minutes old refused reads as a scope missing (every Zoho
        call failing as ``zoho_permission_denied`` until it is ten minutes old)."""
        self.state_dir = state_dir
        self.port = port
        self.template_path = template_path
        self.template = load_template(template_path)
        self.parameters = dict(parameters or {})
        self.extra_environment = dict(extra_environment or {})
        self.persist = persist
        self.prefix = prefix
        self.webhook_secret = self.extra_environment.get(
            "SYNC_GUARD_WEBHOOK_SECRET"
        ) or secrets.token_urlsafe(24)
        # Locally, scheduled functions may run more often than their rate() so that a demo sees them work.
        self.schedule_interval_seconds = schedule_interval_seconds
        self.dynamodb_front = dynamodb_front
        self.zoho_starts_afresh = zoho_starts_afresh
        self.event_sources: list[SqsEventSource] = []
        self.schedules: list[ScheduleEventSource] = []
        self.http: HttpApiServer | None = None
        self.environment: dict[str, str] = {}
        self.dynamodb: RunningServer | None = None
        self.moto: RunningServer | None = None
        self._exit = contextlib.ExitStack()
        self._saved_environ: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.dynamodb = self._exit.enter_context(
                dynamodb_server(
                    self.state_dir / "dynamodb",
                    data_dir=self.state_dir / "data" if self.persist else None,
                    log_file=self.state_dir / DYNAMODB_LOG,
                )
            )
            self.moto = self._exit.enter_context(moto_server())
            self._provision()
            self._apply_environment()
            self._start_functions()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # Every poller and schedule is told first, then each is waited for: stopping takes as long as the
        # slowest of them (a scheduled run in progress, a long poll), not their sum.
        for schedule in self.schedules:
            schedule.stop_soon()
        for source in self.event_sources:
            source.stop_soon()
        for schedule in self.schedules:
            schedule.stop()
        self.schedules.clear()
        for source in self.event_sources:
            source.stop()
        self.event_sources.clear()
        if self.http is not None:
            self.http.stop()
            self.http = None
        close_zoho_clients()  # the functions' own, before the servers they talk to stop
        self._exit.close()
        for name, value in self._saved_environ.items():
            if value == "\0":
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
        get_settings.cache_clear()
        reset_clients()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / STACK_FILE).unlink()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ pieces
    def _servers(self) -> tuple[RunningServer, RunningServer]:
        if self.dynamodb is None or self.moto is None:
            raise RuntimeError("the local stack is not started")
        return self.dynamodb, self.moto

    def _client(self, service: str) -> Any:
        dynamodb, moto = self._servers()
        endpoint = dynamodb.endpoint_url if service == "dynamodb" else moto.endpoint_url
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - local servers ignore credentials
        )

    def _provision(self) -> None:
        """Create tables, queues and topics; resolve every ``!Ref`` the functions' environment uses."""
        resources = self.template["Resources"]
        refs: dict[str, str] = {}
        table_env = create_tables(self._client("dynamodb"), self.prefix, self.template_path)
        client_id = self.extra_environment.get("SYNC_GUARD_ZOHO_CLIENT_ID")
        if self.zoho_starts_afresh and self.persist and client_id:
            shadow = table_env["SYNC_GUARD_SHADOW_TABLE"]
            DynamoTokenCache(self._client("dynamodb"), shadow, client_id).forget()
        for table_logical_id in (r for r, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"):
            refs[table_logical_id] = f"{self.prefix}-{table_logical_id}"
        sqs = self._client("sqs")
        queue_arns: dict[str, str] = {}
        # Dead-letter queues first, so that redrive policies can point at them.
        queues = sorted(
            ((name, r) for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"),
            key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}),
        )
        for logical_id, resource in queues:
            properties = resource.get("Properties", {})
            attributes = {
                name: str(properties[name])
                for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                if name in properties
            }
            redrive = properties.get("RedrivePolicy")
            if redrive:
                target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": queue_arns[target],
                        "maxReceiveCount": str(redrive["maxReceiveCount"]),
                    }
                )
            name = f"{self.prefix}-{logical_id}"
            if not self.persist:
                # moto keeps its queues per process, not per server: a stack started after another in the
                # same process (a test's fresh environment) would find the earlier one's messages there.
                self._delete_queue(sqs, name)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            refs[logical_id] = url
            queue_arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        sns = self._client("sns")
        for logical_id in (r for r, v in resources.items() if v["Type"] == "AWS::SNS::Topic"):
            refs[logical_id] = sns.create_topic(Name=f"{self.prefix}-{logical_id}")["TopicArn"]
        for name, parameter in self.template.get("Parameters", {}).items():
            refs[name] = str(self.parameters.get(name, parameter.get("Default", "")))
        self._refs = refs
        self._queue_arns = queue_arns
        self._http_apis = {r for r, v in resources.items() if v["Type"] == "AWS::Serverless::HttpApi"}
        self.environment = self._global_environment()
        self.environment |= table_env
        dynamodb, moto = self._servers()
        self.environment |= {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "SYNC_GUARD_AWS_ENDPOINT_URL": moto.endpoint_url,
            "SYNC_GUARD_DYNAMODB_ENDPOINT_URL": self.dynamodb_front(dynamodb.endpoint_url)
            if self.dynamodb_front
            else dynamodb.endpoint_url,
            # Locally the secret comes from the environment, not Secrets Manager.
            "SYNC_GUARD_WEBHOOK_SECRET_NAME": "",
            "SYNC_GUARD_ZOHO_SECRET_NAME": "",
            "SYNC_GUARD_WEBHOOK_SECRET": self.webhook_secret,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        self.environment |= self.extra_environment

    @staticmethod
    def _delete_queue(sqs: Any, name: str) -> None:
        """Delete the queue ``name`` if there is one (what an earlier stack in this process left)."""
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return
        sqs.delete_queue(QueueUrl=url)

    def _global_environment(self) -> dict[str, str]:
        """The Globals variables, resolved against this stack's parameters and resources.

        A variable that resolves to empty means "the code's default" (a stack parameter left empty).
        Locally the caller's environment plays the part of the stack parameters, so a value set there is
        kept, not blanked.
        """
        resolved = {name: self._resolve(value) for name, value in self._global_variables().items()}
        return {name: value for name, value in resolved.items() if value or not os.environ.get(name)}

    def _global_variables(self) -> dict[str, Any]:
        function_globals = self.template.get("Globals", {}).get("Function", {})
        return dict(function_globals.get("Environment", {}).get("Variables", {}))

    def _condition(self, name: str) -> bool:
        """Evaluate one of the template's Conditions (Fn::Equals/Not/And/Or over Refs and literals)."""

        def evaluate(node: Any) -> Any:
            if isinstance(node, dict) and len(node) == 1:
                ((function, argument),) = node.items()
                if function == "Ref":
                    return self._refs.get(str(argument), "")
                if function == "Condition":
                    return self._condition(str(argument))
                if function == "Fn::Equals":
                    return evaluate(argument[0]) == evaluate(argument[1])
                if function == "Fn::Not":
                    return not evaluate(argument[0])
                if function == "Fn::And":
                    return all(evaluate(item) for item in argument)
                if function == "Fn::Or":
                    return any(evaluate(item) for item in argument)
            return node

        return bool(evaluate(self.template.get("Conditions", {})[name]))

    def _resolve(self, value: Any) -> str:
        if isinstance(value, dict) and "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self._resolve(when_true if self._condition(str(condition)) else when_false)
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            # An HTTP API's URL is this stack's HTTP server (e.g. the notify URL the Zoho checks register).
            # The port bound, once the server is: port 0 picks a free one.
            port = self.http.port if self.http is not None else self.port
            text = _API_URL.sub(
                lambda m: f"http://127.0.0.1:{port}" if m.group(1) in self._http_apis else m.group(0),
                value["Fn::Sub"],
            )
            return re.sub(r"\$\{([^}!.]+)\}", lambda m: self._refs.get(m.group(1), ""), text)
        if isinstance(value, dict) and "Ref" in value:
            return self._refs.get(str(value["Ref"]), "")
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and logical_id in self._queue_arns:
                return self._queue_arns[logical_id]
            return self._refs.get(str(logical_id), "")
        return str(value)

    def _apply_environment(self) -> None:
        """The local 'Lambda environment' is this process's environment: handlers read it at import."""
        for name, value in self.environment.items():
            self._saved_environ.setdefault(name, os.environ.get(name, "\0"))
            os.environ[name] = value
        get_settings.cache_clear()
        reset_clients()

    def _start_functions(self) -> None:
        root = self.template_path.parent
        routes: list[Route] = []
        # Bound before the functions' variables are resolved: the notify URL names the port it got.
        self.http = HttpApiServer(routes, port=self.port)
        sqs = self._client("sqs")
        # The functions share this process, and so the service's logger: each line keeps to its function.
        self._exit.callback(scope_function_logs(self.environment.get("POWERTOOLS_SERVICE_NAME")))
        quiet_unpublished_metrics()  # metrics are disabled here: no warning that a flush had none
        for spec in function_specs(self.template, root):
            for name, value in spec.environment.items():
                self._saved_environ.setdefault(name, os.environ.get(name, "\0"))
                os.environ[name] = self._resolve(value)
            # The handler reads its settings at import: with this function's own variables, not the
            # settings an earlier function's import cached.
            get_settings.cache_clear()
            handler = load_handler(spec)
            for method, path in spec.http_routes:
                routes.append(Route(method, path, spec.logical_id, handler))
            for queue_logical_id, batch_size in spec.sqs_sources:
                source = SqsEventSource(
                    sqs,
                    self._refs[queue_logical_id],
                    self._queue_arns[queue_logical_id],
                    handler,
                    spec.logical_id,
                    batch_size=batch_size,
                    timeout_seconds=spec.timeout_seconds,
                )
                self.event_sources.append(source.start())
            for expression in spec.schedules:
                interval = self.schedule_interval_seconds or rate_seconds(expression)
                schedule = ScheduleEventSource(
                    handler, spec.logical_id, interval, timeout_seconds=spec.timeout_seconds
                )
                self.schedules.append(schedule.start())
                self.http.invocable[spec.logical_id] = schedule
        self.http.start()

    # ------------------------------------------------------------------ for callers
    @property
    def api_url(self) -> str:
        if self.http is None:
            raise RuntimeError("the local stack is not started")
        return self.http.url

    def state(self, **extra: str) -> LocalStackState:
        dynamodb, moto = self._servers()
        return LocalStackState(
            api_url=self.api_url,
            aws_endpoint_url=moto.endpoint_url,
            dynamodb_endpoint_url=dynamodb.endpoint_url,
            environment={
                name: value
                for name, value in self.environment.items()
                if name.startswith("SYNC_GUARD_") and name not in _SECRET_VARIABLES
            },
            pid=os.getpid(),
            **extra,
        )


def settings_overrides(state: LocalStackState) -> dict[str, str]:
    """``Settings`` keyword arguments that point a command at the running local stack.

    A variable left empty (a stack parameter left empty) means the code's default, as it does for the
    functions (``env_ignore_empty``): passed on as ``""`` it would fail the settings' validation.
    """
    overrides = {
        name.removeprefix("SYNC_GUARD_").lower(): value
        for name, value in state.environment.items()
        if name.startswith("SYNC_GUARD_") and value != ""
    }
    overrides["aws_endpoint_url"] = state.aws_endpoint_url
    overrides["dynamodb_endpoint_url"] = state.dynamodb_endpoint_url
    return overrides


@contextlib.contextmanager
def running_stack(state_dir: Path, **kwargs: Any) -> Iterator[LocalStack]:
    """A started :class:`LocalStack` for the duration of the block."""
    stack = LocalStack(state_dir, **kwargs).start()
    try:
        yield stack
    finally:
        stack.stop()
