"""The `orderloom` command: serve, import and validate events, read chains, verify, keys."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from orderloom.connectors.commands import import_csv, import_parquet, reconcile_cmd, webhooks
from orderloom.core.errors import OrderloomError, ValidationFailed
from orderloom.core.settings import Settings
from orderloom.olist.commands import import_olist, report_group
from orderloom.packs.commands import pack
from orderloom.playbook.commands import playbook
from orderloom.status.analytics.commands import analytics
from orderloom.status.forecast.commands import forecast
from orderloom.status.monitors.commands import monitor
from orderloom.store.backup_commands import backup
from orderloom.valuestream.commands import contracts, facts, query
from orderloom.valuestream.detectors_commands import detectors, rootcause
from orderloom.valuestream.health_commands import health

out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def _services() -> Any:
    from orderloom.bootstrap import build_services

    try:
        return build_services(_settings())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


def _lines(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed event or None, parse error or None) for each non-blank line."""
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield n, orjson.loads(line), None
            except orjson.JSONDecodeError as exc:
                yield n, None, f"not valid JSON: {exc}"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    )


@click.group()
@click.version_option(package_name="orderloom")
def main() -> None:
    """Orderloom: one atomic event log for every order."""


@main.command()
@click.option("--host", default=None, help="address to listen on (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default 8000)")
@click.option("--demo", is_flag=True, help="load the demo orders and print one API key per role")
@click.option("--workers", default=1, show_default=True, help="API worker processes (needs PostgreSQL and NATS/Kafka)")
def serve(host: str | None, port: int | None, demo: bool, workers: int) -> None:
    """Run the HTTP API (with relay and consumers in-process on the in-process bus)."""
    import uvicorn

    from orderloom.api.app import create_app

    settings = _settings()
    if workers > 1 and (settings.bus_url.startswith("memory:") or not settings.db_url.startswith("postgres")):
        raise click.ClickException(
            "--workers above 1 needs a shared store and bus: set ORDERLOOM_DB_URL=postgresql://... and "
            "ORDERLOOM_BUS_URL=nats://127.0.0.1:4222, then run `orderloom relay` and `orderloom consume` beside it"
        )
    svc = _services()
    if demo:
        from orderloom.sim.demo import load_demo

        created = load_demo(svc)
        out.print(f"[bold]Demo data:[/bold] {created} orders loaded into {settings.db_url}")
        table = Table("role", "API key", title="One API key per role (shown once; keep them)")
        for role in ("consumer", "cs", "finance", "ops", "admin"):
            customer = "C-DEMO-001" if role == "consumer" else None
            key, _ = svc.keys.create(role, customer, note="make run demo", actor="cli:demo")
            table.add_row(role if customer is None else f"{role} ({customer})", key)
        out.print(table)
    h, p = host or settings.host, port or settings.port
    out.print(f"API on http://{h}:{p}  (OpenAPI: http://{h}:{p}/docs)")
    if workers > 1:
        svc.close()
        uvicorn.run("orderloom.api.app:create_app", factory=True, host=h, port=p, workers=workers, log_level="info")
        return
    app = create_app(services=svc)
    if demo:
        from orderloom.status.forecast.demo import start_demo

        start_demo(app.state)  # trains in the background: GET /v1/forecast shows a twin run once it is done
        out.print("GET /v1/forecast: the backlog forecast model is training on the twin (about a minute)")
    try:
        uvicorn.run(app, host=h, port=p, log_level="info")
    finally:
        svc.close()


def _until_signalled(work: Any) -> None:
    """Run a coroutine function taking a stop event; SIGINT/SIGTERM set the event."""
    import asyncio
    import signal

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await work(stop)

    asyncio.run(runner())


@main.command("openapi")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="write to FILE")
def openapi_cmd(out: Path | None) -> None:
    """Print the HTTP API's OpenAPI document (what /openapi.json serves), e.g. to refresh docs/openapi.json."""
    from orderloom.api.reference import openapi_text

    text = openapi_text()
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@main.command()
def relay() -> None:
    """Publish the log to the bus (ORDERLOOM_BUS_URL), from a durable checkpoint, until stopped."""
    from orderloom.pipeline import run_relay

    svc = _services()
    err.print(f"relay: {svc.settings.db_url.split('@')[-1]} -> {svc.settings.bus_url}")
    try:
        _until_signalled(lambda stop: run_relay(svc, stop))
    finally:
        svc.close()


@main.command()
@click.argument("views", nargs=-1)
def consume(views: tuple[str, ...]) -> None:
    """Keep the views (all, or the named ones) up to date from the bus until stopped."""
    from orderloom.pipeline import run_consumer

    svc = _services()
    try:
        _until_signalled(lambda stop: run_consumer(svc, stop, views or None))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()


@main.group("views")
def views_group() -> None:
    """Read models derived from the log."""


@views_group.command("rebuild")
@click.argument("names", nargs=-1)
def views_rebuild(names: tuple[str, ...]) -> None:
    """Drop views (all, or the named ones) and rebuild them from the log, with a progress bar."""
    import time

    from orderloom.pipeline import status_consumer

    svc = _services()
    try:
        runner = status_consumer(svc, names or None)
        head = svc.store.last_position()
        started = time.perf_counter()
        with _progress() as bar:
            task = bar.add_task("rebuilding " + ", ".join(p.view for p in runner.projections), total=max(head, 1))
            read = runner.rebuild(progress=lambda reached, total: bar.update(task, completed=reached, total=total))
            bar.update(task, completed=max(head, 1))
        seconds = time.perf_counter() - started
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(f"rebuilt from {read:,} events in {seconds:.1f} s ({read / max(seconds, 1e-9):,.0f} events/s)")


@main.group()
def events() -> None:
    """Import or check files of events (JSON Lines, one CloudEvent per line)."""


@events.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def events_validate(file: Path) -> None:
    """Check every event against the dictionary without storing anything."""
    from orderloom.core.clock import SystemClock
    from orderloom.dictionary import load_dictionary
    from orderloom.dictionary.validation import validate_event

    dictionary = load_dictionary(_settings().dictionary_paths)
    now = SystemClock().now()
    good = bad = 0
    for n, raw, problem in _lines(file):
        if problem:
            bad += 1
            err.print(f"line {n}: {problem}")
            continue
        try:
            validate_event(raw, dictionary, now)
            good += 1
        except ValidationFailed as exc:
            bad += 1
            for p in exc.problems:
                err.print(f"line {n}: {p.field}: {p.message} [{p.rule}]")
    out.print(f"{good} valid, {bad} invalid")
    sys.exit(1 if bad else 0)


@events.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=1000, show_default=True, help="events per store transaction")
def events_import(file: Path, batch: int) -> None:
    """Append the events of FILE to the log, with a per-line error report."""
    svc = _services()
    total = sum(1 for _ in _lines(file))
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    try:
        with _progress() as bar:
            task = bar.add_task(f"importing {file.name}", total=total)
            chunk: list[tuple[int, Any]] = []
            for n, raw, problem in _lines(file):
                if problem:
                    counts["rejected"] += 1
                    err.print(f"line {n}: {problem}")
                    bar.advance(task)
                    continue
                chunk.append((n, raw))
                if len(chunk) >= batch:
                    _import_chunk(svc, chunk, counts)
                    bar.advance(task, len(chunk))
                    chunk = []
            if chunk:
                _import_chunk(svc, chunk, counts)
                bar.advance(task, len(chunk))
    finally:
        svc.close()
    out.print(f"{counts['accepted']} accepted, {counts['duplicate']} duplicates, {counts['rejected']} rejected")
    sys.exit(1 if counts["rejected"] else 0)


def _import_chunk(svc: Any, chunk: list[tuple[int, Any]], counts: dict[str, int]) -> None:
    results = svc.intake.record([raw for _, raw in chunk])
    for (n, _), r in zip(chunk, results, strict=True):
        counts[r.status] += 1
        for p in r.problems:
            err.print(f"line {n}: {p.field}: {p.message} [{p.rule}]")


@main.group()
def dictionary() -> None:
    """Work with event dictionary files."""


@dictionary.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def dictionary_check(file: Path) -> None:
    """Check a dictionary file (a pack is checked on top of the shipped core)."""
    from orderloom.dictionary import check_file

    try:
        d = check_file(file)
    except OrderloomError as exc:
        err.print(str(exc))
        sys.exit(1)
    out.print(f"{file}: OK ({len(d.types)} event types in the combined dictionary)")


@main.command()
@click.argument("oid")
@click.option("--role", default="ops", show_default=True, help="whose view: consumer, cs, finance, ops, admin")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def chain(oid: str, role: str, lang: str) -> None:
    """Print an order's atomic chain as ROLE sees it."""
    svc = _services()
    try:
        view = svc.reader.chain(oid, role)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    status = view["status"]
    label = (status.get("label") or {}).get(lang, status.get("id"))
    out.print(f"[bold]{oid}[/bold]  {label}  ({role})")
    table = Table("#", "time (UTC)", "step", "leg", "+", "details")
    for s in view["steps"]:
        delta = s["since_previous_s"]
        details = ", ".join(f"{k}={v}" for k, v in s["data"].items() if not isinstance(v, (dict, list)))
        if s.get("actor"):
            details = f"{s['actor']} @ {s.get('deviceid') or '-'}  " + details
        table.add_row(
            str(s["seq"]),
            s["time"][:19].replace("T", " "),
            s["label"][lang],
            s["leg"] or "",
            "" if delta is None else _human(delta),
            details[:80],
        )
    out.print(table)
    for sh in view["shipments"]:
        st = sh["status"]
        out.print(f"shipment {sh['shipment']}: {(st.get('label') or {}).get(lang, st.get('id'))}")


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@main.command()
@click.argument("oid", required=False)
def verify(oid: str | None) -> None:
    """Verify one order's hash chain, or every order's; name the first broken link."""
    from orderloom.status.verify import verify_log
    from orderloom.store import iter_log

    svc = _services()
    try:
        verdicts = [svc.reader.verify(oid)] if oid else list(verify_log(iter_log(svc.store)))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    broken = [v for v in verdicts if not v.ok]
    for v in broken:
        err.print(f"[red]BROKEN[/red] order {v.oid}: event #{v.broken_seq} ({v.broken_id}): {v.reason}")
    out.print(f"{len(verdicts) - len(broken)} of {len(verdicts)} order chains intact")
    sys.exit(1 if broken else 0)


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(["consumer", "cs", "finance", "ops", "admin"]))
@click.option("--customer", default=None, help="the customer a consumer key may read")
@click.option("--note", default="", help="who or what the key is for")
def keys_create(role: str, customer: str | None, note: str) -> None:
    """Issue an API key and print it (it is shown only once)."""
    svc = _services()
    try:
        key, info = svc.keys.create(role, customer, note, actor="cli")
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(key)
    err.print(f"key id {info.key_id}, role {info.role}" + (f", customer {customer}" if customer else ""))


@main.group()
def customers() -> None:
    """Customer data requests."""


@customers.command("forget")
@click.argument("customer")
@click.option("--reason", default="", help="why (recorded in the audit log)")
def customers_forget(customer: str, reason: str) -> None:
    """Erase a customer's personal data by destroying their key; chains still verify."""
    from orderloom.status.erasure import forget_customer

    svc = _services()
    try:
        existed = forget_customer(svc.intake, customer, actor="cli", reason=reason)
    finally:
        svc.close()
    out.print(f"customer {customer}: " + ("personal data erased" if existed else "had no personal data stored"))


@main.group()
def policy() -> None:
    """Versioned policies: save, test, diff, publish, roll back."""


def _policy_log(svc: Any) -> Any:
    from orderloom.policy.log import PolicyLog

    return PolicyLog(svc.intake)


@policy.command("save")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="policy name (default: the file's `name`)")
def policy_save(file: Path, name: str | None) -> None:
    """Save FILE (JSON: name, kind, document, input_schema, tests, note) as the next version."""
    from orderloom.policy.model import GoldenCase, PolicyVersion

    try:
        raw = orjson.loads(file.read_bytes())
        draft = PolicyVersion(
            name or raw["name"],
            0,
            raw["kind"],
            raw["document"],
            raw["input_schema"],
            tuple(GoldenCase.from_dict(t) for t in raw.get("tests", [])),
            raw.get("note", ""),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{file} is not a policy file: {exc}") from None
    svc = _services()
    try:
        saved = _policy_log(svc).save(draft, actor="cli")
    except ValidationFailed as exc:
        for p in exc.problems:
            err.print(f"{p.field}: {p.message} [{p.rule}]")
        raise click.ClickException("the policy was not saved") from None
    finally:
        svc.close()
    out.print(f"{saved.name} version {saved.version} saved ({saved.digest[:12]})")


@policy.command("show")
@click.argument("name")
def policy_show(name: str) -> None:
    """Versions, what serves traffic, and the history of NAME."""
    svc = _services()
    try:
        state = _policy_log(svc).state(name)
    finally:
        svc.close()
    if not state.versions:
        raise click.ClickException(f"no policy named {name}")
    serving = f"version {state.stable}" if state.stable else "nothing"
    if state.rollout:
        r = state.rollout
        serving = f"version {r.stable}, and version {r.candidate} to {r.percent:g}% (gray release)"
    out.print(f"[bold]{name}[/bold]: serving {serving}")
    for v in sorted(state.versions.values(), key=lambda v: v.version):
        out.print(f"  v{v.version}  {v.kind:16} {v.author:14} {v.note}")
    for h in state.history:
        out.print(f"  {h['time'][:19]}  {h['type']:22} v{h['version']}  by {h['actor']}")


@policy.command("test")
@click.argument("name")
@click.argument("version", type=int)
def policy_test(name: str, version: int) -> None:
    """Run a version's golden tests."""
    from orderloom.policy import run_golden

    svc = _services()
    try:
        state = _policy_log(svc).state(name)
    finally:
        svc.close()
    if version not in state.versions:
        raise click.ClickException(f"policy {name} has no version {version}")
    results = run_golden(state.versions[version])
    for r in results:
        out.print(("PASS " if r.passed else "[red]FAIL[/red] ") + r.case)
        for p in r.problems:
            err.print(f"    {p.field}: {p.message}")
    sys.exit(0 if all(r.passed for r in results) else 1)


@policy.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
def policy_diff(name: str, a: int, b: int) -> None:
    """What changed from version A to version B."""
    from orderloom.policy import diff

    svc = _services()
    try:
        state = _policy_log(svc).state(name)
    finally:
        svc.close()
    for v in (a, b):
        if v not in state.versions:
            raise click.ClickException(f"policy {name} has no version {v}")
    for line in diff(state.versions[a], state.versions[b]) or ["(no differences)"]:
        out.print(line)


@policy.command("publish")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--percent", default=100.0, show_default=True, help="share of traffic for a gray release")
@click.option("--reason", default="", help="recorded in the audit history")
def policy_publish(name: str, version: int, percent: float, reason: str) -> None:
    """Serve VERSION (to PERCENT of traffic); its golden tests must pass."""
    svc = _services()
    try:
        _policy_log(svc).publish(name, version, actor="cli", percent=percent, reason=reason)
    except OrderloomError as exc:
        for p in getattr(exc, "problems", []):
            err.print(f"{p.field}: {p.message}")
        raise click.ClickException(str(exc).splitlines()[0]) from None
    finally:
        svc.close()
    out.print(f"{name} version {version} published to {percent:g}%")


@policy.command("rollback")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--reason", default="", help="recorded in the audit history")
def policy_rollback(name: str, version: int, reason: str) -> None:
    """Serve an earlier VERSION to everyone, at once."""
    svc = _services()
    try:
        _policy_log(svc).rollback(name, version, actor="cli", reason=reason)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    out.print(f"{name} rolled back to version {version}")


@main.group()
def experiment() -> None:
    """A/B experiments between policy versions."""


@experiment.command("report")
@click.argument("name")
def experiment_report_cmd(name: str) -> None:
    """Outcomes per arm of policy NAME, with 95% confidence intervals and a sample-ratio check."""
    from orderloom.policy.runtime import experiment_report

    svc = _services()
    try:
        rep = experiment_report(svc, name)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    orders = rep["orders"]
    out.print(f"[bold]{name}[/bold]: {orders['stable']} orders on stable, {orders['candidate']} on candidate")
    table = Table("metric", "n (stable / candidate)", "stable", "candidate", "difference [95% CI]")
    for metric, m in rep["metrics"].items():
        if m["difference"] is None:
            table.add_row(metric, f"{m['n'][0]} / {m['n'][1]}", "-", "-", "not enough data")
            continue
        fmt = "{:,.2f}" if metric == "cost_per_order" else "{:.1%}"
        sign = "{:+,.2f}" if metric == "cost_per_order" else "{:+.1%}"
        table.add_row(
            metric,
            f"{m['n'][0]} / {m['n'][1]}",
            fmt.format(m["stable"]),
            fmt.format(m["candidate"]),
            f"{sign.format(m['difference'])} [{sign.format(m['ci_low'])}, {sign.format(m['ci_high'])}]",
        )
    out.print(table)
    srm = rep.get("sample_ratio")
    if srm:
        verdict = "MISMATCH: do not trust this experiment" if srm["mismatch"] else "ok"
        out.print(f"sample ratio: chi2 {srm['chi2']:.2f}, p {srm['p_value']:.4f} ({verdict})")
    print(orjson.dumps(rep).decode())


@main.command()
@click.argument("scenario")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Choice(["nearest", "cheapest", "dynamic"]),
    help="routing policy to run (repeat to compare; default: dynamic)",
)
@click.option("--record/--no-record", default=True, show_default=True, help="write the events into the store")
def simulate(scenario: str, policies: tuple[str, ...], record: bool) -> None:
    """Run the network digital twin on SCENARIO (a YAML file, or a shipped one: storm_nanjing, ...)."""
    from importlib import resources

    from orderloom.sim.twin import load_scenario
    from orderloom.sim.twin import simulate as run_twin

    path = Path(scenario)
    if not path.exists():
        shipped = Path(str(resources.files("orderloom.sim").joinpath("scenarios", f"{scenario}.yaml")))
        if not shipped.exists():
            raise click.ClickException(
                f"no scenario file {scenario}; shipped ones: east_china_congestion, storm_nanjing, promo_peak"
            )
        path = shipped
    try:
        sc = load_scenario(path)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    svc = _services() if record else None
    try:

        def write(batch: list[dict[str, Any]]) -> None:
            assert svc is not None
            rejected = [r for r in svc.intake.record(batch) if r.status == "rejected"]
            if rejected:
                raise click.ClickException(f"the store refused a simulated event: {rejected[0].as_dict()}")

        for policy in policies or ("dynamic",):
            with _progress() as bar:
                task = bar.add_task(f"{path.stem} · {policy}", total=sc.days * 24)

                def advance(hour: int, total: int, task: Any = task, bar: Any = bar) -> None:
                    bar.update(task, completed=hour, total=total)

                report = run_twin(sc, policy, record=write if svc is not None else None, progress=advance)  # type: ignore[arg-type]
            out.print("\n".join(report.lines()))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if svc is not None:
            svc.close()


@policy.command("shadow")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--since", default=None, help="only decisions at or after this time (RFC 3339)")
def policy_shadow(name: str, version: int, since: str | None) -> None:
    """Replay recorded decisions of NAME through VERSION and report what would change (acts on nothing)."""
    from orderloom.core.envelope import normalise_time
    from orderloom.policy.runtime import shadow_report

    svc = _services()
    try:
        rep = shadow_report(svc, name, version, normalise_time(since) if since else None)
    except (OrderloomError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    rate = rep["differ_rate"]
    out.print(
        f"{name} v{version}: {rep['compared']} decisions replayed, {rep['differ']} would differ"
        + (f" ({rate:.1%})" if rate is not None else "")
    )
    for ex in rep["examples"][:10]:
        out.print(f"  {ex['oid']}: served v{ex['served_version']} {ex['actual']} → would be {ex['would']}")
    print(orjson.dumps(rep).decode())


@policy.command("health")
@click.argument("name")
@click.option("--threshold", default=0.1, show_default=True, help="deviation rate that raises an alert")
def policy_health_cmd(name: str, threshold: float) -> None:
    """Invocations, latency, rule hits, rules never hit and execution deviations of NAME."""
    from orderloom.policy.runtime import policy_health

    svc = _services()
    try:
        rep = policy_health(svc, name, threshold)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    for v in rep["versions"]:
        rate = v["deviation_rate"]
        out.print(
            f"v{v['version']}: {v['invocations']} decisions, rules never hit {len(v['rules_never_hit'])},"
            f" deviation {'-' if rate is None else f'{rate:.1%}'}{'  ALERT' if v.get('alert') else ''}"
        )
    print(orjson.dumps(rep).decode())


main.add_command(analytics)
main.add_command(playbook)
main.add_command(monitor)
main.add_command(backup)
main.add_command(forecast)
main.add_command(facts)
main.add_command(contracts)
main.add_command(query)
main.add_command(detectors)
main.add_command(rootcause)
main.add_command(health)
main.add_command(pack)


@main.group("import")
def import_group() -> None:
    """Bulk import of files (CSV, Parquet) into the log."""


import_group.add_command(import_csv)
import_group.add_command(import_parquet)
import_group.add_command(import_olist)
main.add_command(report_group)
main.add_command(reconcile_cmd)
main.add_command(webhooks)
