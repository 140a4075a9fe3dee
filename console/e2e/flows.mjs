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

flows.network = async (page, { base }) => {
  await page.goto(`${base}/console/#/network`);
  await page.getByRole("img", { name: "network map" }).locator("canvas").first().waitFor({ timeout: 10000 });
  await page.getByLabel("decision order id").fill("OL-DEMO-0033");
  await page.getByLabel("decision order id").press("Enter");
  await page.getByRole("img", { name: "score breakdown" }).waitFor({ timeout: 10000 });
  const reasons = await page.locator("li").allTextContents();
  assert.ok(reasons.some((r) => r.startsWith("chose ")), `the decision explains itself: ${reasons.slice(0, 2)}`);
  await page.getByRole("button", { name: /预\s?览/ }).click();
  await page.getByText(/单改派/).waitFor({ timeout: 20000 });
};
