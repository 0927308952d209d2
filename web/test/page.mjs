// End-to-end test of the township team page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), against a running `firepoint serve`.
//
//   BASE=http://127.0.0.1:8787 TOKEN=... TICKET=FP-... SHOT=/tmp/page.png node web/test/page.mjs
//
// TICKET must be an open ticket that TOKEN can see (a camera or drone ticket's pictures must show); the test moves it open → acknowledged →
// on_site → resolved, so it is used up (give it a fresh store each run). It opens the page at a
// phone viewport with the token in the URL fragment, clicks 签收, 到场, 查实 (filling the inline
// form), reloads to see the ticket gone from the active list, and fails on any console error,
// any failed or 4xx/5xx request, and any request that leaves BASE's origin (those are aborted).
// Prints one JSON summary line, then 'checks: N passed, N failed'; exit 0 only when all passed,
// 1 on a failed check, 2 on bad usage.
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STEP_MS = 15_000;
const TOTAL_MS = 120_000;
const RESOLVE_TEXT = '已扑灭，秸秆清运';

const checks = [];
const summary = { ok: false, ticket: null, evidence: null, steps: [], console_errors: [], offsite_requests: [], http_errors: [], writes: [], requests: 0, screenshot: null };

function usage() {
  const missing = ['BASE', 'TOKEN', 'TICKET', 'SHOT'].filter((k) => !process.env[k]);
  if (!missing.length) return null;
  return `missing ${missing.join(', ')}: set BASE (http://127.0.0.1:PORT), TOKEN, TICKET (an open ticket id TOKEN sees) and SHOT (screenshot path)`;
}

/** Records a check; a failed one stops the run (the steps after it depend on it). */
function check(name, ok, detail) {
  if (!record(name, ok, detail)) throw new Error(`${name}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
}

function record(name, ok, detail) {
  checks.push({ name, ok: Boolean(ok), ...(detail === undefined ? {} : { detail }) });
  return Boolean(ok);
}

/** Same Beijing-time text as the page ("MM-DD HH:mm"), computed here independently. */
function beijing(iso) {
  const d = new Date(Date.parse(iso) + 8 * 3600 * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

/** The ticket as the API gives it (from Node, not the browser), or null when not active. */
async function activeTicket(base, token, id) {
  const res = await fetch(new URL('tickets.geojson?status=active', base), { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET tickets.geojson?status=active answered ${res.status}: ${await res.text()}`);
  const fc = await res.json();
  const f = (fc.features || []).find((x) => (x.id ?? x.properties?.id) === id);
  return f ? f.properties : null;
}

async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  summary.steps.push({ step: name, ms: Date.now() - t0 });
}

/** Records every request; aborts and records any that leaves the page's origin. */
async function guard(context, page, origin) {
  const offsite = (url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (offsite(url)) {
      if (!summary.offsite_requests.includes(url)) summary.offsite_requests.push(url);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  page.on('request', (req) => {
    summary.requests += 1;
    if (offsite(req.url()) && !summary.offsite_requests.includes(req.url())) summary.offsite_requests.push(req.url());
  });
  page.on('response', (res) => {
    if (res.status() >= 400) summary.http_errors.push(`${res.request().method()} ${res.url()} → ${res.status()}`);
  });
  page.on('requestfailed', (req) => {
    if (!offsite(req.url())) summary.http_errors.push(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`);
  });
  page.on('console', (msg) => { if (msg.type() === 'error') summary.console_errors.push(msg.text()); });
  page.on('pageerror', (err) => summary.console_errors.push(`uncaught: ${err.message}`));
}

/** Waits for the write the click sends and records its request and answer. */
async function clickAndWrite(page, row, action, click) {
  const answer = page.waitForResponse((res) => res.request().method() === 'POST' && res.url().endsWith(`/${action}`), { timeout: STEP_MS });
  await click();
  const res = await answer;
  const req = res.request();
  const body = await res.json().catch(() => null);
  summary.writes.push({ action, status: res.status(), content_type: req.headers()['content-type'], body: req.postDataJSON(), answer_status: body?.status });
  check(`${action}: POST sent Content-Type application/json`, /^application\/json/.test(req.headers()['content-type'] || ''), req.headers()['content-type']);
  check(`${action}: server answered 200`, res.status() === 200, res.status() === 200 ? 200 : { status: res.status(), body });
}

async function run(browser, env) {
  const base = env.BASE.endsWith('/') ? env.BASE : `${env.BASE}/`;
  const origin = new URL(base).origin;
  const id = env.TICKET;
  summary.ticket = id;

  const before = await activeTicket(base, env.TOKEN, id);
  check('TICKET is active and open for TOKEN', before?.status === 'open', before ? before.status : 'not in the active list');

  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    locale: 'zh-CN', timezoneId: 'UTC', // the page must show Beijing time whatever the device's zone
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await guard(context, page, origin);

  const row = page.locator(`li[data-ticket=${JSON.stringify(id)}]`);
  const rowIn = (status) => page.locator(`li[data-ticket=${JSON.stringify(id)}][data-status="${status}"]`);

  await step('open', async () => {
    await page.goto(`${base}#token=${encodeURIComponent(env.TOKEN)}`);
    await rowIn('open').waitFor();
  });
  check('token removed from the address bar', !page.url().includes('token='), page.url());
  check('token kept in localStorage', await page.evaluate((t) => Object.values(localStorage).includes(t), env.TOKEN));
  check('header shows who I am', (await page.locator('#me-name').textContent()).trim().length > 0);
  const villages = await page.locator('#map path.village').count();
  const markers = await page.locator('#map path.ticket-marker').count();
  check('map shows village polygons', villages > 0, villages);
  check('map shows ticket markers', markers > 0, markers);
  if ((before.sources || []).some((x) => x === 'camera' || x === 'drone')) {
    // a camera or drone ticket comes with its pictures: the frame, its crop, the earlier frame
    await step('evidence', async () => {
      await page.waitForFunction((tid) => {
        const r = [...document.querySelectorAll('li[data-ticket]')].find((x) => x.dataset.ticket === tid);
        const imgs = r ? [...r.querySelectorAll('.t-evidence img')] : [];
        return imgs.length >= 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      }, id);
    });
    const shown = await row.locator('.t-evidence img').evaluateAll((imgs) => imgs.map((i) => [i.dataset.test, i.naturalWidth]));
    summary.evidence = shown;
    const names = shown.map(([n]) => n);
    check('evidence pictures shown (frame and crop)', names.includes('evidence-frame') && names.includes('evidence-crop'), shown);
  }
  // a satellite ticket shows its pixels (sensor, pass time, FRP) and their footprints on the map
  const satRow = page.locator('li[data-ticket][data-source="satellite"]').first();
  if (await satRow.count()) {
    await satRow.locator('[data-test="pixels"] li').first().waitFor();
    check('a satellite ticket lists its pixels with FRP', /FRP [0-9.]+ MW/.test(await satRow.locator('[data-test="pixels"]').textContent()));
    await page.locator('#map path.footprint').first().waitFor({ state: 'attached' });
  }
  const rowText = await row.textContent();
  check('first seen shown in Beijing time', rowText.includes(beijing(before.first_seen)), { want: beijing(before.first_seen), row: rowText });

  await step('ack', async () => {
    await clickAndWrite(page, row, 'ack', () => row.locator('[data-action="ack"]').click());
    await rowIn('acknowledged').waitFor();
  });
  await step('on_site', async () => {
    await clickAndWrite(page, row, 'on_site', () => row.locator('[data-action="on_site"]').click());
    await rowIn('on_site').waitFor();
  });
  await step('resolve', async () => {
    await row.locator('[data-action="resolve"]').click();
    await row.locator('form[data-form="resolve"] textarea[name="action"]').fill(RESOLVE_TEXT);
    await clickAndWrite(page, row, 'resolve', () => row.locator('[data-action="resolve-submit"]').click());
    await page.waitForFunction((tid) => {
      const r = [...document.querySelectorAll('li[data-ticket]')].find((x) => x.dataset.ticket === tid);
      return !r || r.dataset.status === 'resolved';
    }, id);
  });
  const sent = summary.writes.find((w) => w.action === 'resolve')?.body;
  check('查实 sent the action text', sent?.action === RESOLVE_TEXT, sent);

  await step('screenshot', async () => {
    await page.screenshot({ path: env.SHOT, fullPage: true });
    summary.screenshot = env.SHOT;
  });

  await step('reload', async () => {
    await page.goto(base); // no fragment: the token must come from localStorage now
    await page.locator('#tickets[data-loaded-at]').waitFor({ state: 'attached' });
  });
  check('resolved ticket gone from the active list after reload', (await row.count()) === 0);
  check('server no longer lists the ticket as active', (await activeTicket(base, env.TOKEN, id)) === null);

  await context.close();
}

async function main() {
  const problem = usage();
  if (problem) {
    console.error(`page.mjs: ${problem}`);
    return 2;
  }
  const env = process.env;
  const timer = setTimeout(() => {
    summary.error = `timed out after ${TOTAL_MS / 1000} s`;
    finish(1);
  }, TOTAL_MS);
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
  return summary.ok ? 0 : 1;
}

function finish(code) {
  const failed = checks.filter((c) => !c.ok).length + (summary.ok ? 0 : checks.every((c) => c.ok) ? 1 : 0);
  summary.checks = checks;
  console.log(JSON.stringify(summary));
  console.log(`checks: ${checks.length - checks.filter((c) => !c.ok).length} passed, ${failed} failed`);
  process.exit(code);
}

main().then((code) => (code === 2 ? process.exit(2) : finish(code)));
