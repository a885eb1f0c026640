"""TOML files read into strict msgspec structs, with errors naming the file, the key and the problem.

Shared by the central's site file and the edge's device file: both may use
:mod:`broker`, neither may use the other.  ``site.toml: service[2].prefix: ...``
is what a technician reads when something is wrong.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TypeVar

import msgspec
from msgspec import Struct

from antre.broker.errors import ConfigurationError

T = TypeVar("T")
E = TypeVar("E", bound="FileConfigError")

_PATH_RE = re.compile(r"`\$\.?([^`]*)`")


class FileConfigError(ConfigurationError, ValueError):
    """An invalid configuration file: ``file: key: problem``."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


class StrictSection(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every config section: an unknown (misspelt) key is an error."""


def read_text(path: str | Path, error: type[E]) -> str:
    """The UTF-8 text of a config file, or ``error`` saying why it cannot be read."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), "", f"cannot read file: {exc}") from None


def parse_toml(text: str, cls: type[T], source: str, error: type[E]) -> T:
    """Parse TOML ``text`` into ``cls``; every problem becomes ``error(source, key, problem)``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "", f"not valid TOML: {exc}") from None
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as exc:
        raise _from_validation(source, exc, error) from None


def _from_validation(source: str, exc: msgspec.ValidationError, error: type[E]) -> E:
    text = str(exc)
    match = _PATH_RE.search(text)
    key = match.group(1) if match else ""
    problem = _PATH_RE.sub("", text).rstrip(" -")
    if problem.startswith("Object contains unknown field"):
        field_name = problem.rsplit("`", 2)[-2] if "`" in problem else problem
        problem = f"unknown key {field_name!r}"
    return error(source, key, problem[:1].lower() + problem[1:])
