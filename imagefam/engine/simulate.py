"""The effects of an allowed API call on a state: which images appear, change or disappear.

:func:`effects` is pure: it returns (before, after) pairs without touching the store; the
checker applies them with :func:`apply` after computing resolutions before the change.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from ..rules.errors import InputError
from .loader import Step
from .models import Image
from .store import ImageStore

Change = tuple[Image | None, Image | None]
TICK = timedelta(seconds=1)


def _new_id(store: ImageStore, step: Step) -> str:
    if step.creates:
        if step.creates in store:
            where = f"line {step.line}: " if step.line else ""
            raise InputError(f"{where}step {step.index} ({step.action}): creates {step.creates!r}, "
                             "but an image with that ImageId already exists")
        return step.creates
    n = 0
    while True:
        candidate = f"m-imagefam-step{step.index}" + (f"-{n}" if n else "")
        if candidate not in store:
            return candidate
        n += 1


def _creation_time(store: ImageStore, taken_at: object) -> object:
    base = store.newest
    if taken_at is not None and (base is None or taken_at > base):  # type: ignore[operator]
        base = taken_at  # type: ignore[assignment]
    if base is None:
        from datetime import UTC, datetime

        return datetime(2000, 1, 1, tzinfo=UTC)
    return base + TICK


def effects(store: ImageStore, step: Step, taken_at: object = None) -> list[Change]:
    """What ``step`` would change, as (before, after) image pairs; None means absent."""
    r = step.request
    a = step.action
    if a == "CreateImage":
        img = Image(ImageId=_new_id(store, step), RegionId=r.RegionId,  # type: ignore[attr-defined]
                    CreationTime=_creation_time(store, taken_at),  # type: ignore[arg-type]
                    Status="Available", ImageOwnerId=step.caller,
                    ImageFamily=r.ImageFamily or None,  # type: ignore[attr-defined]
                    ImageName=r.ImageName, Description=r.Description)  # type: ignore[attr-defined]
        return [(None, img)]
    source = store.get(getattr(r, "ImageId", None), getattr(r, "RegionId", None))
    if a == "CopyImage":
        if source is None:
            return []
        img = Image(ImageId=_new_id(store, step), RegionId=r.DestinationRegionId,  # type: ignore[attr-defined]
                    CreationTime=_creation_time(store, taken_at),  # type: ignore[arg-type]
                    Status="Available", ImageOwnerId=step.caller,
                    ImageName=r.DestinationImageName or source.ImageName,  # type: ignore[attr-defined]
                    Description=r.DestinationDescription or source.Description)  # type: ignore[attr-defined]
        return [(None, img)]
    if source is None:
        return []
    if a == "ModifyImageAttribute":
        changes: dict[str, object] = {}
        if r.ImageFamily is not None:  # type: ignore[attr-defined]
            changes["ImageFamily"] = r.ImageFamily or None  # type: ignore[attr-defined]
        for name in ("Status", "ImageName", "Description"):
            value = getattr(r, name)
            if value is not None:
                changes[name] = value
        return [(source, dataclasses.replace(source, **changes))] if changes else []  # type: ignore[arg-type]
    if a == "ModifyImageSharePermission":
        removed = set(r.RemoveAccount[:10])  # type: ignore[attr-defined]  # the API takes 10 per call
        added = [x for x in r.AddAccount[:10] if x not in removed]  # type: ignore[attr-defined]
        shared = tuple(dict.fromkeys([x for x in source.SharedWith if x not in removed] + added))
        public = source.IsPublic if r.IsPublic is None else r.IsPublic  # type: ignore[attr-defined]
        after = dataclasses.replace(source, SharedWith=shared, IsPublic=public)
        return [] if after == source else [(source, after)]
    if a == "DeleteImage":
        return [(source, None)]
    return []


def apply(store: ImageStore, changes: list[Change]) -> None:
    for before, after in changes:
        if after is None:
            if before is not None:
                store.remove(before.ImageId, before.RegionId)
        else:
            store.put(after)
