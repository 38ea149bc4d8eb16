// A virtualised grid: only the rows in view (and a few around) exist in the DOM, whatever the
// job's size, so a 50,000-segment job opens and scrolls as a 50-segment one. Rows have one
// height; the active segment is edited in the panel beside the grid.

export interface GridOptions {
  rowHeight: number;
  overscan: number;
  render(row: HTMLElement, position: number): void; // fills a row for a position
  activate(position: number): void;
}

export class VirtualGrid {
  private spacer: HTMLElement;
  private pool = new Map<number, HTMLElement>();
  private count = 0;
  active = -1;
  private frame = 0;

  constructor(
    private root: HTMLElement,
    private options: GridOptions,
  ) {
    root.setAttribute('role', 'grid');
    root.tabIndex = 0;
    this.spacer = document.createElement('div');
    this.spacer.className = 'grid-spacer';
    this.spacer.setAttribute('role', 'rowgroup');
    root.append(this.spacer);
    root.addEventListener('scroll', () => this.schedule());
    root.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('[data-position]');
      if (row) this.options.activate(Number(row.dataset.position));
    });
    new ResizeObserver(() => this.schedule()).observe(root);
  }

  setCount(count: number) {
    this.count = count;
    this.root.setAttribute('aria-rowcount', String(count));
    this.spacer.style.height = `${count * this.options.rowHeight}px`;
    this.refresh();
  }

  // Renders the rows in view again (their data changed).
  refresh() {
    for (const [, row] of this.pool) row.remove();
    this.pool.clear();
    this.draw();
  }

  // Re-renders one position if it is in view.
  update(position: number) {
    const row = this.pool.get(position);
    if (row) this.fill(row, position);
  }

  setActive(position: number) {
    const old = this.pool.get(this.active);
    this.active = position;
    if (old) old.setAttribute('aria-selected', 'false');
    const now = this.pool.get(position);
    if (now) now.setAttribute('aria-selected', 'true');
    this.scrollTo(position);
  }

  scrollTo(position: number) {
    const h = this.options.rowHeight;
    const top = position * h;
    if (top < this.root.scrollTop) this.root.scrollTop = top;
    else if (top + h > this.root.scrollTop + this.root.clientHeight) {
      this.root.scrollTop = top + h - this.root.clientHeight;
    }
    this.draw();
  }

  private schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw() {
    const h = this.options.rowHeight;
    const first = Math.max(0, Math.floor(this.root.scrollTop / h) - this.options.overscan);
    const visible = Math.ceil((this.root.clientHeight || 600) / h);
    const last = Math.min(this.count - 1, first + visible + 2 * this.options.overscan);
    for (const [position, row] of this.pool) {
      if (position < first || position > last) {
        row.remove();
        this.pool.delete(position);
      }
    }
    for (let p = first; p <= last; p++) {
      if (this.pool.has(p)) continue;
      const row = document.createElement('div');
      row.className = 'grid-row';
      row.setAttribute('role', 'row');
      row.dataset.position = String(p);
      row.style.top = `${p * h}px`;
      row.style.height = `${h}px`;
      this.fill(row, p);
      this.spacer.append(row);
      this.pool.set(p, row);
    }
  }

  private fill(row: HTMLElement, position: number) {
    row.setAttribute('aria-rowindex', String(position + 1));
    row.setAttribute('aria-selected', position === this.active ? 'true' : 'false');
    this.options.render(row, position);
  }

  rendered(): number {
    return this.pool.size;
  }
}
