// verso's HTTP API as the workbench uses it: the session cookie goes with every request (same
// origin); errors carry the server's message.
import type { QueuedEdit, SendResult, SegmentState } from './queue';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public body: any = null,
  ) {
    super(message);
  }
}

export async function call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = json?.error ?? {};
    throw new ApiError(res.status, err.code ?? String(res.status), err.message ?? res.statusText, json);
  }
  return json as T;
}

export interface Me {
  user: { id: string; email: string; name: string; role: string; tenant: string };
  scopes?: string[]; // "jobs:review": a reviewer (approve, send back)
}

export interface Job {
  id: string;
  status: string;
  source_lang: string;
  target_langs: string[];
  file_name: string;
  tm_store: string;
  counts: Record<string, number>;
  targets: Record<string, Record<string, number>>;
  updated_at: string;
}

export interface QaWarning {
  check: string;
  severity: string;
  message: string;
}

export interface TermHit {
  source: string;
  term: string;
  source_forbidden: boolean;
  targets: { text: string; status: string }[];
  forbidden_targets: string[];
}

export interface Segment extends SegmentState {
  unit_id: string;
  source: string;
  origin: string;
  tm_score: number;
  repetition: boolean;
  words: number;
  engine: string;
  qe_score: number | null;
  qa_warnings?: number; // the grid's list (?view=compact) counts them instead of the review
  review?: {
    qa?: QaWarning[];
    terms?: TermHit[];
    qe?: { score: number; reasons: string[]; threshold: number } | null;
  } | null;
  tm_matches?: { score: number; source: string; target: string }[];
  // A reviewer's last verdict on the segment.
  revision?: { verdict: 'approved' | 'rejected'; by: string; at: string; comment: string } | null;
}

export const segmentPath = (job: string, target: string, index: number) =>
  `/v1/jobs/${encodeURIComponent(job)}/segments/${encodeURIComponent(target)}/${index}`;

// Sends a queued edit and says what became of it (queue.ts's SendResult).
export async function sendEdit(edit: QueuedEdit): Promise<SendResult> {
  const path = `${segmentPath(edit.job, edit.target, edit.index)}/${edit.kind}`;
  // A rejection carries the reviewer's comment; the rest the text.
  const body: Record<string, unknown> = edit.kind === 'reject'
    ? { comment: edit.text, edit_id: edit.edit_id, base_version: edit.base_version }
    : { target: edit.text, edit_id: edit.edit_id, base_version: edit.base_version };
  if (edit.override_qa) body.override_qa = true;
  try {
    const segment = await call<SegmentState>(edit.kind === 'draft' ? 'PUT' : 'POST', path, body);
    return { kind: 'applied', segment };
  } catch (e) {
    if (!(e instanceof ApiError)) return { kind: 'offline' }; // no answer at all
    if (e.status === 409 && e.code === 'edit_conflict' && e.body?.error?.current) {
      return { kind: 'conflict', current: e.body.error.current };
    }
    if (e.status === 429 || e.status >= 500 || e.status === 401) return { kind: 'offline' };
    return { kind: 'refused', message: e.message };
  }
}
