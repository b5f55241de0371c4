"""The examples run, and check the bytes they migrated themselves."""

import os
import runpy
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def test_kv_connector_example(capsys):
    runpy.run_path(os.path.join(EXAMPLES, "kv_connector.py"), run_name="__main__")
    assert "TP 2 -> TP 1" in capsys.readouterr().out


def test_kv_disaggregated_example():
    # Its own processes, as a user starts it; it bounds its children, this bounds it.
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "kv_disaggregated.py")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "migrated across processes, TP 2 -> TP 1" in done.stdout
