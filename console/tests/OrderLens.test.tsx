import { afterEach, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { byShipment, OrderLens } from "../src/pages/OrderLens";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const ev = (id: string, type: string, zh: string, time: string) => ({ id, type, label: { zh, en: type }, time });

test("looking up an order shows each step against its typical duration and where it is stuck", async () => {
  const lens = {
    oid: "OL1",
    status: { id: "in_transit", label: { zh: "干线运输中", en: "In transit" } },
    stuck: true,
    steps: [
      {
        shipment: null,
        from: ev("e1", "order.placed", "订单已创建", "2026-11-11T10:00:00Z"),
        to: ev("e2", "outbound.scanned", "出库扫描", "2026-11-11T14:00:00Z"),
        stage: "warehouse",
        leg: "central_wh",
        node: "SH-CWH",
        duration_s: 14400,
        typical: { count: 30, p50_s: 3600, p90_s: 7200 },
        slow: true,
      },
    ],
    waiting: [
      {
        shipment: null,
        last: ev("e2", "outbound.scanned", "出库扫描", "2026-11-11T14:00:00Z"),
        node: "SH-CWH",
        elapsed_s: 21600,
        typical: { count: 30, p50_s: 3600, p90_s: 7200 },
        finished: false,
        stuck: true,
        expected_next: [{ type: "linehaul.departed", label: { zh: "干线已发车", en: "Departed" } }],
      },
    ],
  };
  const fetchMock = vi.fn(async (url: string) =>
    url.endsWith("/live") ? new Response("", { status: 200 }) : new Response(JSON.stringify(lens), { status: 200 }),
  );
  vi.stubGlobal("fetch", fetchMock);
  render(<OrderLens />);
  fireEvent.change(screen.getByLabelText("order id"), { target: { value: "OL1" } });
  fireEvent.click(screen.getByRole("button", { name: /查\s?询/ }));
  expect(await screen.findByText("出库扫描")).toBeTruthy();
  expect(screen.getByText(/4.0 h \(通常 1.0 h, p90 2.0 h\)/)).toBeTruthy();
  expect(screen.getByText(/卡在 出库扫描 · SH-CWH: 6.0 h/)).toBeTruthy();
  expect(fetchMock.mock.calls.map((c) => c[0])).toContain("/v1/orders/OL1/lens?role=cs");
});

test("an unknown order shows the API's message, not a blank page", async () => {
  const body = { error: { code: "not_found", message: "order OL404 is not in the log" } };
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(body), { status: 404 })));
  render(<OrderLens />);
  fireEvent.change(screen.getByLabelText("order id"), { target: { value: "OL404" } });
  fireEvent.click(screen.getByRole("button", { name: /查\s?询/ }));
  expect(await screen.findByText("order OL404 is not in the log")).toBeTruthy();
});

test("a split order's parcels are drawn as separate lanes after the order-level steps", () => {
  const step = (shipment: string | null, id: string) => ({
    shipment,
    from: ev(`${id}a`, "x", "x", "2026-11-11T10:00:00Z"),
    to: ev(id, "y", id, "2026-11-11T11:00:00Z"),
    stage: "s",
    leg: "l",
    node: null,
    duration_s: 60,
    typical: null,
    slow: false,
  });
  const lanes = byShipment([step("S2", "b"), step(null, "a"), step("S1", "c"), step("S2", "d")]);
  expect(lanes.map(([s, steps]) => [s, steps.map((x) => x.to.id)])).toEqual([
    [null, ["a"]],
    ["S1", ["c"]],
    ["S2", ["b", "d"]],
  ]);
});
