// One function per page: its main flow, driven like a user would, asserting what the user must see.
import assert from "node:assert/strict";

// The demo's first order is the seed's chain from placement to the community leader's signature.
const FIRST = "OL-DEMO-0001";

export const flows = {
  async lens(page, { base }) {
    await page.goto(`${base}/console/#/lens`);
    await page.getByLabel("order id").fill(FIRST);
    await page.getByLabel("order id").press("Enter");
    await page.locator(".ant-timeline-item").first().waitFor({ timeout: 10000 });
    const steps = await page.locator(".ant-timeline-item").count();
    assert.ok(steps >= 3, `the chain shows ${steps} steps`);
  },
};
