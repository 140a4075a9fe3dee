import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { Forecast, type Board } from "../src/pages/Forecast";
import { desktopMedia, fakeApi } from "./fake";

// ECharts needs a canvas jsdom does not have; the chart's input is what this page decides, so record it.
const charts: unknown[] = [];
vi.mock("../src/lib/Chart", () => ({
  Chart: ({ option, label }: { option: unknown; label: string }) => {
    charts.push(option);
    return <div role="img" aria-label={label} />;
  },
}));

beforeEach(desktopMedia);
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  charts.length = 0;
});

const centre = (node: string, name: string, predicted: number, alert: boolean) => ({
  node,
  name,
  backlog_hours: 1.2,
  predicted: { target_time: "2026-02-15T22:00:00Z", backlog_hours: predicted, over: predicted > 4, drivers: [{ feature: "projected_backlog_h", effect_hours: 2.1 }] },
  open_alert: alert ? { time: "2026-02-15T15:00:00Z", predicted_backlog_hours: 4.3 } : null,
  series: [{ time: "2026-02-15T16:00:00Z", backlog_hours: 1.2, forecast_hours: 1.0 }],
  ahead: [{ time: "2026-02-15T17:00:00Z", forecast_hours: predicted }],
});

test("the centre most at risk comes first, over the threshold in red, with its series and threshold charted", async () => {
  const board: Board = {
    at: "2026-02-15T16:00:00Z",
    horizon_hours: 6,
    threshold_hours: 4,
    model_version: "hgb-6h-v2:1a2b",
    source: "log",
    nodes: [centre("HZ-SC", "杭州分拨中心", 1.5, false), centre("SH-SC", "上海分拨中心", 4.6, true)],
  };
  fakeApi({ "/v1/forecast": board });
  render(<Forecast />);
  const links = await screen.findAllByRole("button", { name: /^forecast / });
  expect(links.map((l) => l.textContent)).toEqual(["上海分拨中心 (SH-SC)", "杭州分拨中心 (HZ-SC)"]);
  expect(screen.getByText("4.6 h").closest(".ant-tag")?.className).toContain("red");
  expect(screen.getByText("告警中")).toBeTruthy();
  expect(screen.getByText(/projected_backlog_h \+2.1 h/)).toBeTruthy();
  const first = JSON.stringify(charts[charts.length - 1]);
  expect(first).toContain('"yAxis":4'); // the threshold line
  fireEvent.click(links[1]);
  expect(await screen.findByText("杭州分拨中心 (HZ-SC)", { selector: "strong" })).toBeTruthy();
});

test("without a model the actual backlog is still shown, and the page says why there is no forecast", async () => {
  fakeApi({ "/v1/forecast": { at: null, horizon_hours: 6, threshold_hours: 4, model_version: null, source: "demo (training)", nodes: [] } });
  render(<Forecast />);
  expect(await screen.findByText("模型尚未就绪：只显示实际积压。")).toBeTruthy();
  expect(screen.getByText("日志中还没有分拨数据")).toBeTruthy();
});
