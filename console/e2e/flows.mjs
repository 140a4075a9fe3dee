// One function per page: its main flow, driven like a user would, asserting what the user must see.
import assert from "node:assert/strict";

// The demo's first order is the seed's chain from placement to the community leader's signature.
const FIRST = "OL-DEMO-0001";

export const flows = {
  async lens(page, { base }) {
    await page.goto(`${base}/console/#/lens`);
    await page.getByLabel("order id").fill(FIRST);
    await page.getByLabel("order id").press("Enter");
    await page.locator(".ant-timeline-item").first().waitFor({ timeout: 30000 });
    const steps = await page.locator(".ant-timeline-item").count();
    assert.ok(steps >= 10, `the chain shows ${steps} steps`);
    await page.getByText(/通常/).first().waitFor();  // each step against its typical duration
    await page.goto(`${base}/console/#/lens?oid=OL-DEMO-0003`);
    await page.reload();
    await page.getByText(/卡在/).waitFor({ timeout: 30000 });  // the stalled line-haul is shown as stuck
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

// A strategy manager raises the lateness weight, saves, publishes to everyone, and the next decision uses it.
flows.policies = async (page, { base, key, label }) => {
  await page.goto(`${base}/console/#/policies`);
  await page.getByText(/全量版本/).waitFor({ timeout: 10000 });
  const before = await (await fetch(`${base}/v1/policies/routing_default`, { headers: { Authorization: `Bearer ${key}` } })).json();
  const slider = page.locator('[data-weight="lateness"] [role="slider"]');
  await slider.focus();
  for (let i = 0; i < 5; i++) await slider.press("ArrowRight");
  await page.getByRole("button", { name: /另存为新版本/ }).click();
  await page.getByText(/已保存新版本/).waitFor({ timeout: 10000 });
  await page.getByLabel("rollout percent").fill("100");
  await page.getByRole("button", { name: /^发\s?布$/ }).click();
  await page.getByText(/已发布/).first().waitFor({ timeout: 10000 });
  const after = await (await fetch(`${base}/v1/policies/routing_default`, { headers: { Authorization: `Bearer ${key}` } })).json();
  const version = before.versions.length + 1;
  assert.equal(after.stable, version, `${label}: version ${version} is published`);
  const body = { lines: [{ sku: "YOG-500G", qty: 1, cold_chain: true }], destination: { city: "南京市", lat: 32.06, lng: 118.8 } };
  const decided = await (
    await fetch(`${base}/v1/routing/decide`, { method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(body) })
  ).json();
  assert.equal(decided.weights_version, version, "the next decision uses the published weights");
};

// An operations lead opens the dwell heatmap and sees the open findings.
flows.intelligence = async (page, { base }) => {
  await page.goto(`${base}/console/#/intelligence`);
  await page.getByRole("img", { name: "dwell heatmap" }).locator("canvas").first().waitFor({ timeout: 60000 });
  const steps = await page.getByText(/个步骤/).textContent();
  assert.ok(Number.parseInt(steps ?? "0", 10) > 50, `the heatmap counts the demo's steps: ${steps}`);
};
