"""Registers the engine's pydantic models as the record types rules are checked against."""

from __future__ import annotations

from ..engine.models import ACTIONS, AUDIT_SCOPES, Consumer, Instance, ScalingConfiguration
from .types import Ty, record, register_record

for _name, _cls in AUDIT_SCOPES.items():
    register_record(_cls.__name__, _cls)
for _cls in (Consumer, ScalingConfiguration, Instance):
    register_record(_cls.__name__, _cls)
for _action, _cls in ACTIONS.items():
    register_record(_cls.__name__, _cls)

CHANNEL = Ty("enum", values=("api", "console"))


def request_type(action: str) -> Ty:
    return record(ACTIONS[action].__name__)


def scope_type(scope: str) -> Ty:
    return record(AUDIT_SCOPES[scope].__name__)
