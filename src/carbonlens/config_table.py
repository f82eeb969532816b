"""The documented table of settings: one row per field of `config.Settings`, with
its type, default and meaning. `docs/configuration.md` renders it and the tests
check it against `Settings`; nothing at run time reads it, so it lives apart
from the parsers."""

from __future__ import annotations

from carbonlens._frozen import frozen
from carbonlens.config import BUDGET_ACTIONS, PROVIDERS, STORE_FALLBACKS


@frozen
class SettingDoc:
    """One row of the documented settings table."""

    name: str
    kind: str
    default: str
    help: str


SETTINGS_TABLE: tuple[SettingDoc, ...] = (
    SettingDoc("project", "text", "default", "Project the run belongs to."),
    SettingDoc("interval_s", "seconds > 0", "1.0", "Sampling interval."),
    SettingDoc(
        "sensor_timeout_s",
        "seconds > 0",
        "2.0",
        "Longest wait for one tick's sensor reads; a sensor that takes longer is a gap "
        "and is skipped until its read returns (docs/tracking.md#bad-sensors).",
    ),
    SettingDoc("country", "ISO code or name", "unset", "Country of the grid (e.g. FR, DEU)."),
    SettingDoc(
        "region",
        "zone or cloud region",
        "unset",
        "Sub-national zone (US-CAL-CISO) or cloud region (aws:us-east-1); wins over country.",
    ),
    SettingDoc("pue", "number >= 1", "cloud region's, else 1.0", "Power usage effectiveness."),
    SettingDoc(
        "store",
        "path, sqlite:/// or postgresql:// URL",
        "$XDG_DATA_HOME/carbonlens/runs.db",
        "Where runs are kept.",
    ),
    SettingDoc(
        "store_fallback",
        "|".join(STORE_FALLBACKS),
        "error",
        "A PostgreSQL store that cannot be reached: fail before the run starts, or keep "
        "the run in the local SQLite store (copy it over later with `carbonlens sync`).",
    ),
    SettingDoc("sensors", "list of names", "auto", "Back-ends to use (rapl, nvml, cpu-tdp, ...)."),
    SettingDoc("cpu_tdp_w", "watts > 0", "from CPU table", "CPU TDP for the CPU power model."),
    SettingDoc("cpu_power_w", "watts > 0", "unset", "Fixed CPU power; replaces sensors and model."),
    SettingDoc("ram_w_per_gb", "watts > 0", "0.3725", "RAM power model, W per GB."),
    SettingDoc("embodied", "true/false", "true", "Include embodied (manufacturing) emissions."),
    SettingDoc("lifetime_years", "years > 0", "4", "Hardware lifetime for embodied amortisation."),
    SettingDoc(
        "gpu_embodied_kgco2e",
        "kg >= 0",
        "150",
        "Manufacturing emissions of one GPU card, kgCO2e (CCF/BLOOM default).",
    ),
    SettingDoc(
        "host_embodied_kgco2e",
        "kg >= 0",
        "1000",
        "Manufacturing emissions of the whole server without GPUs, kgCO2e (CCF default).",
    ),
    SettingDoc(
        "host_share_ratio",
        "0 < ratio <= 1",
        "from CPU topology",
        "Share of the server this machine is, for embodied host emissions (e.g. 0.0625 "
        "for 8 of 128 vCPUs).",
    ),
    SettingDoc(
        "intensity_provider",
        "|".join(PROVIDERS),
        "unset (bundled annual averages)",
        "Live provider for the run's hourly intensity; keys come from the environment.",
    ),
    SettingDoc(
        "contractual_intensity_g_per_kwh",
        "g/kWh >= 0",
        "unset",
        "Market-based figure: the intensity of the electricity contract.",
    ),
    SettingDoc(
        "cfe_ratio",
        "0..1",
        "unset",
        "Market-based figure: carbon-free energy share of the supply.",
    ),
    SettingDoc("log_level", "DEBUG|INFO|WARNING|ERROR", "WARNING", "carbonlens log level."),
    SettingDoc("budget_kgco2e", "kg > 0", "unset", "Emissions budget of each run, kgCO2e."),
    SettingDoc("budget_kwh", "kWh > 0", "unset", "Facility-energy budget of each run, kWh."),
    SettingDoc(
        "budget_action",
        "|".join(BUDGET_ACTIONS),
        "warn",
        "What a run does at 100 % of a run or project budget.",
    ),
    SettingDoc("budget_warn_ratio", "0 < ratio < 1", "0.8", "Share of a budget at which to warn."),
    SettingDoc(
        "budget_grace_s",
        "seconds >= 0",
        "10",
        "`terminate`: wait between SIGTERM and SIGKILL.",
    ),
    SettingDoc(
        "prediction_warmup_ratio",
        "0 <= ratio < 1",
        "0.1",
        "Share of a run's steps left out of the prediction as warm-up.",
    ),
)
