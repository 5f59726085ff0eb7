"""Pre-flight check of a plan: each step against the state the steps before it leave.

For each step, the action's rules run against a context holding the request, the image it
names, the caller and the current simulated images. A step with a deny finding is denied and
changes nothing; otherwise its effects apply (incrementally: indexes are updated, not rebuilt)
and every family whose resolution changed is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import progress
from ..rules.compiled import Policy
from . import consumers as cons
from .actions import ACTIONS, effects
from .environment import EcsContext as Ctx
from .evaluation import Finding, evaluate
from .loader import Plan, Step
from .models import (
    Consumer,
    CreateScalingConfigurationRequest,
    Image,
    ModifyScalingConfigurationRequest,
    ScalingConfiguration,
)
from .parsing import InputError
from .policy import load_policy
from .prune import in_reach
from .resolver import Resolver
from .simulate import Change, apply
from .state import State
from .unknowns import UnknownValues

#: Actions whose effects change images (and so may change what consumers launch from).
IMAGE_CHANGES = tuple(name for name, a in ACTIONS.items() if a.effect is not None)
#: The viewer of family_changes entries for "any other account": one that sees only public and
#: community images (no real account UID is "*").
COMMUNITY = "*"


@dataclass
class StepResult:
    step: Step
    violations: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    resolved_image_id: str | None = None
    created_image_id: str | None = None
    #: the consumers whose launch image this step changes, as the caller may see them
    consumers: list[Consumer] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.violations


@dataclass
class FamilyChange:
    step: int
    region: str
    family: str
    owner: str | None
    before: str | None
    after: str | None
    viewer: str | None = None
    #: the before or the after resolution was a tie on the newest CreationTime (ECS documents
    #: no tie rule, so the server's pick may differ)
    tie: bool = False


@dataclass
class CheckResult:
    steps: list[StepResult]
    family_changes: list[FamilyChange]
    plan_source: str = ""
    state_source: str = ""
    #: what a Terraform plan or script held that is not a checked call (None for a native plan)
    skipped: list[dict[str, Any]] | None = None

    @property
    def allowed(self) -> bool:
        return all(s.allowed for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        """The contract JSON of ``imagefam check --format json`` (plus compatible extra keys)."""
        return {
            "allowed": self.allowed,
            "steps": [{
                "index": s.step.index, "action": s.step.action, "caller": s.step.caller,
                "decision": "allow" if s.allowed else "deny",
                "violations": [{"rule": f.rule, "message": f.message, "error_code": f.error_code,
                                "evidence": dict(f.evidence)} for f in s.violations],
                "warnings": [{"rule": f.rule, "message": f.message} for f in s.warnings]
                + [{"rule": "unknown-parameter", "message": w} for w in s.step.warnings],
                "notes": [{"rule": f.rule, "message": f.message} for f in s.notes],
                "resolved_image_id": s.resolved_image_id,
                "created_image_id": s.created_image_id,
                "line": s.step.line,
                "consumers": cons.to_json(s.consumers),
                **({"source": s.step.source} if s.step.source is not None else {}),
            } for s in self.steps],
            "family_changes": [{
                "step": c.step, "region": c.region, "family": c.family, "owner": c.owner,
                "before": c.before, "after": c.after, "viewer": c.viewer, "tie": c.tie,
            } for c in self.family_changes],
            **({"skipped": self.skipped} if self.skipped is not None else {}),
        }


def _views(changes: list[Change]) -> set[tuple[str, str, str | None, str]]:
    """(region, raw family, owner, viewer) whose resolution a change may move."""
    out: set[tuple[str, str, str | None, str]] = set()
    for img in (i for pair in changes for i in pair if i is not None):
        if img.ImageFamily is None or img.ImageOwnerId is None:
            continue
        out.add((img.RegionId, img.ImageFamily, img.ImageOwnerId, img.ImageOwnerId))
    before, after = changes[0] if len(changes) == 1 else (None, None)
    if before is not None and after is not None and before.ImageFamily and before.ImageOwnerId:
        for account in set(before.SharedWith) ^ set(after.SharedWith):  # share changes move sharees
            out.add((before.RegionId, before.ImageFamily, before.ImageOwnerId, account))
    for img in (i for pair in changes for i in pair if i is not None):
        if img.ImageFamily and img.ImageOwnerId:
            for account in img.SharedWith:
                out.add((img.RegionId, img.ImageFamily, img.ImageOwnerId, account))
            if img.IsPublic:  # a community image: every other account sees the family
                out.add((img.RegionId, img.ImageFamily, img.ImageOwnerId, COMMUNITY))
    return out


def _name_for(family: str, owner: str | None, viewer: str) -> str:
    return family if viewer == owner else f"acs:{owner}:{family}"


class Session:
    """Checks API calls one at a time against a simulated copy of a state.

    Each :meth:`step` sees the state the allowed steps before it left; the given state is never
    modified (the session simulates on an overlay: changes recorded on the side, the snapshot
    neither copied nor touched, so it must not change while the session runs). ``check()`` is a
    loop over a session; pipelines that stream calls can use it directly.
    """

    def __init__(self, state: State, policy: Policy | None = None) -> None:
        self.policy = policy or load_policy()
        self.state = state.overlay()
        # memoized while the state stands still: a launch step's rules and its resolved_image_id
        # ask the same question; forgotten whenever the state changes
        self._resolver = (Resolver(self.policy, self.state.images, self.state.taken_at, memo=True,
                                   now=self.state.now)
                          if self.policy.resolution else None)
        self.resolve = self._resolver.image if self._resolver else None
        # answers about the state after a step, while its consumers are looked at (consumers.py)
        self._after_resolver = (Resolver(self.policy, self.state.images, self.state.taken_at, memo=True,
                                         now=self.state.now) if self._resolver is not None else None)
        self._looked_ahead = False
        # who can launch from an image by id: the policy's `visible` (asked only when there are consumers)
        self._visible = cons.policy_visible(self.policy) if self.state.consumers else None
        self.family_changes: list[FamilyChange] = []
        self._ctx = Ctx(self.state.images, taken_at=self.state.taken_at, now=self.state.now, resolve=self.resolve)

    def step(self, step: Step) -> StepResult:
        """Decide one call; apply its effects when allowed."""
        work, policy, resolve_fn = self.state, self.policy, self.resolve
        if self._resolver is not None:
            self._resolver.forget()  # the state may have been changed by the caller since
        result = StepResult(step)
        r = step.request
        ctx = self._ctx
        ctx.request = r
        ctx.image = work.images.get(getattr(r, "ImageId", None), getattr(r, "RegionId", None))
        ctx.caller, ctx.channel, ctx.action = step.caller, step.channel, step.action
        self._looked_ahead = False
        changes, affected, new_config = self._consumers(step)
        ctx.consumers = tuple(cons.caller_view(affected, step.caller)) if affected else ()
        unknown = UnknownValues(ctx, step) if step.unknown else None  # values known only after apply
        for rule in policy.by_action.get(step.action, ()):
            finding = evaluate(rule, ctx) if unknown is None else unknown.evaluate(rule)
            if finding is None:
                continue
            if rule.severity == "deny":
                result.violations.append(finding)
            elif rule.severity == "warn" or finding.unevaluable:
                result.warnings.append(finding)
            else:
                result.notes.append(finding)
        if unknown is not None and (needed := unknown.warning()) is not None:
            result.warnings.append(needed)
        family = getattr(r, "ImageFamily", None)
        if ACTIONS[step.action].launches and family and resolve_fn is not None and "ImageFamily" not in step.unknown:
            image = resolve_fn(family, getattr(r, "RegionId", "") or "", step.caller)
            result.resolved_image_id = image.ImageId if image else None
        if not result.allowed:
            result.notes = []  # notes describe effects, and a denied call has none
        else:
            result.consumers = [c for c in ctx.consumers if c.Before != c.After]
            if new_config is not None:
                work.consumers.put(new_config)
            if changes is None:
                changes = effects(work.images, step, work.at or work.taken_at)
            if changes:
                created = [after for before, after in changes if before is None and after is not None]
                if created:
                    result.created_image_id = created[0].ImageId
                self.family_changes += _apply(work, changes, step, resolve_fn, self._resolver,
                                              self._after_resolver if self._looked_ahead else None)
        return result


    def _consumers(self, step: Step) -> tuple[list[Change] | None, list[cons.Affected], ScalingConfiguration | None]:
        """The step's image changes (when computed early), the consumers it touches and, for an
        Auto Scaling call, the configuration it creates or modifies. Sets ``region`` and
        ``scaling_configuration`` for the rules."""
        work, ctx, r = self.state, self._ctx, step.request
        store = work.consumers
        ctx.region = ctx.scaling_configuration = None
        if isinstance(r, CreateScalingConfigurationRequest | ModifyScalingConfigurationRequest):
            return None, *self._scaling(step, r)
        if not store or step.unknown or step.action not in IMAGE_CHANGES:
            return None, [], None
        try:
            changes = effects(work.images, step, work.at or work.taken_at)
        except InputError:  # e.g. `creates` names an existing image: reported if the step is allowed
            return None, [], None
        # a step on an image the caller does not own is denied (owner-only) and changes nothing:
        # its consumers are not the caller's business
        if not changes or any(img is not None and img.ImageOwnerId != step.caller for pair in changes for img in pair):
            return changes, [], None
        after = self._after_resolver
        return changes, cons.image_impact(store, work.images, changes, self.resolve, self._apply_images,
                                          self._revert_images, self._launchable(), after.image if after else None), None

    def _apply_images(self, changes: list[Change]) -> None:
        """Apply a step's changes for a look at the state after it: the session's resolver keeps
        its answers (they hold again once reverted); the look-ahead resolver starts afresh."""
        apply(self.state.images, changes)
        self._looked_ahead = True  # the look-ahead resolver's answers are about the state after `changes`
        if self._after_resolver is not None:
            self._after_resolver.forget()

    def _revert_images(self, changes: list[Change]) -> None:
        apply(self.state.images, [(after, before) for before, after in reversed(changes)])

    def _scaling(self, step: Step, r: CreateScalingConfigurationRequest | ModifyScalingConfigurationRequest
                 ) -> tuple[list[cons.Affected], ScalingConfiguration | None]:
        store, ctx = self.state.consumers, self._ctx
        if isinstance(r, ModifyScalingConfigurationRequest):
            old = store.configs.get(r.ScalingConfigurationId)
            if old is not None and old.OwnerId != step.caller:
                old = None  # another account's configuration: the caller cannot name it
            ctx.region = step.region or (old.RegionId if old is not None else None)
            if old is None or old.RegionId != ctx.region:
                return [], None  # not in the state for this caller and region: rules say so
            ctx.scaling_configuration = old
            new = cons.modified(old, r)
            return (cons.config_impact(old, new, self.state.images, self.resolve, self._launchable())
                    if new != old else []), new
        ctx.region = step.region or store.group_region(r.ScalingGroupId)
        if ctx.region is None:
            return [], None
        new_id = step.creates or f"asc-imagefam-step{step.index}"
        if new_id in store.configs:
            raise InputError(f"step {step.index} ({step.action}): creates {new_id!r}, but a scaling configuration "
                             "with that id already exists")
        # a group's first configuration is its active one; a later one is created inactive
        state = "Active" if store.group_region(r.ScalingGroupId) is None else "Inactive"
        new = ScalingConfiguration(new_id, r.ScalingGroupId, ctx.region, step.caller,
                                   None if r.ImageId else (r.ImageFamily or None), r.ImageId or None,
                                   r.ImageName or None, state, r.ScalingConfigurationName)  # type: ignore[arg-type]
        return cons.config_impact(None, new, self.state.images, self.resolve, self._launchable()), new

    def _launchable(self) -> cons.Visible:
        """The policy's ``visible``, asked for on the first Auto Scaling step of a state without consumers."""
        if self._visible is None:
            self._visible = cons.policy_visible(self.policy)
        return self._visible


def check(state: State, plan: Plan, policy: Policy | None = None) -> CheckResult:
    """Check every step of ``plan`` against ``state`` (which is not modified). On a pruned state
    (:mod:`.prune`), a read of an image left out makes the check start again on every image."""
    return in_reach(state, lambda st: _check(st, plan, policy))


def _check(state: State, plan: Plan, policy: Policy | None) -> CheckResult:
    session = Session(state, policy)
    results = []
    for step in progress.track(plan.steps, "checking steps", unit="step"):
        try:
            results.append(session.step(step))
        except InputError as err:  # a step the state cannot take: name the plan file and line
            where = f"{plan.source}:{step.line}" if step.line else plan.source
            raise InputError(f"{where}: {err} (state {state.source})") from None
    return CheckResult(results, session.family_changes, plan.source, state.source, plan.skipped)


def _apply(work: State, changes: list[Change], step: Step, resolve_fn: Any,
           resolver: Resolver | None = None, after: Resolver | None = None) -> list[FamilyChange]:
    views = sorted(_views(changes), key=lambda v: (v[0], v[1], v[2] or "", v[3]))
    before: list[Image | None] = []
    tied_before: list[bool] = []
    if resolve_fn is not None:
        before = [resolve_fn(_name_for(f, o, v), reg, v) for reg, f, o, v in views]
        tied_before = [b is not None and resolver is not None and resolver.tie(_name_for(f, o, v), reg, v)
                       for (reg, f, o, v), b in zip(views, before, strict=True)]
    apply(work.images, changes)
    if resolver is not None:
        if after is not None:  # it answered about exactly this state: its answers hold
            resolver.adopt(after)
        else:
            resolver.forget()  # answers about the state before the change no longer hold
    out = []
    if resolve_fn is not None:
        for (reg, fam, owner, viewer), b, b_tie in zip(views, before, tied_before, strict=True):
            name = _name_for(fam, owner, viewer)
            a = resolve_fn(name, reg, viewer)
            b_id, a_id = (b.ImageId if b else None), (a.ImageId if a else None)
            if b_id != a_id:
                a_tie = a is not None and resolver is not None and resolver.tie(name, reg, viewer)
                out.append(FamilyChange(step.index, reg, name, owner, b_id, a_id, viewer, b_tie or a_tie))
    return out
