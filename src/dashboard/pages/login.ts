/** The log-in page: one form asking for the operator's or a partner's token. */
import { html } from '../html.js';
import { BASE, layout } from '../layout.js';
import { notice } from './shared.js';

/** The log-in form; `error` when the last attempt failed, `next` the page to go back to. */
export function loginPage(o: { error?: string | undefined; next?: string | undefined }): string {
  return layout({
    title: 'Log in',
    body: html`${notice('error', o.error)}
      <form class="card login" method="post" action="${BASE}/login">
        <p>Use the operator (admin) token to see every partner, or a partner's token to see its own data.</p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" required maxlength="512"
          spellcheck="false" placeholder="tpcs_adm_… or tpcs_pk_…">
        ${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
        <button type="submit">Log in</button>
      </form>`,
  });
}
