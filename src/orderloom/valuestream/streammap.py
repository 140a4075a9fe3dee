"""The value-stream map: which department touches the order where, with which data (from contracts and dictionary).

A department touches the order at the stage of its SLA's anchor event (that is
when its fields become owed) and at the stages its contract declares in the
custom property `stages`. Stages come in the dictionary's order, so the map
reads like the order's life from placement to after-sales.
"""

from __future__ import annotations

from typing import Any

from orderloom.dictionary.model import Dictionary
from orderloom.valuestream.catalog import ContractCatalog
from orderloom.valuestream.contract import Contract


def _touches(contract: Contract, dictionary: Dictionary) -> list[str]:
    anchor = dictionary.types.get(contract.freshness.anchor)
    stages = [anchor.stage] if anchor is not None else []
    stages += [s for s in contract.stages if s not in stages]
    order = list(dictionary.stages)
    return sorted(stages, key=lambda s: order.index(s) if s in order else len(order))


def value_stream_map(catalog: ContractCatalog, dictionary: Dictionary, lang: str = "en") -> dict[str, Any]:
    """Departments with their contracts and fields, and the order's stages with the departments touching each."""
    departments: dict[str, dict[str, Any]] = {}
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for c in catalog.list():
        stages = _touches(c, dictionary)
        anchor = dictionary.types.get(c.freshness.anchor)
        dept = departments.setdefault(c.domain, {"department": c.domain, "team": c.team, "contracts": []})
        dept["contracts"].append(
            {
                "contract": c.id,
                "version": c.version,
                "name": c.name,
                "sla": {
                    "anchor": c.freshness.anchor,
                    "anchor_label": anchor.label.get(lang, c.freshness.anchor) if anchor else None,
                    "anchor_stage": anchor.stage if anchor else None,
                    "latency_s": c.freshness.latency.total_seconds(),
                    "text": c.freshness.words(),
                },
                "objects": [
                    {
                        "name": o.name,
                        "key": o.key,
                        "fields": [
                            {"name": f.name, "type": f.logical_type, "required": f.required}
                            for f in o.fields
                            if f.name != o.key
                        ],
                    }
                    for o in c.objects
                ],
                "stages": stages,
            }
        )
        for stage in stages:
            by_stage.setdefault(stage, []).append(
                {
                    "department": c.domain,
                    "team": c.team,
                    "contract": c.id,
                    "fields": [f.name for o in c.objects for f in o.fields if f.name != o.key],
                    "owed_from": c.freshness.anchor if anchor is not None and anchor.stage == stage else None,
                }
            )
    lifecycle = [
        {"stage": s.id, "label": s.label.get(lang, s.id), "departments": by_stage.get(s.id, [])}
        for s in dictionary.stages.values()
        if s.id != "system"
    ]
    return {"departments": list(departments.values()), "stages": lifecycle}
