"""Versioned prompt templates from `prompts/`: text lives in files, never in code.

A template's version is its declared `version` plus a hash of the file, so a response always
names the exact text that produced it, even when someone edited a file without bumping it."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

from .errors import InvalidInput


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    parts: dict[str, Template]

    def render(self, part: str, **values: object) -> str:
        """Fills `$name` slots; a missing value is a bug, so it raises instead of leaving `$x`."""
        return self.parts[part].substitute({k: str(v) for k, v in values.items()}).strip()


@lru_cache(maxsize=16)
def load_prompt(folder: Path, name: str) -> PromptTemplate:
    path = folder / f"{name}.toml"
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"prompt template {path} cannot be read: {exc}") from exc
    declared = data.pop("version", None)
    if not isinstance(declared, str) or not data:
        raise InvalidInput(f"prompt template {path} needs a `version` string and text parts")
    digest = hashlib.sha256(raw).hexdigest()[:8]
    parts = {key: Template(str(value)) for key, value in data.items()}
    return PromptTemplate(name=name, version=f"{declared}+{digest}", parts=parts)
