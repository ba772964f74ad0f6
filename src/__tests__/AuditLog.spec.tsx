import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { auditCsvUrl } from '../api';
import { AuditDetail, AuditLog } from '../components/AuditLog';
import { AuditEvent } from '../api';
import { AuditWidget } from '../widgets/audit';
import { formatTime } from '../utils';
import { trans } from './fixtures';

const entry = (seq: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  seq,
  at: '2026-01-01T10:00:00Z',
  action: 'deploy',
  actor: 'alice',
  target: 'deployment/churn',
  outcome: 'ok',
  prev_hash: 'p',
  hash: `abcdef0123456789-${seq}`,
  ...extra
});

describe('AuditLog', () => {
  it('lists entries newest first with a short hash, refused ones marked', () => {
    const onTarget = jest.fn();
    render(
      <AuditLog
        entries={[
          entry(1),
          entry(2, { action: 'traffic', outcome: 'refused', actor: 'bob' })
        ]}
        target=""
        onTarget={onTarget}
        csvUrl="/mlops/api/audit?format=csv"
        trans={trans}
      />
    );
    const rows = screen
      .getByRole('table', { name: 'Audit log' })
      .querySelectorAll('tbody tr');
    expect(rows[0].getAttribute('data-action')).toBe('traffic');
    expect(rows[0].querySelector('.jp-MLOps-error')!.textContent).toBe(
      'refused'
    );
    expect(rows[1].textContent).toContain('abcdef0123');
    expect(
      screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href')
    ).toBe('/mlops/api/audit?format=csv');

    fireEvent.change(screen.getByRole('searchbox', { name: 'Audit target' }), {
      target: { value: ' deployment/churn ' }
    });
    fireEvent.click(screen.getByRole('button', { name: 'Filter' }));
    expect(onTarget).toHaveBeenCalledWith('deployment/churn');
  });

  it('says what gets recorded when there is nothing yet', () => {
    render(
      <AuditLog
        entries={[]}
        target=""
        onTarget={jest.fn()}
        csvUrl=""
        trans={trans}
      />
    );
    expect(screen.getByText(/No audit entries yet/)).toBeTruthy();
  });

  it('builds the CSV export URL under the server base URL', () => {
    expect(auditCsvUrl('http://h/base/', 'model/churn')).toBe(
      'http://h/base/mlops/api/audit?target=model%2Fchurn&format=csv'
    );
  });

  it('reads the ledger again with the target filter', async () => {
    const read = jest.fn(async (target?: string) =>
      target ? [entry(3, { target })] : [entry(1), entry(2)]
    );
    const widget = new AuditWidget(trans, '', read);
    await act(() => widget.reload());
    expect(widget.entries).toHaveLength(2);
    expect(read).toHaveBeenLastCalledWith(undefined);
    widget.dispose();
  });
});

describe('AuditLog detail and time', () => {
  it('shows refused attempts and, on click, what changed before and after', () => {
    render(
      <AuditLog
        entries={[
          entry(1, {
            action: 'traffic',
            outcome: 'refused',
            actor: 'bob',
            before: { weights: { primary: 80, canary: 20 } },
            after: { weights: { primary: 0, canary: 100 } },
            detail: 'bob is not an approver'
          })
        ]}
        target=""
        onTarget={jest.fn()}
        csvUrl=""
        trans={trans}
      />
    );
    const row = screen
      .getByRole('table', { name: 'Audit log' })
      .querySelector('tbody tr')! as HTMLTableRowElement;
    expect(row.className).toContain('jp-MLOps-audit-refused');
    expect(row.getAttribute('data-outcome')).toBe('refused');
    // One format: local time with its zone.
    expect(row.cells[0].textContent).toBe(formatTime('2026-01-01T10:00:00Z'));
    expect(row.cells[0].textContent).toMatch(/UTC|GMT/);
    expect(screen.queryByText('bob is not an approver')).toBeNull();

    fireEvent.click(row);
    expect(row.getAttribute('aria-expanded')).toBe('true');
    expect(screen.getByText('bob is not an approver')).toBeTruthy();
    const before = document.querySelector('[data-side="before"]')!;
    const after = document.querySelector('[data-side="after"]')!;
    expect(JSON.parse(before.textContent!)).toEqual({
      weights: { primary: 80, canary: 20 }
    });
    expect(JSON.parse(after.textContent!)).toEqual({
      weights: { primary: 0, canary: 100 }
    });

    fireEvent.keyDown(row, { key: 'Enter' });
    expect(document.querySelector('[data-side="before"]')).toBeNull();
  });
});

describe('AuditDetail of a refused attempt', () => {
  it('says nothing changed instead of two empty states', () => {
    render(
      <AuditDetail
        event={entry(4, {
          outcome: 'refused',
          detail: 'deployment/churn is protected'
        })}
        trans={trans}
      />
    );
    expect(screen.getByText('deployment/churn is protected')).toBeTruthy();
    expect(
      screen.getByText('Nothing changed: the attempt was refused.')
    ).toBeTruthy();
    expect(document.querySelector('[data-side="before"]')).toBeNull();
  });
});
