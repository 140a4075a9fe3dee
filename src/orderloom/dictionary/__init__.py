"""The atomic event dictionary: types, schemas, proofs, visibility and timers as data."""

from orderloom.dictionary.loader import check_file, load_dictionary
from orderloom.dictionary.model import Dictionary, EventType, RoleView, Timer

__all__ = ["Dictionary", "EventType", "RoleView", "Timer", "check_file", "load_dictionary"]
