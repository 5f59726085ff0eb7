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
    from .engine.checker import CheckResult, check
    from .engine.loader import Plan, Step, load_plan, load_state
    from .engine.models import Image
    from .engine.planformats import load_any_plan
    from .engine.resolver import Trace, resolve
    from .engine.state import State
    from .rules.errors import InputError, PolicyError
    from .rules.policy import Policy, load_policy

_WHERE = {
    "CheckResult": ".engine.checker", "check": ".engine.checker",
    "Plan": ".engine.loader", "Step": ".engine.loader", "load_plan": ".engine.loader",
    "load_state": ".engine.loader", "Image": ".engine.models", "load_any_plan": ".engine.planformats",
    "Trace": ".engine.resolver", "resolve": ".engine.resolver", "State": ".engine.state",
    "InputError": ".rules.errors", "PolicyError": ".rules.errors",
    "Policy": ".rules.policy", "load_policy": ".rules.policy",
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
