"""The ECS environment of the rule language: what rules about ECS images can name.

Record types are the models of :mod:`.models`; each action of :data:`.actions.ACTIONS` is a target
whose rules see its ``request`` (and ``image`` when the request names one), the ``caller`` and the
``channel``; each audit scope (``image``, ``family``, ``account``) is a target whose rules see that
one subject; a ``resolve`` block sees ``family``, ``region`` and ``caller``; every expression sees
``images`` (the state, indexed) and ``taken_at``. ``resolve(family, region, caller)`` is a host
function: the context's ``resolve`` attribute implements it (a :class:`~.resolver.Resolver`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..rules.builtins import host_function
from ..rules.environment import Environment, ResolutionScope, Target
from ..rules.runtime import Context, IndexedCollection
from ..rules.types import STRING, TIME, Ty, list_of, record
from .actions import ACTIONS
from .models import AUDIT_SCOPES, CHANNELS, Account, Family, Image

CHANNEL = Ty("enum", values=CHANNELS)
#: The record types rules can name, besides each action's request.
RECORDS: tuple[type, ...] = (Image, Family, Account)


class EcsContext(Context):
    """The names an ECS rule can see. A check session sets ``request``, ``image``, ``caller``,
    ``channel`` and ``action`` per step; a report sets one audit scope per subject."""

    __slots__ = ("account", "action", "caller", "channel", "family", "image", "images", "region", "request",
                 "resolve", "taken_at")

    def __init__(self, images: IndexedCollection | tuple[Any, ...] = (), *, request: Any = None, image: Any = None,
                 caller: Any = None, channel: Any = None, action: Any = None, family: Any = None,
                 region: Any = None, account: Any = None, taken_at: Any = None,
                 resolve: Callable[[str, str, str], Any] | None = None) -> None:
        self.images = images
        self.request = request
        self.image = image
        self.caller = caller
        self.channel = channel
        self.action = action
        self.family = family
        self.region = region
        self.account = account
        self.taken_at = taken_at
        self.it: Any = None
        self.args: tuple[Any, ...] = ()
        self.resolve = resolve


def _action_target(action: str) -> Target:
    model = ACTIONS[action].request
    req = record(model.__name__)
    variables: dict[str, Ty] = {"request": req, "caller": STRING, "channel": CHANNEL}
    unavailable = {"family": "it is an audit scope", "account": "it is an audit scope",
                   "region": "write request.RegionId"}
    if "ImageId" in model.model_fields:
        variables["image"] = record("Image").opt()
    else:
        unavailable["image"] = f"the {action} request names no image (it has no ImageId)"
    return Target(action, variables, unavailable)


def _audit_target(scope: str) -> Target:
    why = "audit rules run over a snapshot, not a request"
    unavailable = {n: why for n in ("request", "caller", "channel", "action")}
    for other in AUDIT_SCOPES:
        if other != scope:
            unavailable.setdefault(other, f"this rule runs for each {scope}")
    return Target(scope, {scope: record(AUDIT_SCOPES[scope].__name__)}, unavailable)


RESOLVE = host_function(
    "resolve", [("family", STRING), ("region", STRING), ("caller", STRING)], record("Image").opt(),
    "resolve(family, region, caller) -> Image?: the image the family resolves to", uses_resolution=True)


def _build() -> Environment:
    from ..rules.types import RecordTypes

    classes = {cls.__name__: cls for cls in (*RECORDS, *(a.request for a in ACTIONS.values()))}
    env = Environment(
        records=RecordTypes(classes),
        globals={"images": list_of(record(Image.__name__)), "taken_at": TIME.opt()},
        actions={a: _action_target(a) for a in ACTIONS},
        audits={s: _audit_target(s) for s in AUDIT_SCOPES},
        resolution=ResolutionScope({"family": STRING, "region": STRING, "caller": STRING}, Image.__name__,
                                   {"request": "resolution sees family, region, caller",
                                    "image": "write it (the candidate)"}),
        context=EcsContext,
        host_functions={RESOLVE.name: RESOLVE},
        indexed=frozenset({"images"}),
        display_fields=("ImageId",),
        subject=("image", Image.__name__),
    )
    env.check()
    return env


#: The environment every ECS policy is loaded against.
ECS = _build()
#: A value as message text, as rules' messages show it (images by their ImageId).
format_value = ECS.format_value


def request_type(action: str) -> Ty:
    """The record type of an action's request (what ``request`` is in a rule on it)."""
    return record(ACTIONS[action].request.__name__)
