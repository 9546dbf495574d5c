// Drives hnas serve's dashboard in headless Chromium for tests/serve_cli.rs:
//   node check.mjs URL SCREENSHOT [EXPECT_BEFORE] [EXPECT_AFTER]
// Loads the page, waits for EXPECT_BEFORE trials in the table, prints READY (the Rust test
// then adds trials in another process), waits for EXPECT_AFTER, sorts by a column, filters,
// takes a screenshot, and fails on any console error or page error.
import { chromium } from "playwright-core";

const [url, shot, before = "5", after = "8"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", m => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("pageerror", e => errors.push("page: " + e.message));
  await page.goto(url);
  const rows = () => page.locator("#trials tbody tr").count();
  await page.waitForFunction(n => document.querySelectorAll("#trials tbody tr").length === n, +before, { timeout: 20000 });
  console.log("READY " + (await rows()));
  await page.waitForFunction(n => document.querySelectorAll("#trials tbody tr").length >= n, +after, { timeout: 60000 });
  console.log("UPDATED " + (await rows()));
  if ((await page.locator("#count").textContent()) !== `${await rows()} trials`) throw new Error("count disagrees with the table");
  // Newest trial first, and the study's state with its progress.
  const first = await page.locator("#trials tbody tr td:nth-child(1)").allTextContents();
  const numbers = first.map(Number);
  if (numbers[0] !== Math.max(...numbers)) throw new Error("newest trial not first: " + first.join(","));
  const status = await page.locator("#status").textContent();
  if (!/^(● running|■ finished): \d+\/\d+ counted$/.test(status)) throw new Error("status: " + status);
  console.log("STATUS " + status);
  // Sort by the first objective (descending on first click) and check the order.
  await page.locator("#trials thead th").nth(2).click();
  const vals = await page.locator("#trials tbody tr td:nth-child(3)").allTextContents();
  const nums = vals.map(Number).filter(v => !Number.isNaN(v));
  for (let i = 1; i < nums.length; i++) if (nums[i] > nums[i - 1]) throw new Error("not sorted: " + vals.join(","));
  // Filter to complete trials only.
  await page.fill("#filter", "complete");
  const states = await page.locator("#trials tbody tr td:nth-child(2)").allTextContents();
  if (states.some(s => s !== "complete")) throw new Error("filter kept: " + states.join(","));
  await page.fill("#filter", "");
  await page.waitForFunction(() => [...document.querySelectorAll("#figures img")].every(i => i.complete && i.naturalWidth > 0), null, { timeout: 20000 });
  console.log("FIGURES " + (await page.locator("#figures img").count()));
  await page.screenshot({ path: shot, fullPage: true });
  console.log("SCREENSHOT " + shot);
} finally {
  await browser.close();
}
if (errors.length) {
  console.error(errors.join("\n"));
  process.exit(1);
}
