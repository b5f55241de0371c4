"""A cluster built from a scenario file's cluster and fabric sections."""

import numpy as np
import pytest

import ferry
from conftest import pattern

SCENARIO = """\
name: two-by-two
cluster: {nodes: 2, gpus_per_node: 2, nics_per_node: 2, nic_rate: 200 Gb/s}
fabric: {provider: %s}
model: llama-3-70b
workloads: [{kind: weight_load, size: 1 GB}]
"""


def scenario_file(tmp_path, fabric):
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO % fabric)
    return str(path)


@pytest.mark.parametrize("fabric,provider", [("emu, seed: 3", "emu"), ("sim, transport: srd", "sim")])
def test_one_engine_per_gpu_on_the_fabrics_provider(tmp_path, fabric, provider):
    with ferry.Cluster.from_scenario(scenario_file(tmp_path, fabric)) as cluster:
        assert cluster.provider == provider
        assert len(cluster) == 4  # 2 nodes x 2 GPUs
        a, d = cluster.engine(0), cluster.engine(3)
        src, dst = pattern(1 << 20, 5), np.zeros(1 << 20, np.uint8)
        keep = a.register_memory(src)
        dst_mem = d.register_memory(dst)
        a.write(3, src, dst_mem.descriptor).wait(30.0)
        np.testing.assert_array_equal(dst, src)
        assert keep.registered


def test_a_malformed_scenario_names_the_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("nodes: 2", "nodes: two") % "emu")
    with pytest.raises(ferry.InvalidArgument) as raised:
        ferry.Cluster.from_scenario(str(path))
    assert "bad.yaml:2:" in str(raised.value)


def test_a_missing_file_and_a_bad_scale_are_refused(tmp_path):
    with pytest.raises(ferry.InvalidArgument) as raised:
        ferry.Cluster.from_scenario(str(tmp_path / "absent.yaml"))
    assert "absent.yaml" in str(raised.value)
    with pytest.raises(ferry.InvalidArgument):
        ferry.Cluster.from_scenario(scenario_file(tmp_path, "emu"), scale=0)
