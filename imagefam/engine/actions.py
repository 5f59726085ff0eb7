"""Every ECS API action a plan may call, declared once: its request model, whether it launches
from a family, whether it creates an image, and its effect on the state.

The loader validates a step's parameters against :attr:`Action.request`; the ECS environment makes
each action a rule target (rules ``on`` it see its request); a check session resolves the family
of a launching step and applies the effect of an allowed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import models, simulate
from .simulate import Change
from .store import Images

if TYPE_CHECKING:
    from .loader import Step

Effect = Callable[[Images, "Step", datetime | None], list[Change]]


@dataclass(frozen=True)
class Action:
    name: str
    request: type[models.Request]
    #: Launches from the image its ImageFamily resolves to (the step reports resolved_image_id).
    launches: bool = False
    #: Makes a new image or scaling configuration (a plan step may give its id with ``creates``).
    creates: bool = False
    #: What an allowed call changes in the state; None: nothing (launches, describes).
    effect: Effect | None = None


ACTIONS: dict[str, Action] = {a.name: a for a in [
    Action("CreateImage", models.CreateImageRequest, creates=True, effect=simulate.create_image),
    Action("CopyImage", models.CopyImageRequest, creates=True, effect=simulate.copy_image),
    Action("ModifyImageAttribute", models.ModifyImageAttributeRequest, effect=simulate.modify_image_attribute),
    Action("ModifyImageSharePermission", models.ModifyImageSharePermissionRequest,
           effect=simulate.modify_image_share_permission),
    Action("DeleteImage", models.DeleteImageRequest, effect=simulate.delete_image),
    Action("RunInstances", models.RunInstancesRequest, launches=True),
    Action("CreateInstance", models.CreateInstanceRequest, launches=True),
    Action("ReplaceSystemDisk", models.ReplaceSystemDiskRequest),
    Action("DescribeImageFromFamily", models.DescribeImageFromFamilyRequest, launches=True),
    # Auto Scaling: no RegionId (the step's `region` key); they change no image, but what a scaling
    # group launches from (imagefam.engine.consumers, applied by the pre-flight session)
    Action("CreateScalingConfiguration", models.CreateScalingConfigurationRequest, creates=True),
    Action("ModifyScalingConfiguration", models.ModifyScalingConfigurationRequest),
]}


def effects(store: Images, step: Step, taken_at: datetime | None = None) -> list[Change]:
    """What ``step`` would change, as (before, after) image pairs; None means absent."""
    effect = ACTIONS[step.action].effect
    return [] if effect is None else effect(store, step, taken_at)


#: Each action's request model, by action name (derived from :data:`ACTIONS`).
REQUESTS: dict[str, type[models.Request]] = {name: a.request for name, a in ACTIONS.items()}
