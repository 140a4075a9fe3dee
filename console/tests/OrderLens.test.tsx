import { afterEach, expect, test, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { OrderLens } from "../src/pages/OrderLens";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

test("looking up an order shows its chain as a timeline", async () => {
  const chain = {
    oid: "OL1",
    status: { id: "shipped", label: { zh: "已发货", en: "Shipped" } },
    steps: [
      { type: "order.placed", label: { zh: "订单已提交", en: "Order placed" }, time: "2026-11-11 10:00", since_previous_s: null },
      { type: "outbound.scanned", label: { zh: "出库扫描", en: "Outbound scan" }, time: "2026-11-11 14:00", since_previous_s: 14400, leg: "warehouse" },
    ],
  };
  const fetchMock = vi.fn(async (_url: string) => new Response(JSON.stringify(chain), { status: 200 }));
  vi.stubGlobal("fetch", fetchMock);
  render(<OrderLens />);
  fireEvent.change(screen.getByLabelText("order id"), { target: { value: "OL1" } });
  fireEvent.click(screen.getByRole("button", { name: /查\s?询/ }));
  expect(await screen.findByText("出库扫描")).toBeTruthy();
  expect(screen.getByText(/4.0 h/)).toBeTruthy();
  expect(fetchMock.mock.calls[0][0]).toBe("/v1/orders/OL1/chain?role=cs");
});

test("an unknown order shows the API's message, not a blank page", async () => {
  const body = { error: { code: "not_found", message: "order OL404 is not in the log" } };
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(body), { status: 404 })));
  render(<OrderLens />);
  fireEvent.change(screen.getByLabelText("order id"), { target: { value: "OL404" } });
  fireEvent.click(screen.getByRole("button", { name: /查\s?询/ }));
  expect(await screen.findByText("order OL404 is not in the log")).toBeTruthy();
});
