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
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from ..rules import ast
from ..rules.builtins import Builtin, CallTyping, host_function, time_builtin
from ..rules.compiler import Compiler
from ..rules.environment import Environment, KeyedReads, ResolutionScope, Target
from ..rules.runtime import Context, Fn, IndexedCollection
from ..rules.timefns import DURATION, NOW_TYPE, TimeBuiltin
from ..rules.types import STRING, TIME, Ty, list_of, record
from .actions import ACTIONS
from .models import (
    AUDIT_SCOPES,
    CHANNELS,
    SCALING_ACTIONS,
    Account,
    Consumer,
    Family,
    Image,
    Instance,
    ScalingConfiguration,
)

CHANNEL = Ty("enum", values=CHANNELS)
#: The record types rules can name, besides each action's request.
RECORDS: tuple[type, ...] = (Image, Family, Account, Consumer, ScalingConfiguration, Instance)


class EcsContext(Context):
    """The names an ECS rule can see. A check session sets ``request``, ``image``, ``caller``,
    ``channel`` and ``action`` per step; a report sets one audit scope per subject."""

    __slots__ = ("account", "action", "caller", "channel", "consumers", "family", "image", "images", "instance",
                 "now", "region", "request", "resolve", "scaling_configuration", "taken_at")

    def __init__(self, images: IndexedCollection | tuple[Any, ...] = (), *, request: Any = None, image: Any = None,
                 caller: Any = None, channel: Any = None, action: Any = None, family: Any = None,
                 region: Any = None, account: Any = None, taken_at: Any = None, now: Any = None,
                 resolve: Callable[[str, str, str], Any] | None = None, scaling_configuration: Any = None,
                 instance: Any = None) -> None:
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
        self.now = now  # the instant `now` and age() use: fixed for one command (see rules.timefns)
        self.it: Any = None
        self.args: tuple[Any, ...] = ()
        self.resolve = resolve
        self.consumers: tuple[Any, ...] = ()  # a check step's: see imagefam.engine.consumers
        #: the configuration a ModifyScalingConfiguration names; also the audit scope
        self.scaling_configuration = scaling_configuration
        self.instance = instance  # audit scope


def _action_target(action: str) -> Target:
    model = ACTIONS[action].request
    req = record(model.__name__)
    variables: dict[str, Ty] = {"request": req, "caller": STRING, "channel": CHANNEL,
                                "consumers": list_of(record(Consumer.__name__))}
    unavailable = {"family": "it is an audit scope", "account": "it is an audit scope",
                   "region": "write request.RegionId"}
    if action in SCALING_ACTIONS:  # no RegionId parameter: the step's region key, else the state's
        variables["region"] = STRING.opt()
        del unavailable["region"]
    if action == "ModifyScalingConfiguration":
        variables["scaling_configuration"] = record(ScalingConfiguration.__name__).opt()
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


def _age(now: datetime, img: Any) -> timedelta:
    return now - img.CreationTime  # type: ignore[no-any-return]


AGE = time_builtin(TimeBuiltin(
    "age", (record("Image"),), DURATION,
    "age(image) -> duration: now - image.CreationTime (negative for an image created after now)",
    _age, needs_now=True), clock="now")


def _tag_type(t: CallTyping) -> Ty:
    t.need(0, ["record"], "an Image")
    if t.tys[0].kind == "record" and t.tys[0].record != "Image":
        t.report(t.call.args[0].span, f"tag() needs an Image, found {t.tys[0]}")
    t.need(1, ["string"], "a tag key (string)")
    return STRING.opt()


def _tag(comp: Compiler, e: ast.Call) -> Fn:
    image, key = comp.compile(e.args[0]), comp.compile(e.args[1])

    def tag(c: Any) -> str | None:
        img, k = image(c), key(c)
        if img is None or k is None or img.Tags is None:
            return None
        return img.Tags.get(k)  # type: ignore[no-any-return]

    return tag


TAG = Builtin("tag", 2, 2, "tag(image, key) -> string?: the value of the image's tag `key`, null if it has none",
              _tag_type, _tag)


@cache
def _source_key() -> bytes | None:
    """The source of the modules this environment is built from (records, actions, names,
    functions), and the pydantic version that reads the records' fields: checked policies are
    cached under it (:mod:`~imagefam.rules.checkcache`). None (no caching) when a source cannot
    be read."""
    import hashlib
    from pathlib import Path

    import pydantic

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(b"ecs-v1" + pydantic.VERSION.encode())
    try:
        for name in ("environment.py", "models.py", "actions.py"):
            h.update(name.encode() + b"\0" + (here / name).read_bytes())
    except OSError:
        return None
    return h.digest()


def _build() -> Environment:
    from ..rules.types import RecordTypes

    classes = {cls.__name__: cls for cls in (*RECORDS, *(a.request for a in ACTIONS.values()))}
    env = Environment(
        records=RecordTypes(classes),
        globals={"images": list_of(record(Image.__name__)), "taken_at": TIME.opt(), "now": NOW_TYPE},
        actions={a: _action_target(a) for a in ACTIONS},
        audits={s: _audit_target(s) for s in AUDIT_SCOPES},
        resolution=ResolutionScope({"family": STRING, "region": STRING, "caller": STRING}, Image.__name__,
                                   {"request": "resolution sees family, region, caller",
                                    "image": "write it (the candidate)"},
                                   KeyedReads(source="images", region_field="RegionId", region_variable="region",
                                              family_field="ImageFamily", family_variable="family",
                                              key_variables=("family", "region", "caller"))),
        context=EcsContext,
        functions={b.name: b for b in (RESOLVE, AGE, TAG)},
        indexed=frozenset({"images"}),
        display_fields=("ImageId",),
        subject=("image", Image.__name__),
        time_dependent=frozenset({"taken_at", "now"}),
        cache_key=_source_key,
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
