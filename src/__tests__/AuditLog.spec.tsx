import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { auditCsvUrl } from '../api';
import { AuditLog } from '../components/AuditLog';
import { AuditEvent } from '../governance';
import { AuditWidget } from '../widgets/audit';
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
