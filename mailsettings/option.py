"""How a lookup option is declared and checked.

An option group is a ``TypedDict`` (``total=False``) whose keys are annotated with
``Annotated[type, Option(default, help, ...)]``: the type is what editors and mypy
check, the :class:`Option` is what the library checks at run time, the default, and the
help of the command-line flag derived from it. Modules that declare option groups must
not use ``from __future__ import annotations``: the annotations are read at run time.
:class:`mailsettings.options.LookupOptions` combines every group.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Option",
    "OptionSpecs",
    "check_bool",
    "check_seconds",
    "check_str",
    "option_specs",
]


def check_bool(name: str, value: object) -> bool:
    """``value`` when it is a bool, else :class:`TypeError` (``"no"`` is not ``False``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r:.60}")
    return value


def check_str(name: str, value: object) -> str:
    """``value`` when it is a str, else :class:`TypeError`."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def check_seconds(name: str, value: object) -> float:
    """A positive, finite number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r:.40}")
    return seconds


_INFERRED: dict[object, Callable[[str, object], Any]] = {
    bool: check_bool,
    str: check_str,
    float: check_seconds,
}


@dataclass(frozen=True, slots=True)
class Option:
    """What the library knows of one option: its default, help text and check.

    ``check(name, value)`` returns the value to use or raises :class:`TypeError` /
    :class:`ValueError`; for ``bool``, ``str`` and ``float`` (seconds) options it is
    inferred from the annotation. ``flag`` says whether the command line offers it as
    ``--name-with-dashes`` (``bool``, ``str`` and ``float`` options only); ``metavar``
    names the flag's value.
    """

    default: Any
    help: str
    check: Callable[[str, object], Any] | None = None
    flag: bool = True
    metavar: str | None = None


@dataclass(frozen=True, slots=True)
class Spec:
    """An option with everything resolved: name, type, check."""

    name: str
    option: Option
    kind: object
    """The annotated type (``bool``, ``str``, ``float`` or another)."""
    check: Callable[[str, object], Any]


OptionSpecs = Mapping[str, Spec]


def option_specs(*groups: type) -> dict[str, Spec]:
    """The options declared by these option groups (``TypedDict`` classes), by name.

    >>> from mailsettings.net.budget import BudgetOptions
    >>> spec = option_specs(BudgetOptions)["timeout"]
    >>> spec.option.default, spec.check("timeout", 3)
    (10.0, 3.0)
    """
    specs: dict[str, Spec] = {}
    for group in groups:
        for name, annotation in group.__annotations__.items():
            if name in specs:
                continue
            metadata = getattr(annotation, "__metadata__", ())
            option = next((m for m in metadata if isinstance(m, Option)), None)
            if option is None:
                hint = (
                    " (its module must not use `from __future__ import annotations`)"
                    if isinstance(annotation, str | typing.ForwardRef)
                    else ""
                )
                raise TypeError(f"{group.__name__}.{name} is not annotated with an Option{hint}")
            kind = typing.get_args(annotation)[0]
            check = option.check or _INFERRED.get(kind)
            if check is None:
                raise TypeError(f"{group.__name__}.{name} needs an explicit check")
            specs[name] = Spec(name, option, kind, check)
    return specs


def checked(specs: OptionSpecs, options: Mapping[str, object]) -> dict[str, Any]:
    """``options`` checked against ``specs``; unknown names raise :class:`TypeError`."""
    unknown = [name for name in options if name not in specs]
    if unknown:
        raise TypeError(f"unknown lookup option(s): {', '.join(sorted(unknown))}")
    return {name: specs[name].check(name, value) for name, value in options.items()}


def defaults(specs: OptionSpecs) -> dict[str, Any]:
    """Every option at its default."""
    return {name: spec.option.default for name, spec in specs.items()}
