// DOM building and display formatting; server values only ever become text nodes, never markup.

/**
 * el('button', {class: 'x', type: 'button', onclick: fn}, 'text', childNode, [more])
 * Attribute values go through setAttribute and children through text nodes,
 * so nothing from the server can turn into elements.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'style' || name.startsWith('on') && typeof value !== 'function') {
      // The CSP forbids inline styles and handlers; failing loudly beats a silent violation.
      throw new Error(`el: attribute ${name} is not allowed`);
    }
    if (typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(document.createTextNode(String(child)));
  }
}

/** Replace a node's children (text-safe counterpart of assigning markup). */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const DASH = '—';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A <time> in the reader's locale whose attributes keep the exact ISO value. */
export function time(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return el('time', { datetime: iso, title: iso }, dateFormat.format(date));
}

const TYPES = {
  browser: 'Browser',
  'mobile-app': 'Mobile app',
  'desktop-app': 'Desktop app',
  mobile: 'Phone',
  tablet: 'Tablet',
  smarttv: 'Smart TV',
  console: 'Game console',
  wearable: 'Wearable',
  embedded: 'Embedded device',
};

export function deviceName(device) {
  const name = [device?.name, device?.version].filter(Boolean).join(' ');
  return name || 'Unknown device';
}

/** The kind of device, or '' when the User-Agent did not say (Rocket.Chat leaves it empty). */
export function deviceType(device) {
  const type = device?.type;
  return TYPES[type] ?? (type || '');
}

/** The device kind as a line under its name; nothing when unknown. */
export function deviceKind(device) {
  const type = deviceType(device);
  return type ? el('span', { class: 'secondary-text' }, type) : null;
}

export function osName(device) {
  return [device?.os?.name, device?.os?.version].filter(Boolean).join(' ') || DASH;
}

/** "Chrome 113.0.0 on Windows 10", for button labels and confirmations. */
export function deviceSummary(device) {
  const os = osName(device);
  return os === DASH ? deviceName(device) : `${deviceName(device)} on ${os}`;
}

/** "1–25 of 120", with the total in its own element for tests and screen readers alike. */
export function range(offset, shown, total) {
  const first = total === 0 ? 0 : offset + 1;
  return [`${first}–${offset + shown} of `, el('span', { 'data-testid': 'total' }, total)];
}

let modalCount = 0;

/**
 * An in-page modal built on <dialog>: showModal traps focus and Escape fires
 * 'cancel', which closes it. Resolves with the value passed to close().
 */
export function modal({ title, className, build, focus }) {
  const heading = el('h2', { id: `dialog-title-${++modalCount}` }, title);
  const dialog = el('dialog', { class: ['dialog', className], 'aria-labelledby': heading.id }, heading);
  const opener = document.activeElement;
  let settle;
  const result = new Promise((resolve) => (settle = resolve));
  const close = (value = null) => {
    if (!dialog.isConnected) return;
    dialog.close();
    dialog.remove();
    // Focus goes back where it was, so keyboard users keep their place.
    if (opener?.isConnected) opener.focus();
    settle(value);
  };
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close(null);
  });
  build(dialog, close);
  document.body.append(dialog);
  dialog.showModal();
  (focus?.() ?? dialog.querySelector('input, button'))?.focus();
  return { dialog, close, result };
}

/** A yes/no question inside the page (window.confirm would block and is unstyled). */
export function confirmStep({ title, message, confirmLabel }) {
  let confirmButton;
  const { result } = modal({
    title,
    className: 'confirm',
    build(dialog, close) {
      confirmButton = el('button', { type: 'button', class: 'danger', onclick: () => close(true) }, confirmLabel);
      dialog.append(
        el('p', {}, message),
        el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'secondary', onclick: () => close(false) }, 'Cancel'),
          confirmButton),
      );
    },
    focus: () => confirmButton,
  });
  return result.then(Boolean);
}
