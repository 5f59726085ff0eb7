"""imagefam: pre-flight checks, explained resolution and compliance reports for ECS image families.

Python API (documented in docs/api.md)::

    import imagefam
    state = imagefam.load_state("state.json")
    plan = imagefam.load_plan("plan.yaml")
    result = imagefam.check(state, plan)          # .allowed, .to_json()
    image, trace = imagefam.resolve(state, "acs:1001:web", "cn-hangzhou", "1002")
"""

from __future__ import annotations

from .engine.loader import Plan, Step, load_plan, load_state
from .engine.models import Image
from .engine.parsing import InputError
from .engine.planformats import load_any_plan
from .engine.policy import load_policy
from .engine.preflight import CheckResult, check
from .engine.resolver import Trace, resolve
from .engine.state import State
from .rules.compiled import Policy
from .rules.errors import PolicyError

__all__ = [
    "CheckResult", "Image", "InputError", "Plan", "Policy", "PolicyError", "State", "Step", "Trace",
    "check", "load_any_plan", "load_plan", "load_policy", "load_state", "resolve",
]
__version__ = "0.1.0"
