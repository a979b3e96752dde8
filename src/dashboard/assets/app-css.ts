/**
 * The dashboard's one stylesheet, served at /dashboard/assets/app.css. Embedded as a string because
 * `tsc` copies no CSS into dist/. Phone first: tables scroll sideways, the header wraps; focus is
 * always visible for keyboard users.
 */
export const APP_CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --bg: #f6f7f9; --card: #fff; --line: #d8dde3; --accent: #0b5cad;
  --ok: #1a7f37; --warn: #9a6700; --bad: #c62828; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; font-size: 15px; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; padding: .6rem 1rem;
  background: #102a43; color: #fff; }
.top a { color: #fff; }
.brand { font-weight: 700; text-decoration: none; }
.top nav { display: flex; gap: .9rem; flex-wrap: wrap; }
.top nav a { text-decoration: none; padding: .2rem 0; }
.top nav a[aria-current="page"] { border-bottom: 2px solid #f59e0b; }
.picker, .logout { display: flex; gap: .4rem; align-items: center; margin: 0; }
.logout { margin-left: auto; }
.who { margin: 0; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: .3rem 0 1rem; word-break: break-word; }
h2 { font-size: 1.05rem; margin: .2rem 0 .5rem; }
button, select, input { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
.top button { background: #243b53; border-color: #486581; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: 0 0 1rem; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: 1rem; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .5rem .7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
  border: 1px solid currentColor; }
.badge-approved, .badge-delivered { color: var(--ok); }
.badge-pending { color: var(--warn); }
.badge-rejected, .badge-failed { color: var(--bad); }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.pager { display: flex; gap: 1rem; align-items: center; margin: 1rem 0; flex-wrap: wrap; }
.notice { padding: .6rem .8rem; border-radius: 6px; border: 1px solid; }
.notice-ok { color: var(--ok); background: #eaf6ec; }
.notice-error { color: var(--bad); background: #fdecea; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.login { max-width: 28rem; display: grid; gap: .5rem; }
.cards { list-style: none; padding: 0; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); }
.review form { display: grid; gap: .5rem; }
fieldset { border: 1px solid var(--line); border-radius: 6px; display: flex; gap: 1rem; }
.reason-fields { display: grid; gap: .3rem; }
.timeline { list-style: none; padding: 0 0 0 1rem; border-left: 3px solid var(--line); }
.step { position: relative; margin: 0 0 1.2rem; }
.step::before { content: ""; position: absolute; left: -1.45rem; top: .35rem; width: .7rem; height: .7rem;
  border-radius: 50%; background: var(--accent); }
.delivery { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; margin: .5rem 0; }
.delivery header { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.attempts { margin: .4rem 0; padding-left: 1.3rem; }
.code.ok { color: var(--ok); font-weight: 600; }
.code.bad { color: var(--bad); font-weight: 600; }
.err { color: var(--bad); }
.excerpt { background: #f1f3f5; padding: .3rem .5rem; border-radius: 4px; white-space: pre-wrap; word-break: break-all;
  max-height: 8rem; overflow: auto; margin: .2rem 0; }
.facts, .profile dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts dt, .profile dt { font-weight: 600; }
.profile dt { text-transform: capitalize; }
.facts dd, .profile dd { margin: 0; word-break: break-word; }
.chart-svg { width: 100%; height: 10rem; display: block; }
.chart-svg .axis { stroke: var(--line); }
.bar-delivered, .key-delivered { fill: var(--ok); background: var(--ok); }
.bar-rejected, .key-rejected { fill: var(--warn); background: var(--warn); }
.bar-failed, .key-failed { fill: var(--bad); background: var(--bad); }
.key { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin: 0 .3rem 0 .8rem; vertical-align: -1px; }
.key:first-child { margin-left: 0; }
code { font-size: .85em; word-break: break-all; }
@media (max-width: 640px) {
  .hide-narrow { display: none; }
  .logout { margin-left: 0; }
  main { padding: .7rem; }
  th, td { padding: .4rem .5rem; }
}
`;
