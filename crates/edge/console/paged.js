// One paged listing of sessions, shared by "My devices" and "Device management": loads a page, steps back from a
// page emptied by log-outs, drops answers a newer load or leaving the view made stale, and offers "Try again".
import * as api from './api.js';
import { el, fill } from './dom.js';

// state: { offset, count }, read and moved by paging; fetchPage(): the listing call's answer; show(answer);
// onError(error): true when it dealt with the error itself; failure: the sentence shown when loading failed.
export function pagedList({ root, list, state, fetchPage, show, onError = () => false, failure, alert }) {
  let seq = 0;

  async function load() {
    const mine = ++seq;
    list.setAttribute('aria-busy', 'true');
    try {
      const answer = await fetchPage();
      if (mine !== seq || !root.isConnected) return;
      // A page emptied by log-outs steps back to the last page instead of showing nothing.
      if (answer.sessions.length === 0 && answer.total > 0 && state.offset > 0) {
        state.offset = Math.max(0, Math.floor((answer.total - 1) / state.count) * state.count);
        load();
        return;
      }
      show(answer);
    } catch (error) {
      // 401: the session ended and app.js shows sign-in.
      if (mine !== seq || !root.isConnected || error.status === 401 || onError(error)) return;
      fill(list, el('p', { class: 'empty' }, failure),
        el('button', { type: 'button', class: 'secondary', onclick: load }, 'Try again'));
      alert(api.explain(error));
    } finally {
      if (mine === seq) list.setAttribute('aria-busy', 'false');
    }
  }

  function page(direction) {
    state.offset = Math.max(0, state.offset + direction * state.count);
    load();
  }

  return { load, page, started: () => seq > 0 };
}
