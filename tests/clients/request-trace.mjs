// What Rocket.Chat's client libraries send, observed below them: RestClient uses fetch and the SDK uses
// node-rest-client over http.request; both are wrapped to record each request's shape (method, path, header
// names, body shape, status), so a failing step can show exactly what a library sent without any value.
import http from 'node:http';

// The requests since the last clearTrace(), oldest first.
export const trace = [];
export const clearTrace = () => {
	trace.length = 0;
};

const SHAPE_KEPT = new Set(['algorithm']);
function shape(value, key) {
	if (Array.isArray(value)) {
		return value.map((v) => shape(v));
	}
	if (value && typeof value === 'object') {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v, k)]));
	}
	if (typeof value === 'string') {
		return SHAPE_KEPT.has(key) ? value : '<string>';
	}
	return value;
}

function bodyShape(body) {
	if (body === undefined || body === null) {
		return 'no body';
	}
	try {
		return JSON.stringify(shape(JSON.parse(String(body))));
	} catch {
		return `${String(body).length} bytes, not JSON`;
	}
}

function pathShape(url) {
	const parsed = new URL(url);
	const query = [...parsed.searchParams.keys()].map((k) => `${k}=…`).join('&');
	return parsed.pathname + (query ? `?${query}` : '');
}

const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
	const entry = {
		via: 'fetch',
		method: init.method ?? 'GET',
		path: pathShape(String(url)),
		headers: Object.keys(init.headers ?? {}).filter((name) => init.headers[name] !== undefined),
		body: bodyShape(init.body),
	};
	trace.push(entry);
	const response = await realFetch(url, init);
	entry.status = response.status;
	return response;
};

const realRequest = http.request;
http.request = function request(...args) {
	const options = typeof args[0] === 'object' && !(args[0] instanceof URL) ? args[0] : args[1] ?? {};
	const entry = {
		via: 'http.request',
		method: options.method ?? 'GET',
		path: pathShape(`http://x${options.path ?? '/'}`),
		headers: Object.keys(options.headers ?? {}),
		body: 'no body',
	};
	trace.push(entry);
	const req = realRequest.apply(this, args);
	const write = req.write;
	req.write = function (chunk, ...rest) {
		entry.body = bodyShape(chunk);
		return write.call(this, chunk, ...rest);
	};
	req.on('response', (response) => {
		entry.status = response.statusCode;
	});
	return req;
};
