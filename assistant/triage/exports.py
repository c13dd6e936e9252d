"""Helpdesk exports: presets that name the columns and rating scale of real exports, and a
streamed reader that turns each row into a ticket or a reported problem, never a failure."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import InvalidInput
from ..models import CUSTOMER_ID_PATTERN
from ..reading import as_text
from .rows import rows, sniff

Scale = Literal["0-10", "1-5", "good-bad", "happy-neutral-unhappy"]
_WORDS = {"good": 10.0, "bad": 0.0, "happy": 10.0, "neutral": 5.0, "unhappy": 0.0}

@dataclass(frozen=True)
class Preset:
    """Where an export keeps each field (first column present wins; dots reach into JSON) and
    which satisfaction scale it uses."""

    id: tuple[str, ...]
    text: tuple[str, ...]
    customer: tuple[str, ...]
    csat: tuple[str, ...]
    closed: tuple[str, ...]
    channel: tuple[str, ...]
    subject: tuple[str, ...]
    scale: Scale


PresetName = Literal["generic", "zendesk", "freshdesk", "intercom"]  # the keys of PRESETS
PRESETS: dict[str, Preset] = {
    # Zendesk: ticket CSV export, or tickets from the (incremental) ticket API as JSONL.
    # Satisfaction is good / bad ("offered" / "unoffered" = no rating).
    "zendesk": Preset(
        id=("id", "Id", "ID"), text=("description", "Description"),
        customer=("requester_id", "Requester id", "Requester ID", "Requester"),
        csat=("satisfaction_rating.score", "Satisfaction Score", "satisfaction_score"),
        closed=("solved_at", "Solved at", "updated_at"), channel=("via.channel", "Via"),
        subject=("subject", "Subject"), scale="good-bad"),
    # Freshdesk: tickets from the API (description_text) joined with satisfaction ratings,
    # or its CSV export. The default survey is happy / neutral / unhappy.
    "freshdesk": Preset(
        id=("id", "Ticket ID", "ticket_id"), text=("description_text", "Description"),
        customer=("requester_id", "Contact ID", "Requester ID", "email"),
        csat=("satisfaction_rating", "Satisfaction Rating", "rating", "Survey Result"),
        closed=("closed_at", "Closed time", "Resolved time"), channel=("source", "Source"),
        subject=("subject", "Subject"), scale="happy-neutral-unhappy"),
    # Intercom: conversations from the API (source.body, conversation_rating.rating 1-5) or a
    # conversation export CSV.
    "intercom": Preset(
        id=("id", "conversation_id", "Conversation ID"),
        text=("source.body", "message_body", "Conversation body", "body"),
        customer=("contacts.contacts.0.id", "user_id", "message_author_user_id", "User ID"),
        csat=("conversation_rating.rating", "conversation_rating", "Conversation rating",
              "rating"),
        closed=("conversation_closed_at", "statistics.last_close_at", "Closed at"),
        channel=("source.type", "source.delivered_as", "Channel"),
        subject=("source.subject", "Subject"), scale="1-5"),
    # Our own plain format (PRODUCT.md): ticket_id, text, customer_id, csat 0-10.
    "generic": Preset(
        id=("ticket_id", "id"), text=("text", "complaint", "description"),
        customer=("customer_id", "customer"), csat=("csat", "satisfaction", "score"),
        closed=("closed_at", "closed"), channel=("channel",), subject=("subject",),
        scale="0-10"),
}


class Ticket(BaseModel):
    id: str
    text: str
    customer_id: str | None = None
    csat: float | None = None
    closed_at: str | None = None
    channel: str | None = None


class RowProblem(BaseModel):
    """A row that could not be used, and why: reported, never fatal."""

    row: int
    ticket_id: str | None
    problem: str


def score_0_10(raw: Any, scale: Scale) -> float | None:
    """A satisfaction score on 0-10 (None when the row has no rating)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if scale in {"good-bad", "happy-neutral-unhappy"}:
        word = str(raw).strip().lower()
        if word in {"offered", "unoffered", "none", ""}:
            return None
        if word not in _WORDS:
            raise ValueError(f"rating {raw!r} is not one of good/bad/happy/neutral/unhappy")
        return _WORDS[word]
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"rating {raw!r} is not a number on the {scale} scale") from None
    low, high = (1.0, 5.0) if scale == "1-5" else (0.0, 10.0)
    if not low <= value <= high:
        raise ValueError(f"rating {raw!r} is outside the {scale} scale")
    return (value - 1) * 2.5 if scale == "1-5" else value


def _field(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value: Any = row
        for part in name.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
            if value is None:
                break
        if value not in (None, ""):
            return value
    return None


def read_export(
    path: Path, preset: Preset, problems: list[RowProblem]
) -> Iterator[Ticket]:
    """Tickets from an export, in file order; unusable rows land in `problems` with their line
    number and what to fix (never a customer field's value)."""
    if not path.is_file():
        raise InvalidInput(f"no such export file: {path}")
    seen: set[str] = set()
    for number, row, problem in rows(path, sniff(path)):
        if row is None:
            problems.append(RowProblem(row=number, ticket_id=None,
                                       problem=problem or "unreadable"))
            continue
        raw_id = _field(row, preset.id)
        ticket_id = _clean(str(raw_id)) if raw_id is not None else ""
        if not ticket_id:
            problems.append(RowProblem(row=number, ticket_id=None, problem="no ticket id"))
            continue
        if len(ticket_id) > _MAX_ID:
            problems.append(RowProblem(row=number, ticket_id=None, problem=(
                f"the ticket id is {len(ticket_id)} characters; at most {_MAX_ID}")))
            continue
        if ticket_id in seen:
            problems.append(RowProblem(row=number, ticket_id=ticket_id, problem="duplicate id"))
            continue
        seen.add(ticket_id)
        text = _clean(as_text(str(_field(row, preset.text) or "")))
        subject = _clean(as_text(str(_field(row, preset.subject) or "")))
        if _broken(text) or _broken(subject):
            problems.append(RowProblem(row=number, ticket_id=ticket_id,
                                       problem="text is not valid in the file's encoding"))
            continue
        if not text and not subject:
            problems.append(RowProblem(row=number, ticket_id=ticket_id, problem="no text"))
            continue
        try:
            csat = score_0_10(_field(row, preset.csat), preset.scale)
        except ValueError as exc:
            problems.append(RowProblem(row=number, ticket_id=ticket_id, problem=str(exc)))
            continue
        customer = _customer(_field(row, preset.customer))
        if customer is _NOT_AN_ID:
            customer = None
            problems.append(RowProblem(row=number, ticket_id=ticket_id, problem=(
                "the customer column holds no id (at most 128 letters, digits and . _ @ : + -; "
                "a name is not one): triaged without the customer's history; choose the id "
                "column with --customer-column")))
        yield Ticket(
            id=ticket_id, text=f"{subject}. {text}" if subject and text else text or subject,
            customer_id=customer, csat=csat,
            closed_at=_str_or_none(_field(row, preset.closed)),
            channel=_str_or_none(_field(row, preset.channel)),
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else _clean(str(value))[:200] or None


_MAX_ID = 128
_NOT_AN_ID = "\x00"
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: str) -> str:
    """Control characters (a NUL in an id, say) carry nothing and break databases."""
    return _CONTROLS.sub("", value).strip()


def _customer(raw: Any) -> str | None:
    if raw is None:
        return None
    value = _clean(str(raw))
    if not value:
        return None
    return value if len(value) <= _MAX_ID and _CUSTOMER_ID.match(value) else _NOT_AN_ID


def _broken(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)
