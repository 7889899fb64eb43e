"""The report API for managers and integrations: accounts, employees, reports and call history."""
