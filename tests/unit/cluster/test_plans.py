"""What the Ray layer asks of Ray, computed without starting it."""

from __future__ import annotations

import pytest

from openrerank import EngineConfig, ModelConfig
from openrerank.batch.rows import RowFailure, RowResult, ScoredDocument
from openrerank.cluster.data import RayPlan, decode, encode
from openrerank.cluster.runtime import cluster_error, local_cpus
from openrerank.cluster.serve import _scaling, replica_cpus, replica_threads
from openrerank.config import ReplicaConfig, ServerConfig

ENGINE = EngineConfig(model=ModelConfig(name="m"))


def test_an_actor_runs_as_many_model_threads_as_it_reserves_cpus_unless_told() -> None:
    assert RayPlan(cpus_per_actor=2.5).actor_engine(ENGINE).model.threads == 2
    assert RayPlan(cpus_per_actor=0.5).actor_engine(ENGINE).model.threads == 1
    pinned = EngineConfig(model=ModelConfig(name="m", threads=3))
    assert RayPlan(cpus_per_actor=1).actor_engine(pinned).model.threads == 3


def test_a_private_ray_always_has_a_cpu_left_for_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert local_cpus(2.0) == 3
    assert local_cpus(0.5) == 2


def test_outcomes_cross_the_pipeline_unchanged() -> None:
    result = RowResult(7, (ScoredDocument(1, 0.75, "d1"), ScoredDocument(0, 0.5)), pairs=2)
    failure = RowFailure("x", "in.jsonl:3 (id 'x'): empty")
    assert decode(encode(result)) == result
    assert decode(encode(failure)) == failure


def test_fixed_replicas_or_autoscaling_bounds() -> None:
    assert _scaling(ReplicaConfig(replicas=3)) == {"num_replicas": 3}
    scaling = _scaling(ReplicaConfig(replicas=2, max_replicas=4, target_ongoing_requests=6))
    assert scaling == {
        "autoscaling_config": {
            "min_replicas": 1,
            "initial_replicas": 2,
            "max_replicas": 4,
            "target_ongoing_requests": 6,
        }
    }
    with pytest.raises(ValueError, match="min_replicas"):
        ReplicaConfig(replicas=5, min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match="replicas <= max_replicas"):
        ReplicaConfig(replicas=3, max_replicas=2)
    with pytest.raises(ValueError, match="give max_replicas too"):
        ReplicaConfig(min_replicas=2)


def test_local_replicas_share_this_machines_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert replica_cpus(ReplicaConfig(ray="local", replicas=2)) == 4.0
    assert replica_cpus(ReplicaConfig(ray="local", replicas=1, max_replicas=4)) == 2.0
    assert replica_cpus(ReplicaConfig(ray="10.0.0.1:6379", replicas=2)) == 1.0
    assert replica_cpus(ReplicaConfig(ray="local", cpus_per_replica=0.5)) == 0.5
    config = replica_threads(ServerConfig(models=(ENGINE,)), 4.0)
    assert config.models[0].model.threads == 4


def test_a_failed_ray_job_reads_as_the_error_that_killed_its_actor() -> None:
    report = RuntimeError(
        "The actor died because of an error raised in its creation task\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "openrerank.errors.ModelLoadError: cannot read /models/m: permission denied\n"
        "ray.exceptions.ActorDiedError: The actor died"
    )
    assert str(cluster_error(report)) == (
        "the Ray job failed: ModelLoadError: cannot read /models/m: permission denied"
    )
    assert str(cluster_error(ValueError(""))) == "the Ray job failed: ValueError: ValueError"
