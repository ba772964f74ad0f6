import { fireEvent, render, screen, within } from '@testing-library/react';
import React from 'react';
import { ModelList, VERSIONS_SHOWN } from '../components/ModelList';
import { modelVersion, registeredModel, trans } from './fixtures';

describe('ModelList', () => {
  const churn = registeredModel('churn', [
    modelVersion('churn', '3', { aliases: ['champion'] }),
    modelVersion('churn', '2', { aliases: ['challenger'] }),
    modelVersion('churn', '1')
  ]);
  const fraud = registeredModel('fraud-detector', [
    modelVersion('fraud-detector', '1')
  ]);

  it('shows each model with its versions and aliases', () => {
    const { container } = render(
      <ModelList models={[churn, fraud]} onDeploy={jest.fn()} trans={trans} />
    );

    const rows = container.querySelectorAll('[data-model-name]');
    expect(
      Array.from(rows).map(r => r.getAttribute('data-model-name'))
    ).toEqual(['churn', 'fraud-detector']);
    const churnRow = container.querySelector('[data-model-name="churn"]')!;
    const versions = churnRow.querySelectorAll('[data-version]');
    expect(
      Array.from(versions).map(v => v.getAttribute('data-version'))
    ).toEqual(['3', '2', '1']);
    const v3 = churnRow.querySelector('[data-version="3"]') as HTMLElement;
    expect(within(v3).getByText('@champion')).toBeTruthy();
    expect(within(v3).queryByText('@challenger')).toBeNull();
    // The model header lists every alias of the model.
    const header = churnRow.querySelector('.jp-MLOps-row') as HTMLElement;
    expect(within(header).getByText('@champion')).toBeTruthy();
    expect(within(header).getByText('@challenger')).toBeTruthy();
  });

  it('calls onDeploy with the model and the version whose button was pressed', () => {
    const onDeploy = jest.fn();
    render(
      <ModelList models={[churn, fraud]} onDeploy={onDeploy} trans={trans} />
    );

    fireEvent.click(
      screen.getByRole('button', { name: 'Deploy version 2 of churn' })
    );

    expect(onDeploy).toHaveBeenCalledTimes(1);
    const [model, version] = onDeploy.mock.calls[0];
    expect(model.name).toBe('churn');
    expect(version.version).toBe('2');
  });

  it('has one real, labelled Deploy button per version', () => {
    render(
      <ModelList models={[churn, fraud]} onDeploy={jest.fn()} trans={trans} />
    );

    const buttons = screen.getAllByRole('button', { name: /^Deploy version/ });
    expect(buttons.map(b => b.getAttribute('aria-label'))).toEqual([
      'Deploy version 3 of churn',
      'Deploy version 2 of churn',
      'Deploy version 1 of churn',
      'Deploy version 1 of fraud-detector'
    ]);
    buttons.forEach(b => expect(b.tagName).toBe('BUTTON'));
  });

  it('folds long version lists behind a "Show all" button', () => {
    const many = registeredModel(
      'big',
      Array.from({ length: VERSIONS_SHOWN + 2 }, (_, i) =>
        modelVersion('big', String(VERSIONS_SHOWN + 2 - i))
      )
    );
    const { container } = render(
      <ModelList models={[many]} onDeploy={jest.fn()} trans={trans} />
    );
    expect(container.querySelectorAll('[data-version]')).toHaveLength(
      VERSIONS_SHOWN
    );

    fireEvent.click(
      screen.getByRole('button', { name: /Show all 5 versions/ })
    );

    expect(container.querySelectorAll('[data-version]')).toHaveLength(
      VERSIONS_SHOWN + 2
    );
  });

  it('says when a model has no versions', () => {
    render(
      <ModelList
        models={[registeredModel('empty', [])]}
        onDeploy={jest.fn()}
        trans={trans}
      />
    );
    expect(screen.getByText('No versions registered.')).toBeTruthy();
  });
});
