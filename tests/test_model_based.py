"""Model-based testing: random sequences of API calls through imagefam's checker (a Session, the
simulator the CLI uses) and through a deliberately simple reference model written here, in plain
Python from the documented behaviour. Both must agree on every decision (allow/deny and the error
codes) and on every family resolution, for every account, after every step.

Quotas are lowered (3 families per region, 4 images per family) by a user policy file, the way a
user would, so short random runs reach them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from imagefam import load_policy
from imagefam.engine.consumers import ConsumerStore
from imagefam.engine.loader import plan_from_data
from imagefam.engine.models import Image, Instance, ScalingConfiguration
from imagefam.engine.preflight import Session
from imagefam.engine.state import State
from imagefam.rules.errors import Source

ACCOUNTS = ("100001", "200002", "300003")
REGIONS = ("r1", "r2")
NAMES = ("web", "db", "api", "acs-x", "1bad", "aliyun-y", "", "Web", "ACS-x", "Aliyun-y")
FAMILY_LIMIT, IMAGE_LIMIT = 3, 4
POLICY = load_policy(sources=[Source("limits.rules", f"def family_limit = {FAMILY_LIMIT}\n"
                                                     f"def family_image_limit = {IMAGE_LIMIT}\n")])
NAME_RE = re.compile(r"[A-Za-z一-龥][A-Za-z0-9一-龥.:_-]{1,127}")
STEPS = int(os.environ.get("IMAGEFAM_MODEL_STEPS", "25"))
RUNS = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "40"))


@dataclass
class Img:
    id: str
    region: str
    owner: str | None
    family: str | None
    created: datetime
    status: str = "Available"
    shared: list[str] = field(default_factory=list)
    public: bool = False
    alias: str | None = None
    unknown: bool = False  # shared with accounts the state does not list (IsSelfShared)


@dataclass
class Cfg:
    """A scaling configuration: launches from ``image`` by id, else from ``family``."""

    id: str
    region: str
    owner: str
    family: str | None
    image: str | None
    active: bool = True
    group: str = ""


@dataclass
class Inst:
    id: str
    region: str
    owner: str
    image: str


class Reference:
    """The documented behaviour, written as plainly as possible."""

    def __init__(self) -> None:
        self.images: dict[str, Img] = {}
        self.clock = datetime(2020, 1, 1, tzinfo=UTC)
        self.configs: dict[str, Cfg] = {}
        self.instances: list[Inst] = []

    # consumers (Auto Scaling reference: ImageFamily launches the family's latest Available image;
    # an ImageId launches that image while it exists, Deprecated too)
    def launches(self, c: Cfg) -> str | None:
        if c.image is not None:
            i = self.images.get(c.image)
            ok = i is not None and i.region == c.region and i.status in ("Available", "Deprecated")
            return c.image if ok and i is not None and self.visible(i, c.owner) else None
        return self.resolve(c.family, c.region, c.owner) if c.family else None

    def consumer_denials(self, who: str, action: str, p: dict[str, object], img: Img) -> set[str]:
        """What a step on an image the caller owns does to the Active configurations and instances."""
        deny: set[str] = set()
        if action not in ("ModifyImageAttribute", "ModifyImageSharePermission", "DeleteImage"):
            return deny
        after = Reference()
        after.images = {k: replace(v, shared=list(v.shared)) for k, v in self.images.items()}
        after.clock = self.clock
        after.apply(who, action, p, "m-unused")
        for c in self.configs.values():
            if not c.active or self.launches(c) is None or after.launches(c) is not None:
                continue
            if c.image is None:
                deny.add("scaling-family-unresolvable")
            elif action != "ModifyImageAttribute":
                deny.add("scaling-image-removed")
        if action == "DeleteImage" and not p.get("Force") and any(
                i.image == img.id and i.region == img.region for i in self.instances):
            deny.add("ImageUsingByInstance")
        return deny

    def decide_scaling(self, who: str, action: str, p: dict[str, object]) -> set[str]:
        deny: set[str] = set()
        fam, image = p.get("ImageFamily"), p.get("ImageId")
        if fam and image:
            deny.add("scaling-config-image-and-family")
        if action == "ModifyScalingConfiguration":
            c = self.configs.get(str(p["ScalingConfigurationId"]))
            region = c.region if c is not None and c.owner == who else None
        else:
            region = str(p["region"])
        if fam and region is None:
            deny.add("scaling-config-region-unknown")  # fails closed: the family cannot be checked
        if fam and not image and region is not None and self.resolve(str(fam), region, who) is None:
            deny.add("scaling-config-family")
        return deny

    def apply_scaling(self, who: str, action: str, p: dict[str, object], new_id: str) -> None:
        fam, image = p.get("ImageFamily") or None, p.get("ImageId") or None
        if action == "CreateScalingConfiguration":
            group = str(p["ScalingGroupId"])  # a group's first configuration is active, a later one not
            self.configs[new_id] = Cfg(new_id, str(p["region"]), who, None if image else str(fam) if fam else None,
                                       str(image) if image else None,
                                       not any(c.group == group for c in self.configs.values()), group)
            return
        c = self.configs.get(str(p["ScalingConfigurationId"]))
        if c is None or c.owner != who:
            return
        if image is not None:
            c.image, c.family = str(image), None
        if fam is not None:
            c.family, c.image = str(fam), None

    # visibility and resolution (seed: "Family name visibility across accounts")
    def visible(self, i: Img, who: str) -> bool:
        return i.alias == "system" or i.owner == who or who in i.shared or i.public

    def seen_as(self, i: Img, who: str) -> str | None:
        if i.family is None:
            return None
        if i.alias == "system" or i.owner == who:
            return i.family
        return f"acs:{i.owner}:{i.family}"

    def resolve(self, name: str, region: str, who: str) -> str | None:
        ok = [i for i in self.images.values() if i.region == region and i.status == "Available"
              and self.visible(i, who) and self.seen_as(i, who) == name]
        return max(ok, key=lambda i: (i.created, i.id)).id if ok else None

    def families(self, owner: str, region: str, skip: str = "") -> set[str]:
        return {i.family for i in self.images.values() if i.owner == owner and i.region == region
                and i.family is not None and i.id != skip}

    def in_family(self, owner: str, region: str, name: str, skip: str = "") -> int:
        return sum(1 for i in self.images.values() if i.owner == owner and i.region == region
                   and i.family == name and i.id != skip)

    @staticmethod
    def bad_name(f: str) -> bool:
        """The reserved prefixes as the sources write them (other letter cases only warn)."""
        return (f.startswith("acs") or f.startswith("aliyun") or "http://" in f or "https://" in f
                or NAME_RE.fullmatch(f) is None)

    def decide(self, who: str, action: str, p: dict[str, object]) -> set[str]:
        """The error codes (or rule markers) of the deny rules that apply; empty means allowed."""
        deny: set[str] = set()
        fam = p.get("ImageFamily")
        region = str(p.get("RegionId"))
        img = self.images.get(str(p.get("ImageId"))) if "ImageId" in p else None
        if img is not None and img.region != region:
            img = None  # image IDs are regional: in another region it is not found
        if img is not None and not self.visible(img, who):
            img = None  # an image the caller cannot see does not exist for it
        owned = img is not None and img.owner == who
        if action in ("CreateImage", "ModifyImageAttribute") and isinstance(fam, str) and fam:
            if self.bad_name(fam):
                deny.add("InvalidImageFamily.Malformed")
            skip = str(p.get("ImageId", ""))
            fams = self.families(who, region, skip)
            if fam not in fams and len(fams) >= FAMILY_LIMIT and (action == "CreateImage" or owned):
                deny.add("ImageFamilyQuotaExceed" if action == "CreateImage" else "ImageFamilyQuotaFull")
            if action == "CreateImage" and self.in_family(who, region, fam) >= IMAGE_LIMIT:
                deny.add("ImageQuotaExceed.ImageFamily")
            if (action == "ModifyImageAttribute" and owned and img is not None and img.family != fam
                    and self.in_family(who, region, fam, skip) >= IMAGE_LIMIT):
                deny.add("ImageQuotaFull.ImageFamily")
        # DeleteImage of an image that is not there: "the request is ignored" (a warning, no deny)
        if "ImageId" in p and img is None and action != "DeleteImage":
            deny.add("InvalidImageId.NotFound")
        if img is None:
            own_acs = isinstance(fam, str) and fam.startswith(f"acs:{who}:")  # a warning, no prediction
            if (action in ("RunInstances",) and fam and not own_acs
                    and self.resolve(str(fam), region, who) is None):
                deny.add("InvalidImageFamily.MissingAvailableImage")
            return deny
        if owned:
            deny |= self.consumer_denials(who, action, p, img)
        shared = bool(img.shared) or img.public or img.unknown
        creating = img.status in ("Creating", "Waiting")
        if action in ("ModifyImageAttribute", "ModifyImageSharePermission", "DeleteImage") and not owned:
            deny.add("InvalidImageId.NotFound")  # owner-only; nothing that presumes ownership follows
        if action == "ModifyImageAttribute":
            st_ = p.get("Status")
            if st_ is not None and img.alias is not None:
                deny.add("deprecate-custom-only")
            if owned:
                if fam == "" and img.family is not None:
                    deny.add("family-cannot-be-removed")
                if st_ == "Deprecated" and img.status != "Available":
                    deny.add("ImageStatus.NotAvailable")
                if st_ == "Available" and img.status != "Deprecated":
                    deny.add("ImageStatus.NotDeprecated")
                if st_ == "Deprecated" and shared:
                    deny.add("ImageUseShared")
                if st_ is None and creating:
                    deny.add("InvalidStatus.ImageIsCreating")
        if action == "DeleteImage" and owned:
            if shared:
                deny.add("ImageUseShared")
            if creating:
                deny.add("delete-while-creating")  # DeleteImage documents no code for it
        if action == "ModifyImageSharePermission" and owned and img.status == "Deprecated" and (
                p.get("AddAccount") or p.get("IsPublic") is True):
            deny.add("deprecated-cannot-be-shared")
        if action == "CopyImage":
            if img.alias is not None or img.status != "Available":
                deny.add("copy-available-custom-only")
            if img.public and img.owner != who and who not in img.shared:
                deny.add("copy-community-image")
        if action == "RunInstances" and img.status not in ("Available", "Deprecated"):
            deny.add("launch-image-status")
        return deny

    def apply(self, who: str, action: str, p: dict[str, object], new_id: str) -> None:
        self.clock += timedelta(seconds=1)
        if action == "CreateImage":
            fam = p.get("ImageFamily")
            self.images[new_id] = Img(new_id, str(p["RegionId"]), who, str(fam) if fam else None, self.clock)
            return
        if action == "RunInstances":
            return  # launches change nothing
        img = self.images.get(str(p["ImageId"]))
        if img is None or img.region != p["RegionId"]:
            return  # DeleteImage of an image that is not there: ignored
        if action != "CopyImage" and img.owner != who:
            return  # only the owner changes or deletes an image
        if action == "CopyImage":
            self.images[new_id] = Img(new_id, str(p["DestinationRegionId"]), who, None, self.clock)
        elif action == "ModifyImageAttribute":
            if p.get("ImageFamily") is not None:
                img.family = str(p["ImageFamily"]) or None
            if p.get("Status") is not None:
                img.status = str(p["Status"])
        elif action == "ModifyImageSharePermission":
            removed = set(list(p.get("RemoveAccount", []))[:10])  # type: ignore[call-overload]
            added = [a for a in list(p.get("AddAccount", []))[:10] if a not in removed]  # type: ignore[call-overload]
            img.shared = list(dict.fromkeys([a for a in img.shared if a not in removed] + added))
            if p.get("IsPublic") is not None:
                img.public = bool(p["IsPublic"])
        elif action == "DeleteImage":
            del self.images[img.id]


@settings(max_examples=RUNS, stateful_step_count=STEPS, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
class CheckerMatchesReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ref = Reference()
        self.n = 0
        self.steps = 0

    @initialize(seed_images=st.lists(st.tuples(st.sampled_from(REGIONS), st.sampled_from(ACCOUNTS),
                                               st.sampled_from(("web", "db", None)),
                                               st.sampled_from(("Available", "Deprecated", "Creating", "Waiting")),
                                               st.lists(st.sampled_from(ACCOUNTS), max_size=2, unique=True),
                                               st.booleans(), st.sampled_from((False, False, True))),
                                     max_size=6),
                seed_configs=st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(REGIONS),
                                                st.integers(0, 8), st.sampled_from(ACCOUNTS), st.booleans()),
                                      max_size=4),
                seed_instances=st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 7)), max_size=3))
    def seed(self, seed_images: list[tuple[str, str, str | None, str, list[str], bool, bool]],
             seed_configs: list[tuple[str, str, int, str, bool]], seed_instances: list[tuple[str, int]]) -> None:
        engine: list[Image] = []
        for k, (region, owner, fam, status, shared, public, unknown) in enumerate(seed_images):
            iid = f"m-s{k}"
            self.ref.images[iid] = Img(iid, region, owner, fam, self.ref.clock, status,
                                       [a for a in shared if a != owner], public, unknown=unknown)
            self.ref.clock += timedelta(seconds=1)
        sys_img = Img("m-sys", "r1", None, "acs:os", self.ref.clock, alias="system")
        self.ref.images["m-sys"] = sys_img
        for i in self.ref.images.values():
            engine.append(Image(ImageId=i.id, RegionId=i.region, ImageOwnerId=i.owner, ImageFamily=i.family,
                                CreationTime=i.created, Status=i.status,  # type: ignore[arg-type]
                                SharedWith=tuple(i.shared), IsPublic=i.public, SharedWithUnknown=i.unknown,
                                ImageOwnerAlias=i.alias))  # type: ignore[arg-type]
        state = State.of(engine, taken_at=self.ref.clock)
        ids = sorted(self.ref.images)
        for k, (owner, region, pick, fam_owner, active) in enumerate(seed_configs):
            if pick < len(ids):  # pinned to a seeded image
                cfg = Cfg(f"asc-s{k}", region, owner, None, ids[pick], active)
            else:
                name = "web" if fam_owner == owner else f"acs:{fam_owner}:web"
                cfg = Cfg(f"asc-s{k}", region, owner, name, None, active)
            cfg.group = f"asg-{cfg.id}"
            self.ref.configs[cfg.id] = cfg
        for k, (owner, pick) in enumerate(seed_instances):
            img = self.ref.images[ids[pick % len(ids)]]
            self.ref.instances.append(Inst(f"i-s{k}", img.region, owner, img.id))
        state.consumers = ConsumerStore(
            [ScalingConfiguration(c.id, f"asg-{c.id}", c.region, c.owner, c.family, c.image, None,
                                  "Active" if c.active else "Inactive") for c in self.ref.configs.values()],
            [Instance(i.id, i.region, i.owner, i.image) for i in self.ref.instances])
        self.session = Session(state, POLICY)

    def _image_ids(self) -> list[str]:
        return [*sorted(self.ref.images), "m-missing"]

    def _do(self, who: str, action: str, params: dict[str, object]) -> None:
        self.n += 1
        new_id = f"m-n{self.n}"
        step = {"Action": action, **params, "caller": who}
        if action in ("CreateImage", "CopyImage", "CreateScalingConfiguration"):
            step["creates"] = new_id
        result = self.session.step(plan_from_data({"steps": [step]}).steps[0])
        scaling = action.endswith("ScalingConfiguration")
        expected = (self.ref.decide_scaling if scaling else self.ref.decide)(who, action, params)
        got = {f.error_code or f.rule for f in result.violations}
        assert got == expected, (action, params, who, got, expected)
        if action == "RunInstances" and params.get("ImageFamily"):
            want = self.ref.resolve(str(params["ImageFamily"]), str(params["RegionId"]), who)
            assert result.resolved_image_id == want
        if not expected:
            (self.ref.apply_scaling if scaling else self.ref.apply)(who, action, params, new_id)
        self.steps += 1

    @rule(who=st.sampled_from(ACCOUNTS), region=st.sampled_from(REGIONS), owner=st.sampled_from(ACCOUNTS),
          pin=st.booleans(), data=st.data())
    def scale_create(self, who: str, region: str, owner: str, pin: bool, data: st.DataObject) -> None:
        params: dict[str, object] = {"ScalingGroupId": f"asg-{who}", "region": region}
        if pin:
            params["ImageId"] = data.draw(st.sampled_from(self._image_ids()))
        if not pin or data.draw(st.booleans()):
            params["ImageFamily"] = "web" if owner == who else f"acs:{owner}:web"
        self._do(who, "CreateScalingConfiguration", params)

    @rule(who=st.sampled_from(ACCOUNTS), owner=st.sampled_from(ACCOUNTS), data=st.data())
    def scale_modify(self, who: str, owner: str, data: st.DataObject) -> None:
        if not self.ref.configs:
            return
        cid = data.draw(st.sampled_from(sorted(self.ref.configs)))
        params: dict[str, object] = {"ScalingConfigurationId": cid}
        if data.draw(st.booleans()):
            params["ImageId"] = data.draw(st.sampled_from(self._image_ids()))
        else:
            params["ImageFamily"] = data.draw(st.sampled_from(("web", "db", f"acs:{owner}:web")))
        self._do(who, "ModifyScalingConfiguration", params)

    @rule(who=st.sampled_from(ACCOUNTS), data=st.data())
    def force_delete(self, who: str, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._image_ids()))
        region = self.ref.images[iid].region if iid in self.ref.images else "r1"
        self._do(who, "DeleteImage", {"RegionId": region, "ImageId": iid, "Force": True})

    @rule(who=st.sampled_from(ACCOUNTS), region=st.sampled_from(REGIONS), fam=st.sampled_from(NAMES))
    def create(self, who: str, region: str, fam: str) -> None:
        self._do(who, "CreateImage", {"RegionId": region, "ImageFamily": fam})

    @rule(who=st.sampled_from(ACCOUNTS), data=st.data(), status=st.sampled_from(("Deprecated", "Available", None)),
          fam=st.sampled_from((None, *NAMES)))
    def modify(self, who: str, data: st.DataObject, status: str | None, fam: str | None) -> None:
        iid = data.draw(st.sampled_from(self._image_ids()))
        region = self.ref.images[iid].region if iid in self.ref.images else "r1"
        params: dict[str, object] = {"RegionId": region, "ImageId": iid}
        if status:
            params["Status"] = status
        if fam is not None:
            params["ImageFamily"] = fam
        self._do(who, "ModifyImageAttribute", params)

    @rule(who=st.sampled_from(ACCOUNTS), data=st.data(), add=st.lists(st.sampled_from(ACCOUNTS), max_size=2),
          remove=st.lists(st.sampled_from(ACCOUNTS), max_size=2), public=st.sampled_from((None, True, False)))
    def share(self, who: str, data: st.DataObject, add: list[str], remove: list[str], public: bool | None) -> None:
        iid = data.draw(st.sampled_from(self._image_ids()))
        region = self.ref.images[iid].region if iid in self.ref.images else "r1"
        params: dict[str, object] = {"RegionId": region, "ImageId": iid, "AddAccount": add, "RemoveAccount": remove}
        if public is not None:
            params["IsPublic"] = public
        self._do(who, "ModifyImageSharePermission", params)

    @rule(who=st.sampled_from(ACCOUNTS), data=st.data())
    def delete(self, who: str, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._image_ids()))
        region = self.ref.images[iid].region if iid in self.ref.images else "r2"
        if data.draw(st.integers(0, 9)) == 0:  # now and then, the right id in the wrong region
            region = "r2" if region == "r1" else "r1"
        self._do(who, "DeleteImage", {"RegionId": region, "ImageId": iid})

    @rule(who=st.sampled_from(ACCOUNTS), data=st.data(), dest=st.sampled_from(REGIONS))
    def copy(self, who: str, data: st.DataObject, dest: str) -> None:
        iid = data.draw(st.sampled_from(self._image_ids()))
        region = self.ref.images[iid].region if iid in self.ref.images else "r1"
        self._do(who, "CopyImage", {"RegionId": region, "ImageId": iid, "DestinationRegionId": dest})

    @rule(who=st.sampled_from(ACCOUNTS), region=st.sampled_from(REGIONS), owner=st.sampled_from(ACCOUNTS),
          fam=st.sampled_from(("web", "db", "api")), own_acs=st.sampled_from((False, False, True)))
    def launch(self, who: str, region: str, owner: str, fam: str, own_acs: bool) -> None:
        name = fam if owner == who and not own_acs else f"acs:{owner}:{fam}"
        self._do(who, "RunInstances", {"RegionId": region, "ImageFamily": name})

    @invariant()
    def resolutions_agree(self) -> None:
        if not hasattr(self, "session"):
            return
        for who in ACCOUNTS:
            for owner in ACCOUNTS:
                for fam in ("web", "db", "api"):
                    name = fam if owner == who else f"acs:{owner}:{fam}"
                    for region in REGIONS:
                        got = self.session.resolve(name, region, who) if self.session.resolve else None
                        assert (got.ImageId if got else None) == self.ref.resolve(name, region, who)

    @invariant()
    def consumers_agree(self) -> None:
        if not hasattr(self, "session"):
            return
        engine = {c.ScalingConfigurationId: (c.RegionId, c.OwnerId, c.ImageFamily, c.ImageId)
                  for c in self.session.state.consumers.configs.values()}
        assert engine == {c.id: (c.region, c.owner, c.family, c.image) for c in self.ref.configs.values()}

    @invariant()
    def images_agree(self) -> None:
        if not hasattr(self, "session"):
            return
        engine = {i.ImageId: (i.RegionId, i.ImageOwnerId, i.ImageFamily, i.Status, list(i.SharedWith), i.IsPublic,
                              i.SharedWithUnknown)
                  for i in self.session.state.images}
        ref = {i.id: (i.region, i.owner, i.family, i.status, i.shared, i.public, i.unknown)
               for i in self.ref.images.values()}
        assert engine == ref


TestCheckerMatchesReference = CheckerMatchesReference.TestCase


def test_reference_is_not_vacuous() -> None:
    """The reference model really denies: a shared image cannot be deprecated."""
    ref = Reference()
    ref.images["m"] = Img("m", "r1", "1", "web", ref.clock, shared=["2"])
    assert ref.decide("1", "ModifyImageAttribute", {"RegionId": "r1", "ImageId": "m", "Status": "Deprecated"}) \
        == {"ImageUseShared"}
    _ = replace  # keep dataclasses.replace imported for readers extending the model
