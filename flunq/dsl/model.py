"""The typed model of a Serverless Workflow DSL 1.0.x document.

Every node is a frozen-by-convention msgspec ``Struct`` that rejects unknown fields where
the official schema says ``unevaluatedProperties: false``. JSON keys are camelCase; Python
keywords (``if``, ``from``, ``as``, ``in``...) get a trailing underscore.

Task lists (``do``, ``try``, ``catch.do``, ``fork.branches``, ``for``'s ``do``,
``foreach.do``, extension ``before``/``after``) are typed ``TaskList``: msgspec decodes them
as raw lists and :mod:`flunq.dsl.builder` replaces each with a list of :class:`TaskItem`,
because tasks are told apart by which key they carry, not by a tag msgspec could use.
``__post_init__`` checks the schema's ``oneOf`` rules that a struct cannot express; a
``ValueError`` there is reported by msgspec at the node's location.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
LABEL = r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
ISO_DURATION = (
    r"^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$"
)
URI = r"^[A-Za-z][A-Za-z0-9+\-.]*://.*"
RUNTIME_EXPRESSION = r"^\s*\$\{.+\}\s*$"

SemVer = Annotated[str, Meta(pattern=SEMVER)]
Label = Annotated[str, Meta(pattern=LABEL)]
Port = Annotated[int, Meta(ge=0, le=65535)]

#: A task list before building: a list of single-key maps; after: ``list[TaskItem]``.
TaskList = list[Any]
FlowDirective = str


class Node(
    msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, rename="camel"
):
    """Base of every closed node (``unevaluatedProperties: false`` in the schema)."""


class OpenNode(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """Base of nodes where the schema lets unknown properties through."""


def _exactly_one(node: msgspec.Struct, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if getattr(node, n) is not None]
    if len(present) != 1:
        keys = ", ".join(f"'{n.rstrip('_')}'" for n in names)
        found = ", ".join(f"'{n.rstrip('_')}'" for n in present) or "none"
        raise ValueError(f"{what} must have exactly one of {keys} (found {found})")


# --- durations, endpoints, resources ------------------------------------------------------


class DurationInline(Node):
    days: int | None = None
    hours: int | None = None
    minutes: int | None = None
    seconds: int | None = None
    milliseconds: int | None = None

    def __post_init__(self) -> None:
        if all(
            v is None
            for v in (self.days, self.hours, self.minutes, self.seconds, self.milliseconds)
        ):
            raise ValueError("a duration needs at least one of days, hours, minutes, seconds, milliseconds")


#: ISO 8601 literal (``PT5S``), runtime expression, or inline object.
Duration = DurationInline | str


class Timeout(Node):
    after: Duration


class BasicAuth(Node):
    username: str | None = None
    password: str | None = None
    use: str | None = None

    def __post_init__(self) -> None:
        _secret_or(self, ("username", "password"), "basic")


class BearerAuth(Node):
    token: str | None = None
    use: str | None = None

    def __post_init__(self) -> None:
        _secret_or(self, ("token",), "bearer")


class DigestAuth(Node):
    username: str | None = None
    password: str | None = None
    use: str | None = None

    def __post_init__(self) -> None:
        _secret_or(self, ("username", "password"), "digest")


def _secret_or(node: Any, required: tuple[str, ...], scheme: str) -> None:
    values = [getattr(node, r) for r in required]
    if node.use is not None:
        if any(v is not None for v in values):
            raise ValueError(f"{scheme} authentication takes either 'use' or its properties, not both")
        if not node.use:
            raise ValueError(f"{scheme} authentication 'use' must name a secret")
        return
    missing = [r for r, v in zip(required, values, strict=True) if v is None]
    if missing:
        raise ValueError(f"{scheme} authentication requires {', '.join(missing)}")


class OAuth2Client(Node):
    id: str | None = None
    secret: str | None = None
    assertion: str | None = None
    authentication: (
        Literal["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
        | None
    ) = None


class OAuth2Request(OpenNode):
    encoding: Literal["application/x-www-form-urlencoded", "application/json"] | None = None


class OAuth2Token(Node):
    token: str
    type: str


class OAuth2Endpoints(OpenNode):
    token: str | None = None
    revocation: str | None = None
    introspection: str | None = None


class OAuth2Auth(Node):
    authority: Annotated[str, Meta(pattern=URI)] | None = None
    grant: (
        Literal[
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ]
        | None
    ) = None
    client: OAuth2Client | None = None
    request: OAuth2Request | None = None
    issuers: list[str] | None = None
    scopes: list[str] | None = None
    audiences: list[str] | None = None
    username: str | None = None
    password: str | None = None
    subject: OAuth2Token | None = None
    actor: OAuth2Token | None = None
    endpoints: OAuth2Endpoints | None = None
    use: str | None = None

    def __post_init__(self) -> None:
        if self.use is not None:
            others = [f for f in self.__struct_fields__ if f != "use" and getattr(self, f) is not None]
            if others:
                raise ValueError("oauth2/oidc authentication takes either 'use' or its properties, not both")


class AuthenticationPolicy(Node):
    """One scheme; ``use`` (a reference to ``use.authentications``) only where referenceable."""

    basic: BasicAuth | None = None
    bearer: BearerAuth | None = None
    digest: DigestAuth | None = None
    oauth2: OAuth2Auth | None = None
    oidc: OAuth2Auth | None = None
    use: Annotated[str, Meta(min_length=1)] | None = None

    def __post_init__(self) -> None:
        _exactly_one(
            self, ("basic", "bearer", "digest", "oauth2", "oidc", "use"), "an authentication policy"
        )
        if self.oidc is not None and self.oidc.endpoints is not None:
            raise ValueError("oidc authentication does not take 'endpoints' (they are discovered)")

    @property
    def scheme(self) -> str:
        for name in ("basic", "bearer", "digest", "oauth2", "oidc"):
            if getattr(self, name) is not None:
                return name
        return "use"


class EndpointConfig(Node):
    uri: str
    authentication: AuthenticationPolicy | None = None


#: A URI template, a runtime expression, or ``{uri, authentication}``.
Endpoint = EndpointConfig | str


class ExternalResource(Node):
    endpoint: Endpoint
    name: str | None = None


class Schema(Node):
    format: str = "json"
    document: Any = msgspec.UNSET
    resource: ExternalResource | None = None

    def __post_init__(self) -> None:
        has_doc = self.document is not msgspec.UNSET
        if has_doc == (self.resource is not None):
            raise ValueError("a schema must have exactly one of 'document' or 'resource'")


# --- data flow ----------------------------------------------------------------------------


class Input(Node):
    schema: Schema | None = None
    from_: str | dict[str, Any] | None = field(name="from", default=None)


class Output(Node):
    schema: Schema | None = None
    as_: str | dict[str, Any] | None = field(name="as", default=None)


class Export(Node):
    schema: Schema | None = None
    as_: str | dict[str, Any] | None = field(name="as", default=None)


# --- errors and retries -------------------------------------------------------------------


class ErrorDefinition(Node):
    type: str
    status: int
    instance: str | None = None
    title: str | None = None
    detail: str | None = None


class ErrorFilter(OpenNode):
    type: str | None = None
    status: int | None = None
    instance: str | None = None
    title: str | None = None
    details: str | None = None


class CatchErrors(Node):
    with_: ErrorFilter | None = field(name="with", default=None)


class Backoff(Node):
    constant: dict[str, Any] | None = None
    exponential: dict[str, Any] | None = None
    linear: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, ("constant", "exponential", "linear"), "a backoff")

    @property
    def kind(self) -> str:
        return "constant" if self.constant is not None else "exponential" if self.exponential is not None else "linear"


class AttemptLimit(Node):
    count: int | None = None
    duration: Duration | None = None


class RetryLimit(Node):
    attempt: AttemptLimit | None = None
    duration: Duration | None = None


class Jitter(Node):
    from_: Duration = field(name="from")
    to: Duration


class RetryPolicy(Node):
    when: str | None = None
    except_when: str | None = None
    delay: Duration | None = None
    backoff: Backoff | None = None
    limit: RetryLimit | None = None
    jitter: Jitter | None = None


class Catch(Node):
    errors: CatchErrors | None = None
    as_: str | None = field(name="as", default=None)
    when: str | None = None
    except_when: str | None = None
    retry: RetryPolicy | str | None = None
    do: TaskList | None = None


# --- events -------------------------------------------------------------------------------


class Correlation(OpenNode):
    from_: str = field(name="from")
    expect: str | None = None


class EventFilter(Node):
    with_: Annotated[dict[str, Any], Meta(min_length=1)] = field(name="with")
    correlate: dict[str, Correlation] | None = None


class EventConsumptionStrategy(Node):
    all: list[EventFilter] | None = None
    any: list[EventFilter] | None = None
    one: EventFilter | None = None
    until: EventConsumptionStrategy | str | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, ("all", "any", "one"), "an event consumption strategy")
        if self.until is not None:
            if self.any is None:
                raise ValueError("'until' is only allowed with 'any'")
            if isinstance(self.until, EventConsumptionStrategy) and self.until.until is not None:
                raise ValueError("an 'until' strategy cannot have its own 'until'")


class SubscriptionIterator(Node):
    item: str = "item"
    at: str = "index"
    do: TaskList | None = None
    output: Output | None = None
    export: Export | None = None


# --- task arguments -----------------------------------------------------------------------


class HttpArguments(Node):
    method: str
    endpoint: Endpoint
    headers: dict[str, str] | str | None = None
    body: Any = None
    query: dict[str, str] | str | None = None
    output: Literal["raw", "content", "response"] = "content"
    redirect: bool = False


class OpenApiArguments(Node):
    document: ExternalResource
    operation_id: str
    parameters: dict[str, Any] | None = None
    authentication: AuthenticationPolicy | None = None
    output: Literal["raw", "content", "response"] = "content"
    redirect: bool = False


class GrpcService(Node):
    name: str
    host: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9](?:[a-zA-Z0-9-.]{0,61}[a-zA-Z0-9])?$")]
    port: Port | None = None
    authentication: AuthenticationPolicy | None = None


class GrpcArguments(Node):
    proto: ExternalResource
    service: GrpcService
    method: str
    arguments: dict[str, Any] | None = None


class AsyncApiServer(Node):
    name: str
    variables: dict[str, Any] | None = None


class AsyncApiMessage(Node):
    payload: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None


class AsyncApiConsume(Node):
    amount: int | None = None
    while_: Annotated[str, Meta(pattern=RUNTIME_EXPRESSION)] | None = field(name="while", default=None)
    until: Annotated[str, Meta(pattern=RUNTIME_EXPRESSION)] | None = None
    for_: Duration | None = field(name="for", default=None)

    def __post_init__(self) -> None:
        _exactly_one(self, ("amount", "while_", "until"), "'consume'")


class AsyncApiSubscription(Node):
    consume: AsyncApiConsume
    filter: Annotated[str, Meta(pattern=RUNTIME_EXPRESSION)] | None = None
    foreach: SubscriptionIterator | None = None


AsyncApiProtocol = Literal[
    "amqp", "amqp1", "anypointmq", "googlepubsub", "http", "ibmmq", "jms", "kafka", "mercure",
    "mqtt", "mqtt5", "nats", "pulsar", "redis", "sns", "solace", "sqs", "stomp", "ws",
]


class AsyncApiArguments(Node):
    document: ExternalResource
    channel: str | None = None
    operation: str | None = None
    server: AsyncApiServer | None = None
    protocol: AsyncApiProtocol | None = None
    message: AsyncApiMessage | None = None
    subscription: AsyncApiSubscription | None = None
    authentication: AuthenticationPolicy | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, ("channel", "operation"), "an AsyncAPI call")
        _exactly_one(self, ("message", "subscription"), "an AsyncAPI call")


A2AMethod = Literal[
    "message/send", "message/stream", "tasks/get", "tasks/list", "tasks/cancel",
    "tasks/resubscribe", "tasks/pushNotificationConfig/set", "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list", "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
]


class A2AArguments(Node):
    method: A2AMethod
    agent_card: ExternalResource | None = None
    server: Endpoint | None = None
    parameters: dict[str, Any] | str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.parameters, dict) and not self.parameters:
            raise ValueError("'parameters' must not be an empty object")


class McpHttpTransport(OpenNode):
    endpoint: Endpoint
    headers: dict[str, str] | None = None


class McpStdioTransport(OpenNode):
    command: str
    arguments: list[str] | None = None
    environment: dict[str, str] | None = None


class McpTransport(OpenNode):
    http: McpHttpTransport | None = None
    stdio: McpStdioTransport | None = None
    options: dict[str, str] | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, ("http", "stdio"), "an MCP transport")


class McpClient(OpenNode):
    name: str
    version: str
    description: str | None = None


McpMethod = Literal[
    "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
    "resources/read", "resources/templates/list",
]


class McpArguments(OpenNode):
    method: McpMethod
    transport: McpTransport
    protocol_version: str = "2025-06-18"
    parameters: dict[str, Any] | str | None = None
    timeout: Duration | None = None
    client: McpClient | None = None


class ContainerLifetime(Node):
    cleanup: Literal["always", "never", "eventually"]
    after: Duration | None = None

    def __post_init__(self) -> None:
        if (self.cleanup == "eventually") != (self.after is not None):
            raise ValueError("'lifetime.after' is required with cleanup 'eventually' and only then")


class Container(Node):
    image: str
    name: str | None = None
    command: str | None = None
    ports: dict[str, Any] | None = None
    volumes: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    lifetime: ContainerLifetime | None = None
    pull_policy: Literal["ifNotPresent", "always", "never"] = "ifNotPresent"


class Script(Node):
    language: str
    code: str | None = None
    source: ExternalResource | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, ("code", "source"), "a script")


class Shell(Node):
    command: str
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None


class Subflow(Node):
    namespace: str
    name: str
    version: str
    input: dict[str, Any] | None = None


class RunSpec(Node):
    container: Container | None = None
    script: Script | None = None
    shell: Shell | None = None
    workflow: Subflow | None = None
    await_: bool = field(name="await", default=True)
    return_: Literal["stdout", "stderr", "code", "all", "none"] = field(name="return", default="stdout")

    def __post_init__(self) -> None:
        _exactly_one(self, ("container", "script", "shell", "workflow"), "a run task")

    @property
    def kind(self) -> str:
        for name in ("container", "script", "shell", "workflow"):
            if getattr(self, name) is not None:
                return name
        raise AssertionError("unreachable: checked in __post_init__")


# --- tasks --------------------------------------------------------------------------------


class TaskBase(Node):
    if_: str | None = field(name="if", default=None)
    input: Input | None = None
    output: Output | None = None
    export: Export | None = None
    timeout: Timeout | str | None = None
    then: FlowDirective | None = None
    metadata: dict[str, Any] | None = None


class CallHttp(TaskBase, kw_only=True):
    call: Literal["http"]
    with_: HttpArguments = field(name="with")


class CallOpenApi(TaskBase, kw_only=True):
    call: Literal["openapi"]
    with_: OpenApiArguments = field(name="with")


class CallGrpc(TaskBase, kw_only=True):
    call: Literal["grpc"]
    with_: GrpcArguments = field(name="with")


class CallAsyncApi(TaskBase, kw_only=True):
    call: Literal["asyncapi"]
    with_: AsyncApiArguments = field(name="with")


class CallA2A(TaskBase, kw_only=True):
    call: Literal["a2a"]
    with_: A2AArguments = field(name="with")


class CallMcp(TaskBase, kw_only=True):
    call: Literal["mcp"]
    with_: McpArguments = field(name="with")


class CallFunction(TaskBase, kw_only=True):
    call: str
    with_: dict[str, Any] | None = field(name="with", default=None)


class DoTask(TaskBase, kw_only=True):
    do: TaskList


class ForkSpec(Node):
    branches: TaskList
    compete: bool = False


class ForkTask(TaskBase, kw_only=True):
    fork: ForkSpec


class EmitEvent(OpenNode):
    with_: dict[str, Any] | None = field(name="with", default=None)


class EmitSpec(Node):
    event: EmitEvent


class EmitTask(TaskBase, kw_only=True):
    emit: EmitSpec


class ForSpec(Node):
    in_: str = field(name="in")
    each: str = "item"
    at: str = "index"


class ForTask(TaskBase, kw_only=True):
    for_: ForSpec = field(name="for")
    do: TaskList
    while_: str | None = field(name="while", default=None)


class ListenSpec(Node):
    to: EventConsumptionStrategy
    read: Literal["data", "envelope", "raw"] = "data"


class ListenTask(TaskBase, kw_only=True):
    listen: ListenSpec
    foreach: SubscriptionIterator | None = None


class RaiseSpec(Node):
    error: ErrorDefinition | str


class RaiseTask(TaskBase, kw_only=True):
    raise_: RaiseSpec = field(name="raise")


class RunTask(TaskBase, kw_only=True):
    run: RunSpec


class SetTask(TaskBase, kw_only=True):
    set: dict[str, Any] | str

    def __post_init__(self) -> None:
        if isinstance(self.set, dict) and not self.set:
            raise ValueError("'set' must not be an empty object")


class SwitchCase(Node):
    then: FlowDirective
    when: str | None = None


class SwitchTask(TaskBase, kw_only=True):
    switch: Annotated[list[dict[str, SwitchCase]], Meta(min_length=1)]


class TryTask(TaskBase, kw_only=True):
    try_: TaskList = field(name="try")
    catch: Catch


class WaitTask(TaskBase, kw_only=True):
    wait: Duration


Task = (
    CallHttp | CallOpenApi | CallGrpc | CallAsyncApi | CallA2A | CallMcp | CallFunction
    | DoTask | ForkTask | EmitTask | ForTask | ListenTask | RaiseTask | RunTask | SetTask
    | SwitchTask | TryTask | WaitTask
)


class TaskItem(msgspec.Struct, kw_only=True):
    """A named task at its place in the document.

    ``ref`` is its JSON pointer (``/do/0/fetch``), the task reference the DSL uses for
    ``$task.reference``, error ``instance`` and lifecycle events; ``raw`` is the task as
    written, for ``$task.definition``.
    """

    name: str
    task: Any  # one of the Task classes
    ref: str
    raw: dict[str, Any]


# --- reusable components and the document -------------------------------------------------


class Extension(Node):
    extend: Literal["call", "composite", "emit", "for", "listen", "raise", "run", "set", "switch", "try", "wait", "all"]
    when: str | None = None
    before: TaskList | None = None
    after: TaskList | None = None


class Catalog(Node):
    endpoint: Endpoint


class Use(Node):
    authentications: dict[str, AuthenticationPolicy] | None = None
    errors: dict[str, ErrorDefinition] | None = None
    extensions: list[dict[str, Extension]] | None = None
    functions: dict[str, Any] | None = None  # name -> TaskItem once built
    retries: dict[str, RetryPolicy] | None = None
    secrets: list[str] | None = None
    timeouts: dict[str, Timeout] | None = None
    catalogs: dict[str, Catalog] | None = None


class Document(Node):
    dsl: SemVer
    namespace: Label
    name: Label
    version: SemVer
    title: str | None = None
    summary: str | None = None
    tags: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class Schedule(Node):
    every: Duration | None = None
    cron: str | None = None
    after: Duration | None = None
    on: EventConsumptionStrategy | None = None


class Evaluate(OpenNode):
    language: Literal["jq", "jmespath"] = "jq"
    mode: Literal["strict", "loose"] = "strict"


class Workflow(OpenNode):
    """The root. Unknown root keys are allowed, as the schema allows them."""

    document: Document
    do: TaskList
    input: Input | None = None
    use: Use | None = None
    timeout: Timeout | str | None = None
    output: Output | None = None
    schedule: Schedule | None = None
    evaluate: Evaluate | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.document.namespace, self.document.name, self.document.version)


#: Which key identifies each task class, in the order they must be tried
#: (``for`` before ``do``: a for task has both).
TASK_KEYS: tuple[tuple[str, type], ...] = (
    ("call", CallFunction),
    ("for", ForTask),
    ("do", DoTask),
    ("fork", ForkTask),
    ("emit", EmitTask),
    ("listen", ListenTask),
    ("raise", RaiseTask),
    ("run", RunTask),
    ("set", SetTask),
    ("switch", SwitchTask),
    ("try", TryTask),
    ("wait", WaitTask),
)

CALL_CLASSES: dict[str, type] = {
    "http": CallHttp,
    "openapi": CallOpenApi,
    "grpc": CallGrpc,
    "asyncapi": CallAsyncApi,
    "a2a": CallA2A,
    "mcp": CallMcp,
}


def task_kind(task: Any) -> str:
    """The DSL name of a task's type: ``call``, ``do``, ``for``, ..."""
    return _KIND_OF[type(task)]


_KIND_OF: dict[type, str] = {cls: key for key, cls in TASK_KEYS} | {
    cls: "call" for cls in CALL_CLASSES.values()
}
