'use strict';

const { serverUrl } = require('../authentication');
const samples = require('../triggers/samples');

// POST /v1/followups (API.md "Leads"): a time to call a client back, on a number (the lead
// holding it, if any) for an employee, whose phone is reminded at that time.
module.exports = {
  key: 'create_followup',
  noun: 'Follow-up',
  display: {
    label: 'Create Follow-up',
    description: "Schedules a call back to a client: the employee's phone is reminded at the time, and the first connected call with the client completes it.",
  },
  operation: {
    inputFields: [
      { key: 'number', label: 'Phone number', required: true, helpText: "Any format; read in the company's country unless it starts with +." },
      { key: 'due_at', label: 'Due', type: 'datetime', required: true, helpText: 'When to call back.' },
      { key: 'note', label: 'Note', type: 'text' },
      { key: 'employee_id', label: 'Employee', dynamic: 'employee_list.id.name', helpText: "From the console's Employees page. Empty: nobody (the lead's employee when the follow-up is made on a lead in the console)." },
    ],
    perform: (z, bundle) => {
      const { number, due_at: dueAt, note, employee_id: employeeId } = bundle.inputData;
      const body = { number, due_at: dueAt };
      if (note) body.note = note;
      if (employeeId) body.employee_id = employeeId;
      return z
        .request({ method: 'POST', url: `${serverUrl(bundle)}/v1/followups`, body })
        .then((response) => response.data);
    },
    sample: samples.followup,
  },
};
