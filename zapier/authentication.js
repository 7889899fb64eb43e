'use strict';

// Custom auth: the customer's own server (self-hosted) and an API key created there
// (POST /v1/api-keys). The test is GET /v1/me; the connection is labelled by company name.
const serverUrl = (bundle) => String(bundle.authData.server_url || '').replace(/\/+$/, '');

module.exports = {
  serverUrl,
  authentication: {
    type: 'custom',
    fields: [
      {
        key: 'server_url',
        label: 'Server URL',
        required: true,
        type: 'string',
        helpText: 'Where your closecall report API answers, for example `https://calls.example.com`.',
      },
      {
        key: 'api_key',
        label: 'API key',
        required: true,
        type: 'password',
        helpText: 'An API key of your company (Settings > API keys); `admin` to use webhooks.',
      },
    ],
    test: (z, bundle) =>
      z.request({ url: `${serverUrl(bundle)}/v1/me` }).then((response) => response.data),
    connectionLabel: (z, bundle) => bundle.inputData.company.name,
  },
  // Every request carries the key as a bearer token.
  addApiKey: (request, z, bundle) => {
    if (bundle.authData.api_key) {
      request.headers = request.headers || {};
      request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
    }
    return request;
  },
};
