"""`orderloom pack ...`: list the shipped industry packs, show one, install one."""

from __future__ import annotations

from typing import Any

import click
import orjson
from rich.console import Console

from orderloom.core.errors import OrderloomError

out = Console()


def _services() -> Any:
    from orderloom.bootstrap import build_services
    from orderloom.core.settings import Settings

    try:
        return build_services(Settings.from_env())
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("pack")
def pack() -> None:
    """Industry packs: event types, signals, monitors, policies and playbooks installed as one."""


@pack.command("list")
def list_cmd() -> None:
    """The shipped packs and whether each is installed in this log."""
    from orderloom.packs import installed_packs, list_packs

    svc = _services()
    try:
        done = installed_packs(svc.store)
    finally:
        svc.close()
    for p in list_packs():
        state = f"installed {done[p.name]['installed_at']}" if p.name in done else "not installed"
        out.print(f"[bold]{p.name}[/] {p.version}  {p.label['en']} — {state}")


@pack.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print the whole document as JSON")
def show(name: str, as_json: bool) -> None:
    """What a pack brings: event types, monitors, signals, policies and playbooks."""
    from orderloom.packs import get_pack, installed_packs
    from orderloom.packs.install import pack_document

    svc = _services()
    try:
        doc = pack_document(get_pack(name), installed_packs(svc.store).get(name))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if as_json:
        print(orjson.dumps(doc).decode())
        return
    out.print(f"[bold]{doc['name']}[/] {doc['version']} — {doc['label']['en']}\n{doc['description']}")
    c = doc["contents"]
    out.print("event types: " + ", ".join(t["id"] for t in c["event_types"]))
    out.print("monitors: " + (", ".join(m["id"] for m in c["monitors"]) or "-"))
    out.print("signals: " + (", ".join(c["signals"]) or "-"))
    out.print("policies: " + ", ".join(f"{p['name']} ({p['kind']}, {p['tests']} tests)" for p in c["policies"]))
    out.print("installed: " + (str(doc["installed"]["installed_at"]) if doc["installed"] else "no"))


@pack.command("install")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print the install report as JSON")
def install(name: str, as_json: bool) -> None:
    """Install a pack: save and publish its policies and playbooks (idempotent), record it in the log."""
    from orderloom.packs.install import install_pack

    svc = _services()
    try:
        report = install_pack(svc, name, actor="admin:cli")
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    if as_json:
        print(orjson.dumps(report).decode())
        return
    for p in report["policies"]:
        out.print(f"  {p['name']} v{p['version']}: {p['action'].replace('_', ' ')}")
    out.print(f"{report['pack']} {report['version']}: " + ("installed" if report["changed"] else "already installed"))
    out.print(report["note"])
