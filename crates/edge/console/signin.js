// Sign-in view: username or e-mail and password, then a code step when the server asks for one.
import * as api from './api.js';
import { el } from './dom.js';

const CODE_HINT = {
  totp: 'Enter the 6-digit code from your authenticator app.',
  email: 'Enter the code we sent to your e-mail address.',
};

export function render(root, ctx) {
  const user = el('input', { id: 'signin-user', name: 'user', autocomplete: 'username', required: true, autofocus: true, spellcheck: 'false', autocapitalize: 'none' });
  const password = el('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const code = el('input', { id: 'signin-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', spellcheck: 'false', 'aria-describedby': 'signin-code-hint' });
  const codeHint = el('p', { id: 'signin-code-hint', class: 'hint' });
  const codeStep = el('div', { class: 'field', hidden: true },
    el('label', { for: 'signin-code' }, 'Verification code'), code, codeHint);
  const submit = el('button', { type: 'submit' }, 'Sign in');
  const restart = el('button', { type: 'button', class: 'link', hidden: true, onclick: reset }, 'Use a different account');

  const form = el('form', { class: 'card signin', 'aria-labelledby': 'signin-title', novalidate: true, onsubmit },
    el('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in'),
    el('div', { class: 'field' }, el('label', { for: 'signin-user' }, 'Username or e-mail'), user),
    el('div', { class: 'field' }, el('label', { for: 'signin-password' }, 'Password'), password),
    codeStep,
    el('div', { class: 'actions' }, submit, restart),
  );
  root.append(form);

  function reset() {
    codeStep.hidden = true;
    restart.hidden = true;
    code.value = '';
    code.required = false;
    user.readOnly = false;
    password.readOnly = false;
    ctx.alert(null);
    user.focus();
  }

  function askForCode(method) {
    codeStep.hidden = false;
    restart.hidden = false;
    code.required = true;
    // The password already passed; locking the fields keeps the retry about the code only.
    user.readOnly = true;
    password.readOnly = true;
    codeHint.textContent = CODE_HINT[method] ?? CODE_HINT.totp;
    code.value = '';
    code.focus();
  }

  async function onsubmit(event) {
    event.preventDefault();
    const missing = [user, password, ...(codeStep.hidden ? [] : [code])].find((input) => !input.value.trim());
    if (missing) {
      ctx.alert(`Enter your ${missing === code ? 'verification code' : missing === user ? 'username or e-mail' : 'password'}.`);
      missing.focus();
      return;
    }
    const body = { user: user.value.trim(), password: password.value };
    if (!codeStep.hidden) body.code = code.value.trim();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const answer = await api.call('login', { method: 'POST', body, anonymous: true });
      api.remember(answer.data.userId, answer.data.authToken);
      ctx.signedIn(answer.data.me);
    } catch (error) {
      if (!form.isConnected) return;
      if (error.code === 'totp-required') {
        ctx.alert(null);
        askForCode(error.body?.details?.method);
      } else {
        ctx.alert(api.explain(error));
        if (error.code === 'totp-invalid') {
          code.select();
          code.focus();
        } else if (error.code === 'Unauthorized') {
          reset();
          ctx.alert(api.explain(error));
          password.select();
          password.focus();
        }
      }
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  }
}
