"""``imagefam demo``: the ECS image family walkthrough on a built-in state, every answer explained.

The files beside this module (``state.yaml`` and the plans) are the demo's inputs; ``imagefam demo
--write DIR`` copies them out so the same commands can be run by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from ...rules.compiled import Policy
from ..loader import load_plan, load_state
from ..planformats import load_any_plan
from ..policy import load_policy
from ..preflight import check
from ..render import check_text, trace_text
from ..resolver import Resolver

M, N, P = "100001", "200002", "300003"
FILES = ("state.yaml", "rollback-denied.yaml", "rollback-fixed.yaml", "sharee.yaml", "terraform-plan.json",
         "deprecate-shared.sh", "promotion-state.yaml", "promotion-team.rules", "promotion.yaml",
         "scaling-state.yaml", "scale-out-denied.yaml", "scale-out-fixed.yaml")


def _path(name: str) -> Path:
    return Path(str(resources.files("imagefam.engine.demo").joinpath(name)))


def _section(title: str, command: str, body: str) -> str:
    bar = "=" * 78
    return f"{bar}\n{title}\n  $ {command}\n{bar}\n{body}\n"


def run_demo() -> str:
    policy = load_policy()
    state = load_state(_path("state.yaml"))
    resolver = Resolver(policy, state.images, state.taken_at, now=state.now)
    out = ["imagefam demo: the image-family story from the ECS documentation, on a built-in state.",
           f"Accounts: M={M} publishes family app-a, N={N} is M's sharee, P={P} sees only public images.",
           "Run `imagefam demo --write DIR` to get these files and repeat any command by hand.\n"]

    def resolve(title: str, family: str, region: str, caller: str) -> None:
        cmd = f"imagefam resolve --state state.yaml --family {family} --region {region} --caller {caller}"
        out.append(_section(title, cmd, trace_text(resolver.trace(family, region, caller))))

    resolve("1. M launches from its own family: the newest Available image wins; the Deprecated one is skipped",
            "app-a", "cn-hangzhou", M)
    resolve("2. N uses M's shared family as acs:<M>:app-a (Example 1 of the ECS docs)", f"acs:{M}:app-a", "cn-hangzhou", N)
    resolve("3. P sees only the community image m-a1: the shared m-b1 is not visible to P",
            f"acs:{M}:app-a", "cn-hangzhou", P)
    resolve("4. Per region: in cn-shanghai the same family resolves to that region's newest image",
            "app-a", "cn-shanghai", M)
    for n, (title, name) in enumerate([
        ("rollback by deprecating the newest image: DENIED, m-b1 is still shared with N", "rollback-denied.yaml"),
        ("the same rollback fixed: unshare first, deprecate, launch, then restore", "rollback-fixed.yaml"),
        ("N copies the shared image and tries to join M's family (Examples 2 and 4 of the ECS docs)", "sharee.yaml"),
    ], start=5):
        result = check(state, load_plan(_path(name)), policy)
        out.append(_section(f"{n}. {title}", f"imagefam check {name} --state state.yaml", check_text(result)))
    for n, (title, name) in enumerate([
        ("a Terraform plan (terraform show -json) creates an image in family acs-base and deletes the shared "
         "m-b1: both DENIED", "terraform-plan.json"),
        ("a deploy script of aliyun ecs calls deprecates the shared m-b1: DENIED at its line", "deprecate-shared.sh"),
    ], start=8):
        result = check(state, load_any_plan(_path(name), caller=M), policy)
        out.append(_section(f"{n}. {title}", f"imagefam check {name} --state state.yaml --caller {M}",
                            check_text(result).replace(str(_path(name)), name)))
    out += _promotion_scene()
    out += _scaling_scene(policy)
    return "\n".join(out)


def _scaling_scene(policy: Policy) -> list[str]:
    """Who launches from the family: a rollback that would break a scaling group's scale-outs."""
    state = load_state(_path("scaling-state.yaml"))
    out = []
    for n, (title, name) in enumerate([
        ("rollback of app-web by deprecating m-v2, but m-v1 is Deprecated too: asg-web's scale-outs would fail "
         "(DENIED)", "scale-out-denied.yaml"),
        ("the fixed rollback: restore m-v1 first, then deprecate m-v2; asg-web now launches m-v1",
         "scale-out-fixed.yaml"),
    ], start=12):
        result = check(state, load_plan(_path(name)), policy)
        out.append(_section(f"{n}. {title}", f"imagefam check {name} --state scaling-state.yaml",
                            check_text(result)))
    return out


def report_page() -> str:
    """The HTML report of the demo state (what ``imagefam report --format html`` writes)."""
    from ..html import report_html
    from ..report import report

    policy = load_policy()
    state = load_state(_path("state.yaml"))
    return report_html(state, report(state, policy), policy, sources=["state.yaml"])


def _promotion_scene() -> list[str]:
    """The promotion pack: skipping staging is denied; the staged image passes once it has soaked."""
    policy = load_policy(["pack:promotion", _path("promotion-team.rules")])
    state = load_state(_path("promotion-state.yaml"))
    plan = load_plan(_path("promotion.yaml"))
    cmd = ("imagefam check promotion.yaml --state promotion-state.yaml --policy pack:promotion "
           "--policy promotion-team.rules")
    out = [_section("10. M protects app-a with the promotion pack: the dev build skips staging (DENIED); the "
                    "release candidate has soaked 2 of 7 days (DENIED)", cmd, check_text(check(state, plan, policy)))]
    state.at = datetime(2020, 2, 16, tzinfo=UTC)
    out.append(_section("11. Six days later the release candidate has soaked: promoted, and app-a launches it",
                        cmd + " --at 2020-02-16", check_text(check(state, plan, policy))))
    return out


def demo_files() -> dict[str, str]:
    """The demo's state and plans, name -> text, with the state's HTML report as ``report.html``
    (``imagefam demo --write`` writes them all or none)."""
    contents = {name: _path(name).read_text("utf-8") for name in FILES}
    contents["report.html"] = report_page()
    return contents
