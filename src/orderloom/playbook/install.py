"""The playbooks Orderloom ships, saved and published once so a fresh installation acts on day one."""

from __future__ import annotations

from orderloom.bootstrap import Services
from orderloom.policy.examples import load_example
from orderloom.policy.log import PolicyLog

# Value-stream playbooks ship too: every detector firing reaches its departments, every at-risk customer sales.
DEFAULT_PLAYBOOKS = ("coldchain_stall", "sla_risk_reroute", "detector_evidence", "customer_at_risk")
ACTOR = "system:playbook-install"


def install_default_playbooks(svc: Services) -> list[str]:
    """Save and publish each shipped playbook that has no versions yet; the names installed (idempotent)."""
    log = PolicyLog(svc.intake)
    installed = []
    for name in DEFAULT_PLAYBOOKS:
        # A playbook someone already has (the shipped one or their own edit) is theirs: leave it alone.
        if log.state(name).versions:
            continue
        saved = log.save(load_example(name), actor=ACTOR)
        log.publish(name, saved.version, actor=ACTOR, reason="shipped default playbook")
        installed.append(name)
    return installed
