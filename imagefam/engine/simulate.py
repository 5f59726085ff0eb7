"""The effects of an allowed API call on a state: which images appear, change or disappear.

Each function here is the effect of one action (:data:`.actions.ACTIONS` says which). Effects are
pure: they return (before, after) pairs without touching the store; the checker applies them with
:func:`apply` after computing resolutions before the change.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .models import (
    CopyImageRequest,
    CreateImageRequest,
    Image,
    ModifyImageAttributeRequest,
    ModifyImageSharePermissionRequest,
)
from .parsing import InputError
from .store import Images

if TYPE_CHECKING:
    from .loader import Step

Change = tuple[Image | None, Image | None]
TICK = timedelta(seconds=1)
#: Up to this many AddAccount/RemoveAccount entries of one call are processed (the API ignores the rest).
SHARE_BATCH = 10


def _new_id(store: Images, step: Step) -> str:
    if step.creates:
        if step.creates in store:
            raise InputError(f"step {step.index} ({step.action}): creates {step.creates!r}, "
                             "but an image with that ImageId already exists")
        return step.creates
    n = 0
    while True:
        candidate = f"m-imagefam-step{step.index}" + (f"-{n}" if n else "")
        if candidate not in store:
            return candidate
        n += 1


def _creation_time(store: Images, step: Step, taken_at: datetime | None) -> datetime:
    """Later than every image so far (and than the snapshot): a new image is the newest."""
    base = store.newest
    if taken_at is not None and (base is None or taken_at > base):
        base = taken_at
    if base is None:
        return datetime(2000, 1, 1, tzinfo=UTC)
    try:
        return base + TICK
    except OverflowError:
        raise InputError(f"step {step.index} ({step.action}): the image it creates must be newer than every "
                         f"image and TakenAt of the state, but {base.isoformat()} is the last time that can be "
                         "represented: no later CreationTime exists (fix TakenAt or CreationTime in the state)"
                         ) from None


def _new_image(store: Images, step: Step, taken_at: datetime | None, region: str, **fields: object) -> Image:
    return Image(ImageId=_new_id(store, step), RegionId=region, CreationTime=_creation_time(store, step, taken_at),
                 Status="Available", ImageOwnerId=step.caller, **fields)  # type: ignore[arg-type]


def _source(store: Images, step: Step) -> Image | None:
    """The image a call names (by id in its region), if it is there."""
    r = step.request
    return store.get(getattr(r, "ImageId", None), getattr(r, "RegionId", None))


def _owned(store: Images, step: Step) -> Image | None:
    """The image a call names, if the caller owns it: only the owner changes or deletes an image
    (others' calls are refused or ignored)."""
    source = _source(store, step)
    return source if source is not None and source.ImageOwnerId == step.caller else None


def create_image(store: Images, step: Step, taken_at: datetime | None) -> list[Change]:
    r = step.request
    assert isinstance(r, CreateImageRequest)
    return [(None, _new_image(store, step, taken_at, r.RegionId, ImageFamily=r.ImageFamily or None,
                              ImageName=r.ImageName, Description=r.Description))]


def copy_image(store: Images, step: Step, taken_at: datetime | None) -> list[Change]:
    """A new image in the destination region; the copy does not inherit the family."""
    r, source = step.request, _source(store, step)
    assert isinstance(r, CopyImageRequest)
    if source is None:
        return []
    return [(None, _new_image(store, step, taken_at, r.DestinationRegionId,
                              ImageName=r.DestinationImageName or source.ImageName,
                              Description=r.DestinationDescription or source.Description))]


def modify_image_attribute(store: Images, step: Step, taken_at: datetime | None) -> list[Change]:
    r, source = step.request, _owned(store, step)
    assert isinstance(r, ModifyImageAttributeRequest)
    if source is None:
        return []
    changes: dict[str, object] = {}
    if r.ImageFamily is not None:
        changes["ImageFamily"] = r.ImageFamily or None
    for name in ("Status", "ImageName", "Description"):
        value = getattr(r, name)
        if value is not None:
            changes[name] = value
    return [(source, dataclasses.replace(source, **changes))] if changes else []  # type: ignore[arg-type]


def modify_image_share_permission(store: Images, step: Step, taken_at: datetime | None) -> list[Change]:
    r, source = step.request, _owned(store, step)
    assert isinstance(r, ModifyImageSharePermissionRequest)
    if source is None:
        return []
    removed = set(r.RemoveAccount[:SHARE_BATCH])
    added = [x for x in r.AddAccount[:SHARE_BATCH] if x not in removed]
    shared = tuple(dict.fromkeys([x for x in source.SharedWith if x not in removed] + added))
    public = source.IsPublic if r.IsPublic is None else r.IsPublic
    after = dataclasses.replace(source, SharedWith=shared, IsPublic=public)
    return [] if after == source else [(source, after)]


def delete_image(store: Images, step: Step, taken_at: datetime | None) -> list[Change]:
    source = _owned(store, step)
    return [] if source is None else [(source, None)]


def apply(store: Images, changes: list[Change]) -> None:
    for before, after in changes:
        if after is None:
            if before is not None:
                store.remove(before.ImageId, before.RegionId)
        else:
            store.put(after)
