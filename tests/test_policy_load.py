"""Loading policies: shipped + user layers, replacement by id/name, files and folders, input errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0, load, load_errors, make_image

from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.models import (
    CreateImageRequest,
    DeleteImageRequest,
    ModifyImageAttributeRequest,
)
from imagefam.engine.parsing import InputError
from imagefam.engine.policy import load_policy, shipped_sources
from imagefam.engine.store import ImageStore
from imagefam.rules.errors import PolicyError, Source

RULE = 'rule {id} on DeleteImage warn when {cond} message "m" cites "c"\n'


@pytest.fixture(scope="module")
def shipped() -> object:
    return load_policy()


def test_shipped_policy_loads_cleanly(shipped: object) -> None:
    from imagefam.rules.compiled import Policy

    assert isinstance(shipped, Policy)
    assert shipped.warnings == []
    assert shipped.resolution is not None
    assert shipped.resolution.order_text == "CreationTime desc, ImageId desc"
    assert all(r.shipped for r in shipped.rules)
    ids = [r.id for r in shipped.rules]
    assert len(ids) == len(set(ids))
    assert "family-quota-create" in ids and "owner-only" in ids
    assert {r.id for r in shipped.by_action["CreateImage"]} >= {"family-quota-create", "family-name-acs-prefix"}
    for action, rules in shipped.by_action.items():
        assert all(action in r.targets and r.kind == "action" for r in rules)
    for scope, rules in shipped.audits.items():
        assert scope in ("image", "family", "account", "scaling_configuration", "instance")
        assert all(r.kind == "audit" and r.targets == (scope,) for r in rules)
    assert sorted(shipped.files) == sorted(s.name for s in shipped_sources())


def _families(n: int) -> ImageStore:
    return ImageStore([make_image(f"i{k}", ImageFamily=f"f{k}", RegionId="r",
                                  CreationTime=T0 + timedelta(days=k)) for k in range(n)])


def _create_ctx(store: ImageStore, family: str = "new") -> Ctx:
    return Ctx(store, request=CreateImageRequest(RegionId="r", ImageFamily=family), caller="1001",
               channel="api", action="CreateImage")


def test_user_definition_replaces_shipped_definition(shipped: object) -> None:
    store = _families(5)
    quota = shipped.rule("family-quota-create")  # type: ignore[attr-defined]
    assert quota.cond(_create_ctx(store)) is False
    user = load_policy(sources=[Source("mine.rules", "def family_limit = 5\n")])
    rule = user.rule("family-quota-create")
    assert rule is not None and rule.shipped  # the rule is still the shipped one ...
    assert rule.cond(_create_ctx(store)) is True  # ... but sees the user's limit
    assert rule.cond(_create_ctx(_families(4))) is False
    assert rule.cond(_create_ctx(store, family="f1")) is False  # an existing family adds nothing
    assert rule.message(_create_ctx(store)) == (
        "1001 already has 5 image families in r; a new family new would exceed the limit of 5")
    assert rule.code == "ImageFamilyQuotaExceed"
    assert len(user.rules) == len(shipped.rules)  # type: ignore[attr-defined]


def test_user_definition_replacing_function(shipped: object) -> None:
    # every image is visible to everyone now: owner-only no longer hides foreign images
    policy = load_policy(sources=[Source("mine.rules", "def visible(img: Image, viewer: string) = true\n")])
    img = make_image("i-9", ImageOwnerId="2002")
    ctx = Ctx(ImageStore([img]), request=DeleteImageRequest(RegionId="r1", ImageId="i-9"), image=img,
              caller="1001")
    assert shipped.rule("image-not-found").cond(ctx) is True  # type: ignore[attr-defined]
    assert policy.rule("image-not-found").cond(ctx) is False  # type: ignore[union-attr]
    assert policy.rule("owner-only").cond(ctx) is True  # type: ignore[union-attr]


def test_user_rule_replaces_shipped_rule_with_same_id(shipped: object) -> None:
    text = ('rule create-assumed-available on CreateImage warn when request.ImageFamily == "x"\n'
            '  message "mine" cites "mine"\n')
    policy = load_policy(sources=[Source("mine.rules", text)])
    rule = policy.rule("create-assumed-available")
    assert rule is not None
    assert not rule.shipped and rule.severity == "warn" and rule.file == "mine.rules" and rule.line == 1
    assert [r.id for r in policy.rules].count("create-assumed-available") == 1
    assert len(policy.rules) == len(shipped.rules)  # type: ignore[attr-defined]
    assert rule.cond(_create_ctx(ImageStore(), family="y")) is False
    assert rule.cond(_create_ctx(ImageStore(), family="x")) is True
    assert rule.message(Ctx()) == "mine"
    assert [r.id for r in policy.by_action["CreateImage"]].count("create-assumed-available") == 1
    # the original was an info rule that always fires
    orig = shipped.rule("create-assumed-available")  # type: ignore[attr-defined]
    assert orig.severity == "info" and orig.cond(_create_ctx(ImageStore())) is True


def test_user_rule_can_move_a_rule_to_other_actions(shipped: object) -> None:
    text = 'rule owner-only on DeleteImage deny when false message "m" cites "c"\n'
    policy = load_policy(sources=[Source("mine.rules", text)])
    assert "owner-only" not in [r.id for r in policy.by_action["ModifyImageAttribute"]]
    assert "owner-only" in [r.id for r in shipped.by_action["ModifyImageAttribute"]]  # type: ignore[attr-defined]


def test_user_resolve_block_replaces_shipped() -> None:
    text = ("resolve\n  candidates images where ImageFamily == family\n"
            "  require any: true\n  order by ImageId asc\n")
    policy = load_policy(sources=[Source("mine.rules", text)])
    assert policy.resolution is not None
    assert policy.resolution.file == "mine.rules"
    assert policy.resolution.order_text == "ImageId asc"
    assert [r.name for r in policy.resolution.requirements] == ["any"]


def test_two_resolve_blocks_in_one_layer() -> None:
    block = "resolve\n  candidates images\n  require any: true\n  order by ImageId\n"
    diags = load_errors(block + block)
    assert [d.message for d in diags] == ["more than one 'resolve' block"]


def test_default_false_drops_the_shipped_policy() -> None:
    policy = load(RULE.format(id="only", cond="true"))
    assert [r.id for r in policy.rules] == ["only"]
    assert policy.resolution is None
    assert policy.files == ["t.rules"]
    # shipped definitions are gone too
    diags = load_errors('rule r on DeleteImage deny when visible(image, caller) message "m"\n')
    assert diags[0].message == "unknown function 'visible'"
    empty = load_policy(default=False)
    assert empty.rules == [] and empty.resolution is None


def test_user_rule_using_shipped_definitions(shipped: object) -> None:
    policy = load('rule mine on DeleteImage deny when image != null and not visible(image, caller) '
                  'message "hidden" cites "c"\n', default=True)
    rule = policy.rule("mine")
    assert rule is not None and not rule.shipped
    hidden = make_image("x", ImageOwnerId="2002")
    shared = make_image("y", ImageOwnerId="2002", SharedWith=("1001",))
    public = make_image("z", ImageOwnerId=None, ImageOwnerAlias="system")
    assert rule.cond(Ctx(image=hidden, caller="1001")) is True
    assert rule.cond(Ctx(image=shared, caller="1001")) is False
    assert rule.cond(Ctx(image=public, caller="1001")) is False
    assert rule.cond(Ctx(image=None, caller="1001")) is False


def test_duplicate_ids_across_user_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.rules").write_text(RULE.format(id="same", cond="true"))
    (tmp_path / "b.rules").write_text(RULE.format(id="same", cond="false"))
    with pytest.raises(PolicyError) as info:
        load_policy([tmp_path], default=False)
    (d,) = info.value.diagnostics
    assert d.message == "duplicate rule id 'same'"
    assert d.source.name == str(tmp_path / "b.rules")
    assert d.hint == f"first at {tmp_path / 'a.rules'}:1"


def test_paths_files_and_folders(tmp_path: Path) -> None:
    one = tmp_path / "one.rules"
    one.write_text(RULE.format(id="one", cond="true"))
    folder = tmp_path / "more"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.rules").write_text(RULE.format(id="b", cond="true"))
    (folder / "sub" / "a.rules").write_text(RULE.format(id="a", cond="true"))
    (folder / "notes.txt").write_text("rule broken broken broken\n")
    policy = load_policy([one, str(folder)], default=False)
    assert [r.id for r in policy.rules] == ["one", "b", "a"]
    assert policy.files == [str(one), str(folder / "b.rules"), str(folder / "sub" / "a.rules")]
    assert policy.rule("b").file == str(folder / "b.rules")  # type: ignore[union-attr]
    # with the shipped layer, user files come after the shipped ones
    both = load_policy([one])
    assert both.files[-1] == str(one) and both.rule("one") is not None


def test_paths_and_sources_together(tmp_path: Path) -> None:
    f = tmp_path / "x.rules"
    f.write_text("def limit = 3\n")
    policy = load_policy([f], default=False, sources=[Source("s.rules", RULE.format(id="r", cond="limit == 3"))])
    assert policy.rules[0].cond(Ctx()) is True


def test_user_file_errors_name_the_path(tmp_path: Path) -> None:
    f = tmp_path / "bad.rules"
    f.write_text('rule r on DeleteImage deny when image.Statsu == "x" message "m"\n')
    with pytest.raises(PolicyError) as info:
        load_policy([f])
    assert str(info.value).startswith(f"{f}:1:39: error: Image has no field 'Statsu'")


def test_missing_path_raises_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.rules"
    with pytest.raises(InputError, match="no such file or folder"):
        load_policy([missing])
    with pytest.raises(InputError, match=r"nope\.rules"):
        load_policy([missing], default=False)


def test_empty_folder_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"holds no \*\.rules files"):
        load_policy([tmp_path])


def test_non_utf8_file_is_a_located_error(tmp_path: Path) -> None:
    f = tmp_path / "latin1.rules"
    f.write_bytes(b"def a = \"\xe9\"\n")
    with pytest.raises(PolicyError) as info:
        load_policy([f])
    assert info.value.diagnostics[0].render().startswith(f"{f}:1:10: error: the file is not UTF-8")


def test_user_override_that_breaks_a_shipped_rule_is_reported_in_the_shipped_file() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(sources=[Source("mine.rules", 'def family_limit = "many"\n')])
    diags = info.value.diagnostics
    assert "imagefam/policy/quotas.rules" in {d.source.name for d in diags}
    assert all(d.source.name.startswith("imagefam/policy/") for d in diags)
    assert {d.message for d in diags} == {"cannot order int against string"}


def test_modify_quota_with_user_limit() -> None:
    policy = load_policy(sources=[Source("mine.rules", "def family_limit = 3\n")])
    store = _families(3)
    rule = policy.rule("family-quota-modify")
    assert rule is not None
    req = ModifyImageAttributeRequest(RegionId="r", ImageId="i0", ImageFamily="brand-new")
    ctx = Ctx(store, request=req, image=store.get("i0"), caller="1001")
    # i0 leaves f0, so only f1 and f2 remain: moving it to a new family makes 3, not 4
    assert rule.cond(ctx) is False
    # an image of the caller outside every family: moving it in would make a 4th family
    other = make_image("other", RegionId="r", ImageFamily=None)
    store.put(other)
    req = ModifyImageAttributeRequest(RegionId="r", ImageId="other", ImageFamily="brand-new")
    assert rule.cond(Ctx(store, request=req, image=other, caller="1001")) is True
    # not the caller's image: the quota is not its concern (owner-only or image-not-found answers)
    assert rule.cond(Ctx(store, request=req, image=None, caller="1001")) is False


# ---------------------------------------------------------------- nothing hidden, nothing silent


def test_a_duplicate_rule_id_does_not_hide_the_errors_of_either_rule() -> None:
    text = (RULE.format(id="r1", cond='request.ImageIdd == "x"') + RULE.format(id="r1", cond="true")
            + RULE.format(id="r2", cond="request.Nope == 1"))
    messages = [d.message for d in load_errors(text)]
    assert any("'ImageIdd'" in m for m in messages), messages
    assert any("duplicate rule id 'r1'" in m for m in messages), messages
    assert any("'Nope'" in m for m in messages), messages


def test_upper_case_rules_files_in_a_folder_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.rules").write_text(RULE.format(id="lower", cond="true"), "utf-8")
    (tmp_path / "B.RULES").write_text(RULE.format(id="upper", cond="true"), "utf-8")
    policy = load_policy([tmp_path], default=False)
    assert sorted(r.id for r in policy.rules) == ["lower", "upper"]


def test_a_dot_rule_file_in_a_folder_is_named_in_a_notice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers_engine import run_main

    (tmp_path / "a.rules").write_text(RULE.format(id="lower", cond="true"), "utf-8")
    (tmp_path / "typo.rule").write_text(RULE.format(id="missed", cond="true"), "utf-8")
    policy = load_policy([tmp_path], default=False)
    assert [r.id for r in policy.rules] == ["lower"]
    assert any("typo.rule" in n and "not read" in n for n in policy.notices), policy.notices
    run = run_main(capsys, "rules", "lint", "--no-default-policy", tmp_path)
    assert run.code == 0 and "typo.rule" in run.err


def test_overriding_a_shipped_rule_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers_engine import DEMO_DIR, run_main

    mine = tmp_path / "mine.rules"
    mine.write_text('rule family-name-format\n  on CreateImage\n  warn when false\n  message "m"\n  cites "c"\n',
                    "utf-8")
    policy = load_policy([mine])
    assert any("'family-name-format'" in n and "replaces the shipped rule" in n and "naming.rules" in n
               for n in policy.notices), policy.notices
    assert not load_policy().notices
    lint = run_main(capsys, "rules", "lint", mine)
    assert lint.code == 0 and "replaces the shipped rule" in lint.err
    args = ["check", DEMO_DIR / "rollback-fixed.yaml", "--state", DEMO_DIR / "state.yaml", "--policy", mine]
    text = run_main(capsys, *args)
    assert "note: rule 'family-name-format'" in text.out and "replaces the shipped rule" in text.out
    as_json = run_main(capsys, *args, "--format", "json")
    assert "replaces the shipped rule" in as_json.err and "replaces" not in as_json.out


def test_a_rule_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    f = tmp_path / "bom.rules"
    f.write_bytes(b"\xef\xbb\xbf" + RULE.format(id="r1", cond="true").encode("utf-8"))
    policy = load_policy([f], default=False)
    assert [r.id for r in policy.rules] == ["r1"] and policy.rules[0].line == 1


def test_a_rule_file_that_is_not_utf8_gets_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers_engine import assert_clean_error, run_main

    f = tmp_path / "latin1.rules"
    f.write_bytes(RULE.format(id="r1", cond="true").encode() + b'rule r2 on DeleteImage warn when true message "caf\xe9"\n')
    with pytest.raises(PolicyError) as info:
        load_policy([f], default=False)
    (d,) = info.value.diagnostics
    assert (d.span.line, d.span.col) == (2, 51)
    run = run_main(capsys, "rules", "lint", f)
    assert_clean_error(run)
    assert run.err.startswith(f"{f}:2:51: error: the file is not UTF-8")
    assert "codec" not in run.err
def test_replacing_a_field_of_a_policy_does_not_duplicate_its_rules() -> None:
    """``dataclasses.replace`` re-runs ``__post_init__``: the per-action lists are rebuilt, not appended to."""
    import dataclasses

    from imagefam.engine.policy import load_policy

    policy = load_policy()
    before = {a: len(rs) for a, rs in policy.by_action.items()}
    copy = dataclasses.replace(policy, resolution=policy.resolution)
    assert {a: len(rs) for a, rs in copy.by_action.items()} == before
    assert {a: len(rs) for a, rs in policy.by_action.items()} == before
