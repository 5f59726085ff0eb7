"""The ``imagefam`` command. Exit codes: 0 ok, 1 a denied step / no image / a deny finding,
2 bad input (a clear message on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn

from .engine.aliyun import DEFAULT_OWNERS
from .engine.parsing import InputError
from .output import check_output_path, to_stdout, write_output
from .rules.errors import PolicyError

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

_POLICY_HELP = "extra rule file or folder of *.rules (repeatable); a rule with a shipped rule's id replaces it"


def _err(text: str) -> None:
    """A message on stderr; control characters from inputs are escaped (its own line breaks stay)."""
    from .engine.render import keep_lines

    with contextlib.suppress(OSError, AttributeError):  # stderr may be closed (`2>&-`)
        sys.stderr.write(keep_lines(text) + "\n")


def _policy(args: argparse.Namespace, *, notices_on_stderr: bool = True):  # type: ignore[no-untyped-def]
    from .engine.policy import load_policy

    policy = load_policy(args.policy or (), default=not args.no_default_policy)
    if notices_on_stderr:
        for note in policy.notices:
            _err(f"imagefam: note: {note}")
    return policy


def _state(args: argparse.Namespace, reach: frozenset[str] | None = None):  # type: ignore[no-untyped-def]
    from .engine.loader import load_states

    state = load_states([args.state], args.account, args.stdin_format, reach)
    for note in state.notes:
        _err(f"imagefam: warning: {note}")
    return state


def _nonempty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _add_account_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account", metavar="UID", type=_nonempty,
                   help="for a raw DescribeImages body: the account that made the call (its 'self' images)")
    p.add_argument("--stdin-format", choices=["json", "yaml"],
                   help="the format of an input given as - (standard input); default: JSON if it starts "
                        "with { or [, else YAML")


def _time_arg(text: str) -> datetime:
    """``--at``: an ISO-8601 date or time; without a zone it is UTC."""
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time; write e.g. 2025-06-01 or 2025-06-01T08:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _add_at_flag(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument("--at", type=_time_arg, metavar="TIME",
                   help="evaluate as of TIME (ISO-8601, UTC unless a zone is given): rules see it as `now`. "
                        "Default: the state's TakenAt, else the current time" + extra)


def _add_output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def _add_progress_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal (default: only in a terminal)")
    g.add_argument("--quiet", "-q", action="store_true", help="show no progress")


def _add_policy_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", action="append", metavar="PATH", help=_POLICY_HELP)
    p.add_argument("--no-default-policy", action="store_true", help="do not load the shipped policy")


def _plans_and_state(args: argparse.Namespace, load_any_plan: Callable[..., Any]) -> tuple[list[Any], Any]:
    """The plans, then the state with only the regions they name indexed (imagefam.engine.prune);
    a bad state is reported before a bad plan, as when the state was read first."""
    from .engine.prune import plan_reach

    plans: list[Any] = []
    problem: InputError | None = None
    try:
        plans = [load_any_plan(p, args.plan_format, args.caller, args.terraform_dir, args.stdin_format)
                 for p in args.plan]
    except InputError as err:
        problem = err
    state = _state(args, None if problem is not None else plan_reach(plans))
    state.at = args.at
    if problem is not None:
        raise problem
    return plans, state


def cmd_check(args: argparse.Namespace) -> int:
    from .engine.ci import check_github, check_sarif
    from .engine.planformats import load_any_plan, redact
    from .engine.preflight import check
    from .engine.render import check_junit, check_text, to_json_text

    policy = _policy(args, notices_on_stderr=args.format != "text")  # text: in the output
    if args.plan.count("-") + (args.state == "-") > 1:
        raise InputError("standard input (-) can be read once: give it to one PLAN or to --state, not several")
    plans, state = _plans_and_state(args, load_any_plan)
    results = [check(state, plan, policy) for plan in plans]
    if args.verbose:
        from .engine.prune import describe

        _err(f"imagefam: {describe(state.images)}")
    if len(results) == 1:
        result = results[0]
        if args.format == "json":
            text = to_json_text(result.to_json())
        elif args.format == "junit":
            text = check_junit(result)
        elif args.format == "sarif":
            text = to_json_text(check_sarif(result, policy))
        elif args.format == "github":
            text = check_github(result)
        else:
            text = check_text(result)
    elif args.format == "json":  # several plans: each plan's object, named, under "plans"
        text = to_json_text({"allowed": all(r.allowed for r in results),
                             "plans": [{**r.to_json(), "plan": r.plan_source} for r in results]})
    elif args.format == "junit":
        text = check_junit(*results)
    elif args.format == "sarif":
        text = to_json_text(check_sarif(results[0], policy, *results[1:]))
    elif args.format == "github":
        text = "".join(check_github(r) for r in results)
    else:
        text = "\n".join(f"plan {r.plan_source}:\n{check_text(r)}" for r in results)
    if args.format == "text":
        from .engine.render import printable

        text += "".join(f"note: {printable(n)}\n" for n in policy.notices)
    write_output(redact(text, _sensitive_forms(plans)), args.output)
    return EXIT_OK if all(r.allowed for r in results) else EXIT_FAIL


def _sensitive_forms(plans: list[Any]) -> tuple[str, ...]:
    """Every value a plan marks sensitive, as it is and as each output format escapes it."""
    import json

    from .engine.ci import _escape_data
    from .engine.render import printable

    forms: dict[str, None] = {}
    for plan in plans:
        for v in plan.sensitive:
            for form in (v, printable(v), json.dumps(v, ensure_ascii=False)[1:-1], _escape_data(v)):
                forms[form] = None
    return tuple(sorted(forms, key=len, reverse=True))  # longest first: no partial replacement


def cmd_resolve(args: argparse.Namespace) -> int:
    from .engine.consumers import to_json as consumers_json
    from .engine.prune import in_reach
    from .engine.render import api_body, consumers_text, to_json_text, trace_text
    from .engine.resolver import Resolver

    policy = _policy(args)
    one_region = args.region is not None and not args.all_regions and args.at is None
    # One region asked: only its images are loaded (every image is still validated); should the
    # resolution read another region, it runs again with every image, so the answer is the same.
    state = _state(args, frozenset({args.region}) if one_region else None)
    if args.at is not None:
        state = state.as_of(args.at)
    if args.all_regions:
        return _resolve_all(args, state.regions(), Resolver(policy, state.images, state.taken_at, now=state.now))
    trace, users = in_reach(state, lambda st: _trace_and_users(args, policy, st, Resolver(
        policy, st.images, st.taken_at, now=st.now)))
    if args.format == "json":
        text = to_json_text({**trace.to_json(), "consumers": consumers_json(users, with_change=False)})
    elif args.format == "api":
        text = to_json_text(api_body(trace))
        if trace.image is not None and trace.image.ImageOwnerId != args.caller:
            print(f"imagefam: note: family {args.family} is not {args.caller}'s own: the sources disagree on "
                  "whether DescribeImageFromFamily returns other accounts' shared, community and public images "
                  "(one version of its reference says only the caller's custom images), so ECS may answer {} "
                  f"although RunInstances with this family launches {trace.image.ImageId}", file=sys.stderr)
    else:
        text = trace_text(trace) + consumers_text(users)
    write_output(text, args.output)
    return EXIT_OK if trace.image else EXIT_FAIL


def _trace_and_users(args: argparse.Namespace, policy: Any, state: Any, resolver: Any) -> tuple[Any, list[Any]]:
    """The trace of ``args.family`` in ``args.region`` and the consumers launching from its image."""
    from .engine.consumers import launching_from, policy_visible

    trace = resolver.trace(args.family, args.region, args.caller)
    users = (launching_from(state.consumers, state.images, trace.image, resolver.image, args.caller,
                            policy_visible(policy))
             if trace.image is not None and state.consumers else [])
    return trace, users


def _resolve_all(args: argparse.Namespace, regions: list[str], resolver) -> int:  # type: ignore[no-untyped-def]
    from tabulate import tabulate

    from .engine.render import printable as _p
    from .engine.render import to_json_text
    from .rules.runtime import format_time

    rows = []
    for region in regions:
        t = resolver.trace(args.family, region, args.caller)
        img = t.image
        rows.append({"region": region, "image_id": img.ImageId if img else None,
                     "creation_time": format_time(img.CreationTime) if img else None,
                     "image_name": img.ImageName if img else None, "tie": t.tie,
                     "candidates": len(t.candidates)})
    if args.format == "json":
        text = to_json_text({"family": args.family, "caller": args.caller, "regions": rows})
    else:
        names = {r["image_name"] for r in rows if r["image_id"]}
        table = tabulate([[_p(r["region"]), _p(r["image_id"] or "(none)"), r["creation_time"] or "",
                           _p(r["image_name"] or ""), "tie" if r["tie"] else ""] for r in rows],
                         headers=["region", "image", "created", "name", ""], tablefmt="simple")
        text = f"family {_p(args.family)} for caller {_p(args.caller)}, every region of the state:\n{table}\n"
        if len(names) > 1:
            text += f"drift: regions resolve to {len(names)} different image names\n"
    write_output(text, args.output)
    return EXIT_OK if any(r["image_id"] for r in rows) else EXIT_FAIL


def cmd_report(args: argparse.Namespace) -> int:
    from .engine.ci import report_github, report_sarif
    from .engine.loader import load_states
    from .engine.render import report_junit, report_text, to_json_text
    from .engine.report import report

    policy = _policy(args)
    regions = frozenset(args.region) if args.region else None
    state = load_states(args.state, args.account, args.stdin_format, regions)
    state.at = args.at
    for note in state.notes:
        _err(f"imagefam: warning: {note}")
    rep = report(state, policy, regions)
    if args.format == "json":
        text = to_json_text(rep.to_json())
    elif args.format == "junit":
        text = report_junit(rep, [r.id for r in policy.rules if r.kind == "audit"])
    elif args.format == "sarif":
        text = to_json_text(report_sarif(rep, policy, list(args.state)))
    elif args.format == "github":
        text = report_github(rep, list(args.state))
    elif args.format == "html":
        from .engine.html import report_html
        from .engine.prune import in_reach

        # the page resolves each family again: on a pruned state, a resolution reading a region left
        # out makes it start again on every image, as the report does
        text = in_reach(state, lambda st: report_html(st, rep, policy, sources=list(args.state)))
    else:
        text = report_text(rep, markdown=args.format == "markdown")
    if args.verbose:  # after the page too: its resolutions may have needed every image
        from .engine.prune import describe

        _err(f"imagefam: {describe(state.images, '--region')}")
    write_output(text, args.output)
    return EXIT_FAIL if rep.denied else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from .engine.consumers import family_consumers
    from .engine.diff import diff_states
    from .engine.loader import load_state
    from .engine.render import diff_text, to_json_text

    policy = _policy(args)
    if args.old == "-" and args.new == "-":
        raise InputError("OLD and NEW cannot both be - (standard input is read once)")
    old = load_state(args.old, args.account, args.stdin_format)
    new = load_state(args.new, args.account, args.stdin_format)
    for note in [*old.notes, *new.notes]:
        sys.stderr.write(f"imagefam: warning: {note}\n")
    # who launches from a family that now resolves to another image: the new snapshot's configurations
    store = new.consumers if new.consumers else None
    d = diff_states(old, new, policy, consumers=(
        (lambda region, name, viewer: family_consumers(store, region, name, viewer)) if store is not None else None))
    if args.format == "json":
        text = to_json_text(d.to_json())
    else:
        text = diff_text(d, markdown=args.format == "markdown")
    write_output(text, args.output)
    return EXIT_FAIL if "resolution" in (args.fail_on or ()) and d.resolution_changes else EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    from .engine.aliyun import snapshot
    from .engine.render import to_json_text

    owners = tuple(args.owners) if args.owners else DEFAULT_OWNERS
    if not 1 <= args.page_size <= 100:
        raise InputError(f"--page-size must be 1 to 100 (DescribeImages PageSize), got {args.page_size}")
    data = snapshot(args.region, args.account, owners=owners, keep_all_public=args.keep_all_public,
                    page_size=args.page_size, consumers=args.consumers)
    write_output(to_json_text(data), args.output)
    if args.output:
        sys.stderr.write(f"imagefam: wrote {len(data['Images'])} images to {args.output}\n")
    return EXIT_OK


def cmd_rules_lint(args: argparse.Namespace) -> int:
    from .engine.policy import load_policy

    try:
        policy = load_policy(args.paths, default=not args.no_default_policy)
    except PolicyError as err:
        _err(str(err))
        n = len([d for d in err.diagnostics if d.severity == "error"])
        sys.stderr.write(f"{n} error{'s' if n != 1 else ''}\n")
        return EXIT_INPUT
    for w in policy.warnings:
        _err(w.render())
    for note in policy.notices:
        _err(f"note: {note}")
    to_stdout(f"ok: {len(policy.rules)} rules in {len(policy.files)} files"
                     + (f", {len(policy.warnings)} warning{'s' if len(policy.warnings) != 1 else ''}"
                        if policy.warnings else "") + "\n")
    return EXIT_OK


def cmd_rules_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from .engine.render import printable as _p
    from .engine.render import to_json_text

    policy = _policy(args)
    rows = [{"id": r.id, "on": ", ".join(r.targets) if r.kind == "action" else f"for each {r.targets[0]}",
             "severity": r.severity, "error_code": r.code, "citation": r.cites, "file": f"{r.file}:{r.line}"}
            for r in policy.rules]
    if args.format == "json":
        write_output(to_json_text(rows), None)
    else:
        table = [[_p(r["id"]), r["on"].replace(", ", "\n"), r["severity"], _p(r["error_code"] or "-"),
                  _clip(_p(r["citation"] or "-"), 60)]
                 for r in rows]
        write_output(tabulate(table, headers=["id", "actions", "severity", "error code", "citation"],
                              tablefmt="simple") + "\n", None)
    return EXIT_OK


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cmd_rules_test(args: argparse.Namespace) -> int:
    from .engine import policytest
    from .engine.policy import load_policy
    from .engine.render import printable as _p

    policy = _policy(args)

    def with_packs(packs: list[str]):  # type: ignore[no-untyped-def]
        return load_policy([*(args.policy or ()), *(f"pack:{p}" for p in packs)],
                           default=not args.no_default_policy)

    results, coverage = policytest.run(args.paths, policy, with_packs)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not r.passed or args.verbose:
            to_stdout(f"{'PASS' if r.passed else 'FAIL'} {_p(r.file)}: {_p(r.name)}\n")
        for f in r.failures:
            to_stdout(f"     {_p(f)}\n")
    missing = policytest.uncovered(policy, coverage) if args.coverage else []
    for m in missing:
        to_stdout(f"UNCOVERED {_p(m)}\n")
    to_stdout(f"{len(results) - len(failed)} passed, {len(failed)} failed\n")
    return EXIT_FAIL if failed or missing else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .engine.demo import demo_files, run_demo
    from .output import write_files

    if args.write:
        try:
            files = write_files(args.write, demo_files())
        except OSError as err:
            raise InputError(f"{args.write}: cannot write demo files: {err.strerror or err}") from err
        to_stdout("".join(f"wrote {f}\n" for f in files))
        return EXIT_OK
    write_output(run_demo(), None)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagefam",
        description="Pre-flight checks, explained resolution and compliance reports for Alibaba Cloud "
                    "ECS image families. Exit codes: 0 ok, 1 denied/no image/deny finding, 2 bad input.")
    parser.add_argument("--version", action="version", version="imagefam 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="check a plan of ECS API calls against a state snapshot",
                       description="Check each step of PLAN against the state the steps before it leave. "
                                   "Exit 0: every step allowed (warnings allowed); 1: a step denied; 2: bad input.")
    p.add_argument("plan", metavar="PLAN", nargs="+",
                   help="plan file(s) (JSON, or YAML by .yaml/.yml), Terraform plans (terraform show -json) "
                        "or scripts of aliyun ecs calls; - reads standard input; with several, each is "
                        "checked against the same state and the exit status is the worst")
    p.add_argument("--state", required=True, metavar="STATE",
                   help="state snapshot file (JSON or YAML; native, or a raw DescribeImages body; - reads "
                        "standard input)")
    p.add_argument("--plan-format", choices=["auto", "native", "terraform", "aliyun-cli"], default="auto",
                   help="how to read PLAN (default: recognised by its content)")
    p.add_argument("--caller", metavar="UID", type=_nonempty, help="the account making the calls: required for a Terraform "
                   "plan or a script; for a native plan, the caller of steps that set none")
    p.add_argument("--terraform-dir", metavar="DIR", help="the Terraform configuration's folder: results also "
                   "point at each resource block's file and line")
    _add_account_flag(p)
    _add_policy_flags(p)
    _add_at_flag(p)
    p.add_argument("--format", choices=["text", "json", "junit", "sarif", "github"], default="text",
                   help="text (table and reasons), json (the contract object), junit (a test case per step), "
                        "sarif (SARIF 2.1.0, results at the step's line) or github (workflow annotations)")
    _add_output_flag(p)
    _add_progress_flags(p)
    p.add_argument("--verbose", "-v", action="store_true",
                   help="say on stderr which regions' images were loaded and which were left out (the "
                        "check loads only the regions the plan names; every image is still validated)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="compliance report over state snapshots (audit rules)",
                       description="Run the audit rules over every image, family and account of the state(s). "
                                   "Exit 0: no deny finding; 1: at least one; 2: bad input.")
    p.add_argument("--state", required=True, nargs="+", metavar="STATE",
                   help="state file(s), native or raw DescribeImages bodies; several are merged "
                        "(pages, regions); - reads standard input")
    _add_account_flag(p)
    _add_policy_flags(p)
    _add_at_flag(p)
    p.add_argument("--region", nargs="+", action="extend", metavar="REGION", type=_nonempty,
                   help="report on these regions only (their images, families, accounts, scaling "
                        "configurations and instances; rules still read the whole state); only their "
                        "images are loaded when the state is one native file (every image is still validated)")
    p.add_argument("--format", choices=["text", "markdown", "json", "junit", "sarif", "github", "html"],
                   default="text",
                   help="text, markdown (for a pull request), json (the contract object), junit (a case per "
                        "rule), sarif (SARIF 2.1.0), github (workflow annotations) or html (one self-contained "
                        "page with a timeline per family and region)")
    _add_output_flag(p)
    _add_progress_flags(p)
    p.add_argument("--verbose", "-v", action="store_true",
                   help="say on stderr which regions' images were loaded and which were left out")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("resolve", help="explain which image a family resolves to",
                       description="Resolve FAMILY for CALLER in REGION with a trace of every candidate. "
                                   "Exit 0: an image is chosen; 1: no image; 2: bad input.")
    p.add_argument("--state", required=True, metavar="STATE",
                   help="state snapshot file (native, or a raw DescribeImages body; - reads standard input)")
    _add_account_flag(p)
    p.add_argument("--family", required=True, metavar="NAME", type=_nonempty, help="family name as the caller uses it "
                   "(e.g. web, or acs:<owner UID>:web for a shared/community family)")
    p.add_argument("--region", metavar="REGION", type=_nonempty, help="target region (required unless --all-regions)")
    p.add_argument("--caller", required=True, metavar="UID", type=_nonempty, help="account UID making the call")
    p.add_argument("--all-regions", action="store_true",
                   help="resolve in every region of the state, one row per region (exit 0 if any resolves)")
    _add_policy_flags(p)
    _add_at_flag(p, "; images created after TIME are left out, as if the snapshot were taken then")
    p.add_argument("--format", choices=["text", "json", "api"], default="text",
                   help="text (trace), json (trace as data) or api (the DescribeImageFromFamily body)")
    _add_output_flag(p)
    _add_progress_flags(p)
    p.set_defaults(func=cmd_resolve, resolve_parser=p)

    p = sub.add_parser("diff", help="what changed between two state snapshots, and what families now resolve to",
                       description="Compare two state snapshots: images added, removed, deprecated or restored, "
                                   "moved between families, shared or unshared, and every family whose resolved "
                                   "image changed for the owner, a sharee or any other account (seen by *). "
                                   "Exit 0; 1 with --fail-on resolution when a family resolves differently; "
                                   "2: bad input.")
    p.add_argument("old", metavar="OLD", help="the earlier state snapshot (native, or a raw DescribeImages body)")
    p.add_argument("new", metavar="NEW", help="the later state snapshot (native, or a raw DescribeImages body)")
    _add_account_flag(p)
    _add_policy_flags(p)
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                   help="text (tables), json (the contract object) or markdown (for a pull request or chat)")
    p.add_argument("--fail-on", action="append", choices=["resolution"], metavar="WHAT",
                   help="exit 1 when this kind of change is found; resolution: a family resolves to "
                        "another image (or to none) for someone")
    _add_output_flag(p)
    _add_progress_flags(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("snapshot", help="write a state file from the live ECS API (extra imagefam[aliyun])",
                       description="Page through DescribeImages (every Status) and DescribeImageSharePermission "
                                   "in each region with the official SDK and write a native state file. "
                                   "Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                                   "(and ALIBABA_CLOUD_SECURITY_TOKEN for STS).")
    p.add_argument("--region", required=True, nargs="+", metavar="R", type=_nonempty, help="region(s) to snapshot")
    p.add_argument("--account", metavar="UID", type=_nonempty, help="your account UID (learned from your images if omitted)")
    p.add_argument("--owners", nargs="+", choices=list(DEFAULT_OWNERS),
                   help="which images to query (default: all kinds)")
    p.add_argument("--keep-all-public", action="store_true",
                   help="keep public, community and Marketplace images that have no family")
    p.add_argument("--page-size", type=int, default=100, metavar="N",
                   help="DescribeImages PageSize, 1 to 100 (default 100)")
    p.add_argument("--consumers", action="store_true",
                   help="also record who launches from the images: DescribeScalingConfigurations (Auto Scaling) "
                        "and DescribeInstances, as ScalingConfigurations and Instances")
    _add_output_flag(p)
    _add_progress_flags(p)
    p.set_defaults(func=cmd_snapshot)

    rules = sub.add_parser("rules", help="lint, list and test rule files")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    p = rsub.add_parser("lint", help="check rule files (over the shipped policy); exit 2 on errors",
                        description="Parse and type-check rule files. Exit 0: clean; 2: errors (all listed).")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or folders (default: the shipped policy)")
    p.add_argument("--no-default-policy", action="store_true", help="check PATHs without the shipped policy")
    p.set_defaults(func=cmd_rules_lint)
    p = rsub.add_parser("list", help="table of rules: id, actions, severity, error code, citation")
    _add_policy_flags(p)
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=cmd_rules_list)
    p = rsub.add_parser("test", help="run policy tests (YAML cases); default: the shipped ones",
                        description="Run policy test files. Exit 0: all pass; 1: a failure; 2: bad test file.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="test files or folders (default: shipped tests)")
    _add_policy_flags(p)
    p.add_argument("--coverage", action="store_true",
                   help="also fail unless every shipped rule has a case where it fires and one where it does not")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    p.set_defaults(func=cmd_rules_test)

    p = sub.add_parser("demo", help="the ECS image family walkthrough (publish, share, roll back) on a built-in state, each step explained")
    p.add_argument("--write", metavar="DIR", help="instead, write the demo's state and plan files, and the state's HTML report "
                        "(report.html), into DIR")
    p.set_defaults(func=cmd_demo)
    return parser


def _inputs(args: argparse.Namespace) -> list[str]:
    """The files a command reads: its output must not be one of them."""
    out: list[str] = []
    for name in ("state", "plan", "policy", "paths", "terraform_dir"):
        value = getattr(args, name, None)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "resolve":
        sub = args.resolve_parser
        if args.all_regions and args.region:
            sub.error("--region and --all-regions exclude each other")
        if args.all_regions and args.format == "api":
            sub.error("--format api is one region's DescribeImageFromFamily body; it does not combine with --all-regions")
        if not args.all_regions and not args.region:
            sub.error("--region is required unless --all-regions is given")
    func: Callable[[argparse.Namespace], int] = args.func
    from . import progress

    progress.set_mode("on" if getattr(args, "progress", False) else "off" if getattr(args, "quiet", False)
                      else "auto")
    try:
        check_output_path(getattr(args, "output", None), _inputs(args))
        return func(args)
    except PolicyError as err:
        _err(str(err))
        return EXIT_INPUT
    except InputError as err:
        _err(f"imagefam: {err}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        progress.close_all()  # the bar of the interrupted work, before the message
        sys.stderr.write("imagefam: interrupted\n")
        return 130
    except BrokenPipeError:  # every write to stdout goes through to_stdout: this is a bug, not a status
        with contextlib.suppress(OSError):
            sys.stderr.write("imagefam: output closed before the result was written\n")
        return EXIT_FAIL
    except RecursionError:
        sys.stderr.write("imagefam: input nested too deeply\n")
        return EXIT_INPUT
    except MemoryError:
        sys.stderr.write("imagefam: out of memory (input too large)\n")
        return EXIT_INPUT
    except Exception as err:  # a bug: say so plainly, without a traceback
        _err(f"imagefam: internal error ({type(err).__name__}: {err}); please report it")
        return EXIT_INTERNAL


def run() -> NoReturn:
    """The ``imagefam`` command (and ``python -m imagefam.cli``): :func:`main` in a process of its own.

    Savings that only a process of its own may make (a program that calls :func:`main` keeps its
    environment, collector and objects as they were):

    * pydantic scans every installed distribution's entry points for plugins when it builds the
      first validator (2-10 ms, more the more packages are installed); plugins only observe
      validation and the command has no use for them, so they are off unless the caller set
      ``PYDANTIC_DISABLE_PLUGINS`` (set it empty to have them).
    * What exists when the command starts (modules, classes) lives until the process exits, so
      the cycle collector is told to leave it be (``gc.freeze``): a collection during the command
      walks only what the command made since.
    * Once the output is flushed (files written are closed already), the process ends without
      freeing every object one by one (about 0.5 s for a million images, 15 ms for a small check).
    """
    import gc

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.freeze()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            sys.exit(code)  # let the interpreter report and exit as it would have
    os._exit(code)


if __name__ == "__main__":
    run()
