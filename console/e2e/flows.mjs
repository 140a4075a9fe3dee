// One function per page: its main flow, driven like a user would, asserting what the user must see.
import assert from "node:assert/strict";

// The demo's first order is the seed's chain from placement to the community leader's signature.
const FIRST = "OL-DEMO-0001";

export const flows = {
  async lens(page, { base, shot }) {
    await page.goto(`${base}/console/#/lens`);
    await page.getByLabel("order id").fill(FIRST);
    await page.getByLabel("order id").press("Enter");
    await page.locator(".ant-timeline-item").first().waitFor({ timeout: 30000 });
    const steps = await page.locator(".ant-timeline-item").count();
    assert.ok(steps >= 10, `the chain shows ${steps} steps`);
    await page.getByText(/通常/).first().waitFor();  // each step against its typical duration
    // The split order: each parcel's chain is drawn in its own lane.
    await page.getByLabel("order id").fill("OL-DEMO-0002");
    await page.getByLabel("order id").press("Enter");
    await page.getByLabel("lane S2").waitFor({ timeout: 30000 });
    assert.ok(await page.getByLabel("lane S1").isVisible(), "both parcels have a lane");
    await shot("split");
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
flows.policies = async (page, { base, key, label, shot }) => {
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
  // The experiment report and policy health load beside the editor; the demo has recorded no /decide
  // decisions for the routing profile, so both say so, and the publish made them ask again (the new version).
  const experiment = page.getByTestId("experiment");
  await experiment.getByText(/暂无实验/).waitFor({ timeout: 30000 });
  const health = page.getByTestId("health");
  await health.getByText(new RegExp(`还没有记录在案的决策 \\(.*v${version}\\)`)).waitFor({ timeout: 30000 });
  assert.ok(await health.getByText(/偏差告警阈值 10.0%/).isVisible(), "the health panel shows its alert threshold");
  // The demo's Douyin first-order rule runs v1 against v2 at 50%: the report compares the arms' real outcomes.
  await page.getByRole("combobox", { name: "policy name" }).click();
  await page.locator(".ant-select-item-option", { hasText: "douyin_first_order" }).click();
  await experiment.getByText(/样本比例检验通过/).waitFor({ timeout: 30000 });
  assert.ok(await experiment.getByText("实验组").first().isVisible(), "both arms are listed");
  await health.getByText(/命中/).first().waitFor({ timeout: 30000 });
  await shot("experiment");
};

// An operations lead opens the dwell heatmap and sees the open findings.
flows.intelligence = async (page, { base }) => {
  await page.goto(`${base}/console/#/intelligence`);
  await page.getByRole("img", { name: "dwell heatmap" }).locator("canvas").first().waitFor({ timeout: 60000 });
  const steps = await page.getByText(/个步骤/).textContent();
  assert.ok(Number.parseInt(steps ?? "0", 10) > 50, `the heatmap counts the demo's steps: ${steps}`);
  // The demo's PDA firmware 3.4.1 drops the forward-warehouse check: its findings show that root cause.
  const cause = page.getByTestId("root-cause").filter({ hasText: "3.4.1" });
  await cause.waitFor({ timeout: 60000 });
  await cause.click();
  const orders = page.locator('.ant-collapse-content-active a[href^="#/lens?oid="]');
  await orders.first().waitFor({ timeout: 10000 });
  assert.ok((await orders.count()) >= 3, "the group lists its orders, each linked to the order lens");
  // The forecast panel shows the API's board (the demo's model may still be training: then it says so).
  await page.getByText(/阈值 4 h/).waitFor({ timeout: 60000 });
};

// A value-stream lead reads contract health, explains the detector's firing, and moves a department's task along.
flows.valuestream = async (page, { base, label, shot }) => {
  await page.goto(`${base}/console/#/valuestream`);
  await page.getByLabel("marketing_attribution fulfilment").waitFor({ timeout: 60000 });
  assert.ok(await page.getByText("Supply chain rush-order flag").isVisible(), "every department's contract is listed");
  await shot("contracts");
  await page.getByRole("tab", { name: "检测与根因" }).click();
  await page.getByText("高端耳机退货率异常").waitFor({ timeout: 60000 });
  await page.locator(".ant-tag-volcano").first().waitFor({ timeout: 60000 }); // the explorer's top subgroup
  const conditions = await page.locator(".ant-tag-volcano").allTextContents();
  assert.ok(conditions.some((c) => /douyin|short_video/.test(c)), `the root cause names the campaign: ${conditions}`);
  await page.getByText("已闭环").first().waitFor({ timeout: 30000 }); // the firing's playbook created its tasks
  await shot("detectors");
  await page.getByRole("tab", { name: "部门任务" }).click();
  // The detector's playbook gave product, marketing and customer service a task each. Both widths run
  // against one server, so each takes its own department's task from open to in progress.
  const team = label === "desktop" ? "产品" : "市场";
  await page.getByLabel("team").getByText(team, { exact: true }).click({ timeout: 60000 });
  const open = page.locator('[data-column="open"] [role="button"][aria-label^="task "]');
  await open.first().waitFor({ timeout: 10000 });
  const id = (await open.first().getAttribute("aria-label")).slice(5);
  await open.first().focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "开始处理" }).click({ timeout: 10000 });
  await page.getByRole("button", { name: "完 成" }).or(page.getByRole("button", { name: "完成" })).waitFor({ timeout: 10000 });
  await page.locator(".ant-drawer-close").click();
  await page.locator(".ant-drawer-content-wrapper").waitFor({ state: "hidden", timeout: 10000 }); // not mid-animation in the shot
  await page.locator(`[data-column="in_progress"] [aria-label="task ${id}"]`).waitFor({ timeout: 10000 });
  await shot("tasks");
  await page.getByRole("tab", { name: "部门视图" }).click();
  await page.getByText("contract_fulfilment_rate").waitFor({ timeout: 60000 });
  await page.getByRole("tab", { name: "价值流图" }).click();
  await page.getByText("rush_order", { exact: true }).waitFor({ timeout: 30000 });
  // The same page in English.
  await page.getByText("EN", { exact: true }).click();
  await page.goto(`${base}/console/#/valuestream?tab=contracts`);
  await page.reload(); // the tab is read from the bookmarkable URL
  await page.getByRole("tab", { name: "Contract health", selected: true }).waitFor({ timeout: 30000 });
  await page.getByLabel("marketing_attribution fulfilment").waitFor({ timeout: 60000 });
  await shot("en");
};
