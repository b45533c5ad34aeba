"""The Stripe contract check: every request the `stripe` library sends must be valid
for the API version it pins, whatever localstripe accepts.

localstripe takes parameters real Stripe removed (`payment_method_types` on
intents since the endive versions) and ignores idempotency keys, so the suite
could pass while every live payment fails. `ContractRecorder` sees each request
at the library's HTTP boundary (`HTTPClient.request_with_retries`, patched for
the test session) and checks it against the library's own definitions:

- The route (HTTP method + path template) and its `stripe.params.*Params`
  TypedDict are read from the library's service classes (`self._request("post",
  "/v1/setup_intents", ..., params=params)` with `params: "SetupIntentCreateParams"`),
  so the table follows the installed version and is never written by hand.
- Every key must be declared, recursively (nested hashes, arrays, metadata,
  `Literal['']` to unset); a closed `Literal` value must be one of its values;
  required keys must be present. Form encoding makes every scalar a string, so
  scalars are not type-checked beyond that.
- An idempotency key is never sent again with other parameters: Stripe answers
  400 `idempotency_error` for 24 hours, the emulator says nothing.
- The `Stripe-Version` header is the version the project pins.
- No row lock is held while a request is in flight (payments/services/__init__.py:
  call Stripe first, then lock, re-check and apply). On PostgreSQL the database
  connection of the thread sending the request is asked (`pg_locks`) whether its
  open transaction holds a `SELECT ... FOR UPDATE` lock (a `RowShareLock` on a
  table); see `held_row_locks` for how the test's own transaction is told apart.

Requests that do not go through the library (the tests' fake Stripe.js in
`stripejs.py`, the emulator's `/_config` endpoints, the proxy forwarding to
localstripe) are not seen, hence not checked.
"""

import ast
import builtins
import collections.abc
import functools
import hashlib
import importlib
import json
import re
import threading
import traceback
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
import typing_extensions
from django.conf import settings
from django.db import connections
from django.db.backends.utils import CursorWrapper
from stripe._http_client import HTTPClient
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject

# The HTTPClient methods the library's requestor calls, once per request (retries inside).
PATCHED_METHODS = ("request_with_retries", "request_stream_with_retries")

Problem = tuple[str, str]  # (parameter path in Stripe's form notation, what is wrong)


# --- What was sent ------------------------------------------------------------------


@dataclass(frozen=True)
class StripeRequest:
    """One request as it left the library: method, path, decoded parameters, headers."""

    method: str  # "POST"
    path: str  # "/v1/setup_intents"
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_version: str | None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def digest(self) -> str:
        """What Stripe compares when an idempotency key comes back: the request itself."""
        body = json.dumps([self.method, self.path, self.params], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Violation:
    """A request real Stripe would refuse or misread."""

    request: str  # "POST /v1/setup_intents"
    parameter: str  # "payment_method_types", "items[0][plan]"; "" for the route or a header
    problem: str
    params_class: str = ""  # "SetupIntentCreateParams"
    test: str | None = None  # the test during which it was sent

    def __str__(self) -> str:
        where = f" parameter `{self.parameter}`:" if self.parameter else ""
        against = f" [stripe.params.{self.params_class}]" if self.params_class else ""
        return f"{self.request}:{where} {self.problem}{against}"


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def decode_form(encoded: str) -> dict[str, Any]:
    """`items[0][plan]=x&metadata[k]=v` back into {"items": [{"plan": "x"}], "metadata": {...}}.

    The inverse of the library's `_api_encode` + `urlencode`: hashes become
    dicts, indexed keys (`[0]`, `[1]`, or `[]`) become lists, values stay strings.
    """
    root: dict[str, Any] = {}
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        match = _KEY.match(name)
        keys = [match.group(1), *_SEGMENT.findall(match.group(2))] if match else [name]
        node = root
        for depth, key in enumerate(keys):
            key = key or str(len(node))  # `expand[]=a&expand[]=b`
            if depth == len(keys) - 1:
                node[key] = value
            else:
                child = node.get(key)
                node[key] = node = child if isinstance(child, dict) else {}
    return {key: _listify(value) for key, value in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and set(items) == {str(index) for index in range(len(items))}:
        return [items[str(index)] for index in range(len(items))]
    return items


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def parse_request(
    method: str, url: str, headers: Mapping[str, str] | None, post_data: Any
) -> StripeRequest:
    """A request as the HTTP client receives it, decoded."""
    parts = urlsplit(url)
    params = decode_form(parts.query)
    if post_data:
        body = post_data.decode() if isinstance(post_data, bytes) else str(post_data)
        content_type = _header(headers, "Content-Type") or ""
        if content_type.startswith("application/json"):  # v2 endpoints
            params.update(json.loads(body))
        elif not content_type.startswith("multipart/"):  # file uploads are not checked
            params.update(decode_form(body))
    return StripeRequest(
        method=method.upper(),
        path=parts.path,
        params=params,
        idempotency_key=_header(headers, "Idempotency-Key"),
        stripe_version=_header(headers, "Stripe-Version"),
    )


# --- Routes: read from the library's service classes ---------------------------------


@dataclass(frozen=True)
class Route:
    """An endpoint of the installed library and the Params TypedDicts its methods take."""

    method: str  # "POST"
    template: str  # "/v1/setup_intents/{intent}/confirm"
    params: tuple[tuple[str, str], ...]  # ((module, class name), ...)

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"\{[^}]+\}", self.template)
        return re.compile("[^/]+".join(re.escape(part) for part in parts) + "$")

    @property
    def placeholders(self) -> int:
        return self.template.count("{")

    def params_classes(self) -> list[type]:
        return [getattr(importlib.import_module(module), name) for module, name in self.params]


def _imports(tree: ast.Module) -> dict[str, str]:
    """Imported name -> module, including the ones under `if TYPE_CHECKING:`."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _request_call(node: ast.AST) -> tuple[str, str] | None:
    """("POST", "/v1/x/{id}") for `self._request("post", "/v1/x/{id}".format(...), ...)`."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"_request", "_request_stream"}
        and len(node.args) >= 2
        and isinstance(node.args[0], ast.Constant)
    ):
        return None
    url = node.args[1]
    if (
        isinstance(url, ast.Call)
        and isinstance(url.func, ast.Attribute)
        and url.func.attr == "format"
    ):
        url = url.func.value
    if not (isinstance(url, ast.Constant) and isinstance(url.value, str)):
        return None
    return str(node.args[0].value).upper(), url.value.split("?")[0]


def _params_name(function: ast.FunctionDef) -> str | None:
    for arg in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs):
        if arg.arg == "params" and arg.annotation is not None:
            names = re.findall(r"\b([A-Z]\w*Params)\b", ast.unparse(arg.annotation))
            return names[0] if names else None
    return None


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every (method, path template) the installed library calls, with its Params classes."""
    found: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for source in sorted(Path(stripe.__file__).parent.rglob("*_service.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imports = _imports(tree)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):  # the async twins call the same routes
                continue
            name = _params_name(function)
            for node in ast.walk(function):
                route = _request_call(node)
                if route is None:
                    continue
                classes = found.setdefault(route, set())
                if name:
                    classes.add((imports.get(name, "stripe.params"), name))
    return tuple(
        Route(method, template, tuple(sorted(classes)))
        for (method, template), classes in sorted(found.items())
    )


@functools.cache
def _routes_by_method() -> dict[str, list[Route]]:
    table: dict[str, list[Route]] = {}
    for route in routes():
        table.setdefault(route.method, []).append(route)
    for candidates in table.values():  # `/v1/customers/search` before `/v1/customers/{customer}`
        candidates.sort(key=lambda route: route.placeholders)
    return table


@functools.lru_cache(maxsize=4096)
def route_for(method: str, path: str) -> Route | None:
    """The library's route for a request path, the most literal one when several match."""
    for route in _routes_by_method().get(method.upper(), []):
        if route.pattern.match(path):
            return route
    return None


# --- Parameters: checked against the Params TypedDicts ------------------------------


class _Names(Mapping[str, Any]):
    """Where a Params module's forward references are looked up: the module, then stripe.params."""

    def __init__(self, module: str) -> None:
        self.namespace = vars(importlib.import_module(module))

    def __getitem__(self, name: str) -> Any:
        if name in self.namespace:
            return self.namespace[name]
        for source in (typing, typing_extensions, stripe.params):
            try:
                return getattr(source, name)
            except AttributeError:
                continue
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.namespace)

    def __len__(self) -> int:
        return len(self.namespace)


@functools.cache
def _evaluate(expression: str, module: str) -> Any:
    return eval(expression, {"__builtins__": builtins}, _Names(module))  # noqa: S307 (library's own annotations)


def _resolve(annotation: Any, module: str) -> Any:
    """The annotation with string/ForwardRef evaluated and NotRequired/Required removed."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        annotation = _evaluate(annotation, module)
    while typing.get_origin(annotation) in _WRAPPERS:
        annotation = _resolve(typing.get_args(annotation)[0], module)
    return annotation


_WRAPPERS = {
    typing.NotRequired,
    typing.Required,
    typing_extensions.NotRequired,
    typing_extensions.Required,
    typing.Annotated,
}
_UNIONS = {typing.Union, types.UnionType}
_LITERALS = {typing.Literal, typing_extensions.Literal}
_LISTS = {list, tuple, collections.abc.Sequence}
_MAPS = {dict, collections.abc.Mapping}


@functools.cache
def _fields(params_class: type) -> dict[str, Any]:
    """The keys a Params TypedDict declares, without those it inherits from RequestOptions
    (`idempotency_key`, `stripe_version`...: options of the library, never sent as parameters).
    """
    options = RequestOptions.__annotations__
    return {
        key: annotation
        for key, annotation in params_class.__annotations__.items()
        if options.get(key) is not annotation
    }


def _required(params_class: type) -> frozenset[str]:
    return frozenset(getattr(params_class, "__required_keys__", ())) & _fields(params_class).keys()


def _scalar(value: Any) -> str:
    """A value as form encoding sends it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation) or annotation
    if typing_extensions.is_typeddict(annotation) or origin in _MAPS:
        return "hash"
    if origin is UntypedStripeObject:
        return "hash"
    if origin in _LISTS:
        return "array"
    if annotation is type(None):
        return "null"
    return "value"


def _value_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "hash"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "value"


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) in _LITERALS:
        return " or ".join(repr(value) for value in typing.get_args(annotation))
    if typing_extensions.is_typeddict(annotation):
        return f"a hash ({annotation.__name__})"
    return {"hash": "a hash", "array": "an array", "null": "nothing"}.get(
        _kind(annotation), getattr(annotation, "__name__", str(annotation))
    )


def check_params(params: Mapping[str, Any], params_class: type) -> list[Problem]:
    """What is wrong with `params` for this Params TypedDict (empty when nothing is)."""
    return _check_hash(params, params_class, "")


def _check_hash(value: Mapping[str, Any], params_class: type, path: str) -> list[Problem]:
    fields = _fields(params_class)
    problems: list[Problem] = []
    for key, item in value.items():
        here = f"{path}[{key}]" if path else key
        if key not in fields:
            problems.append((here, f"unknown parameter, not in {params_class.__name__}"))
        else:
            problems += _check(item, fields[key], params_class.__module__, here)
    for key in sorted(_required(params_class) - value.keys()):
        here = f"{path}[{key}]" if path else key
        problems.append((here, f"required by {params_class.__name__}, missing"))
    return problems


def _check(value: Any, annotation: Any, module: str, path: str) -> list[Problem]:
    annotation = _resolve(annotation, module)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in (Any, object):
        return []
    if origin in _UNIONS:
        return _check_union(value, args, module, path)
    if origin in _LITERALS:
        if isinstance(value, (dict, list)) or _scalar(value) not in {_scalar(a) for a in args}:
            return [(path, f"{value!r} is not {_describe(annotation)}")]
        return []
    kind = _kind(annotation)
    if kind == "hash" and isinstance(value, list):  # a hash whose keys looked like indexes
        value = {str(index): item for index, item in enumerate(value)}
    if kind != _value_kind(value):
        return [(path, f"{_describe_value(value)} where {_describe(annotation)} is expected")]
    if typing_extensions.is_typeddict(annotation):
        return _check_hash(value, annotation, path)
    problems: list[Problem] = []
    if kind == "hash" and args:  # Dict[str, X], UntypedStripeObject[X]: any key, X values
        for name, item in value.items():
            problems += _check(item, args[-1], module, f"{path}[{name}]")
    elif kind == "array" and args:
        for index, item in enumerate(value):
            problems += _check(item, args[0], module, f"{path}[{index}]")
    return problems


def _describe_value(value: Any) -> str:
    return {"hash": "a hash", "array": "an array", "null": "nothing"}.get(
        _value_kind(value), f"the value {value!r}"
    )


def _check_union(value: Any, members: tuple[Any, ...], module: str, path: str) -> list[Problem]:
    """Valid when one member accepts the value; else the problems of the closest member."""
    fitting = []
    for member in members:
        problems = _check(value, member, module, path)
        if not problems:
            return []
        resolved = _resolve(member, module)
        if _kind(resolved) == _value_kind(value):  # a Literal is a value
            fitting.append(problems)
    if fitting:
        return min(fitting, key=len)
    expected = " or ".join(_describe(_resolve(member, module)) for member in members)
    return [(path, f"{_describe_value(value)} where {expected} is expected")]


# --- The whole check ----------------------------------------------------------------


def check_request(request: StripeRequest, *, expected_version: str | None) -> list[Violation]:
    """Route, parameters and version of one request (idempotency is checked across requests)."""
    violations = []
    if expected_version and request.stripe_version != expected_version:
        violations.append(
            Violation(
                str(request),
                "",
                f"sent Stripe-Version {request.stripe_version!r}, "
                f"the project pins {expected_version!r}",
            )
        )
    route = route_for(request.method, request.path)
    if route is None:
        problem = f"no such endpoint in stripe {stripe.VERSION}'s services"
        return [*violations, Violation(str(request), "", problem)]
    classes = route.params_classes()
    if not classes:
        if request.params:
            problem = f"this endpoint takes no parameters in stripe {stripe.VERSION}"
            violations += [Violation(str(request), key, problem) for key in request.params]
        return violations
    candidates = [(check_params(request.params, cls), cls) for cls in classes]
    problems, params_class = min(candidates, key=lambda candidate: len(candidate[0]))
    return violations + [
        Violation(str(request), parameter, problem, params_class.__name__)
        for parameter, problem in problems
    ]


class ContractRecorder:
    """Records every request the stripe library sends and what is wrong with it.

    Thread-safe: the live server, the Celery worker's threads and the test all
    call Stripe in the same process. Violations wait in `take_violations()`;
    the idempotency ledger lives as long as the recorder (the test session),
    as Stripe's lives 24 hours.
    """

    def __init__(
        self,
        expected_version: Callable[[], str | None] = lambda: None,
        row_locks: Callable[[], list[str]] | None = None,
    ) -> None:
        self.expected_version = expected_version
        # What the sending thread's database transaction holds locked (see held_row_locks).
        self.row_locks = row_locks if row_locks is not None else held_row_locks
        self.requests: list[StripeRequest] = []
        self.test: str | None = None  # set by the per-test fixture
        self._violations: list[Violation] = []
        self._keys: dict[str, tuple[str, StripeRequest, str | None]] = {}
        self._lock = threading.Lock()

    def record(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> StripeRequest:
        """Decode and check one request, as `HTTPClient.request_with_retries` receives it."""
        request = parse_request(method, url, headers, post_data)
        try:
            violations = check_request(request, expected_version=self.expected_version())
        except Exception as exc:  # a library the checker cannot read must fail loudly, not the call
            violations = [Violation(str(request), "", f"the contract check failed: {exc!r}")]
        violations += self._check_row_locks(request)
        with self._lock:
            test = self.test
            self.requests.append(request)
            if request.idempotency_key:
                violations += self._check_idempotency(request, test)
            self._violations += [replace(violation, test=test) for violation in violations]
        return request

    def _check_row_locks(self, request: StripeRequest) -> list[Violation]:
        """Runs in the thread that sends the request, so it sees that thread's connection."""
        try:
            tables = self.row_locks()
        except Exception as exc:  # the probe must fail loudly, not the call
            return [Violation(str(request), "", f"the row-lock check failed: {exc!r}")]
        if not tables:
            return []
        return [
            Violation(
                str(request),
                "",
                f"sent from {_caller()} while this thread's database transaction holds "
                f"row locks (select_for_update) on {', '.join(tables)}: a slow Stripe keeps "
                "them locked. Call Stripe first, then lock, re-check and apply "
                "(payments/services/__init__.py)",
            )
        ]

    def _check_idempotency(self, request: StripeRequest, test: str | None) -> list[Violation]:
        known = self._keys.setdefault(request.idempotency_key, (request.digest(), request, test))
        digest, first, first_test = known
        if digest == request.digest():
            return []
        origin = f" in {first_test}" if first_test and first_test != test else ""
        changed = _differences(first, request)
        return [
            Violation(
                str(request),
                "",
                f"Idempotency-Key {request.idempotency_key!r} was first sent with other "
                f"parameters ({first}{origin}; differs in {changed}): Stripe answers 400 "
                "idempotency_error for 24 hours",
            )
        ]

    def take_violations(self) -> list[Violation]:
        """The violations recorded so far, forgotten once taken."""
        with self._lock:
            taken, self._violations = self._violations, []
        return taken

    @contextmanager
    def installed(self) -> Iterator["ContractRecorder"]:
        """Record every request of every stripe HTTP client while inside."""
        owners = [HTTPClient, *_subclasses(HTTPClient)]
        patched = [
            (owner, name, owner.__dict__[name])
            for owner in owners
            for name in PATCHED_METHODS
            if name in owner.__dict__
        ]
        if not any(owner is HTTPClient for owner, _, _ in patched):
            raise RuntimeError(f"stripe {stripe.VERSION}: HTTPClient has no {PATCHED_METHODS}")
        for owner, name, original in patched:
            setattr(owner, name, self._recording(original))
        try:
            with noting_row_locks():
                yield self
        finally:
            for owner, name, original in patched:
                setattr(owner, name, original)

    def _recording(self, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        @functools.wraps(original)
        def request_with_retries(self, method, url, headers, post_data=None, *args, **kwargs):
            recorder.record(method, url, headers, post_data)
            return original(self, method, url, headers, post_data, *args, **kwargs)

        return request_with_retries


# --- No row lock across a Stripe request ---------------------------------------------

# A statement that takes row locks: SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE.
_LOCKING_SQL = re.compile(r"\sFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.I)
# On the connection: savepoint ids of the code's own outermost atomic blocks in which a
# locking statement ran, while the test's transaction wraps them (see held_row_locks).
_LOCKED_UNDER = "_contract_row_locks_taken_under"
_HELD_ROW_LOCKS = """
    SELECT DISTINCT relation::regclass::text FROM pg_locks
    WHERE pid = pg_backend_pid() AND locktype = 'relation' AND mode = 'RowShareLock'
    ORDER BY 1
"""


def _wrapping_blocks(connection) -> int:
    """How many of the connection's open atomic blocks are the test's own (pytest-django's
    TestCase transaction for the class and for the test), outermost first."""
    count = 0
    for block in connection.atomic_blocks:
        if not getattr(block, "_from_testcase", False):
            break
        count += 1
    return count


def _outermost_savepoint(connection, wrapping: int) -> str | None:
    """The savepoint of the outermost atomic block the code itself opened inside the test's
    transaction (unique for the connection's life), or None when it has none."""
    blocks, savepoints = connection.atomic_blocks, connection.savepoint_ids
    if len(blocks) <= wrapping:
        return None
    index = wrapping - (len(blocks) - len(savepoints))  # the outermost block may have none
    return savepoints[index] if 0 <= index < len(savepoints) else None


def _note_locking_statement(connection, sql: Any) -> None:
    if connection.vendor != "postgresql" or not isinstance(sql, str):
        return
    if not _LOCKING_SQL.search(sql):
        return
    wrapping = _wrapping_blocks(connection)
    owner = _outermost_savepoint(connection, wrapping) if wrapping else None
    if owner is not None:
        connection.__dict__.setdefault(_LOCKED_UNDER, set()).add(owner)


@contextmanager
def noting_row_locks() -> Iterator[None]:
    """Note, for every database connection, the code's transactions in which it took row
    locks (only needed inside the test's own transaction, see held_row_locks)."""
    original = CursorWrapper._execute

    @functools.wraps(original)
    def _execute(self, sql, params, *ignored_wrapper_args):
        _note_locking_statement(self.db, sql)
        return original(self, sql, params, *ignored_wrapper_args)

    CursorWrapper._execute = _execute
    try:
        yield
    finally:
        CursorWrapper._execute = original


def held_row_locks() -> list[str]:
    """The tables whose rows this thread's database transaction holds locked (on PostgreSQL;
    empty elsewhere, and when no transaction is open).

    A row lock lasts until the transaction ends: `pg_locks` shows it as a
    `RowShareLock` on the table for as long as the transaction that ran
    `SELECT ... FOR UPDATE` is open. A database test runs inside pytest-django's own
    transaction, where locks taken by a service's block that has since finished stay
    held until the test ends (only the test's transaction really commits): there, a
    lock counts only if it was taken inside the outermost block the code itself has
    open now (noted by `noting_row_locks`). Outside any block of its own the code runs
    in autocommit in production, where such locks do not outlive their statement.
    """
    held: list[str] = []
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if connection.vendor != "postgresql" or raw is None or raw.closed:
            continue
        if raw.info.transaction_status.name != "INTRANS":  # idle, or a failed transaction
            continue
        wrapping = _wrapping_blocks(connection)
        if wrapping:
            owner = _outermost_savepoint(connection, wrapping)
            if owner is None or owner not in connection.__dict__.get(_LOCKED_UNDER, ()):
                continue
        with raw.cursor() as cursor:  # the driver's own: nothing of Django's runs
            cursor.execute(_HELD_ROW_LOCKS)
            held += [name for (name,) in cursor.fetchall()]
    return held


def _caller() -> str:
    """Where the project asked Stripe: the innermost frame of its own code outside the
    gateway (the service that called it)."""
    root = str(settings.BASE_DIR) + "/"
    skipped = ("tests/", "payments/stripe_gateway/", ".venv/")
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.removeprefix(root)
        if path != frame.filename and not path.startswith(skipped):
            return f"{path}:{frame.lineno} {frame.name}"
    return "outside the project's code"


def _differences(first: StripeRequest, second: StripeRequest) -> str:
    if (first.method, first.path) != (second.method, second.path):
        return "method or path"
    keys = sorted(
        key
        for key in first.params.keys() | second.params.keys()
        if first.params.get(key) != second.params.get(key)
    )
    return ", ".join(f"`{key}`" for key in keys) or "parameters"


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def report(violations: list[Violation]) -> str:
    """The failure message: one line per violation, grouped under the test that sent it."""
    lines = [
        f"{len(violations)} Stripe request(s) the pinned API version "
        f"({stripe._api_version._ApiVersion.CURRENT}, stripe {stripe.VERSION}) would refuse "
        "or misread, though the emulator may have accepted them:"
    ]
    for violation in violations:
        during = f" (sent during {violation.test})" if violation.test else " (sent between tests)"
        lines.append(f"  - {violation}{during}")
    return "\n".join(lines)
