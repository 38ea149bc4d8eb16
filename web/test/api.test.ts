import { afterEach, describe, expect, it, vi } from 'vitest';
import { sendEdit } from '../src/api';
import type { QueuedEdit } from '../src/queue';

// What each kind of edit asks of the server: its route, method and body.
describe('sendEdit', () => {
  afterEach(() => vi.unstubAllGlobals());
  const sent = async (kind: QueuedEdit['kind'], text: string) => {
    const calls: { url: string; method: string; body: unknown }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, method: String(init.method), body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ index: 2, version: 4 }), { status: 200 });
    });
    const result = await sendEdit({ edit_id: 'ed_1', job: 'job_1', target: 'es', index: 2, kind, text,
      base_version: 3, queued_at: 0 });
    expect(result.kind).toBe('applied');
    return calls[0];
  };
  it('drafts, confirms, approvals and rejections', async () => {
    expect(await sent('draft', 'Hola')).toEqual({ url: '/v1/jobs/job_1/segments/es/2/draft', method: 'PUT',
      body: { target: 'Hola', edit_id: 'ed_1', base_version: 3 } });
    expect(await sent('confirm', 'Hola')).toEqual({ url: '/v1/jobs/job_1/segments/es/2/confirm', method: 'POST',
      body: { target: 'Hola', edit_id: 'ed_1', base_version: 3 } });
    expect(await sent('approve', 'Hola.')).toEqual({ url: '/v1/jobs/job_1/segments/es/2/approve', method: 'POST',
      body: { target: 'Hola.', edit_id: 'ed_1', base_version: 3 } });
    expect(await sent('reject', 'Use usted.')).toEqual({ url: '/v1/jobs/job_1/segments/es/2/reject', method: 'POST',
      body: { comment: 'Use usted.', edit_id: 'ed_1', base_version: 3 } });
  });
});
