// @ts-check
/**
 * The dashboard's one script, served as it is here at /dashboard/assets/app.js and loaded as a module
 * (the CSP allows no inline script). It only keeps the chart live: every few seconds it reads the JSON
 * route named by the chart's `data-chart-src` and redraws the bars with DOM calls (no innerHTML, so
 * nothing it reads is markup). Everything else works without it. Type-checked by `tsc` (checkJs).
 */

/** @typedef {{ minute: string, delivered: number, rejected: number, failed: number }} MinuteOutcomes */
/** @typedef {{ now: string, minutes: MinuteOutcomes[] }} ChartData what the JSON route answers */

const SVG_NS = 'http://www.w3.org/2000/svg';
// the same geometry as the server's first render (src/dashboard/pages/endpoints.ts)
const W = 600;
const H = 160;
const MINUTES = 30;
const OUTCOMES = /** @type {const} */ (['delivered', 'rejected', 'failed']);
const POLL_MS = 3000;

/**
 * Redraws the bars and the text summary from the route's answer.
 *
 * @param {HTMLElement} chart the chart's section
 * @param {SVGSVGElement} svg its plot
 * @param {ChartData} data
 */
function draw(chart, svg, data) {
  const end = Math.floor(Date.parse(data.now) / 60_000);
  const byMinute = new Map(data.minutes.map((m) => [Math.floor(Date.parse(m.minute) / 60_000), m]));
  /** @type {(MinuteOutcomes | undefined)[]} */
  const slots = [];
  for (let i = 0; i < MINUTES; i++) slots.push(byMinute.get(end - MINUTES + 1 + i));
  const max = Math.max(1, ...slots.map((m) => (m ? m.delivered + m.rejected + m.failed : 0)));
  const barW = W / MINUTES;
  for (const old of Array.from(svg.querySelectorAll('rect'))) old.remove();
  const totals = { delivered: 0, rejected: 0, failed: 0 };
  slots.forEach((m, i) => {
    let y = H;
    for (const k of OUTCOMES) {
      const n = m ? m[k] : 0;
      totals[k] += n;
      if (!n) continue;
      const h = (n / max) * (H - 10);
      y -= h;
      const rect = document.createElementNS(SVG_NS, 'rect');
      rect.setAttribute('class', `bar-${k}`);
      rect.setAttribute('x', (i * barW + 1).toFixed(1));
      rect.setAttribute('y', y.toFixed(1));
      rect.setAttribute('width', (barW - 2).toFixed(1));
      rect.setAttribute('height', h.toFixed(1));
      const title = document.createElementNS(SVG_NS, 'title');
      title.textContent = `${n} ${k}`;
      rect.appendChild(title);
      svg.appendChild(rect);
    }
  });
  const summary = chart.querySelector('[data-chart-summary]');
  if (summary) {
    summary.textContent = `Last ${MINUTES} minutes: ${totals.delivered} delivered, ${totals.rejected} rejected, ${totals.failed} failed attempts.`;
  }
  chart.setAttribute('data-updated', data.now);
}

/**
 * Polls the chart's JSON route for ever. A failed poll is skipped: the next one tries again, and a
 * stale chart is better than an error on the page.
 *
 * @param {HTMLElement} chart
 * @param {SVGSVGElement} svg
 * @param {string} src
 */
function keepLive(chart, svg, src) {
  const poll = async () => {
    try {
      const res = await fetch(src, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.ok) draw(chart, svg, await res.json());
    } catch {
      // the next poll tries again
    }
  };
  setInterval(poll, POLL_MS);
  poll();
}

const chart = document.querySelector('[data-chart-src]');
const svg = chart?.querySelector('svg');
const src = chart?.getAttribute('data-chart-src');
if (chart instanceof HTMLElement && svg && src) keepLive(chart, svg, src);

// a module (loaded with type="module"): its names stay its own, in the browser and for tsc
export {};
