"""A triage run's checkpoint: one SQLite file in the output folder, with the run's arguments,
the tickets done with their vectors, and the tickets waiting on the Batch API."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class CheckpointBase(DeclarativeBase):
    pass


class RunRow(CheckpointBase):
    __tablename__ = "triage_run"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    arguments: Mapped[str] = mapped_column(Text)


class TicketRow(CheckpointBase):
    __tablename__ = "triage_ticket"
    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(Text)
    # The labels and recall behind the row (`Labelled`), so that tonight's list can be
    # drafted after every ticket is ranked, without asking the model again.
    labelled: Mapped[str] = mapped_column(Text)


class VectorRow(CheckpointBase):
    """A ticket's e5 vector (float16), kept for the themes at the end of the run."""

    __tablename__ = "triage_vector"
    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class PendingRow(CheckpointBase):
    """A ticket waiting on the Batch API: its offline pass, and the labels once they come."""

    __tablename__ = "triage_pending"
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(Text)


class BatchRow(CheckpointBase):
    __tablename__ = "triage_batch"
    batch_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    merged: Mapped[bool] = mapped_column(Boolean, default=False)
