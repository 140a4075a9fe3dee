import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { LangContext } from "../src/lib/i18n";
import { Policies } from "../src/pages/Policies";
import { ExperimentPanel, HealthPanel, type Experiment, type Health } from "../src/pages/PolicyInsights";
import { desktopMedia, fakeApi } from "./fake";

beforeEach(desktopMedia);
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const none = { n: [0, 0], stable: null, candidate: null, difference: null, ci_low: null, ci_high: null };
const experiment: Experiment = {
  policy: "douyin_first_order",
  orders: { stable: 900, candidate: 100 },
  versions: { stable: [1], candidate: [2] },
  metrics: {
    on_time: { n: [880, 98], stable: 0.9, candidate: 0.96, difference: 0.06, ci_low: 0.02, ci_high: 0.1 },
    complaint: { n: [900, 100], stable: 0.02, candidate: 0.03, difference: 0.01, ci_low: -0.02, ci_high: 0.04 },
    returned: { n: [900, 100], stable: 0.05, candidate: 0.12, difference: 0.07, ci_low: 0.005, ci_high: 0.135 },
    split: { n: [20, 5], stable: 0.1, candidate: 0.4, difference: 0.3, ci_low: 0.05, ci_high: 0.55 },
    cost_per_order: { n: [1, 0], stable: null, candidate: null, difference: null, ci_low: null, ci_high: null },
  },
  sample_ratio: { chi2: 25.3, p_value: 0.0000005, mismatch: true },
};

const rowOf = (text: string): HTMLElement => screen.getByText(text).closest("tr") as HTMLElement;

test("the experiment report shows both arms, each metric with its CI and verdict, and the sample-ratio alarm", async () => {
  fakeApi({ "/v1/policies/douyin_first_order/experiment": experiment });
  render(<ExperimentPanel name="douyin_first_order" percent={10} refresh={0} />);
  expect(await screen.findByText("v1 · 900 单 (90.0%)")).toBeTruthy();
  expect(screen.getByText("v2 · 100 单 (10.0%) · 目标 10%")).toBeTruthy();
  expect(screen.getByText(/样本比例失衡/)).toBeTruthy();
  const onTime = within(rowOf("准时送达率"));
  expect(onTime.getByText("90.0%")).toBeTruthy();
  expect(onTime.getByText("96.0%")).toBeTruthy();
  expect(onTime.getByText("+6.0 个百分点 [+2.0, +10.0]")).toBeTruthy();
  expect(onTime.getByText("显著更好")).toBeTruthy(); // higher on-time is better
  expect(within(rowOf("退货率")).getByText("显著更差")).toBeTruthy(); // higher returns are worse
  expect(within(rowOf("投诉率")).getByText("无显著差异")).toBeTruthy(); // the CI spans zero
  expect(within(rowOf("退货率")).queryByText("样本少")).toBeNull();
  expect(within(rowOf("拆单率")).getByText("样本少")).toBeTruthy(); // 5 orders in one arm: the interval says little
  expect(within(rowOf("单均履约成本")).getByText("数据不足")).toBeTruthy();
});

test("without recorded decisions the experiment report says there is no experiment, in English too", async () => {
  const empty = { policy: "routing_default", orders: { stable: 0, candidate: 0 }, versions: { stable: [], candidate: [] }, metrics: { on_time: none } };
  fakeApi({ "/v1/policies/routing_default/experiment": empty });
  render(
    <LangContext.Provider value="en">
      <ExperimentPanel name="routing_default" percent={null} refresh={0} />
    </LangContext.Provider>,
  );
  expect(await screen.findByText(/No experiment yet/)).toBeTruthy();
  expect(screen.queryByRole("table")).toBeNull();
});

const health: Health = {
  policy: "douyin_first_order",
  stable: 1,
  threshold: 0.1,
  versions: [
    { version: 1, invocations: 500, eval_us_p50: 180, eval_us_p99: 2400, rule_hits: { "douyin_table/douyin_vip": 420, "douyin_table/other": 80 }, rules_never_hit: [], execution_checked: 300, execution_deviated: 6, deviation_rate: 0.02, alert: false },
    { version: 2, invocations: 60, eval_us_p50: 200, eval_us_p99: 900, rule_hits: { "douyin_table/douyin_vip": 60 }, rules_never_hit: ["douyin_table/other"], execution_checked: 40, execution_deviated: 12, deviation_rate: 0.3, alert: true },
    { version: 3, invocations: 0, eval_us_p50: null, eval_us_p99: null, rule_hits: {}, rules_never_hit: ["douyin_table/douyin_vip"], execution_checked: 0, execution_deviated: 0, deviation_rate: null, alert: false },
  ],
};

test("policy health lists each used version's decisions, latency, rules and execution deviation, alarming above the threshold", async () => {
  fakeApi({ "/v1/policies/douyin_first_order/health": health });
  render(<HealthPanel name="douyin_first_order" candidate={2} refresh={0} />);
  expect(await screen.findByText("560 次决策")).toBeTruthy();
  expect(screen.getByText("偏差告警阈值 10.0%")).toBeTruthy();
  const v1 = within(rowOf("v1"));
  expect(v1.getByText("全量")).toBeTruthy();
  expect(v1.getByText("500")).toBeTruthy();
  expect(v1.getByText("180 µs / 2.4 ms")).toBeTruthy();
  expect(v1.getByText("命中 2/2")).toBeTruthy();
  expect(v1.queryByText(/从未命中/)).toBeNull();
  expect(v1.getByText("2.0% (6/300)")).toBeTruthy();
  const v2 = within(rowOf("v2"));
  expect(v2.getByText("灰度")).toBeTruthy();
  expect(v2.getByText("30.0% (12/40)")).toBeTruthy();
  expect(v2.getByText("超出阈值")).toBeTruthy();
  expect(v2.getByText("命中 1/2")).toBeTruthy();
  expect(v2.getByText("1 条从未命中")).toBeTruthy();
  expect(screen.getByText(/执行偏差超出阈值/)).toBeTruthy();
  expect(screen.getByText("未被使用的版本：v3")).toBeTruthy();
  // The row opens (its toggle is a button, so Enter works too) to the rules hit and never hit.
  const expand = v2.getByRole("button");
  fireEvent.click(expand);
  expect(await screen.findByText("douyin_table/other", { selector: ".ant-tag-orange" })).toBeTruthy();
});

test("policy health without recorded decisions says so", async () => {
  fakeApi({ "/v1/policies/routing_default/health": { ...health, policy: "routing_default", versions: [{ ...health.versions[2], version: 1, rules_never_hit: [] }] } });
  render(<HealthPanel name="routing_default" candidate={null} refresh={0} />);
  expect(await screen.findByText(/还没有记录在案的决策 \(v1\)/)).toBeTruthy();
  expect(screen.queryByRole("table")).toBeNull();
});

test("on the Policies page both panels fill in while the policy itself is still loading", async () => {
  vi.stubGlobal("fetch", async (url: string) => {
    if (url === "/v1/policies/routing_default") return new Promise<Response>(() => undefined); // never answers
    if (url.endsWith("/experiment")) return new Response(JSON.stringify({ ...experiment, policy: "routing_default" }));
    if (url.startsWith("/v1/policies/routing_default/health")) return new Response(JSON.stringify({ ...health, policy: "routing_default" }));
    return new Response(JSON.stringify({ error: { message: `no fake for ${url}` } }), { status: 404 });
  });
  render(<Policies />);
  expect(await screen.findByText("v1 · 900 单 (90.0%)")).toBeTruthy();
  expect(await screen.findByText("560 次决策")).toBeTruthy();
  expect(screen.queryByText("全量版本")).toBeNull(); // the versions card is still waiting for its answer
});
