'use strict';

const { serverUrl } = require('../authentication');
const { ASSIGN, TEAM } = require('./lead');

module.exports = {
  key: 'add_numbers',
  noun: 'Numbers',
  display: {
    label: 'Add Numbers',
    description: 'Adds phone numbers to call: each becomes a lead with only its number.',
  },
  operation: {
    inputFields: [
      { key: 'numbers', label: 'Phone numbers', required: true, list: true },
      { key: 'employee_id', label: 'Employee', dynamic: 'employee_list.id.name', helpText: 'Every number\'s employee; empty: assigned as chosen below.' },
      { key: 'assign', label: 'Assignment', choices: ASSIGN, default: 'round_robin' },
      TEAM,
    ],
    perform: (z, bundle) => {
      const body = { numbers: [].concat(bundle.inputData.numbers) };
      if (bundle.inputData.employee_id) body.employee_id = bundle.inputData.employee_id;
      if (bundle.inputData.assign) body.assign = bundle.inputData.assign;
      if (bundle.inputData.team) body.team = bundle.inputData.team;
      return z
        .request({ method: 'POST', url: `${serverUrl(bundle)}/v1/numbers`, body })
        .then((response) => response.data);
    },
    sample: { created: 2, updated: 0, skipped: 1, errors: [], dry_run: false },
  },
};
