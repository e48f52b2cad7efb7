"""The API's arguments, checked as the CLI's options are: a wrong type or value is a GradcliError that
names the option, never a TypeError from deep inside. NumPy's numbers count as numbers; bools do not.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import DataError, GradcliError, show_text
from .values import MAX_PARAMETERS, data_max_bytes, tensor_value


def _shown(value: Any) -> str:
    return show_text(repr(value), 40)


def text(value: Any, option: str) -> str:
    if not isinstance(value, str):
        raise GradcliError(f"{option} must be text, got {_shown(value)}")
    return value


def number(value: Any, option: str, *, least: float | None = None, above: float | None = None,
           none: bool = False) -> float | None:
    """A finite real number (at least `least`, or above `above`); None only where `none` allows it."""
    if value is None and none:
        return None
    bound = f" >= {least:g}" if least is not None else f" > {above:g}" if above is not None else ""
    wrong = GradcliError(f"{option} must be a finite number{bound}, got {_shown(value)}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong
    number = float(value)
    if not math.isfinite(number) or (least is not None and number < least) or (above is not None and number <= above):
        raise wrong
    return number


def probability(value: Any, option: str, *, none: bool = False) -> float | None:
    """A number strictly between 0 and 1 (a threshold on a probability); None only where `none` allows it."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise GradcliError(f"{option} must be a number strictly between 0 and 1, got {_shown(value)}")
    return float(value)


def whole(value: Any, option: str, least: int, *, none: bool = False) -> int | None:
    """A whole number >= least (NumPy's integers too); None only where `none` allows it."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < least:
        raise GradcliError(f"{option} must be a whole number >= {least}, got {_shown(value)}")
    return int(value)


def flag(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise GradcliError(f"{option} must be True or False, got {_shown(value)}")
    return value


def choice(value: Any, option: str, choices: Iterable[str]) -> str:
    listed = list(choices)
    if not isinstance(value, str) or value not in listed:
        raise GradcliError(f"{option} {_shown(value)} is not one of {', '.join(listed)}")
    return value


def delimiter(value: Any, option: str = "--delimiter") -> str:
    """The one character that separates a CSV file's fields: ',' (the default), ';', '|', ..., or a tab,
    given as a tab, as the two characters \\t, or as the word tab."""
    if not isinstance(value, str):
        raise GradcliError(f"{option} must be text, got {_shown(value)}")
    char = "\t" if value in ("\\t", "tab") else value
    if len(char) != 1:
        raise GradcliError(f"{option} must be one character (such as ';' or '|') or 'tab', got {_shown(value)}")
    if char in "\r\n":
        raise GradcliError(f"{option} cannot be a line break: lines end the rows")
    if char == '"':
        raise GradcliError(f"{option} cannot be a quote ({_shown(value)}): quotes enclose fields")
    if char.isalnum() or char in ".+-_":
        raise GradcliError(f"{option} cannot be {_shown(value)}: it can be part of a number or a name")
    if not char.isascii() or not (char.isprintable() or char == "\t") or char == " ":
        raise GradcliError(f"{option} must be a visible ASCII character such as ';' or '|', or 'tab'; "
                           f"got {_shown(value)}")
    return char


def callback(value: Any, option: str) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise GradcliError(f"{option} must be a function or None, got {_shown(value)}")
    return value


def names(items: str | Iterable[str] | None, option: str = "--wrt") -> list[str] | None:
    """Names as the CLI takes them: comma-separated, repeated, or both ('w1,w2' or ['w1', 'b'])."""
    if items is None:
        return None
    if isinstance(items, str):
        items = [items]
    elif not isinstance(items, Iterable) or isinstance(items, (bytes, Mapping)):
        raise GradcliError(f"{option} takes names (text or a list of text), got {_shown(items)}")
    listed = []
    for item in items:
        if not isinstance(item, str):
            raise GradcliError(f"{option} takes names (text or a list of text), got {_shown(item)}")
        listed += [name.strip() for name in item.split(",") if name.strip()]
    return listed


def parameter_values(values: Any, option: str = "--params") -> dict[str, float]:
    """A mapping of name -> real number, each finite; a defect names the parameter."""
    if not isinstance(values, Mapping):
        raise DataError(f"{option} must be a mapping of name -> number, NAME=VALUE,... or a JSON file's path; "
                        f"got {type(values).__name__}")
    if len(values) > MAX_PARAMETERS:
        raise DataError(f"{option}: {len(values):,} parameters; at most {MAX_PARAMETERS:,} are taken "
                        "(a model has at most 20,000 parts)")
    checked = {}
    for name, value in values.items():
        if not isinstance(name, str):
            raise DataError(f"{option}: a parameter's name must be text, got {_shown(name)}")
        if isinstance(value, (bool, str, bytes, complex)):
            raise DataError(f"parameter {show_text(name)!r} is not a real number")
        if not isinstance(value, numbers.Real) and hasattr(value, "__len__"):  # a vector or a matrix
            checked[name] = tensor_value(value, f"parameter {show_text(name)!r}")
            continue
        try:
            number = float(value)
        except OverflowError:
            raise DataError(f"parameter {show_text(name)!r} overflows a 64-bit float") from None
        except (TypeError, ValueError):
            raise DataError(f"parameter {show_text(name)!r} is not a real number") from None
        if not math.isfinite(number):
            raise DataError(f"parameter {show_text(name)!r} is {number} (values must be finite)")
        checked[name] = number
    return checked


MEMORY_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40,
                "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
MIN_MEMORY = 1 << 20  # gradcli itself takes ~150 MB beside the data; a smaller budget streams in the smallest parts


def memory_budget(value: Any, option: str = "--memory") -> int:
    """Bytes: a whole number, or text such as '2GB' (powers of 1000), '512MiB' or '2G' (powers of 1024).
    None: values.data_max_bytes, a quarter of this machine's memory."""
    if value is None:
        return data_max_bytes()
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        unit = match.group(2).upper() if match else ""
        if not match or unit not in MEMORY_UNITS:
            raise GradcliError(f"{option} must be a size such as 2GB, 512MB or 1.5GiB, got {_shown(value)}")
        value = int(float(match.group(1)) * MEMORY_UNITS[unit])
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GradcliError(f"{option} must be a size such as 2GB or a whole number of bytes, got {_shown(value)}")
    if int(value) < MIN_MEMORY:
        raise GradcliError(f"{option} must be at least 1MiB, got {int(value):,} bytes")
    return int(value)
