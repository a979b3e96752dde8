/** Logging in and out: one form asking for the operator's or a partner's token, which starts a session (session.ts). */
import { z } from 'zod';
import { dashboardPath, readFields, trimmed } from '../forms.js';
import { PUBLIC_ROUTE } from '../hooks.js';
import { html } from '../html.js';
import { BASE, layout } from '../layout.js';
import { PageError } from '../page-error.js';
import { type PageRoutes, sendPage } from './context.js';
import { notice } from './shared.js';

/** `?next=`: the page asked for before the log-in, where the form leads back to. */
const loginQuery = z.object({ next: dashboardPath });
const loginForm = z.object({ token: trimmed, next: dashboardPath });

/** `GET` and `POST /dashboard/login` (public), and `POST /dashboard/logout`. */
export const loginRoutes: PageRoutes = (app, { sessions }) => {
  app.get('/login', PUBLIC_ROUTE, async (request, reply) => {
    const { next } = readFields(loginQuery, request.query);
    return sendPage(reply, 200, loginPage({ next: next ?? `${BASE}/customers` }));
  });

  app.post('/login', PUBLIC_ROUTE, async (request, reply) => {
    const { token, next = `${BASE}/customers` } = readFields(loginForm, request.body);
    const login = await sessions.logIn(request, reply, token);
    if (login.outcome === 'rate_limited') {
      reply.header('retry-after', String(login.retryAfterSeconds));
      const error = `Too many failed log-ins. Try again in ${login.retryAfterSeconds} seconds.`;
      return sendPage(reply, 429, loginPage({ error, next }));
    }
    if (login.outcome === 'refused') {
      return sendPage(reply, 401, loginPage({ error: 'That token is not valid.', next }));
    }
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    const session = request.dashboardSession;
    if (!session) throw new PageError(401, 'Log in first.');
    await sessions.logOut(request, reply, session);
    return reply.redirect(`${BASE}/login`, 303);
  });
};

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
