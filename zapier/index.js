'use strict';

// The closecall Zapier app (zapier-platform-core, pinned in package.json): custom auth with the
// server URL and an API key, a REST-hook trigger per webhook event, "Create Lead" and "Update
// Lead" (both find or create by number), "Add Numbers", "Find Lead" and "Find or Create Lead". API.md "Zapier, webhooks and polling triggers".
const { version } = require('./package.json');
const { version: platformVersion } = require('zapier-platform-core');

const { authentication, addApiKey } = require('./authentication');
const { EVENTS, ...hookTriggers } = require('./triggers/hooks');
const { createLead, updateLead } = require('./creates/lead');
const addNumbers = require('./creates/numbers');
const createFollowup = require('./creates/followup');
const findLead = require('./searches/lead');
const employeeList = require('./triggers/employees');
const teamList = require('./triggers/teams');

// Errors of the API name the field and the reason; show them to the Zap's owner as they are.
const explainErrors = (response, z) => {
  if (response.status >= 400) {
    const error = (response.data && response.data.error) || {};
    const fields = (error.fields || []).map((f) => `${f.path}: ${f.message}`).join('; ');
    const message = [error.message || `HTTP ${response.status}`, fields].filter(Boolean).join(' - ');
    if (response.status === 401) throw new z.errors.RefreshAuthError(message);
    throw new z.errors.Error(message, error.code || 'http_error', response.status);
  }
  return response;
};

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addApiKey],
  afterResponse: [explainErrors],
  triggers: Object.fromEntries([...Object.values(hookTriggers), employeeList, teamList].map((t) => [t.key, t])),
  creates: {
    [createLead.key]: createLead,
    [updateLead.key]: updateLead,
    [addNumbers.key]: addNumbers,
    [createFollowup.key]: createFollowup,
  },
  searches: { [findLead.key]: findLead },
  // "Find or Create Lead": the search, then Create Lead (itself find-or-create by number)
  searchOrCreates: {
    [findLead.key]: {
      key: findLead.key,
      display: { label: 'Find or Create Lead', description: 'Finds the lead holding a phone number, or creates it.' },
      search: findLead.key,
      create: createLead.key,
    },
  },
};
