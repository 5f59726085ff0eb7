"""Live snapshots through the official ECS SDK (the optional extra ``imagefam[aliyun]``).

:func:`snapshot` pages through ``DescribeImages`` (every ``Status``, one query per kind of owner)
and ``DescribeImageSharePermission`` (for your own images) in each region and returns native state
data (``TakenAt``, ``Images``; see :mod:`imagefam.engine.loader`). :func:`describe_images_to_native`
converts one raw ``DescribeImages`` body (``resp.body.to_map()`` or ``aliyun ecs DescribeImages``
output) to native image dicts; it is pure and needs no SDK.

The SDK (``alibabacloud-ecs20140526``) is imported only inside the functions that call the API,
so imagefam works without it. SDK objects are typed ``Any``: the SDK ships no type information.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from .. import progress
from .models import IMAGE_FIELDS
from .parsing import InputError

#: Every image state: ``DescribeImages`` returns only ``Available`` images unless told otherwise.
ALL_STATUSES = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"

#: The owner kinds a snapshot can query, each as ``(ImageOwnerAlias, IsPublic)`` of the request.
#: ``shared`` and ``community`` are both ``others``: community images need ``IsPublic=true``,
#: images shared with you need it unset.
OWNER_QUERIES: dict[str, tuple[str, bool | None]] = {
    "self": ("self", None),
    "shared": ("others", None),
    "community": ("others", True),
    "system": ("system", None),
    "marketplace": ("marketplace", None),
}
DEFAULT_OWNERS: tuple[str, ...] = tuple(OWNER_QUERIES)

#: Owner kinds whose images a snapshot keeps only when they are in a family (unless asked to keep
#: all): there are many of them, and only their families matter to resolution.
PUBLIC_OWNERS = frozenset({"community", "system", "marketplace"})

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"

INSTALL_HINT = "pip install 'imagefam[aliyun]'"

#: Makes the SDK client (anything with ``describe_images`` and ``describe_image_share_permission``)
#: for one region.
ClientFactory = Callable[[str], Any]

_OWNER_ALIASES = ("self", "others", "system", "marketplace")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})
_MAX_PAGES = 10_000


# ---- converting responses (pure, no SDK) ----

def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any, where: str, key: str) -> str | None:
    """A string field: numbers become strings, ``None`` and ``""`` become ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{where}: {key}: expected a string, got {_show(value)}")
    return str(value)


def _flag(value: Any, where: str, key: str) -> bool:
    """A boolean field as the API sends it: ``true``, ``"True"``, ``"false"``, ``1``, ``""``, missing."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise InputError(f"{where}: {key}: expected true or false, got {_show(value)}")


def _uid(value: Any, where: str, key: str) -> str | None:
    """An account UID as a string: the API sends ``ImageOwnerId`` as a number (``1.5``-style floats are refused)."""
    if isinstance(value, float):
        if not value.is_integer():
            raise InputError(f"{where}: {key}: expected an account UID, got {_show(value)}")
        value = int(value)
    text = _text(value, where, key)
    return None if text is None else text.strip() or None


def _tags(value: Any, where: str) -> dict[str, str]:
    """``{"Tag": [{"TagKey", "TagValue"}]}`` (or the bare list, or a ``{key: value}`` dict) as a dict."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping) and set(value) <= {"Tag"}:
        value = value.get("Tag") or []
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if not isinstance(value, list):
        raise InputError(f"{where}: Tags: expected {{'Tag': [...]}}, got {_show(value)}")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or item.get("TagKey") in (None, ""):
            raise InputError(f"{where}: Tags.Tag[{i}]: expected an object with TagKey and TagValue")
        tag_value = item.get("TagValue")
        out[str(item["TagKey"])] = "" if tag_value is None else str(tag_value)
    return out


def _image_items(body: Mapping[str, Any], source: str) -> list[Any]:
    images = body.get("Images")
    if images is None or images == "":
        return []
    if isinstance(images, Mapping):
        images = images.get("Image")
        if images is None:
            return []
    if not isinstance(images, list):
        raise InputError(f"{source}: Images: expected {{'Image': [...]}}, got {_show(images)}")
    return images


def native_image(raw: Mapping[str, Any], account: str | None = None, *, region: str | None = None,
                 where: str = "image") -> dict[str, Any]:
    """One ``DescribeImages`` image (PascalCase keys) as a native state image.

    - ``RegionId`` comes from the image, else ``region`` (the response's ``RegionId``).
    - ``ImageOwnerAlias`` is kept only for ``system`` and ``marketplace``; custom images
      (``self``, ``others``) have none in the native format.
    - ``ImageOwnerId`` becomes a string; an own (``self``) image without one gets ``account``.
    - ``ImageFamily``, ``ImageName``, ``Description`` of ``""`` are omitted; a shared or community
      image's family written ``acs:<owner UID>:<name>`` is stored as ``<name>`` (the native format
      keeps the owner's name; :mod:`imagefam.policy` derives what others see).
    - ``IsPublic`` accepts booleans, ``"true"``/``"False"`` and ``0``/``1``; only ``true`` is written.
    - An image shared with you (``others``, not public) gets ``SharedWith: [account]`` when
      ``account`` is known: a sharee cannot list the other accounts.
    - An own image (``self``, or owned by ``account``) with ``IsSelfShared`` true gets
      ``SharedWithUnknown: true``: it is shared, but ``DescribeImages`` does not say with whom
      (:func:`snapshot` then lists the accounts with ``DescribeImageSharePermission``).
    - Fields imagefam does not use (``Size``, ``DiskDeviceMappings``, ...) are
      ignored. Required fields that are missing are left out for the loader to report.
    """
    image_id = _text(raw.get("ImageId"), where, "ImageId")
    if image_id is not None and where == "image":
        where = f"image {image_id}"
    alias_raw = _text(raw.get("ImageOwnerAlias"), where, "ImageOwnerAlias")
    alias = alias_raw.lower() if alias_raw is not None else None
    if alias is not None and alias not in _OWNER_ALIASES:
        raise InputError(f"{where}: ImageOwnerAlias: expected one of {', '.join(_OWNER_ALIASES)}, "
                         f"got {_show(alias_raw)}")
    owner = _uid(raw.get("ImageOwnerId"), where, "ImageOwnerId")
    if alias == "self":
        if owner is None:
            owner = account
        elif account is not None and owner != account:
            raise InputError(f"{where}: ImageOwnerId {owner} of an own image (ImageOwnerAlias self) "
                             f"is not the account {account}: check --account and the credentials")
    is_public = _flag(raw.get("IsPublic"), where, "IsPublic")
    self_shared = _flag(raw.get("IsSelfShared"), where, "IsSelfShared")
    family = _text(raw.get("ImageFamily"), where, "ImageFamily")
    if family is not None and owner is not None and alias not in ("system", "marketplace"):
        prefix = f"acs:{owner}:"
        if family.startswith(prefix) and len(family) > len(prefix):
            family = family[len(prefix):]

    out: dict[str, Any] = {}
    if image_id is not None:
        out["ImageId"] = image_id
    region_id = _text(raw.get("RegionId"), where, "RegionId") or region
    if region_id is not None:
        out["RegionId"] = region_id
    for key in ("CreationTime", "Status"):
        value = _text(raw.get(key), where, key)
        if value is not None:
            out[key] = value
    if owner is not None:
        out["ImageOwnerId"] = owner
    if alias in ("system", "marketplace"):
        out["ImageOwnerAlias"] = alias
    if family is not None:
        out["ImageFamily"] = family
    if is_public:
        out["IsPublic"] = True
    if alias == "others" and not is_public and account is not None and owner != account:
        out["SharedWith"] = [account]
    if self_shared and (alias == "self" or (owner is not None and owner == account)):
        out["SharedWithUnknown"] = True
    for key in ("ImageName", "Description"):
        value = _text(raw.get(key), where, key)
        if value is not None:
            out[key] = value
    tags = _tags(raw.get("Tags"), where)
    if tags:
        out["Tags"] = tags
    return out


def describe_images_to_native(body: Mapping[str, Any], account: str | None = None, *,
                              region: str | None = None, source: str = "DescribeImages") -> list[dict[str, Any]]:
    """A raw ``DescribeImages`` response body as native state images (see :func:`native_image`).

    ``body`` is ``{"Images": {"Image": [...]}, "RegionId": ..., "TotalCount": ...}`` as the
    ``aliyun`` CLI prints it and ``resp.body.to_map()`` returns it (a bare ``Images`` list is
    accepted too). ``account`` is the UID of the account that made the call: it fills
    ``ImageOwnerId`` of own images that lack it and ``SharedWith`` of images shared with it.
    ``region`` is used when neither the image nor the body names its region. Problems raise
    :class:`InputError` with messages that start with ``source``.
    """
    if not isinstance(body, Mapping):
        raise InputError(f"{source}: a DescribeImages response is an object with 'Images', "
                         f"got {type(body).__name__}")
    body_region = _text(body.get("RegionId"), source, "RegionId") or region
    out = []
    for i, raw in enumerate(_image_items(body, source)):
        where = f"{source}: Images.Image[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError(f"{where}: expected an image object, got {_show(raw)}")
        image_id = raw.get("ImageId")
        if isinstance(image_id, str) and image_id:
            where += f" ({image_id})"
        out.append(native_image(raw, account, region=body_region, where=where))
    return out


# ---- consumers: DescribeInstances and DescribeScalingConfigurations bodies (pure, no SDK) ----

#: What a snapshot keeps of each consumer, in the native format's field order.
CONFIG_FIELDS = ("ScalingConfigurationId", "ScalingGroupId", "RegionId", "OwnerId", "ImageFamily", "ImageId",
                 "ImageName", "LifecycleState", "ScalingConfigurationName")
INSTANCE_FIELDS = ("InstanceId", "RegionId", "OwnerId", "ImageId", "Status")


def _listed(body: Mapping[str, Any], key: str, inner: str, source: str) -> list[Any]:
    """``body[key]`` as a list: the 2022-02-22 SDK's bare list or the older ``{inner: [...]}``."""
    value = body.get(key)
    if isinstance(value, Mapping):
        value = value.get(inner)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{source}: {key}: expected a list, got {_show(value)}")
    return value


def _consumer(raw: Any, fields: tuple[str, ...], fill: dict[str, str], where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: expected an object, got {_show(raw)}")
    out: dict[str, Any] = {}
    for key in fields:
        value = fill.get(key) or _text(raw.get(key), where, key)
        if value is not None:
            out[key] = value
    return out


def describe_scaling_configurations_to_native(body: Mapping[str, Any], account: str, region: str,
                                              source: str = "DescribeScalingConfigurations") -> list[dict[str, Any]]:
    """A ``DescribeScalingConfigurations`` body as native ``ScalingConfigurations`` entries. The API
    returns neither the owner nor the region: ``account`` and ``region`` (the request's) fill them."""
    if not isinstance(body, Mapping):
        raise InputError(f"{source}: expected an object with 'ScalingConfigurations', got {type(body).__name__}")
    return [_consumer(raw, CONFIG_FIELDS, {"RegionId": region, "OwnerId": account},
                      f"{source}: ScalingConfigurations[{i}]")
            for i, raw in enumerate(_listed(body, "ScalingConfigurations", "ScalingConfiguration", source))]


def describe_instances_to_native(body: Mapping[str, Any], account: str, region: str,
                                 source: str = "DescribeInstances") -> list[dict[str, Any]]:
    """A ``DescribeInstances`` body as native ``Instances`` entries (``account`` fills ``OwnerId``)."""
    if not isinstance(body, Mapping):
        raise InputError(f"{source}: expected an object with 'Instances', got {type(body).__name__}")
    out = []
    for i, raw in enumerate(_listed(body, "Instances", "Instance", source)):
        entry = _consumer(raw, INSTANCE_FIELDS, {"OwnerId": account}, f"{source}: Instances.Instance[{i}]")
        entry.setdefault("RegionId", region)
        out.append(entry)
    return out


# ---- the SDK ----

def _sdk(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InputError(f"the Alibaba Cloud ECS SDK is not installed (no module {err.name or module!r}): "
                         f"{INSTALL_HINT}") from err


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """The SDK's error classes (all derive from Tea's ``TeaException``)."""
    found: list[type[BaseException]] = []
    for module, name in (("Tea.exceptions", "TeaException"), ("darabonba.exceptions", "DaraException")):
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def default_client_factory(environ: Mapping[str, str] | None = None,
                           client_module_name: str = "alibabacloud_ecs20140526.client") -> ClientFactory:
    """Makes ``alibabacloud_ecs20140526.client.Client`` per region from the environment's credentials.

    Reads ``ALIBABA_CLOUD_ACCESS_KEY_ID``, ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` and, for STS
    credentials, ``ALIBABA_CLOUD_SECURITY_TOKEN``. Checks the SDK and the credentials at once
    (an :class:`InputError` says what to install or set); makes no API call.
    """
    env = os.environ if environ is None else environ
    client_module = _sdk(client_module_name)
    openapi_models = _sdk("alibabacloud_tea_openapi.models")
    key_id = env.get(ENV_ACCESS_KEY_ID, "").strip()
    secret = env.get(ENV_ACCESS_KEY_SECRET, "").strip()
    missing = [name for name, value in ((ENV_ACCESS_KEY_ID, key_id), (ENV_ACCESS_KEY_SECRET, secret)) if not value]
    if missing:
        raise InputError(f"no Alibaba Cloud credentials: set {' and '.join(missing)} "
                         f"(and {ENV_SECURITY_TOKEN} for STS credentials)")
    token = env.get(ENV_SECURITY_TOKEN, "").strip() or None

    def make(region: str) -> Any:
        config = openapi_models.Config(access_key_id=key_id, access_key_secret=secret, security_token=token,
                                       region_id=region)
        return client_module.Client(config)

    return make


def _call(method: Any, request: Any, what: str, errors: tuple[type[BaseException], ...]) -> dict[str, Any]:
    """Call one API; return the response body as an API-shaped dict (``{}`` for no body)."""
    try:
        response = method(request)
    except errors as err:
        code = getattr(err, "code", None)
        message = getattr(err, "message", None) or str(err)
        raise InputError(f"{what} failed: " + (f"{code}: " if code else "") + str(message)) from err
    body = getattr(response, "body", None)
    if body is None:
        return {}
    data = body.to_map() if hasattr(body, "to_map") else body
    if not isinstance(data, dict):
        raise InputError(f"{what}: unexpected response body {_show(data)}")
    return data


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pages(fetch: Callable[[int], dict[str, Any]], items: Callable[[dict[str, Any]], list[Any]],
           page_size: int, what: str) -> list[dict[str, Any]]:
    """Fetch pages 1, 2, ... until ``TotalCount`` items are read (or a short or empty page)."""
    bodies: list[dict[str, Any]] = []
    seen = 0
    with progress.Bar(what, unit="item") as bar:
        for page in range(1, _MAX_PAGES + 1):
            body = fetch(page)
            bodies.append(body)
            got = len(items(body))
            seen += got
            total = _count(body.get("TotalCount"))
            if page == 1 and total is not None:
                bar.set_total(total)
            bar.update(got)
            if got == 0 or (seen >= total if total is not None else got < page_size):
                return bodies
    raise InputError(f"{what}: paging did not end after {_MAX_PAGES} pages")


def _share_accounts(body: dict[str, Any], what: str) -> list[str]:
    accounts = body.get("Accounts")
    listed = accounts.get("Account") if isinstance(accounts, Mapping) else accounts
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise InputError(f"{what}: Accounts: expected {{'Account': [...]}}, got {_show(listed)}")
    out = []
    for item in listed:
        uid = _uid(item.get("AliyunId") if isinstance(item, Mapping) else None, what, "Accounts.Account.AliyunId")
        if uid is None:
            raise InputError(f"{what}: an account without AliyunId: {_show(item)}")
        out.append(uid)
    return out


def _merge(found: dict[str, dict[str, Any]], img: dict[str, Any]) -> None:
    """Add ``img``; an ImageId seen in an earlier query keeps its fields and gains sharing facts."""
    key = str(img.get("ImageId"))
    first = found.get(key)
    if first is None:
        found[key] = img
        return
    if img.get("IsPublic"):
        first["IsPublic"] = True
    if img.get("SharedWithUnknown"):
        first["SharedWithUnknown"] = True
    shared = sorted(set(first.get("SharedWith", ())) | set(img.get("SharedWith", ())))
    if shared:
        first["SharedWith"] = shared


def _ordered(img: dict[str, Any]) -> dict[str, Any]:
    """The image's keys in the native format's field order."""
    return {key: img[key] for key in IMAGE_FIELDS if key in img}


def snapshot(regions: Sequence[str], account: str | None = None, client_factory: ClientFactory | None = None,
             *, owners: Iterable[str] = DEFAULT_OWNERS, page_size: int = 100, keep_all_public: bool = False,
             now: datetime | None = None, consumers: bool = False,
             ess_client_factory: ClientFactory | None = None) -> dict[str, Any]:
    """Native state data (``{"TakenAt": ..., "Images": [...]}``) of the images the caller sees in ``regions``.

    In each region, ``DescribeImages`` (``Status`` every state, ``PageSize`` ``page_size``) is paged
    through for each kind in ``owners`` (default all of :data:`OWNER_QUERIES`): your own images,
    images shared with you, community images, Alibaba Cloud's public images and Marketplace images.
    Public, community and Marketplace images are kept only when they have a family, unless
    ``keep_all_public``. Each own image's ``SharedWith`` comes from ``DescribeImageSharePermission``
    (which replaces ``SharedWithUnknown``, set from ``IsSelfShared``, when it lists accounts).
    Images are deduplicated by ImageId within a region and sorted by region, then ImageId.

    ``account`` is the caller's UID; without it, it is learned from the own images'
    ``ImageOwnerId`` (it is needed to record images shared with you). ``client_factory(region)``
    makes the SDK client (default :func:`default_client_factory`: environment credentials).
    API errors, a missing SDK or missing credentials raise :class:`InputError`.

    With ``consumers``, each region's ``DescribeInstances`` (ECS) and
    ``DescribeScalingConfigurations`` (Auto Scaling, SDK ``alibabacloud-ess20220222``, client from
    ``ess_client_factory``) are paged through too, into ``Instances`` and ``ScalingConfigurations``
    with ``OwnerId`` the caller's UID and ``RegionId`` the request's (the APIs return neither for
    scaling configurations).
    """
    wanted = list(dict.fromkeys(r.strip() for r in regions if r and r.strip()))
    if not wanted:
        raise InputError("name at least one region to snapshot (--region)")
    kinds = set(owners)
    unknown = sorted(kinds - set(OWNER_QUERIES))
    if unknown:
        raise InputError(f"unknown owner kind {', '.join(unknown)}; expected {', '.join(OWNER_QUERIES)}")
    if isinstance(page_size, bool) or not 1 <= page_size <= 100:
        raise InputError(f"page size must be 1 to 100, got {page_size}")
    if account is not None:
        account = str(account).strip() or None
    models = _sdk("alibabacloud_ecs20140526.models")
    factory = client_factory or default_client_factory()
    errors = _sdk_errors()
    taken_at = (now or datetime.now(UTC)).astimezone(UTC)

    # 1. List every region's images (raw bodies), one query per owner kind.
    clients: dict[str, Any] = {}
    listed: list[tuple[str, str, dict[str, Any]]] = []  # (region, owner kind, body)
    for region in wanted:
        client = clients[region] = factory(region)
        for kind, (alias, is_public) in OWNER_QUERIES.items():
            if kind not in kinds:
                continue
            what = f"{region}: DescribeImages ImageOwnerAlias={alias}" + (" IsPublic=true" if is_public else "")

            def fetch(page: int, region: str = region, alias: str = alias, is_public: bool | None = is_public,
                      what: str = what, client: Any = client) -> dict[str, Any]:
                request = models.DescribeImagesRequest(region_id=region, status=ALL_STATUSES,
                                                       image_owner_alias=alias, is_public=is_public,
                                                       page_number=page, page_size=page_size)
                return _call(client.describe_images, request, f"{what} page {page}", errors)

            def items(body: dict[str, Any], what: str = what) -> list[Any]:
                return _image_items(body, what)

            listed.extend((region, kind, body) for body in _pages(fetch, items, page_size, what))

    # 2. Learn the caller's UID from its own images when not given.
    if account is None:
        uids = {uid for _, kind, body in listed if kind == "self"
                for raw in _image_items(body, "DescribeImages") if isinstance(raw, Mapping)
                if (uid := _uid(raw.get("ImageOwnerId"), "DescribeImages", "ImageOwnerId")) is not None}
        if len(uids) > 1:
            raise InputError(f"own images have several owners ({', '.join(sorted(uids))}): pass --account")
        account = uids.pop() if uids else None

    # 3. Convert, filter, deduplicate.
    found: dict[str, dict[str, dict[str, Any]]] = {region: {} for region in wanted}
    own: dict[str, list[str]] = {region: [] for region in wanted}
    for region, kind, body in listed:
        alias, is_public = OWNER_QUERIES[kind]
        source = f"{region}: DescribeImages ImageOwnerAlias={alias}" + (" IsPublic=true" if is_public else "")
        for img in describe_images_to_native(body, account, region=region, source=source):
            if kind in PUBLIC_OWNERS and not keep_all_public and "ImageFamily" not in img:
                continue
            if kind == "shared" and account is None and not img.get("IsPublic"):
                raise InputError(f"{source}: image {img.get('ImageId')} is shared with you, but your account "
                                 "UID is unknown (no own images to learn it from): pass --account UID")
            if kind == "self" and "ImageId" in img and img["ImageId"] not in found[region]:
                own[region].append(img["ImageId"])
            _merge(found[region], img)

    # 4. Who each own image is shared with.
    for region in wanted:
        client = clients[region]
        for image_id in own[region]:
            what = f"{region}: DescribeImageSharePermission ImageId={image_id}"

            def fetch_share(page: int, region: str = region, image_id: str = image_id, what: str = what,
                            client: Any = client) -> dict[str, Any]:
                request = models.DescribeImageSharePermissionRequest(region_id=region, image_id=image_id,
                                                                     page_number=page, page_size=page_size)
                return _call(client.describe_image_share_permission, request, f"{what} page {page}", errors)

            def accounts(body: dict[str, Any], what: str = what) -> list[Any]:
                return _share_accounts(body, what)

            shared = sorted({uid for body in _pages(fetch_share, accounts, page_size, what)
                             for uid in _share_accounts(body, what)})
            img = found[region][image_id]
            if shared:  # the accounts are known now
                img["SharedWith"] = shared
                img.pop("SharedWithUnknown", None)
            else:  # IsSelfShared without listed accounts (e.g. shared with a group) stays unknown
                img.pop("SharedWith", None)

    images = [_ordered(img) for region in sorted(found) for _, img in sorted(found[region].items())]
    data: dict[str, Any] = {"TakenAt": taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "Images": images}
    if consumers:
        if account is None:
            raise InputError("--consumers records whose scaling configurations and instances they are, but your "
                             "account UID is unknown (no own images to learn it from): pass --account UID")
        ess = ess_client_factory or default_client_factory(client_module_name="alibabacloud_ess20220222.client")
        data["ScalingConfigurations"], data["Instances"] = _consumers(wanted, account, clients, ess, page_size,
                                                                      errors)
    return data


def _consumers(regions: list[str], account: str, clients: dict[str, Any], ess_factory: ClientFactory,
               page_size: int, errors: tuple[type[BaseException], ...]) -> tuple[list[Any], list[Any]]:
    ecs_models = _sdk("alibabacloud_ecs20140526.models")
    ess_models = _sdk("alibabacloud_ess20220222.models")
    configs: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    ess_page = min(page_size, 50)  # DescribeScalingConfigurations: PageSize at most 50
    for region in regions:
        ess = ess_factory(region)
        what = f"{region}: DescribeScalingConfigurations"

        def fetch_configs(page: int, region: str = region, what: str = what, ess: Any = ess) -> dict[str, Any]:
            request = ess_models.DescribeScalingConfigurationsRequest(region_id=region, page_number=page,
                                                                      page_size=ess_page)
            return _call(ess.describe_scaling_configurations, request, f"{what} page {page}", errors)

        def config_items(body: dict[str, Any], what: str = what) -> list[Any]:
            return _listed(body, "ScalingConfigurations", "ScalingConfiguration", what)

        for body in _pages(fetch_configs, config_items, ess_page, what):
            configs += describe_scaling_configurations_to_native(body, account, region, what)
        client = clients[region]
        what = f"{region}: DescribeInstances"

        def fetch_instances(page: int, region: str = region, what: str = what, client: Any = client
                            ) -> dict[str, Any]:
            request = ecs_models.DescribeInstancesRequest(region_id=region, page_number=page, page_size=page_size)
            return _call(client.describe_instances, request, f"{what} page {page}", errors)

        def instance_items(body: dict[str, Any], what: str = what) -> list[Any]:
            return _listed(body, "Instances", "Instance", what)

        for body in _pages(fetch_instances, instance_items, page_size, what):
            instances += describe_instances_to_native(body, account, region, what)
    configs.sort(key=lambda c: (c.get("RegionId", ""), c.get("ScalingConfigurationId", "")))
    instances.sort(key=lambda i: (i.get("RegionId", ""), i.get("InstanceId", "")))
    return configs, instances
