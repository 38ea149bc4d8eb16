// The workbench: sign in, the task list, and a job's segment grid with the editor panel.
import './style.css';
import { ApiError, call, segmentPath, sendEdit, type Job, type Me, type Segment } from './api';
import { el, clear, markupNode } from './dom';
import { JobView } from './job_view';
import { EditQueue, IdbStore, MemoryStore, type EditStore } from './queue';

const app = document.getElementById('app') as HTMLElement;
let me: Me | null = null;
let view: JobView | null = null;

function store(): EditStore {
  try {
    return new IdbStore();
  } catch {
    return new MemoryStore(); // a browser without IndexedDB: edits live as long as the tab
  }
}

const queue = new EditQueue(store(), sendEdit, {
  applied: (edit, segment) => view?.applied(edit, segment),
  conflict: (edit) => view?.conflict(edit),
  refused: (edit) => view?.refused(edit),
  changed: (n) => view?.pendingChanged(n),
});

async function boot() {
  await queue.load();
  try {
    me = await call<Me>('GET', '/v1/session');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return signIn();
    return fatal(e);
  }
  window.onhashchange = () => route();
  route();
  void queue.flush();
}

function route() {
  view?.close();
  view = null;
  const m = /^#\/jobs\/([^/]+)/.exec(location.hash);
  if (m) {
    view = new JobView(app, decodeURIComponent(m[1]), me!, queue, { signOut, back: () => (location.hash = '') });
    void view.open();
  } else {
    void tasks();
  }
}

function header(title: string, ...extra: Node[]): HTMLElement {
  return el('header', { class: 'top' },
    el('h1', {}, title),
    ...extra,
    el('span', { class: 'who' }, me?.user ? `${me.user.name || me.user.email} (${me.user.role})` : ''),
    el('button', { type: 'button', onclick: signOut }, 'Sign out'));
}

async function tasks() {
  clear(app);
  const main = el('main', { id: 'tasks' });
  app.append(header('Tasks'), main);
  main.append(el('p', { role: 'status' }, 'Loading jobs…'));
  let jobs: Job[];
  try {
    jobs = (await call<{ jobs: Job[] }>('GET', '/v1/jobs?limit=100')).jobs;
  } catch (e) {
    return fatal(e);
  }
  clear(main);
  if (jobs.length === 0) {
    main.append(el('p', {}, 'No jobs yet: a manager submits them (POST /v1/jobs).'));
    return;
  }
  const rows = jobs.map((j) => {
    const done = (j.counts.confirmed ?? 0) + (j.counts.approved ?? 0);
    const pct = j.counts.segments ? Math.floor((100 * done) / j.counts.segments) : 0;
    return el('tr', {},
      el('td', {}, el('a', { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.file_name || j.id)),
      el('td', {}, `${j.source_lang} → ${j.target_langs.join(', ')}`),
      el('td', {}, j.status.replace('_', ' ')),
      el('td', {}, el('progress', { max: '100', value: String(pct), 'aria-label': `${j.id} progress` }), ` ${pct} %`),
      el('td', {}, String(j.counts.awaiting_post_edit ?? 0)),
      el('td', {}, String(j.counts.segments ?? 0)));
  });
  main.append(el('table', { class: 'jobs' },
    el('caption', {}, 'Jobs of your team'),
    el('thead', {}, el('tr', {}, ...['Job', 'Languages', 'Status', 'Progress', 'Awaiting', 'Segments'].map((t) => el('th', { scope: 'col' }, t)))),
    el('tbody', {}, ...rows)));
}

function signIn(message = '') {
  clear(app);
  const email = el('input', { id: 'email', type: 'email', autocomplete: 'username', required: '' }) as HTMLInputElement;
  const password = el('input', { id: 'password', type: 'password', autocomplete: 'current-password', required: '' }) as HTMLInputElement;
  const tenant = el('input', { id: 'tenant', type: 'text', value: 'default' }) as HTMLInputElement;
  const error = el('p', { class: 'error', role: 'alert' }, message);
  const form = el('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title' }, 'Sign in to verso'),
    el('label', { for: 'email' }, 'Email'), email,
    el('label', { for: 'password' }, 'Password'), password,
    el('label', { for: 'tenant' }, 'Workspace'), tenant,
    el('button', { type: 'submit' }, 'Sign in'),
    error) as HTMLFormElement;
  form.onsubmit = async (e) => {
    e.preventDefault();
    try {
      await call('POST', '/v1/session', { email: email.value, password: password.value, tenant: tenant.value });
      await boot();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  };
  app.append(el('main', {}, form));
  email.focus();
}

async function signOut() {
  try {
    await call('DELETE', '/v1/session');
  } catch {
    // signed out already
  }
  view?.close();
  view = null;
  me = null;
  window.onhashchange = null;
  history.replaceState(null, '', location.pathname);
  signIn('You are signed out.');
}

function fatal(e: unknown) {
  if (e instanceof ApiError && e.status === 401) return signIn('Your session has ended: sign in again.');
  clear(app);
  app.append(el('main', {}, el('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e))));
}

// For the end-to-end tests and the benchmark (window.verso): the queue, the live channel, the
// view's figures.
(window as any).verso = {
  queue,
  view: () => view,
  segmentPath,
  markupNode,
  ready: false,
};
export type { Segment };
void boot();
