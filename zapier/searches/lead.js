'use strict';

const { serverUrl } = require('../authentication');
const samples = require('../triggers/samples');

module.exports = {
  key: 'find_lead',
  noun: 'Lead',
  display: { label: 'Find Lead', description: 'Finds the lead holding a phone number.' },
  operation: {
    inputFields: [{ key: 'number', label: 'Phone number', required: true, helpText: 'Any format.' }],
    perform: (z, bundle) =>
      z
        .request({
          url: `${serverUrl(bundle)}/v1/leads`,
          params: { number: bundle.inputData.number, limit: 1 },
        })
        .then((response) => response.data.items),
    sample: samples.lead,
  },
};
