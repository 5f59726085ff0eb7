"""The pydantic schema of everything rules can see: images, API requests, audit scopes.

These models are the single source of truth for the rule type checker
(:mod:`imagefam.rules.types` reads their annotations) and for input validation.
``Image`` is a frozen, slotted dataclass validated by pydantic: a million of them take about
a fifth of the memory of ``BaseModel`` instances and validate twice as fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

ImageStatus = Literal["Creating", "Waiting", "Available", "UnAvailable", "CreateFailed", "Deprecated"]
OwnerAlias = Literal["system", "marketplace"]
Channel = Literal["api", "console"]
#: How a call is made: through the API, or the console (the plan step says which).
CHANNELS: tuple[str, ...] = get_args(Channel)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset() == _ZERO:  # already UTC ("...Z"): swap in the UTC singleton, cheaper than
        return value.replace(tzinfo=UTC)  # astimezone; one shared tzinfo keeps comparisons on CPython's fast path
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is a year-0 time in UTC
        raise ValueError("out of range once converted to UTC (years 1 to 9999)") from None


_ZERO = timedelta(0)


def _none_if_empty(value: Any) -> Any:
    return None if value == "" else value


def _tags(value: Any) -> Any:
    """Accept ``{"k": "v"}`` or the API's ``[{"TagKey": k, "TagValue": v}]`` / ``{"Tag": [...]}``."""
    if isinstance(value, dict) and set(value) == {"Tag"}:
        value = value["Tag"]
    if isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, dict) or "TagKey" not in item:
                raise ValueError("a tag list holds objects with TagKey and TagValue")
            out[str(item["TagKey"])] = str(item.get("TagValue", ""))
        return out
    return value


#: A time: ISO-8601 text, or a number of Unix *seconds* (models using it set
#: ``val_temporal_unit="seconds"``: pydantic would otherwise read a large number as milliseconds), in UTC.
UtcTime = Annotated[datetime, AfterValidator(_utc)]
#: A non-empty string (an empty ImageId or RegionId names nothing).
Id = Annotated[str, Field(min_length=1)]
FamilyName = Annotated[str | None, BeforeValidator(_none_if_empty)]
#: A launch parameter: an empty value is an unset one (``ImageFamily: ""`` with an ``ImageId``).
LaunchParam = Annotated[str | None, BeforeValidator(_none_if_empty)]


@dataclass(frozen=True, slots=True)
class Image:
    """One ECS image as a state snapshot records it (field names as ``DescribeImages`` has them)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", coerce_numbers_to_str=True,
                                                           val_temporal_unit="seconds")

    ImageId: Id
    RegionId: Id
    CreationTime: UtcTime
    Status: ImageStatus
    ImageOwnerId: str | None = None
    ImageOwnerAlias: OwnerAlias | None = None
    ImageFamily: FamilyName = None
    IsPublic: bool = False
    SharedWith: tuple[str, ...] = ()
    #: Shared with accounts the state does not list (``DescribeImages`` said ``IsSelfShared``).
    SharedWithUnknown: bool = False
    ImageName: str | None = None
    Description: str | None = None
    Tags: Annotated[dict[str, str] | None, BeforeValidator(_tags)] = None


IMAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Image))


class Request(BaseModel):
    """Base of the API request models: PascalCase parameters as the ECS API reference names them."""

    # defer_build: a request model's validator is built on first use, not at import (start-up time)
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, defer_build=True)
    # Every real parameter of an action (modelled or not) is in the catalogue, imagefam/engine/params.json.


class CreateImageRequest(Request):
    RegionId: str
    ImageFamily: str | None = None
    ImageName: str | None = None
    Description: str | None = None
    InstanceId: str | None = None
    SnapshotId: str | None = None


class CopyImageRequest(Request):
    RegionId: str
    ImageId: str
    DestinationRegionId: str
    DestinationImageName: str | None = None
    DestinationDescription: str | None = None
    Encrypted: bool | None = None
    KMSKeyId: str | None = None


class ModifyImageAttributeRequest(Request):
    RegionId: str
    ImageId: str
    ImageFamily: str | None = None
    ImageName: str | None = None
    Description: str | None = None
    Status: Literal["Available", "Deprecated"] | None = None


class ModifyImageSharePermissionRequest(Request):
    RegionId: str
    ImageId: str
    AddAccount: tuple[str, ...] = ()
    RemoveAccount: tuple[str, ...] = ()
    IsPublic: bool | None = None


class DeleteImageRequest(Request):
    RegionId: str
    ImageId: str
    Force: bool = False


class RunInstancesRequest(Request):
    RegionId: str
    ImageId: LaunchParam = None
    ImageFamily: LaunchParam = None
    Amount: int = 1
    LaunchTemplateId: str | None = None
    LaunchTemplateName: str | None = None


class CreateInstanceRequest(Request):
    RegionId: str
    ImageId: LaunchParam = None
    ImageFamily: LaunchParam = None


class ReplaceSystemDiskRequest(Request):
    InstanceId: str
    ImageId: str | None = None
    #: Not an API parameter (the instance fixes the region); accepted so a plan can say it.
    RegionId: str | None = None


class DescribeImageFromFamilyRequest(Request):
    RegionId: str
    ImageFamily: str


class CreateScalingConfigurationRequest(Request):
    """Auto Scaling ``CreateScalingConfiguration``: no RegionId parameter (the endpoint's region;
    a plan step names it with the ``region`` key)."""

    ScalingGroupId: str
    ImageFamily: LaunchParam = None
    ImageId: LaunchParam = None
    ImageName: str | None = None
    ScalingConfigurationName: str | None = None


class ModifyScalingConfigurationRequest(Request):
    """Auto Scaling ``ModifyScalingConfiguration`` (no RegionId parameter, as above)."""

    ScalingConfigurationId: str
    ImageFamily: LaunchParam = None
    ImageId: LaunchParam = None
    ImageName: str | None = None
    ScalingConfigurationName: str | None = None


#: Actions of the Auto Scaling API: they have no RegionId parameter.
SCALING_ACTIONS = ("CreateScalingConfiguration", "ModifyScalingConfiguration")


@dataclass(frozen=True, slots=True)
class ScalingConfiguration:
    """One Auto Scaling scaling configuration (fields as ``DescribeScalingConfigurations`` names
    them; ``RegionId`` and ``OwnerId`` are the request's region and the caller's account)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    ScalingConfigurationId: Id
    ScalingGroupId: Id
    RegionId: Id
    OwnerId: Id
    ImageFamily: FamilyName = None
    ImageId: Annotated[str | None, BeforeValidator(_none_if_empty)] = None
    ImageName: Annotated[str | None, BeforeValidator(_none_if_empty)] = None
    LifecycleState: Literal["Active", "Inactive"] = "Active"
    ScalingConfigurationName: str | None = None


@dataclass(frozen=True, slots=True)
class Instance:
    """One ECS instance (fields as ``DescribeInstances`` names them; ``OwnerId`` is the account)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    InstanceId: Id
    RegionId: Id
    OwnerId: Id
    ImageId: Id
    Status: str | None = None


ConsumerKind = Literal["ScalingConfiguration", "Instance"]


@dataclass(frozen=True, slots=True)
class Consumer:
    """What rules on an action see in ``consumers``: a scaling configuration or instance whose
    launch image the step touches, as the caller may see it. Another account's consumers are
    grouped: ``Id`` and ``ScalingGroupId`` are null and ``Count`` says how many."""

    Kind: ConsumerKind
    Id: str | None
    Count: int
    RegionId: str
    OwnerId: str
    ScalingGroupId: str | None
    #: The family the configuration launches from (null: it names an image)
    ImageFamily: str | None
    #: The image a configuration pins or an instance was created from
    ImageId: str | None
    #: A configuration's LifecycleState is Active (always true for an instance)
    Active: bool
    #: The ImageId it launches from before and after the step (null: none)
    Before: str | None
    After: str | None
    #: How messages name it: ids for the caller's own, account and count for another's
    Label: str


@dataclass(frozen=True, slots=True)
class Family:
    """Audit scope ``for each family``: one owner's family in one region."""

    Name: str
    RegionId: str
    OwnerId: str | None
    Images: tuple[Image, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Account:
    """Audit scope ``for each account``: one owner's images in one region."""

    OwnerId: str
    RegionId: str
    Images: tuple[Image, ...] = ()
    Families: tuple[str, ...] = ()


AUDIT_SCOPES: dict[str, type] = {"image": Image, "family": Family, "account": Account,
                                 "scaling_configuration": ScalingConfiguration, "instance": Instance}
