"""Order monitors: stalls, missing steps, delivery-window risk and signal rules as configuration; findings as events."""

from orderloom.status.monitors.config import MonitorConfigError, check_file, load_monitors, paths_from_env
from orderloom.status.monitors.model import KINDS, Monitor, MonitorSet
from orderloom.status.monitors.views import list_findings

__all__ = [
    "KINDS",
    "Monitor",
    "MonitorConfigError",
    "MonitorSet",
    "check_file",
    "list_findings",
    "load_monitors",
    "paths_from_env",
]
