// The manager's view of a job's assignments: who edits which segments (PUT /v1/jobs/{id}/
// assignments replaces the whole list). Segment numbers are shown from 1, as the grid shows them.
import { call } from './api';
import { clear, el } from './dom';

interface Assignment {
  user_id: string;
  target_lang: string;
  from: number;
  to: number;
}
interface User {
  id: string;
  email: string;
  name: string;
  role: string;
  disabled: boolean;
}

export class AssignDialog {
  readonly dialog: HTMLDialogElement;
  private list: HTMLElement;
  private error: HTMLElement;
  private user: HTMLSelectElement;
  private target: HTMLSelectElement;
  private from: HTMLInputElement;
  private to: HTMLInputElement;
  private current: Assignment[] = [];
  private users: User[] = [];

  constructor(private jobId: string, targets: string[]) {
    this.list = el('tbody', {});
    this.error = el('p', { class: 'error', role: 'alert' });
    this.user = el('select', { id: 'assign-user' }) as HTMLSelectElement;
    this.target = el('select', { id: 'assign-target' }, ...targets.map((t) => el('option', { value: t }, t))) as HTMLSelectElement;
    this.from = el('input', { id: 'assign-from', type: 'number', min: '1', value: '1' }) as HTMLInputElement;
    this.to = el('input', { id: 'assign-to', type: 'number', min: '1', value: '1' }) as HTMLInputElement;
    const form = el('form', { class: 'assign-form' },
      el('label', { for: 'assign-user' }, 'User'), this.user,
      el('label', { for: 'assign-target' }, 'Target'), this.target,
      el('label', { for: 'assign-from' }, 'From segment'), this.from,
      el('label', { for: 'assign-to' }, 'To segment'), this.to,
      el('button', { type: 'submit' }, 'Assign')) as HTMLFormElement;
    form.onsubmit = (e) => {
      e.preventDefault();
      void this.save([...this.current, {
        user_id: this.user.value, target_lang: this.target.value,
        from: Number(this.from.value) - 1, to: Number(this.to.value) - 1,
      }]);
    };
    this.dialog = el('dialog', { id: 'assign', 'aria-labelledby': 'assign-title' },
      el('h2', { id: 'assign-title' }, 'Who edits which segments'),
      el('p', {}, 'A job without assignments is open to every post-editor of the team; once assigned, each sees and edits only their ranges.'),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['User', 'Target', 'Segments', ''].map((t) => el('th', { scope: 'col' }, t)))),
        this.list),
      form, this.error,
      el('form', { method: 'dialog' }, el('button', { type: 'submit' }, 'Close'))) as HTMLDialogElement;
  }

  async open() {
    this.error.textContent = '';
    try {
      const [users, assigned] = await Promise.all([
        call<{ users: User[] }>('GET', '/v1/users?limit=1000'),
        call<{ assignments: Assignment[] }>('GET', `/v1/jobs/${encodeURIComponent(this.jobId)}/assignments`),
      ]);
      this.users = users.users.filter((u) => !u.disabled);
      this.current = assigned.assignments;
    } catch (e) {
      this.error.textContent = e instanceof Error ? e.message : String(e);
    }
    clear(this.user);
    for (const u of this.users) this.user.append(el('option', { value: u.id }, `${u.name || u.email} (${u.role})`));
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
  }

  private name(id: string): string {
    const u = this.users.find((x) => x.id === id);
    return u ? u.name || u.email : id;
  }

  private render() {
    clear(this.list);
    if (this.current.length === 0) {
      this.list.append(el('tr', {}, el('td', { colspan: '4' }, 'Open to everyone')));
    }
    this.current.forEach((a, i) => {
      this.list.append(el('tr', {},
        el('td', {}, this.name(a.user_id)), el('td', {}, a.target_lang), el('td', {}, `${a.from + 1}–${a.to + 1}`),
        el('td', {}, el('button', {
          type: 'button', 'aria-label': `Remove ${this.name(a.user_id)} ${a.from + 1}–${a.to + 1}`,
          onclick: () => void this.save(this.current.filter((_, k) => k !== i)),
        }, 'Remove'))));
    });
  }

  private async save(list: Assignment[]) {
    try {
      const r = await call<{ assignments: Assignment[] }>('PUT', `/v1/jobs/${encodeURIComponent(this.jobId)}/assignments`, { assignments: list });
      this.current = r.assignments;
      this.error.textContent = '';
      this.render();
    } catch (e) {
      this.error.textContent = e instanceof Error ? e.message : String(e);
    }
  }
}
