"""`orderloom health ...`: train and evaluate the B2B customer health model, score customers, generate accounts."""

from __future__ import annotations

from typing import Any

import click
import orjson
from rich.console import Console

from orderloom.core.errors import OrderloomError
from orderloom.valuestream.detectors_commands import moment, services

out = Console()


@click.group("health")
def health() -> None:
    """B2B customer health: a score two hours after payment, trained on the log's renewals."""


def _auc(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _show(model: Any) -> dict[str, Any]:
    out.print(
        f"trained on {model.trained_on} customers (earliest by payment), held out {model.held_out} (latest); "
        f"churn rate {100 * model.churn_rate:.1f}%"
    )
    out.print(f"AUC on held-out customers: model ({len(model.features)} features) {_auc(model.auc)}")
    out.print(f"                           baseline (only {model.baseline_feature}) {_auc(model.baseline_auc)}")
    data: dict[str, Any] = model.as_data()
    data.pop("params")
    return data


@health.command("train")
@click.option("--at", "at", default=None, help="train on the log as of this time (RFC 3339; default now)")
def train_cmd(at: str | None) -> None:
    """Train the model on the log and record it (scores name the model they came from)."""
    from orderloom.valuestream.health_scoring import train_model

    svc = services()
    try:
        model = train_model(svc, moment(at))
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    data = _show(model)
    out.print(f"model {model.digest[:12]} recorded")
    click.echo(orjson.dumps(data).decode())


@health.command("eval")
@click.option("--at", "at", default=None, help="evaluate on the log as of this time (RFC 3339; default now)")
def eval_cmd(at: str | None) -> None:
    """Train on earlier customers, report AUC on later ones against a one-feature baseline (records nothing)."""
    from orderloom.valuestream.health_scoring import train_model

    svc = services()
    try:
        model = train_model(svc, moment(at), record=False)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    click.echo(orjson.dumps(_show(model)).decode())


@health.command("score")
@click.option("--threshold", default=40.0, show_default=True, help="scores below this are at risk (0-100)")
@click.option("--at", "at", default=None, help="score as of this time (RFC 3339; default now)")
def score_cmd(threshold: float, at: str | None) -> None:
    """Score every undecided B2B customer two hours after payment; record scores and at-risk customers."""
    from orderloom.valuestream.health_scoring import score_due

    svc = services()
    try:
        scored = score_due(svc, moment(at), threshold)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    new = [s for s in scored if s["status"] == "scored"]
    risky = [s for s in new if s["at_risk"]]
    out.print(f"{len(scored)} customers scored ({len(new)} new), {len(risky)} newly at risk")
    for s in risky[:20]:
        why = ", ".join(f"{d['feature']}={d['value']}" for d in s["drivers"])
        out.print(f"  {s['customer']}  score {s['score']:.0f}  {why}", highlight=False)
    click.echo(orjson.dumps({"scored": len(scored), "new": len(new), "at_risk": len(risky)}).decode())


@health.command("generate")
@click.option("--accounts", default=1200, show_default=True, help="B2B accounts to generate")
@click.option("--days", default=360, show_default=True, help="their first orders over this many days before now")
@click.option("--seed", default=11, show_default=True)
def generate_cmd(accounts: int, days: int, seed: int) -> None:
    """Write seeded B2B accounts into the log: orders, payments, deal and payment-history facts, renewals."""
    from orderloom.valuestream.generator_b2b import B2BPlan, generate_accounts, write_accounts

    svc = services()
    try:
        made = generate_accounts(B2BPlan(accounts=accounts, days=days, seed=seed), svc.clock.now())
        written = write_accounts(svc.intake, made)
    except OrderloomError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        svc.close()
    decided = sum(a.decided_at is not None for a in made)
    out.print(f"{len(made)} accounts ({decided} with a renewal outcome), {written} new events")
