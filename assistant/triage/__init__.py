"""Nightly triage of closed, low-rated tickets: quick wins first, for a leader to fix
personally. `exports` reads helpdesk exports, `run` streams them through the assistant's
pipeline (`job`, or the Batch API in `batchapi`) with a `checkpoint`, `outputs` writes the
files, and `runs` serves runs over the API."""

from .batchapi import BatchFailed
from .exports import PRESETS, Preset, PresetName, RowProblem, Ticket, read_export, score_0_10
from .outputs import TriageRow
from .progress import Progress
from .run import TriageSummary, run_triage
from .runs import TriageRunInfo, TriageRuns
from .tonight import tonight

__all__ = ["PRESETS", "BatchFailed", "Preset", "PresetName", "RowProblem", "Progress", "Ticket",
           "TriageRow", "TriageRunInfo", "TriageRuns", "TriageSummary", "read_export", "tonight",
           "run_triage", "score_0_10"]
