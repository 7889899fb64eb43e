"""How closecall runs: the `closecall` command, the local one-command stack and the simulated fleet."""
