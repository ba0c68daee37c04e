"""Ray on a two-node cluster on this machine (ray.cluster_utils.Cluster, loopback only): a worker
killed in the middle of a run is retried and the result is the same bit for bit; a partition that
cannot finish is named and nothing is handed back."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.executors import PartitionsFailed, RayExecutor, import_ray, states
from engine.sources import ParquetSource
from engine.totals import state_digest
from tests.engine.conftest import AS_OF

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a two-node cluster started per test


@dataclass(frozen=True)
class KilledWorkers(ParquetSource):
    """Reading partitions 1 and 4 kills the worker process (SIGKILL, as the OOM killer or a lost
    node would) on its first ``deaths`` attempts; a file per attempt in ``marks`` counts them."""

    marks: str = ""
    deaths: int = 1

    def read(self, part):
        if part.index in (1, 4):
            attempts = len(list(Path(self.marks).glob(f"p{part.index}-*")))
            (Path(self.marks) / f"p{part.index}-{attempts}-{os.getpid()}").touch()
            if attempts < self.deaths:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().read(part)


@pytest.fixture(scope="module")
def two_nodes():
    ray = import_ray()
    ray.shutdown()  # the session's local Ray, if any: the next test that needs it starts it again
    from ray.cluster_utils import Cluster

    # the nodes take this machine's own address (Ray resolves 127.0.0.1 to it when connecting)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_a_worker_killed_mid_run_is_retried_and_the_result_is_identical(
    two_nodes, generated_files, generated_state, tmp_path
):
    ray = import_ray()
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    source = KilledWorkers(str(generated_files[0]), str(generated_files[1]), marks=str(tmp_path))
    [(_, got)] = states(source, [AS_OF], executor=RayExecutor(two_nodes.address, max_retries=2), partitions=6)
    assert got.equals(generated_state) and state_digest(got) == state_digest(generated_state)
    attempts = sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.iterdir())
    assert attempts == ["p1-0", "p1-1", "p4-0", "p4-1"]  # each killed once, each done on its retry


def test_a_partition_that_cannot_finish_is_named(two_nodes, generated_files, tmp_path):
    source = KilledWorkers(str(generated_files[0]), str(generated_files[1]), marks=str(tmp_path), deaths=99)
    with pytest.raises(PartitionsFailed, match=r"2 partition\(s\) failed.*partition 1 .*partition 4 ") as caught:
        list(states(source, [AS_OF], executor=RayExecutor(two_nodes.address, max_retries=1), partitions=6))
    assert caught.value.partitions == [1, 4]
    assert len(list(tmp_path.glob("p1-*"))) == 2  # the first run and its one retry
