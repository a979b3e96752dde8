/**
 * The dashboard's one script, served at /dashboard/assets/app.js (the CSP allows no inline script).
 * It only keeps the chart live: every few seconds it reads the JSON route named by the chart's
 * `data-chart-src` and redraws the bars with DOM calls (no innerHTML, so nothing it reads is markup).
 * Everything else works without it.
 */
export const APP_JS = `'use strict';
(() => {
  const chart = document.querySelector('[data-chart-src]');
  if (!chart) return;
  const NS = 'http://www.w3.org/2000/svg';
  const W = 600, H = 160, MINUTES = 30, OUTCOMES = ['delivered', 'rejected', 'failed'];
  const svg = chart.querySelector('svg');
  const summary = chart.querySelector('[data-chart-summary]');
  function draw(data) {
    const end = Math.floor(Date.parse(data.now) / 60000);
    const byMinute = new Map(data.minutes.map((m) => [Math.floor(Date.parse(m.minute) / 60000), m]));
    const slots = [];
    for (let i = 0; i < MINUTES; i++) slots.push(byMinute.get(end - MINUTES + 1 + i));
    const max = Math.max(1, ...slots.map((m) => (m ? m.delivered + m.rejected + m.failed : 0)));
    const barW = W / MINUTES;
    for (const old of svg.querySelectorAll('rect')) old.remove();
    const totals = { delivered: 0, rejected: 0, failed: 0 };
    slots.forEach((m, i) => {
      let y = H;
      for (const k of OUTCOMES) {
        const n = m ? m[k] : 0;
        totals[k] += n;
        if (!n) continue;
        const h = (n / max) * (H - 10);
        y -= h;
        const rect = document.createElementNS(NS, 'rect');
        rect.setAttribute('class', 'bar-' + k);
        rect.setAttribute('x', (i * barW + 1).toFixed(1));
        rect.setAttribute('y', y.toFixed(1));
        rect.setAttribute('width', (barW - 2).toFixed(1));
        rect.setAttribute('height', h.toFixed(1));
        const title = document.createElementNS(NS, 'title');
        title.textContent = n + ' ' + k;
        rect.appendChild(title);
        svg.appendChild(rect);
      }
    });
    if (summary) {
      summary.textContent = 'Last ' + MINUTES + ' minutes: ' + totals.delivered + ' delivered, ' +
        totals.rejected + ' rejected, ' + totals.failed + ' failed attempts.';
    }
    chart.setAttribute('data-updated', data.now);
  }
  async function poll() {
    try {
      const res = await fetch(chart.getAttribute('data-chart-src'), { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.ok) draw(await res.json());
    } catch (_) {
      // the next poll tries again; a stale chart is better than an error on the page
    }
  }
  setInterval(poll, 3000);
  poll();
})();
`;
