"""The LLM engine: transport to the model, the schemas it is held to, what its prompts carry,
and the engine that plugs into the pipeline's `label` and `compose` steps."""

from .engine import ENGINE, LLMEngine
from .prompting import as_data, history_block
from .schemas import LabelsOut, ReplyOut
from .transport import Caller, ChatCaller, LLMFailure, Out

__all__ = ["ENGINE", "Caller", "ChatCaller", "LLMEngine", "LLMFailure", "LabelsOut", "Out",
           "ReplyOut", "as_data", "history_block"]
