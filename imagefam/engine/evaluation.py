"""Evaluating compiled rules safely: a rule that cannot be evaluated fails closed.

A condition that is null (a value it needs is missing) or that raises counts as *fired*, with a
message that says it could not be evaluated: a deny rule then denies. Nothing is allowed silently.
A closure that raises leaves the context as it found it (closures restore ``it`` and ``args`` in
``finally`` blocks), so the next rule runs on the same context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..rules.ast import Severity
from ..rules.compiled import Rule
from ..rules.runtime import Context as Ctx


@dataclass
class Finding:
    """One fired rule: in a check step (violation/warning/note) or in a report."""

    rule: str
    severity: Severity
    message: str
    error_code: str | None = None
    cites: str | None = None
    evidence: list[tuple[str, str]] = field(default_factory=list)  # sub-condition -> value
    unevaluable: bool = False
    subject: dict[str, Any] = field(default_factory=dict)


def evaluate(rule: Rule, ctx: Ctx) -> Finding | None:
    """Run one rule; a Finding if it fires (or cannot be evaluated), else None."""
    try:
        verdict = rule.cond(ctx)
    except Exception as err:  # a bug in a builtin must not allow a step: fail closed
        return Finding(rule.id, rule.severity, f"rule {rule.id} could not be evaluated ({type(err).__name__}: {err})",
                       rule.code, rule.cites, unevaluable=True)
    if verdict is False:
        return None
    try:
        evidence = rule.explain(ctx)
    except Exception:
        evidence = []
    if verdict is None:
        nulls = ", ".join(text for text, value in evidence if value == "null")
        detail = f": null in {nulls}" if nulls else ""
        return Finding(rule.id, rule.severity,
                       f"rule {rule.id} could not be evaluated (a value it needs is null{detail}); "
                       f"failing closed", rule.code, rule.cites, evidence, unevaluable=True)
    try:
        message = rule.message(ctx)
    except Exception as err:
        message = f"rule {rule.id} fired (its message failed: {type(err).__name__})"
    return Finding(rule.id, rule.severity, message, rule.code, rule.cites, evidence)
