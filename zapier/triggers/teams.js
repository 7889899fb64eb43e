'use strict';

// A hidden trigger feeding the "Team" dropdowns of the actions: the teams the company's
// employees are in (GET /v1/teams; the Employees page of the console sets them).
const { serverUrl } = require('../authentication');

module.exports = {
  key: 'team_list',
  noun: 'Team',
  display: {
    label: 'Teams',
    description: 'Lists the teams (the Team column of the console\'s Employees page) for dropdowns.',
    hidden: true,
  },
  operation: {
    perform: (z, bundle) =>
      z.request({ url: `${serverUrl(bundle)}/v1/teams` }).then((response) =>
        response.data.items.map((team) => ({ id: team.name, name: `${team.name} (${team.employees})`, employees: team.employees }))
      ),
    sample: { id: 'North', name: 'North (12)', employees: 12 },
  },
};
