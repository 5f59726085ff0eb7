"""Deterministic generator of realistic imagefam state and plan files for the benchmarks.

    python bench/gen.py state N [out.json] [--seed S]
    python bench/gen.py plan K --state state.json [out.json] [--seed S]

Defaults write to ``bench/data/`` (git-ignored): ``state-<N>.json`` and ``plan-<K>-<state>.json``.
Files are written atomically (temp file in the same folder, then rename).

State shape (N images):

* about N/1000 custom accounts (16-digit UIDs), account sizes log-normally spread around 1000 images;
* 10 regions; each account works in 1-6 of them, most of its images in its home region;
* per account and region at most 100 families and at most 100 images per family (the quotas),
  family names drawn with a Zipf-like skew from a vocabulary of role-os-env names, so popular
  names ("web-alinux3-prod") are used by many accounts, as in real life; ~8% of images have no family;
* statuses mostly Available, some Deprecated (older images), some Creating / CreateFailed / UnAvailable;
* ~4% of non-deprecated images shared with 1-5 other accounts, ~0.5% community (IsPublic);
* a few system images per region (``ImageOwnerAlias: system``, ``acs:ubuntu_24_04_x64`` families);
* the list is sorted newest first, as ``DescribeImages`` returns it.

Plans (K steps) mix CreateImage, ModifyImageAttribute (deprecate / restore / family change / rename),
ModifyImageSharePermission, CopyImage, DeleteImage, RunInstances (own family names,
``acs:<uid>:<family>`` names of shared and community images, system families, by ImageId) and
DescribeImageFromFamily, each called by the account that makes sense for it. The generator tracks
the effects of the steps it emits so later steps reference images that still exist; a few steps
are meant to be denied (reserved family names, deprecating shared images, full families...).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import random
import string
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
DEFAULT_SEED = 20250601
TAKEN_AT = datetime(2025, 6, 1, tzinfo=UTC)

# Region ids with the 3-character prefix their custom image ids carry, and a popularity weight.
REGIONS: list[tuple[str, str, float]] = [
    ("cn-hangzhou", "bp1", 10.0), ("cn-shanghai", "uf6", 8.0), ("cn-beijing", "2ze", 7.0),
    ("cn-shenzhen", "wz9", 5.0), ("cn-zhangjiakou", "8vb", 3.0), ("cn-hongkong", "j6c", 3.0),
    ("ap-southeast-1", "t4n", 3.0), ("us-west-1", "rj9", 1.5), ("eu-central-1", "gw8", 1.5),
    ("ap-northeast-1", "6we", 1.0),
]
REGION_IDS = [r for r, _, _ in REGIONS]
REGION_PREFIX = {r: p for r, p, _ in REGIONS}

ROLES = ["web", "api", "app", "worker", "batch", "gateway", "nginx", "redis", "mysql", "kafka",
         "es", "ml-train", "ml-infer", "jenkins", "gitlab-runner", "base", "golden", "k8s-node",
         "ack-node", "bastion", "monitor", "log", "etl", "spark", "flink", "cache", "db-proxy",
         "frontend", "backend", "payment", "search", "auth", "cms", "crm", "erp", "game-server",
         "media", "ftp", "vpn", "ci"]
OSES = ["alinux3", "centos7", "ubuntu2204", "ubuntu2404", "debian12", "rocky9", "anolis8", "win2022"]
ENVS = ["-prod", "", "-staging", "-dev", "-test"]

# System (public) families: (family, image id stem, image name).
SYSTEM = [
    ("acs:ubuntu_24_04_x64", "ubuntu_24_04_x64_20G_alibase", "Ubuntu 24.04 64 bit"),
    ("acs:ubuntu_22_04_x64", "ubuntu_22_04_x64_20G_alibase", "Ubuntu 22.04 64 bit"),
    ("acs:alibaba_cloud_linux_3_2104_lts_x64", "aliyun_3_x64_20G_alibase", "Alibaba Cloud Linux 3.2104 LTS 64 bit"),
    ("acs:centos_7_9_x64", "centos_7_9_x64_20G_alibase", "CentOS 7.9 64 bit"),
    ("acs:debian_12_x64", "debian_12_x64_20G_alibase", "Debian 12 64 bit"),
    ("acs:windows_server_2022_dc_x64_cn", "win2022_dc_x64_cn-cn_40G_alibase", "Windows Server 2022 DC 64 bit"),
]
SYSTEM_VERSIONS = 3  # images per system family and region

_ALNUM = string.ascii_lowercase + string.digits


def family_vocabulary() -> list[str]:
    """Every family name the generator uses, most popular first (role, then os, then env)."""
    names = []
    for env, os_, role in itertools.product(ENVS, OSES, ROLES):
        names.append(f"{role}-{os_}{env}")
    # Interleave so popularity falls off over roles first: web-alinux3-prod, api-alinux3-prod, ...
    return names


class Zipf:
    """Draws indexes 0..n-1 with weight 1/(i+1)**s."""

    def __init__(self, n: int, s: float) -> None:
        acc, self.cum = 0.0, []
        for i in range(n):
            acc += 1.0 / (i + 1) ** s
            self.cum.append(acc)
        self.total = acc

    def draw(self, rng: random.Random) -> int:
        return bisect.bisect_left(self.cum, rng.random() * self.total)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path: Path, chunks: Iterable[str]) -> None:
    """Write text chunks to ``path`` through a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- state


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    rest = total - sum(out)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[:rest]:
        out[i] += 1
    return out


def _family_sizes(n: int, f: int, rng: random.Random) -> list[int]:
    """``n`` images over ``f`` families, skewed, each at most 100; any overflow is returned last."""
    weights = [1.0 / (j + 1) ** 0.7 * rng.uniform(0.6, 1.4) for j in range(f)]
    sizes = _split(n, weights)
    spill = 0
    for j, s in enumerate(sizes):
        if s > 100:
            spill += s - 100
            sizes[j] = 100
    for j in range(f):  # move the overflow into families with room
        if not spill:
            break
        room = min(100 - sizes[j], spill)
        sizes[j] += room
        spill -= room
    return [*sizes, spill]


def hash_day(text: str) -> int:
    """A small stable number from a string (str hashes vary between runs)."""
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(text))


def generate_state(n: int, seed: int = DEFAULT_SEED,
                   regional_public_ids: bool = False) -> tuple[str | None, list[dict[str, Any]]]:
    """The state's images as JSON-ready dicts, newest first."""
    rng = random.Random(seed)
    images: list[tuple[datetime, dict[str, Any]]] = []
    used_ids: set[str] = set()

    def new_id(prefix: str) -> str:
        while True:
            image_id = "m-" + prefix + "".join(rng.choices(_ALNUM, k=17))
            if image_id not in used_ids:
                used_ids.add(image_id)
                return image_id

    # System images: a few versions of each public family in every region.
    for region in REGION_IDS:
        for fam, stem, name in SYSTEM:
            for v in range(SYSTEM_VERSIONS):
                # ECS gives a public image one ImageId in every region (same date everywhere);
                # regional_public_ids makes them unique, for loaders that reject repeats.
                t = TAKEN_AT - timedelta(days=30 + 120 * v + (hash_day(fam) % 30), seconds=3600 * v)
                image_id = f"{stem}_{t:%Y%m%d}.vhd"
                if regional_public_ids:
                    image_id = f"{stem}_{t:%Y%m%d}_{REGION_PREFIX[region]}.vhd"
                used_ids.add(image_id)
                images.append((t, {"ImageId": image_id, "RegionId": region, "ImageOwnerAlias": "system",
                                   "ImageFamily": fam, "ImageName": f"{name} {t:%Y%m%d}",
                                   "CreationTime": iso(t), "Status": "Available"}))
    n_custom = max(0, n - len(images))
    if n < len(images):
        images = images[:n]
    n_accounts = max(1, round(n_custom / 1000)) if n_custom else 0
    uids: list[str] = []
    seen_uids: set[str] = set()
    while len(uids) < n_accounts:
        uid = str(rng.randrange(10**15, 10**16))
        if uid not in seen_uids:
            seen_uids.add(uid)
            uids.append(uid)
    # Account sizes: log-normal around the mean, at most 6 regions x 100 families x 100 images.
    sizes = _split(n_custom, [rng.lognormvariate(0, 0.7) for _ in uids]) if uids else []
    vocab = family_vocabulary()
    zipf = Zipf(len(vocab), 0.9)
    region_weights = [w for _, _, w in REGIONS]

    for uid, size in zip(uids, sizes, strict=True):
        k = min(len(REGIONS), 1 + min(5, int(rng.expovariate(0.7))))
        regions: list[str] = []
        while len(regions) < k:
            r = rng.choices(REGION_IDS, region_weights)[0]
            if r not in regions:
                regions.append(r)
        k = max(k, math.ceil(size / 9000))  # keep every account-region within the quotas
        while len(regions) < k:
            regions.append(next(r for r in REGION_IDS if r not in regions))
        per_region = _split(size, [0.5 ** i * rng.uniform(0.7, 1.3) for i in range(k)])
        for region, m in zip(regions, per_region, strict=True):
            if not m:
                continue
            prefix = REGION_PREFIX[region]
            familied = round(m * 0.92)
            mean_family = rng.uniform(6, 30)
            f = max(1, min(100, round(familied / mean_family), m), math.ceil(familied / 100))
            names: list[str] = []
            taken: set[str] = set()
            while len(names) < f:
                name = vocab[zipf.draw(rng)]
                if name not in taken:
                    taken.add(name)
                    names.append(name)
            fsizes = _family_sizes(familied, f, rng)
            groups = [(names[j], fsizes[j]) for j in range(f)] + [(None, fsizes[f] + m - familied)]
            for fam, count in groups:
                # A family's images: a release every few days, newest first; old ones deprecated.
                t = TAKEN_AT - timedelta(days=rng.uniform(0, 20))
                gap = rng.uniform(1, 12)
                for v in range(count):
                    age = v  # 0 = newest
                    r = rng.random()
                    if age == 0 and r < 0.04:
                        status = "Creating"
                    elif r < 0.015:
                        status = "CreateFailed" if r < 0.008 else "UnAvailable"
                    elif age >= 3 and r < 0.02 + min(0.5, age * 0.012):
                        status = "Deprecated"
                    else:
                        status = "Available"
                    d: dict[str, Any] = {"ImageId": new_id(prefix), "RegionId": region, "ImageOwnerId": uid}
                    if fam is not None:
                        d["ImageFamily"] = fam
                    stem = fam or rng.choice(ROLES)
                    d["ImageName"] = f"{stem}-{t:%Y%m%d}-v{count - v}"
                    d["CreationTime"] = iso(t)
                    d["Status"] = status
                    if status != "Deprecated":
                        s = rng.random()
                        if s < 0.04 and n_accounts > 1:
                            d["SharedWith"] = [u for u in rng.sample(uids, min(len(uids), rng.randint(2, 6)))
                                               if u != uid][:5]
                        elif s < 0.045:
                            d["IsPublic"] = True
                    if rng.random() < 0.2:
                        d["Description"] = f"built by pipeline {rng.randrange(1, 999)}"
                    images.append((t, d))
                    t -= timedelta(days=gap * rng.uniform(0.5, 1.5), seconds=rng.randrange(3600))
    images.sort(key=lambda p: (p[0], p[1]["ImageId"]), reverse=True)
    return iso(TAKEN_AT), [d for _, d in images]


def state_chunks(taken_at: str | None, images: list[dict[str, Any]]) -> Iterator[str]:
    yield '{"TakenAt": ' + json.dumps(taken_at) + ', "Images": [\n'
    dumps = json.JSONEncoder(separators=(", ", ": ")).encode
    batch: list[str] = []
    for i, d in enumerate(images):
        batch.append(dumps(d))
        if len(batch) == 5000 or i == len(images) - 1:
            yield ",\n".join(batch) + (",\n" if i < len(images) - 1 else "\n")
            batch = []
    yield "]}\n"


def write_state(n: int, out: Path, seed: int = DEFAULT_SEED, regional_public_ids: bool = False) -> Path:
    taken_at, images = generate_state(n, seed, regional_public_ids)
    write_atomic(out, state_chunks(taken_at, images))
    return out


# ---------------------------------------------------------------- plans


class _Img:
    __slots__ = ("family", "id", "owner", "public", "region", "shared", "status", "system")

    def __init__(self, d: dict[str, Any]) -> None:
        self.id: str = d["ImageId"]
        self.region: str = d["RegionId"]
        self.owner: str | None = d.get("ImageOwnerId")
        self.family: str | None = d.get("ImageFamily") or None
        self.status: str = d["Status"]
        self.shared: list[str] = list(d.get("SharedWith") or ())
        self.public: bool = bool(d.get("IsPublic"))
        self.system: bool = d.get("ImageOwnerAlias") is not None


class _World:
    """The generator's own light model of the state, updated as steps are emitted."""

    def __init__(self, images: list[dict[str, Any]], rng: random.Random) -> None:
        self.rng = rng
        self.by_id: dict[str, _Img] = {}
        self.owned: dict[str, list[str]] = {}  # uid -> image ids (may hold deleted ids; checked on use)
        self.families: dict[tuple[str, str], dict[str, int]] = {}  # (uid, region) -> family -> count
        self.shared_with: dict[str, list[str]] = {}  # uid -> ids shared with it
        self.community: list[str] = []
        self.system: list[_Img] = []
        self.regions: list[str] = REGION_IDS  # where CopyImage may copy to
        for d in images:
            img = _Img(d)
            self.by_id[img.id] = img
            if img.system:
                self.system.append(img)
                continue
            assert img.owner is not None
            self.owned.setdefault(img.owner, []).append(img.id)
            if img.family:
                fams = self.families.setdefault((img.owner, img.region), {})
                fams[img.family] = fams.get(img.family, 0) + 1
            for u in img.shared:
                self.shared_with.setdefault(u, []).append(img.id)
            if img.public:
                self.community.append(img.id)
        self.uids = sorted(self.owned)
        # Busy accounts call more often: pick callers in proportion to their image counts.
        self.cum = list(itertools.accumulate(len(self.owned[u]) for u in self.uids))

    def caller(self) -> str:
        return self.uids[bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])]

    def own(self, uid: str, want: Any = None) -> _Img | None:
        ids = self.owned[uid]
        for _ in range(12):
            img = self.by_id.get(ids[self.rng.randrange(len(ids))])
            if img is not None and (want is None or want(img)):
                return img
        return None

    def add(self, img: _Img) -> None:
        self.by_id[img.id] = img
        assert img.owner is not None
        self.owned[img.owner].append(img.id)
        if img.family:
            fams = self.families.setdefault((img.owner, img.region), {})
            fams[img.family] = fams.get(img.family, 0) + 1

    def set_family(self, img: _Img, fam: str | None) -> None:
        assert img.owner is not None
        fams = self.families.setdefault((img.owner, img.region), {})
        if img.family:
            fams[img.family] -= 1
            if not fams[img.family]:
                del fams[img.family]
        img.family = fam
        if fam:
            fams[fam] = fams.get(fam, 0) + 1

    def delete(self, img: _Img) -> None:
        self.set_family(img, None)
        del self.by_id[img.id]


def _plan_steps(world: _World, k: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    vocab = family_vocabulary()
    created = 0
    actions = ["CreateImage", "ModifyImageAttribute", "ModifyImageSharePermission", "CopyImage",
               "DeleteImage", "RunInstances", "DescribeImageFromFamily"]
    weights = [16, 16, 9, 6, 7, 34, 12]
    emitted = 0
    while emitted < k:
        action = rng.choices(actions, weights)[0]
        uid = world.caller()
        step: dict[str, Any] | None = None
        if action == "CreateImage":
            img = world.own(uid)
            if img is None:
                continue
            fams = world.families.get((uid, img.region), {})
            r = rng.random()
            if r < 0.75 and fams:
                fam = rng.choice(list(fams))  # a new version of an existing family
            elif r < 0.97:
                fam = rng.choice(vocab)  # maybe a new family
            else:
                fam = rng.choice(["acs-base", "aliyun-web", "Acs:ubuntu", "9lives", "x"])  # denied (Acs: only warns)
            step = {"Action": "CreateImage", "RegionId": img.region, "ImageFamily": fam,
                    "InstanceId": "i-" + REGION_PREFIX[img.region] + "".join(rng.choices(_ALNUM, k=17)),
                    "ImageName": f"{fam}-build-{emitted}", "ImageVersion": f"1.{emitted}"}
            created += 1
            new_id = "m-" + REGION_PREFIX[img.region] + "bench" + format(created, "012d")
            if rng.random() < 0.5:
                step["creates"] = new_id
            else:
                new_id = f"m-imagefam-step{emitted}"
            if not fam.lower().startswith(("acs", "aliyun")) and fam[0].isalpha() and len(fam) > 1 \
                    and fams.get(fam, 0) < 100:
                world.add(_Img({"ImageId": new_id, "RegionId": img.region, "ImageOwnerId": uid,
                                "ImageFamily": fam, "Status": "Available"}))
        elif action == "ModifyImageAttribute":
            r = rng.random()
            if r < 0.4:  # deprecate (roll back) the family's image; shared ones are denied
                img = world.own(uid, lambda i: i.status == "Available" and i.family is not None)
                if img is None:
                    continue
                step = {"Action": action, "RegionId": img.region, "ImageId": img.id, "Status": "Deprecated"}
                if not img.shared and not img.public:
                    img.status = "Deprecated"
            elif r < 0.65:  # restore
                img = world.own(uid, lambda i: i.status == "Deprecated")
                if img is None:
                    continue
                step = {"Action": action, "RegionId": img.region, "ImageId": img.id, "Status": "Available"}
                img.status = "Available"
            elif r < 0.9:  # move to another family
                img = world.own(uid)
                if img is None:
                    continue
                fams = world.families.get((uid, img.region), {})
                fam = rng.choice(list(fams)) if fams and rng.random() < 0.6 else rng.choice(vocab)
                step = {"Action": action, "RegionId": img.region, "ImageId": img.id, "ImageFamily": fam}
                if fams.get(fam, 0) < 100 and (fam in fams or len(fams) < 100):
                    world.set_family(img, fam)
            else:  # rename
                img = world.own(uid)
                if img is None:
                    continue
                step = {"Action": action, "RegionId": img.region, "ImageId": img.id,
                        "ImageName": f"renamed-{emitted}", "Description": "renamed by the bench plan"}
        elif action == "ModifyImageSharePermission":
            img = world.own(uid, lambda i: i.status != "Deprecated")
            if img is None:
                continue
            step = {"Action": action, "RegionId": img.region, "ImageId": img.id}
            if img.shared and rng.random() < 0.4:
                gone = rng.sample(img.shared, rng.randint(1, len(img.shared)))
                step["RemoveAccount"] = gone
                img.shared = [u for u in img.shared if u not in gone]
            elif rng.random() < 0.05:
                step["IsPublic"] = not img.public
                img.public = not img.public
            else:
                others = [u for u in rng.sample(world.uids, min(len(world.uids), 4)) if u != uid][:3]
                if not others:
                    continue
                step["AddAccount"] = others
                for u in others:
                    if u not in img.shared:
                        img.shared.append(u)
                        world.shared_with.setdefault(u, []).append(img.id)
        elif action == "CopyImage":
            img = world.own(uid, lambda i: i.status == "Available")
            if img is None:
                continue
            dest = rng.choice(world.regions)
            step = {"Action": action, "RegionId": img.region, "ImageId": img.id, "DestinationRegionId": dest,
                    "DestinationImageName": f"copy-of-{img.id}"}
        elif action == "DeleteImage":
            img = world.own(uid, lambda i: i.status in ("Deprecated", "CreateFailed", "UnAvailable")
                            or rng.random() < 0.3)
            if img is None:
                continue
            step = {"Action": action, "RegionId": img.region, "ImageId": img.id}
            if not img.shared and not img.public:
                world.delete(img)
        else:  # RunInstances / DescribeImageFromFamily
            r = rng.random()
            region: str
            fam: str
            if r < 0.55:  # own family
                img = world.own(uid, lambda i: i.family is not None)
                if img is None or img.family is None:
                    continue
                region, fam = img.region, img.family
            elif r < 0.8:  # a family shared with the caller, or a community image's
                ids = world.shared_with.get(uid) or world.community
                img = world.by_id.get(rng.choice(ids)) if ids else None
                if img is None or img.family is None or img.owner is None:
                    continue
                region, fam = img.region, f"acs:{img.owner}:{img.family}"
            elif r < 0.92:  # a public family
                img = rng.choice(world.system)
                assert img.family is not None
                region, fam = img.region, img.family
            else:
                img = world.own(uid)
                if img is None:
                    continue
                if action == "DescribeImageFromFamily":
                    region, fam = img.region, rng.choice(vocab)  # often an empty response
                else:  # launch by ImageId
                    step = {"Action": action, "RegionId": img.region, "ImageId": img.id,
                            "InstanceType": "ecs.g7.large", "Amount": 1}
            if step is None:
                step = {"Action": action, "RegionId": region, "ImageFamily": fam}
                if action == "RunInstances":
                    step.update({"InstanceType": rng.choice(["ecs.g7.large", "ecs.c7.xlarge", "ecs.r7.2xlarge"]),
                                 "Amount": rng.randint(1, 4), "SecurityGroupId": "sg-bench", "VSwitchId": "vsw-bench"})
                    if rng.random() < 0.02:
                        step["channel"] = "console"
        if step is None:
            continue
        step["caller"] = uid
        emitted += 1
        yield step


def generate_plan(k: int, state_path: Path, seed: int = DEFAULT_SEED,
                  regions: list[str] | None = None) -> dict[str, Any]:
    """A plan of ``k`` steps over the state's images; with ``regions``, steps name only those."""
    with open(state_path, "rb") as fh:
        data = json.load(fh)
    rng = random.Random(seed * 7919 + k)
    images = data["Images"] if regions is None else [d for d in data["Images"] if d["RegionId"] in regions]
    world = _World(images, rng)
    if regions is not None:
        world.regions = list(regions)
    del data
    steps = list(_plan_steps(world, k, rng))
    caller = steps[0]["caller"] if steps else (world.uids[0] if world.uids else "1")
    for s in steps:  # the plan's caller is implied; other callers are named per step
        if s["caller"] == caller:
            del s["caller"]
    return {"caller": caller, "steps": steps}


def plan_chunks(plan: dict[str, Any]) -> Iterator[str]:
    yield '{"caller": ' + json.dumps(plan["caller"]) + ', "steps": [\n'
    steps = plan["steps"]
    for i, s in enumerate(steps):
        yield "  " + json.dumps(s) + (",\n" if i < len(steps) - 1 else "\n")
    yield "]}\n"


def write_plan(k: int, state_path: Path, out: Path, seed: int = DEFAULT_SEED,
               regions: list[str] | None = None) -> Path:
    write_atomic(out, plan_chunks(generate_plan(k, state_path, seed, regions)))
    return out


# ---------------------------------------------------------------- cached files for the benches


def state_path(n: int, seed: int = DEFAULT_SEED) -> Path:
    return DATA / (f"state-{n}.json" if seed == DEFAULT_SEED else f"state-{n}-s{seed}.json")


def plan_path(k: int, n: int, seed: int = DEFAULT_SEED) -> Path:
    return DATA / (f"plan-{k}-state-{n}.json" if seed == DEFAULT_SEED else f"plan-{k}-state-{n}-s{seed}.json")


def ensure_state(n: int, seed: int = DEFAULT_SEED, log: Any = None) -> Path:
    """The cached state file of ``n`` images, generated if missing."""
    p = state_path(n, seed)
    if not p.exists():
        t = time.perf_counter()
        write_state(n, p, seed)
        if log:
            log(f"generated {p.name} in {time.perf_counter() - t:.1f}s ({p.stat().st_size / 1e6:.0f} MB)")
    return p


def ensure_plan(k: int, n: int, seed: int = DEFAULT_SEED, log: Any = None,
                regions: list[str] | None = None) -> Path:
    p = plan_path(k, n, seed)
    if regions is not None:
        p = p.with_name(p.stem + "-" + "-".join(regions) + p.suffix)
    if not p.exists():
        sp = ensure_state(n, seed, log)
        t = time.perf_counter()
        write_plan(k, sp, p, seed, regions)
        if log:
            log(f"generated {p.name} in {time.perf_counter() - t:.1f}s")
    return p


def _parser(kind: str) -> argparse.ArgumentParser:
    if kind == "state":
        s = argparse.ArgumentParser(prog="gen.py state", description="a state file of N images")
        s.add_argument("n", type=int)
        s.add_argument("out", nargs="?", help="default: bench/data/state-<N>.json")
        s.add_argument("--seed", type=int, default=DEFAULT_SEED)
        s.add_argument("--regional-public-ids", action="store_true",
                       help="give each region's copy of a public image its own ImageId (ECS uses one id everywhere)")
        return s
    p = argparse.ArgumentParser(prog="gen.py plan", description="a plan of K steps over a state file's images")
    p.add_argument("k", type=int)
    p.add_argument("out", nargs="?", help="default: bench/data/plan-<K>-<state name>.json")
    p.add_argument("--state", required=True, help="the state file the plan's steps reference")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--regions", metavar="R1,R2", help="steps name only these regions (default: any)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("state", "plan"):
        print(__doc__.split("\n\n")[1] if argv and argv[0] in ("-h", "--help") else
              "usage: gen.py state N [out.json] [--seed S] | gen.py plan K --state STATE [out.json] [--seed S]",
              file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    ap = _parser(argv[0])
    args = ap.parse_intermixed_args(argv[1:])  # options and positionals in any order
    t = time.perf_counter()
    if argv[0] == "state":
        if args.n < 0:
            ap.error("N must be >= 0")
        out = Path(args.out) if args.out else state_path(args.n, args.seed)
        write_state(args.n, out, args.seed, args.regional_public_ids)
    else:
        if args.k < 0:
            ap.error("K must be >= 0")
        st = Path(args.state)
        out = Path(args.out) if args.out else DATA / f"plan-{args.k}-{st.stem}.json"
        write_plan(args.k, st, out, args.seed, args.regions.split(",") if args.regions else None)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
