"""The guard of a run of record: was the machine quiet while `bench/run.py` timed?

A load average alone does not prove a quiet machine (on a shared host absolute times swing by
up to 40% with nothing else running in the virtual machine), so the runner records, before and
after the workloads:

- the 1-minute load average (`/proc/loadavg`, `os.getloadavg`) and the CPU model;
- a calibration, each number from a fresh process (the fastest of 7 repetitions): the sgemm
  rate of ndgrad's BLAS (2048^3, GFLOP/s) and PyTorch's time for the small op (1,000 tiny
  forward + backward calls: the workload most sensitive to a busy machine, PyTorch's OpenMP
  pool suffering most);

and, over the whole run, from `/proc/stat`:

- the CPU time stolen by the hypervisor (`steal`) as a share of the machine's time;
- the CPU time spent by processes other than the benchmark's (the machine's busy time minus
  the CPU time of the runner and its children), as a share of the machine's time.

`verdict` turns these readings into the reasons a run is *not* a run of record (an empty list:
it is one). The thresholds are the constants below; the runner then writes `bench/RESULTS.md`
only for a run of record and otherwise prints its table marked "not a run of record".
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The 1-minute load average at start must not exceed this many runnable tasks per core.
MAX_LOAD_PER_CORE = 0.25
#: CPU time stolen by the hypervisor during the run: at most this share of the machine's time.
MAX_STEAL = 0.02
#: CPU time of other processes during the run: at most this share of the machine's time.
MAX_FOREIGN = 0.10
#: Each calibration number may differ between start and end by at most this fraction.
MAX_DRIFT = 0.10
#: The calibration's sgemm: 2 * n^3 floating-point operations.
SGEMM_FLOP = 2 * 2048**3


def load_average() -> float:
    """The 1-minute load average (runnable and uninterruptible tasks, averaged)."""
    return os.getloadavg()[0]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" elsewhere)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


@dataclass(frozen=True)
class CpuTimes:
    """Machine-wide CPU time (seconds, all cores) from /proc/stat's `cpu` line, and the CPU time
    of this process and its waited-for children, at one moment."""

    busy: float  # user + nice + system + irq + softirq (guest time is inside user)
    steal: float
    total: float  # every field but guest (counted twice otherwise)
    own: float  # this process + its children (resource.getrusage)
    wall: float  # time.monotonic()

    @staticmethod
    def read(stat: str | None = None) -> CpuTimes | None:
        """Read now; None when /proc/stat is missing (not Linux): the guard then refuses."""
        if stat is None:
            path = Path("/proc/stat")
            if not path.exists():
                return None
            stat = path.read_text()
        fields = stat.splitlines()[0].split()
        if fields[0] != "cpu":
            raise ValueError(f"/proc/stat: expected a first line 'cpu ...'. Received {fields[:3]}")
        ticks = [int(v) for v in fields[1:]] + [0] * 10
        user, nice, system, idle, iowait, irq, softirq, steal = ticks[:8]
        hz = os.sysconf("SC_CLK_TCK")
        own = sum(
            r.ru_utime + r.ru_stime
            for r in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        )
        return CpuTimes(
            busy=(user + nice + system + irq + softirq) / hz,
            steal=steal / hz,
            total=(user + nice + system + idle + iowait + irq + softirq + steal) / hz,
            own=own,
            wall=time.monotonic(),
        )


def shares(start: CpuTimes, end: CpuTimes) -> tuple[float, float]:
    """(steal, foreign) between two readings, each a share of the machine's CPU time."""
    total = end.total - start.total
    if total <= 0:
        return 0.0, 0.0
    steal = (end.steal - start.steal) / total
    foreign = ((end.busy - start.busy) - (end.own - start.own)) / total
    return max(steal, 0.0), max(foreign, 0.0)


@dataclass
class Calibration:
    """One calibration: ndgrad's sgemm rate (GFLOP/s) and PyTorch's small-op time (s)."""

    sgemm_gflops: float
    torch_small_op: float


@dataclass
class Conditions:
    """Everything the guard read about one run."""

    cores: int
    cpu: str
    load_start: float
    load_end: float | None = None
    before: Calibration | None = None
    after: Calibration | None = None
    steal: float | None = None  # None: not measured (no /proc/stat)
    foreign: float | None = None
    partial: str = ""  # why the run does not cover the whole benchmark ("" when it does)
    reasons: list[str] = field(default_factory=list)

    @property
    def of_record(self) -> bool:
        return not self.reasons


def drift(before: float, after: float) -> float:
    """Relative change from `before` to `after` (a fraction: 0.1 is 10%)."""
    return abs(after - before) / before if before > 0 else float("inf")


def verdict(c: Conditions) -> list[str]:
    """The reasons these conditions do not make a run of record (empty: they do), each naming
    the reading and the threshold it broke."""
    reasons = []
    max_load = MAX_LOAD_PER_CORE * c.cores
    if c.load_start > max_load:
        reasons.append(
            f"1-minute load average at start {c.load_start:.2f} > {max_load:.2f} "
            f"({MAX_LOAD_PER_CORE} per core, {c.cores} cores)"
        )
    if c.steal is None or c.foreign is None:
        reasons.append("CPU steal and other processes' CPU time not measured (no /proc/stat)")
    else:
        if c.steal > MAX_STEAL:
            reasons.append(f"CPU steal during the run {c.steal:.1%} > {MAX_STEAL:.0%}")
        if c.foreign > MAX_FOREIGN:
            reasons.append(
                f"other processes used {c.foreign:.1%} of the CPU time during the run "
                f"> {MAX_FOREIGN:.0%}"
            )
    if c.before is None or c.after is None:
        reasons.append("no calibration before and after the run")
    else:
        for name, unit, a, b in (
            ("sgemm", "GFLOP/s", c.before.sgemm_gflops, c.after.sgemm_gflops),
            ("PyTorch small op", "s", c.before.torch_small_op, c.after.torch_small_op),
        ):
            if drift(a, b) > MAX_DRIFT:
                reasons.append(
                    f"calibration drifted: {name} {a:.4g} -> {b:.4g} {unit} "
                    f"({drift(a, b):.0%} > {MAX_DRIFT:.0%})"
                )
    if c.partial:
        reasons.append(c.partial)
    return reasons


def settle(max_load: float, timeout: float, poll: float = 5.0) -> float:
    """Wait (at most `timeout` seconds) for the 1-minute load average to fall to `max_load`
    (it decays by 1/e a minute once the machine is idle, e.g. after `make bench` installed its
    packages); return the last reading."""
    deadline = time.monotonic() + timeout
    load = load_average()
    while load > max_load and time.monotonic() < deadline:
        time.sleep(poll)
        load = load_average()
    return load


def markdown(c: Conditions) -> list[str]:
    """RESULTS.md's lines on the conditions of the run: the verdict, then a small table."""
    if c.of_record:
        lines = [
            f"- Run of record: yes (load at start <= {MAX_LOAD_PER_CORE * c.cores:.2f}, "
            f"CPU steal <= {MAX_STEAL:.0%} and other processes <= {MAX_FOREIGN:.0%} of the "
            f"CPU time during the run, calibration drift <= {MAX_DRIFT:.0%})"
        ]
    else:
        lines = ["- Run of record: **no, not a run of record**: " + "; ".join(c.reasons)]

    def cal(x: Calibration | None, attr: str, fmt: str) -> str:
        return "-" if x is None else format(getattr(x, attr), fmt)

    def pct(v: float | None) -> str:
        return "not measured" if v is None else f"{v:.1%}"

    lines += [
        "",
        "| machine condition | start | end |",
        "|---|---|---|",
        f"| 1-minute load average | {c.load_start:.2f} | "
        f"{'-' if c.load_end is None else format(c.load_end, '.2f')} |",
        f"| calibration: sgemm 2048^3 (ndgrad's BLAS, GFLOP/s) | "
        f"{cal(c.before, 'sgemm_gflops', '.0f')} | {cal(c.after, 'sgemm_gflops', '.0f')} |",
        f"| calibration: PyTorch small op (s) | {cal(c.before, 'torch_small_op', '.4f')} | "
        f"{cal(c.after, 'torch_small_op', '.4f')} |",
        "",
        f"CPU during the run: steal {pct(c.steal)}, other processes {pct(c.foreign)} of the "
        f"machine's CPU time ({c.cores} cores, {c.cpu}).",
    ]
    return lines
