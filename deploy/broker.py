"""The local Kafka-protocol broker (noida-db): the command line that runs its binary directly.
The `noida-db` console script only wraps the binary in a child process, which a signal to the
wrapper would leave running; so the stack and the tests run the binary itself."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def noida_argv(data_dir: Path, host: str, port: int) -> list[str]:
    binary = Path(str(files("noida_db").joinpath("noida-db")))
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return [
        str(binary),
        "start",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--only",
        "kafka",
        "--kafka-port",
        str(port),
    ]
