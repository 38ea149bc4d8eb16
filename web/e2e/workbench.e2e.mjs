// The workbench end to end: two real verso processes (the binary in VERSO_BINARY) on one data
// directory, linked by a real Redis (Debian's redis-server, started here on 127.0.0.1), the
// built-in engine; Debian's Chromium driven by playwright-core; two post-editors on one job, each
// on another process, so that presence, locks and live updates cross processes.
// Screenshots of the main views go to VERSO_E2E_ARTIFACTS. Run by ctest (workbench_e2e).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const verso = process.env.VERSO_BINARY;
const artifacts = process.env.VERSO_E2E_ARTIFACTS ?? join(tmpdir(), 'verso-e2e-artifacts');
const chromiumPath = process.env.VERSO_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
const SOURCES = [
  'The house is red.',
  'Click Save to keep your changes.',
  'The file could not be opened.',
  'Delete 3 files?',
  'Your session has expired.',
  'Open the settings to change the language.',
];

let dir, redis, servers = [], base, baseB, key, jobId, browser;
let ana, bo; // { context, page }

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function cli(...args) {
  return execFileSync(verso, ['--data-dir', dir, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

async function api(method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function segment(index) {
  return (await api('GET', `/v1/jobs/${jobId}/segments/es/${index}`)).body;
}

async function signedIn(email, at = base) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${email}] page error: ${e.message}`));
  await page.goto(`${at}/editor`);
  await page.locator('#email').waitFor();
  // Keyboard only: the form has the focus in order (email, password, workspace, button).
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('table.jobs').waitFor();
  return { context, page };
}

async function openJob(page, id = jobId) {
  // Keyboard only: Tab to the job's link, Enter.
  const link = page.locator(`a[href="#/jobs/${id}"]`);
  for (let i = 0; i < 10 && !(await link.evaluate((a) => a === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await page.locator('[data-loaded="true"]').waitFor();
  await page.waitForFunction(() => document.querySelector('#live-state')?.textContent === 'Live');
}

async function axe(page, name) {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }));
  const violations = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
  assert.deepEqual(violations, [], `${name}: accessibility violations`);
}

before(async () => {
  assert.ok(verso, 'VERSO_BINARY names the verso binary');
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'verso-e2e-'));
  key = cli('keys', 'create', '--tenant', 'default', '--name', 'e2e', '--scopes', 'admin').trim().split('\n')[0];
  for (const [email, name, role] of [['ana@example.com', 'Ana', 'post-editor'], ['bo@example.com', 'Bo', 'post-editor'],
    ['mia@example.com', 'Mia', 'manager'], ['rita@example.com', 'Rita', 'reviewer']]) {
    execFileSync(verso, ['--data-dir', dir, 'users', 'add', '--tenant', 'default', '--email', email, '--name', name,
      '--role', role, '--password-stdin'], { input: PASSWORD, stdio: ['pipe', 'pipe', 'pipe'] });
  }
  const redisPort = await freePort();
  redis = spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: 'ignore' });
  const bases = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    bases.push(`http://127.0.0.1:${port}`);
    const server = spawn(verso, ['--data-dir', dir, '--set', `server.port=${port}`,
      '--set', `redis.url=redis://127.0.0.1:${redisPort}`, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr.on('data', () => {});
    servers.push(server);
    await until(`server ${i}`, async () => (await fetch(`${bases[i]}/readyz`).catch(() => null))?.ok);
  }
  [base, baseB] = bases;
  // Every segment waits for a post-editor (no QE score reaches 101).
  const job = await api('POST', '/v1/jobs', { source_lang: 'en', target_langs: ['es'], qe_threshold: 101, segments: SOURCES });
  assert.equal(job.status, 202, JSON.stringify(job.body));
  jobId = job.body.id;
  await until('post-editing', async () => (await api('GET', `/v1/jobs/${jobId}`)).body.status === 'post_editing');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.kill('SIGTERM');
  redis?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('sign in and the task list, accessible', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/editor`);
  await page.locator('#email').waitFor();
  // Focus order: email, password, workspace, the button.
  const order = [];
  for (let i = 0; i < 4; i++) {
    order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent));
    await page.keyboard.press('Tab');
  }
  assert.deepEqual(order, ['email', 'password', 'tenant', 'Sign in']);
  await page.screenshot({ path: join(artifacts, 'sign-in.png') });
  await axe(page, 'sign in');
  await page.fill('#email', 'ana@example.com');
  await page.fill('#password', 'wrong password!');
  await page.keyboard.press('Enter');
  await page.locator('.error', { hasText: 'the email or the password is wrong' }).waitFor();
  await context.close();

  ana = await signedIn('ana@example.com');
  await ana.page.screenshot({ path: join(artifacts, 'tasks.png') });
  await axe(ana.page, 'task list');
  assert.equal(await ana.page.locator('table.jobs tbody tr').count(), 1);
});

test('edit and confirm with the keyboard only; the TM learns it', async () => {
  await openJob(ana.page);
  const page = ana.page;
  // The first segment is active and its translation has the focus.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'target');
  await page.keyboard.press('Control+a');
  await page.keyboard.type('La casa es roja.');
  await page.keyboard.press('Control+Enter');
  await until('segment 0 confirmed', async () => (await segment(0)).state === 'confirmed');
  const s0 = await segment(0);
  assert.equal(s0.target, 'La casa es roja.');
  assert.match(s0.editor, /^usr_/);
  // Ctrl+Enter moved on: segment 2 of 6 is active.
  await page.locator('#segment-heading', { hasText: 'Segment 2' }).waitFor();
  // Copy source (Ctrl+I), then the QA warning as you type (a number the source lacks).
  await page.keyboard.press('Control+i');
  assert.equal(await page.inputValue('#target'), SOURCES[1]);
  await page.keyboard.press('Control+a');
  await page.keyboard.type('Haga clic en Guardar 5 veces.');
  await page.locator('#qa li.qa-error', { hasText: 'numbers not in the source: 5' }).waitFor();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('Haga clic en Guardar para conservar los cambios.');
  await page.locator('#qa li', { hasText: 'No QA warnings' }).waitFor();
  // The shortcut list, then Escape.
  await page.keyboard.press('Control+/');
  await page.locator('dialog#shortcuts[open]').waitFor();
  await page.screenshot({ path: join(artifacts, 'shortcuts.png') });
  await page.keyboard.press('Escape');
  await page.locator('dialog#shortcuts[open]').waitFor({ state: 'detached' });
  await page.screenshot({ path: join(artifacts, 'job.png') });
  await axe(page, 'job view');
  // The draft was saved by itself (a pause in typing).
  await until('the draft of segment 1', async () => (await segment(1)).draft === 'Haga clic en Guardar para conservar los cambios.');
  const tm = await api('GET', `/v1/jobs/${jobId}`);
  assert.equal(tm.body.counts.confirmed, 1);
});

test('a second editor on the other process sees presence, the lock and the live update', async () => {
  bo = await signedIn('bo@example.com', baseB);
  await openJob(bo.page);
  const page = bo.page;
  await page.locator('.presence li', { hasText: 'Ana' }).waitFor();
  await ana.page.locator('.presence li', { hasText: 'Bo' }).waitFor();
  // Ana holds segment 2: Bo sees who, and cannot type into it.
  await page.locator('.grid-row[aria-rowindex="2"] .holder', { hasText: 'Ana' }).waitFor();
  await page.click('.grid-row[aria-rowindex="2"]');
  await page.locator('#lock-state', { hasText: 'Ana is editing this segment.' }).waitFor();
  assert.equal(await page.locator('#target').evaluate((t) => t.readOnly), true);
  // Segment 1, confirmed by Ana before Bo came, shows as confirmed; Ana confirms segment 2 now:
  // Bo's grid and progress follow without a reload.
  await page.locator('.grid-row[aria-rowindex="1"] .badge.confirmed').waitFor();
  await ana.page.keyboard.press('Control+Enter');
  await page.locator('.grid-row[aria-rowindex="2"] .badge.confirmed').waitFor();
  await page.locator('.progress-text', { hasText: '33 % (2/6)' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'second-editor.png') });
  // The server refuses an edit of a segment another editor holds (Ana is on segment 3 now).
  const cookie = (await bo.context.cookies()).find((c) => c.name === 'verso_session');
  const res = await fetch(`${baseB}/v1/jobs/${jobId}/segments/es/2/draft`, {
    method: 'PUT',
    headers: { Cookie: `verso_session=${cookie.value}`, 'Content-Type': 'application/json', Origin: baseB },
    body: JSON.stringify({ target: 'de Bo' }),
  });
  assert.equal(res.status, 409);
  assert.match((await res.json()).error.message, /being edited by Ana/);
});

test('a cut connection queues the edit, which arrives after reconnecting; a conflict keeps both', async () => {
  const page = ana.page;
  // Ana is on segment 3. The network goes: her edit waits in the browser.
  await ana.context.setOffline(true);
  await page.evaluate(() => window.verso.view().goOffline());
  await page.keyboard.press('Control+a');
  await page.keyboard.type('No se pudo abrir el archivo.');
  await page.keyboard.press('Control+Enter');
  await page.locator('#save-state', { hasText: '1 edit waiting to be saved' }).waitFor();
  assert.equal(await page.evaluate(() => window.verso.queue.pending().length), 1);
  // Meanwhile Bo (online) changes segment 3, free now that Ana's connection is gone.
  await bo.page.click('.grid-row[aria-rowindex="3"]');
  await until('Bo holds segment 3', async () => !(await bo.page.locator('#target').evaluate((t) => t.readOnly)));
  await bo.page.keyboard.press('Control+a');
  await bo.page.keyboard.type('El archivo no se abrió.');
  await until('Bo\'s draft', async () => (await segment(2)).draft === 'El archivo no se abrió.');
  await bo.page.click('.grid-row[aria-rowindex="6"]'); // Bo moves on
  // Ana is back: her queued confirm was made on the old version, so it is a conflict, shown
  // with both texts; nothing was overwritten.
  await ana.context.setOffline(false);
  await page.evaluate(() => window.verso.view().goOnline());
  const conflict = page.locator('.notice.conflict');
  await conflict.waitFor();
  await conflict.locator('p', { hasText: 'Segment 3 was changed by Bo while you edited it.' }).waitFor();
  assert.equal(await conflict.locator('.mine').textContent(), 'No se pudo abrir el archivo.');
  assert.equal(await conflict.locator('.theirs').textContent(), 'El archivo no se abrió.');
  assert.equal((await segment(2)).draft, 'El archivo no se abrió.');
  await page.screenshot({ path: join(artifacts, 'conflict.png') });
  await conflict.getByRole('button', { name: 'Keep mine' }).click();
  await until('Ana\'s confirm', async () => (await segment(2)).state === 'confirmed');
  assert.equal((await segment(2)).target, 'No se pudo abrir el archivo.');
  await page.locator('#save-state', { hasText: 'All changes saved' }).waitFor();
  // The queued edit was applied once: one confirm, counted once.
  assert.equal((await api('GET', `/v1/jobs/${jobId}`)).body.counts.confirmed, 3);
});

// A WebSocket upgrade as another site's page would send it, with Bo's cookie.
function upgrade(cookie, origin) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/v1/jobs/${jobId}/live`, {
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Cookie: `verso_session=${cookie}`, Origin: origin,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

test('the live socket refuses other sites, oversized messages and floods', async () => {
  const cookie = (await bo.context.cookies()).find((c) => c.name === 'verso_session').value;
  assert.equal(await upgrade(cookie, 'http://evil.example'), 403);
  assert.equal(await upgrade(cookie, base), 101);
  // From Bo's page: a message over 4 KiB closes the socket (1009), and so do 500 at once.
  const closes = await bo.page.evaluate(async (url) => {
    const closed = (send) => new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.onopen = () => send(ws);
      ws.onclose = (e) => resolve(e.code);
    });
    const big = await closed((ws) => ws.send('x'.repeat(5000)));
    const flood = await closed((ws) => {
      for (let i = 0; i < 500; i++) ws.send('{"type":"ping"}');
    });
    return [big, flood];
  }, `${baseB.replace('http', 'ws')}/v1/jobs/${jobId}/live`);
  // 1009 when the close frame arrives before the server drops the rest of the message (a
  // reset then reads as 1006); never a normal close, and the socket does end.
  assert.ok([1006, 1009].includes(closes[0]), `closed with ${closes[0]}`);
  assert.ok([1006, 1008].includes(closes[1]), `closed with ${closes[1]}`);
  // The server is still there for everyone.
  assert.equal((await api('GET', `/v1/jobs/${jobId}`)).status, 200);
});

test('signing out ends the session on the server', async () => {
  const cookie = (await ana.context.cookies()).find((c) => c.name === 'verso_session');
  assert.ok(cookie, 'the session cookie');
  assert.equal(cookie.httpOnly, true);
  await ana.page.getByRole('button', { name: 'Sign out' }).click();
  await ana.page.locator('#email').waitFor();
  const res = await fetch(`${base}/v1/session`, { headers: { Cookie: `verso_session=${cookie.value}` } });
  assert.equal(res.status, 401);
  // The live socket refuses the old cookie too.
  const live = await fetch(`${base}/v1/jobs/${jobId}/live`, { headers: { Cookie: `verso_session=${cookie.value}` } });
  assert.equal(live.status, 401);
});

test('a manager assigns a range of segments in the browser', async () => {
  const mia = await signedIn('mia@example.com');
  await openJob(mia.page);
  const page = mia.page;
  await page.getByRole('button', { name: 'Assign' }).click();
  const dialog = page.locator('dialog#assign[open]');
  await dialog.locator('td', { hasText: 'Open to everyone' }).waitFor();
  await page.selectOption('#assign-user', { label: 'Ana (post-editor)' });
  await page.fill('#assign-from', '5');
  await page.fill('#assign-to', '6');
  await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
  await dialog.locator('td', { hasText: '5–6' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'assign.png') });
  await axe(page, 'assignments');
  const assigned = (await api('GET', `/v1/jobs/${jobId}/assignments`)).body.assignments;
  assert.equal(assigned.length, 1);
  assert.equal(assigned[0].target_lang, 'es');
  assert.deepEqual([assigned[0].from, assigned[0].to], [4, 5]);
  // A range past the job's segments: the server's reason, shown.
  await page.fill('#assign-from', '6');
  await page.fill('#assign-to', '60');
  await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
  await dialog.locator('.error', { hasText: 'is not a range of the target' }).waitFor();
  await dialog.getByRole('button', { name: 'Remove Ana 5–6' }).click();
  await dialog.locator('td', { hasText: 'Open to everyone' }).waitFor();
  assert.deepEqual((await api('GET', `/v1/jobs/${jobId}/assignments`)).body.assignments, []);
  await mia.context.close();
});

test('a reviewer sends a segment back and approves the rest with the keyboard; the job completes', async () => {
  // A job with a revision step, both segments confirmed by a post-editor (through the API).
  const submitted = await api('POST', '/v1/jobs', { source_lang: 'en', target_langs: ['es'], qe_threshold: 101,
    revision: true, segments: ['The printer is ready.', 'Close the door.'] });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body.id;
  const seg = async (i) => (await api('GET', `/v1/jobs/${id}/segments/es/${i}`)).body;
  await until('post-editing', async () => (await api('GET', `/v1/jobs/${id}`)).body.status === 'post_editing');
  for (const [i, text] of [[0, 'La impresora esta lista.'], [1, 'Cierra la puerta.']]) {
    assert.equal((await api('POST', `/v1/jobs/${id}/segments/es/${i}/confirm`, { target: text })).status, 200);
  }
  const rita = await signedIn('rita@example.com', baseB);
  const page = rita.page;
  await openJob(page, id);
  await page.locator('#segment-heading', { hasText: 'Segment 1 (confirmed)' }).waitFor();
  // Alt+R: send segment 1 back, saying why (keyboard only: type, Tab to the button, Enter).
  await page.keyboard.press('Alt+r');
  await page.locator('dialog#send-back[open]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'send-back-comment');
  await page.keyboard.type('Falta la tilde: está.');
  await page.screenshot({ path: join(artifacts, 'send-back.png') });
  await axe(page, 'send back');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await until('segment 0 sent back', async () => (await seg(0)).state === 'awaiting');
  const back = await seg(0);
  assert.equal(back.revision.verdict, 'rejected');
  assert.equal(back.revision.comment, 'Falta la tilde: está.');
  await page.locator('.grid-row[aria-rowindex="1"] .sent-back').waitFor();
  await page.locator('#revision-note', { hasText: 'Sent back by Rita: Falta la tilde: está.' }).waitFor();
  // Ctrl+↓, Ctrl+Enter: segment 2 approved as it is.
  await page.keyboard.press('Control+ArrowDown');
  await page.locator('#segment-heading', { hasText: 'Segment 2 (confirmed)' }).waitFor();
  await page.keyboard.press('Control+Enter');
  await until('segment 1 reviewed', async () => (await seg(1)).state === 'reviewed');
  assert.equal((await api('GET', `/v1/jobs/${id}`)).body.status, 'post_editing');
  // The post-editor mends segment 1; Rita's grid follows live, and her approval ends the job.
  assert.equal((await api('POST', `/v1/jobs/${id}/segments/es/0/confirm`, { target: 'La impresora está lista.' })).status, 200);
  await page.locator('.grid-row[aria-rowindex="1"] .badge.confirmed').waitFor();
  await page.keyboard.press('Control+ArrowUp');
  await page.locator('#segment-heading', { hasText: 'Segment 1 (confirmed)' }).waitFor();
  // A person's text is not shown as the engine's.
  await page.locator('#mt', { hasText: 'Machine-translated by apertium, then edited' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'review.png') });
  await page.keyboard.press('Control+Enter');
  await until('the job completed', async () => (await api('GET', `/v1/jobs/${id}`)).body.status === 'completed');
  const done = await api('GET', `/v1/jobs/${id}`);
  assert.equal(done.body.counts.reviewed, 2);
  assert.equal((await seg(0)).target, 'La impresora está lista.');
  // A post-editor may not review.
  const anaAgain = await signedIn('ana@example.com');
  const cookie = (await anaAgain.context.cookies()).find((c) => c.name === 'verso_session');
  const refused = await fetch(`${base}/v1/jobs/${id}/segments/es/1/approve`, {
    method: 'POST',
    headers: { Cookie: `verso_session=${cookie.value}`, 'Content-Type': 'application/json', Origin: base },
    body: '{}',
  });
  assert.equal(refused.status, 403);
  await anaAgain.context.close();
  await rita.context.close();
});
