"""How values reach the YAML text of a template: always as one quoted scalar, never as raw text.

The Jinja environment's `finalize` hook sends every `{{ expression }}` through `yaml_scalar`, so quoting does not
depend on a template author remembering a filter. Strings become double-quoted YAML with every character outside
printable ASCII escaped (newlines, quotes, `#`, `: ` and a leading `-` are inert inside the quotes); integers and
booleans become their YAML literals; anything else (None, floats, containers) is refused, because printing it
would mean something the config did not say.

`Placeholders` is the second half of the guarantee: rendering the same template with each value replaced by a
unique token gives the template's own structure, so the real output can be checked to be exactly that structure
with the values dropped in (bootstrap.render.engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bootstrap.errors import RenderError

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote_string(value: str) -> str:
    """`value` as a YAML double-quoted scalar that parses back to exactly `value`."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise RenderError(f"value {value!r} contains a lone surrogate and cannot be written as UTF-8")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def yaml_scalar(value: Any) -> str:
    """The YAML text for one value printed by a template."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote_string(value)
    raise RenderError(
        f"a template printed {type(value).__name__} {value!r}; only strings, integers and booleans can be printed",
        hint="print each scalar with {{ ... }}; build lists and maps in the template's YAML",
    )


def finalize_quoted(value: Any) -> Any:
    """Jinja `finalize`: template-made text (macro output, Markup) passes, every value is quoted."""
    if isinstance(value, Markup):
        return value
    return Markup(yaml_scalar(value))


@dataclass
class Placeholders:
    """A `finalize` that prints a unique plain token per value and remembers what each token stands for."""

    values: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Markup):
            return value
        yaml_scalar(value)  # same refusals as the real render
        token = f"kbsvalue{len(self.values):05d}x"
        self.values[token] = value
        return Markup(token)
