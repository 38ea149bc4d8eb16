import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { EditQueue, IdbStore, MemoryStore, type EditKind, type QueuedEdit, type SendResult } from '../src/queue';

// A server as the queue sees it: segments with versions; an edit id is applied once. `version`
// and `text` are segment 0's.
class Server {
  versions = new Map<number, number>();
  text = '';
  applied: string[] = [];
  down = false;
  seen = new Set<string>();
  get version() {
    return this.versions.get(0) ?? 0;
  }
  set version(v: number) {
    this.versions.set(0, v);
  }
  send = async (e: QueuedEdit): Promise<SendResult> => {
    if (this.down) return { kind: 'offline' };
    const version = this.versions.get(e.index) ?? 0;
    if (this.seen.has(e.edit_id)) return { kind: 'applied', segment: this.segment(e.index) };
    if (e.base_version !== version) return { kind: 'conflict', current: this.segment(e.index) };
    this.versions.set(e.index, version + 1);
    if (e.index === 0) this.text = e.text;
    this.seen.add(e.edit_id);
    this.applied.push(e.text);
    return { kind: 'applied', segment: this.segment(e.index) };
  };
  segment(index: number) {
    const version = this.versions.get(index) ?? 0;
    return { index, target_lang: 'es', target: this.text, draft: '', state: 'awaiting', version, editor: 'usr_b' };
  }
}

const edit = (text: string, base = 0, kind: EditKind = 'draft') =>
  ({ job: 'job_1', target: 'es', index: 0, kind, text, base_version: base });

describe('EditQueue', () => {
  it('keeps edits while offline and sends them in order when back', async () => {
    const server = new Server();
    server.down = true;
    const q = new EditQueue(new MemoryStore(), server.send);
    await q.add(edit('uno'));
    await q.flush();
    expect(q.pending().length).toBe(1);
    await q.add({ ...edit('uno dos', 0, 'confirm'), index: 1 });
    await q.add(edit('uno tres', 0, 'confirm')); // holds the waiting draft of its segment
    expect(q.pending().map((e) => e.text)).toEqual(['uno dos', 'uno tres']);
    server.down = false;
    await q.flush();
    expect(server.applied).toEqual(['uno dos', 'uno tres']);
    expect(q.pending()).toEqual([]);
  });

  it('a reviewer\'s rejection carries a comment and leaves the waiting draft; an approval holds it', async () => {
    const server = new Server();
    server.down = true;
    const q = new EditQueue(new MemoryStore(), server.send);
    await q.add(edit('texto'));
    await q.add(edit('Falta la tilde.', 0, 'reject'));
    expect(q.pending().map((e) => [e.kind, e.text])).toEqual([['draft', 'texto'], ['reject', 'Falta la tilde.']]);
    await q.add(edit('texto final', 0, 'approve'));
    expect(q.pending().map((e) => e.kind)).toEqual(['reject', 'approve']);
  });

  it('replaces a waiting draft with a newer one of the same segment', async () => {
    const server = new Server();
    server.down = true;
    const q = new EditQueue(new MemoryStore(), server.send);
    await q.add(edit('a'));
    await q.add(edit('ab'));
    await q.add(edit('abc'));
    expect(q.pending().map((e) => e.text)).toEqual(['abc']);
    server.down = false;
    await q.flush();
    expect(server.applied).toEqual(['abc']);
  });

  it('applies an edit sent again once', async () => {
    const server = new Server();
    const q = new EditQueue(new MemoryStore(), server.send);
    const e = await q.add(edit('hola'));
    await q.flush();
    expect(await server.send(e)).toMatchObject({ kind: 'applied', segment: { version: 1 } });
    expect(server.applied).toEqual(['hola']);
  });

  it('keeps both texts on a conflict until the editor chooses', async () => {
    const server = new Server();
    server.version = 4; // someone else saved meanwhile
    server.text = 'theirs';
    const conflicts: QueuedEdit[] = [];
    const q = new EditQueue(new MemoryStore(), server.send, { conflict: (e) => conflicts.push(e) });
    await q.add(edit('mine', 3));
    await q.flush();
    expect(conflicts.length).toBe(1);
    expect(conflicts[0].text).toBe('mine');
    expect(conflicts[0].conflict?.target).toBe('theirs');
    await q.flush(); // not sent again on its own
    expect(server.applied).toEqual([]);
    await q.resolve(conflicts[0], 'mine');
    await q.flush();
    expect(server.text).toBe('mine');
    expect(q.pending()).toEqual([]);
  });

  it('rebases the next edit of a segment on its own applied one', async () => {
    const server = new Server();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = async (e: QueuedEdit) => {
      await gate;
      return server.send(e);
    };
    const q = new EditQueue(new MemoryStore(), slow);
    await q.add(edit('draft', 0));
    const sending = q.flush();
    // Typed on while the draft was on its way: made on the same version, and not a conflict.
    await q.add(edit('final', 0, 'confirm'));
    release();
    await sending;
    await q.flush();
    expect(server.applied).toEqual(['draft', 'final']);
    expect(q.pending()).toEqual([]);
  });

  it('survives a closed tab in IndexedDB', async () => {
    const server = new Server();
    server.down = true;
    const first = new EditQueue(new IdbStore(indexedDB, 'test-reload'), server.send);
    await first.load();
    await first.add(edit('survives'));
    await first.flush();
    server.down = false;
    const second = new EditQueue(new IdbStore(indexedDB, 'test-reload'), server.send);
    await second.load();
    expect(second.pending().map((e) => e.text)).toEqual(['survives']);
    await second.flush();
    expect(server.applied).toEqual(['survives']);
    const third = new EditQueue(new IdbStore(indexedDB, 'test-reload'), server.send);
    await third.load();
    expect(third.pending()).toEqual([]);
  });
});
