"""Assessment: indicator profiles (YAML data) and the engine that evaluates them."""

from .engine import Evaluation, EventLike, Finding, evaluate, evaluate_on
from .profiles import BUILTIN_PROFILES, SIGNALS, Indicator, Profile, load_profile, parse_profile

__all__ = [
    "BUILTIN_PROFILES",
    "SIGNALS",
    "EventLike",
    "Evaluation",
    "Finding",
    "Indicator",
    "Profile",
    "evaluate",
    "evaluate_on",
    "load_profile",
    "parse_profile",
]
