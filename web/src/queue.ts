// Never lose an edit. Every draft, confirm and reviewer's verdict goes through this queue: it is written to a store
// that survives a closed tab (IndexedDB) before it is sent, sent one at a time in order, and
// removed only when the server has answered for it. Each edit carries an id (the server applies
// an id once, so an edit sent again after a lost answer is not applied twice) and the version of
// the segment it was made on (the server refuses it if someone changed the segment since: a
// conflict, which keeps both texts until the editor chooses).

// A reviewer approves (with the text) or rejects (`text` is then their comment).
export type EditKind = 'draft' | 'confirm' | 'approve' | 'reject';

export interface SegmentState {
  index: number;
  target_lang: string;
  target: string;
  draft: string;
  state: string;
  version: number;
  editor: string;
  [more: string]: unknown;
}

export interface QueuedEdit {
  edit_id: string;
  job: string;
  target: string; // the target language
  index: number;
  kind: EditKind;
  text: string;
  base_version: number;
  queued_at: number;
  override_qa?: boolean; // a confirm the editor makes despite QA errors
  // Set when the server refused it as a conflict: the segment as it was then. The edit stays
  // (and is not sent) until the editor resolves it.
  conflict?: SegmentState;
  // Set when the server refused it for a reason the editor must fix (QA errors, a lock, a
  // closed job): the message. Kept, not sent, until the editor resolves it.
  refused?: string;
}

export interface EditStore {
  all(): Promise<QueuedEdit[]>;
  put(edit: QueuedEdit): Promise<void>;
  remove(editId: string): Promise<void>;
}

export class MemoryStore implements EditStore {
  private edits = new Map<string, QueuedEdit>();
  async all() {
    return [...this.edits.values()].map((e) => structuredClone(e));
  }
  async put(edit: QueuedEdit) {
    this.edits.set(edit.edit_id, structuredClone(edit));
  }
  async remove(editId: string) {
    this.edits.delete(editId);
  }
}

// IndexedDB: database "verso-workbench", object store "edits" keyed by edit_id.
export class IdbStore implements EditStore {
  private db: Promise<IDBDatabase>;
  constructor(factory: IDBFactory = indexedDB, name = 'verso-workbench') {
    this.db = new Promise((resolve, reject) => {
      const open = factory.open(name, 1);
      open.onupgradeneeded = () => open.result.createObjectStore('edits', { keyPath: 'edit_id' });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  private async run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.db;
    return new Promise((resolve, reject) => {
      const tx = db.transaction('edits', mode);
      const req = fn(tx.objectStore('edits'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
  async all() {
    const list = await this.run<QueuedEdit[]>('readonly', (s) => s.getAll() as IDBRequest<QueuedEdit[]>);
    return list.sort((a, b) => a.queued_at - b.queued_at);
  }
  async put(edit: QueuedEdit) {
    await this.run('readwrite', (s) => s.put(edit));
  }
  async remove(editId: string) {
    await this.run('readwrite', (s) => s.delete(editId));
  }
}

// What sending an edit came to.
export type SendResult =
  | { kind: 'applied'; segment: SegmentState }
  | { kind: 'offline' } // no answer (network, server restarting, 5xx, 429): try again later
  | { kind: 'conflict'; current: SegmentState }
  | { kind: 'refused'; message: string };

export interface QueueEvents {
  applied?(edit: QueuedEdit, segment: SegmentState): void;
  conflict?(edit: QueuedEdit): void;
  refused?(edit: QueuedEdit): void;
  changed?(pending: number): void;
}

export function newEditId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'ed_' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class EditQueue {
  private edits: QueuedEdit[] = [];
  private flushing: Promise<void> | null = null;
  private again = false;

  constructor(
    private store: EditStore,
    private send: (edit: QueuedEdit) => Promise<SendResult>,
    private events: QueueEvents = {},
    private now: () => number = Date.now,
  ) {}

  // Edits left from before (a closed tab, a reload), oldest first.
  async load(): Promise<void> {
    this.edits = await this.store.all();
    this.edits.sort((a, b) => a.queued_at - b.queued_at);
    this.changed();
  }

  // Queues an edit; it is stored before this resolves. A draft replaces a draft of the same
  // segment that is still waiting (the newer text holds the older); a confirm replaces the
  // waiting drafts of its segment (it carries the text), and so does an approval; a rejection
  // replaces nothing (it carries a comment, not a text).
  async add(e: Omit<QueuedEdit, 'edit_id' | 'queued_at'> & { edit_id?: string }): Promise<QueuedEdit> {
    const edit: QueuedEdit = { ...e, edit_id: e.edit_id ?? newEditId(), queued_at: this.now() };
    const same = (x: QueuedEdit) =>
      x.job === edit.job && x.target === edit.target && x.index === edit.index && x.kind === 'draft' &&
      x.conflict === undefined && x.refused === undefined && x !== this.inFlight;
    const replaced = edit.kind === 'reject' ? [] : this.edits.filter(same);
    await this.store.put(edit);
    for (const r of replaced) await this.store.remove(r.edit_id);
    this.edits = this.edits.filter((x) => !replaced.includes(x));
    this.edits.push(edit);
    this.changed();
    return edit;
  }

  // Edits not yet answered for (conflicts and refusals included).
  pending(): QueuedEdit[] {
    return [...this.edits];
  }

  // The newest waiting text of a segment (what the editor last typed), if any.
  latest(job: string, target: string, index: number): QueuedEdit | undefined {
    const mine = this.edits.filter((x) => x.job === job && x.target === target && x.index === index);
    return mine[mine.length - 1];
  }

  private inFlight: QueuedEdit | null = null;

  // Sends what waits, in order, until the queue is empty or the server cannot be reached.
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.again = false;
          await this.drain();
        } while (this.again);
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const edit = this.edits.find((x) => x.conflict === undefined && x.refused === undefined);
      if (edit === undefined) return;
      this.inFlight = edit;
      let result: SendResult;
      try {
        result = await this.send(edit);
      } catch {
        result = { kind: 'offline' };
      } finally {
        this.inFlight = null;
      }
      if (result.kind === 'offline') return;
      if (result.kind === 'applied') {
        await this.done(edit);
        // Edits of the same segment made on the same version were made on this one's text.
        for (const x of this.edits) {
          if (x.job === edit.job && x.target === edit.target && x.index === edit.index &&
              x.base_version === edit.base_version) {
            x.base_version = result.segment.version;
            await this.store.put(x);
          }
        }
        this.events.applied?.(edit, result.segment);
      } else if (result.kind === 'conflict') {
        edit.conflict = result.current;
        await this.store.put(edit);
        this.events.conflict?.(edit);
      } else {
        edit.refused = result.message;
        await this.store.put(edit);
        this.events.refused?.(edit);
      }
      this.changed();
    }
  }

  // The editor chose after a conflict or a refusal: send `text` (as `kind`) on the segment as
  // it is now, or drop the edit (null: they kept the other text).
  async resolve(edit: QueuedEdit, text: string | null, kind: EditKind = edit.kind, overrideQa = false): Promise<void> {
    await this.done(edit);
    if (text !== null) {
      const base = edit.conflict?.version ?? edit.base_version;
      await this.add({
        job: edit.job, target: edit.target, index: edit.index, kind, text, base_version: base,
        ...(overrideQa ? { override_qa: true } : {}),
      });
    }
    this.changed();
  }

  private async done(edit: QueuedEdit) {
    await this.store.remove(edit.edit_id);
    this.edits = this.edits.filter((x) => x.edit_id !== edit.edit_id);
  }

  private changed() {
    this.events.changed?.(this.edits.length);
  }
}
