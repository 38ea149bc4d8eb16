// The workbench's figures (issue 17), against a running verso (bench/run-workbench-bench starts
// it and makes the jobs):
//   1. a job of 1,000 / 10,000 / 50,000 segments opened in Debian's Chromium: time to the first
//      interactive row, to every segment loaded, the page's JS heap, and frame times while
//      scrolling through the whole grid;
//   2. keystroke to QA warning: typing a number the source lacks until the warning shows;
//   3. WebSocket editors on one server (default 500): messages/s delivered, p50/p99 delivery
//      latency, the server's RSS before and after.
// Usage: node workbench.bench.mjs BASE_URL EMAIL PASSWORD SERVER_PID JOB_1K JOB_10K JOB_50K
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const [base, email, password, serverPid, ...jobs] = process.argv.slice(2);
const sizes = ['1,000', '10,000', '50,000'];
const editors = Number(process.env.EDITORS ?? 500);
const moveEvery = Number(process.env.MOVE_EVERY_MS ?? 5000); // an editor moves to another segment
const seconds = Number(process.env.SECONDS ?? 20);
const target = process.env.TARGET ?? 'fi';

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function pct(list, p) {
  if (list.length === 0) return NaN;
  const s = [...list].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// ONLY_SOCKETS=1: the WebSocket part alone.
const cookie = await (async () => {
if (process.env.ONLY_SOCKETS) {
  const res = await fetch(`${base}/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });
  return /verso_session=([^;]+)/.exec(res.headers.get('set-cookie'))[1];
}
const browser = await chromium.launch({
  executablePath: process.env.VERSO_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--enable-precise-memory-info'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const signIn = await context.request.post(`${base}/v1/session`, { data: { email, password } });
if (!signIn.ok()) throw new Error(`sign in: ${signIn.status()} ${await signIn.text()}`);
const cookie = (await context.cookies()).find((c) => c.name === 'verso_session').value;

console.log('\n## Opening a job in the workbench (Chromium headless, this machine)');
console.log('segments | first interactive row | all loaded | JS heap | scroll frames p50 / p99 / max (rows rendered)');
for (let i = 0; i < jobs.length; i++) {
  const page = await context.newPage();
  await page.goto(`${base}/editor#/jobs/${jobs[i]}`);
  await page.waitForFunction(() => window.verso?.ready === true, null, { timeout: 600000 });
  const m = await page.evaluate(() => window.verso.view().metrics);
  const heap = await page.evaluate(() => performance.memory.usedJSHeapSize / 1048576);
  // Scroll from top to bottom in 60 steps, a frame apart, timing each frame.
  const frames = await page.evaluate(async () => {
    const grid = document.getElementById('grid');
    const times = [];
    let last = performance.now();
    for (let step = 1; step <= 60; step++) {
      grid.scrollTop = (grid.scrollHeight * step) / 60;
      await new Promise((r) => requestAnimationFrame(() => r()));
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    return { times, rendered: document.querySelectorAll('.grid-row').length };
  });
  console.log(`${sizes[i]} | ${m.firstRowAt.toFixed(0)} ms | ${m.loadedAt.toFixed(0)} ms | ${heap.toFixed(1)} MiB | ` +
    `${pct(frames.times, 50).toFixed(1)} / ${pct(frames.times, 99).toFixed(1)} / ${Math.max(...frames.times).toFixed(1)} ms (${frames.rendered})`);
  await page.close();
}

console.log('\n## Keystroke to QA warning (the server\'s checks; 150 ms of it is the typing pause the editor waits for)');
{
  const page = await context.newPage();
  await page.goto(`${base}/editor#/jobs/${jobs[0]}`);
  await page.waitForFunction(() => window.verso?.ready === true);
  const samples = [];
  for (let i = 0; i < 20; i++) {
    // A text without a 9; then a 9 typed: the warning "numbers not in the source: 9" appears.
    await page.fill('#target', `Texto ${'x'.repeat(i)} sin números `);
    await page.locator('#qa li', { hasText: 'numbers not in the source: 9' }).waitFor({ state: 'detached' });
    await page.waitForTimeout(300);
    const t0 = Date.now();
    await page.keyboard.type('9');
    await page.locator('#qa li', { hasText: 'numbers not in the source: 9' }).waitFor();
    samples.push(Date.now() - t0);
    const server = await page.evaluate(() => window.verso.view().metrics.lastCheckMs);
    samples.server = (samples.server ?? []).concat([server]);
  }
  console.log(`keystroke -> warning shown: p50 ${pct(samples, 50)} ms, p99 ${pct(samples, 99)} ms (20 keystrokes; ` +
    `page's own measure p50 ${pct(samples.server, 50).toFixed(0)} ms)`);
  await page.close();
}
await browser.close();
return cookie;
})();

console.log(`\n## ${editors} WebSocket editors on one server (${Math.round(editors / jobs.length)} on each of ` +
  `${jobs.length} jobs), each moving to another segment every ${moveEvery} ms, ${seconds} s`);
const rssBefore = rssMiB(serverPid);
const sockets = [];
const sent = new Map(); // "job/target/index" -> when the lock went out
const latencies = [];
let received = 0;
let refused = 0;
// Opens one editor's socket; a 503 or 429 (the server's admission control) is retried after a
// moment, as the workbench's own reconnect does.
function open(i) {
  const job = jobs[i % jobs.length];
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/jobs/${job}/live`, {
      headers: { Cookie: `verso_session=${cookie}`, Origin: base },
    });
    ws.on('open', () => {
      sockets.push({ ws, job, slot: i });
      resolve();
    });
    ws.on('unexpected-response', (_req, res) => {
      refused++;
      res.resume();
      setTimeout(() => open(i).then(resolve), 200 + Math.random() * 300);
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      received++;
      const m = JSON.parse(data.toString());
      if (m.type === 'lock') {
        const at = sent.get(`${job}/${m.target}/${m.index}`);
        if (at !== undefined) latencies.push(performance.now() - at);
      }
    });
  });
}
const connectStart = performance.now();
for (let i = 0; i < editors; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, editors - i) }, (_, k) => open(i + k)));
}
console.log(`connected ${sockets.length} in ${((performance.now() - connectStart) / 1000).toFixed(1)} s ` +
  `(${refused} upgrades answered 503/429 and retried)`);
const rssConnected = rssMiB(serverPid);
// Each editor moves to another segment once a second (a lock and an unlock to everyone on the
// job), spread over the second.
const timers = sockets.map((s, i) => setTimeout(function tick() {
  const index = (s.slot * 7919 + Math.floor(performance.now())) % 1000;
  sent.set(`${s.job}/${target}/${index}`, performance.now());
  s.ws.send(JSON.stringify({ type: 'lock', target, index }));
  s.timer = setTimeout(tick, moveEvery);
}, (i * moveEvery) / sockets.length));
const start = performance.now();
const receivedAtStart = received;
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = (performance.now() - start) / 1000;
for (const s of sockets) clearTimeout(s.timer);
for (const t of timers) clearTimeout(t);
const rssAfter = rssMiB(serverPid);
console.log(`messages delivered: ${((received - receivedAtStart) / elapsed).toFixed(0)}/s; ` +
  `lock delivery latency p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms ` +
  `(${latencies.length} deliveries)`);
console.log(`server RSS: ${rssBefore.toFixed(0)} MiB before, ${rssConnected.toFixed(0)} MiB with ${editors} connected, ` +
  `${rssAfter.toFixed(0)} MiB after the run`);
for (const s of sockets) s.ws.close();
