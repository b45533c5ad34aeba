"""Which fields of a Stripe object a parser reads, and whether the pinned library declares them.

`traced(payload)` wraps a payload so every key read through `[]`, `get` or
`in` is recorded as a dotted path from the object (`latest_charge.id`; list
items take their list's path: `lines.data.period.end`). `undeclared(...)`
walks each path through the installed library's resource classes
(`stripe.Invoice` and its nested classes, `ListObject["InvoicePayment"]`,
`ExpandableField["Charge"]` followed into `Charge`) and returns the first
part of the path the library does not declare.

A path the pinned API does not have is allowed only when listed as the
emulator's older shape. Under such a path the type is unknown, except where
the payload says what it holds (`"object": "charge"`): the walk continues
from that resource, so `charges.data` (localstripe's list) is allowed and the
charge read inside it is still checked against `stripe.Charge`.
"""

import ast
import builtins
import functools
import importlib
import inspect
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe
import typing_extensions
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject, UntypedStripeObject

Path = tuple[str, ...]


# --- Tracing reads ------------------------------------------------------------------


@dataclass
class Trace:
    """The paths read from one payload, and the `object` type found at each path."""

    reads: set[Path] = field(default_factory=set)
    objects: dict[Path, set[str]] = field(default_factory=dict)

    def dotted(self) -> set[str]:
        return {".".join(path) for path in self.reads}


def traced(payload: dict, trace: Trace) -> "TracedDict":
    """`payload` wrapped so that the reads of whoever parses it land in `trace`."""
    return TracedDict(payload, (), trace)


def _wrap(value: Any, path: Path, trace: Trace) -> Any:
    if isinstance(value, dict) and not isinstance(value, TracedDict):
        return TracedDict(value, path, trace)
    if isinstance(value, list) and not isinstance(value, TracedList):
        return TracedList(value, path, trace)
    return value


class TracedDict(dict):
    """A dict that records the path of every key read, and wraps what it hands out."""

    def __init__(self, data: dict, path: Path, trace: Trace) -> None:
        super().__init__(data)
        self._path = path
        self._trace = trace
        kind = dict.get(data, "object")
        if isinstance(kind, str):
            trace.objects.setdefault(path, set()).add(kind)

    def _read(self, key: Any) -> Path:
        here = (*self._path, str(key))
        self._trace.reads.add(here)
        return here

    def __getitem__(self, key: Any) -> Any:
        here = self._read(key)
        return _wrap(super().__getitem__(key), here, self._trace)

    def get(self, key: Any, default: Any = None) -> Any:
        here = self._read(key)
        if not super().__contains__(key):
            return default
        return _wrap(super().__getitem__(key), here, self._trace)

    def __contains__(self, key: object) -> bool:
        self._read(key)
        return super().__contains__(key)


class TracedList(list):
    """A list whose items keep the list's path (`lines.data`), wrapped when handed out."""

    def __init__(self, data: list, path: Path, trace: Trace) -> None:
        super().__init__(data)
        self._path = path
        self._trace = trace

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if isinstance(index, slice):
            return [_wrap(value, self._path, self._trace) for value in item]
        return _wrap(item, self._path, self._trace)

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            yield _wrap(item, self._path, self._trace)


# --- The library's definitions ------------------------------------------------------


class _Free:
    """A hash with keys of any name (metadata): everything below is declared."""


class _Scalar:
    """A string, number or boolean: nothing below it."""


class _Unknown:
    """Below a path only the emulator has: nothing is declared."""


@dataclass(frozen=True)
class _ListOf:
    """A `ListObject`: `data` holds the items; `object`, `has_more`, `url` are the list's own."""

    items: frozenset


Node = type | _ListOf
_LISTS = {"list", "search_result"}


def resource_class(object_type: str) -> type | None:
    """`stripe.Invoice` for "invoice": the library's class for an object type (not for lists,
    whose items' type the list does not say)."""
    found = OBJECT_CLASSES.get(object_type) if object_type not in _LISTS else None
    return getattr(importlib.import_module(found[0]), found[1]) if found else None


@functools.cache
def _module_imports(module: str) -> dict[str, tuple[str, str]]:
    """Name -> (module, name) of a module's imports, the `if TYPE_CHECKING:` ones included."""
    found = {}
    tree = ast.parse(inspect.getsource(sys.modules[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


class _Names(Mapping[str, Any]):
    """How a resource's string annotations are looked up: enclosing classes, then its module,
    then what the module imports only for type checkers."""

    def __init__(self, owner: type) -> None:
        self.owner = owner
        self.module = sys.modules[owner.__module__]

    def _enclosing(self) -> list[Any]:
        scopes: list[Any] = [self.module]
        for name in self.owner.__qualname__.split("."):
            scopes.append(getattr(scopes[-1], name))
        return scopes[:0:-1]

    def __getitem__(self, name: str) -> Any:
        for scope in self._enclosing():
            if name in vars(scope):
                return vars(scope)[name]
        if name in vars(self.module):
            return vars(self.module)[name]
        imported = _module_imports(self.module.__name__).get(name)
        if imported:
            return getattr(importlib.import_module(imported[0]), imported[1])
        for source in (typing, typing_extensions, stripe):
            if hasattr(source, name):
                return getattr(source, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(vars(self.module))

    def __len__(self) -> int:
        return len(vars(self.module))


def _evaluate(annotation: Any, owner: type) -> Any:
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        return eval(annotation, {"__builtins__": builtins}, _Names(owner))  # noqa: S307 (library's own annotations)
    return annotation


@functools.cache
def _annotations(cls: type) -> dict[str, tuple[Any, type]]:
    """The fields a resource class declares (its own and inherited): name -> (annotation, owner)."""
    found: dict[str, tuple[Any, type]] = {}
    for owner in reversed(cls.__mro__):
        if isinstance(owner, type) and issubclass(owner, StripeObject):
            for name, annotation in vars(owner).get("__annotations__", {}).items():
                if (
                    not name.startswith("_")
                    and typing.get_origin(annotation) is not typing.ClassVar
                ):
                    found[name] = (annotation, owner)
    return found


def _nodes(annotation: Any, owner: type) -> frozenset:
    """What a field may hold, as walkable nodes: resource classes, lists, free hashes, scalars."""
    annotation = _evaluate(annotation, owner)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return frozenset().union(*(_nodes(arg, owner) for arg in args))
    if annotation is ListObject or origin is ListObject:
        return frozenset({_ListOf(_nodes(args[0], owner) if args else frozenset({_Free}))})
    if origin in (list, tuple):
        return frozenset().union(*(_nodes(arg, owner) for arg in args)) if args else frozenset()
    if annotation is UntypedStripeObject or origin in (UntypedStripeObject, dict):
        return frozenset({_Free})
    if annotation is Any:
        return frozenset({_Free})
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        return frozenset({annotation})
    return frozenset({_Scalar})


@functools.cache
def _field(node: Node | type, name: str) -> frozenset:
    """The nodes `node.name` may hold; empty when `node` does not declare `name`."""
    if node is _Free:
        return frozenset({_Free})
    if isinstance(node, _ListOf):
        if name == "data":
            return node.items
        return frozenset({_Scalar}) if name in {"object", "has_more", "url"} else frozenset()
    if isinstance(node, type) and issubclass(node, StripeObject):
        declared = _annotations(node).get(name)
        return _nodes(*declared) if declared else frozenset()
    return frozenset()


def undeclared(
    object_type: str,
    path: Path,
    *,
    allowed: frozenset[str] = frozenset(),
    objects: Mapping[Path, set[str]] | None = None,
) -> str | None:
    """The first prefix of `path` that neither the library declares for `object_type`
    nor `allowed` lists (dotted), or None when the whole path is accounted for.

    Under an allowed prefix the walk continues from the resource the payload
    names there (`objects`: path -> `object` values), if any.
    """
    root = resource_class(object_type)
    if root is None:
        return object_type
    nodes: frozenset = frozenset({root})
    for depth, key in enumerate(path):
        prefix = path[: depth + 1]
        found = frozenset().union(*(_field(node, key) for node in nodes))
        if not found:
            if ".".join(prefix) not in allowed:
                return ".".join(prefix)
            found = frozenset({_Unknown})
        if found == {_Unknown}:  # the payload may say which resource it holds here
            named = {resource_class(kind) for kind in (objects or {}).get(prefix, ())}
            found = frozenset(named - {None}) or found
        nodes = found
    return None


def declared(object_type: str, dotted: str) -> bool:
    """Whether the pinned library declares this dotted path of an object type."""
    return undeclared(object_type, tuple(dotted.split("."))) is None
