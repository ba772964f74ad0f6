import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { ApprovalsView } from '../components/Approvals';
import { Approval, approvalRequestOf } from '../api';
import { MLOpsRequestError } from '../request';
import { ApprovalsWidget } from '../widgets/approvals';
import { trans } from './fixtures';

const variant = (name: string, version: string, weight: number) => ({
  name,
  model_name: 'churn',
  model_version: version,
  weight,
  role: name === 'primary' ? 'primary' : 'canary'
});

const approval = (id: number, extra: Partial<Approval> = {}): Approval => ({
  id,
  action: 'set_traffic',
  target: 'deployment/churn-prod',
  payload: {},
  evidence: {
    change: 'Send 30% to the canary.',
    current: [variant('primary', '1', 90), variant('canary', '2', 10)],
    proposed: [variant('primary', '1', 70), variant('canary', '2', 30)],
    candidate: { model: 'models:/churn/2', metrics: { accuracy: 0.91234 } },
    baseline: { model: 'models:/churn/1', metrics: { accuracy: 0.88 } },
    schema_diff: { added: ['tenure'], removed: [], changed: {} }
  },
  requested_by: 'alice',
  status: 'pending',
  created_at: '2026-01-01T10:00:00Z',
  ...extra
});

describe('ApprovalsView', () => {
  it('shows the evidence and decides pending requests only', () => {
    const onDecide = jest.fn();
    render(
      <ApprovalsView
        approvals={[
          approval(1, { status: 'used', decided_by: 'bob' }),
          approval(2)
        ]}
        status=""
        onStatus={jest.fn()}
        onDecide={onDecide}
        trans={trans}
      />
    );
    const newest = screen.getByRole('region', { name: 'Approval request 2' });
    expect(newest.textContent).toContain('primary=churn/1@90%');
    expect(newest.textContent).toContain('canary=churn/2@30%');
    expect(newest.textContent).toContain('0.9123');
    expect(newest.textContent).toContain('Added: tenure');
    const buttons = screen.getAllByRole('button', { name: 'Grant' });
    expect(buttons).toHaveLength(1); // the used request has no buttons
    fireEvent.click(buttons[0]);
    expect(onDecide).toHaveBeenCalledWith(
      expect.objectContaining({ id: 2 }),
      true
    );
    fireEvent.click(screen.getByRole('button', { name: 'Reject' }));
    expect(onDecide).toHaveBeenLastCalledWith(
      expect.objectContaining({ id: 2 }),
      false
    );
    const old = screen.getByRole('region', { name: 'Approval request 1' });
    expect(old.textContent).toContain('used by bob');
  });

  it('says when nothing waits', () => {
    const onStatus = jest.fn();
    render(
      <ApprovalsView
        approvals={[]}
        status="pending"
        onStatus={onStatus}
        onDecide={jest.fn()}
        trans={trans}
      />
    );
    expect(screen.getByText(/Nothing waits for an approval/)).toBeTruthy();
    fireEvent.change(screen.getByRole('combobox', { name: 'Show approvals' }), {
      target: { value: '' }
    });
    expect(onStatus).toHaveBeenCalledWith('');
  });
});

describe('ApprovalsWidget', () => {
  it('lists pending requests, decides, and reads again', async () => {
    let status = 'pending';
    const list = jest.fn(async (filter?: string) =>
      filter === 'pending' && status === 'pending' ? [approval(7)] : []
    );
    const decide = jest.fn(async (id: number, grant: boolean) => {
      status = grant ? 'granted' : 'rejected';
      return approval(id, { status });
    });
    const widget = new ApprovalsWidget(trans, { list, decide });
    await act(() => widget.reload());
    expect(widget.data).toHaveLength(1);
    expect(list).toHaveBeenLastCalledWith('pending');
    await act(() => widget.decide(approval(7), true, 'looks good'));
    expect(decide).toHaveBeenCalledWith(7, true, 'looks good');
    expect(widget.data).toHaveLength(0);
    widget.node.remove();
    act(() => widget.dispose());
  });

  it('shows a refused decision on the request card', async () => {
    const list = jest.fn(async () => [approval(8)]);
    const decide = jest.fn(async () => {
      throw new MLOpsRequestError(403, 'only approvers may grant');
    });
    const widget = new ApprovalsWidget(trans, { list, decide });
    document.body.appendChild(widget.node);
    await act(() => widget.decide(approval(8), true));
    await act(async () => widget.update());
    expect(widget.node.querySelector('[role="alert"]')!.textContent).toBe(
      'Not decided: only approvers may grant'
    );
    widget.node.remove();
    act(() => widget.dispose());
  });
});

describe('approvalRequestOf', () => {
  it('reads the request from an APPROVAL_REQUIRED refusal only', () => {
    const request = { action: 'promote', target: 'deployment/x', payload: {} };
    expect(
      approvalRequestOf(
        new MLOpsRequestError(403, 'needs an approval', {
          reason: 'APPROVAL_REQUIRED',
          approval_request: request
        })
      )
    ).toEqual(request);
    expect(
      approvalRequestOf(
        new MLOpsRequestError(403, 'not yours', { reason: 'FORBIDDEN' })
      )
    ).toBeNull();
    expect(approvalRequestOf(new Error('network'))).toBeNull();
  });
});
