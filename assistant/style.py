"""The style checks every reply runs (reply-style.md), whichever engine wrote it."""

from __future__ import annotations

import re

from .knowledge import Knowledge
from .language import detect
from .models import CheckResult, Gesture, Severity

_PLACEHOLDER = re.compile(r"\[[^\]]{1,40}\]|\{[^}]{0,40}\}|<[^>]{1,40}>|\bX{3,}\b|\bTODO\b")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_AMOUNT = re.compile(
    r"(?:[$€£]\s?(\d+(?:[.,]\d+)?))|(?:(\d+(?:[.,]\d+)?)\s?(?:%|kr|sek|dkk|nok|eur|euro|usd|\$|€|£))",
    re.IGNORECASE,
)


def words_of(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def run_checks(
    reply: str, language: str, severity: Severity, gesture: Gesture | None, knowledge: Knowledge
) -> dict[str, CheckResult]:
    """Each check says whether it passed and why; the caller decides what to do with a failure."""
    style = knowledge.style
    lowered = reply.lower()
    words = {w.lower() for w in _WORD.findall(reply)}
    cap = knowledge.policy.caps[severity]
    checks: dict[str, CheckResult] = {}

    count = word_count(reply)
    checks["length"] = CheckResult(
        passed=0 < count <= style.max_words, detail=f"{count} words (max {style.max_words})"
    )
    banned = [p for p in style.banned.get(language, []) if p in lowered]
    checks["banned_phrases"] = CheckResult(
        passed=not banned, detail=f"found: {banned}" if banned else "none found"
    )
    placeholders = _PLACEHOLDER.findall(reply)
    checks["placeholders"] = CheckResult(
        passed=not placeholders,
        detail=f"left in: {placeholders}" if placeholders else "none left",
    )
    pronouns = sorted(words & set(style.first_person.get(language, [])))
    checks["first_person"] = CheckResult(
        passed=bool(pronouns), detail=f"uses {pronouns}" if pronouns else "no first person singular"
    )
    questions = reply.count("?")
    checks["question"] = CheckResult(
        passed=questions == 1, detail=f"{questions} question mark(s); one real question wanted"
    )
    checks["policy_cap"] = _policy_check(lowered, language, cap, gesture, knowledge)
    found = detect(reply, default=language)
    checks["language"] = CheckResult(
        passed=found.code == language, detail=f"reply reads as {found.code}, wanted {language}"
    )
    return checks


def _policy_check(
    lowered: str, language: str, cap: float, gesture: Gesture | None, knowledge: Knowledge
) -> CheckResult:
    currency = knowledge.policy.currency
    if gesture and gesture.value > cap:
        return CheckResult(
            passed=False, detail=f"gesture worth {gesture.value} {currency} > cap {cap}"
        )
    style = knowledge.style
    if cap < style.full_refund_min_cap:
        promised = [p for p in style.full_refund.get(language, []) if p in lowered]
        if promised:
            return CheckResult(passed=False, detail=f"promises {promised} above the cap {cap}")
    money_words = style.money_words.get(language, [])
    if any(word in lowered for word in money_words):
        for match in _AMOUNT.finditer(lowered):
            raw = (match.group(1) or match.group(2)).replace(",", ".")
            amount = float(raw)
            is_percent = "%" in match.group(0)
            if (is_percent and amount > 50) or (not is_percent and amount > cap):
                return CheckResult(
                    passed=False, detail=f"promises {match.group(0)!r}, cap is {cap} {currency}"
                )
    value = f"{gesture.value:g} {currency}" if gesture else "no gesture"
    return CheckResult(passed=True, detail=f"{value} within cap {cap:g} {currency}")
