// Boot and hash routing (#/signin, #/devices, #/admin), the header, and the page-wide alert and status regions.
import * as api from './api.js';
import { el, fill } from './dom.js';
import * as signin from './signin.js';
import * as devices from './devices.js';
import * as admin from './admin.js';

const views = { '#/signin': signin, '#/devices': devices, '#/admin': admin };
const $ = (id) => document.getElementById(id);

let me = null;
let adminDenied = false;
// Messages that must survive the next render (e.g. why the user is back at sign-in).
let pending = {};

function showAlert(message) {
  fill($('alert'), message ?? '');
  $('alert').hidden = !message;
}

function showStatus(message) {
  fill($('status'), message ?? '');
}

function go(hash, messages = {}) {
  pending = messages;
  if (location.hash === hash) render();
  else location.hash = hash;
}

const context = {
  get me() {
    return me;
  },
  alert: showAlert,
  status: showStatus,
  go,
  signedIn(answer) {
    me = answer;
    adminDenied = false;
    go('#/devices');
  },
  async signOut() {
    try {
      await api.post('logout');
    } catch {
      // The token is dropped either way; a failed logout leaves nothing usable here.
    }
    api.forget();
    me = null;
    go('#/signin', { status: 'You are signed out.' });
  },
  denyAdmin() {
    adminDenied = true;
    header();
  },
};

function header() {
  const signed = api.signedIn() && me !== null;
  $('nav').hidden = !signed;
  $('who').hidden = !signed;
  fill($('who-name'), signed ? (me.name || me.username || '') : '');
  const mayAdmin = signed && !adminDenied && (me.roles ?? []).includes('admin');
  $('nav-admin').hidden = !mayAdmin;
  for (const link of $('nav').querySelectorAll('a')) {
    if (link.getAttribute('href') === location.hash) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function render() {
  const hash = location.hash;
  if (!api.signedIn() || me === null) {
    if (hash !== '#/signin') {
      location.replace('#/signin');
      return;
    }
  } else if (!views[hash] || hash === '#/signin') {
    location.replace('#/devices');
    return;
  }
  showAlert(pending.alert);
  showStatus(pending.status);
  pending = {};
  header();
  const root = $('view');
  root.replaceChildren();
  views[hash].render(root, context);
  // Move focus to the new view so keyboard and screen reader users land in it.
  (root.querySelector('[autofocus]') ?? root.querySelector('h1'))?.focus();
}

api.onSessionEnded(() => {
  // A detail panel or confirm over the page would otherwise stay open above the sign-in form.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  me = null;
  adminDenied = false;
  go('#/signin', { alert: 'Your session has ended. Sign in again.' });
});

$('sign-out').addEventListener('click', () => context.signOut());
window.addEventListener('hashchange', render);

async function boot() {
  if (api.signedIn()) {
    try {
      me = await api.get('me');
    } catch (error) {
      // A 401 has already sent the user to sign-in with its message. Any other
      // failure (server or network down) keeps the token and offers a retry:
      // signing in again would leave the stored session open and orphaned.
      if (error.status === 401) return;
      const retry = el('button', { type: 'button', onclick: () => { retry.disabled = true; boot(); } }, 'Try again');
      fill($('view'), el('p', { class: 'empty', role: 'alert' }, api.explain(error)), retry);
      retry.focus();
      return;
    }
  }
  render();
}

boot();
