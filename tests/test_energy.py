"""Energy meters against fake sysfs trees / fake commands, and the integration math by hand."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from edgefer.errors import EdgeferError
from edgefer.runner.energy import auto_meter, open_meter
from edgefer.runner.energy.android import to_amps, to_volts
from edgefer.runner.energy.base import Meter, integrate, power_series
from edgefer.runner.energy.recorder import EnergyRecorder, estimated
from edgefer.runner.energy.vcgencmd import parse_pmic_adc

PMIC = """\
     3V7_WL_SW_A current(0)=0.10000000A
     3V3_SYS_A current(1)=0.20000000A
    VDD_CORE_A current(7)=2.00000000A
     3V7_WL_SW_V volt(8)=3.70000000V
     3V3_SYS_V volt(9)=3.30000000V
    VDD_CORE_V volt(15)=0.80000000V
    EXT5V_V volt(24)=5.10000000V
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


# -- integration math ----------------------------------------------------------------------


def test_integrate_power_trapezoid_with_interpolated_edges():
    s = 1_000_000_000
    samples = [(0, 2.0), (1 * s, 4.0), (2 * s, 4.0), (3 * s, 0.0)]
    # window [0.5 s, 2.5 s]: P(0.5)=3, P(1)=4, P(2)=4, P(2.5)=2
    # trapezoids: 0.5*(3+4)/2 + 1*(4+4)/2 + 0.5*(4+2)/2 = 1.75 + 4 + 1.5 = 7.25 J
    assert integrate(samples, s // 2, 5 * s // 2, cumulative=False) == pytest.approx(7.25)


def test_integrate_counter_difference_and_power_series():
    s = 1_000_000_000
    samples = [(0, 10.0), (1 * s, 13.0), (2 * s, 19.0)]
    # counter at 0.5 s = 11.5 J, at 1.5 s = 16.0 J
    assert integrate(samples, s // 2, 3 * s // 2, cumulative=True) == pytest.approx(4.5)
    assert power_series(samples, cumulative=True) == pytest.approx([3.0, 6.0])


# -- RAPL -------------------------------------------------------------------------------------


def test_rapl_reads_and_unwraps(tmp_path):
    zone = tmp_path / "intel-rapl:0"
    _write(zone / "energy_uj", "999000000")
    _write(zone / "max_energy_range_uj", "1000000000")
    _write(zone / "name", "package-0")
    m = open_meter({"type": "rapl", "sysfs_root": str(zone)})
    assert m.cumulative and m.rail == "package-0" and m.read() == pytest.approx(999.0)
    # 999 J -> wraps past 1000 J -> 1 J: 2 J consumed; 1 J -> 5 J: 4 more
    assert m.unwrap([999.0, 1.0, 5.0]) == pytest.approx([999.0, 1001.0, 1005.0])


def test_rapl_missing_path_is_error(tmp_path):
    with pytest.raises(EdgeferError, match="RAPL meter path missing: .*nozone/energy_uj"):
        open_meter({"type": "rapl", "sysfs_root": str(tmp_path / "nozone")})


# -- hwmon / INA3221 -----------------------------------------------------------------------------


def test_hwmon_ina3221_voltage_times_current(tmp_path):
    hw = tmp_path / "hwmon" / "hwmon3"
    _write(hw / "name", "ina3221")
    for k, (label, mv, ma) in enumerate((("VDD_IN", 5000, 1200), ("VDD_CPU_GPU_CV", 5000, 400)), start=1):
        _write(hw / f"in{k}_label", label)
        _write(hw / f"in{k}_input", str(mv))
        _write(hw / f"curr{k}_input", str(ma))
    m = open_meter({"type": "hwmon", "sysfs_root": str(tmp_path / "hwmon"), "rail": "VDD_IN"})
    assert m.rail == "VDD_IN" and m.read() == pytest.approx(6.0)  # 5 V x 1.2 A
    m2 = open_meter({"type": "hwmon", "sysfs_root": str(hw), "rail": "vdd_cpu_gpu_cv"})
    assert m2.read() == pytest.approx(2.0)
    with pytest.raises(EdgeferError, match="no rail VDD_SOC"):
        open_meter({"type": "hwmon", "sysfs_root": str(hw), "rail": "VDD_SOC"})


def test_hwmon_power_input_and_jetson_nano_iio(tmp_path):
    hw = tmp_path / "hwmon0"
    _write(hw / "power1_label", "VDD_IN")
    _write(hw / "power1_input", "7250000")  # µW
    assert open_meter({"type": "hwmon", "sysfs_root": str(hw)}).read() == pytest.approx(7.25)
    iio = tmp_path / "iio:device0"
    _write(iio / "rail_name_0", "POM_5V_IN")
    _write(iio / "in_power0_input", "3100")  # mW
    m = open_meter({"type": "hwmon", "sysfs_root": str(iio), "rail": "POM_5V_IN"})
    assert m.read() == pytest.approx(3.1)


def test_hwmon_missing_root_is_error(tmp_path):
    with pytest.raises(EdgeferError, match="hwmon meter path missing"):
        open_meter({"type": "hwmon", "sysfs_root": str(tmp_path / "none"), "rail": "VDD_IN"})


# -- Raspberry Pi 5 vcgencmd --------------------------------------------------------------------


def test_vcgencmd_parse_and_fake_command(tmp_path):
    rails = parse_pmic_adc(PMIC)
    assert set(rails) == {"3V7_WL_SW", "3V3_SYS", "VDD_CORE"}  # EXT5V has no current: skipped
    expected = 3.7 * 0.1 + 3.3 * 0.2 + 0.8 * 2.0
    fake = _script(tmp_path / "vcgencmd", f"import sys\nassert sys.argv[1] == 'pmic_read_adc'\nprint({PMIC!r})\n")
    m = open_meter({"type": "vcgencmd", "command": [str(fake), "pmic_read_adc"]})
    assert m.read() == pytest.approx(expected) and "3 rails" in m.rail


def test_vcgencmd_missing_is_error(tmp_path):
    with pytest.raises(EdgeferError, match="vcgencmd meter path missing"):
        open_meter({"type": "vcgencmd", "command": [str(tmp_path / "vcgencmd"), "pmic_read_adc"]})


# -- Android power_supply ---------------------------------------------------------------------------


def test_android_units_and_sign(tmp_path):
    bat = tmp_path / "battery"
    _write(bat / "current_now", "-450000")  # µA, negative = discharging on this vendor
    _write(bat / "voltage_now", "3850000")  # µV
    _write(bat / "status", "Discharging")
    assert open_meter({"type": "android", "sysfs_root": str(bat)}).read() == pytest.approx(0.45 * 3.85)
    assert to_amps(450) == pytest.approx(0.45) and to_amps(450_000) == pytest.approx(0.45)
    assert to_volts(3850) == pytest.approx(3.85) and to_volts(3_850_000) == pytest.approx(3.85)
    assert to_volts(3.85) == pytest.approx(3.85)


def test_android_charging_refused(tmp_path):
    bat = tmp_path / "battery"
    _write(bat / "current_now", "100000")
    _write(bat / "voltage_now", "4200000")
    _write(bat / "status", "Charging")
    with pytest.raises(EdgeferError, match="charging"):
        open_meter({"type": "android", "sysfs_root": str(bat)})


# -- external command and spec errors ---------------------------------------------------------------


def test_external_meter_prints_watts(tmp_path):
    fake = _script(tmp_path / "meter", "print('P = 4.25 W')\n")
    m = open_meter({"type": "external", "command": [str(fake)]})
    assert m.read() == pytest.approx(4.25)
    with pytest.raises(EdgeferError, match="external meter path missing"):
        open_meter({"type": "external", "command": [str(tmp_path / "nometer")]})
    with pytest.raises(EdgeferError, match="unknown energy meter type 'joulescope'"):
        open_meter({"type": "joulescope"})


def test_auto_meter_reports_why_none(monkeypatch):
    import edgefer.runner.energy as energy

    def refuse(spec):
        raise EdgeferError(f"{spec['type']} meter path missing: x")

    monkeypatch.setattr(energy, "open_meter", refuse)
    meter, why = auto_meter()
    assert meter is None and "rapl meter path missing" in why and "android" in why


# -- recorder: idle baseline, window integration, per inference ----------------------------------


class _StepMeter(Meter):
    """2 W until switched to 7 W: a known power profile through the real sampler thread."""

    name = "step"
    cumulative = False

    def __init__(self):
        super().__init__()
        self.watts = 2.0
        self.rail = "TEST"

    def read(self):
        return self.watts


def test_recorder_energy_per_inference_and_above_idle():
    meter = _StepMeter()
    rec = EnergyRecorder(meter, rate_hz=200)
    rec.idle(0.15)
    assert rec.idle_power_w == pytest.approx(2.0)
    meter.watts = 7.0
    rec.start()
    time.sleep(0.05)
    t0 = time.perf_counter_ns()
    time.sleep(0.2)
    t1 = time.perf_counter_ns()
    e = rec.finish(t0, t1, n_inferences=10)
    window = (t1 - t0) * 1e-9
    assert e["status"] == "measured" and e["rail"] == "TEST" and e["n_samples"] >= 10
    assert e["mean_power_w"] == pytest.approx(7.0)
    assert e["energy_per_inference_j"] == pytest.approx(7.0 * window / 10)
    assert e["energy_per_inference_above_idle_j"] == pytest.approx(5.0 * window / 10)
    # constant power: no sampling noise, only the edge term (one period at mean power)
    assert e["uncertainty_j"] == pytest.approx(7.0 / 200 / 10)


def test_recorder_with_fake_rapl_counter(tmp_path):
    zone = tmp_path / "intel-rapl:0"
    _write(zone / "energy_uj", "0")
    _write(zone / "max_energy_range_uj", "262143328850")
    meter = open_meter({"type": "rapl", "sysfs_root": str(zone)})
    rec = EnergyRecorder(meter, rate_hz=100)
    rec.start()
    t0 = time.perf_counter_ns()
    _write(zone / "energy_uj", "3000000")  # 3 J appear during the window
    time.sleep(0.1)
    t1 = time.perf_counter_ns()
    e = rec.finish(t0, t1, n_inferences=3)
    assert 0 < e["energy_per_inference_j"] <= 1.0 + 1e-9


def test_estimate_is_labelled():
    e = estimated(6.4, window_s=2.0, n_inferences=100)
    assert e["status"] == "estimated" and "not measured" in e["reason"]
    assert e["energy_per_inference_j"] == pytest.approx(0.128) and e["energy_per_inference_above_idle_j"] is None


@pytest.mark.skipif(not os.access("/sys/class/powercap/intel-rapl:0/energy_uj", os.R_OK), reason="RAPL not readable here")
def test_real_rapl_if_readable():
    m = open_meter({"type": "rapl"})
    a = m.read()
    time.sleep(0.1)
    assert m.unwrap([a, m.read()])[1] >= a
