// Drives the device console (/console/) in real Chromium: sign-in, My devices, Device management with its 2FA prompt.
//
// Usage: node console.mjs (inputs from the environment; the Rust test tests/it/console.rs seeds and sets them)
//   CONSOLE_URL                  base URL, e.g. http://127.0.0.1:3000 (the page is CONSOLE_URL/console/)
//   CONSOLE_USER, CONSOLE_PASSWORD        a plain user without 2FA
//   CONSOLE_USER_ID, CONSOLE_OTHER_TOKEN  that user's id and the token of one more session of theirs
//   CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD, CONSOLE_ADMIN_TOTP_SECRET (base32)   an admin with TOTP
//   CONSOLE_CLOCK                the server's frozen clock, Unix seconds (default: this machine's)
//   CONSOLE_TOTP_SKEW            steps the server accepts either side (default 1)
//   CONSOLE_SEEDED_TOTAL         active sessions in list.all just before the admin signs in, that is
//                                after steps 4 and 6 logged out the user's two sessions; the page must
//                                then show this + 1 (the admin's own console session)
//   CONSOLE_SEARCH, CONSOLE_SEARCH_TOTAL  a filter and how many sessions match it once the admin is signed in
//   CONSOLE_MARKUP_USERNAME, CONSOLE_MARKUP_NAME, CONSOLE_MARKUP_TOTAL  a seeded user whose name is
//                                markup (its sessions must show that name as text), and how many sessions
//   CONSOLE_LOCKED_USER, CONSOLE_LOCK_AFTER  a user the run locks out, and the server's failures per user
//   CONSOLE_SCREENSHOTS          directory for the PNGs (default ./screenshots)
//   CONSOLE_CHROMIUM             the browser (default /usr/bin/chromium)
//
// Prints one PASS/FAIL line per step and exits 1 when any fails. Tokens, passwords
// and codes are never printed: every line goes through scrub().

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { totpCodesFromEnv } from '../totp.mjs';

const env = process.env;
const base = (env.CONSOLE_URL ?? '').replace(/\/+$/, '');
const pageUrl = `${base}/console/`;
const user = { name: env.CONSOLE_USER, password: env.CONSOLE_PASSWORD, id: env.CONSOLE_USER_ID, otherToken: env.CONSOLE_OTHER_TOKEN };
const admin = { name: env.CONSOLE_ADMIN, password: env.CONSOLE_ADMIN_PASSWORD, secret: env.CONSOLE_ADMIN_TOTP_SECRET };
const seededTotal = Number(env.CONSOLE_SEEDED_TOTAL);
const markupTotal = Number(env.CONSOLE_MARKUP_TOTAL);
const lockAfter = Number(env.CONSOLE_LOCK_AFTER);
const searchTotal = Number(env.CONSOLE_SEARCH_TOTAL);
const shots = env.CONSOLE_SCREENSHOTS ?? path.join(import.meta.dirname, 'screenshots');

const missing = Object.entries({
  CONSOLE_URL: base,
  CONSOLE_USER: user.name,
  CONSOLE_PASSWORD: user.password,
  CONSOLE_USER_ID: user.id,
  CONSOLE_OTHER_TOKEN: user.otherToken,
  CONSOLE_ADMIN: admin.name,
  CONSOLE_ADMIN_PASSWORD: admin.password,
  CONSOLE_ADMIN_TOTP_SECRET: admin.secret,
  CONSOLE_SEEDED_TOTAL: env.CONSOLE_SEEDED_TOTAL,
  CONSOLE_SEARCH: env.CONSOLE_SEARCH,
  CONSOLE_SEARCH_TOTAL: env.CONSOLE_SEARCH_TOTAL,
  CONSOLE_MARKUP_USERNAME: env.CONSOLE_MARKUP_USERNAME,
  CONSOLE_MARKUP_NAME: env.CONSOLE_MARKUP_NAME,
  CONSOLE_MARKUP_TOTAL: env.CONSOLE_MARKUP_TOTAL,
  CONSOLE_LOCKED_USER: env.CONSOLE_LOCKED_USER,
  CONSOLE_LOCK_AFTER: env.CONSOLE_LOCK_AFTER,
}).filter(([, v]) => !v).map(([k]) => k);
if (missing.length) {
  console.error(`console: set ${missing.join(', ')}`);
  process.exit(2);
}

// The whole run must stay well under the wrapping test's 90 s.
const WATCHDOG_MS = 50_000;
const STEP_MS = 12_000;
const WAIT_MS = 5_000;

const secrets = new Set();
const secret = (value) => {
  if (typeof value === 'string' && value.length >= 4) secrets.add(value);
  return value;
};
[user.password, user.otherToken, admin.password, admin.secret].forEach(secret);
const scrub = (text) => {
  let out = String(text);
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('<secret>');
  return out;
};
const say = (line) => console.log(scrub(line));

setTimeout(() => {
  say(`FAIL watchdog: the run took longer than ${WATCHDOG_MS / 1000} s`);
  process.exit(1);
}, WATCHDOG_MS).unref();

// --- checks --------------------------------------------------------------------

function check(condition, message) {
  if (!condition) throw new Error(message);
}
const show = (v) => JSON.stringify(v);

/** Polls fn until it returns a truthy value; the last value goes into the failure. */
async function until(fn, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${show(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let failures = 0;
async function step(name, run) {
  let timer;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`step timed out after ${STEP_MS / 1000} s`)), STEP_MS))),
    ]);
    say(`PASS ${name}`);
  } catch (error) {
    failures += 1;
    say(`FAIL ${name}: ${(error?.message ?? String(error)).split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

// --- TOTP ------------------------------------------------------------------------

const totp = totpCodesFromEnv(env, 'CONSOLE');
const nextTotpCode = async () => secret(await totp.next());
const wrongTotpCode = () => totp.wrong();

// --- the browser -----------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: env.CONSOLE_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 15_000,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(WAIT_MS);
const page = await context.newPage();

// Console errors and CSP violations anywhere in the run fail the last step.
// An HTTP error answer the page handles (401 for a wrong password, 400 for a
// 2FA challenge, the 503 step 3b fakes) is logged by Chromium as "Failed to load
// resource"; those are expected.
const pageErrors = [];
page.on('console', (message) => {
  if (message.type() !== 'error') return;
  const text = message.text();
  if (/^Failed to load resource: the server responded with a status of (4\d\d|503)/.test(text)) return;
  pageErrors.push(text);
});
page.on('pageerror', (error) => pageErrors.push(`uncaught: ${error.message}`));
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
  });
});

// Every API request the page sends, and the tokens its logins received (kept to check storage, never printed).
const requests = [];
const loginTokens = [];
const loginUserIds = [];
page.on('request', async (request) => {
  const url = new URL(request.url());
  if (!url.pathname.startsWith('/api/v1/')) return;
  const entry = { method: request.method(), path: url.pathname.slice('/api/v1/'.length), params: url.searchParams, headers: {} };
  requests.push(entry);
  entry.headers = await request.allHeaders().catch(() => ({}));
});
page.on('response', async (response) => {
  const url = new URL(response.url());
  if (url.pathname === '/api/v1/login' && response.status() === 200) {
    const body = await response.json().catch(() => null);
    if (body?.data?.authToken) {
      loginTokens.push(secret(body.data.authToken));
      loginUserIds.push(body.data.userId);
    }
  }
});
const adminPaths = new Set(['sessions/list.all', 'sessions/info.admin', 'sessions/logout']);
const sentCodes = () => requests.filter((r) => r.headers['x-2fa-code'] !== undefined);

const alert = () => page.locator('#alert');
const rows = () => page.getByTestId('device-row');
const total = () => page.getByTestId('range').getByTestId('total');
const rangeText = () => page.getByTestId('range').textContent();
async function totalIs(n, what) {
  let shown;
  try {
    await until(async () => (shown = await total().textContent().catch(() => null)) === String(n), `${what}: total ${n}`);
  } catch {
    throw new Error(`${what}: the page shows total ${show(shown)}, expected ${n}`);
  }
}
const sessionIds = () => rows().evaluateAll((trs) => trs.map((tr) => tr.dataset.sessionId));
const twoFactor = () => page.getByRole('dialog', { name: 'Confirm it is you' });

async function apiAs(userId, token, route) {
  return fetch(`${base}/api/v1/${route}`, { headers: { 'X-User-Id': userId, 'X-Auth-Token': token } });
}

const shotProblems = [];
async function screenshots(name) {
  try {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    if (overflow.scroll > overflow.inner + 1) shotProblems.push(`${name}: page is ${overflow.scroll} px wide at 375 px`);
    await page.screenshot({ path: path.join(shots, `${name}-phone.png`), fullPage: true });
  } catch (error) {
    shotProblems.push(`${name}: ${error.message.split('\n')[0]}`);
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
}

async function signIn(who, password) {
  await page.getByLabel('Username or e-mail').fill(who);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const state = {};

// (1) The page's protective headers, and a clean first load.
await step('1 page headers (CSP, X-Frame-Options) and first load', async () => {
  const response = await fetch(pageUrl);
  check(response.status === 200, `GET /console/ answered ${response.status}`);
  const csp = response.headers.get('content-security-policy') ?? '';
  check(csp.includes("frame-ancestors 'none'"), `Content-Security-Policy lacks frame-ancestors 'none': ${show(csp)}`);
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe-'), `Content-Security-Policy is not strict: ${show(csp)}`);
  check((response.headers.get('x-frame-options') ?? '').toUpperCase() === 'DENY', `X-Frame-Options ${show(response.headers.get('x-frame-options'))}`);
  check((response.headers.get('content-type') ?? '').startsWith('text/html'), `content-type ${response.headers.get('content-type')}`);
  for (const asset of ['app.js', 'api.js', 'dom.js', 'paged.js', 'signin.js', 'devices.js', 'admin.js']) {
    const js = await fetch(`${pageUrl}${asset}`);
    check(js.status === 200 && /javascript/.test(js.headers.get('content-type') ?? ''), `${asset}: ${js.status} ${js.headers.get('content-type')}`);
    // Server values must never become markup: no module may write HTML.
    const source = await js.text();
    check(!/\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/.test(source), `${asset} writes markup or evaluates code`);
  }
  await page.goto(pageUrl);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  check(page.url().endsWith('#/signin'), `signed-out page is at ${page.url()}`);
  check((await page.evaluate(() => document.compatMode)) === 'CSS1Compat', 'the page renders in quirks mode');
  check(pageErrors.length === 0, `console errors: ${show(pageErrors)}`);
  await screenshots('signin');
});

// (2) A wrong password reads as a sentence, not a code.
await step('2 wrong password shows "Wrong username or password."', async () => {
  await signIn(user.name, `${user.password}-wrong`);
  await until(async () => (await alert().textContent())?.includes('Wrong username or password.'), 'the wrong-password message');
  check(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), 'left the sign-in page');
});

// (2b) Wrong passwords up to the limit, then the blocked-login answer as a sentence.
await step('2b repeated wrong passwords end in "Too many failed attempts."', async () => {
  const attempt = async (password) => {
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/login');
    await signIn(env.CONSOLE_LOCKED_USER, password);
    return (await answered).status();
  };
  for (let i = 0; i < lockAfter; i += 1) {
    check((await attempt(`wrong ${i}`)) === 401, `wrong password ${i + 1} was not refused`);
  }
  check((await attempt('wrong again')) === 401, 'the blocked attempt was not refused');
  await until(async () => (await alert().textContent())?.includes('Too many failed attempts. Try again later.'), 'the blocked-login message');
  check(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), 'left the sign-in page');
});

// (3) The user's devices, and where the token lives.
await step('3 user signs in and sees both devices; token in sessionStorage, no cookie, not in the URL', async () => {
  const list = await apiAs(user.id, user.otherToken, 'sessions/list');
  check(list.status === 200, `sessions/list with CONSOLE_OTHER_TOKEN answered ${list.status}`);
  const other = (await list.json()).sessions?.find((s) => s.current === true);
  check(other, 'sessions/list items carry no current:true for the caller (server must add it)');
  state.otherSessionId = other.sessionId;

  await signIn(user.name, user.password);
  await page.getByRole('heading', { name: 'My devices' }).waitFor();
  await until(async () => (await rows().count()) === 2, 'two device rows');
  await totalIs(2, 'my devices');
  const badges = page.getByTestId('this-device');
  check((await badges.count()) === 1, `${await badges.count()} "this device" badges`);
  const mine = rows().filter({ has: badges });
  const mineId = await mine.getAttribute('data-session-id');
  check(mineId && mineId !== state.otherSessionId, 'the other session is marked as this device');
  const otherRow = page.locator(`[data-testid="device-row"][data-session-id="${state.otherSessionId}"]`);
  check((await otherRow.count()) === 1, 'the other session is not listed');
  check((await otherRow.locator('time[datetime]').count()) >= 1, 'login time has no <time datetime>');
  check(/\S/.test(await otherRow.getByTestId('device').textContent()), 'no device name');

  const token = loginTokens.at(-1);
  check(token, 'no successful login answer seen');
  const stored = await page.evaluate((t) => Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(t)), token);
  check(stored, 'the token is not in sessionStorage');
  check((await page.evaluate(() => document.cookie)) === '', 'document.cookie is not empty');
  check((await context.cookies()).length === 0, 'the browser holds cookies');
  check(!page.url().includes(token) && !page.url().includes('token'), 'the URL carries the token');
  const unauthenticated = requests.filter((r) => r.path !== 'login' && !(r.headers['x-user-id'] && r.headers['x-auth-token']));
  check(unauthenticated.length === 0, `requests without X-User-Id/X-Auth-Token: ${unauthenticated.map((r) => r.path)}`);
  await screenshots('devices');
});

// (3b) A reload while the server fails keeps the token and offers a retry, not a sign-in.
await step('3b reload with the service down shows a retry that brings the devices back', async () => {
  const down = (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"success":false,"error":"Service unavailable"}' });
  await page.route('**/api/v1/me', down);
  try {
    await page.reload();
    await page.getByText('The service is unavailable right now. Try again later.').waitFor({ timeout: WAIT_MS });
    check(!(await page.getByRole('heading', { name: 'Sign in' }).isVisible()), 'a failed boot showed sign-in');
  } finally {
    await page.unroute('**/api/v1/me', down);
  }
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('heading', { name: 'My devices' }).waitFor({ timeout: WAIT_MS });
  await until(async () => (await rows().count()) === 2, 'both devices after the retry');
});

// (4) Logging out another device revokes its token.
await step('4 user logs out the other device; its token answers 401', async () => {
  const otherRow = page.locator(`[data-testid="device-row"][data-session-id="${state.otherSessionId}"]`);
  await otherRow.getByRole('button', { name: /^Log out/ }).click();
  await otherRow.waitFor({ state: 'detached' });
  await totalIs(1, 'after logging out the other device');
  const me = await apiAs(user.id, user.otherToken, 'me');
  check(me.status === 401, `GET me with the logged-out token answered ${me.status}`);
});

// (5) Server text stays text; a plain user has no admin tab and is told why at #/admin.
await step('5 nothing injected into the page; no Device management for a plain user', async () => {
  check(await page.evaluate(() => document.querySelector('img[src=x], script:not([src])') === null), 'an injected element is in the page');
  check(await page.evaluate(() => document.querySelectorAll('[style]').length === 0), 'an element has a style attribute');
  check(!(await page.getByRole('link', { name: 'Device management' }).isVisible()), 'a plain user sees the Device management tab');
  await page.evaluate(() => { location.hash = '#/admin'; });
  await until(async () => (await alert().textContent())?.includes('You do not have permission to manage devices.'), 'the permission message');
  await page.getByRole('link', { name: 'My devices' }).click();
  await page.getByRole('heading', { name: 'My devices' }).waitFor();
});

// (6) Sign out, then the admin with password and TOTP.
await step('6 sign out; admin signs in with password and TOTP code', async () => {
  const token = loginTokens.at(-1);
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  check(await page.evaluate((t) => !Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(t)), token), 'the token stayed in sessionStorage');
  const me = await apiAs(user.id, token, 'me');
  check(me.status === 401, `the signed-out token still answers ${me.status}`);

  await signIn(admin.name, admin.password);
  const code = page.getByLabel('Verification code');
  await code.waitFor();
  check(await page.evaluate(() => document.activeElement?.id === 'signin-code'), 'focus is not on the code field');
  await code.fill(wrongTotpCode());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until(async () => (await alert().textContent())?.includes('Wrong code. Try again.'), 'the wrong-code message at sign-in');
  check(await code.isVisible(), 'the code step closed after a wrong code');
  await code.fill(await nextTotpCode());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My devices' }).waitFor();
});

// (7) The admin page asks for a second factor once.
await step('7 Device management: 2FA prompt, wrong code kept open with "Wrong code", right code shows the total', async () => {
  await page.getByRole('link', { name: 'Device management' }).click();
  await twoFactor().waitFor();
  const input = twoFactor().getByLabel('Verification code');
  check(await input.evaluate((node) => node === document.activeElement), 'focus is not in the prompt');
  await input.fill(wrongTotpCode());
  await twoFactor().getByRole('button', { name: 'Verify' }).click();
  await until(async () => (await twoFactor().textContent()).includes('Wrong code'), '"Wrong code" in the prompt');
  check(await twoFactor().isVisible(), 'the prompt closed after a wrong code');
  await input.fill(await nextTotpCode());
  await twoFactor().getByRole('button', { name: 'Verify' }).click();
  await twoFactor().waitFor({ state: 'detached' });
  await totalIs(seededTotal + 1, 'list.all');
  const withCode = sentCodes();
  check(withCode.length === 2 && withCode.every((r) => r.headers['x-2fa-method'] === 'totp' && adminPaths.has(r.path)),
    `requests with x-2fa-code: ${show(withCode.map((r) => [r.path, r.headers['x-2fa-method']]))}`);
  state.codesSent = requests.length;
  await screenshots('admin');
});

const noNewPrompt = () => {
  check(!sentCodes().some((r) => requests.indexOf(r) >= state.codesSent), 'a second code was sent');
};

// (8) Search goes to the server as the literal filter.
await step('8 search narrows to CONSOLE_SEARCH_TOTAL', async () => {
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill(env.CONSOLE_SEARCH);
  await search.press('Enter');
  try {
    await totalIs(searchTotal, 'search');
    const last = requests.filter((r) => r.path === 'sessions/list.all').at(-1);
    check(last.params.get('filter') === env.CONSOLE_SEARCH, 'the filter was not sent literally');
  } finally {
    // Cleared even after a failure, so the later steps see every session.
    await search.fill('');
    await search.press('Enter');
  }
  await totalIs(seededTotal + 1, 'search cleared');
  check(!(await twoFactor().isVisible()), 'a second 2FA prompt');
  noNewPrompt();
});

// (8b) A user name made of markup shows as that text: no element, no script ran.
await step('8b a name made of markup is shown as text, never run', async () => {
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill(env.CONSOLE_MARKUP_USERNAME);
  await search.press('Enter');
  try {
    await totalIs(markupTotal, 'markup search');
    const names = await rows().getByTestId('name').allTextContents();
    check(names.length === markupTotal && names.every((n) => n === env.CONSOLE_MARKUP_NAME), `names shown as ${JSON.stringify(names)}`);
    check((await page.locator('#view img, #view script, #view b').count()) === 0, 'markup from the server became elements');
    check((await page.evaluate(() => window.__injected)) === undefined, 'a handler from the server ran');
  } finally {
    await search.fill('');
    await search.press('Enter');
  }
  await totalIs(seededTotal + 1, 'search cleared');
  noNewPrompt();
});

// (9) Sorting and paging, with no second prompt.
await step('9 sort by username both ways, page forward and back, no second 2FA prompt', async () => {
  const header = page.getByRole('columnheader', { name: 'Username' });
  const firstUsername = () => rows().first().getByTestId('username').textContent();
  const sortedBy = async (dir) => {
    const r = requests.filter((x) => x.path === 'sessions/list.all').at(-1);
    return r?.params.get('sort') === JSON.stringify({ '_user.username': dir });
  };
  await header.getByRole('button').click();
  await until(async () => (await header.getAttribute('aria-sort')) === 'ascending' && (await sortedBy(1)), 'aria-sort ascending');
  const ascending = await until(firstUsername, 'first row');
  await header.getByRole('button').click();
  await until(async () => (await header.getAttribute('aria-sort')) === 'descending' && (await sortedBy(-1)), 'aria-sort descending');
  await until(async () => (await firstUsername()) !== ascending, 'the first row to change');
  const descending = await firstUsername();
  check(ascending.localeCompare(descending) < 0, `ascending first ${show(ascending)} is not before descending first ${show(descending)}`);
  check((await page.getByRole('columnheader', { name: 'Signed in' }).getAttribute('aria-sort')) === 'none', 'another column still claims the sort');

  // A page size below the total, so there is a second page.
  const all = seededTotal + 1;
  const size = [100, 50, 25, 10, 5].find((n) => n < all);
  check(size, `paging needs more than 5 sessions (there are ${all})`);
  await page.getByLabel('Rows per page').selectOption(String(size));
  await until(async () => (await rangeText()).startsWith(`1–${size} of`), `range 1–${size}`);
  const pageOne = await sessionIds();
  await page.getByRole('button', { name: 'Next page' }).click();
  await until(async () => (await rangeText()).startsWith(`${size + 1}–`), `range from ${size + 1}`);
  const pageTwo = await sessionIds();
  check(pageTwo.every((id) => !pageOne.includes(id)), 'page two repeats rows of page one');
  await page.getByRole('button', { name: 'Previous page' }).click();
  await until(async () => (await rangeText()).startsWith('1–'), 'range from 1');
  check(show(await sessionIds()) === show(pageOne), 'page one changed on the way back');
  check(!(await twoFactor().isVisible()), 'a second 2FA prompt');
  noNewPrompt();
});

// (10) Details of one session, then a forced log-out.
await step("10 detail panel; admin logs out another user's device and the total drops by one", async () => {
  const before = Number(await total().textContent());
  const victim = rows().filter({ hasNot: page.getByTestId('this-device') }).filter({
    has: page.getByTestId('username').filter({ hasNotText: new RegExp(`^${admin.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }),
  }).first();
  const sessionId = await victim.getAttribute('data-session-id');
  const username = await victim.getByTestId('username').textContent();
  const device = await victim.getByTestId('device').textContent();
  check(username !== admin.name, 'no session of another user on the page');

  await victim.getByRole('button', { name: /^Details/ }).click();
  const panel = page.getByRole('dialog', { name: 'Device details' });
  await until(async () => (await panel.locator('[data-field="Session id"]').textContent()) === sessionId, 'the details of the session');
  check((await panel.locator('[data-field="Username"]').textContent()) === username, 'panel username');
  check((await panel.locator('[data-field="Device"]').textContent()) === device, 'panel device');
  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached' });

  await victim.getByRole('button', { name: /^Log out/ }).click();
  const confirm = page.getByRole('dialog', { name: 'Log out this device?' });
  await confirm.waitFor();
  await confirm.getByRole('button', { name: 'Log out', exact: true }).click();
  await confirm.waitFor({ state: 'detached' });
  await totalIs(before - 1, 'after the forced log-out');
  await page.locator(`[data-testid="device-row"][data-session-id="${sessionId}"]`).waitFor({ state: 'detached' });
  check(!requests.some((r) => adminPaths.has(r.path) && r.headers['x-2fa-code'] !== undefined && requests.indexOf(r) >= state.codesSent), 'a second code was sent');
});

// (10b) A token revoked elsewhere sends the page back to sign-in.
await step('10b session ended elsewhere: next call shows sign-in with "Your session has ended. Sign in again."', async () => {
  const token = loginTokens.at(-1);
  const out = await fetch(`${base}/api/v1/logout`, { method: 'POST', headers: { 'X-User-Id': loginUserIds.at(-1), 'X-Auth-Token': token } });
  check(out.status === 200, `logout from Node answered ${out.status}`);
  await page.getByRole('link', { name: 'My devices' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await until(async () => (await alert().textContent())?.includes('Your session has ended. Sign in again.'), 'the session-ended message');
  check(await page.evaluate((t) => !Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(t)), token), 'the revoked token stayed in sessionStorage');
});

await step('11 screenshots at 1280x800 and 375x740, no horizontal overflow on the phone', async () => {
  check(shotProblems.length === 0, shotProblems.join('; '));
});

await step('12 no console error or CSP violation during the run', async () => {
  check(pageErrors.length === 0, show(pageErrors));
});

await browser.close();
process.exit(failures ? 1 : 0);
