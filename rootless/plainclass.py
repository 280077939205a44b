"""Record classes for rl's value objects: the part of `dataclasses` rl uses, without its cost.

`import dataclasses` pulls in inspect, ast, dis and tokenize (~12 ms here) and each decorated class
then compiles its generated methods (~0.5 ms a class); the `rl run` path defines about twenty such
classes, so the standard module alone cost a fifth of the start-up budget (docs/performance.md).
This module gives the same spelling for what rl needs and nothing more:

    @dataclass / @dataclass(frozen=True)   fields from annotations, in order, bases first
    field(default=..., default_factory=..., compare=False)
    replace(obj, **changes)                 a copy with some fields changed
    FrozenInstanceError                     assigning to a frozen instance

Generated methods: `__init__` (positional or keyword, defaults, `__post_init__`), `__repr__`,
`__eq__` (same class, compared fields), `__hash__` (frozen: hash of the compared fields; else
unhashable, as dataclasses does). Methods are shared closures, not compiled per class.
"""

from __future__ import annotations

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (dataclasses' name)."""


class Field:
    __slots__ = ("name", "default", "default_factory", "compare")

    def __init__(self, default=_MISSING, default_factory=_MISSING, compare: bool = True) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare


def field(*, default=_MISSING, default_factory=_MISSING, compare: bool = True) -> Field:
    return Field(default, default_factory, compare)


def _fields_of(cls: type) -> tuple[Field, ...]:
    """Fields of `cls`: the bases' first, then its own annotations (ClassVar ones skipped)."""
    fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            fields[f.name] = f
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        if isinstance(value, Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        fields[name] = f
    return tuple(fields.values())


def _init(self, *args, **kwargs) -> None:
    fields = type(self).__record_fields__
    if len(args) > len(fields):
        raise TypeError(f"{type(self).__name__}() takes {len(fields)} positional arguments but {len(args)} were given")
    setter = object.__setattr__
    for f, value in zip(fields, args):
        if f.name in kwargs:
            raise TypeError(f"{type(self).__name__}() got multiple values for argument '{f.name}'")
        setter(self, f.name, value)
    for f in fields[len(args):]:
        if f.name in kwargs:
            setter(self, f.name, kwargs.pop(f.name))
        elif f.default is not _MISSING:
            setter(self, f.name, f.default)
        elif f.default_factory is not _MISSING:
            setter(self, f.name, f.default_factory())
        else:
            raise TypeError(f"{type(self).__name__}() missing required argument: '{f.name}'")
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{next(iter(kwargs))}'")
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _values(self) -> tuple:
    return tuple(getattr(self, f.name) for f in type(self).__record_fields__ if f.compare)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self) -> int:
    return hash(_values(self))


def _repr(self) -> str:
    parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__)
    return f"{type(self).__qualname__}({parts})"


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field '{name}'")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field '{name}'")


def dataclass(cls: type | None = None, *, frozen: bool = False):
    """Decorate `cls` as a record (see the module's docstring)."""

    def wrap(cls: type) -> type:
        cls.__record_fields__ = _fields_of(cls)
        cls.__init__ = _init
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _repr
        if "__eq__" not in cls.__dict__:
            cls.__eq__ = _eq
        if frozen:
            cls.__setattr__ = _frozen_setattr
            cls.__delattr__ = _frozen_delattr
            cls.__hash__ = _hash
        elif "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
            cls.__hash__ = None
        return cls

    return wrap if cls is None else wrap(cls)


def replace(obj, **changes):
    """A copy of the record `obj` with `changes` applied (dataclasses.replace)."""
    values = {f.name: getattr(obj, f.name) for f in type(obj).__record_fields__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)


def is_record(obj) -> bool:
    return hasattr(type(obj) if not isinstance(obj, type) else obj, "__record_fields__")
