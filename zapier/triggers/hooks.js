'use strict';

// One REST-hook trigger per event (API.md "Zapier, webhooks and polling triggers"): Zapier
// subscribes its target URL with POST /v1/hooks and unsubscribes with DELETE; `perform` turns
// a delivery's body into the item; `performList` reads the polling trigger for samples and
// for Zapier's test step, items of the same shape.
const { serverUrl } = require('../authentication');
const samples = require('./samples');

const EVENTS = {
  'call.created': {
    key: 'new_call',
    noun: 'Call',
    label: 'New Call',
    description: 'Triggers when a call from a phone is stored for the first time.',
    list: { path: '/v1/triggers/calls' },
    sample: samples.call,
  },
  'call.missed': {
    key: 'missed_call',
    noun: 'Call',
    label: 'New Missed Call',
    description: 'Triggers when a missed or rejected call is stored for the first time.',
    list: { path: '/v1/triggers/calls?type=missed&type=rejected' },
    sample: { ...samples.call, type: 'missed', duration_s: 0 },
  },
  'lead.created': {
    key: 'new_lead',
    noun: 'Lead',
    label: 'New Lead',
    description: 'Triggers when a lead is created.',
    list: { path: '/v1/triggers/leads' },
    sample: samples.lead,
  },
  'lead.assigned': {
    key: 'lead_assigned',
    noun: 'Lead',
    label: 'Lead Assigned',
    description: 'Triggers when a lead is assigned to an employee.',
    // a delivery's `data` is the lead; the polling trigger's items hold it under `lead`
    list: { path: '/v1/triggers/lead-assignments', item: (entry) => entry.lead },
    sample: samples.lead,
  },
  'followup.due': {
    key: 'followup_due',
    noun: 'Follow-up',
    label: 'Follow-up Due',
    description: 'Triggers when a follow-up reaches its due time without a connected call.',
    list: { path: '/v1/followups?status=overdue' },
    sample: samples.followup,
  },
  'followup.completed': {
    key: 'followup_completed',
    noun: 'Follow-up',
    label: 'Follow-up Completed',
    description: 'Triggers when a connected call with the client completes a follow-up.',
    list: { path: '/v1/followups?status=done' },
    sample: { ...samples.followup, status: 'done', done_at: '2026-03-03T10:42:00+05:30', done_by_call_id: '0f8c2a46-9d0e-5b7f-8a1c-3e2d4b6a8c10' },
  },
  'device.stale': {
    key: 'device_stale',
    noun: 'Device',
    label: 'Phone Went Quiet',
    description: 'Triggers when a phone has sent nothing for longer than the company allows.',
    list: { path: '/v1/devices', only: (device) => device.stale },
    sample: samples.device,
  },
};

const hookTrigger = (event, spec) => ({
  key: spec.key,
  noun: spec.noun,
  display: { label: spec.label, description: spec.description },
  operation: {
    type: 'hook',
    performSubscribe: (z, bundle) =>
      z
        .request({
          method: 'POST',
          url: `${serverUrl(bundle)}/v1/hooks`,
          body: { event, target_url: bundle.targetUrl },
        })
        .then((response) => response.data),
    performUnsubscribe: (z, bundle) =>
      z
        .request({ method: 'DELETE', url: `${serverUrl(bundle)}/v1/hooks/${bundle.subscribeData.id}` })
        .then(() => ({})),
    // a delivery's body is {type, timestamp, data}: the item is `data`
    perform: (z, bundle) => [bundle.cleanedRequest.data],
    performList: (z, bundle) =>
      z
        .request({ url: `${serverUrl(bundle)}${spec.list.path}` })
        .then((response) => {
          const items = response.data.items.map(spec.list.item || ((item) => item));
          return spec.list.only ? items.filter(spec.list.only) : items;
        }),
    sample: spec.sample,
  },
});

module.exports = Object.fromEntries(
  Object.entries(EVENTS).map(([event, spec]) => [spec.key, hookTrigger(event, spec)])
);
module.exports.EVENTS = EVENTS;
