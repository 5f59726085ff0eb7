"""``imagefam.engine.aliyun``: live snapshots, tested against recorded responses through the SDK's models.

No test calls Alibaba Cloud: a fake client answers from ``tests/data/aliyun`` (see its README),
building the SDK's own response models with ``from_map``. The SDK-based tests are skipped when
``alibabacloud-ecs20140526`` is not installed; the conversion tests need no SDK.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import imagefam
from imagefam.engine import aliyun
from imagefam.engine.aliyun import (
    default_client_factory,
    describe_images_to_native,
    native_image,
    snapshot,
)
from imagefam.engine.loader import state_from_data
from imagefam.engine.parsing import InputError

DATA = Path(__file__).parent / "data" / "aliyun"
ME = "1234567890123456"
SHARER = "1111222233334444"
COMMUNITY = "5555666677778888"
SHAREES = ["2222333344445555", "3333444455556666", "4444555566667777"]
PAGE = 2  # the recorded responses were taken with PageSize 2
NOW = datetime(2024, 9, 1, tzinfo=UTC)
REGIONS = ["cn-hangzhou", "cn-shanghai"]


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text("utf-8"))


class FakeEcsClient:
    """Stands in for ``alibabacloud_ecs20140526.client.Client``: answers from recorded bodies as SDK models."""

    def __init__(self, region: str, models: Any, calls: list[tuple[Any, ...]],
                 fail: dict[str, Exception] | None = None) -> None:
        self.region = region
        self.models = models
        self.calls = calls
        self.fail = fail or {}

    def _body(self, name: str, empty: str, page: int, **fill: str) -> Any:
        path = DATA / name
        if path.exists():
            return json.loads(path.read_text("utf-8"))
        assert page == 1, f"unexpected page: {name}"
        body = recorded(empty)
        body.update(fill)
        return body

    def describe_images(self, request: Any) -> Any:
        assert isinstance(request, self.models.DescribeImagesRequest)
        params = request.to_map()  # what the SDK puts on the wire
        assert params["RegionId"] == self.region
        assert params["Status"] == "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"
        assert params["PageSize"] == PAGE
        alias = params["ImageOwnerAlias"]
        assert alias in ("self", "others", "system", "marketplace")
        assert params.get("IsPublic") in (None, True)
        assert "IsPublic" not in params or alias == "others"
        kind = alias + ("-public" if params.get("IsPublic") else "")
        page = params["PageNumber"]
        self.calls.append(("DescribeImages", self.region, kind, page))
        if "DescribeImages" in self.fail:
            raise self.fail["DescribeImages"]
        body = self._body(f"DescribeImages.{self.region}.{kind}.{page}.json", "DescribeImages.empty.json", page,
                          RegionId=self.region)
        return self.models.DescribeImagesResponse().from_map({"headers": {}, "statusCode": 200, "body": body})

    def describe_image_share_permission(self, request: Any) -> Any:
        assert isinstance(request, self.models.DescribeImageSharePermissionRequest)
        params = request.to_map()
        assert params["RegionId"] == self.region
        assert params["PageSize"] == PAGE
        image_id, page = params["ImageId"], params["PageNumber"]
        self.calls.append(("DescribeImageSharePermission", self.region, image_id, page))
        body = self._body(f"DescribeImageSharePermission.{self.region}.{image_id}.{page}.json",
                          "DescribeImageSharePermission.empty.json", page, RegionId=self.region, ImageId=image_id)
        return self.models.DescribeImageSharePermissionResponse().from_map(
            {"headers": {}, "statusCode": 200, "body": body})


    def describe_instances(self, request: Any) -> Any:
        assert isinstance(request, self.models.DescribeInstancesRequest)
        params = request.to_map()
        assert params["RegionId"] == self.region and params["PageSize"] == PAGE
        page = params["PageNumber"]
        self.calls.append(("DescribeInstances", self.region, page))
        body = self._body(f"DescribeInstances.{self.region}.{page}.json", "DescribeInstances.empty.json", page)
        return self.models.DescribeInstancesResponse().from_map({"headers": {}, "statusCode": 200, "body": body})


class FakeEssClient:
    """Stands in for ``alibabacloud_ess20220222.client.Client`` (Auto Scaling)."""

    def __init__(self, region: str, models: Any, calls: list[tuple[Any, ...]]) -> None:
        self.region, self.models, self.calls = region, models, calls

    def describe_scaling_configurations(self, request: Any) -> Any:
        assert isinstance(request, self.models.DescribeScalingConfigurationsRequest)
        params = request.to_map()
        assert params["RegionId"] == self.region and params["PageSize"] == PAGE
        page = params["PageNumber"]
        self.calls.append(("DescribeScalingConfigurations", self.region, page))
        path = DATA / f"DescribeScalingConfigurations.{self.region}.{page}.json"
        body = recorded(path.name if path.exists() else "DescribeScalingConfigurations.empty.json")
        return self.models.DescribeScalingConfigurationsResponse().from_map(
            {"headers": {}, "statusCode": 200, "body": body})


@pytest.fixture
def models() -> Any:
    return pytest.importorskip("alibabacloud_ecs20140526.models")


@pytest.fixture
def calls() -> list[tuple[Any, ...]]:
    return []


@pytest.fixture
def factory(models: Any, calls: list[tuple[Any, ...]]) -> Any:
    def make(region: str) -> FakeEcsClient:
        return FakeEcsClient(region, models, calls)

    return make


def take(factory: Any, regions: list[str] = REGIONS, account: str | None = ME, **kw: Any) -> dict[str, Any]:
    return snapshot(regions, account, factory, page_size=PAGE, now=NOW, **kw)


def region_state(data: dict[str, Any], region: str) -> imagefam.State:
    images = [img for img in data["Images"] if img["RegionId"] == region]
    return state_from_data({"TakenAt": data["TakenAt"], "Images": images}, Path("x"))


# ---- snapshot through the SDK's models ----

def test_snapshot_makes_the_expected_native_state(factory: Any) -> None:
    data = take(factory)
    assert data["TakenAt"] == "2024-09-01T00:00:00Z"
    assert data["Images"] == recorded("snapshot.expected.json")["Images"]
    assert set(data) == {"TakenAt", "Images"}


def test_snapshot_pages_through_every_query_and_share_list(factory: Any, calls: list[tuple[Any, ...]]) -> None:
    take(factory)
    describe = [c[1:] for c in calls if c[0] == "DescribeImages"]
    assert describe == [
        ("cn-hangzhou", "self", 1), ("cn-hangzhou", "self", 2), ("cn-hangzhou", "self", 3),
        ("cn-hangzhou", "others", 1), ("cn-hangzhou", "others-public", 1),
        ("cn-hangzhou", "system", 1), ("cn-hangzhou", "system", 2), ("cn-hangzhou", "marketplace", 1),
        ("cn-shanghai", "self", 1), ("cn-shanghai", "others", 1), ("cn-shanghai", "others-public", 1),
        ("cn-shanghai", "system", 1), ("cn-shanghai", "marketplace", 1),
    ]
    shares = sorted(c[1:] for c in calls if c[0] == "DescribeImageSharePermission")
    assert shares == sorted([  # every own image, and only own images; two pages for web-v2
        ("cn-hangzhou", "m-bp1web0000000000001", 1), ("cn-hangzhou", "m-bp1web0000000000002", 1),
        ("cn-hangzhou", "m-bp1web0000000000002", 2), ("cn-hangzhou", "m-bp1web0000000000003", 1),
        ("cn-hangzhou", "m-bp1tmp0000000000001", 1), ("cn-hangzhou", "m-bp1tools000000000001", 1),
        ("cn-shanghai", "m-uf6web0000000000001", 1),
    ])


def test_snapshot_learns_the_account_from_own_images(factory: Any) -> None:
    assert take(factory, account=None)["Images"] == recorded("snapshot.expected.json")["Images"]


def test_snapshot_of_each_region_loads_and_resolves(factory: Any) -> None:
    data = take(factory)
    hz, sh = region_state(data, "cn-hangzhou"), region_state(data, "cn-shanghai")
    assert len(hz.images) == 9 and len(sh.images) == 2
    assert hz.taken_at == NOW

    def resolved(state: imagefam.State, family: str, region: str, caller: str) -> str | None:
        image, _ = imagefam.resolve(state, family, region, caller)
        return None if image is None else image.ImageId

    # v3 is Deprecated (rolled back): the family resolves to v2, the newest Available image.
    assert resolved(hz, "web", "cn-hangzhou", ME) == "m-bp1web0000000000002"
    assert resolved(sh, "web", "cn-shanghai", ME) == "m-uf6web0000000000001"
    # A sharee of v2 sees only v2, under the owner's acs: name; an account v2 is not shared with, nothing.
    assert resolved(hz, f"acs:{ME}:web", "cn-hangzhou", SHAREES[2]) == "m-bp1web0000000000002"
    assert resolved(hz, f"acs:{ME}:web", "cn-hangzhou", "9999888877776666") is None
    # What is shared with us, community and public families.
    assert resolved(hz, f"acs:{SHARER}:base", "cn-hangzhou", ME) == "m-bp1base0000000000001"
    assert resolved(hz, f"acs:{COMMUNITY}:hardened", "cn-hangzhou", ME) == "m-bp1hard0000000000001"
    assert resolved(hz, f"acs:{ME}:tools", "cn-hangzhou", "9999888877776666") == "m-bp1tools000000000001"
    assert resolved(hz, "acs:ubuntu_24_04_x64", "cn-hangzhou", ME) == "ubuntu_24_04_x64_20G_alibase_20240812.vhd"
    assert resolved(sh, "acs:ubuntu_24_04_x64", "cn-shanghai", ME) == "ubuntu_24_04_x64_20G_alibase_20240812.vhd"
    _, trace = imagefam.resolve(hz, "web", "cn-hangzhou", ME)
    verdicts = {c.image.ImageId: c.verdict for c in trace.candidates}
    assert verdicts == {"m-bp1web0000000000002": "chosen", "m-bp1web0000000000001": "eligible",
                        "m-bp1web0000000000003": "excluded"}


def test_snapshot_written_as_json_loads_as_a_state_file(factory: Any, tmp_path: Path) -> None:
    data = take(factory, regions=["cn-hangzhou"])
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    state = imagefam.load_state(path)
    assert state.regions() == ["cn-hangzhou"]
    shared = state.images.get("m-bp1web0000000000002")
    assert shared is not None and shared.SharedWith == tuple(SHAREES)
    assert state.images.get("m-bp1tmp0000000000001") is not None  # own images are kept without a family


def test_multi_region_snapshot_loads_as_one_state(factory: Any) -> None:
    state_from_data(take(factory), Path("x"))


def test_keep_all_public_keeps_public_images_without_a_family(factory: Any) -> None:
    ids = {img["ImageId"] for img in take(factory, regions=["cn-hangzhou"], keep_all_public=True)["Images"]}
    assert {"win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd", "m-bp1mkt00000000000001",
            "m-bp1comm0000000000002"} <= ids
    mkt = next(img for img in take(factory, regions=["cn-hangzhou"], keep_all_public=True)["Images"]
               if img["ImageId"] == "m-bp1mkt00000000000001")
    assert mkt["ImageOwnerAlias"] == "marketplace" and mkt["ImageOwnerId"] == "1357913579135791"


def test_owners_limits_the_queries(factory: Any, calls: list[tuple[Any, ...]]) -> None:
    data = take(factory, regions=["cn-hangzhou"], owners=["self"])
    assert {c[2] for c in calls if c[0] == "DescribeImages"} == {"self"}
    assert len(data["Images"]) == 5
    with pytest.raises(InputError, match="unknown owner kind bogus"):
        take(factory, owners=["self", "bogus"])


def test_shared_images_need_the_account(factory: Any) -> None:
    with pytest.raises(InputError, match=r"m-bp1base0000000000001 is shared with you.*pass --account"):
        take(factory, regions=["cn-hangzhou"], account=None, owners=["shared"])
    data = take(factory, regions=["cn-hangzhou"], account="7777", owners=["shared"])
    assert data["Images"][0]["SharedWith"] == ["7777"]


def test_an_account_that_is_not_the_owner_of_own_images_is_refused(factory: Any) -> None:
    with pytest.raises(InputError, match=r"ImageOwnerId 1234567890123456 of an own image .* is not the account 42"):
        take(factory, account="42")


def test_api_errors_are_input_errors(models: Any, calls: list[tuple[Any, ...]]) -> None:
    exceptions = pytest.importorskip("alibabacloud_tea_openapi.exceptions")
    err = exceptions.ClientException(code="Forbidden.RAM", message="User not authorized to operate on the specified resource.",
                          status_code=403)

    def make(region: str) -> FakeEcsClient:
        return FakeEcsClient(region, models, calls, fail={"DescribeImages": err})

    with pytest.raises(InputError) as info:
        snapshot(["cn-hangzhou"], ME, make, page_size=PAGE)
    assert str(info.value) == ("cn-hangzhou: DescribeImages ImageOwnerAlias=self page 1 failed: Forbidden.RAM: "
                               "User not authorized to operate on the specified resource.")


def test_snapshot_arguments_are_checked(factory: Any) -> None:
    with pytest.raises(InputError, match="at least one region"):
        snapshot([], ME, factory)
    with pytest.raises(InputError, match="page size must be 1 to 100"):
        snapshot(["cn-hangzhou"], ME, factory, page_size=101)


def test_taken_at_defaults_to_now(factory: Any) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    data = snapshot(["cn-shanghai"], ME, factory, page_size=PAGE)
    taken = datetime.strptime(data["TakenAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= taken <= datetime.now(UTC)


def test_sdk_to_map_bodies_convert_like_raw_bodies(models: Any) -> None:
    for name in sorted(p.name for p in DATA.glob("DescribeImages.cn-*.json")):
        raw = recorded(name)
        via_sdk = models.DescribeImagesResponseBody().from_map(raw).to_map()
        assert describe_images_to_native(via_sdk, ME) == describe_images_to_native(raw, ME), name


# ---- credentials and the SDK ----

def test_missing_credentials_say_which_variables_to_set(models: Any) -> None:
    with pytest.raises(InputError) as info:
        default_client_factory({})
    assert str(info.value) == ("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
                               "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)")
    with pytest.raises(InputError, match="set ALIBABA_CLOUD_ACCESS_KEY_SECRET "):
        default_client_factory({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test"})


def test_snapshot_without_a_factory_reads_the_environment(models: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InputError, match="no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID"):
        snapshot(["cn-hangzhou"])


def test_default_factory_makes_an_sdk_client_without_calling_the_api(models: Any) -> None:
    client_module = pytest.importorskip("alibabacloud_ecs20140526.client")
    make = default_client_factory({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s",
                                   "ALIBABA_CLOUD_SECURITY_TOKEN": "tok"})
    client = make("cn-shanghai")
    assert isinstance(client, client_module.Client)
    assert client._region_id == "cn-shanghai"


def test_missing_sdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "alibabacloud_ecs20140526"] + ["alibabacloud_ecs20140526"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InputError, match=r"ECS SDK is not installed .*pip install 'imagefam\[aliyun\]'"):
        snapshot(["cn-hangzhou"], ME, lambda region: None)
    with pytest.raises(InputError, match=r"pip install 'imagefam\[aliyun\]'"):
        default_client_factory({"ALIBABA_CLOUD_ACCESS_KEY_ID": "a", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "b"})


# ---- describe_images_to_native (pure, no SDK) ----

def body(*images: dict[str, Any], region: str | None = "cn-hangzhou") -> dict[str, Any]:
    out: dict[str, Any] = {"Images": {"Image": list(images)}, "TotalCount": len(images), "PageNumber": 1,
                           "PageSize": 10, "RequestId": "R"}
    if region is not None:
        out["RegionId"] = region
    return out


BASE = {"ImageId": "m-1", "CreationTime": "2024-01-02T03:04:05Z", "Status": "Available"}


def test_convert_own_image_with_loose_types() -> None:
    raw = {**BASE, "ImageOwnerAlias": "self", "ImageOwnerId": 1234567890123456, "ImageFamily": "",
           "IsPublic": "false", "IsSelfShared": "False", "Size": "40", "ImageName": "web-v1", "Description": "",
           "DiskDeviceMappings": {"DiskDeviceMapping": [{"Size": "40"}]}, "Tags": {"Tag": []},
           "DetectionOptions": {}, "Progress": "100%"}
    assert describe_images_to_native(body(raw), ME) == [{
        "ImageId": "m-1", "RegionId": "cn-hangzhou", "CreationTime": "2024-01-02T03:04:05Z", "Status": "Available",
        "ImageOwnerId": ME, "ImageName": "web-v1"}]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("true", True), ("True", True), ("TRUE", True), (1, True), ("1", True),
    (False, False), ("false", False), ("False", False), (0, False), ("", False), (None, False),
])
def test_convert_is_public_accepts_the_api_spellings(value: Any, expected: bool) -> None:
    [img] = describe_images_to_native(body({**BASE, "ImageOwnerId": "7", "IsPublic": value}))
    assert img.get("IsPublic", False) is expected


def test_convert_owner_ids() -> None:
    for value, expected in ((1234567890123456, ME), ("1234567890123456", ME), (1234567890123456.0, ME),
                            ("", None), (None, None)):
        [img] = describe_images_to_native(body({**BASE, "ImageOwnerId": value}))
        assert img.get("ImageOwnerId") == expected


def test_convert_own_image_without_owner_takes_the_account() -> None:
    [img] = describe_images_to_native(body({**BASE, "ImageOwnerAlias": "self"}), ME)
    assert img["ImageOwnerId"] == ME
    [img] = describe_images_to_native(body({**BASE, "ImageOwnerAlias": "self"}))
    assert "ImageOwnerId" not in img  # the loader reports it


def test_convert_shared_and_community_images() -> None:
    shared = {**BASE, "ImageOwnerAlias": "others", "ImageOwnerId": 111, "ImageFamily": "acs:111:base",
              "IsPublic": False}
    community = {**BASE, "ImageId": "m-2", "ImageOwnerAlias": "others", "ImageOwnerId": 222,
                 "ImageFamily": "hardened", "IsPublic": "true"}
    a, b = describe_images_to_native(body(shared, community), ME)
    assert a == {**BASE, "RegionId": "cn-hangzhou", "ImageOwnerId": "111", "ImageFamily": "base",
                 "SharedWith": [ME]}
    assert b == {**BASE, "ImageId": "m-2", "RegionId": "cn-hangzhou", "ImageOwnerId": "222",
                 "ImageFamily": "hardened", "IsPublic": True}
    [anon] = describe_images_to_native(body(shared))
    assert "SharedWith" not in anon  # a sharee that does not say who it is


def test_convert_keeps_other_owners_acs_names() -> None:
    # Only the owner's own acs:<UID>: prefix is taken off.
    [img] = describe_images_to_native(body({**BASE, "ImageOwnerAlias": "others", "ImageOwnerId": 111,
                                            "ImageFamily": "acs:222:base"}), ME)
    assert img["ImageFamily"] == "acs:222:base"


def test_convert_public_images() -> None:
    system = {**BASE, "ImageId": "ubuntu_24_04_x64_20G_alibase_20240812.vhd", "ImageOwnerAlias": "system",
              "ImageFamily": "acs:ubuntu_24_04_x64", "IsPublic": True}
    market = {**BASE, "ImageId": "m-3", "ImageOwnerAlias": "marketplace", "ImageOwnerId": 99, "ImageFamily": ""}
    a, b = describe_images_to_native(body(system, market), ME)
    assert a == {**system, "RegionId": "cn-hangzhou"}
    assert b == {**BASE, "ImageId": "m-3", "RegionId": "cn-hangzhou", "ImageOwnerId": "99",
                 "ImageOwnerAlias": "marketplace"}


def test_convert_region_comes_from_the_image_the_body_or_the_caller() -> None:
    assert describe_images_to_native(body({**BASE, "RegionId": "cn-beijing"}))[0]["RegionId"] == "cn-beijing"
    assert describe_images_to_native(body(BASE))[0]["RegionId"] == "cn-hangzhou"
    assert describe_images_to_native(body(BASE, region=None), region="cn-shanghai")[0]["RegionId"] == "cn-shanghai"
    assert "RegionId" not in describe_images_to_native(body(BASE, region=None))[0]


def test_convert_tags() -> None:
    tags = {"Tag": [{"TagKey": "team", "TagValue": "web"}, {"TagKey": "empty", "TagValue": None}]}
    assert native_image({**BASE, "Tags": tags})["Tags"] == {"team": "web", "empty": ""}
    assert native_image({**BASE, "Tags": [{"TagKey": "a", "TagValue": 1}]})["Tags"] == {"a": "1"}
    assert "Tags" not in native_image({**BASE, "Tags": {}})


def test_convert_body_shapes() -> None:
    assert describe_images_to_native({"RegionId": "cn-hangzhou", "TotalCount": 0}) == []
    assert describe_images_to_native({"Images": {}}) == []
    assert describe_images_to_native({"Images": {"Image": []}}) == []
    assert describe_images_to_native({"Images": [BASE], "RegionId": "r"}) == [{**BASE, "RegionId": "r"}]


@pytest.mark.parametrize(("data", "message"), [
    ([BASE], "DescribeImages: a DescribeImages response is an object with 'Images', got list"),
    ({"Images": "x"}, "DescribeImages: Images: expected {'Image': [...]}, got 'x'"),
    ({"Images": {"Image": ["m-1"]}}, "DescribeImages: Images.Image[0]: expected an image object, got 'm-1'"),
    (body({**BASE, "IsPublic": "maybe"}), "DescribeImages: Images.Image[0] (m-1): IsPublic: expected true or false, got 'maybe'"),
    (body({**BASE, "ImageOwnerAlias": "mine"}), "DescribeImages: Images.Image[0] (m-1): ImageOwnerAlias: expected one of self, others, system, marketplace, got 'mine'"),
    (body({**BASE, "ImageFamily": ["a"]}), "DescribeImages: Images.Image[0] (m-1): ImageFamily: expected a string, got ['a']"),
    (body({**BASE, "Tags": {"Tag": [{"TagValue": "x"}]}}), "DescribeImages: Images.Image[0] (m-1): Tags.Tag[0]: expected an object with TagKey and TagValue"),
])
def test_convert_errors_name_the_image_and_field(data: Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        describe_images_to_native(data)
    assert str(info.value) == message


def test_convert_source_prefixes_messages() -> None:
    with pytest.raises(InputError, match=r"^images\.json: Images\.Image\[0\] \(m-1\): IsPublic"):
        describe_images_to_native(body({**BASE, "IsPublic": "maybe"}), source="images.json")


def test_converted_recorded_bodies_load_as_state() -> None:
    images = [img for name in ("DescribeImages.cn-hangzhou.self.1.json", "DescribeImages.cn-hangzhou.self.2.json",
                               "DescribeImages.cn-hangzhou.others.1.json", "DescribeImages.cn-hangzhou.system.2.json",
                               "DescribeImages.cn-hangzhou.marketplace.1.json")
              for img in describe_images_to_native(recorded(name), ME)]
    state = state_from_data({"Images": images}, Path("x"))
    assert len(state.images) == 7
    win = state.images.get("win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd")
    assert win is not None and win.ImageFamily is None and win.ImageOwnerAlias == "system"


def test_the_sdk_is_imported_lazily() -> None:
    source = Path(aliyun.__file__).read_text("utf-8")
    assert "import alibabacloud" not in source and "from alibabacloud" not in source


def test_snapshot_command_writes_a_loadable_state(factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`imagefam snapshot` end to end, with the SDK client replaced by the recorded responses."""
    from imagefam import cli
    from imagefam.engine import aliyun

    monkeypatch.setattr(aliyun, "default_client_factory", lambda environ=None: factory)
    out = tmp_path / "state.json"
    code = cli.main(["snapshot", "--region", *REGIONS, "--account", ME, "--page-size", "2", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"to {out}" in err
    state = imagefam.load_state(out)
    assert {i.RegionId for i in state.images} == set(REGIONS)
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # written whole, no temp file left


def test_snapshot_command_without_credentials_is_an_input_error(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from imagefam import cli

    for var in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["snapshot", "--region", "cn-hangzhou"]) == 2
    err = capsys.readouterr().err
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err and "Traceback" not in err


# ---- snapshot --consumers: Auto Scaling configurations and instances ----

@pytest.fixture
def ess_factory(calls: list[tuple[Any, ...]]) -> Any:
    ess_models = pytest.importorskip("alibabacloud_ess20220222.models")

    def make(region: str) -> FakeEssClient:
        return FakeEssClient(region, ess_models, calls)

    return make


def test_snapshot_consumers_pages_both_apis_and_fills_owner_and_region(
        factory: Any, ess_factory: Any, calls: list[tuple[Any, ...]]) -> None:
    data = take(factory, consumers=True, ess_client_factory=ess_factory)
    assert [c[1:] for c in calls if c[0] == "DescribeScalingConfigurations"] == [
        ("cn-hangzhou", 1), ("cn-hangzhou", 2), ("cn-shanghai", 1)]
    assert [c[1:] for c in calls if c[0] == "DescribeInstances"] == [("cn-hangzhou", 1), ("cn-shanghai", 1)]
    assert data["ScalingConfigurations"] == [
        {"ScalingConfigurationId": "asc-bp1base0000000001", "ScalingGroupId": "asg-bp1base000000001",
         "RegionId": "cn-hangzhou", "OwnerId": ME, "ImageFamily": f"acs:{SHARER}:base", "LifecycleState": "Active",
         "ScalingConfigurationName": "base"},
        {"ScalingConfigurationId": "asc-bp1web00000000001", "ScalingGroupId": "asg-bp1web0000000001",
         "RegionId": "cn-hangzhou", "OwnerId": ME, "ImageFamily": "web", "LifecycleState": "Active",
         "ScalingConfigurationName": "web-family"},
        {"ScalingConfigurationId": "asc-bp1web00000000002", "ScalingGroupId": "asg-bp1web0000000001",
         "RegionId": "cn-hangzhou", "OwnerId": ME, "ImageId": "m-bp1web0000000000001", "ImageName": "web-v1",
         "LifecycleState": "Inactive", "ScalingConfigurationName": "web-pinned-v1"},
    ]
    assert data["Instances"] == [
        {"InstanceId": "i-bp1web0000000000001", "RegionId": "cn-hangzhou", "OwnerId": ME,
         "ImageId": "m-bp1web0000000000002", "Status": "Running"},
        {"InstanceId": "i-bp1web0000000000002", "RegionId": "cn-hangzhou", "OwnerId": ME,
         "ImageId": "m-bp1web0000000000003", "Status": "Stopped"},
    ]
    assert data["Images"] == recorded("snapshot.expected.json")["Images"]  # images as without --consumers


def test_a_consumers_snapshot_loads_and_checks(factory: Any, ess_factory: Any) -> None:
    import imagefam.engine.preflight as checker
    from imagefam.engine.loader import plan_from_data

    state = state_from_data(take(factory, consumers=True, ess_client_factory=ess_factory), Path("x"))
    assert len(state.consumers.configs) == 3 and len(state.consumers.instances) == 2
    # deleting web v3 (Deprecated) is refused: an instance was created from it
    out = checker.check(state, plan_from_data({"caller": ME, "steps": [
        {"Action": "DeleteImage", "RegionId": "cn-hangzhou", "ImageId": "m-bp1web0000000000003"}]})).to_json()
    assert [v["rule"] for v in out["steps"][0]["violations"]] == ["image-in-use"]


def test_snapshot_consumers_needs_the_account(models: Any, ess_factory: Any, calls: list[tuple[Any, ...]]) -> None:
    def no_own_images(region: str) -> Any:
        client = FakeEcsClient(region, models, calls)
        client._body = lambda name, empty, page, **fill: {**recorded(empty), **fill}  # type: ignore[method-assign]
        return client

    with pytest.raises(InputError, match="pass --account UID"):
        snapshot(["cn-shanghai"], None, no_own_images, owners=["self"], page_size=PAGE, now=NOW, consumers=True,
                 ess_client_factory=ess_factory)


def test_consumer_bodies_convert_in_both_api_versions_shapes() -> None:
    old = {"ScalingConfigurations": {"ScalingConfiguration": [
        {"ScalingConfigurationId": "asc-1", "ScalingGroupId": "asg-1", "ImageId": "m-1", "LifecycleState": "Active"}]}}
    new = {"ScalingConfigurations": [
        {"ScalingConfigurationId": "asc-1", "ScalingGroupId": "asg-1", "ImageId": "m-1", "LifecycleState": "Active"}]}
    assert (aliyun.describe_scaling_configurations_to_native(old, ME, "r1")
            == aliyun.describe_scaling_configurations_to_native(new, ME, "r1")
            == [{"ScalingConfigurationId": "asc-1", "ScalingGroupId": "asg-1", "RegionId": "r1", "OwnerId": ME,
                 "ImageId": "m-1", "LifecycleState": "Active"}])
    with pytest.raises(InputError, match=r"ScalingConfigurations\[0\]: ImageId: expected a string"):
        aliyun.describe_scaling_configurations_to_native({"ScalingConfigurations": [{"ImageId": ["x"]}]}, ME, "r1")
    with pytest.raises(InputError, match="Instances: expected a list"):
        aliyun.describe_instances_to_native({"Instances": {"Instance": "x"}}, ME, "r1")
