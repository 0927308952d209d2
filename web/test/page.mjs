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
import { activeTickets, main, phonePage, testRun } from './harness.mjs';

const STEP_MS = 15_000;
const TOTAL_MS = 120_000;
const RESOLVE_TEXT = '已扑灭，秸秆清运';

const t = testRun({ ok: false, ticket: null, evidence: null, steps: [], console_errors: [], offsite_requests: [], http_errors: [], writes: [], requests: 0, screenshot: null });
const { summary, check } = t;

function usage() {
  const missing = ['BASE', 'TOKEN', 'TICKET', 'SHOT'].filter((k) => !process.env[k]);
  if (!missing.length) return null;
  return `missing ${missing.join(', ')}: set BASE (http://127.0.0.1:PORT), TOKEN, TICKET (an open ticket id TOKEN sees) and SHOT (screenshot path)`;
}

/** Same Beijing-time text as the page ("MM-DD HH:mm"), computed here independently. */
function beijing(iso) {
  const d = new Date(Date.parse(iso) + 8 * 3600 * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

/** The ticket as the API gives it (from Node, not the browser), or null when not active. */
async function activeTicket(base, token, id) {
  return (await activeTickets(base, token)).find((x) => x.id === id) || null;
}

async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  summary.steps.push({ step: name, ms: Date.now() - t0 });
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

  const { context, page } = await phonePage(browser, origin, summary, STEP_MS);

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

main(t, { name: 'page.mjs', problem: usage(), totalMs: TOTAL_MS, run });
