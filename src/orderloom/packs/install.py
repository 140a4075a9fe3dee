"""Installing a pack: its policies and playbooks go through the versioned policy log, the act is audited.

Idempotent: installing the same pack again saves and publishes nothing and
records nothing. A policy someone has edited since (a version the pack did
not write is serving) is theirs: it is left alone and the report says so.
Dictionary entries and signal types are loaded from the log when a process
starts (`loading.py`), so those need a restart; policies and playbooks serve
at once in every process, as any publish does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderloom.core.envelope import format_time
from orderloom.core.errors import ValidationFailed
from orderloom.dictionary.loader import build, shipped_files
from orderloom.packs.catalog import Pack, get_pack
from orderloom.packs.loading import INSTALLED, STREAM, installed_packs
from orderloom.policy.log import PolicyLog
from orderloom.routing.signals import parse_registry
from orderloom.status.monitors.config import load_monitors

if TYPE_CHECKING:
    from orderloom.bootstrap import Services


def pack_document(pack: Pack, installed: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `pack show` and `GET /v1/packs/{name}` answer: the manifest, its contents and install state."""
    dictionary = build([*shipped_files(), *(pack.file(r) for r in pack.dictionary)])
    own = {str(pack.file(r)) for r in pack.dictionary}
    types = [t for t in dictionary.types.values() if t.origin in own]
    monitors = load_monitors(dictionary, [pack.file(pack.monitors)] if pack.monitors else []).monitors
    ids = {tm.id for t in types for tm in t.timers} | set(pack.monitor_entries())
    mine = [m for m in monitors.values() if m.id in ids]
    return {
        "name": pack.name,
        "version": pack.version,
        "label": pack.label,
        "description": pack.description,
        "digest": pack.digest,
        "contents": {
            "event_types": [{"id": t.id, "label": dict(t.label)} for t in types],
            "monitors": [{"id": m.id, "kind": m.kind, "label": dict(m.label)} for m in mine],
            "signals": [e["id"] for e in pack.signal_entries()],
            "policies": [{"name": v.name, "kind": v.kind, "tests": len(v.tests)} for v in pack.policy_versions()],
        },
        "installed": installed,
    }


def check_pack(pack: Pack) -> list[str]:
    """The pack's own event types; refuses a pack whose dictionary, monitors or signals do not load on ours."""
    merged = build([*shipped_files(), *(pack.file(r) for r in pack.dictionary)])
    if pack.monitors:
        load_monitors(merged, [pack.file(pack.monitors)])
    if pack.signals:
        parse_registry({"signals": pack.signal_entries()}, source=f"{pack.name}/{pack.signals}")
    own = {str(pack.file(r)) for r in pack.dictionary}
    return [t.id for t in merged.types.values() if t.origin in own]


def install_pack(svc: Services, name: str, *, actor: str) -> dict[str, Any]:
    """Install pack `name`: save and publish its policies, record `pack.installed`; the report."""
    pack = get_pack(name)
    types = check_pack(pack)
    log = PolicyLog(svc.intake)
    writer = f"pack:{pack.name}"
    actions = []
    for draft in pack.policy_versions():
        state = log.state(draft.name)
        ours = [v.version for v in state.versions.values() if v.digest == draft.digest]
        serving = state.versions.get(state.stable) if state.stable is not None else None
        if ours and state.stable in ours and state.rollout is None:
            actions.append({"name": draft.name, "version": state.stable, "action": "already_published"})
            continue
        if (serving is not None and serving.author != writer) or (ours and state.stable not in ours):
            # Someone published their own version, or rolled the pack's back: installing never overrides people.
            kept = serving.version if serving is not None else max(state.versions)
            actions.append({"name": draft.name, "version": kept, "action": "kept_local_edit"})
            continue
        saved = log.save(draft, actor=writer)
        log.publish(draft.name, saved.version, actor=actor, reason=f"pack {pack.name} {pack.version}")
        actions.append({"name": draft.name, "version": saved.version, "action": "published"})
    before = installed_packs(svc.store).get(pack.name)
    changed = before is None or before.get("digest") != pack.digest or any(a["action"] == "published" for a in actions)
    data = {
        "pack": pack.name,
        "version": pack.version,
        "digest": pack.digest,
        "policies": actions,
        "dictionary": [f"{pack.name}/{r}" for r in pack.dictionary],
        "signals": [e["id"] for e in pack.signal_entries()],
    }
    if changed:
        raw = {
            "id": f"pack-{pack.name}-{format_time(svc.clock.now())}-{pack.digest[:12]}",
            "type": INSTALLED,
            "source": "orderloom/packs",
            "oid": STREAM,
            "time": format_time(svc.clock.now()),
            "actor": actor,
            "data": data,
        }
        result = svc.intake.record([raw], allow_internal=True)[0]
        if result.status == "rejected":
            raise ValidationFailed(result.problems)
    missing_types = [t for t in types if t not in svc.dictionary.types]
    return {
        **data,
        "changed": changed,
        "restart_needed": bool(missing_types),
        "not_loaded_yet": missing_types,
        "note": (
            "policies and playbooks are serving now; restart the API and workers to load the pack's "
            f"event types ({', '.join(missing_types)}) and signal types"
            if missing_types
            else "everything the pack brings is in force"
        ),
    }
