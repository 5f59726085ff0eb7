"""The old name of :mod:`imagefam.engine.preflight` (the pre-flight check of a plan), kept so code
written against it, such as ``from imagefam.engine.checker import Session``, keeps working."""

from __future__ import annotations

from .preflight import COMMUNITY, CheckResult, FamilyChange, Session, StepResult, check

__all__ = ["COMMUNITY", "CheckResult", "FamilyChange", "Session", "StepResult", "check"]
