"""Where the service keeps its rows: one schema (`schema.py`) and its connections."""

from .connect import open_engine
from .schema import Base, DraftRow, EventRow, GesturePolicyRow, KeyRow, TriageRunRow

__all__ = ["Base", "DraftRow", "EventRow", "GesturePolicyRow", "KeyRow", "TriageRunRow",
           "open_engine"]
