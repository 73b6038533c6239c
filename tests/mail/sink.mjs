// An SMTP sink for the black-box tests: a real SMTP server (npm smtp-server) on
// 127.0.0.1 that accepts every message and prints each DATA it received as one
// JSON line on stdout, parsed by mailparser, so a test can assert what a mailer
// actually put on the wire.
//
//   node sink.mjs [--port N | N] [--fail-first N] [--reject-all] [--delay-ms N] [--starttls]
//
// The same options can come from the environment (SINK_PORT, SINK_FAIL_FIRST,
// SINK_REJECT_ALL=1, SINK_DELAY_MS, SINK_STARTTLS=1); argv wins.
//
// stdout protocol: the first line is `LISTENING <port>`; every later line is one
// JSON object per DATA command, including the ones answered with an error (their
// `accepted` is false), because retry tests need to count the attempts a mailer
// made. Nothing else is written to stdout; diagnostics go to stderr.
//
// The process exits 0 on SIGTERM, SIGINT or when its stdin closes, so a test
// harness that dies without killing it cannot leave it running.

import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

function parseOptions(argv, env) {
    const options = {
        port: Number(env.SINK_PORT ?? 0),
        failFirst: Number(env.SINK_FAIL_FIRST ?? 0),
        rejectAll: env.SINK_REJECT_ALL === '1',
        delayMs: Number(env.SINK_DELAY_MS ?? 0),
        starttls: env.SINK_STARTTLS === '1'
    };
    const number = (flag, value) => {
        const n = Number(value);
        if (value === undefined || !Number.isInteger(n) || n < 0) {
            fail(`${flag} needs a non-negative integer, got ${value}`);
        }
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        switch (arg) {
            case '--port':
                options.port = number(arg, argv[++i]);
                break;
            case '--fail-first':
                options.failFirst = number(arg, argv[++i]);
                break;
            case '--reject-all':
                options.rejectAll = true;
                break;
            case '--delay-ms':
                options.delayMs = number(arg, argv[++i]);
                break;
            case '--starttls':
                options.starttls = true;
                break;
            default:
                if (/^\d+$/.test(arg)) {
                    options.port = Number(arg);
                } else {
                    fail(`unknown argument ${arg}`);
                }
        }
    }
    return options;
}

function fail(message) {
    process.stderr.write(`smtp sink: ${message}\n`);
    process.exit(2);
}

const options = parseOptions(process.argv.slice(2), process.env);

// Counts DATA commands across connections: --fail-first is about the first N
// messages the sink sees, whichever connection (or retry) carries them.
let dataCount = 0;
// Sessions whose client hung up; a reply delayed by --delay-ms can then never
// reach the client, which is what "a worker killed mid-send" looks like here.
const closedSessions = new Set();

function address(entry) {
    return entry?.address ? { name: entry.name || '', address: entry.address } : null;
}

function addresses(header) {
    // mailparser gives one object per header, or an array for a repeated one;
    // groups are flattened because tests assert mailboxes, not group names.
    const objects = [].concat(header ?? []);
    const out = [];
    const walk = list => {
        for (const entry of list) {
            if (entry.group) walk(entry.group);
            else if (entry.address) out.push(address(entry));
        }
    };
    for (const object of objects) walk(object.value ?? []);
    return out;
}

function headers(headerLines) {
    // The unfolded raw value of each top-level header, keyed by lowercased name;
    // a repeated header (Received, say) becomes an array in order. Raw values, not
    // mailparser's decoded ones, so a header-injection test sees what was sent.
    const out = {};
    for (const { key, line } of headerLines) {
        const colon = line.indexOf(':');
        const value = line
            .slice(colon + 1)
            .replace(/\r?\n(?=[ \t])/g, '')
            .trim();
        if (key in out) {
            out[key] = [].concat(out[key], value);
        } else {
            out[key] = value;
        }
    }
    return out;
}

function emit(record) {
    process.stdout.write(JSON.stringify(record) + '\n');
}

const server = new SMTPServer({
    // The built-in self-signed certificate is only offered when asked for: a
    // mailer that tries STARTTLS opportunistically must not hit it by surprise.
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    // No authentication required, but a mailer configured with credentials may
    // AUTH PLAIN/LOGIN over plain TCP; the username is recorded.
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    // No logging to stdout (it carries the protocol) and no certificate warning.
    logger: false,
    banner: 'sessions test SMTP sink',
    closeTimeout: 1000,
    onAuth(auth, session, callback) {
        callback(null, { user: { username: auth.username, method: auth.method } });
    },
    onClose(session) {
        closedSessions.add(session.id);
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', chunk => chunks.push(chunk));
        stream.on('error', error => callback(error));
        stream.on('end', async () => {
            dataCount += 1;
            const raw = Buffer.concat(chunks);
            let reply;
            if (options.rejectAll) {
                reply = { code: 554, message: 'Transaction failed: the sink rejects all mail' };
            } else if (dataCount <= options.failFirst) {
                reply = { code: 451, message: `Temporary failure ${dataCount} of ${options.failFirst}, try again later` };
            } else {
                reply = { code: 250, message: 'OK: queued by the sink' };
            }
            if (options.delayMs > 0) {
                await new Promise(resolve => setTimeout(resolve, options.delayMs));
            }
            let parsed;
            try {
                parsed = await simpleParser(raw);
            } catch (error) {
                process.stderr.write(`smtp sink: cannot parse message: ${error}\n`);
                parsed = { headerLines: [] };
            }
            emit({
                accepted: reply.code === 250,
                reply,
                disconnectedBeforeReply: closedSessions.has(session.id),
                envelope: {
                    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
                    to: session.envelope.rcptTo.map(rcpt => rcpt.address)
                },
                auth: session.user ?? null,
                tls: Boolean(session.secure),
                messageId: parsed.messageId ?? null,
                from: addresses(parsed.from)[0] ?? null,
                to: addresses(parsed.to),
                cc: addresses(parsed.cc),
                subject: parsed.subject ?? null,
                date: parsed.date instanceof Date && !isNaN(parsed.date) ? parsed.date.toISOString() : null,
                text: parsed.text ?? null,
                html: parsed.html || null,
                headers: headers(parsed.headerLines ?? []),
                raw: raw.toString('utf8')
            });
            if (reply.code === 250) {
                callback(null, reply.message);
            } else {
                const error = new Error(reply.message);
                error.responseCode = reply.code;
                callback(error);
            }
        });
    }
});

server.on('error', error => process.stderr.write(`smtp sink: ${error.message}\n`));

// A listen error (the port still taken, say) is fatal: the harness waits for the
// LISTENING line and reports stderr if it never comes.
server.server.once('error', error => fail(`cannot listen on 127.0.0.1:${options.port}: ${error.message}`));
server.listen(options.port, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.server.address().port}\n`);
});

let stopping = false;
function stop() {
    if (stopping) return;
    stopping = true;
    // Stop accepting, give open sessions a moment, then exit whatever they do:
    // a harness that asked us to stop must not wait on a stuck client.
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1500).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
