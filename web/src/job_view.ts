// A job in the workbench: the header (progress, who else is here, the connection, edits
// waiting), the filters, the virtualised segment grid and the editor panel (source with glossary
// terms, the target, QA as you type, TM matches with their differences, the machine translation
// with its engine and QE, concordance). Keyboard first: shortcuts.ts.
import { ApiError, call, segmentPath, type Job, type Me, type QaWarning, type Segment, type TermHit } from './api';
import { AssignDialog } from './assign';
import { diffWords } from './diff';
import { clear, el, markupNode } from './dom';
import { VirtualGrid } from './grid';
import { LiveChannel, liveUrl, type LiveEditor, type LiveLock } from './live';
import {
  filtered, fromEditable, isClosed, nextOpen, nextToReview, NO_FILTER, plain, progress, qaWarnings, qeBand,
  settled, toEditable, type Filter,
} from './model';
import type { EditKind, EditQueue, QueuedEdit, SegmentState } from './queue';
import { BINDINGS, bindingFor, displayKeys } from './shortcuts';

const ROW_HEIGHT = 52;
const FIRST_PAGE = 500; // the first rows show after this many arrive; the rest load behind them
const PAGE = 10000;
const CHECK_DELAY = 150; // ms after the last keystroke: QA as you type
const DRAFT_DELAY = 1200; // ms after the last keystroke: the draft is saved
const DONE: Record<EditKind, string> = { draft: 'saved', confirm: 'confirmed', approve: 'approved', reject: 'sent back' };

interface Actions {
  signOut(): void;
  back(): void;
}

export class JobView {
  job!: Job;
  target = '';
  all: Segment[] = [];
  private byIndex = new Map<number, number>(); // segment index -> position in `all`
  rows: number[] = []; // positions in `all` the filter keeps, in order
  filter: Filter = { ...NO_FILTER };
  active = -1; // a row
  private grid!: VirtualGrid;
  private live!: LiveChannel;
  private locks = new Map<string, LiveLock>();
  private editors: LiveEditor[] = [];
  private closed = false;
  private checkTimer = 0;
  private draftTimer = 0;
  private checkSeq = 0;
  private flushTimer = 0;
  private keys = (e: KeyboardEvent) => this.onKey(e);
  private online = () => void this.queue.flush();
  // Figures for the benchmark and the tests.
  metrics = { openedAt: 0, firstRowAt: 0, loadedAt: 0, lastCheckMs: 0 };
  private typedAt = 0;

  // Panel elements.
  private ui: Record<string, HTMLElement> = {};
  private assign: AssignDialog | null = null; // managers only
  private textarea!: HTMLTextAreaElement;

  constructor(
    private root: HTMLElement,
    private jobId: string,
    private me: Me,
    private queue: EditQueue,
    private actions: Actions,
  ) {}

  async open() {
    this.metrics.openedAt = performance.now();
    clear(this.root);
    this.root.append(el('p', { role: 'status' }, 'Opening the job…'));
    try {
      this.job = await call<Job>('GET', `/v1/jobs/${encodeURIComponent(this.jobId)}`);
    } catch (e) {
      clear(this.root);
      this.root.append(el('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
      return;
    }
    this.target = this.job.target_langs[0];
    if (this.me.user?.role === 'manager') this.assign = new AssignDialog(this.jobId, this.job.target_langs);
    this.layout();
    document.addEventListener('keydown', this.keys, true);
    window.addEventListener('online', this.online);
    this.flushTimer = window.setInterval(() => {
      if (this.queue.pending().length > 0) void this.queue.flush();
    }, 5000);
    this.live = new LiveChannel(liveUrl(this.jobId), {
      open: () => {
        this.status('live', 'Live');
        void this.queue.flush();
      },
      closed: () => this.status('live', 'Reconnecting…'),
      message: (m) => this.onLive(m),
    });
    this.live.connect();
    await this.rescueScratch();
    await this.load();
  }

  close() {
    this.closed = true;
    this.saveNow();
    document.removeEventListener('keydown', this.keys, true);
    window.removeEventListener('online', this.online);
    clearInterval(this.flushTimer);
    this.live?.close();
  }

  // ---- Loading ----

  private async load() {
    this.all = [];
    this.byIndex.clear();
    let cursor: string | null = null;
    let limit = FIRST_PAGE;
    do {
      const q = new URLSearchParams({ target: this.target, limit: String(limit), view: 'compact' });
      if (cursor) q.set('cursor', cursor);
      let page: { segments: Segment[]; next_cursor: string | null };
      try {
        page = await call('GET', `/v1/jobs/${encodeURIComponent(this.jobId)}/segments?${q}`);
      } catch (e) {
        this.status('saved', e instanceof Error ? e.message : String(e));
        return;
      }
      if (this.closed) return;
      for (const s of page.segments) {
        this.overlayQueued(s);
        this.byIndex.set(s.index, this.all.length);
        this.all.push(s);
      }
      this.applyFilter(false);
      if (this.metrics.firstRowAt === 0 && this.all.length > 0) {
        this.metrics.firstRowAt = performance.now();
        this.activate(0);
      }
      cursor = page.next_cursor;
      limit = PAGE;
    } while (cursor);
    this.metrics.loadedAt = performance.now();
    this.root.dataset.loaded = 'true';
    (window as any).verso.ready = true;
  }

  // A segment with an edit still waiting shows the editor's text, not the server's.
  private overlayQueued(s: Segment) {
    const e = this.queue.latest(this.jobId, this.target, s.index);
    if (!e) return;
    if (e.kind === 'draft') s.draft = e.text;
    else if (e.refused) return;
    else if (e.kind === 'reject') s.state = 'awaiting';
    else {
      s.target = e.text;
      s.state = e.kind === 'approve' ? 'reviewed' : 'confirmed';
    }
  }

  // Approves and sends back (the scope the reviewer and manager roles give).
  private get reviewer(): boolean {
    return this.me.scopes?.includes('jobs:review') ?? false;
  }

  // Text typed but not yet queued when the tab closed (localStorage is written synchronously
  // on every keystroke): queued now as drafts.
  private async rescueScratch() {
    const prefix = `verso-scratch:${this.jobId}/`;
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(prefix)) continue;
      try {
        const s = JSON.parse(localStorage.getItem(key) ?? '');
        await this.queue.add({ job: this.jobId, target: s.target, index: s.index, kind: 'draft', text: s.text, base_version: s.base });
      } catch {
        // not ours
      }
      localStorage.removeItem(key);
    }
  }

  // ---- Layout ----

  private layout() {
    clear(this.root);
    const targetSelect = el('select', { id: 'target-lang', 'aria-label': 'Target language' },
      ...this.job.target_langs.map((t) => el('option', { value: t }, t))) as HTMLSelectElement;
    targetSelect.onchange = () => {
      this.saveNow();
      this.target = targetSelect.value;
      this.active = -1;
      void this.load();
    };
    this.ui.progress = el('progress', { max: '100', value: '0', 'aria-label': 'Job progress' });
    this.ui.progressText = el('span', { class: 'progress-text' });
    this.ui.presence = el('ul', { class: 'presence', 'aria-label': 'Editors on this job' });
    this.ui.live = el('span', { class: 'pill', role: 'status', id: 'live-state' }, 'Connecting…');
    this.ui.saved = el('span', { class: 'pill', role: 'status', id: 'save-state' }, 'All changes saved');
    const top = el('header', { class: 'top' },
      el('button', { type: 'button', onclick: () => this.actions.back() }, '← Tasks'),
      el('h1', {}, this.job.file_name || this.job.id),
      el('span', {}, `${this.job.source_lang} →`), targetSelect,
      this.ui.progress, this.ui.progressText, this.ui.presence, this.ui.live, this.ui.saved,
      el('button', { type: 'button', onclick: () => this.showShortcuts(), 'aria-keyshortcuts': 'Control+/' }, 'Shortcuts'),
      this.assign ? el('button', { type: 'button', onclick: () => void this.assign!.open() }, 'Assign') : null,
      el('span', { class: 'who' }, this.me.user?.name || this.me.user?.email || ''),
      el('button', { type: 'button', onclick: () => this.actions.signOut() }, 'Sign out'));
    this.updateProgress(this.job.targets[this.target]);

    const filters = this.filters();
    const gridRoot = el('div', { class: 'grid', id: 'grid', 'aria-label': 'Segments' });
    this.grid = new VirtualGrid(gridRoot, {
      rowHeight: ROW_HEIGHT,
      overscan: 8,
      render: (row, p) => this.renderRow(row, p),
      activate: (p) => this.activate(p),
    });
    const panel = this.panel();
    this.ui.notices = el('div', { class: 'notices', 'aria-live': 'polite' });
    this.root.append(top, filters, this.ui.notices, el('div', { class: 'body' }, gridRoot, panel), this.shortcutsDialog());
    if (this.assign) this.root.append(this.assign.dialog);
    if (this.reviewer) this.root.append(this.sendBackDialog());
  }

  private filters(): HTMLElement {
    const select = (id: string, label: string, options: [string, string][], apply: (v: string) => void) => {
      const s = el('select', { id }, ...options.map(([v, t]) => el('option', { value: v }, t))) as HTMLSelectElement;
      s.onchange = () => {
        apply(s.value);
        this.applyFilter(true);
      };
      return [el('label', { for: id }, label), s];
    };
    const qa = el('input', { type: 'checkbox', id: 'filter-qa' }) as HTMLInputElement;
    qa.onchange = () => {
      this.filter.qa = qa.checked;
      this.applyFilter(true);
    };
    const text = el('input', { type: 'search', id: 'filter-text', placeholder: 'Source or target' }) as HTMLInputElement;
    text.oninput = () => {
      this.filter.text = text.value;
      this.applyFilter(true);
    };
    this.ui.count = el('span', { class: 'count', role: 'status' });
    return el('div', { class: 'filters', role: 'search' },
      ...select('filter-state', 'State', [['', 'All'], ['open', 'Not confirmed'], ['awaiting', 'Awaiting post-edit'], ['confirmed', 'Confirmed'], ['approved', 'Approved'], ['reviewed', 'Reviewed']], (v) => (this.filter.state = v)),
      ...select('filter-qe', 'QE', [['', 'Any'], ['low', 'Below 70'], ['mid', '70 to 85'], ['high', '85 and above'], ['none', 'Not scored']], (v) => (this.filter.qe = v)),
      qa, el('label', { for: 'filter-qa' }, 'With QA warnings'),
      ...select('filter-origin', 'Origin', [['', 'Any'], ['tm', 'TM'], ['mt', 'MT'], ['human', 'Human']], (v) => (this.filter.origin = v)),
      el('label', { for: 'filter-text' }, 'Text'), text, this.ui.count);
  }

  private panel(): HTMLElement {
    this.ui.heading = el('h2', { id: 'segment-heading' }, 'Segment');
    this.ui.source = el('div', { class: 'source', id: 'source', lang: this.job.source_lang });
    this.textarea = el('textarea', { id: 'target', rows: '5', lang: this.target, spellcheck: 'true' }) as HTMLTextAreaElement;
    this.textarea.addEventListener('input', () => this.typed());
    this.ui.lock = el('p', { class: 'lock', role: 'status', id: 'lock-state' });
    this.ui.revision = el('p', { class: 'revision', role: 'status', id: 'revision-note' });
    this.ui.qa = el('ul', { class: 'qa', id: 'qa', 'aria-live': 'polite' });
    this.ui.terms = el('ul', { class: 'terms', id: 'terms' });
    this.ui.matches = el('ol', { class: 'matches', id: 'matches' });
    this.ui.mt = el('div', { class: 'mt', id: 'mt' });
    const query = el('input', { type: 'search', id: 'concordance-q' }) as HTMLInputElement;
    this.ui.concordanceQ = query;
    this.ui.concordance = el('ul', { class: 'concordance', id: 'concordance' });
    const search = el('form', { role: 'search', 'aria-label': 'Concordance' },
      el('label', { for: 'concordance-q' }, 'Concordance'), query,
      el('button', { type: 'submit' }, 'Search')) as HTMLFormElement;
    search.onsubmit = (e) => {
      e.preventDefault();
      void this.concordance(query.value);
    };
    return el('aside', { class: 'panel', 'aria-labelledby': 'segment-heading' },
      this.ui.heading,
      el('h3', {}, 'Source'), this.ui.source,
      el('label', { for: 'target' }, 'Translation'), this.textarea, this.ui.lock, this.ui.revision,
      el('div', { class: 'actions' },
        el('button', { type: 'button', onclick: () => this.settle(false, 'confirm'), 'aria-keyshortcuts': 'Control+Enter' }, 'Confirm'),
        this.reviewer ? el('button', { type: 'button', onclick: () => this.settle(false, 'approve') }, 'Approve') : null,
        this.reviewer ? el('button', { type: 'button', onclick: () => this.openSendBack(), 'aria-keyshortcuts': 'Alt+R' }, 'Send back…') : null,
        el('button', { type: 'button', onclick: () => this.copySource(), 'aria-keyshortcuts': 'Control+I' }, 'Copy source')),
      el('h3', {}, 'QA'), this.ui.qa,
      el('h3', {}, 'Glossary'), this.ui.terms,
      el('h3', {}, 'TM matches'), this.ui.matches,
      el('h3', {}, 'Machine translation'), this.ui.mt,
      search, this.ui.concordance);
  }

  private shortcutsDialog(): HTMLElement {
    const mac = /Mac/.test(navigator.platform);
    const rows = BINDINGS.filter((b) => b.action !== 'insert-match' || b.match === 1).map((b) =>
      el('tr', {},
        el('td', {}, el('kbd', {}, b.action === 'insert-match' ? `${displayKeys('Ctrl+Shift', mac)}+1…9` : displayKeys(b.keys, mac))),
        el('td', {}, b.action === 'insert-match' ? 'Insert TM match 1 to 9' : b.label),
        el('td', {}, b.note ?? '')));
    const dialog = el('dialog', { id: 'shortcuts', 'aria-labelledby': 'shortcuts-title' },
      el('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'),
      el('table', {},
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Keys'), el('th', { scope: 'col' }, 'Action'), el('th', { scope: 'col' }, 'Note'))),
        el('tbody', {}, ...rows)),
      el('form', { method: 'dialog' }, el('button', { type: 'submit' }, 'Close')));
    this.ui.shortcuts = dialog;
    return dialog;
  }

  // A reviewer sends the active segment back to post-editing with what to change.
  private sendBackDialog(): HTMLElement {
    const comment = el('textarea', { id: 'send-back-comment', rows: '3', maxlength: '2000', required: 'true' }) as HTMLTextAreaElement;
    const form = el('form', { method: 'dialog' },
      el('label', { for: 'send-back-comment' }, 'What should the post-editor change?'), comment,
      el('div', { class: 'actions' },
        el('button', { type: 'submit', value: 'send' }, 'Send back'),
        el('button', { type: 'button', onclick: () => (this.ui.sendBack as HTMLDialogElement).close() }, 'Cancel'))) as HTMLFormElement;
    form.onsubmit = (e) => {
      e.preventDefault();
      const s = this.segmentAt(this.active);
      const text = comment.value.trim();
      if (!s || text === '') return;
      (this.ui.sendBack as HTMLDialogElement).close();
      comment.value = '';
      s.state = 'awaiting';
      s.revision = { verdict: 'rejected', by: this.myId(), at: new Date().toISOString(), comment: text };
      this.grid.update(this.active);
      this.showSegment(s);
      void this.queue
        .add({ job: this.jobId, target: s.target_lang, index: s.index, kind: 'reject', text, base_version: s.version })
        .then(() => this.queue.flush());
    };
    const dialog = el('dialog', { id: 'send-back', 'aria-labelledby': 'send-back-title' },
      el('h2', { id: 'send-back-title' }, 'Send back to post-editing'), form);
    this.ui.sendBack = dialog;
    return dialog;
  }

  private openSendBack() {
    const s = this.segmentAt(this.active);
    if (!s || !this.reviewer || this.textarea.readOnly || !isClosed(s)) return;
    const d = this.ui.sendBack as HTMLDialogElement;
    if (!d.open) d.showModal();
    (d.querySelector('#send-back-comment') as HTMLTextAreaElement).focus();
  }

  private showShortcuts() {
    const d = this.ui.shortcuts as HTMLDialogElement;
    if (!d.open) d.showModal();
  }

  // ---- The grid ----

  private applyFilter(keepActive: boolean) {
    const activeIndex = this.active >= 0 ? this.all[this.rows[this.active]]?.index : undefined;
    this.rows = filtered(this.all, this.filter);
    this.ui.count.textContent = `${this.rows.length} of ${this.all.length} segments`;
    this.grid.setCount(this.rows.length);
    if (keepActive && activeIndex !== undefined) {
      const p = this.rows.findIndex((r) => this.all[r].index === activeIndex);
      if (p >= 0) this.grid.setActive((this.active = p));
      else if (this.rows.length > 0) this.activate(0);
    }
  }

  private renderRow(row: HTMLElement, p: number) {
    const s = this.all[this.rows[p]];
    clear(row);
    const lock = this.locks.get(`${s.target_lang}/${s.index}`);
    const other = lock && lock.by.id !== this.myId() ? lock.by.name : '';
    row.className = `grid-row state-${s.state}${other ? ' locked' : ''}`;
    const score = s.qe_score !== null && s.qe_score >= 0 ? `QE ${Math.round(s.qe_score)}` : s.tm_score > 0 ? `TM ${s.tm_score}%` : '';
    row.append(
      el('span', { role: 'gridcell', class: 'n' }, String(s.index + 1)),
      el('span', { role: 'gridcell', class: 'src' }, plain(s.source)),
      el('span', { role: 'gridcell', class: `tgt${s.draft ? ' draft' : ''}` }, plain(s.draft || s.target)),
      el('span', { role: 'gridcell', class: 'meta' },
        el('span', { class: `badge ${s.state}` }, s.state.replace('_', ' ')),
        score ? el('span', { class: `score ${qeBand(s.qe_score)}` }, score) : null,
        qaWarnings(s) > 0 ? el('span', { class: 'warn', title: 'QA warnings' }, `⚠ ${qaWarnings(s)}`) : null,
        s.state === 'awaiting' && s.revision?.verdict === 'rejected'
          ? el('span', { class: 'sent-back', title: s.revision.comment }, '↩ sent back') : null,
        other ? el('span', { class: 'holder', title: `${other} is editing` }, `✎ ${other}`) : null));
  }

  private segmentAt(row: number): Segment | undefined {
    return row >= 0 && row < this.rows.length ? this.all[this.rows[row]] : undefined;
  }

  private activate(row: number) {
    if (row < 0 || row >= this.rows.length) return;
    if (row !== this.active) this.saveNow();
    this.active = row;
    this.grid.setActive(row);
    const s = this.segmentAt(row)!;
    this.live?.hold(s.target_lang, s.index);
    this.showSegment(s);
    void this.loadDetail(s);
  }

  private showSegment(s: Segment) {
    this.ui.heading.textContent = `Segment ${s.index + 1} (${s.state.replace('_', ' ')})`;
    this.renderSource(s);
    this.textarea.value = toEditable(s.draft || s.target);
    this.textarea.dataset.index = String(s.index);
    this.textarea.dataset.saved = this.textarea.value;
    this.textarea.lang = s.target_lang;
    this.renderQa(s.review?.qa ?? []);
    this.renderTerms(s.review?.terms ?? []);
    this.renderLock();
    this.renderRevision(s);
    this.renderMt(s);
    clear(this.ui.matches);
    if (document.activeElement !== this.textarea && !this.dialogOpen()) this.textarea.focus();
  }

  private renderSource(s: Segment) {
    clear(this.ui.source);
    const terms = (s.review?.terms ?? []).map((t) => ({
      text: t.source,
      cls: t.source_forbidden ? 'term forbidden' : 'term',
      title: t.targets.map((x) => x.text).join(', ') + (t.forbidden_targets.length ? ` (not: ${t.forbidden_targets.join(', ')})` : ''),
    }));
    this.ui.source.append(markupNode(s.source, terms));
  }

  private async loadDetail(s: Segment) {
    try {
      const d = await call<Segment>('GET', segmentPath(this.jobId, s.target_lang, s.index));
      if (this.segmentAt(this.active)?.index !== s.index) return;
      s.tm_matches = d.tm_matches ?? [];
      s.review = d.review; // the list leaves it out (QA, glossary terms, QE reasons)
      const editing = this.textarea.value !== this.textarea.dataset.saved;
      this.renderSource(s);
      if (!editing) {
        this.renderQa(s.review?.qa ?? []);
        this.renderTerms(s.review?.terms ?? []);
      }
      this.renderMt(s);
      this.renderMatches(s);
    } catch {
      // the list entry is enough to edit
    }
  }

  private renderMatches(s: Segment) {
    clear(this.ui.matches);
    const matches = s.tm_matches ?? [];
    if (matches.length === 0) this.ui.matches.append(el('li', { class: 'none' }, 'No TM match'));
    matches.slice(0, 9).forEach((m, i) => {
      const diff = el('div', { class: 'diff', 'aria-label': 'Differences to this source' });
      for (const part of diffWords(plain(m.source), plain(s.source))) {
        diff.append(part.op === 'same' ? document.createTextNode(part.text) : el(part.op === 'add' ? 'ins' : 'del', {}, part.text));
      }
      this.ui.matches.append(el('li', {},
        el('span', { class: 'score' }, `${m.score}%`), el('kbd', {}, `Ctrl+Shift+${i + 1}`),
        diff, el('div', { class: 'match-target' }, markupNode(m.target))));
    });
  }

  private renderMt(s: Segment) {
    clear(this.ui.mt);
    if (s.origin === 'mt') {
      this.ui.mt.append(el('p', {}, el('span', { class: 'engine' }, s.engine || 'MT'), ' ', markupNode(s.target)));
    } else if (s.engine) {
      // The segment holds a person's text now, not the engine's: it is not shown as the machine's.
      this.ui.mt.append(el('p', { class: 'none' }, `Machine-translated by ${s.engine}, then edited`));
    } else {
      this.ui.mt.append(el('p', { class: 'none' }, s.origin === 'tm' ? 'From the TM' : 'No machine translation'));
    }
    const qe = s.review?.qe;
    if (qe) {
      this.ui.mt.append(el('p', {}, el('span', { class: `score ${qeBand(qe.score)}` }, `QE ${qe.score}`), ` (threshold ${qe.threshold})`),
        el('ul', { class: 'reasons' }, ...(qe.reasons ?? []).map((r) => el('li', {}, r))));
    }
  }

  private renderQa(warnings: QaWarning[]) {
    clear(this.ui.qa);
    if (warnings.length === 0) this.ui.qa.append(el('li', { class: 'none' }, 'No QA warnings'));
    for (const w of warnings) this.ui.qa.append(el('li', { class: `qa-${w.severity}` }, `${w.severity}: ${w.message}`));
  }

  private renderTerms(terms: TermHit[]) {
    clear(this.ui.terms);
    if (terms.length === 0) this.ui.terms.append(el('li', { class: 'none' }, 'No glossary terms'));
    for (const t of terms) {
      this.ui.terms.append(el('li', {}, el('b', {}, t.source), ' → ', t.targets.map((x) => x.text).join(', ') || '—',
        t.forbidden_targets.length ? el('span', { class: 'forbidden' }, ` not: ${t.forbidden_targets.join(', ')}`) : null));
    }
  }

  // The reviewer's last word: what to change (sent back), or that it was approved.
  private renderRevision(s: Segment) {
    const r = s.revision;
    const who = r ? this.names.get(r.by) ?? 'a reviewer' : '';
    this.ui.revision.textContent = !r ? ''
      : r.verdict === 'rejected' ? `Sent back by ${who}: ${r.comment}` : `Approved by ${who}`;
  }

  private renderLock() {
    const s = this.segmentAt(this.active);
    if (!s) return;
    const lock = this.locks.get(`${s.target_lang}/${s.index}`);
    const other = lock && lock.by.id !== this.myId();
    this.textarea.readOnly = !!other;
    this.ui.lock.textContent = other ? `${lock!.by.name} is editing this segment.` : '';
  }

  // ---- Editing ----

  private myId(): string {
    return this.me.user?.id ?? '';
  }

  private typed() {
    const s = this.segmentAt(this.active);
    if (!s) return;
    this.typedAt = performance.now();
    localStorage.setItem(`verso-scratch:${this.jobId}/${s.target_lang}/${s.index}`,
      JSON.stringify({ target: s.target_lang, index: s.index, text: fromEditable(this.textarea.value), base: s.version }));
    clearTimeout(this.checkTimer);
    clearTimeout(this.draftTimer);
    this.checkTimer = window.setTimeout(() => void this.check(s), CHECK_DELAY);
    this.draftTimer = window.setTimeout(() => this.saveNow(), DRAFT_DELAY);
    this.status('saved', 'Editing…');
  }

  private async check(s: Segment) {
    const seq = ++this.checkSeq;
    const typedAt = this.typedAt;
    try {
      const r = await call<{ qa: QaWarning[]; terms: TermHit[] }>('POST', segmentPath(this.jobId, s.target_lang, s.index) + '/check',
        { target: fromEditable(this.textarea.value) });
      if (seq !== this.checkSeq || this.segmentAt(this.active)?.index !== s.index) return;
      this.renderQa(r.qa);
      this.renderTerms(r.terms);
      this.metrics.lastCheckMs = performance.now() - typedAt;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) this.renderQa([{ check: 'markup', severity: 'error', message: e.message }]);
    }
  }

  // Queues the active segment's text as a draft if it changed (on a pause in typing, when
  // leaving the segment, when the view closes).
  private saveNow() {
    clearTimeout(this.draftTimer);
    const s = this.segmentAt(this.active);
    if (!s || !this.textarea || this.textarea.dataset.index !== String(s.index)) return;
    const text = this.textarea.value;
    if (text === this.textarea.dataset.saved) return;
    this.textarea.dataset.saved = text;
    s.draft = fromEditable(text);
    this.grid.update(this.active);
    void this.queue
      .add({ job: this.jobId, target: s.target_lang, index: s.index, kind: 'draft', text: s.draft, base_version: s.version })
      .then(() => {
        localStorage.removeItem(`verso-scratch:${this.jobId}/${s.target_lang}/${s.index}`);
        return this.queue.flush();
      });
  }

  // Ctrl+Enter: a post-editor confirms; a reviewer approves a segment someone settled on (and
  // confirms one that waits for a post-editor).
  private primary(toNext: boolean) {
    const s = this.segmentAt(this.active);
    this.settle(toNext, this.reviewer && s && isClosed(s) ? 'approve' : 'confirm');
  }

  private settle(toNext: boolean, kind: EditKind) {
    const s = this.segmentAt(this.active);
    if (!s || this.textarea.readOnly) return;
    clearTimeout(this.draftTimer);
    clearTimeout(this.checkTimer);
    const text = fromEditable(this.textarea.value);
    if (text.trim() === '') {
      this.renderQa([{ check: 'empty', severity: 'error', message: 'the translation is empty' }]);
      return;
    }
    const row = this.active;
    s.target = text;
    s.draft = '';
    s.state = kind === 'approve' ? 'reviewed' : 'confirmed';
    this.textarea.dataset.saved = this.textarea.value;
    this.grid.update(row);
    void this.queue
      .add({ job: this.jobId, target: s.target_lang, index: s.index, kind, text, base_version: s.version })
      .then(() => {
        localStorage.removeItem(`verso-scratch:${this.jobId}/${s.target_lang}/${s.index}`);
        return this.queue.flush();
      });
    const next = !toNext ? Math.min(row + 1, this.rows.length - 1)
      : kind === 'approve' ? nextToReview(this.all, this.rows, row) : nextOpen(this.all, this.rows, row);
    if (next >= 0 && next !== row) this.activate(next);
  }

  private copySource() {
    const s = this.segmentAt(this.active);
    if (!s || this.textarea.readOnly) return;
    this.textarea.value = toEditable(s.source);
    this.typed();
  }

  private insertMatch(n: number) {
    const s = this.segmentAt(this.active);
    const m = s?.tm_matches?.[n - 1];
    if (!s || !m || this.textarea.readOnly) return;
    this.textarea.value = toEditable(m.target);
    this.typed();
  }

  private async concordance(q: string) {
    clear(this.ui.concordance);
    if (!q.trim()) return;
    if (!this.job.tm_store) {
      this.ui.concordance.append(el('li', { class: 'none' }, 'This job has no TM'));
      return;
    }
    try {
      const r = await call<{ matches: { segment: { source: string; target: string } }[] }>('GET',
        `/v1/tm/${encodeURIComponent(this.job.tm_store)}/concordance?${new URLSearchParams({ q, limit: '20' })}`);
      if (r.matches.length === 0) this.ui.concordance.append(el('li', { class: 'none' }, `Nothing for “${q}”`));
      for (const m of r.matches) {
        this.ui.concordance.append(el('li', {}, el('div', {}, m.segment.source), el('div', { class: 'match-target' }, m.segment.target)));
      }
    } catch (e) {
      this.ui.concordance.append(el('li', { class: 'error' }, e instanceof Error ? e.message : String(e)));
    }
  }

  private dialogOpen(): boolean {
    return !!this.root.querySelector('dialog[open]');
  }

  private onKey(e: KeyboardEvent) {
    const b = bindingFor(e);
    if (!b) return;
    if (this.dialogOpen() && b.action !== 'close') return;
    e.preventDefault();
    e.stopPropagation();
    switch (b.action) {
      case 'confirm-next': return this.primary(false);
      case 'confirm-next-unconfirmed': return this.primary(true);
      case 'send-back': return this.openSendBack();
      case 'next': return this.activate(this.active + 1);
      case 'previous': return this.activate(this.active - 1);
      case 'copy-source': return this.copySource();
      case 'insert-match': return this.insertMatch(b.match ?? 1);
      case 'concordance': {
        const sel = window.getSelection()?.toString() || this.textarea.value.substring(this.textarea.selectionStart, this.textarea.selectionEnd);
        (this.ui.concordanceQ as HTMLInputElement).value = sel;
        void this.concordance(sel);
        return;
      }
      case 'shortcuts': return this.showShortcuts();
      case 'close': {
        const open = this.root.querySelector<HTMLDialogElement>('dialog[open]');
        open?.close();
        this.textarea.focus();
      }
    }
  }

  // ---- What the queue and the live channel report ----

  applied(edit: QueuedEdit, segment: SegmentState) {
    if (edit.job !== this.jobId) return;
    this.merge(segment as Segment, true);
  }

  conflict(edit: QueuedEdit) {
    if (edit.job !== this.jobId) return;
    const theirs = edit.conflict!;
    const box = el('div', { class: 'notice conflict', role: 'alertdialog', 'aria-label': `Conflict on segment ${edit.index + 1}` },
      el('p', {}, `Segment ${edit.index + 1} was changed by ${this.nameOf(theirs.editor)} while you edited it. Both texts are kept; choose:`),
      el('div', { class: 'both' },
        el('div', {}, el('h4', {}, 'Yours'), el('p', { class: 'mine' }, plain(edit.text))),
        el('div', {}, el('h4', {}, 'Theirs'), el('p', { class: 'theirs' }, plain(theirs.draft || theirs.target)))));
    const done = () => box.remove();
    box.append(
      el('button', { type: 'button', onclick: () => { done(); void this.queue.resolve(edit, edit.text).then(() => this.queue.flush()); } }, 'Keep mine'),
      el('button', { type: 'button', onclick: () => { done(); this.merge(theirs as Segment, true, true); void this.queue.resolve(edit, null); } }, 'Keep theirs'));
    this.ui.notices.append(box);
    this.refreshStatus();
  }

  refused(edit: QueuedEdit) {
    if (edit.job !== this.jobId) return;
    const box = el('div', { class: 'notice refused', role: 'alert' },
      el('p', {}, `Segment ${edit.index + 1} was not ${DONE[edit.kind]}: ${edit.refused}`),
      el('p', { class: 'mine' }, plain(edit.text)));
    const done = () => box.remove();
    // A refused rejection's text is the reviewer's comment, not a translation for the editor.
    const back = edit.kind === 'reject' ? undefined : edit.text;
    box.append(el('button', { type: 'button', onclick: () => { done(); void this.queue.resolve(edit, null); this.goTo(edit.index, back); } }, 'Edit it'));
    if ((edit.kind === 'confirm' || edit.kind === 'approve') && /QA/.test(edit.refused ?? '')) {
      box.append(el('button', { type: 'button', onclick: () => { done(); void this.queue.resolve(edit, edit.text, edit.kind, true).then(() => this.queue.flush()); } },
        edit.kind === 'approve' ? 'Approve anyway' : 'Confirm anyway'));
    }
    this.ui.notices.append(box);
    void this.reload(edit.index);
  }

  pendingChanged(_n: number) {
    this.refreshStatus();
  }

  private refreshStatus() {
    const pending = this.queue.pending().filter((e) => e.job === this.jobId);
    const stuck = pending.filter((e) => e.conflict || e.refused).length;
    const waiting = pending.length - stuck;
    this.status('saved', stuck > 0 ? `${stuck} edit${stuck > 1 ? 's' : ''} need you` :
      waiting > 0 ? `${waiting} edit${waiting > 1 ? 's' : ''} waiting to be saved` : 'All changes saved');
  }

  // Goes to a segment (clearing filters that hide it), with `text` in the editor.
  private goTo(index: number, text?: string) {
    let row = this.rows.findIndex((r) => this.all[r].index === index);
    if (row < 0) {
      this.filter = { ...NO_FILTER };
      this.applyFilter(false);
      row = this.rows.findIndex((r) => this.all[r].index === index);
    }
    this.activate(row);
    if (text !== undefined) {
      this.textarea.value = toEditable(text);
      this.typed();
    }
  }

  private async reload(index: number) {
    try {
      const s = await call<Segment>('GET', segmentPath(this.jobId, this.target, index));
      this.merge(s, true, true);
    } catch {
      // stays as it was
    }
  }

  // A segment as the server has it now; `force`: even if not newer than ours.
  private merge(s: Segment, fromServer: boolean, force = false) {
    if (s.target_lang !== this.target) return;
    const at = this.byIndex.get(s.index);
    if (at === undefined) return;
    const mine = this.all[at];
    if (!force && fromServer && s.version < mine.version) return;
    const keep = this.queue.latest(this.jobId, this.target, s.index);
    Object.assign(mine, { ...s, tm_matches: mine.tm_matches });
    if (keep && !keep.conflict && !keep.refused) this.overlayQueued(mine);
    const row = this.rows.indexOf(at);
    if (row >= 0) this.grid.update(row);
    if (row === this.active && row >= 0) {
      const editing = this.textarea.value !== this.textarea.dataset.saved;
      this.ui.heading.textContent = `Segment ${mine.index + 1} (${mine.state.replace('_', ' ')})`;
      this.renderRevision(mine);
      if (!editing) {
        this.textarea.value = toEditable(mine.draft || mine.target);
        this.textarea.dataset.saved = this.textarea.value;
      }
    }
  }

  private onLive(m: any) {
    switch (m.type) {
      case 'hello':
        this.locks.clear();
        for (const l of m.locks as LiveLock[]) this.locks.set(`${l.target}/${l.index}`, l);
        this.setEditors(m.editors);
        this.grid.refresh();
        this.renderLock();
        break;
      case 'presence':
        this.setEditors(m.editors);
        break;
      case 'lock':
      case 'lock_refused':
        this.locks.set(`${m.target}/${m.index}`, m);
        this.lockChanged(m.target, m.index);
        break;
      case 'unlock':
        this.locks.delete(`${m.target}/${m.index}`);
        this.lockChanged(m.target, m.index);
        break;
      case 'segment':
        this.merge(m.segment, true);
        break;
      case 'progress':
        this.updateProgress(m.targets?.[this.target]);
        break;
    }
  }

  private lockChanged(target: string, index: number) {
    if (target !== this.target) return;
    const at = this.byIndex.get(index);
    const row = at === undefined ? -1 : this.rows.indexOf(at);
    if (row >= 0) this.grid.update(row);
    if (row === this.active) this.renderLock();
  }

  // An editor's name from their id (as segments name them), when they are or were on the job.
  private nameOf(id: string): string {
    return this.names.get(id) ?? (id ? 'another editor' : 'someone');
  }
  private names = new Map<string, string>();

  private setEditors(editors: LiveEditor[]) {
    for (const e of editors) this.names.set(e.id, e.name);
    const seen = new Map<string, LiveEditor>();
    for (const e of editors) seen.set(e.id, e);
    this.editors = [...seen.values()];
    clear(this.ui.presence);
    for (const e of this.editors) {
      this.ui.presence.append(el('li', { title: e.name, class: e.id === this.myId() ? 'me' : '' }, e.name));
    }
  }

  private updateProgress(counts: Record<string, number> | undefined) {
    const pct = progress(counts);
    this.ui.progress.setAttribute('value', String(pct));
    this.ui.progressText.textContent = counts ? `${pct} % (${settled(counts)}/${counts.segments})` : '';
  }

  private status(which: 'live' | 'saved', text: string) {
    this.ui[which].textContent = text;
  }

  // For the tests: cut and restore the WebSocket.
  goOffline() {
    this.live.pause();
  }
  goOnline() {
    this.live.resume();
  }
}
