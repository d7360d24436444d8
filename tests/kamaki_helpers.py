"""Running the kamaki CLI in tests: a subprocess of ``python -m synnefo.client.cli`` (what the
``kamaki`` entry point runs) with its own config file, and its exit status, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


class Kamaki:
    def __init__(self, config: Path, cwd: Path):
        self.config, self.cwd = config, cwd

    def __call__(self, *args: str, expect: int | None = 0, stdin: str | None = None) -> Result:
        env = dict(os.environ, KAMAKI_CONFIG=str(self.config))
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
        proc = subprocess.run([sys.executable, "-m", "synnefo.client.cli", *args], env=env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL if stdin is None else None, input=stdin)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if expect is not None:
            assert result.code == expect, f"kamaki {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
        return result

    def json(self, *args: str):
        return self("--output-format", "json", *args).json
