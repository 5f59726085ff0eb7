"""Family resolution: the resolution policy's candidates, requirements and order, plus the trace.

One implementation serves the resolver (``imagefam resolve``), the checker (``resolved_image_id``,
``family_changes``) and rules (the ``resolve()`` builtin). Candidates come from an index lookup;
each is tested against the named requirements in policy order, and the first it fails is
recorded with the policy's ``otherwise`` reason. Only the trace costs extra, and only when asked.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..rules.compiled import Policy, Resolution
from ..rules.runtime import format_time
from .environment import EcsContext as Ctx
from .models import Image
from .parsing import InputError
from .state import State
from .store import Images

#: What resolution made of a candidate: the image chosen, one that also qualifies, or one a
#: requirement excludes.
Verdict = Literal["chosen", "eligible", "excluded"]


@dataclass
class Candidate:
    image: Image
    verdict: Verdict
    requirement: str | None
    reason: str


@dataclass
class Trace:
    family: str
    region: str
    caller: str
    image: Image | None
    candidates: list[Candidate] = field(default_factory=list)
    tie: bool = False
    order: str = ""
    requirements: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "image_id": self.image.ImageId if self.image else None,
            "family": self.family, "region": self.region, "caller": self.caller,
            "candidates": [{
                "image_id": c.image.ImageId, "creation_time": format_time(c.image.CreationTime),
                "status": c.image.Status, "verdict": c.verdict, "requirement": c.requirement,
                "reason": c.reason,
            } for c in self.candidates],
            "tie": self.tie,
            "order": self.order,
        }


def _sort(items: list[Image], res: Resolution, ctx: Ctx) -> list[Image]:
    keyed = []
    for img in items:
        ctx.it = img
        keyed.append((img, [k(ctx) for k, _, _ in res.order]))
    for i in range(len(res.order) - 1, -1, -1):  # stable sort, last key first
        keyed.sort(key=_key_at(i), reverse=res.order[i][1])
    ctx.it = None
    return [img for img, _ in keyed]


def _key_at(i: int) -> Callable[[tuple[Image, list[Any]]], tuple[bool, Any]]:
    def key(pair: tuple[Image, list[Any]]) -> tuple[bool, Any]:
        return (pair[1][i] is not None, pair[1][i])

    return key


class Resolver:
    """Resolves families over an image store with one policy's resolution rules."""

    def __init__(self, policy: Policy, images: Images, taken_at: Any = None, *, memo: bool = False,
                 now: Any = None) -> None:
        """``memo``: remember answers while the state does not change; whoever changes the state
        calls :meth:`forget` (a report never does; a check session does after each change).
        ``now``: what rules see as ``now`` (:attr:`State.now`)."""
        if policy.resolution is None:
            raise InputError("the policy has no 'resolve' block: nothing says how families resolve")
        self.res = policy.resolution
        self.images = images
        self.taken_at = taken_at
        self.now = now
        self._memo: dict[tuple[str, str, str], Image | None] | None = {} if memo else None
        fields = self.res.order_fields
        # stable sorts, last key first, each with its own direction: the same order as the trace's
        self._order_getters = ([(operator.attrgetter(f), desc) for f, desc in reversed(fields)]
                               if fields else None)
        # requirements `Field == constant`: candidates failing them are dropped in C before ranking
        tested = {name for name, _, _ in self.res.field_tests}
        self._keep = [(operator.attrgetter(f), functools.partial(operator.eq, k)) for _, f, k in self.res.field_tests]
        self._rest = [req for req in self.res.requirements if req.name not in tested]

    def _ctx(self, family: str, region: str, caller: str) -> Ctx:
        return Ctx(self.images, family=family, region=region, caller=caller, taken_at=self.taken_at,
                   now=self.now, resolve=self.image)

    def forget(self) -> None:
        """Drop remembered answers (the state changed)."""
        if self._memo is not None:
            self._memo.clear()

    def adopt(self, other: Resolver) -> None:
        """Take ``other``'s remembered answers (it resolved over this store as it stands now)."""
        if self._memo is not None:
            self._memo = dict(other._memo) if other._memo is not None else {}

    def image(self, family: str, region: str, caller: str) -> Image | None:
        """The image ``family`` resolves to for ``caller`` in ``region`` (no trace)."""
        if self._memo is not None:
            key = (family, region, caller)
            if key in self._memo:
                return self._memo[key]
            self._memo[key] = found = self._image(family, region, caller)
            return found
        return self._image(family, region, caller)

    def _image(self, family: str, region: str, caller: str) -> Image | None:
        ctx = self._ctx(family, region, caller)
        cands = (self.res.shortlist or self.res.candidates)(ctx)
        if not cands:
            return None
        if self._order_getters is not None:  # rank first (in C), then the first that qualifies wins
            ranked = list(cands)
            for get, equal in self._keep:
                ranked = list(itertools.compress(ranked, map(equal, map(get, ranked))))
            for getter, desc in self._order_getters:
                ranked.sort(key=getter, reverse=desc)
            reqs = self._rest
            for img in ranked:
                ctx.it = img
                if all(req.cond(ctx) is True for req in reqs):
                    ctx.it = None
                    return img  # type: ignore[no-any-return]
            ctx.it = None
            return None
        eligible = []
        for img in cands:
            ctx.it = img
            if all(req.cond(ctx) is True for req in self.res.requirements):
                eligible.append(img)
        if not eligible:
            return None
        if len(eligible) == 1:
            return eligible[0]  # type: ignore[no-any-return]
        return _sort(eligible, self.res, ctx)[0]

    def tie(self, family: str, region: str, caller: str) -> bool:
        """Whether another eligible image ties with the chosen one on the first order key (as the
        trace's ``tie``, without building a trace: only candidates with the same key are tested)."""
        chosen = self.image(family, region, caller)
        if chosen is None or not self.res.order:
            return False
        ctx = self._ctx(family, region, caller)
        cands = (self.res.shortlist or self.res.candidates)(ctx) or ()
        if self.res.order_fields:  # a plain field: compare in C first
            get = operator.attrgetter(self.res.order_fields[0][0])
            top = get(chosen)
            cands = [img for img in cands if img is not chosen and get(img) == top]
        else:
            key = self.res.order[0][0]
            ctx.it = chosen
            top = key(ctx)
            same = []
            for img in cands:
                ctx.it = img
                if img is not chosen and key(ctx) == top:
                    same.append(img)
            cands = same
        reqs = self.res.requirements
        for img in cands:
            ctx.it = img
            if all(req.cond(ctx) is True for req in reqs):
                ctx.it = None
                return True
        ctx.it = None
        return False

    def trace(self, family: str, region: str, caller: str) -> Trace:
        """The resolution with a verdict and a reason for every candidate."""
        ctx = self._ctx(family, region, caller)
        res = self.res
        trace = Trace(family, region, caller, None, order=res.order_text,
                      requirements=[r.name for r in res.requirements])
        cands = res.candidates(ctx)
        if cands is None:
            return trace
        eligible: list[Image] = []
        excluded: list[Candidate] = []
        for img in cands:
            ctx.it = img
            for req in res.requirements:
                v = req.cond(ctx)
                if v is not True:
                    if v is None:
                        why = f"could not be evaluated (a value it needs is null): {req.text}"
                    else:
                        why = req.otherwise(ctx) if req.otherwise else f"fails {req.text}"
                    excluded.append(Candidate(img, "excluded", req.name, why))
                    break
            else:
                eligible.append(img)
        ranked = _sort(eligible, res, ctx)
        excluded_sorted = _sort([c.image for c in excluded], res, ctx)
        by_image = {id(c.image): c for c in excluded}
        if ranked:
            chosen = ranked[0]
            trace.image = chosen
            first_key = res.order[0][0] if res.order else None
            ctx.it = chosen
            top = first_key(ctx) if first_key else None
            met = ", ".join(trace.requirements)
            trace.candidates.append(Candidate(chosen, "chosen", None,
                                              f"meets {met}; first by {res.order_text}"))
            for img in ranked[1:]:
                ctx.it = img
                tied = first_key is not None and first_key(ctx) == top
                trace.tie = trace.tie or tied
                why = (f"tied with {chosen.ImageId} on {res.order[0][2]}, placed after it by "
                       f"the tie-break ({res.order_text})" if tied else
                       f"meets every requirement, but ranks after {chosen.ImageId} by {res.order_text}")
                trace.candidates.append(Candidate(img, "eligible", None, why))
        trace.candidates.extend(by_image[id(img)] for img in excluded_sorted)
        ctx.it = None
        return trace


def resolve(state: State, family: str, region: str, caller: str,
            policy: Policy | None = None) -> tuple[Image | None, Trace]:
    """The image ``family`` resolves to for ``caller`` in ``region``, and the trace explaining it."""
    from .policy import load_policy

    trace = Resolver(policy or load_policy(), state.images, state.taken_at, now=state.now).trace(family, region, caller)
    return trace.image, trace

