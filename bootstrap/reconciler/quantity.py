"""Kubernetes resource quantities ("250m", "1.5", "128Mi", "1G", "1e3") as integers the runtime can use."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: object) -> Decimal:
    """A quantity as a Decimal in base units; ValueError with the offending text if it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a quantity (like 250m, 1, 128Mi)")
    try:
        number = Decimal(match[1])
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a quantity") from exc
    if number < 0:
        raise ValueError(f"{value!r} must not be negative")
    return number * _SUFFIX[match[2]]


def milli(value: object) -> int:
    """CPU in millicores, rounded up like the kubelet (MilliValue)."""
    return int((parse_quantity(value) * 1000).to_integral_value(rounding=ROUND_CEILING))


def whole(value: object) -> int:
    """Bytes (or any whole unit), rounded up (Value)."""
    return int(parse_quantity(value).to_integral_value(rounding=ROUND_CEILING))
