"""Values not known until apply: a rule that needs one is reported unevaluable, never allowed silently.

A step read from a Terraform plan or a script may have request parameters whose value is only
known when the plan is applied (``(known after apply)``) or the script runs (``$IMAGE_ID``).
Their names are in ``Step.unknown``. Each rule of such a step is evaluated against a context that
records which of them it *reads*: the parameters themselves and, when ``ImageId`` or ``RegionId``
is unknown, the image they name. A rule that read none of them was decided without them, and its
outcome stands. A rule that read one is reported as unevaluable: a deny rule denies (it fails
closed), a warn or info rule becomes a warning. The step then carries one ``not-known-until-apply``
warning naming the parameters and where each comes from.
"""

from __future__ import annotations

from typing import Any

from ..rules.compiled import Rule
from .environment import EcsContext as Ctx
from .evaluation import Finding, evaluate
from .loader import Step

RULE = "not-known-until-apply"
_IMAGE_KEYS = ("ImageId", "RegionId")


class _Request:
    """The request as rules see it: reading an unknown parameter is recorded and gives null."""

    __slots__ = ("_read", "_req", "_unknown")

    def __init__(self, req: Any, unknown: dict[str, str], read: set[str]) -> None:
        self._req, self._unknown, self._read = req, unknown, read

    def __getattr__(self, name: str) -> Any:
        if name in self._unknown:
            self._read.add(name)
            return None
        return getattr(self._req, name)


class _TrackingCtx(Ctx):
    """A context whose ``image`` records a read when the image depends on an unknown value."""

    __slots__ = ("_image", "_image_deps", "read")
    _image: Any
    _image_deps: tuple[str, ...]
    read: set[str]

    def _get_image(self) -> Any:
        if self._image_deps:
            self.read.update(self._image_deps)
        return self._image

    def _set_image(self, value: Any) -> None:
        self._image = value

    image = property(_get_image, _set_image)


class UnknownValues:
    """Evaluates the rules of one step whose request has values not known until apply."""

    def __init__(self, base: Ctx, step: Step) -> None:
        self.step = step
        self.needed: dict[str, list[str]] = {}  # parameter -> rules that needed it
        ctx = _TrackingCtx(base.images, caller=base.caller, channel=base.channel, action=base.action,
                           taken_at=base.taken_at, now=base.now, resolve=base.resolve)
        ctx.read = set()
        deps = [k for k in _IMAGE_KEYS if k in step.unknown]
        ctx._image_deps = tuple(deps)
        ctx.image = None if deps else base.image
        ctx.request = _Request(step.request, step.unknown, ctx.read)
        self.ctx = ctx

    def evaluate(self, rule: Rule) -> Finding | None:
        ctx = self.ctx
        ctx.read.clear()
        finding = evaluate(rule, ctx)
        read = sorted(ctx.read)
        if not read:
            return finding  # decided without the unknown values: the outcome stands
        for name in read:
            self.needed.setdefault(name, []).append(rule.id)
        what = ", ".join(f"{name} ({self.step.unknown[name]})" for name in read)
        tail = "failing closed" if rule.severity == "deny" else "it may or may not apply"
        return Finding(rule.id, rule.severity,
                       f"rule {rule.id} could not be evaluated: {what} not known until apply; {tail}",
                       rule.code, rule.cites, [(f"request.{n}", "not known until apply") for n in read],
                       unevaluable=True)

    def warning(self) -> Finding | None:
        """The step's ``not-known-until-apply`` warning, when a rule needed an unknown value."""
        if not self.needed:
            return None
        parts = [f"{name} ({self.step.unknown[name]}), needed by {', '.join(rules)}"
                 for name, rules in sorted(self.needed.items())]
        return Finding(RULE, "warn", "not known until apply: " + "; ".join(parts))
