// Same-origin client for /api/v1/: credentials in memory and sessionStorage (never cookies or URLs), errors as ApiError, the 2FA retry.

const BASE = '/api/v1/';
const STORE_KEY = 'sessionsd.console.auth';

export class ApiError extends Error {
  constructor(status, body) {
    const code = body?.errorType ?? body?.error;
    super(typeof code === 'string' ? code : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.code = code;
  }
}

let auth = readStored();
let sessionEnded = () => {};
let prompt = null;

function readStored() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null');
    return value?.userId && value?.token ? value : null;
  } catch {
    return null;
  }
}

export const signedIn = () => auth !== null;

export function remember(userId, token) {
  auth = { userId, token };
  // sessionStorage survives a reload of this tab but not the tab itself, and no
  // request carries it implicitly; where storage is off, memory alone serves.
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(auth));
  } catch {}
}

export function forget() {
  auth = null;
  try {
    sessionStorage.removeItem(STORE_KEY);
  } catch {}
}

/** Called when an authenticated call answers 401: the token is gone server-side. */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

/** {ask({method, invalid}) -> Promise<string|null>, close()}: the UI that collects a 2FA code. */
export function setTwoFactorPrompt(handler) {
  prompt = handler;
}

async function send(path, { method = 'GET', query, body, headers = {}, anonymous = false }) {
  const url = new URL(path, new URL(BASE, location.origin));
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  const all = { Accept: 'application/json', ...headers };
  if (body !== undefined) all['Content-Type'] = 'application/json';
  if (!anonymous && auth) {
    all['X-User-Id'] = auth.userId;
    all['X-Auth-Token'] = auth.token;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    return { status: 0, ok: false, body: { error: 'network' } };
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // An empty or non-JSON body: the status alone says what happened.
  }
  return { status: response.status, ok: response.ok, body: parsed };
}

const challenged = (answer) =>
  answer.status === 400 && ['totp-required', 'totp-invalid'].includes(answer.body?.errorType);

/** One request; on a 2FA challenge asks the prompt and retries the same request with the code. */
export async function call(path, options = {}) {
  // Read before sending: a code accepted while this request was in flight
  // may already have answered its challenge.
  const before = { accepted, cancelled };
  let answer = await send(path, options);
  if (challenged(answer) && prompt) {
    const resend = (headers) => send(path, { ...options, headers: { ...options.headers, ...headers } });
    answer = await solve(answer, before, resend);
  }
  if (answer.status === 401 && !options.anonymous) {
    forget();
    sessionEnded();
  }
  if (!answer.ok) throw new ApiError(answer.status, answer.body);
  return answer.body;
}

// Challenges are solved one at a time, so concurrent admin calls show one
// prompt; a call that waited retries without a code first, since the server
// remembers a session once it accepted a code.
let queue = Promise.resolve();
let accepted = 0;
let cancelled = 0;

const refusal = (error) => ({ status: 0, ok: false, body: { error } });

/** The server asks for a factor the user does not have (none enabled, no password fallback). */
const unanswerable = (answer, method) =>
  method !== 'password' && Array.isArray(answer.body?.details?.availableMethods) && answer.body.details.availableMethods.length === 0;

function solve(first, before, resend) {
  const run = queue.then(async () => {
    // A prompt cancelled while this call waited answers it too: one "no" is not asked twice.
    if (cancelled !== before.cancelled) return refusal('two-factor-cancelled');
    let answer = first;
    if (accepted !== before.accepted) {
      answer = await resend({});
      if (!challenged(answer)) return answer;
    }
    let method = answer.body?.details?.method ?? 'totp';
    try {
      for (;;) {
        if (unanswerable(answer, method)) return refusal('two-factor-unavailable');
        const code = await prompt.ask({ method, invalid: answer.body.errorType === 'totp-invalid' });
        if (code === null) {
          cancelled += 1;
          return refusal('two-factor-cancelled');
        }
        // WebCrypto exists only in secure contexts (HTTPS or localhost).
        if (method === 'password' && !globalThis.crypto?.subtle) return refusal('insecure-context');
        const sent = method === 'password' ? await sha256Hex(code) : code.trim();
        answer = await resend({ 'x-2fa-code': sent, 'x-2fa-method': method });
        if (!challenged(answer)) break;
        // Asked again although a code was sent, and no fresh code mailed: no
        // method of this user can pass, and asking again would loop.
        if (answer.body.errorType === 'totp-required' && !answer.body.details?.codeGenerated) {
          return refusal('two-factor-unavailable');
        }
        method = answer.body?.details?.method ?? method;
      }
    } finally {
      prompt.close();
    }
    // Past the 2FA step the server remembers this session, even when the
    // action itself then failed (a 404 for a device gone meanwhile).
    const refusedAgain = answer.status === 0 || answer.status === 401 || String(answer.body?.errorType ?? '').startsWith('totp-');
    if (!refusedAgain) accepted += 1;
    return answer;
  });
  queue = run.catch(() => {});
  return run;
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const get = (path, query) => call(path, { query });
export const post = (path, body = {}) => call(path, { method: 'POST', body });

/** What a person should read for a failed call. */
export function explain(error) {
  if (!(error instanceof ApiError)) return 'Something went wrong in this page. Reload it and try again.';
  const status = error?.status;
  const code = error?.code;
  const text = String(error?.body?.error ?? error?.body?.message ?? '');
  if (status === 429) {
    const wait = /You must wait (\d+) seconds/.exec(text)?.[1];
    return wait ? `Too many requests: wait ${wait} seconds.` : 'Too many requests: wait a moment and try again.';
  }
  switch (code) {
    case 'error-login-blocked-for-user':
    case 'error-login-blocked-for-ip':
      return 'Too many failed attempts. Try again later.';
    case 'totp-max-attempts':
      return 'Too many wrong codes. Try again later.';
    case 'totp-invalid':
      return 'Wrong code. Try again.';
    case 'totp-required':
      return 'A verification code is needed.';
    case 'two-factor-cancelled':
      return 'Verification was cancelled.';
    case 'two-factor-unavailable':
      return 'This needs a second factor your account does not have: set up TOTP or e-mail codes.';
    case 'insecure-context':
      return 'Checking the password needs a secure connection: open the console over HTTPS.';
    case 'error-user-is-not-activated':
      return 'This account is deactivated.';
    case 'network':
      return 'The server cannot be reached. Check your connection and try again.';
    case 'Unauthorized':
      return 'Wrong username or password.';
    default:
      break;
  }
  if (status === 401) return 'Your session has ended. Sign in again.';
  if (status === 403) return 'You do not have permission to do this.';
  if (status === 404) return 'That device is no longer signed in.';
  if (status === 503) return 'The service is unavailable right now. Try again later.';
  return `Something went wrong (HTTP ${status}). Try again.`;
}
