// End-to-end: start `orderloom serve --demo` on a fresh SQLite file, then click through each page's
// main flow in headless Debian Chromium (Playwright drives the system executable; no browser download).
// Screenshots at desktop and phone width go to console/test-results/ as artifacts.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { flows } from "./flows.mjs";

const root = resolve(import.meta.dirname, "../..");
const bin = join(root, ".venv/bin/orderloom");
const out = resolve(import.meta.dirname, "../test-results");
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "orderloom-e2e-"));
const port = 18000 + Math.floor(Math.random() * 1000);
const env = { ...process.env, ORDERLOOM_DB_URL: `sqlite:///${dir}/e2e.db`, ORDERLOOM_PORT: String(port) };
const key = execFileSync(bin, ["keys", "create", "--role", "admin", "--note", "console e2e"], { env }).toString().trim();
const server = spawn(bin, ["serve", "--demo", "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] });
let log = "";
server.stdout.on("data", (d) => (log += d));
server.stderr.on("data", (d) => (log += d));
const base = `http://127.0.0.1:${port}`;

async function waitUp() {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the server did not come up:\n${log}`);
}

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
let failed = 0;
try {
  await waitUp();
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  // E2E_FLOWS=valuestream,lens runs only those flows (when working on one page).
  const only = process.env.E2E_FLOWS ? process.env.E2E_FLOWS.split(",") : null;
  for (const [name, flow] of Object.entries(flows).filter(([n]) => !only || only.includes(n))) {
    for (const [width, height, label] of [
      [1366, 900, "desktop"],
      [390, 844, "phone"],
    ]) {
      const page = await browser.newPage({ viewport: { width, height } });
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
      page.on("response", (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()} ${r.url().replace(base, "")}`));
      await page.goto(`${base}/console/`);
      await page.evaluate((k) => localStorage.setItem("orderloom.key", k), key);
      try {
        // A flow may save extra screenshots (e.g. each tab of a page) next to the one taken at its end.
        const shot = (part) => page.screenshot({ path: join(out, `${name}-${part}-${label}.png`), fullPage: true });
        await flow(page, { base, key, label, shot });
        if (errors.length) throw new Error(`errors in the page: ${errors.join("; ")}`);
        console.log(`ok   ${name} (${label})`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${name} (${label}): ${e.message}\n  ${errors.join("\n  ")}`);
      }
      await page.screenshot({ path: join(out, `${name}-${label}.png`), fullPage: true });
      await page.close();
    }
  }
  await browser.close();
} finally {
  server.kill("SIGTERM");
}
if (failed) {
  console.log(`${failed} flow(s) failed; screenshots in ${out}`);
  process.exit(1);
}
console.log(`all flows passed; screenshots in ${out}`);
