import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { DeployForm } from '../components/DeployForm';
import { trans } from './fixtures';

describe('DeployForm', () => {
  const initial = {
    model: 'Churn_Model/3',
    name: 'churn-model',
    target: 'local'
  };

  it('starts from the values given and offers the version and its aliases', () => {
    render(
      <DeployForm
        modelName="Churn_Model"
        version="3"
        aliases={['champion']}
        initial={initial}
        onChange={jest.fn()}
        trans={trans}
      />
    );
    const name = screen.getByRole('textbox', { name: 'Deployment name' });
    expect((name as HTMLInputElement).value).toBe('churn-model');
    const options = screen
      .getAllByRole('option')
      .map(o => (o as HTMLOptionElement).value);
    expect(options).toEqual(['Churn_Model/3', 'Churn_Model@champion']);
  });

  it('offers an isolated process for a new deployment', () => {
    const onChange = jest.fn();
    render(
      <DeployForm
        modelName="Churn_Model"
        version="3"
        aliases={[]}
        initial={initial}
        onChange={onChange}
        trans={trans}
      />
    );
    const isolated = screen.getByRole('checkbox', { name: /Isolated process/ });
    expect((isolated as HTMLInputElement).checked).toBe(false);
    fireEvent.click(isolated);
    expect(onChange).toHaveBeenLastCalledWith({ ...initial, isolated: true });
  });

  it('reports every change and flags a name that is not a DNS label', () => {
    const onChange = jest.fn();
    render(
      <DeployForm
        modelName="Churn_Model"
        version="3"
        aliases={['champion']}
        initial={initial}
        onChange={onChange}
        trans={trans}
      />
    );
    const name = screen.getByRole('textbox', { name: 'Deployment name' });
    expect(name.getAttribute('aria-invalid')).toBe('false');

    fireEvent.change(name, { target: { value: 'Churn_Model' } });
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(onChange).toHaveBeenLastCalledWith({
      ...initial,
      name: 'Churn_Model'
    });

    fireEvent.change(screen.getByRole('combobox', { name: 'Model' }), {
      target: { value: 'Churn_Model@champion' }
    });
    expect(onChange).toHaveBeenLastCalledWith({
      ...initial,
      name: 'Churn_Model',
      model: 'Churn_Model@champion'
    });
  });

  it("shows the previous attempt's error", () => {
    render(
      <DeployForm
        modelName="churn"
        version="1"
        aliases={[]}
        initial={initial}
        error="A deployment named churn-model already exists."
        onChange={jest.fn()}
        trans={trans}
      />
    );
    expect(screen.getByRole('alert').textContent).toBe(
      'A deployment named churn-model already exists.'
    );
  });
});
