"""Terraform JSON plans (``terraform show -json tfplan``) as imagefam steps.

The plan's ``resource_changes`` are mapped, resource by resource, to the ECS API calls the
``alicloud`` provider makes for them (docs/formats.md has the table and its sources). The steps
are then built as native plan data and go through :func:`~imagefam.engine.loader.plan_from_data`,
so every check of request parameters applies to them as to a hand-written plan.

- The region of a resource is its provider configuration's ``region`` (through the resource's
  ``provider_config_key``, so aliases and modules work); a region set from a variable is read
  from the plan's ``variables``.
- A value shown as ``(known after apply)`` (``after_unknown``) that refers to an image created
  by the same plan (``alicloud_image.app.id``) becomes that image's address, which is also the
  ImageId the simulated image gets. Any other unknown value is recorded in ``Step.unknown``.
- Steps are ordered as Terraform applies them: a resource after the resources it refers to, and
  destroyed before them; a replacement in its own order (``["delete", "create"]`` or
  ``["create", "delete"]``).
- Anything else is skipped and counted, with the reason.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..loader import Plan, plan_from_data
from ..parsing import InputError

UNKNOWN = "(known after apply)"

IMAGE_TYPES = ("alicloud_image", "alicloud_image_copy")
MAPPED = ("alicloud_image", "alicloud_image_copy", "alicloud_image_share_permission", "alicloud_instance",
          "alicloud_ess_scaling_configuration")
NOT_YET = "for scaling configurations (not checked yet)"
#: Resources that create, launch from or export images in ways no supported action models yet.
UNCHECKED_IMAGE_TYPES = ("alicloud_image_import", "alicloud_image_export", "alicloud_ecs_image_pipeline",
                         "alicloud_ecs_launch_template", "alicloud_launch_template", "alicloud_ecs_instance_set")
REASONS = {  # each reads after "N resource change(s)"
    "other": "not about images",
    "noop": "without a change",
    "nothing": "changing nothing imagefam checks",
    "not-yet": NOT_YET,
    "unchecked": "about images, not checked yet",
    "ess-region": "for scaling configurations in a region the plan does not say",
}
ACTION_SETS = (["no-op"], ["read"], ["create"], ["update"], ["delete"], ["delete", "create"],
               ["create", "delete"], ["forget"])
_REF = re.compile(r"^((?:module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.)*)([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)"
                  r"(\[[^\]]*\])?(?:\.id)?$")


def is_terraform_plan(data: Any) -> bool:
    """Whether ``data`` looks like ``terraform show -json`` output of a plan."""
    return isinstance(data, dict) and "format_version" in data and (
        "resource_changes" in data or "planned_values" in data or "terraform_version" in data)


Key = tuple[tuple[str, ...], str]  # (module path, "type.name"): one resource block


@dataclass
class _Node:
    """One planned call: the data of a native step, and what it depends on."""

    order: int
    address: str
    phase: str  # "create" (creates and updates) or "delete"
    data: dict[str, Any]
    unknown: dict[str, str] = field(default_factory=dict)
    config_key: Key = ((), "")
    label: str = ""


def _err(source: str, path: str, what: str) -> InputError:
    return InputError(f"{source}: {path}: {what}")


def _module_path(module_address: str) -> tuple[str, ...]:
    """``module.a[0].module.b`` -> ("a", "b"): the configuration is per module call, not per instance."""
    return tuple(re.findall(r"module\.([A-Za-z0-9_-]+)", module_address or ""))


class _Config:
    """The plan's ``configuration``: resources by (module path, "type.name"), provider regions."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.source = source
        conf = data.get("configuration", {})
        if not isinstance(conf, dict):
            raise _err(source, "configuration", "expected an object")
        self.providers = _dict(conf.get("provider_config", {}), source, "configuration.provider_config")
        for key, prov in self.providers.items():
            where = f"configuration.provider_config.{key}"
            exprs = _dict(_dict(prov, source, where, allow_none=False).get("expressions"), source,
                          f"{where}.expressions")
            _expression(exprs.get("region"), source, f"{where}.expressions.region")
        self.variables = _dict(data.get("variables", {}), source, "variables")
        self.resources: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
        self.module_sources: dict[tuple[str, ...], str] = {}
        root = conf.get("root_module", {})
        self._walk(root, (), "configuration.root_module")

    def _walk(self, module: Any, path: tuple[str, ...], where: str) -> None:
        if not isinstance(module, dict):
            raise _err(self.source, where, "expected an object")
        resources = module.get("resources", [])
        if not isinstance(resources, list):
            raise _err(self.source, f"{where}.resources", "expected a list")
        for i, res in enumerate(resources):
            if not isinstance(res, dict) or not isinstance(res.get("address"), str):
                raise _err(self.source, f"{where}.resources[{i}]", "expected an object with an 'address'")
            if "provider_config_key" in res and not isinstance(res["provider_config_key"], str):
                raise _err(self.source, f"{where}.resources[{i}].provider_config_key", "expected a string")
            exprs = _dict(res.get("expressions"), self.source, f"{where}.resources[{i}].expressions")
            for name, expr in exprs.items():
                if isinstance(expr, dict):
                    _expression(expr, self.source, f"{where}.resources[{i}].expressions.{name}")
            if res.get("mode", "managed") == "managed":
                self.resources[(path, res["address"])] = res
        calls = module.get("module_calls", {})
        if not isinstance(calls, dict):
            raise _err(self.source, f"{where}.module_calls", "expected an object")
        for name, call in calls.items():
            if not isinstance(call, dict):
                raise _err(self.source, f"{where}.module_calls.{name}", "expected an object")
            if isinstance(call.get("source"), str):
                self.module_sources[(*path, name)] = call["source"]
            self._walk(call.get("module") or {}, (*path, name), f"{where}.module_calls.{name}.module")

    def resource(self, module_address: str, type_: str, name: str) -> dict[str, Any] | None:
        return self.resources.get((_module_path(module_address), f"{type_}.{name}"))

    def region(self, res: dict[str, Any] | None) -> tuple[str | None, str]:
        """(region, where it comes from); region None when it is not known from the plan."""
        key = res.get("provider_config_key") if res else None
        keys = [key] if isinstance(key, str) else []
        if isinstance(key, str) and ":" in key:
            keys.append(key.rsplit(":", 1)[1])  # older plans: "module:provider"
        keys.append("alicloud")
        for k in keys:
            prov = self.providers.get(k)
            if isinstance(prov, dict):
                return self._provider_region(prov, k)
        return None, "no alicloud provider configuration in the plan"

    def _provider_region(self, prov: dict[str, Any], key: str) -> tuple[str | None, str]:
        expr = (prov.get("expressions") or {}).get("region")  # shapes checked when the plan was read
        where = f"provider {key}"
        if not isinstance(expr, dict):
            return None, f"{where} sets no region (the environment decides)"
        if isinstance(expr.get("constant_value"), str):
            return expr["constant_value"], where
        for ref in expr.get("references") or []:
            m = re.match(r"^var\.([A-Za-z0-9_-]+)$", str(ref))
            if m:
                var = self.variables.get(m.group(1))
                if var is not None and not isinstance(var, dict):
                    raise _err(self.source, f"variables.{m.group(1)}", "expected an object with a 'value'")
                value = var.get("value") if isinstance(var, dict) else None
                if isinstance(value, str):
                    return value, f"{where}, var.{m.group(1)}"
                return None, f"{where}: var.{m.group(1)} has no value in the plan"
        return None, f"{where}: region is an expression imagefam cannot read"


def _expression(expr: Any, source: str, path: str) -> None:
    """An expression is null or an object; its ``references`` a list of strings."""
    if expr is None:
        return
    expr = _dict(expr, source, path)
    refs = expr.get("references")
    if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)):
        raise _err(source, f"{path}.references", "expected a list of strings")


def _dict(value: Any, source: str, path: str, allow_none: bool = True) -> dict[str, Any]:
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        raise _err(source, path, f"expected an object, got {type(value).__name__}")
    return value


@dataclass
class _Change:
    index: int
    address: str
    type: str
    name: str
    module: str
    key: Any
    actions: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    after_unknown: dict[str, Any]
    after_sensitive: Any
    path: str


def _changes(data: dict[str, Any], source: str) -> Iterator[_Change]:
    rcs = data.get("resource_changes", [])
    if not isinstance(rcs, list):
        raise _err(source, "resource_changes", "expected a list")
    for i, rc in enumerate(rcs):
        path = f"resource_changes[{i}]"
        rc = _dict(rc, source, path, allow_none=False)
        for key in ("address", "type", "name"):
            if not isinstance(rc.get(key), str) or not rc[key]:
                raise _err(source, f"{path}.{key}", "required string is missing")
        change = _dict(rc.get("change"), source, f"{path}.change", allow_none=False)
        actions = change.get("actions")
        if actions not in ACTION_SETS:
            raise _err(source, f"{path}.change.actions",
                       f"expected one of {', '.join(str(a).replace(chr(39), chr(34)) for a in ACTION_SETS)}, "
                       f"got {actions!r}")
        if rc.get("mode", "managed") != "managed":  # a data source is read, never changed
            yield _Change(i, rc["address"], rc["type"], rc["name"], "", None, ["read"], {}, {}, {}, None, path)
            continue
        if not isinstance(rc.get("module_address", ""), str):
            raise _err(source, f"{path}.module_address", "expected a string")
        yield _Change(i, rc["address"], rc["type"], rc["name"], rc.get("module_address") or "", rc.get("index"),
                      list(actions), _dict(change.get("before"), source, f"{path}.change.before"),
                      _dict(change.get("after"), source, f"{path}.change.after"),
                      _dict(change.get("after_unknown"), source, f"{path}.change.after_unknown"),
                      change.get("after_sensitive"), path)


class _Translator:
    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.source = source
        self.config = _Config(data, source)
        self.nodes: list[_Node] = []
        self.skipped: list[dict[str, Any]] = []
        self.sensitive: set[str] = set()
        # (module path, "type.name") -> instance addresses creating an image, with their index keys
        self.created: dict[tuple[tuple[str, ...], str], list[tuple[Any, str]]] = {}

    def skip(self, ch: _Change, reason: str) -> None:
        self.skipped.append({"source": {"kind": "terraform", "address": ch.address}, "reason": REASONS[reason]})

    def run(self, data: dict[str, Any]) -> None:
        changes = list(_changes(data, self.source))
        for ch in changes:  # first pass: which images this plan creates (for references)
            if ch.type in IMAGE_TYPES and "create" in ch.actions:
                key = (_module_path(ch.module), f"{ch.type}.{ch.name}")
                self.created.setdefault(key, []).append((ch.key, ch.address))
        for ch in changes:
            if ch.actions in (["no-op"], ["read"], ["forget"]):
                self.skip(ch, "noop" if ch.actions != ["read"] or ch.type in MAPPED else "other")
            elif ch.type in UNCHECKED_IMAGE_TYPES:
                self.skip(ch, "unchecked")
            elif ch.type not in MAPPED:
                self.skip(ch, "other")
            else:
                before = len(self.nodes)
                self.no_node_reason = "nothing"  # a handler that adds no step may say why
                getattr(self, "_" + ch.type)(ch)
                if len(self.nodes) == before:
                    self.skip(ch, self.no_node_reason)

    # ---- values ----

    def _region(self, ch: _Change) -> tuple[str | None, str]:
        return self.config.region(self.config.resource(ch.module, ch.type, ch.name))

    def _refs(self, ch: _Change, attr: str) -> list[str]:
        res = self.config.resource(ch.module, ch.type, ch.name)
        expr = ((res or {}).get("expressions") or {}).get(attr)
        refs = expr.get("references") if isinstance(expr, dict) else None
        return [str(r) for r in refs] if isinstance(refs, list) else []

    def _created_ref(self, ch: _Change, attr: str) -> str | None:
        """The address of an image this plan creates that ``attr`` refers to, if exactly one fits."""
        here = _module_path(ch.module)
        for ref in self._refs(ch, attr):
            m = _REF.match(ref)
            if not m or m.group(2) not in IMAGE_TYPES:
                continue
            key = ((*here, *_module_path(m.group(1))), f"{m.group(2)}.{m.group(3)}")
            instances = self.created.get(key, [])
            if m.group(4):  # a literal index: alicloud_image.app["web"]
                want = [a for _, a in instances if a.endswith(m.group(4))]
            elif len(instances) == 1:
                want = [instances[0][1]]
            else:  # count/for_each on both sides: the instance with the same key
                want = [a for k, a in instances if k is not None and k == ch.key]
            if len(want) == 1:
                return want[0]
        return None

    def _value(self, ch: _Change, node: _Node, param: str, attr: str, side: str = "after",
               placeholder: Any = UNKNOWN) -> Any:
        """The value of ``attr`` for request parameter ``param``; unknown values are recorded."""
        values = ch.after if side == "after" else ch.before
        marks = ch.after_sensitive if side == "after" else None
        if (marks is True or (isinstance(marks, dict) and marks.get(attr) is True)) and \
                isinstance(values.get(attr), str):
            self.sensitive.add(values[attr])
        if side == "after" and ch.after_unknown.get(attr) is True:
            created = self._created_ref(ch, attr) if attr in ("image_id", "source_image_id") else None
            if created is not None:
                return created
            node.unknown[param] = f"{ch.address}.{attr}"
            return placeholder
        return values.get(attr)

    def _set_region(self, ch: _Change, node: _Node, param: str = "RegionId") -> None:
        region, where = self._region(ch)
        if region is None:
            node.unknown[param] = where
            node.data[param] = UNKNOWN
        else:
            node.data[param] = region

    def _node(self, ch: _Change, phase: str, action: str, **params: Any) -> _Node:
        node = _Node(len(self.nodes), ch.address, phase, {"Action": action},
                     config_key=(_module_path(ch.module), f"{ch.type}.{ch.name}"),
                     label=f"{ch.path} ({ch.address})")
        node.data.update({k: v for k, v in params.items() if v is not None})
        return node

    def _add(self, node: _Node) -> None:
        node.order = len(self.nodes)
        self.nodes.append(node)

    def _in_order(self, ch: _Change, delete: _Node | None, create: _Node | None) -> None:
        pair = [delete, create] if ch.actions[0] == "delete" else [create, delete]
        for node in pair:
            if node is not None:
                self._add(node)

    # ---- resources ----

    def _image_create(self, ch: _Change) -> _Node:
        node = self._node(ch, "create", "CreateImage", creates=ch.address)
        self._set_region(ch, node)
        for param, attr in (("InstanceId", "instance_id"), ("SnapshotId", "snapshot_id"),
                            ("ImageFamily", "image_family"), ("Description", "description")):
            value = self._value(ch, node, param, attr)
            if value is not None:
                node.data[param] = value
        name = self._value(ch, node, "ImageName", "image_name")
        if name is None and "ImageName" not in node.unknown:
            name = self._value(ch, node, "ImageName", "name")  # the provider's deprecated spelling
        if name is not None:
            node.data["ImageName"] = name
        return node

    def _image_delete(self, ch: _Change) -> _Node:
        node = self._node(ch, "delete", "DeleteImage", ImageId=ch.before.get("id"),
                          Force=ch.before.get("force") if isinstance(ch.before.get("force"), bool) else None)
        self._set_region(ch, node)
        if not isinstance(ch.before.get("id"), str):
            raise _err(self.source, f"{ch.path}.change.before.id", "the image to delete has no id")
        return node

    def _image_update(self, ch: _Change, names: tuple[tuple[str, str], ...]) -> _Node | None:
        node = self._node(ch, "create", "ModifyImageAttribute", ImageId=ch.before.get("id"))
        self._set_region(ch, node)
        changed = False
        for param, attr in names:
            old = ch.before.get(attr)
            if ch.after_unknown.get(attr) is True or ch.after.get(attr) != old:
                value = self._value(ch, node, param, attr)
                node.data[param] = "" if value is None else value  # a removed family is ""
                changed = True
        return node if changed else None

    def _alicloud_image(self, ch: _Change) -> None:
        if ch.actions == ["update"]:
            node = self._image_update(ch, (("ImageFamily", "image_family"), ("ImageName", "image_name"),
                                           ("Description", "description")))
            if node is not None:
                self._add(node)
            return
        delete = self._image_delete(ch) if "delete" in ch.actions else None
        create = self._image_create(ch) if "create" in ch.actions else None
        self._in_order(ch, delete, create)

    def _alicloud_image_copy(self, ch: _Change) -> None:
        if ch.actions == ["update"]:
            node = self._image_update(ch, (("ImageName", "image_name"), ("Description", "description")))
            if node is not None:
                self._add(node)
            return
        delete = self._image_delete(ch) if "delete" in ch.actions else None
        create = None
        if "create" in ch.actions:
            create = self._node(ch, "create", "CopyImage", creates=ch.address)
            self._set_region(ch, create, "DestinationRegionId")
            for param, attr in (("RegionId", "source_region_id"), ("ImageId", "source_image_id"),
                                ("DestinationImageName", "image_name"), ("DestinationDescription", "description"),
                                ("KMSKeyId", "kms_key_id")):
                value = self._value(ch, create, param, attr)
                if value is not None:
                    create.data[param] = value
            encrypted = self._value(ch, create, "Encrypted", "encrypted", placeholder=None)
            if isinstance(encrypted, bool):
                create.data["Encrypted"] = encrypted
        self._in_order(ch, delete, create)

    def _alicloud_image_share_permission(self, ch: _Change) -> None:
        delete = create = None
        if "delete" in ch.actions or ch.actions == ["update"]:
            delete = self._node(ch, "delete", "ModifyImageSharePermission", ImageId=ch.before.get("image_id"),
                                RemoveAccount=[ch.before.get("account_id")])
            self._set_region(ch, delete)
        if "create" in ch.actions or ch.actions == ["update"]:
            create = self._node(ch, "create", "ModifyImageSharePermission")
            self._set_region(ch, create)
            create.data["ImageId"] = self._value(ch, create, "ImageId", "image_id")
            account = self._value(ch, create, "AddAccount", "account_id", placeholder=None)
            create.data["AddAccount"] = [] if account is None else [account]
        self._in_order(ch, delete, create)

    def _alicloud_instance(self, ch: _Change) -> None:
        if "create" in ch.actions:  # a replaced instance: its deletion changes no image
            node = self._node(ch, "create", "RunInstances")
            self._set_region(ch, node)
            value = self._value(ch, node, "ImageId", "image_id")
            if value is not None:
                node.data["ImageId"] = value
            for param, attr in (("LaunchTemplateId", "launch_template_id"),
                                ("LaunchTemplateName", "launch_template_name")):
                template = self._value(ch, node, param, attr)
                if template is not None:
                    node.data[param] = template
            self._add(node)
        elif ch.actions == ["update"] and (ch.after_unknown.get("image_id") is True
                                          or ch.after.get("image_id") != ch.before.get("image_id")):
            node = self._node(ch, "create", "ReplaceSystemDisk", InstanceId=ch.before.get("id"))
            self._set_region(ch, node)
            node.data["ImageId"] = self._value(ch, node, "ImageId", "image_id")
            self._add(node)

    def _alicloud_ess_scaling_configuration(self, ch: _Change) -> None:
        """Create: CreateScalingConfiguration; a changed image_id or image_name:
        ModifyScalingConfiguration. The region is the step's ``region`` key (the API has no RegionId)."""
        create = "create" in ch.actions
        changed = ch.actions == ["update"] and any(
            ch.after_unknown.get(a) is True or ch.after.get(a) != ch.before.get(a) for a in ("image_id", "image_name"))
        if not (create or changed):
            return  # a deletion, or an update of something else, changes no launch image
        region, _ = self._region(ch)
        if region is None:  # imagefam will not guess the region the call goes to
            self.no_node_reason = "ess-region"
            return
        if create:
            node = self._node(ch, "create", "CreateScalingConfiguration", creates=ch.address)
            node.data["ScalingGroupId"] = self._value(ch, node, "ScalingGroupId", "scaling_group_id")
        else:
            node = self._node(ch, "create", "ModifyScalingConfiguration", ScalingConfigurationId=ch.before.get("id"))
        node.data["region"] = region
        for param, attr in (("ImageId", "image_id"), ("ImageName", "image_name")):
            value = self._value(ch, node, param, attr)
            if value is not None:
                node.data[param] = value
        self._add(node)

    # ---- order ----

    def ordered(self, data: dict[str, Any]) -> list[_Node]:
        """The nodes in an order Terraform could apply them (stable: plan order breaks ties)."""
        deps: dict[Key, set[Key]] = {}
        keys = {n.config_key for n in self.nodes}
        for key in keys:
            res = self.config.resources.get(key) or {}
            found: set[Key] = set()
            for ref in _all_refs(res):
                m = _REF.match(ref) or re.match(r"^((?:module\.[A-Za-z0-9_-]+\.)*)([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)",
                                               ref)
                if m:
                    other = ((*key[0], *_module_path(m.group(1))), f"{m.group(2)}.{m.group(3)}")
                    if other in keys and other != key:
                        found.add(other)
            deps[key] = found
        by_key: dict[Key, list[_Node]] = {}
        for n in self.nodes:
            by_key.setdefault(n.config_key, []).append(n)
        after: dict[int, set[int]] = {n.order: set() for n in self.nodes}  # node -> nodes that must come first
        for n in self.nodes:
            same = by_key[n.config_key]
            for o in same:  # a replacement keeps its own order
                if o.order < n.order and o.address == n.address:
                    after[n.order].add(o.order)
            for dep in deps.get(n.config_key, ()):
                for o in by_key[dep]:
                    if n.phase == "create" and o.phase == "create":
                        after[n.order].add(o.order)  # created after what it refers to
                    elif n.phase == "delete" and o.phase == "delete":
                        after[o.order].add(n.order)  # destroyed before what it refers to
        return _topo(self.nodes, after)


def _all_refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("references", "depends_on") and isinstance(v, list):
                yield from (str(r) for r in v)
            else:
                yield from _all_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_refs(v)


def _topo(nodes: list[_Node], after: dict[int, set[int]]) -> list[_Node]:
    waiting = {k: set(v) for k, v in after.items()}
    users: dict[int, list[int]] = {}
    for k, firsts in waiting.items():
        for f in firsts:
            users.setdefault(f, []).append(k)
    ready = [k for k, v in waiting.items() if not v]
    heapq.heapify(ready)
    out: list[_Node] = []
    done: set[int] = set()
    while ready:
        k = heapq.heappop(ready)
        done.add(k)
        out.append(nodes[k])
        for u in users.get(k, ()):
            waiting[u].discard(k)
            if not waiting[u] and u not in done:
                heapq.heappush(ready, u)
    out.extend(n for n in nodes if n.order not in done)  # a cycle (not in a valid plan): plan order
    return out


def plan_from_terraform(data: Any, source: str, caller: str | None, terraform_dir: str | None = None) -> Plan:
    """Translate a ``terraform show -json`` plan; ``caller`` (the account applying it) is required.
    With ``terraform_dir`` (the configuration's folder), each step's source also names the file and
    line of its ``resource`` block."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a Terraform plan is a JSON object")
    version = data.get("format_version")
    if not isinstance(version, str) or not re.match(r"^[01]\.\d+$", version):
        raise _err(source, "format_version", f"expected a 0.x or 1.x version, got {version!r}")
    if caller is None:
        raise InputError(f"{source}: a Terraform plan names no caller: give --caller UID (the account that "
                         "applies it)")
    tr = _Translator(data, source)
    tr.run(data)
    nodes = tr.ordered(data)
    try:
        plan = plan_from_data({"caller": caller, "steps": [n.data for n in nodes]}, source)
    except InputError as err:  # name the resource change, not the step index
        labels = {str(i): n.label for i, n in enumerate(nodes)}
        raise InputError(re.sub(r"step (\d+)", lambda m: labels.get(m.group(1), m.group(0)), str(err))) from None
    where = {}
    if terraform_dir is not None:
        from . import terraform_locations

        where = terraform_locations(terraform_dir, tr.config.module_sources)
    for step, node in zip(plan.steps, nodes, strict=True):
        step.source = {"kind": "terraform", "address": node.address}
        if node.config_key in where:
            step.source["file"], step.source["line"] = where[node.config_key]
        step.unknown = dict(node.unknown)
    plan.skipped = tr.skipped
    plan.sensitive = tuple(sorted(tr.sensitive, key=lambda v: (-len(v), v)))  # longest first, for redact()
    return plan
