"""Tests of dualstack.strategies: what it generates is what it promises.

Configurations build clusters of their release; valid manifests are accepted and
invalid ones refused with a 422; replaying an operation sequence either succeeds or
fails without changing anything, and leaves a cluster that validates clean.
"""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import DualStackError, InvalidServiceError
from dualstack.strategies import (
    VERSIONS,
    cluster_configs,
    cluster_operations,
    service_manifests,
)

ANY_CONFIG = st.sampled_from(VERSIONS).flatmap(cluster_configs)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), version=st.sampled_from(VERSIONS))
def test_strategies_cluster_configs_of_the_release_dual_stack(data, version):
    config = data.draw(cluster_configs(version))
    assert isinstance(config, ClusterConfig)
    assert config.version == version
    assert sorted(config.pod_families) == ["IPv4", "IPv6"]
    assert config.is_dual_stack
    Cluster(config).add_node("n")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), config=ANY_CONFIG)
def test_strategies_service_manifests_valid_accepted_invalid_refused(data, config):
    good = data.draw(service_manifests(config))
    bad = data.draw(service_manifests(config, valid=False))
    stored = Cluster(config, seed=1).create_service(good)
    assert stored["metadata"]["name"] == good["metadata"]["name"]
    try:
        Cluster(config, seed=1).create_service(bad)
    except InvalidServiceError:
        pass
    else:
        raise AssertionError(f"accepted {bad}")


@settings(max_examples=40, deadline=None)
@given(data=st.data(), config=ANY_CONFIG)
def test_strategies_cluster_operations_fail_cleanly_and_validate(data, config):
    cluster = Cluster(config, seed=2)
    for operation in data.draw(cluster_operations(config)):
        before = cluster.snapshot()
        try:
            operation.apply(cluster)
        except DualStackError:
            assert cluster.snapshot() == before, operation
    assert cluster.validate() == []


def test_strategies_not_imported_by_the_package():
    code = (
        "import sys, dualstack; "
        "print('dualstack.strategies' in sys.modules, 'hypothesis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@settings(max_examples=60, deadline=None)
@given(config=ANY_CONFIG)
def test_strategies_cluster_configs_sizes_as_documented(config):
    # The bounds cluster_configs' docstring states, measured with capacity().
    per_family = config.capacity().per_family
    v4, v6 = per_family["IPv4"], per_family["IPv6"]
    assert 1 <= v4.node_blocks <= 8 and 1 <= v6.node_blocks <= 8
    assert 1 <= v4.pods_per_node <= (1 << 12) - 3
    assert v6.pods_per_node >= 2
    assert 14 <= v4.service_ips <= 62
    assert 15 <= v6.service_ips <= 255
