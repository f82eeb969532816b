"""Sampler: cumulative readings become per-interval samples; failures become gaps."""

from __future__ import annotations

import pytest

from carbonlens.records import Channel, Component, Method, Sample
from carbonlens.sensors._nvml_lib import NvmlError
from carbonlens.sensors.base import Host
from carbonlens.sensors.nvml import NvmlSensor
from carbonlens.testing.fakes import FakeClock, FakeSensor, FakeShares
from carbonlens.testing.nvml import FakeGpu, FakeNvml
from carbonlens.tracking.attribution import Shares
from carbonlens.tracking.sampler import Sampler

CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
GPU = Channel("fake", Component.GPU, "gpu0", Method.SAMPLED)
RAM = Channel("fake", Component.RAM, "ram", Method.MODELLED)


def _sampler(
    *sensors: FakeSensor, shares: FakeShares | None = None
) -> tuple[Sampler, FakeClock, list[Sample]]:
    clock = FakeClock()
    sink: list[Sample] = []
    sampler = Sampler(list(sensors), clock, sink.extend, shares=shares, interval_s=1.0)
    return sampler, clock, sink


def test_counter_deltas_become_samples_with_elapsed_time() -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[10.0, 15.0, 27.5]))
    assert sampler.tick() == []  # baseline
    clock.advance(1.0)
    sampler.tick()
    clock.advance(2.0)
    sampler.tick()
    assert [(s.t_s, s.duration_s, s.energy_j) for s in sink] == [(1.0, 1.0, 5.0), (3.0, 2.0, 12.5)]
    # 12.5 J over 2 s is a mean of 6.25 W
    assert sink[1].power_w == pytest.approx(6.25)


def test_power_only_channel_is_integrated_by_trapezoid() -> None:
    sampler, clock, sink = _sampler(FakeSensor(GPU, power_w=[100.0, 200.0, 200.0]))
    sampler.tick()
    clock.advance(2.0)
    sampler.tick()
    clock.advance(0.5)
    sampler.tick()
    # (100 + 200) / 2 * 2 s = 300 J; then 200 W * 0.5 s = 100 J
    assert [s.energy_j for s in sink] == [pytest.approx(300.0), pytest.approx(100.0)]


def test_failed_read_is_a_gap_that_the_counter_closes() -> None:
    sensor = FakeSensor(CPU, energy_j=[10.0, RuntimeError("EIO"), 30.0])
    sampler, clock, sink = _sampler(sensor)
    sampler.tick()
    clock.advance(1.0)
    assert sampler.tick() == []
    clock.advance(1.0)
    sampler.tick()
    # the counter covers the gap: 20 J over the 2 s since the last good read
    assert [(s.duration_s, s.energy_j) for s in sink] == [(2.0, 20.0)]
    assert sampler.read_errors == {"fake": 1}


def test_counter_going_backwards_is_not_negative_energy() -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[50.0, 10.0, 13.0]))
    for _ in range(3):
        sampler.tick()
        clock.advance(1.0)
    # 50 -> 10 is dropped (gap); 10 -> 13 counts
    assert [s.energy_j for s in sink] == [3.0]
    assert sampler.read_errors == {"fake": 1}


def test_process_share_from_attribution_and_from_sensor() -> None:
    cpu = FakeSensor(CPU, energy_j=[0.0, 10.0])
    ram = FakeSensor(RAM, energy_j=[0.0, 4.0])
    gpu = FakeSensor(GPU, power_w=[100.0, 100.0], share_ratio=0.75)
    sampler, clock, sink = _sampler(cpu, ram, gpu, shares=FakeShares(0.5, 0.25, pids=[42]))
    sampler.tick()
    clock.advance(1.0)
    sampler.tick()
    by_component = {s.channel.component: s.process_energy_j for s in sink}
    # cpu 10 J x 0.5, ram 4 J x 0.25, gpu 100 J x 0.75 (the sensor's own share wins)
    assert by_component == {
        Component.CPU: pytest.approx(5.0),
        Component.RAM: pytest.approx(1.0),
        Component.GPU: pytest.approx(75.0),
    }
    assert cpu.pids_seen[-1] == frozenset({42})


def test_store_failure_does_not_escape_tick() -> None:
    clock = FakeClock()

    def broken_sink(samples: list[Sample]) -> None:
        raise OSError("disk full")

    sampler = Sampler([FakeSensor(CPU, energy_j=[0.0, 1.0])], clock, broken_sink)
    sampler.tick()
    clock.advance(1.0)
    assert len(sampler.tick()) == 1
    assert sampler.read_errors == {"store": 1}


def test_background_thread_ticks_and_stop_takes_final_reading() -> None:
    sensor = FakeSensor(CPU, energy_j=[float(i) for i in range(1000)])
    clock = FakeClock()
    sink: list[Sample] = []
    sampler = Sampler([sensor], clock, sink.extend, interval_s=3600.0)
    sampler.start()
    clock.advance(5.0)
    sampler.stop()
    # baseline at start, final tick at stop: one sample covering the 5 s
    assert [(s.t_s, s.energy_j) for s in sink] == [(5.0, 1.0)]


def test_tick_without_elapsed_time_keeps_the_baseline() -> None:
    sampler, clock, sink = _sampler(FakeSensor(CPU, energy_j=[0.0, 4.0, 9.0]))
    sampler.tick()
    sampler.tick()  # same instant: reading 4.0 is not a new baseline
    clock.advance(1.0)
    sampler.tick()
    # 9 J since the baseline at 0 J, none lost
    assert [s.energy_j for s in sink] == [9.0]


def test_a_lost_gpu_leaves_a_gap_on_its_own_channel_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost = NvmlError(15, "GPU is lost")  # NVML_ERROR_GPU_IS_LOST: every later call fails
    # open and the first tick take the baselines (0 mJ); then 300 J a second on gpu0
    gpu0 = FakeGpu(energy_mj=[0, 0, 300_000, 600_000, 900_000])
    gpu1 = FakeGpu(energy_mj=[0, 0, 250_000, lost])
    sensor = NvmlSensor.open(Host(env={}), lib=FakeNvml([gpu0, gpu1]))
    clock = FakeClock()
    sink: list[Sample] = []
    sampler = Sampler([sensor], clock, sink.extend, interval_s=1.0)
    for _ in range(3):
        clock.advance(1.0)
        sampler.tick()
    clock.advance(1.0)
    sampler.stop()
    by_gpu = {d: [s.energy_j for s in sink if s.channel.device == d] for d in ("gpu0", "gpu1")}
    # gpu0 goes on, 300 J a second; gpu1 gave its first second (250 J) and then nothing
    assert by_gpu == {"gpu0": [300.0, 300.0, 300.0], "gpu1": [250.0]}
    flags = {(f.channel, f.kind.value): f.count for f in sampler.quality_flags}
    assert flags == {("nvml/gpu/gpu1", "read_error"): 2, ("nvml/gpu/gpu1", "gap"): 1}
    assert sampler.read_errors == {"nvml": 2}
    warnings = [r.getMessage() for r in caplog.records if "gpu1" in r.getMessage()]
    assert warnings == [
        "carbonlens: sensor nvml failed on gpu1 (GPU is lost); that channel has a gap"
    ]


def test_a_reading_held_as_a_possible_spike_keeps_the_share_of_its_own_interval() -> None:
    # 10 W, then a step to 200 W (held one tick: 20x the level), confirmed by 200 W
    cpu = FakeSensor(CPU, energy_j=[0.0, 10.0, 20.0, 220.0, 420.0])
    shares = FakeShares(0.5, None)
    sampler, clock, sink = _sampler(cpu, shares=shares)
    for ratio in (0.5, 0.5, 0.5, 0.8, 0.2):
        shares.shares = Shares(ratio, None, frozenset())
        sampler.tick()
        clock.advance(1.0)
    # the 200 J interval ending at t=3 s was read with share 0.8 and emitted a tick
    # later, when the share was 0.2: it keeps 0.8 (160 J); the next one has 0.2 (40 J)
    assert [(s.t_s, s.energy_j, s.process_energy_j) for s in sink] == [
        (1.0, 10.0, 5.0),
        (2.0, 10.0, 5.0),
        (3.0, 200.0, pytest.approx(160.0)),
        (4.0, 200.0, pytest.approx(40.0)),
    ]
