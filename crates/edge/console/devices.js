// "My devices": the caller's active sessions, with log-out of one device or of all the others.
import * as api from './api.js';
import { el, fill, time, deviceName, deviceKind, osName, deviceSummary, range, confirmStep, DASH } from './dom.js';
import { pagedList } from './paged.js';

const SORTS = [
  ['Newest sign-in first', { loginAt: -1 }],
  ['Oldest sign-in first', { loginAt: 1 }],
  ['Device name (A–Z)', { 'device.name': 1 }],
  ['Device name (Z–A)', { 'device.name': -1 }],
  ['Operating system (A–Z)', { 'device.os.name': 1 }],
  ['OS version (highest first)', { 'device.os.version': -1 }],
];
const PAGE_SIZES = [10, 25, 50, 100];

export function render(root, ctx) {
  const state = { offset: 0, count: 25, sort: 0 };

  const sortSelect = el('select', { id: 'devices-sort', onchange: () => { state.sort = Number(sortSelect.value); state.offset = 0; load(); } },
    SORTS.map(([label], i) => el('option', { value: i }, label)));
  const sizeSelect = el('select', { id: 'devices-size', onchange: () => { state.count = Number(sizeSelect.value); state.offset = 0; load(); } },
    PAGE_SIZES.map((n) => el('option', { value: n, selected: n === state.count }, n)));
  const rangeText = el('p', { class: 'range', 'data-testid': 'range', 'aria-live': 'polite' });
  const prev = el('button', { type: 'button', class: 'secondary', onclick: () => page(-1) }, 'Previous page');
  const next = el('button', { type: 'button', class: 'secondary', onclick: () => page(1) }, 'Next page');
  const others = el('button', { type: 'button', class: 'danger', onclick: logoutOthers }, 'Log out all other devices');
  const list = el('div', { class: 'list', 'aria-busy': 'true' }, el('p', { class: 'loading' }, 'Loading…'));

  root.append(
    el('div', { class: 'heading' },
      el('h1', { tabindex: '-1' }, 'My devices'),
      others),
    el('p', { class: 'hint' }, 'Every place where your account is signed in right now.'),
    el('div', { class: 'toolbar' },
      el('div', { class: 'field inline' }, el('label', { for: 'devices-sort' }, 'Sort by'), sortSelect),
      el('div', { class: 'field inline' }, el('label', { for: 'devices-size' }, 'Rows per page'), sizeSelect)),
    list,
    el('nav', { class: 'pager', 'aria-label': 'Pages of devices' }, prev, rangeText, next),
  );

  const { load, page } = pagedList({
    root, list, state, show, alert: ctx.alert, failure: 'The devices could not be loaded.',
    fetchPage: () => api.get('sessions/list', {
      offset: state.offset,
      count: state.count,
      sort: JSON.stringify(SORTS[state.sort][1]),
    }),
  });

  function show({ sessions, total, offset }) {
    fill(rangeText, range(offset, sessions.length, total));
    prev.disabled = offset === 0;
    next.disabled = offset + sessions.length >= total;
    others.disabled = total <= 1;
    if (sessions.length === 0) {
      fill(list, el('p', { class: 'empty' }, 'No devices.'));
      return;
    }
    fill(list, el('table', { class: 'cards' },
      el('caption', { class: 'visually-hidden' }, 'Your signed-in devices'),
      el('thead', {}, el('tr', {},
        ['Device', 'Operating system', 'Address', 'Signed in', 'Last activity'].map((h) => el('th', { scope: 'col' }, h)),
        el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Actions')))),
      el('tbody', {}, sessions.map(row))));
  }

  function row(session) {
    const summary = deviceSummary(session.device);
    const action = session.current
      ? el('button', { type: 'button', class: 'secondary', onclick: () => ctx.signOut() }, 'Sign out')
      : el('button', { type: 'button', class: 'secondary', 'aria-label': `Log out ${summary}`, onclick: () => logout(session) }, 'Log out');
    return el('tr', { 'data-testid': 'device-row', 'data-session-id': session.sessionId, class: session.current ? 'current' : null },
      el('td', { 'data-label': 'Device' },
        el('span', { class: 'primary', 'data-testid': 'device' }, deviceName(session.device)),
        session.current ? el('span', { class: 'badge', 'data-testid': 'this-device' }, 'This device') : null,
        deviceKind(session.device)),
      el('td', { 'data-label': 'Operating system' }, osName(session.device)),
      el('td', { 'data-label': 'Address', class: 'mono' }, session.ip || DASH),
      el('td', { 'data-label': 'Signed in' }, time(session.loginAt)),
      el('td', { 'data-label': 'Last activity' }, time(session.lastActivityAt)),
      el('td', { class: 'row-actions' }, action));
  }

  async function logout(session) {
    try {
      await api.post('sessions/logout.me', { sessionId: session.sessionId });
      ctx.alert(null);
      ctx.status(`${deviceSummary(session.device)} was logged out.`);
      await load();
    } catch (error) {
      if (error.status !== 401) ctx.alert(api.explain(error));
    }
  }

  async function logoutOthers() {
    const sure = await confirmStep({
      title: 'Log out all other devices?',
      message: 'Every device except this one will be signed out and will need to sign in again.',
      confirmLabel: 'Log out others',
    });
    if (!sure || !root.isConnected) return;
    try {
      await api.post('users.removeOtherTokens', {});
      ctx.alert(null);
      ctx.status('All other devices were logged out.');
      state.offset = 0;
      await load();
    } catch (error) {
      if (error.status !== 401) ctx.alert(api.explain(error));
    }
  }

  load();
}
