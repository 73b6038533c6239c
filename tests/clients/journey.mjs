// A whole session journey driven by Rocket.Chat's own client libraries:
// @rocket.chat/api-client's RestClient (with rest-typings' and core-typings'
// schemas to check answers) and @rocket.chat/sdk's REST helper. The point is
// that these libraries, unchanged, work against sessionsd; so requests go
// through their calls, and hand-written requests appear only where a library
// has no call (a login with the code in a header).
//
// Usage: node journey.mjs [BASE_URL]
//   JOURNEY_URL                  base URL (or the first argument), e.g. http://127.0.0.1:3000
//   JOURNEY_USER, JOURNEY_PASSWORD, JOURNEY_EMAIL       a user with a password and an e-mail
//   JOURNEY_ADMIN, JOURNEY_ADMIN_PASSWORD               an admin with TOTP enrolled
//   JOURNEY_ADMIN_TOTP_SECRET    the admin's TOTP secret, base32
//   JOURNEY_ADMIN_BACKUP_CODE    one of the admin's backup codes
//   JOURNEY_CLOCK                the server's clock, Unix seconds (default: this machine's);
//                                a test server runs on a clock that does not move
//   JOURNEY_TOTP_SKEW            steps the server accepts either side (default 1)
//
// Prints one line per step, PASS or FAIL; a failed step also prints the
// requests it sent (method, path, header names, body shape, status). Tokens,
// passwords and codes are never printed. Exits 1 when any step fails.

import { createHash } from 'node:crypto';
import { createRequire, register } from 'node:module';

import { totpCodesFromEnv } from '../totp.mjs';
import { clearTrace, trace } from './request-trace.mjs';

register('./esm-hooks.mjs', import.meta.url);

const require = createRequire(import.meta.url);
const { RestClient } = require('@rocket.chat/api-client');
const { schemas } = require('@rocket.chat/core-typings');
const restTypings = await import('@rocket.chat/rest-typings');

const env = process.env;
const baseUrl = (process.argv[2] ?? env.JOURNEY_URL ?? '').replace(/\/+$/, '');
const user = { username: env.JOURNEY_USER, password: env.JOURNEY_PASSWORD, email: env.JOURNEY_EMAIL };
const admin = {
	username: env.JOURNEY_ADMIN,
	password: env.JOURNEY_ADMIN_PASSWORD,
	secret: env.JOURNEY_ADMIN_TOTP_SECRET,
	backupCode: env.JOURNEY_ADMIN_BACKUP_CODE,
};
const missing = Object.entries({
	JOURNEY_URL: baseUrl,
	JOURNEY_USER: user.username,
	JOURNEY_PASSWORD: user.password,
	JOURNEY_EMAIL: user.email,
	JOURNEY_ADMIN: admin.username,
	JOURNEY_ADMIN_PASSWORD: admin.password,
	JOURNEY_ADMIN_TOTP_SECRET: admin.secret,
	JOURNEY_ADMIN_BACKUP_CODE: admin.backupCode,
})
	.filter(([, value]) => !value)
	.map(([name]) => name);
if (missing.length) {
	console.error(`journey: set ${missing.join(', ')}`);
	process.exit(2);
}

// Everything printed passes through scrub(): a secret that reached a message
// (an answer echoing a token, say) is replaced, never shown.
const secrets = new Set([user.password, admin.password, admin.secret, admin.backupCode]);
const secret = (value) => {
	if (typeof value === 'string' && value.length >= 4) {
		secrets.add(value);
	}
	return value;
};
const scrub = (text) => {
	let out = String(text);
	for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
		out = out.split(s).join('<secret>');
	}
	return out;
};
const say = (line) => console.log(scrub(line));

// --- checks -----------------------------------------------------------------

class NotRun extends Error {}

const needs = (value, what) => {
	if (value === undefined || value === null) {
		throw new NotRun(`not run: needs ${what}`);
	}
	return value;
};

function check(condition, message) {
	if (!condition) {
		throw new Error(message);
	}
}

const show = (value) => JSON.stringify(value);

function equal(actual, expected, what) {
	check(show(actual) === show(expected), `${what}: expected ${show(expected)}, got ${show(actual)}`);
}

// Rocket.Chat's body for a missing, revoked or expired token (spec section 4).
const LOGGED_OUT = {
	success: false,
	error: 'You must be logged in to do this.',
	status: 'error',
	message: 'You must be logged in to do this.',
};

const TOTP_REQUIRED_400 = {
	success: false,
	error: 'TOTP Required [totp-required]',
	errorType: 'totp-required',
	details: { method: 'totp', codeGenerated: false, availableMethods: ['totp'] },
};

// Rocket.Chat's own registration of core-typings' schemas on rest-typings'
// ajv (apps/meteor/app/api/server/ajv.ts), so its `me` schemas resolve.
const { ajv } = restTypings;
for (const [name, schema] of Object.entries(schemas.components?.schemas ?? {})) {
	ajv.addSchema(schema, `#/components/schemas/${name}`);
}
const isMeApiUser = ajv.getSchema('#/components/schemas/IMeApiUser');
const isMeSuccessResponse = ajv.compile(restTypings.meSuccessResponseSchema);

function validates(validate, value, what) {
	// rest-typings' ajv coerces types in place; the answer itself stays as sent.
	if (!validate(structuredClone(value))) {
		const problems = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
		throw new Error(`${what} does not match Rocket.Chat's schema: ${problems}`);
	}
}

// --- talking to the server --------------------------------------------------

const anonymous = new RestClient({ baseUrl });

function clientOf(login) {
	return new RestClient({
		baseUrl,
		credentials: { 'X-User-Id': login.userId, 'X-Auth-Token': login.token },
	});
}

/** Status and JSON body of a RestClient call: it resolves on 2xx and rejects
 *  with the Response otherwise. */
async function answer(call) {
	try {
		const body = await call;
		// The last request sent is the one that answered (after any 2FA retry).
		return { status: trace.at(-1)?.status, body };
	} catch (error) {
		if (error instanceof Response) {
			const text = await error.text();
			let body;
			try {
				body = JSON.parse(text);
			} catch {
				body = text;
			}
			return { status: error.status, body };
		}
		throw error;
	}
}

function expectStatus(result, status, what) {
	check(result.status === status, `${what}: expected ${status}, got ${result.status} ${show(result.body)}`);
	return result.body;
}

const tokenHash = (token) => createHash('sha256').update(token).digest('base64');
const passwordDigest = (password) => createHash('sha256').update(password).digest('hex');

/** The answer of a successful login, as clients read it: RestClient callers
 *  and the SDK take data.userId and data.authToken. */
function loggedIn(result, who, what) {
	const body = expectStatus(result, 200, what);
	equal(body.status, 'success', `${what}: status`);
	check(typeof body.data?.userId === 'string' && body.data.userId.length > 0, `${what}: data.userId missing`);
	check(typeof body.data?.authToken === 'string' && body.data.authToken.length > 0, `${what}: data.authToken missing`);
	equal(body.data?.me?.username, who.username, `${what}: data.me.username`);
	equal(body.data?.me?._id, body.data.userId, `${what}: data.me._id`);
	return { userId: body.data.userId, token: secret(body.data.authToken), body };
}

const login = async (body, who, what, options) =>
	loggedIn(await answer(anonymous.post('/v1/login', body, options)), who, what);

const basicLogin = (who) => login({ user: who.username, password: who.password }, who, 'login {user, password}');

/** A token works: the caller's session list answers 200. */
async function expectWorks(session, what) {
	const result = await answer(clientOf(session).get('/v1/sessions/list'));
	expectStatus(result, 200, `${what}: sessions/list with its token`);
}

/** A token is revoked: 401 with Rocket.Chat's body. */
async function expectRevoked(session, what) {
	const result = await answer(clientOf(session).get('/v1/sessions/list'));
	equal(result.status, 401, `${what}: sessions/list with the logged-out token, status`);
	equal(result.body, LOGGED_OUT, `${what}: sessions/list with the logged-out token, body`);
}

/** The session id of a token, found as a client can: list the caller's
 *  sessions and match `loginToken` (the token's hash) in their info. */
async function sessionIdOf(session) {
	const client = clientOf(session);
	const list = expectStatus(await answer(client.get('/v1/sessions/list', { count: 100 })), 200, 'sessions/list');
	for (const item of list.sessions ?? []) {
		const info = await answer(client.get('/v1/sessions/info', { sessionId: item.sessionId }));
		if (info.status === 200 && info.body.loginToken === tokenHash(session.token)) {
			return info.body.sessionId;
		}
	}
	throw new Error("the token's session is not in its own sessions/list");
}

// --- TOTP ------------------------------------------------------------------------

const totp = totpCodesFromEnv(env, 'JOURNEY');
const nextTotpCode = async () => secret(await totp.next());
const wrongTotpCode = () => totp.wrong();

// --- the journey --------------------------------------------------------------

let failures = 0;
let passes = 0;

async function step(name, run) {
	clearTrace();
	try {
		await run();
		passes += 1;
		say(`PASS ${name}`);
	} catch (error) {
		failures += 1;
		const reason = error instanceof Error ? error.message : show(error);
		say(`FAIL ${name}: ${reason}`);
		if (!(error instanceof NotRun)) {
			for (const t of trace) {
				say(
					`       ${t.via}: ${t.method} ${t.path} headers [${t.headers.join(', ')}] body ${t.body} -> ${t.status ?? 'no answer'}`,
				);
			}
		}
	}
}

const state = {};

say(`journey against ${baseUrl}`);

// Login in every form Rocket.Chat's REST login takes (spec section 9).
await step('login {user: username, password}', async () => {
	state.main = await basicLogin(user);
	state.mainAnswer = state.main.body;
	await expectWorks(state.main, 'the new token');
});

await step('login answer carries success:true', async () => {
	const body = needs(state.mainAnswer, 'login {user, password}');
	equal(body.success, true, 'success');
});

await step("login answer's me is IMeApiUser (core-typings schema)", async () => {
	const me = needs(state.mainAnswer, 'login {user, password}').data.me;
	validates(isMeApiUser, me, 'data.me');
	equal(me.emails?.[0]?.address, user.email, 'data.me.emails[0].address');
	equal(me.services?.password, { exists: true }, 'data.me.services.password');
	equal(me.active, true, 'data.me.active');
});

await step('login wrong password -> 401 Unauthorized', async () => {
	const result = await answer(anonymous.post('/v1/login', { user: user.username, password: `${user.password}-wrong` }));
	equal(result.status, 401, 'status');
	equal(result.body, { success: false, error: 'Unauthorized', status: 'error', message: 'Unauthorized' }, 'body');
});

const forms = [
	['login {user: {username}, password}', () => ({ user: { username: user.username }, password: user.password })],
	['login {user: {email}, password}', () => ({ user: { email: user.email }, password: user.password })],
	['login {user: "e-mail address", password}', () => ({ user: user.email, password: user.password })],
	['login {email, password}', () => ({ email: user.email, password: user.password })],
	[
		'login {user, password: {digest, algorithm: "sha-256"}}',
		() => ({ user: user.username, password: { digest: passwordDigest(user.password), algorithm: 'sha-256' } }),
	],
];
state.formSessions = [];
for (const [name, body] of forms) {
	await step(name, async () => {
		const session = await login(body(), user, name);
		equal(session.userId, needs(state.main, 'login {user, password}').userId, 'data.userId');
		state.formSessions.push([name, session]);
		await expectWorks(session, 'the new token');
	});
}

await step('login {username, password} (@rocket.chat/sdk api.login)', async () => {
	// The SDK reads ROCKETCHAT_URL once, when it is loaded; its default
	// logger prints every request body, passwords included, so it is silenced.
	env.ROCKETCHAT_URL = baseUrl;
	require('@rocket.chat/sdk/dist/lib/log').silence();
	const sdk = require('@rocket.chat/sdk/dist/lib/api');
	state.sdk = sdk;
	const quiet = console.error;
	console.error = () => {};
	let result;
	try {
		result = await sdk.login({ username: user.username, password: user.password });
	} finally {
		console.error = quiet;
	}
	check(result?.data?.authToken, 'the SDK did not log in');
	state.sdkSession = { userId: result.data.userId, token: secret(result.data.authToken) };
	equal(state.sdkSession.userId, needs(state.main, 'login {user, password}').userId, 'data.userId');
	equal(trace[0]?.body, '{"username":"<string>","password":"<string>"}', 'the body the SDK sent');
	await expectWorks(state.sdkSession, 'the new token');
});

await step('login {resume: token} answers the same session', async () => {
	const main = needs(state.main, 'login {user, password}');
	const resumed = await login({ resume: main.token }, user, 'login {resume}');
	equal(resumed.userId, main.userId, 'data.userId');
	check(resumed.token === main.token, 'data.authToken is not the resumed token');
});

// The signed-in user.
await step('GET me (IMeApiUser + success, rest-typings schema)', async () => {
	const main = needs(state.main, 'login {user, password}');
	const body = expectStatus(await answer(clientOf(main).get('/v1/me')), 200, 'me');
	validates(isMeSuccessResponse, body, 'me');
	equal(body._id, main.userId, '_id');
	equal(body.username, user.username, 'username');
	equal(body.success, true, 'success');
	equal(body.emails?.[0]?.address, user.email, 'emails[0].address');
});

await step('sessions/list', async () => {
	const main = needs(state.main, 'login {user, password}');
	const params = { offset: 0, count: 25, sort: JSON.stringify({ loginAt: -1 }) };
	const body = expectStatus(await answer(clientOf(main).get('/v1/sessions/list', params)), 200, 'sessions/list');
	check(Array.isArray(body.sessions), 'sessions is not an array');
	equal(body.success, true, 'success');
	equal(body.offset, 0, 'offset');
	equal(body.count, 25, 'count');
	equal(body.total, body.sessions.length, 'total (one page holds them all)');
	check(body.total >= 2, `total ${body.total}: the sessions logged in above are missing`);
	for (const item of body.sessions) {
		equal(item._id, item.sessionId, '_id');
		check(/^[23456789A-HJ-NP-TW-Za-km-z]{17}$/.test(item.sessionId), `sessionId ${item.sessionId}`);
		equal(item.userId, main.userId, 'userId');
		check(item.device && typeof item.device === 'object', 'device missing');
		check(typeof item.loginAt === 'string', 'loginAt missing');
		check('ip' in item && 'host' in item, 'ip or host missing');
	}
	const times = body.sessions.map((s) => s.loginAt);
	equal(times, [...times].sort().reverse(), 'loginAt order (sort {"loginAt":-1})');
});

await step('sessions/info (own session, found by its loginToken hash)', async () => {
	const main = needs(state.main, 'login {user, password}');
	state.mainSessionId = await sessionIdOf(main);
	const info = expectStatus(
		await answer(clientOf(main).get('/v1/sessions/info', { sessionId: state.mainSessionId })),
		200,
		'sessions/info',
	);
	check(/^[0-9a-f]{24}$/.test(info._id), '_id is not 24 hex characters');
	equal(info.type, 'session', 'type');
	equal(info.userId, main.userId, 'userId');
	equal(info.loginToken, tokenHash(main.token), 'loginToken');
	equal(info.success, true, 'success');
	for (const field of ['instanceId', 'ip', 'host', 'device', 'loginAt', 'createdAt', '_updatedAt', 'mostImportantRole']) {
		check(field in info, `${field} missing`);
	}
	check(!('logoutAt' in info), 'an active session has logoutAt');
});

// The admin: a TOTP user, so login needs a code, and admin endpoints ask for
// their own second factor (spec section 5).
await step('admin login without code -> 401 totp-required', async () => {
	const result = await answer(anonymous.post('/v1/login', { user: admin.username, password: admin.password }));
	equal(result.status, 401, 'status');
	const body = result.body;
	equal(
		{ success: body.success, status: body.status, error: body.error, message: body.message, method: body.details?.method },
		{ success: false, status: 'error', error: 'totp-required', message: 'TOTP Required', method: 'totp' },
		'success, status, error, message, details.method',
	);
});

await step('admin login {user, password, code}', async () => {
	const code = await nextTotpCode();
	state.admin = await login({ user: admin.username, password: admin.password, code }, admin, 'admin login with code');
});

await step('admin login with the code in x-2fa-code', async () => {
	const code = await nextTotpCode();
	state.admin2 = await login({ user: admin.username, password: admin.password }, admin, 'admin login, header code', {
		headers: { 'x-2fa-code': code },
	});
});

await step('sessions/info.admin without code -> 400 totp-required', async () => {
	const client = clientOf(needs(state.admin, 'admin login'));
	const sessionId = needs(state.mainSessionId, 'sessions/info');
	const result = await answer(client.get('/v1/sessions/info.admin', { sessionId }));
	equal(result.status, 400, 'status');
	equal(result.body, TOTP_REQUIRED_400, 'body');
});

await step("sessions/list.all through RestClient's 2FA handler (invalid code, then the right one)", async () => {
	const client = clientOf(needs(state.admin, 'admin login'));
	const asked = [];
	client.handleTwoFactorChallenge(async ({ method, invalidAttempt }) => {
		asked.push({ method, invalidAttempt });
		return asked.length === 1 ? wrongTotpCode() : nextTotpCode();
	});
	const body = expectStatus(await answer(client.get('/v1/sessions/list.all', { count: 100 })), 200, 'list.all');
	equal(asked, [
		{ method: 'totp', invalidAttempt: false },
		{ method: 'totp', invalidAttempt: true },
	], 'the challenges the handler saw');
	equal(body.success, true, 'success');
	const mine = body.sessions.filter((s) => s.userId === state.main?.userId);
	check(mine.length >= 1, "the user's sessions are not listed");
	equal(mine[0]._user, { name: mine[0]._user?.name, username: user.username }, '_user');
	check(typeof mine[0]._user?.name === 'string', '_user.name missing');
	const headers = trace.map((t) => t.headers.filter((h) => h.startsWith('x-2fa')).join('+'));
	equal(headers, ['', 'x-2fa-code+x-2fa-method', 'x-2fa-code+x-2fa-method'], 'second-factor headers per request');
});

await step('sessions/info.admin (2FA remembered for the session)', async () => {
	const client = clientOf(needs(state.admin, 'admin login'));
	const sessionId = needs(state.mainSessionId, 'sessions/info');
	const body = expectStatus(await answer(client.get('/v1/sessions/info.admin', { sessionId })), 200, 'info.admin');
	equal(
		Object.keys(body).sort(),
		['_id', '_user', 'device', 'host', 'ip', 'loginAt', 'sessionId', 'success', 'userId'],
		'fields',
	);
	equal(body._id, sessionId, '_id');
	equal(body.sessionId, sessionId, 'sessionId');
	equal(body.userId, state.main.userId, 'userId');
	equal(body._user?.username, user.username, '_user.username');
});

await step('sessions/info.admin on another admin session: explicit retry with a backup code in x-2fa-code', async () => {
	const client = clientOf(needs(state.admin2, 'admin login with the code in x-2fa-code'));
	const sessionId = needs(state.mainSessionId, 'sessions/info');
	const first = await answer(client.get('/v1/sessions/info.admin', { sessionId }));
	equal(first.status, 400, 'without code, status');
	equal(first.body, TOTP_REQUIRED_400, 'without code, body');
	const again = await answer(
		client.get('/v1/sessions/info.admin', { sessionId }, { headers: { 'x-2fa-code': admin.backupCode, 'x-2fa-method': 'totp' } }),
	);
	expectStatus(again, 200, 'with the backup code');
});

// Every kind of logout, each followed by the revoked token's 401.
await step('admin sessions/logout of a user session', async () => {
	const client = clientOf(needs(state.admin, 'admin login'));
	const victim = await basicLogin(user);
	const sessionId = await sessionIdOf(victim);
	const body = expectStatus(await answer(client.post('/v1/sessions/logout', { sessionId })), 200, 'sessions/logout');
	equal(body, { sessionId, success: true }, 'body');
	await expectRevoked(victim, 'admin logout');
	const info = expectStatus(await answer(clientOf(needs(state.main, 'login')).get('/v1/sessions/info', { sessionId })), 200, 'info');
	equal(info.logoutBy, state.admin.userId, 'logoutBy');
	check(typeof info.logoutAt === 'string', 'logoutAt missing');
});

await step('sessions/logout.me of another own session', async () => {
	const main = needs(state.main, 'login {user, password}');
	const victim = await basicLogin(user);
	const sessionId = await sessionIdOf(victim);
	const body = expectStatus(await answer(clientOf(main).post('/v1/sessions/logout.me', { sessionId })), 200, 'logout.me');
	equal(body, { sessionId, success: true }, 'body');
	await expectRevoked(victim, 'logout.me');
	await expectWorks(main, 'the calling session');
});

await step('logout (POST, RestClient)', async () => {
	const victim = await basicLogin(user);
	const body = expectStatus(await answer(clientOf(victim).post('/v1/logout')), 200, 'logout');
	equal(body, { status: 'success', data: { message: "You've been logged out!" } }, 'body');
	await expectRevoked(victim, 'POST logout');
});

await step('logout (GET, @rocket.chat/sdk api.logout)', async () => {
	const sdk = needs(state.sdk, 'the SDK login');
	const session = needs(state.sdkSession, 'the SDK login');
	// The SDK swallows a failed logout and forgets its token anyway, so what the
	// server did is read from the request it answered and from the token itself.
	await sdk.logout();
	const sent = trace.find((t) => t.via === 'http.request');
	check(sent, 'the SDK sent no request');
	equal(`${sent.method} ${sent.path} -> ${sent.status}`, 'GET /api/v1/logout -> 200', 'the SDK request');
	await expectRevoked(session, 'GET logout');
});

await step('users.removeOtherTokens', async () => {
	const main = needs(state.main, 'login {user, password}');
	const others = [await basicLogin(user), ...state.formSessions.map(([, s]) => s)];
	const body = expectStatus(await answer(clientOf(main).post('/v1/users.removeOtherTokens')), 200, 'removeOtherTokens');
	equal(body.success, true, 'success');
	for (const other of others) {
		await expectRevoked(other, 'removeOtherTokens');
	}
	await expectWorks(main, 'the calling session');
});

await step('users.logout (own sessions)', async () => {
	const main = needs(state.main, 'login {user, password}');
	const other = await basicLogin(user);
	const body = expectStatus(await answer(clientOf(main).post('/v1/users.logout', {})), 200, 'users.logout');
	equal(body, { message: `User ${main.userId} has been logged out!`, success: true }, 'body');
	await expectRevoked(main, 'users.logout');
	await expectRevoked(other, 'users.logout');
});

await step("users.logout {userId} by an admin (another user's sessions)", async () => {
	const client = clientOf(needs(state.admin, 'admin login'));
	const victim = await basicLogin(user);
	const body = expectStatus(await answer(client.post('/v1/users.logout', { userId: victim.userId })), 200, 'users.logout');
	equal(body, { message: `User ${victim.userId} has been logged out!`, success: true }, 'body');
	await expectRevoked(victim, 'users.logout by admin');
	await expectWorks(state.admin, "the admin's own session");
});

await step('admin logout (POST)', async () => {
	const session = needs(state.admin, 'admin login');
	const body = expectStatus(await answer(clientOf(session).post('/v1/logout')), 200, 'logout');
	equal(body.data?.message, "You've been logged out!", 'data.message');
	await expectRevoked(session, 'admin logout');
});

say(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
