'use strict';

// The app against a real closecall stack started by the Python suite
// (tests/test_zapier_app.py), which passes its URLs, an API key and a device token.
// Zapier's target URL for REST hooks is a server of this test.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const zapier = require('zapier-platform-core');
const App = require('../index');

const appTester = zapier.createAppTester(App);
const { CLOSECALL_API_URL, CLOSECALL_INGEST_URL, CLOSECALL_API_KEY, CLOSECALL_DEVICE_TOKEN } =
  process.env;
const authData = { server_url: `${CLOSECALL_API_URL}/`, api_key: CLOSECALL_API_KEY };

let target;
const deliveries = [];
before(async () => {
  target = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: JSON.parse(body) });
      response.writeHead(200).end();
    });
  });
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
});
after(() => target.close());

const targetUrl = () => `http://127.0.0.1:${target.address().port}/zap`;

const api = (path, options = {}) =>
  fetch(`${CLOSECALL_API_URL}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${CLOSECALL_API_KEY}`, 'Content-Type': 'application/json' },
  });

const eventually = async (check, timeoutMs = 60000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

const uploadCall = async (call) => {
  const response = await fetch(`${CLOSECALL_INGEST_URL}/v1/calls`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${CLOSECALL_DEVICE_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ calls: [call] }),
  });
  assert.equal(response.status, 202, await response.text());
};

const sameKeys = (sample, item) => assert.deepEqual(Object.keys(sample).sort(), Object.keys(item).sort());

test('authentication: tested on /v1/me, labelled with the company name', async () => {
  const me = await appTester(App.authentication.test, { authData });
  assert.ok(me.company.name);
  const label = await appTester(App.authentication.connectionLabel, { authData, inputData: me });
  assert.equal(label, me.company.name);
  await assert.rejects(
    appTester(App.authentication.test, { authData: { ...authData, api_key: 'cc_wrong' } }),
    (error) => error.name === 'RefreshAuthError'
  );
});

test('a REST hook: subscribe, a delivery performed into its item, unsubscribe', async () => {
  const trigger = App.triggers.missed_call.operation;
  const subscribeData = await appTester(trigger.performSubscribe, { authData, targetUrl: targetUrl() });
  assert.equal(subscribeData.event, 'call.missed');
  assert.equal(subscribeData.target_url, targetUrl());
  await uploadCall({
    id: 'zap-1',
    number: '98765 43210',
    type: 'missed',
    started_at: new Date(Date.now() - 60000).toISOString(),
    duration_s: 0,
  });
  const delivery = await eventually(() => deliveries.find((d) => d.body.type === 'call.missed'));
  assert.match(delivery.headers['webhook-signature'], /^v1,/);
  const [item] = await appTester(trigger.perform, { authData, cleanedRequest: delivery.body });
  assert.equal(item.type, 'missed');
  assert.equal(item.number, '+91******3210');
  const listed = await appTester(trigger.performList, { authData });
  assert.ok(listed.some((call) => call.id === item.id));
  assert.deepEqual(listed.find((call) => call.id === item.id), item);
  sameKeys(trigger.sample, item);
  await appTester(trigger.performUnsubscribe, { authData, subscribeData });
  assert.equal((await api(`/v1/hooks/${subscribeData.id}`)).status, 404);
});

test('every trigger subscribes to its own event and lists items shaped like its sample', async () => {
  const events = Object.keys(App.triggers)
    .filter((key) => App.triggers[key].operation.type === 'hook')
    .map((key) => [key, App.triggers[key].operation]);
  assert.equal(events.length, 7);
  for (const [key, trigger] of events) {
    const subscribeData = await appTester(trigger.performSubscribe, { authData, targetUrl: targetUrl() });
    assert.ok(subscribeData.secret.startsWith('whsec_'), key);
    await appTester(trigger.performUnsubscribe, { authData, subscribeData });
    assert.ok(Object.keys(trigger.sample).length > 0, `${key} has a sample`);
  }
});

test('Create Lead, Find Lead by a number in another format, Add Numbers', async () => {
  const created = await appTester(App.creates.create_lead.operation.perform, {
    authData,
    inputData: { first_name: 'Zap', primary_number: '+91 98111 22222', notes: 'from a form' },
  });
  assert.equal(created.first_name, 'Zap');
  sameKeys(App.creates.create_lead.operation.sample, created);
  const [found] = await appTester(App.searches.find_lead.operation.perform, {
    authData,
    inputData: { number: '09811122222' },
  });
  assert.equal(found.id, created.id);
  sameKeys(App.searches.find_lead.operation.sample, found);
  const listed = await appTester(App.triggers.new_lead.operation.performList, { authData });
  assert.equal(listed[0].id, created.id);
  sameKeys(App.triggers.new_lead.operation.sample, listed[0]);
  const assigned = await appTester(App.triggers.lead_assigned.operation.performList, { authData });
  assert.ok(assigned.some((lead) => lead.id === created.id));
  const added = await appTester(App.creates.add_numbers.operation.perform, {
    authData,
    inputData: { numbers: ['9822233333', '+919811122222'] },
  });
  assert.deepEqual({ created: added.created, skipped: added.skipped }, { created: 1, skipped: 1 });
  sameKeys(App.creates.add_numbers.operation.sample, added);
});

test('Create Follow-up on a number in any format; Follow-up Due lists it once overdue', async () => {
  const due = new Date(Date.now() - 60 * 1000).toISOString();
  const made = await appTester(App.creates.create_followup.operation.perform, {
    authData,
    inputData: { number: '098111 55555', due_at: due, note: 'call back' },
  });
  assert.equal(made.status, 'overdue');
  assert.equal(made.note, 'call back');
  sameKeys(App.creates.create_followup.operation.sample, made);
  const listed = await appTester(App.triggers.followup_due.operation.performList, { authData });
  assert.ok(listed.some((item) => item.id === made.id));
  sameKeys(App.triggers.followup_due.operation.sample, listed[0]);
});

test('a Zap run twice makes one lead; Update Lead changes it; Find or Create is declared', async () => {
  const inputData = { first_name: 'Twice', primary_number: '+91 98444 55555' };
  const first = await appTester(App.creates.create_lead.operation.perform, { authData, inputData });
  const second = await appTester(App.creates.create_lead.operation.perform, { authData, inputData });
  assert.equal(second.id, first.id);
  const updated = await appTester(App.creates.update_lead.operation.perform, {
    authData,
    inputData: { primary_number: '09844455555', company: 'Acme Tiles' },
  });
  assert.deepEqual([updated.id, updated.first_name, updated.company], [first.id, 'Twice', 'Acme Tiles']);
  sameKeys(App.creates.update_lead.operation.sample, updated);
  const found = await appTester(App.searches.find_lead.operation.perform, {
    authData,
    inputData: { number: '+919844455555' },
  });
  assert.equal(found.length, 1);
  const pair = App.searchOrCreates.find_lead;
  assert.deepEqual([pair.search, pair.create], ['find_lead', 'create_lead']);
});

test('the Employee dropdowns list the employees by name, and an action takes the chosen id', async () => {
  const made = await api('/v1/employees', {
    method: 'POST',
    body: JSON.stringify({ name: 'Dropdown Dev', email: 'dropdown@example.com', team: 'North' }),
  }).then((response) => response.json());
  const listed = await appTester(App.triggers.employee_list.operation.perform, { authData });
  const chosen = listed.find((employee) => employee.id === made.id);
  assert.deepEqual(chosen, { id: made.id, name: 'Dropdown Dev (dropdown@example.com)', team: 'North' });
  assert.equal(App.creates.create_lead.operation.inputFields.find((f) => f.key === 'employee_id').dynamic, 'employee_list.id.name');
  const lead = await appTester(App.creates.create_lead.operation.perform, {
    authData,
    inputData: { primary_number: '+919877766655', employee_id: chosen.id },
  });
  assert.equal(lead.employee_id, made.id);
});

test('the Team dropdown lists the teams, and a lead is handed out within the chosen one', async () => {
  const south = await api('/v1/employees', {
    method: 'POST',
    body: JSON.stringify({ name: 'South Seller', team: 'South' }),
  }).then((response) => response.json());
  const teams = await appTester(App.triggers.team_list.operation.perform, { authData });
  const chosen = teams.find((team) => team.id === 'South');
  assert.deepEqual(chosen, { id: 'South', name: 'South (1)', employees: 1 });
  assert.equal(App.creates.create_lead.operation.inputFields.find((f) => f.key === 'team').dynamic, 'team_list.id.name');
  for (const number of ['+919877766601', '+919877766602']) {
    const lead = await appTester(App.creates.create_lead.operation.perform, {
      authData,
      inputData: { primary_number: number, team: chosen.id },
    });
    assert.equal(lead.employee_id, south.id); // the team's only employee, each time
  }
  await assert.rejects(
    appTester(App.creates.create_lead.operation.perform, {
      authData,
      inputData: { primary_number: '+919877766603', team: 'Nowhere' },
    }),
    /team: no employee of this team/
  );
});

test("the company's own lead fields are input fields of their kind, and reach the lead", async () => {
  const declared = await api('/v1/lead-fields', {
    method: 'POST',
    body: JSON.stringify({ key: 'stage', label: 'Stage', kind: 'choice', choices: ['Cold', 'Hot'] }),
  });
  assert.equal(declared.status, 201);
  const { customFields } = require('../creates/lead');
  const fields = await appTester(customFields, { authData });
  assert.deepEqual(
    fields.map((f) => [f.key, f.label, f.choices]),
    [['custom__stage', 'Stage', ['Cold', 'Hot']]]
  );
  const lead = await appTester(App.creates.update_lead.operation.perform, {
    authData,
    inputData: { primary_number: '+919866655544', custom__stage: 'hot' },
  });
  assert.deepEqual(lead.custom, { stage: 'Hot' });
});

test("the API's errors reach the Zap's owner with the field and the reason", async () => {
  await assert.rejects(
    appTester(App.creates.create_lead.operation.perform, {
      authData,
      inputData: { primary_number: '9833344444', email: 'not-an-email' },
    }),
    (error) => /email/.test(error.message)
  );
});
