-- `employee_clients` and `client_hours` (core/calls/client_states.py) gain a row per client for
-- the whole company (employee 0: each column's latest over the employees), which the
-- whole-company unique clients per type, hour of day and weekday read instead of grouping every
-- employee's row by client. The rows stored before have none: every company's states become
-- unusable until the worker's client-state round rebuilt them (the reports read the calls
-- meanwhile).
UPDATE companies SET client_states_from = NULL;
