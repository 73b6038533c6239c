// "Device management": every user's sessions for admins, with search, sorting, details, forced log-out and the 2FA prompt.
import * as api from './api.js';
import { el, fill, time, deviceName, deviceKind, deviceType, osName, deviceSummary, range, modal, confirmStep, DASH } from './dom.js';
import { pagedList } from './paged.js';

const COLUMNS = [
  ['Name', '_user.name'],
  ['Username', '_user.username'],
  ['Device', 'device.name'],
  ['Operating system', 'device.os.name'],
  ['OS version', 'device.os.version'],
  ['Address', null],
  ['Signed in', 'loginAt'],
];
const PAGE_SIZES = [5, 10, 25, 50, 100];
const SEARCH_DELAY_MS = 400;

export function render(root, ctx) {
  const state = { offset: 0, count: 25, key: 'loginAt', dir: -1, filter: '', timer: 0 };

  const search = el('input', { id: 'admin-search', type: 'search', name: 'filter', autocomplete: 'off', spellcheck: 'false', autofocus: true,
    'aria-describedby': 'admin-search-hint', oninput: () => {
      clearTimeout(state.timer);
      state.timer = setTimeout(() => applyFilter(), SEARCH_DELAY_MS);
    } });
  const sizeSelect = el('select', { id: 'admin-size', onchange: () => { state.count = Number(sizeSelect.value); state.offset = 0; load(); } },
    PAGE_SIZES.map((n) => el('option', { value: n, selected: n === state.count }, n)));
  const rangeText = el('p', { class: 'range', 'data-testid': 'range', 'aria-live': 'polite' });
  const prev = el('button', { type: 'button', class: 'secondary', onclick: () => page(-1) }, 'Previous page');
  const next = el('button', { type: 'button', class: 'secondary', onclick: () => page(1) }, 'Next page');
  // A focusable region, so keyboard users can scroll the wide table sideways on a phone.
  const list = el('div', { class: 'list scroll', 'aria-busy': 'true', role: 'region', 'aria-label': 'Sessions of all users', tabindex: '0' }, el('p', { class: 'loading' }, 'Loading…'));

  root.append(
    el('div', { class: 'heading' }, el('h1', { tabindex: '-1' }, 'Device management')),
    el('form', { class: 'toolbar', role: 'search', onsubmit: (event) => { event.preventDefault(); applyFilter(); } },
      el('div', { class: 'field inline grow' },
        el('label', { for: 'admin-search' }, 'Search'), search,
        el('span', { id: 'admin-search-hint', class: 'visually-hidden' }, 'Matches user names, usernames, devices and session ids')),
      el('button', { type: 'submit' }, 'Search'),
      el('div', { class: 'field inline' }, el('label', { for: 'admin-size' }, 'Rows per page'), sizeSelect)),
    list,
    el('nav', { class: 'pager', 'aria-label': 'Pages of sessions' }, prev, rangeText, next),
  );

  function applyFilter() {
    clearTimeout(state.timer);
    // A timer that outlived the view must not call list.all (and so perhaps a 2FA prompt) elsewhere.
    if (!search.isConnected) return;
    const filter = search.value.trim();
    if (filter === state.filter && started()) return;
    state.filter = filter;
    state.offset = 0;
    load();
  }

  function sortBy(key) {
    state.dir = state.key === key ? -state.dir : 1;
    state.key = key;
    state.offset = 0;
    load();
  }

  const { load, page, started } = pagedList({
    root, list, state, alert: ctx.alert, failure: 'The sessions could not be loaded.',
    fetchPage: () => api.get('sessions/list.all', {
      offset: state.offset,
      count: state.count,
      filter: state.filter,
      sort: JSON.stringify({ [state.key]: state.dir }),
    }),
    show: (answer) => { ctx.alert(null); show(answer); },
    onError: (error) => {
      if (error.status !== 403) return false;
      fill(list, el('p', { class: 'empty' }, 'You do not have permission to manage devices.'));
      ctx.alert('You do not have permission to manage devices.');
      ctx.denyAdmin();
      return true;
    },
  });

  function show({ sessions, total, offset }) {
    fill(rangeText, range(offset, sessions.length, total));
    prev.disabled = offset === 0;
    next.disabled = offset + sessions.length >= total;
    if (sessions.length === 0) {
      fill(list, el('p', { class: 'empty' }, state.filter ? 'No devices match this search.' : 'No devices.'));
      return;
    }
    fill(list, el('table', { class: 'wide' },
      el('caption', { class: 'visually-hidden' }, 'Active sessions of all users'),
      el('thead', {}, el('tr', {}, COLUMNS.map(header), el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Actions')))),
      el('tbody', {}, sessions.map(row))));
  }

  function header([label, key]) {
    if (!key) return el('th', { scope: 'col' }, label);
    const active = state.key === key;
    const sort = active ? (state.dir === 1 ? 'ascending' : 'descending') : 'none';
    return el('th', { scope: 'col', 'aria-sort': sort },
      el('button', { type: 'button', class: 'sort', onclick: () => sortBy(key) },
        label, el('span', { class: `arrow ${sort}`, 'aria-hidden': 'true' })));
  }

  function row(session) {
    const who = session._user ?? {};
    const summary = deviceSummary(session.device);
    return el('tr', { 'data-testid': 'device-row', 'data-session-id': session.sessionId, class: session.current ? 'current' : null },
      el('td', { 'data-testid': 'name' }, who.name || DASH),
      el('td', { 'data-testid': 'username' }, who.username || DASH),
      el('td', {},
        el('span', { class: 'primary', 'data-testid': 'device' }, deviceName(session.device)),
        session.current ? el('span', { class: 'badge', 'data-testid': 'this-device' }, 'This device') : null,
        deviceKind(session.device)),
      el('td', {}, session.device?.os?.name || DASH),
      el('td', {}, session.device?.os?.version || DASH),
      el('td', { class: 'mono' }, session.ip || DASH),
      el('td', {}, time(session.loginAt)),
      el('td', { class: 'row-actions' },
        el('button', { type: 'button', class: 'secondary', 'aria-label': `Details of ${summary} (${who.username ?? ''})`, onclick: () => details(session) }, 'Details'),
        el('button', { type: 'button', class: 'secondary', 'aria-label': `Log out ${summary} (${who.username ?? ''})`, onclick: () => logout(session) }, 'Log out')));
  }

  async function details(session) {
    const body = el('div', { class: 'details', 'aria-busy': 'true' }, el('p', { class: 'loading' }, 'Loading…'));
    modal({
      title: 'Device details',
      className: 'panel',
      build(dialog, close) {
        dialog.append(body, el('div', { class: 'actions' }, el('button', { type: 'button', class: 'secondary', onclick: () => close() }, 'Close')));
      },
    });
    try {
      const info = await api.get('sessions/info.admin', { sessionId: session.sessionId });
      const d = info.device ?? {};
      const pairs = [
        ['Name', info._user?.name || DASH],
        ['Username', info._user?.username || DASH],
        ['User id', info.userId],
        ['Device', deviceName(d)],
        ['Type', deviceType(d) || DASH],
        ['Full version', d.longVersion || DASH],
        ['Operating system', osName(d)],
        ['Address', info.ip || DASH],
        ['Host', info.host || DASH],
        ['Signed in', time(info.loginAt)],
        ['Session id', info.sessionId],
      ];
      fill(body, el('dl', {}, pairs.map(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': k }, v)])));
    } catch (error) {
      if (error.status === 401) return;
      fill(body, el('p', { class: 'empty', role: 'alert' }, api.explain(error)));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  async function logout(session) {
    const who = session._user ?? {};
    const sure = await confirmStep({
      title: 'Log out this device?',
      message: `${deviceSummary(session.device)} of ${who.name || who.username || 'this user'} (${who.username ?? DASH}) will be signed out at once.`,
      confirmLabel: 'Log out',
    });
    if (!sure || !root.isConnected) return;
    try {
      await api.post('sessions/logout', { sessionId: session.sessionId });
      ctx.status(`${deviceSummary(session.device)} of ${who.username ?? 'the user'} was logged out.`);
      await load();
    } catch (error) {
      if (error.status !== 401) ctx.alert(api.explain(error));
    }
  }

  load();
}

// The one 2FA prompt: api.js calls ask() again after a wrong code, so the dialog stays open and says so.
let open = null;

api.setTwoFactorPrompt({
  ask({ method, invalid }) {
    return new Promise((resolve) => {
      open ??= build(method);
      open.resolve = resolve;
      open.verify.disabled = false;
      open.message.textContent = invalid ? (method === 'password' ? 'Wrong password. Try again.' : 'Wrong code. Try again.') : '';
      open.input.value = '';
      open.input.focus();
    });
  },
  close() {
    open?.close();
    open = null;
  },
});

function build(method) {
  const password = method === 'password';
  const input = el('input', { id: 'two-factor-code', required: true, spellcheck: 'false', autocomplete: password ? 'current-password' : 'one-time-code',
    type: password ? 'password' : 'text', inputmode: password ? null : 'numeric', 'aria-describedby': 'two-factor-hint' });
  const message = el('p', { class: 'field-error', role: 'alert' });
  const verify = el('button', { type: 'submit' }, 'Verify');
  const prompt = { input, message, verify, resolve: null, close: null };
  const answer = (value) => {
    const resolve = prompt.resolve;
    prompt.resolve = null;
    resolve?.(value);
  };
  const hint = password
    ? 'Managing devices needs your password again.'
    : method === 'email'
      ? 'Managing devices needs the code we just sent to your e-mail address.'
      : 'Managing devices needs the 6-digit code from your authenticator app.';
  const shown = modal({
    title: 'Confirm it is you',
    className: 'two-factor',
    build(dialog, close) {
      dialog.append(el('form', { novalidate: true, onsubmit: (event) => {
        event.preventDefault();
        if (!input.value.trim()) {
          message.textContent = password ? 'Enter your password.' : 'Enter the code.';
          input.focus();
          return;
        }
        verify.disabled = true;
        answer(input.value);
      } },
        el('p', { id: 'two-factor-hint', class: 'hint' }, hint),
        el('div', { class: 'field' }, el('label', { for: 'two-factor-code' }, password ? 'Password' : 'Verification code'), input),
        message,
        el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'secondary', onclick: () => close() }, 'Cancel'),
          verify)));
    },
    focus: () => input,
  });
  // Escape or Cancel: the waiting request gives up instead of hanging.
  shown.result.then(() => {
    if (open === prompt) open = null;
    answer(null);
  });
  prompt.close = shown.close;
  return prompt;
}
