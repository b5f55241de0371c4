"""The KV connector example runs, and checks the bytes it migrated itself."""

import os
import runpy


def test_kv_connector_example(capsys):
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "kv_connector.py")
    runpy.run_path(path, run_name="__main__")
    assert "TP 2 -> TP 1" in capsys.readouterr().out
