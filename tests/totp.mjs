// TOTP codes for the Node test scripts (RFC 6238: SHA-1, 6 digits, 30 s steps), handed out as the server takes them.
import { createHmac } from 'node:crypto';

function base32Decode(text, name) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`${name} is not base32`);
    bits += index.toString(2).padStart(5, '0');
  }
  return Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
}

// secret: base32 (named `name` in errors); skew: steps the server accepts either side of now; frozenAt: the
// server's frozen clock in seconds, when it runs on one.
export function totpCodes({ secret, name, skew = 1, frozenAt }) {
  const key = base32Decode(secret, name);
  const serverNow = () => (frozenAt !== undefined ? frozenAt : Date.now() / 1000);

  function codeForStep(step) {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(step));
    const mac = createHmac('sha1', key).update(counter).digest();
    const offset = mac[mac.length - 1] & 0x0f;
    return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
  }

  // The server accepts a step only after the last one it accepted (no replay), so codes come in rising steps
  // within the accepted window; on a moving clock the next step is awaited, on a frozen one the window is the limit.
  let lastStep = -Infinity;
  async function next() {
    for (;;) {
      const now = Math.floor(serverNow() / 30);
      const step = Math.max(lastStep + 1, now - skew);
      if (step <= now + skew) {
        lastStep = step;
        return codeForStep(step);
      }
      if (frozenAt !== undefined) throw new Error('out of TOTP steps on a frozen clock');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  // A 6-digit code that no step of the window (and one more either side) produces.
  function wrong() {
    const now = Math.floor(serverNow() / 30);
    const valid = new Set();
    for (let step = now - skew - 1; step <= now + skew + 1; step += 1) valid.add(codeForStep(step));
    let n = 0;
    while (valid.has(String(n).padStart(6, '0'))) n += 1;
    return String(n).padStart(6, '0');
  }

  return { next, wrong };
}

// The codes of a script's admin as its test hands them over: `${prefix}_ADMIN_TOTP_SECRET`, `${prefix}_TOTP_SKEW`
// and, when the server's clock stands still, `${prefix}_CLOCK` (seconds).
export function totpCodesFromEnv(env, prefix) {
  const clock = env[`${prefix}_CLOCK`];
  return totpCodes({
    secret: env[`${prefix}_ADMIN_TOTP_SECRET`],
    name: `${prefix}_ADMIN_TOTP_SECRET`,
    skew: Number(env[`${prefix}_TOTP_SKEW`] ?? 1),
    frozenAt: clock ? Number(clock) : undefined,
  });
}
