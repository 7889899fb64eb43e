'use strict';

const { serverUrl } = require('../authentication');
const samples = require('../triggers/samples');

const ASSIGN = { round_robin: 'Round robin', least_loaded: 'Least loaded', none: 'Nobody' };

module.exports = {
  ASSIGN,
  createLead: {
    key: 'create_lead',
    noun: 'Lead',
    display: {
      label: 'Create Lead',
      description: 'Creates a lead and hands it to an employee (round robin unless you pick one).',
    },
    operation: {
      inputFields: [
        { key: 'primary_number', label: 'Phone number', required: true, helpText: 'Any format; read in the company\'s country unless it starts with +.' },
        { key: 'first_name', label: 'First name' },
        { key: 'last_name', label: 'Last name' },
        { key: 'company', label: 'Company' },
        { key: 'email', label: 'Email' },
        { key: 'secondary_number', label: 'Second phone number' },
        { key: 'notes', label: 'Notes', type: 'text' },
        { key: 'employee_id', label: 'Employee (id or email)', helpText: 'Leave empty to assign automatically.' },
        { key: 'assign', label: 'Assignment', choices: ASSIGN, default: 'round_robin' },
      ],
      perform: (z, bundle) => {
        const { assign, ...fields } = bundle.inputData;
        const body = Object.fromEntries(
          Object.entries(fields).filter(([, value]) => value !== undefined && value !== '')
        );
        return z
          .request({
            method: 'POST',
            url: `${serverUrl(bundle)}/v1/leads`,
            params: assign ? { assign } : {},
            body,
          })
          .then((response) => response.data);
      },
      sample: { ...samples.lead, recent_calls: [] },
    },
  },
};
