"""The demo's policy experiment: two versions of the Douyin first-order rule served 50/50 on the shop's orders.

Version 2 upgrades every order the premium rule does not catch from standard
to next-day delivery. Both versions are published through the policy log (their
golden tests run first) and every shop order gets its decision recorded on its
own stream, exactly as `POST /v1/policies/{name}/decide` with an `oid` does, so
the console's experiment report compares what really happened to each arm's
orders (on time, returns, complaints, splits) and policy health counts the
rules hit. The shop's history was generated without looking at the arm, so
an honest report finds no clear difference: a sanity check of the statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from orderloom.bootstrap import Services
from orderloom.policy.examples import load_example
from orderloom.policy.log import PolicyLog
from orderloom.policy.model import PolicyVersion
from orderloom.policy.runtime import PolicyRuntime, record_decision

POLICY = "douyin_first_order"
ACTOR = "system:demo"


def _faster_default(v1: PolicyVersion) -> PolicyVersion:
    document = copy.deepcopy(v1.document)
    for node in document["nodes"]:
        for rule in node.get("content", {}).get("rules", []):
            if rule.get("_id") == "default":
                rule["out_service"] = '"next_day"'
    return PolicyVersion(
        POLICY, 0, v1.kind, document, v1.input_schema, tests=v1.tests, note="demo: next-day for every order"
    )


def load_experiment(svc: Services, orders: Iterable[tuple[str, str, bool, float]]) -> int:
    """Publish v1, gray-release v2 to 50%, decide each (oid, channel, first order, total); returns decisions."""
    log = PolicyLog(svc.intake)
    if log.state(POLICY).versions:
        return 0
    v1 = log.save(load_example(POLICY), actor=ACTOR)
    log.publish(POLICY, v1.version, actor=ACTOR, reason="demo: the rule as written")
    v2 = log.save(_faster_default(v1), actor=ACTOR)
    log.publish(POLICY, v2.version, actor=ACTOR, percent=50, reason="demo: does next-day for all pay off?")
    runtime = PolicyRuntime(log)
    made = 0
    for oid, channel, first_order, total in orders:
        data = {"channel": channel, "customer": {"first_order": first_order}, "order_total": total}
        record_decision(svc, oid, oid, runtime.decide(POLICY, oid, data, trace=True), data)
        made += 1
    return made
