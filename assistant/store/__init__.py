"""Where the service keeps its rows: one schema (`schema.py`) and its connections."""

from .connect import as_utc, open_engine
from .schema import (
    Base,
    DraftRow,
    EventRow,
    GesturePolicyRow,
    KeyRow,
    LearnedRow,
    ThemeRunRow,
    TriageRunRow,
)

__all__ = ["Base", "as_utc", "DraftRow", "EventRow", "GesturePolicyRow", "KeyRow", "LearnedRow",
           "ThemeRunRow", "TriageRunRow", "open_engine"]
