"""The msgspec fast path for JSON state files gives exactly what pydantic gives, or steps aside.

Each state text is loaded twice: as ``load_state`` does (fast path first) and with the fast path
switched off (pydantic validates everything). Both must give equal images and TakenAt, or the
same error message. Hand-picked cases cover every difference between the two decoders that the
fast path guards against; a property test feeds random images with awkward values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import FUZZ_EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam import InputError
from imagefam.engine import fastjson, loader

BASE = {"ImageId": "m-1", "RegionId": "cn-hangzhou", "CreationTime": "2025-05-31T23:43:25Z",
        "Status": "Available", "ImageOwnerId": "100001"}


def _load(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(fastjson, "decode_state", lambda raw: None)
        try:
            state = loader.load_state(path)
        except InputError as err:
            return ("error", str(err))
    return ("ok", list(state.images), state.taken_at)


def _same(tmp_path: Path, text: str | bytes, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "state.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    fast, slow = _load(path, True, monkeypatch), _load(path, False, monkeypatch)
    assert fast == slow
    if fast[0] == "ok":  # equal values are not enough: the same types, and times in the same zone object
        for a, b in zip(fast[1], slow[1], strict=True):
            assert [type(getattr(a, f)) for f in loader.IMAGE_FIELDS] == [type(getattr(b, f)) for f in loader.IMAGE_FIELDS]
            assert a.CreationTime.tzinfo is b.CreationTime.tzinfo
    return fast


def _state(*images: dict[str, Any], **top: Any) -> str:
    return json.dumps({**top, "Images": list(images)})


def test_an_ordinary_state_takes_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _state(BASE, {**BASE, "ImageId": "m-2", "ImageFamily": "web", "Tags": {"env": "prod"},
                         "SharedWith": ["200002"], "IsPublic": True, "ImageName": "é \u2603",
                         "Description": "a/b", "CreationTime": "2025-05-31T23:43:25.123456+00:00"},
                  {"ImageId": "m-3", "RegionId": "cn-beijing", "CreationTime": "2024-01-01t00:00:00z",
                   "Status": "Deprecated", "ImageOwnerAlias": "system"}, TakenAt="2025-06-01T00:00:00Z")
    assert fastjson.decode_state(text.encode()) is not None
    assert _same(tmp_path, text, monkeypatch)[0] == "ok"


def test_spaced_and_escaped_text_takes_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = {**BASE, "Description": "a QUOTEquotedQUOTE word", "SharedWith": ["200002", "300003"],
             "SharedWithUnknown": True, "Tags": {"k": "v", "k2": ""}, "ImageFamily": "web"}
    text = json.dumps({"TakenAt": "2025-06-01T00:00:00Z", "Images": [image, {**BASE, "ImageId": "m-2"}]},
                      indent=2, separators=(", ", " : ")).replace("QUOTE", "\\u0022")  # a quote, escaped
    assert '" :' in text and "\\u0022" in text
    assert fastjson.decode_state(text.encode()) is not None
    assert _same(tmp_path, text, monkeypatch)[0] == "ok"


@pytest.mark.parametrize("text", [
    _state({**BASE, "ImageFamily": ""}),                                  # pydantic: no family
    _state({**BASE, "ImageId": ""}),                                      # pydantic: too short
    _state({**BASE, "RegionId": ""}),
    _state({**BASE, "Tags": {"Tag": "x"}}),                               # pydantic: the API's tag list
    _state({**BASE, "Tags": {"Tag": [{"TagKey": "a", "TagValue": "b"}]}}),
    _state({**BASE, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    _state({**BASE, "CreationTime": "2025-05-31T23:43:25"}),               # naive: UTC
    _state({**BASE, "CreationTime": "2025-05-31T23:43:25+08:00"}),         # converted to UTC
    _state({**BASE, "CreationTime": "2025-05-31T23:43:25.1234567Z"}),      # msgspec rounds, pydantic truncates
    _state({**BASE, "CreationTime": "2025-05-31T23:59:59.9999999Z"}),
    _state({**BASE, "CreationTime": "2025-05-31"}),
    _state({**BASE, "CreationTime": 1748735005}),                          # Unix seconds
    _state({**BASE, "CreationTime": "2025-02-30T00:00:00Z"}),
    _state({**BASE, "ImageOwnerId": 100001}),                             # numbers as strings
    _state({**BASE, "SharedWith": [200002, "300003"]}),
    _state({**BASE, "IsPublic": "true"}),
    _state({**BASE, "IsPublic": False, "SharedWith": [], "ImageFamily": None}),  # defaults given
    _state({**BASE, "Imagefamily": "web"}),                               # unknown key
    _state({**BASE, "Status": "available"}),
    _state({k: v for k, v in BASE.items() if k != "Status"}),
    _state(BASE, {**BASE, "RegionId": "cn-beijing"}),                     # a custom image's id twice
    _state({**BASE, "ImageOwnerAlias": "system", "ImageOwnerId": None},
           {**BASE, "ImageOwnerAlias": "system", "RegionId": "cn-beijing"}),  # public: allowed
    _state({**BASE, "ImageOwnerAlias": "system"}, {**BASE, "ImageOwnerAlias": "system"}),
    _state({**BASE, "ImageOwnerId": None}),
    _state(BASE, TakenAt="2025-06-01T08:00:00+08:00"),
    _state(BASE, TakenAt="yesterday"),
    _state(BASE, TakenAt=None),
    _state(BASE, Taken="2025-06-01T00:00:00Z"),
    _state(BASE, TakenAt=1748736000),
    '{"Images": [{"ImageId": "m-1", "ImageId": "m-2", "RegionId": "r", "CreationTime": "2025-05-31T23:43:25Z", '
    '"Status": "Available", "ImageOwnerId": "1"}]}',                      # a repeated key
    '{"Images": [], "Images": []}',
    '{"Images": [{"ImageId" : "m-1", "ImageId": "m-1", "RegionId": "r", "CreationTime": "2025-05-31T23:43:25Z", '
    '"Status": "Available", "ImageOwnerId": "1"}]}',                      # repeated, once after a space
    '{"Images": [{"ImageId": "m-1", "RegionId": "r", "CreationTime": "2025-05-31T23:43:25Z", '
    '"Status": "Available", "ImageOwnerId": "1", "IsPublic": true, "IsPublic" :true}]}',  # a repeated non-string
    '{"Images": [{"ImageId": "m-1", "RegionId": "r", "CreationTime": "2025-05-31T23:43:25Z", '
    '"Status": "Available", "ImageOwnerId": "1", "Tags": {"a": "1", "a": "2"}}]}',  # a repeated tag
    '{"Images": [{"ImageId" : "m-1", "RegionId": "r", "CreationTime": "2025-05-31T23:43:25Z", '
    '"Status": "Available", "ImageOwnerId": "1", "Description": "say \\"hi\\""}]}',
    '{"Images": {"Image": []}}',                                          # a DescribeImages body
    '{"Images": [], }',
    '[]',
    b'\xef\xbb\xbf{"Images": []}',                                         # byte order mark
    _state(BASE, ScalingConfigurations=[{"ScalingConfigurationId": "asc-1", "ScalingGroupId": "asg-1",
                                         "RegionId": "cn-hangzhou", "OwnerId": "100001", "ImageFamily": "web"}],
           Instances=[{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "OwnerId": "100001", "ImageId": "m-1"}]),
    _state(BASE, ScalingConfigurations=[{"ScalingConfigurationId": "asc-1"}]),  # consumers: pydantic's path
    b'{"Images": [{"ImageId": "\xff"}]}',
])
def test_the_fast_path_matches_pydantic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> None:
    _same(tmp_path, text, monkeypatch)


_ids = st.text(alphabet="m-abc019", min_size=0, max_size=4)
_text = st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 5))
_times = st.one_of(
    st.datetimes(timezones=st.sampled_from([None])).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes().map(lambda d: d.isoformat() + "+05:30"),
    st.integers(0, 2**33), st.sampled_from(["2025-05-31T23:43:25.1234567Z", "2025-05-31", "x", ""]))
_image = st.fixed_dictionaries(
    {"ImageId": _ids, "RegionId": st.sampled_from(["r1", "r2", ""]), "CreationTime": _times,
     "Status": st.sampled_from(["Available", "Deprecated", "Creating", "gone"])},
    optional={"ImageOwnerId": _text, "ImageOwnerAlias": st.sampled_from([None, "system", "marketplace", "self"]),
              "ImageFamily": _text, "IsPublic": st.one_of(st.booleans(), st.none(), st.just(1)),
              "SharedWith": st.lists(st.one_of(st.text(max_size=3), st.integers(0, 9)), max_size=2),
              "ImageName": _text, "Description": _text,
              "Tags": st.one_of(st.none(), st.dictionaries(st.sampled_from(["Tag", "a", "b"]), st.text(max_size=2),
                                                            max_size=2)),
              "Extra": st.just(1)})


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(images=st.lists(_image, max_size=4))
def test_random_states_load_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               images: list[dict[str, Any]]) -> None:
    _same(tmp_path, _state(*images), monkeypatch)
