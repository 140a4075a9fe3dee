"""The scorer picks a node and service by cost, lateness risk and load, and explains itself."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from orderloom.routing import (
    CHINA_YAML,
    CarrierService,
    Network,
    Node,
    NodeSignal,
    Order,
    OrderLine,
    Signals,
    Weights,
    load_network,
    nearest_node,
    plan,
)

STAGES = {"pick": 500, "pack": 500, "sort": 800}
AIR = CarrierService("air", "次日达航空", "next_day", 10.0, 0.006, 10.0, 0.5, 2000, cold_chain=True)
ROAD = CarrierService("road", "标准快递", "standard", 5.0, 0.003, 20.0, 2.5, 4000)


def hub(node_id: str, city: str, lat: float, lng: float, stock: dict[str, int], *, cold: bool = True) -> Node:
    return Node(node_id, f"{city}仓", "central_wh", city, lat, lng, STAGES, 2.8, stock, cold, 2500, 1500)


SHANGHAI = hub("SH-CWH", "上海", 31.230416, 121.473701, {"HP-PRO-X": 50})
CHENGDU = hub("CD-CWH", "成都", 30.67, 104.06, {"HP-PRO-X": 50})
MINI = Network((SHANGHAI, CHENGDU), (AIR, ROAD))
# East China is congested: Shanghai has a 20 h backlog, Chengdu's sorting line is idle.
CONGESTED = Signals({"SH-CWH": NodeSignal(backlog_hours=20.0, sorting_idle_rate=0.1), "CD-CWH": NodeSignal(0.5, 0.9)})
NANJING_ORDER = Order("O-1", 32.04, 118.78, "南京", (OrderLine("HP-PRO-X"),), window_end_h=28.0)


@cache
def china() -> Network:
    return load_network(CHINA_YAML)


def test_under_east_china_congestion_the_dynamic_score_picks_chengdu_while_nearest_picks_shanghai() -> None:
    decision = plan(NANJING_ORDER, MINI, CONGESTED)
    assert decision.chosen is not None
    assert decision.chosen.node_ids == ("CD-CWH",)
    nearest = nearest_node(NANJING_ORDER, MINI)
    assert nearest is not None and nearest.id == "SH-CWH"


def test_the_decision_explains_that_shanghai_lost_on_lateness_and_load() -> None:
    decision = plan(NANJING_ORDER, MINI, CONGESTED)
    chosen, (shanghai,) = decision.chosen, decision.alternatives
    assert chosen is not None
    assert shanghai.node_ids == ("SH-CWH",)
    assert shanghai.breakdown["lateness"] > chosen.breakdown["lateness"] + 10
    assert shanghai.breakdown["load"] > chosen.breakdown["load"] + 5
    assert shanghai.breakdown["cost"] < chosen.breakdown["cost"]  # Shanghai is cheaper, only slower
    assert abs(sum(shanghai.breakdown.values()) - shanghai.score) < 1e-9
    text = "\n".join(decision.explain())
    assert text.startswith("chose CD-CWH via air")
    assert "not SH-CWH via air" in text and "lateness +" in text and "backlog 20.0 h" in text
    assert decision.signals_used["SH-CWH"].backlog_hours == 20.0


def test_without_congestion_the_cheaper_nearby_shanghai_wins() -> None:
    decision = plan(NANJING_ORDER, MINI, Signals())
    assert decision.chosen is not None and decision.chosen.node_ids == ("SH-CWH",)
    # No live signal on the loser: its sentence ends with the terms it lost on, not with empty brackets.
    (lost,) = [line for line in decision.explain() if line.startswith("not CD-CWH")]
    assert "worse on" in lost and not lost.endswith("()"), lost


def test_a_capacity_price_on_chengdu_sends_the_order_back_to_shanghai() -> None:
    decision = plan(NANJING_ORDER, MINI, CONGESTED, Weights(), {"CD-CWH": 100.0})
    assert decision.chosen is not None and decision.chosen.node_ids == ("SH-CWH",)
    assert decision.alternatives[0].breakdown["capacity"] == 100.0


def test_a_down_node_and_a_closed_lane_are_excluded_with_their_reasons() -> None:
    signals = Signals({"SH-CWH": NodeSignal(down=True)}, closed_lanes=frozenset({("CD-CWH", "南京")}))
    decision = plan(NANJING_ORDER, MINI, signals)
    assert decision.chosen is None
    assert decision.excluded == {"SH-CWH": ("node down",), "CD-CWH": ("lane to 南京 closed",)}
    assert "cannot be placed" in decision.explain()[0]


def test_chilled_yoghurt_never_leaves_a_node_without_cold_storage_even_when_it_is_cheaper() -> None:
    dry = Node("SH-DRY", "上海常温仓", "forward_wh", "上海", 31.23, 121.47, STAGES, 0.5, {"YOG-500G": 9}, False)
    cold = hub("HZ-COLD", "杭州", 30.26, 120.19, {"YOG-500G": 9})
    order = Order("O-2", 31.22, 121.53, "上海", (OrderLine("YOG-500G", 2, cold_chain=True),), 48.0)
    decision = plan(order, Network((dry, cold), (AIR, ROAD)), Signals())
    assert decision.chosen is not None
    assert decision.chosen.legs[0].node_id == "HZ-COLD" and decision.chosen.legs[0].service_id == "air"
    assert decision.excluded["SH-DRY"] == ("no cold storage for YOG-500G",)


def test_yoghurt_to_lhasa_is_refused_because_no_cold_chain_service_reaches_that_far() -> None:
    order = Order("O-3", 29.97, 91.11, "拉萨", (OrderLine("YOG-500G", 1, cold_chain=True),), 72.0)
    decision = plan(order, china(), Signals())
    assert decision.chosen is None
    assert "beyond 800 km for next_day" in decision.excluded["CD-CWH"]
    assert "standard has no cold chain" in decision.excluded["CD-CWH"]


def test_when_no_node_has_everything_the_order_is_split_across_two_nodes_with_a_penalty() -> None:
    a = hub("A", "上海", 31.23, 121.47, {"HP-PRO-X": 5})
    b = hub("B", "杭州", 30.26, 120.19, {"TEA-GIFT-BOX": 5})
    order = Order("O-4", 31.0, 121.0, "上海", (OrderLine("HP-PRO-X"), OrderLine("TEA-GIFT-BOX")), 48.0)
    decision = plan(order, Network((a, b), (AIR, ROAD)), Signals(), Weights(split_penalty=15.0))
    assert decision.chosen is not None
    assert {(leg.node_id, leg.skus) for leg in decision.chosen.legs} == {("A", ("HP-PRO-X",)), ("B", ("TEA-GIFT-BOX",))}
    assert decision.chosen.breakdown["split"] == 15.0
    assert decision.excluded == {"A": ("no stock of TEA-GIFT-BOX",), "B": ("no stock of HP-PRO-X",)}


def test_a_node_with_everything_splits_off_the_cold_line_it_cannot_carry_that_far() -> None:
    far = hub("CD", "成都", 30.67, 104.06, {"HP-PRO-X": 5, "YOG-500G": 5})
    near_cold = hub("SH", "上海", 31.23, 121.47, {"YOG-500G": 5})
    next_day = CarrierService("nd", "次日达", "next_day", 8.0, 0.006, 14.0, 1.2, 800, cold_chain=True)
    order = Order("O-5", 31.22, 121.53, "上海", (OrderLine("HP-PRO-X"), OrderLine("YOG-500G", cold_chain=True)), 72.0)
    decision = plan(order, Network((far, near_cold), (next_day, ROAD)), Signals())
    assert decision.chosen is not None
    legs = {leg.node_id: (leg.skus, leg.service_id) for leg in decision.chosen.legs}
    assert legs == {"CD": (("HP-PRO-X",), "road"), "SH": (("YOG-500G",), "nd")}


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(22.0, 45.0),
    lng=st.floats(100.0, 125.0),
    down=st.sets(st.sampled_from(["SH-CWH", "CD-CWH", "GZ-CWH", "BJ-CWH", "NJ-FWH", "HZ-FWH"])),
    with_headphones=st.booleans(),
)
def test_no_plan_ever_ships_cold_lines_warm_or_uses_a_down_node(
    lat: float, lng: float, down: set[str], with_headphones: bool
) -> None:
    net = china()
    lines = (OrderLine("YOG-500G", 1, cold_chain=True),) + ((OrderLine("HP-PRO-X"),) if with_headphones else ())
    signals = Signals({n: NodeSignal(backlog_hours=3.0, down=True) for n in down})
    decision = plan(Order("O-P", lat, lng, "某地", lines, 36.0), net, signals)
    services = {s.id: s for s in net.services}
    plans = [p for p in (decision.chosen, *decision.alternatives) if p is not None]
    for p in plans:
        for leg in p.legs:
            assert leg.node_id not in down
            assert leg.km <= services[leg.service_id].max_km
            if "YOG-500G" in leg.skus:
                assert net.node(leg.node_id).cold_storage and services[leg.service_id].cold_chain


def test_the_counterfactual_says_how_little_backlog_would_have_let_shanghai_win_and_that_is_true() -> None:
    import re

    from orderloom.routing.counterfactual import why_not

    decision = plan(NANJING_ORDER, MINI, CONGESTED)
    lines = why_not(NANJING_ORDER, MINI, CONGESTED, Weights(), decision)
    assert lines and lines[0].startswith("SH-CWH would have won if its backlog were under"), lines
    under = float(re.search(r"under ([0-9.]+) h", lines[0]).group(1))  # type: ignore[union-attr]
    assert 0 < under < 20

    def at(backlog: float) -> tuple[str, ...]:
        sig = Signals({"SH-CWH": NodeSignal(backlog, 0.1), "CD-CWH": NodeSignal(0.5, 0.9)})
        chosen = plan(NANJING_ORDER, MINI, sig).chosen
        assert chosen is not None
        return chosen.node_ids

    assert at(under - 0.05) == ("SH-CWH",) and at(under + 0.1) == ("CD-CWH",)
