'use strict';

const { serverUrl } = require('../authentication');
const samples = require('../triggers/samples');

const ASSIGN = { round_robin: 'Round robin', least_loaded: 'Least loaded', none: 'Nobody' };
// Leads handed out within one team only (the teams of the console's Employees page)
const TEAM = { key: 'team', label: 'Team', dynamic: 'team_list.id.name', helpText: 'Assign among this team\'s employees only (the Team column of the console\'s Employees page). Empty: every employee who takes leads.' };

// PUT by number finds or creates (API.md "Leads"): a Zap that runs twice makes one lead.
const CUSTOM = 'custom__'; // the company's own fields (GET /v1/lead-fields) as input fields

const putLead = (z, bundle) => {
  const { assign, team, primary_number: number, ...fields } = bundle.inputData;
  const given = Object.entries(fields).filter(([, value]) => value !== undefined && value !== '');
  const body = Object.fromEntries(given.filter(([key]) => !key.startsWith(CUSTOM)));
  const custom = given.filter(([key]) => key.startsWith(CUSTOM));
  if (custom.length) body.custom = Object.fromEntries(custom.map(([key, value]) => [key.slice(CUSTOM.length), value]));
  return z
    .request({
      method: 'PUT',
      url: `${serverUrl(bundle)}/v1/leads/by-number/${encodeURIComponent(number)}`,
      params: { ...(assign ? { assign } : {}), ...(team ? { team } : {}) },
      body,
    })
    .then((response) => response.data);
};

const FIELDS = [
  { key: 'primary_number', label: 'Phone number', required: true, helpText: 'Any format; read in the company\'s country unless it starts with +. The lead with this number is updated if there is one.' },
  { key: 'first_name', label: 'First name' },
  { key: 'last_name', label: 'Last name' },
  { key: 'company', label: 'Company' },
  { key: 'email', label: 'Email' },
  { key: 'secondary_number', label: 'Second phone number' },
  { key: 'notes', label: 'Notes', type: 'text' },
  { key: 'employee_id', label: 'Employee', dynamic: 'employee_list.id.name', helpText: 'From the console\'s Employees page (an id, an email or an exact name also works). Leave empty to assign automatically (a new lead) or keep the employee (an existing one).' },
];

// The company's own lead fields, read when the Zap is edited: one input each, of its kind.
const KINDS = { text: 'string', number: 'number', date: 'datetime', choice: 'string' };
const customFields = (z, bundle) =>
  z.request({ url: `${serverUrl(bundle)}/v1/lead-fields` }).then((response) =>
    response.data.items.map((field) => ({
      key: `${CUSTOM}${field.key}`,
      label: field.label,
      type: KINDS[field.kind],
      ...(field.kind === 'choice' ? { choices: field.choices } : {}),
      helpText: field.kind === 'date' ? 'A date (YYYY-MM-DD).' : `One of the company's own lead fields (${field.kind}).`,
    }))
  );

module.exports = {
  customFields,
  ASSIGN,
  TEAM,
  createLead: {
    key: 'create_lead',
    noun: 'Lead',
    display: {
      label: 'Create Lead',
      description: 'Creates a lead and hands it to an employee (round robin unless you pick one); a number that is a lead already updates that lead.',
    },
    operation: {
      inputFields: [...FIELDS, { key: 'assign', label: 'Assignment', choices: ASSIGN, default: 'round_robin' }, TEAM, customFields],
      perform: putLead,
      sample: { ...samples.lead, recent_calls: [], history: [] },
    },
  },
  updateLead: {
    key: 'update_lead',
    noun: 'Lead',
    display: {
      label: 'Update Lead',
      description: 'Updates the lead holding a phone number with the fields given (creates it when none does).',
    },
    operation: {
      inputFields: [...FIELDS, TEAM, customFields],
      perform: putLead,
      sample: { ...samples.lead, recent_calls: [], history: [] },
    },
  },
};
