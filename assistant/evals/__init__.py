"""`recovery eval`: labelled complaints through the pipeline, scored. `lines` is the file
format, `runner` runs it, `metrics` scores it, `gates` checks and compares reports, `report`
writes them."""

from .gates import check_gates, compare, flatten, load_gates
from .lines import LABELS, EvalLine, read_eval_file
from .metrics import human_agreement, kappa_interval, label_metrics, quadratic_kappa
from .report import write_json, write_report
from .runner import run_eval

__all__ = ["LABELS", "EvalLine", "check_gates", "compare", "flatten", "human_agreement",
           "kappa_interval", "label_metrics", "load_gates", "quadratic_kappa", "read_eval_file",
           "run_eval", "write_json", "write_report"]
