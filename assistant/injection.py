"""Prompt-injection signs in customer text: words addressed to the model, not to us.

Customer text is data to both engines; the LLM sees it between tags it cannot close. This
module only notices attempts, so that the labels stay at least as strict as the offline
engine's and the reviewer is told. The patterns live in `knowledge/injection.toml`."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

from .models import Recall

_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACED = re.compile(r"\b(?:\w(?:[.\-_*]| +)){3,}\w\b")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i"})


def _views(text: str) -> list[tuple[str, str]]:
    """The text as written and as an attacker may have disguised it, each with its name."""
    raw = unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text))
    plain = " ".join(raw.split())
    views = [("text", plain)]
    # Letters spaced out one by one; a wider gap is a word break ("i g n o r e   t h e").
    joined = " ".join(_SPACED.sub(lambda m: re.sub(r"[.\-_*]| (?! )", "", m.group(0)),
                                  raw).split())
    if joined != plain:
        views.append(("spaced-out letters", joined))
    leet = plain.translate(_LEET)
    if leet != plain:
        views.append(("leetspeak", leet))
    for token in _BASE64.findall(plain):
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_"
                                       if "-" in token or "_" in token else None,
                                       validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable():
            views.append(("base64", decoded))
    views.append(("rot13", codecs.decode(plain, "rot13")))
    return views


def injection_signs(text: str, pattern: re.Pattern[str]) -> list[str]:
    """What reads like an instruction to the model, e.g. 'base64: "ignore the rules"'."""
    signs = []
    for name, view in _views(text):
        match = pattern.search(view)
        if match:
            found = f'"{match.group(0).strip()}"'
            signs.append(found if name == "text" else f"{name}: {found}")
    return list(dict.fromkeys(signs))


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def without_instructions(text: str, pattern: re.Pattern[str]) -> str | None:
    """The complaint without its sentences that read like instructions to the model, so
    that the offline engine can read the customer's own words; None when no sentence does
    (or nothing else is left)."""
    if not injection_signs(text, pattern):  # the usual case: one check, not one a sentence
        return None
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    kept = [s for s in sentences if not injection_signs(s, pattern)]
    return " ".join(kept) if kept and len(kept) < len(sentences) else None


def warnings_for(text: str, recall: Recall | None, pattern: re.Pattern[str]) -> list[str]:
    """The reviewer's warnings: signs in the complaint and in the history items recalled."""
    found = [f"the complaint reads like instructions to the model: {sign}"
             for sign in injection_signs(text, pattern)]
    items = [*recall.items, *recall.facts.earlier_failures, *recall.facts.gestures_given,
             *recall.facts.preferences] if recall else []
    for item in {item.id: item for item in items}.values():
        found += [f"history item {item.id} reads like instructions to the model: {sign}"
                  for sign in injection_signs(item.text, pattern)]
    return found
