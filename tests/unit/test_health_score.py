"""Customer health: what is known two hours after payment, a model beating one feature, at-risk customers flagged."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import pytest

from orderloom.bootstrap import Services
from orderloom.core.errors import NotFound, ValidationFailed
from orderloom.playbook import PlaybookRunner
from orderloom.policy import PolicyVersion
from orderloom.store import iter_log
from orderloom.valuestream.health import CUTOFF, FEATURES, Row, rows
from orderloom.valuestream.health_model import Model, _fit, _frame, churn_probability, split, train
from orderloom.valuestream.health_scoring import (
    AT_RISK,
    SCORED,
    customer_health,
    latest_model,
    score_due,
    train_model,
)
from tests.unit.test_detector_rig import END, accounts, b2b, publish, services, woven


@cache
def world() -> tuple[Services, tuple[Row, ...]]:
    """One log of generated B2B accounts per session, and its rows at END."""
    svc = b2b()
    return svc, tuple(rows(woven(svc), END))


@cache
def trained() -> Model:
    return train(world()[1])


def test_each_customer_is_scored_from_at_least_15_features_from_five_sources() -> None:
    assert len(FEATURES) >= 15
    sources = {name.split(".", 1)[0] for name, _ in FEATURES}
    assert sources == {"order", "payment", "sales", "finance", "product"}
    _, found = world()
    filled = {name: sum(r.features[name] is not None for r in found) / len(found) for name, _ in FEATURES}
    assert all(share == 1.0 for share in filled.values()), filled


def test_features_are_what_was_known_two_hours_after_payment_and_nothing_later() -> None:
    _, found = world()
    truth = {a.oid: a for a in accounts()}
    late_changes = 0
    for r in found:
        a = truth[r.oid]
        assert r.cutoff == a.paid_at + CUTOFF
        # Order changes after the cut-off (more common among churners) must not be counted.
        assert r.features["order.changes"] == a.known["order.changes"]
        late_changes += sum(t > r.cutoff for t in a.changes)
        assert r.features["sales.contacts"] == a.known["sales.contacts"]
    assert late_changes > 50  # the trap was really there


def test_the_outcome_is_the_renewal_recorded_later_and_undecided_customers_have_none() -> None:
    _, found = world()
    truth = {a.oid: a for a in accounts()}
    for r in found:
        a = truth[r.oid]
        assert r.churned == (a.churns if a.decided_at is not None else None)
    assert any(r.churned is None for r in found) and any(r.churned for r in found)


def test_the_model_trains_on_earlier_customers_and_is_tested_on_later_ones() -> None:
    _, found = world()
    train_rows, held = split([r for r in found if r.churned is not None])
    assert max(r.paid_at for r in train_rows) <= min(r.paid_at for r in held)
    assert len(train_rows) == trained().trained_on and len(held) == trained().held_out


def test_the_model_beats_the_best_single_feature_on_held_out_customers() -> None:
    m = trained()
    assert m.auc is not None and m.baseline_auc is not None
    assert m.auc > 0.65 and m.auc > m.baseline_auc + 0.05
    assert m.baseline_feature in {name for name, _ in FEATURES}


def test_the_stored_numbers_score_exactly_like_the_fitted_scikit_learn_pipeline() -> None:
    _, found = world()
    train_rows, held = split([r for r in found if r.churned is not None])
    pipe = _fit(train_rows, FEATURES)
    expected = pipe.predict_proba(_frame(held[:20], FEATURES))[:, 1]
    got = [churn_probability(trained(), r.features) for r in held[:20]]
    assert got == pytest.approx(expected.tolist(), abs=1e-9)
    again = Model.from_data(trained().as_data())
    assert again.digest == trained().digest and churn_probability(again, held[0].features) == pytest.approx(got[0])


def test_a_missing_feature_or_an_unseen_category_still_scores() -> None:
    _, found = world()
    r = found[0]
    features = {**r.features, "sales.contacts": None, "order.channel": "fax"}
    assert 0 < churn_probability(trained(), features) < 1


def test_too_few_renewals_to_learn_from_are_refused_in_words() -> None:
    _, found = world()
    with pytest.raises(ValidationFailed) as refused:
        train([replace(r, churned=None) for r in found][:40])
    assert refused.value.problems[0].rule == "enough_outcomes"


@cache
def scored_world() -> tuple[Services, Model, tuple[dict[str, Any], ...]]:
    """The B2B log with an at-risk playbook published, a model trained, customers scored and the playbooks run.

    It adds to `world()`'s log, whose rows were read before anything was scored.
    """
    svc, _ = world()
    publish(svc, at_risk_playbook())
    model = train_model(svc, END)
    scored = tuple(score_due(svc, END))
    PlaybookRunner(svc).drain()
    return svc, model, scored


def test_scoring_needs_a_trained_model_and_says_how_to_get_one() -> None:
    with pytest.raises(NotFound, match="orderloom health train"):
        score_due(services(), END)


def test_scoring_records_scores_and_at_risk_customers_on_their_streams() -> None:
    svc, model, scored = scored_world()
    latest = latest_model(svc)
    assert latest is not None and latest.digest == model.digest
    assert scored and all(s["status"] == "scored" and s["model"] == model.digest[:12] for s in scored)
    events = [e for e in iter_log(svc.store) if e.type in (SCORED, AT_RISK)]
    risky = [s for s in scored if s["at_risk"]]
    assert len(events) == len(scored) + len(risky) and 0 < len(risky) < len(scored)
    assert all(e.oid == f"cust.{e.data['customer']}" for e in events)
    assert all(s["score"] < 40 and s["drivers"] for s in risky)
    assert all(not s["at_risk"] for s in scored if s["score"] >= 40)


def test_scoring_again_with_the_same_model_appends_nothing() -> None:
    svc, _, _ = scored_world()
    before = svc.store.last_position()
    assert {s["status"] for s in score_due(svc, END)} == {"already_scored"}
    assert svc.store.last_position() == before


def test_a_customers_health_shows_the_recorded_scores_and_the_current_one() -> None:
    svc, _, scored = scored_world()
    risky = next(s for s in scored if s["at_risk"])
    doc = customer_health(svc, risky["customer"], END)
    assert doc["current"]["score"] == risky["score"] and doc["outcome"] is None
    assert sorted(svc.store.get(r["id"]).type for r in doc["recorded"]) == [AT_RISK, SCORED]  # type: ignore[union-attr]


def test_an_at_risk_customer_starts_a_playbook_that_sends_training_material() -> None:
    svc, _, scored = scored_world()
    notes = [e for e in iter_log(svc.store) if e.type == "notification.sent"]
    assert len(notes) == sum(s["at_risk"] for s in scored) and all(n.oid.startswith("cust.") for n in notes)


def test_a_customer_without_a_b2b_order_has_no_health() -> None:
    with pytest.raises(NotFound):
        customer_health(services(), "C-NOBODY", END)


def at_risk_playbook() -> PolicyVersion:
    """A playbook that sends onboarding training to an at-risk customer and tells their account manager."""
    document = {
        "label": {"zh": "流失风险客户培训", "en": "Training for customers at risk"},
        "trigger": {"event": "customer.at_risk"},
        "steps": [
            {
                "id": "training",
                "type": "notify",
                "channel": "email",
                "audience": "customer",
                "message": {
                    "zh": "为客户 {{ trigger.data.customer }} 发送上手培训资料",
                    "en": "Send onboarding training to {{ trigger.data.customer }}",
                },
            }
        ],
    }
    schema = {"type": "object", "properties": {"customer": {"type": "string"}, "score": {"type": "number"}}}
    return PolicyVersion("at_risk_training", 0, "playbook", document, schema)
