"""Voucher codes: a campaign's `code_config`, checked and filled in, and the codes it yields.

`code = prefix + pattern, each '#' replaced by a random character of charset, + postfix`
(INCENTIVES.md §1.3). Codes come from the operating system's CSPRNG, every character of the
charset equally likely, so a code says nothing about the others of its campaign.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patron.errors import InvalidCodeConfig

ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

DEFAULT_CODE_CONFIG: dict[str, Any] = {
    "pattern": "########",
    "length": 8,
    "charset": ALPHANUMERIC,
    "prefix": "",
    "postfix": "",
}

# Limits Voucherify does not publish: they keep a stored config, and every code made from it,
# a size an index and a response can carry.
MAX_RANDOM_CHARACTERS = 100
MAX_CODE_LENGTH = 200
MAX_CHARSET_LENGTH = 1000

_SYSTEM_RANDOM = secrets.SystemRandom()


def effective_code_config(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `code_config` to store and render in every response, with Voucherify's defaults.

    `raw` is the client's `code_config` (None or `{}` for none; a null field counts as absent).
    Returns `{pattern, length, charset, prefix, postfix}`, plus `initial_count` if sent (kept,
    as an int, and otherwise ignored): `pattern` defaults to `'#' * length` and overrides it,
    and `length` is then the number of '#' in the pattern, an int (sent as 8 or 8.0).
    Raises InvalidCodeConfig, naming the field, for a non-object, a wrong type, an empty
    charset or one holding control characters or whitespace, a pattern without '#', more than
    100 random characters, or codes longer than 200 characters. INCENTIVES.md §1.2, §1.3.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidCodeConfig("code_config must be an object")
    charset = _text(raw, "charset", ALPHANUMERIC)
    prefix = _text(raw, "prefix", "")
    postfix = _text(raw, "postfix", "")
    length = _whole_number(raw, "length", minimum=1)
    pattern = raw.get("pattern")
    if pattern is None:
        length = 8 if length is None else length
        if length > MAX_RANDOM_CHARACTERS:
            raise InvalidCodeConfig(
                f"code_config.length must be at most {MAX_RANDOM_CHARACTERS}, got {length}"
            )
        pattern = "#" * length
    elif not isinstance(pattern, str):
        raise InvalidCodeConfig("code_config.pattern must be a string")
    holes = pattern.count("#")
    if holes == 0:
        raise InvalidCodeConfig("code_config.pattern must contain at least one '#'")
    if holes > MAX_RANDOM_CHARACTERS:
        raise InvalidCodeConfig(
            f"code_config.pattern must contain at most {MAX_RANDOM_CHARACTERS} '#', "
            f"it contains {holes}"
        )
    code_length = len(prefix) + len(pattern) + len(postfix)
    if code_length > MAX_CODE_LENGTH:
        raise InvalidCodeConfig(
            f"code_config.prefix, pattern and postfix make codes of {code_length} characters; "
            f"at most {MAX_CODE_LENGTH} are allowed"
        )
    _check_charset(charset)
    for field, text in (("prefix", prefix), ("pattern", pattern), ("postfix", postfix)):
        _check_literal(field, text)
    config: dict[str, Any] = {
        "pattern": pattern,
        "length": holes,
        "charset": charset,
        "prefix": prefix,
        "postfix": postfix,
    }
    initial_count = _whole_number(raw, "initial_count", minimum=0)
    if initial_count is not None:
        config["initial_count"] = initial_count
    return config


def capacity(config: Mapping[str, Any]) -> int:
    """How many distinct codes `config` can yield: distinct charset characters ** '#' count.

    `config` is a raw or effective `code_config`; raises InvalidCodeConfig as
    `effective_code_config` does. INCENTIVES.md §1.3.
    """
    return _Shape.of(config).capacity


def check_capacity(config: Mapping[str, Any], count: int) -> None:
    """Raise InvalidCodeConfig unless `config` can yield `count` distinct codes.

    The check counts all the codes the config can make, not those still free in the
    project: callers that generate codes also retry collisions with codes already stored.
    INCENTIVES.md §1.3.
    """
    _check_count(capacity(config), count)


def generate(config: Mapping[str, Any], count: int) -> list[str]:
    """`count` random codes made from `config`, distinct from each other.

    `config` is a raw or effective `code_config`. The codes are not checked against codes
    already stored: callers insert them and draw again for those that collide. Memory and
    time are proportional to `count`. Raises InvalidCodeConfig for a bad config or one that
    cannot yield `count` distinct codes, ValueError for a negative count.
    INCENTIVES.md §1.3.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    shape = _Shape.of(config)
    most = shape.capacity
    _check_count(most, count)
    if count * 2 > most:
        # Drawing until `count` distinct codes come up would take ever longer as `count`
        # nears the capacity; picking distinct numbers below the capacity never repeats.
        fills = [shape.fill_of(number) for number in _SYSTEM_RANDOM.sample(range(most), count)]
    else:
        distinct = dict.fromkeys(shape.random_fills(count))
        while len(distinct) < count:
            distinct.update(dict.fromkeys(shape.random_fills(count - len(distinct))))
        fills = list(distinct)
    return shape.render(fills)


def _check_count(most: int, count: int) -> None:
    if count > most:
        raise InvalidCodeConfig(
            f"code_config can yield at most {most} distinct codes, {count} were asked for"
        )


def _text(raw: Mapping[str, Any], field: str, default: str) -> str:
    value = raw.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidCodeConfig(f"code_config.{field} must be a string")
    return value


def _whole_number(raw: Mapping[str, Any], field: str, *, minimum: int) -> int | None:
    # The SDKs send numbers as JSON floats at times (`8.0`): an integral float is that integer.
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive whole number" if minimum > 0 else "a whole number, zero or more"
        raise InvalidCodeConfig(f"code_config.{field} must be {kind}, got {value!r}")
    return value


def _check_charset(charset: str) -> None:
    if not charset:
        raise InvalidCodeConfig("code_config.charset must not be empty")
    if len(charset) > MAX_CHARSET_LENGTH:
        raise InvalidCodeConfig(
            f"code_config.charset must have at most {MAX_CHARSET_LENGTH} characters, "
            f"it has {len(charset)}"
        )
    for char in charset:
        # Control, format, unassigned and separator characters are invisible or break
        # a code in transit: nobody could read such a code out, or type it in.
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            raise InvalidCodeConfig(
                "code_config.charset must not contain control characters or whitespace, "
                f"found U+{ord(char):04X}"
            )


def _check_literal(field: str, text: str) -> None:
    for char in text:
        # NUL cannot be stored in a PostgreSQL text, a lone surrogate cannot be encoded.
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidCodeConfig(
                f"code_config.{field} must not contain control characters, found U+{ord(char):04X}"
            )


@dataclass(frozen=True)
class _Shape:
    """What generating needs of an effective config."""

    prefix: str
    pattern: str
    postfix: str
    alphabet: str  # the charset's distinct characters: a repeated one is not more likely
    holes: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> _Shape:
        effective = effective_code_config(config)
        return cls(
            prefix=effective["prefix"],
            pattern=effective["pattern"],
            postfix=effective["postfix"],
            alphabet="".join(dict.fromkeys(effective["charset"])),
            holes=effective["length"],
        )

    @property
    def capacity(self) -> int:
        return int(len(self.alphabet) ** self.holes)  # typeshed: int ** int may be a float

    def random_fills(self, count: int) -> list[str]:
        """`count` random strings of `holes` characters, possibly repeated."""
        width = self.holes
        text = _random_text(self.alphabet, count * width)
        return [text[start : start + width] for start in range(0, count * width, width)]

    def fill_of(self, number: int) -> str:
        """The fill that is `number` (below the capacity) written in base len(alphabet)."""
        base = len(self.alphabet)
        chars = []
        for _ in range(self.holes):
            number, digit = divmod(number, base)
            chars.append(self.alphabet[digit])
        return "".join(chars)

    def render(self, fills: list[str]) -> list[str]:
        """The codes of `fills`: each fill's characters in the pattern's '#', in order."""
        prefix, postfix = self.prefix, self.postfix
        if self.pattern.count("#") == len(self.pattern):
            if prefix or postfix:
                return [prefix + fill + postfix for fill in fills]
            return fills
        template = (
            prefix.replace("%", "%%")
            + self.pattern.replace("%", "%%").replace("#", "%s")
            + postfix.replace("%", "%%")
        )
        return [template % tuple(fill) for fill in fills]


def _random_text(alphabet: str, length: int) -> str:
    """`length` characters of `alphabet`, each drawn alone from the CSPRNG, all equally likely."""
    if len(alphabet) > 256:
        # A byte cannot pick among more: draw each character on its own (slow, and rare).
        return "".join([alphabet[secrets.randbelow(len(alphabet))] for _ in range(length)])
    table, dropped, wide = _byte_tables(alphabet)
    # Bytes at or above the largest multiple of len(alphabet) are dropped (rejection
    # sampling), so that every character is equally likely; ask for enough bytes that one
    # draw almost always suffices.
    kept = 256 - len(dropped)
    chars = b""
    while len(chars) < length:
        missing = length - len(chars)
        asked = missing * 256 // kept + missing // 32 + 16
        chars += secrets.token_bytes(asked).translate(table, dropped)
    text = chars[:length].decode("latin-1")
    return text if wide is None else text.translate(wide)


@functools.lru_cache(maxsize=64)
def _byte_tables(alphabet: str) -> tuple[bytes, bytes, dict[int, str] | None]:
    """A byte → character table, the bytes to drop, and for characters past U+00FF the map
    from their index (the table's output) to them."""
    size = len(alphabet)
    dropped = bytes(range(256 - 256 % size, 256))
    if max(map(ord, alphabet)) < 256:
        return bytes(ord(alphabet[byte % size]) for byte in range(256)), dropped, None
    wide = dict(enumerate(alphabet))
    return bytes(byte % size for byte in range(256)), dropped, wide
