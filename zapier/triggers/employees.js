'use strict';

// A hidden trigger feeding the "Employee" dropdowns of the actions: the company's employees who
// are not archived, by name (the id is what the API takes; the email is shown beside it).
const { serverUrl } = require('../authentication');

module.exports = {
  key: 'employee_list',
  noun: 'Employee',
  display: {
    label: 'Employees',
    description: 'Lists the employees (Employees page of the console) for dropdowns.',
    hidden: true,
  },
  operation: {
    perform: (z, bundle) =>
      z.request({ url: `${serverUrl(bundle)}/v1/employees` }).then((response) =>
        response.data.items.map((employee) => ({
          id: employee.id,
          name: employee.email ? `${employee.name} (${employee.email})` : employee.name,
          team: employee.team,
        }))
      ),
    sample: { id: '3b9e4f2a-1c7d-4e8b-9a6f-2d5c8e1b4a70', name: 'Asha Rao (asha@example.com)', team: 'North' },
  },
};
