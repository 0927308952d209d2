// End-to-end test of the county duty page (值班) in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), against a running `firepoint serve`.
//
//   BASE=http://127.0.0.1:8787 TOKEN=<county token> READY=/tmp/ready REFRESH_S=2 node web/test/duty.mjs
//
// It opens the page with the county token at a phone viewport and checks the duty view: the
// towers on the map coloured by health, the satellite inputs received, camera and drone alarms
// first. Then it writes the file READY and waits: the caller runs a batch that opens a new
// camera alarm. The alarm must appear on the page without a reload within one refresh interval
// (REFRESH_S) of the API having it, with its pictures; the officer escalates it (督办) and marks
// one satellite ticket a duplicate of another. Fails on any console error, any failed or
// 4xx/5xx request, and any request that leaves BASE's origin (those are aborted). Prints one
// JSON summary line, then 'checks: N passed, N failed'; exit 0 only when all passed.
import { writeFileSync } from 'node:fs';
import { activeTickets as active, main, phonePage, testRun } from './harness.mjs';

const STEP_MS = 15_000;
const TOTAL_MS = 240_000;
const t = testRun({ ok: false, alarm: null, alarm_lag_ms: null, console_errors: [], offsite_requests: [], http_errors: [], requests: 0 });
const { summary, check } = t;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(browser, env) {
  const base = env.BASE.endsWith('/') ? env.BASE : `${env.BASE}/`;
  const origin = new URL(base).origin;
  const refreshMs = Number(env.REFRESH_S || 30) * 1000;
  const { context, page } = await phonePage(browser, origin, summary, STEP_MS);

  await page.goto(`${base}#token=${encodeURIComponent(env.TOKEN)}`);
  await page.locator('#tickets[data-loaded-at]').waitFor({ state: 'attached' });
  await page.locator('#duty').waitFor();
  await page.locator('#passes li[data-test="pass"]').first().waitFor();
  const towers = await page.locator('#map path.tower').count();
  check('the towers are on the map', towers >= 10, towers);
  check('the satellite inputs received are listed', (await page.locator('#passes li[data-test="pass"]').count()) > 0);
  const sources = await page.locator('#tickets li[data-ticket]').evaluateAll((rows) => rows.map((r) => r.dataset.source));
  const firstSatellite = sources.indexOf('satellite');
  check('camera and drone alarms come first', sources.includes('sighting') && !sources.slice(firstSatellite).includes('sighting'), sources);
  // a satellite ticket shows its pixels (sensor, pass time, FRP) and their footprints on the map
  const satRow = page.locator('li[data-ticket][data-source="satellite"]').first();
  await satRow.locator('[data-test="pixels"] li').first().waitFor();
  check('a satellite ticket lists its pixels with FRP', /FRP [0-9.]+ MW/.test(await satRow.locator('[data-test="pixels"]').textContent()));
  await page.locator('#map path.footprint').first().waitFor({ state: 'attached' });
  check('its footprints are on the map', (await page.locator('#map path.footprint').count()) > 0);
  const before = new Set((await active(base, env.TOKEN)).map((t) => t.id));

  // the caller now opens a new camera alarm; it must show without a reload within one refresh
  writeFileSync(env.READY, 'ready\n');
  let alarm = null;
  const give = Date.now() + 150_000;
  while (!alarm && Date.now() < give) {
    alarm = (await active(base, env.TOKEN)).find((t) => !before.has(t.id) && (t.sources || []).includes('camera'));
    if (!alarm) await sleep(200);
  }
  check('a new camera alarm reached the API', alarm);
  const inApi = Date.now();
  const polls = async () => Number(await page.locator('#tickets').getAttribute('data-loads'));
  const pollsBefore = await polls();
  summary.alarm = alarm.id;
  const row = page.locator(`li[data-ticket=${JSON.stringify(alarm.id)}]`);
  // counted in the page's polls, not in seconds (a busy machine is slow, never wrong): a poll
  // under way when the API got the alarm may miss it, the next one must show it
  await row.waitFor({ timeout: refreshMs * 3 + 60_000 });
  summary.alarm_lag_ms = Date.now() - inApi;
  summary.alarm_polls = (await polls()) - pollsBefore;
  check('the alarm appeared without a reload within one refresh interval (at most the poll after the one under way)', summary.alarm_polls <= 2, summary.alarm_polls);
  await page.waitForFunction((tid) => {
    const r = [...document.querySelectorAll('li[data-ticket]')].find((x) => x.dataset.ticket === tid);
    const imgs = r ? [...r.querySelectorAll('.t-evidence img')] : [];
    return imgs.length >= 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, alarm.id);
  check('its pictures loaded', true);

  // 督办: one level up
  const esc = page.waitForResponse((res) => res.request().method() === 'POST' && res.url().endsWith('/escalate'));
  await row.locator('[data-action="escalate"]').click();
  check('escalate answered 200', (await esc).status() === 200);
  await row.locator('.tag.esc').waitFor();
  check('the row says escalated', (await row.locator('.tag.esc').textContent()).includes('乡镇组长'));

  // a duplicate: one satellite ticket of another
  const sats = (await active(base, env.TOKEN)).filter((t) => (t.sources || []).includes('satellite'));
  check('two satellite tickets to join', sats.length >= 2, sats.length);
  const [keep, dup] = sats;
  const dupRow = page.locator(`li[data-ticket=${JSON.stringify(dup.id)}]`);
  await dupRow.locator('[data-action="duplicate"]').click();
  await dupRow.locator('form[data-form="duplicate"] input[name="of"]').fill(keep.id);
  const dupped = page.waitForResponse((res) => res.request().method() === 'POST' && res.url().endsWith('/duplicate'));
  await dupRow.locator('[data-action="duplicate-submit"]').click();
  check('duplicate answered 200', (await dupped).status() === 200);
  check('the API no longer lists the duplicate as active', !(await active(base, env.TOKEN)).some((t) => t.id === dup.id));
  summary.duplicate = { of: keep.id, id: dup.id };
  if (env.SHOT) await page.screenshot({ path: env.SHOT, fullPage: true });
  await context.close();
}

const need = ['BASE', 'TOKEN', 'READY'].filter((k) => !process.env[k]);
const problem = need.length ? `missing ${need.join(', ')}: set BASE, TOKEN (a county token) and READY (a file to write when ready)` : null;
main(t, { name: 'duty.mjs', problem, totalMs: TOTAL_MS, run });
