"""imagefam: pre-flight checks, explained resolution and compliance reports for ECS image families.

Python API (documented in docs/api.md)::

    import imagefam
    state = imagefam.load_state("state.json")
    plan = imagefam.load_plan("plan.yaml")
    result = imagefam.check(state, plan)          # .allowed, .to_json()
    image, trace = imagefam.resolve(state, "acs:1001:web", "cn-hangzhou", "1002")

The names below are imported on first use: ``import imagefam`` (and every ``imagefam``
command, which imports this package first) loads only what it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "Plan": ".engine.loader", "Step": ".engine.loader", "load_plan": ".engine.loader",
    "load_state": ".engine.loader", "Image": ".engine.models", "InputError": ".engine.parsing",
    "load_any_plan": ".engine.planformats", "load_policy": ".engine.policy",
    "CheckResult": ".engine.preflight", "check": ".engine.preflight",
    "Trace": ".engine.resolver", "resolve": ".engine.resolver", "State": ".engine.state",
    "Policy": ".rules.compiled", "PolicyError": ".rules.errors",
}

__all__ = [
    "CheckResult", "Image", "InputError", "Plan", "Policy", "PolicyError", "State", "Step", "Trace",
    "check", "load_any_plan", "load_plan", "load_policy", "load_state", "resolve",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'imagefam' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
