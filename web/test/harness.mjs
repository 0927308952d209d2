// What the browser tests of the page share (page.mjs: a township team; duty.mjs: the county's
// duty page): Debian's headless Chromium through playwright-core, a phone-sized context whose
// every request is recorded and any off-origin one aborted, the checks and the JSON summary line,
// and the API's active tickets read from Node (not the browser).
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A test's checks and summary: `check` records one and stops the run when it failed (the steps
 *  after it depend on it); `record` only records it. */
export function testRun(summary) {
  const checks = [];
  const record = (name, ok, detail) => {
    checks.push({ name, ok: Boolean(ok), ...(detail === undefined ? {} : { detail }) });
    return Boolean(ok);
  };
  const check = (name, ok, detail) => {
    if (!record(name, ok, detail)) throw new Error(`${name}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  };
  return { summary, checks, check, record };
}

/** The API's active tickets (their properties), as the server lists them. */
export async function activeTickets(base, token) {
  const res = await fetch(new URL('tickets.geojson?status=active', base), { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET tickets.geojson?status=active answered ${res.status}: ${await res.text()}`);
  const fc = await res.json();
  return (fc.features || []).map((f) => ({ ...f.properties, id: f.properties?.id ?? f.id }));
}

/** A phone-sized page on `origin`: every request counted, any that leaves the origin aborted and
 *  recorded, 4xx/5xx answers, failed requests and console errors recorded in the summary. */
export async function phonePage(browser, origin, summary, stepMs) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    locale: 'zh-CN', timezoneId: 'UTC', // the page must show Beijing time whatever the device's zone
  });
  const page = await context.newPage();
  page.setDefaultTimeout(stepMs);
  const offsite = (url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin;
  const note = (url) => { if (!summary.offsite_requests.includes(url)) summary.offsite_requests.push(url); };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (offsite(url)) {
      note(url);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  page.on('request', (req) => {
    summary.requests += 1;
    if (offsite(req.url())) note(req.url());
  });
  page.on('response', (res) => {
    if (res.status() >= 400) summary.http_errors.push(`${res.request().method()} ${res.url()} → ${res.status()}`);
  });
  page.on('requestfailed', (req) => {
    if (!offsite(req.url())) summary.http_errors.push(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`);
  });
  page.on('console', (msg) => { if (msg.type() === 'error') summary.console_errors.push(msg.text()); });
  page.on('pageerror', (err) => summary.console_errors.push(`uncaught: ${err.message}`));
  return { context, page };
}

/** Runs `run(browser, env)` in Chromium within `totalMs`, then the checks every page test ends
 *  with (nothing off-origin, no console error, no failed request); prints the summary as one JSON
 *  line, then 'checks: N passed, N failed', and exits 0 only when all passed (2 when `problem`,
 *  the usage error, is set). */
export async function main(t, { name, problem, totalMs, run }) {
  const { summary, checks, record } = t;
  const finish = (code) => {
    const failed = checks.filter((c) => !c.ok).length + (summary.ok ? 0 : checks.every((c) => c.ok) ? 1 : 0);
    summary.checks = checks;
    console.log(JSON.stringify(summary));
    console.log(`checks: ${checks.length - checks.filter((c) => !c.ok).length} passed, ${failed} failed`);
    process.exit(code);
  };
  if (problem) {
    console.error(`${name}: ${problem}`);
    process.exit(2);
  }
  const env = process.env;
  const timer = setTimeout(() => {
    summary.error = `timed out after ${totalMs / 1000} s`;
    finish(1);
  }, totalMs);
  let browser;
  try {
    browser = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    await run(browser, env);
    summary.ok = [
      record('no request left the origin', summary.offsite_requests.length === 0, summary.offsite_requests),
      record('no console errors', summary.console_errors.length === 0, summary.console_errors),
      record('no failed or 4xx/5xx requests', summary.http_errors.length === 0, summary.http_errors),
    ].every(Boolean);
    if (!summary.ok) summary.error = checks.filter((c) => !c.ok).map((c) => c.name).join('; ');
  } catch (err) {
    summary.error = String(err && err.message ? err.message : err).split('\n')[0];
  } finally {
    clearTimeout(timer);
    if (browser) await browser.close().catch(() => {});
  }
  finish(summary.ok ? 0 : 1);
}
