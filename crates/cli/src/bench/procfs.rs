//! What the bench reads from `/proc`: CPU time, resident memory and the
//! CPUs a process may run on, for itself and for the server under test.

use std::io;
use std::time::Instant;

/// `/proc/<pid>/stat` counts CPU time in clock ticks of `USER_HZ`, which the
/// kernel fixes at 100 on every architecture we run on (only Alpha differs),
/// whatever `CONFIG_HZ` is. Reading it with `sysconf` would need `unsafe`.
const TICKS_PER_SECOND: u64 = 100;

/// A process: ourselves or another by PID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Process {
    /// The bench itself (`/proc/self`).
    This,
    /// Another process, the server under test.
    Pid(u32),
}

impl Process {
    fn path(self, file: &str) -> String {
        match self {
            Process::This => format!("/proc/self/{file}"),
            Process::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }

    /// CPU time used so far by all threads, user and system, in ticks.
    pub(crate) fn cpu_ticks(self) -> io::Result<u64> {
        let stat = std::fs::read_to_string(self.path("stat"))?;
        parse_cpu_ticks(&stat).ok_or_else(|| invalid("no utime and stime in /proc/PID/stat"))
    }

    /// Resident memory (`VmRSS`), in bytes.
    pub(crate) fn rss_bytes(self) -> io::Result<u64> {
        let status = std::fs::read_to_string(self.path("status"))?;
        status_field(&status, "VmRSS:")
            .and_then(|v| v.strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| invalid("no VmRSS in /proc/PID/status"))
    }

    /// How many CPUs the process may run on (`Cpus_allowed_list`, which
    /// `taskset` narrows).
    pub(crate) fn allowed_cpus(self) -> io::Result<usize> {
        let status = std::fs::read_to_string(self.path("status"))?;
        status_field(&status, "Cpus_allowed_list:")
            .and_then(count_cpu_list)
            .ok_or_else(|| invalid("no Cpus_allowed_list in /proc/PID/status"))
    }

    /// CPU time used so far, with the instant it was read.
    pub(crate) fn cpu_sample(self) -> io::Result<CpuSample> {
        Ok(CpuSample {
            ticks: self.cpu_ticks()?,
            at: Instant::now(),
        })
    }
}

/// CPU time used so far by every process on the machine (all CPUs, time
/// neither idle nor waiting for I/O), from `/proc/stat`, with the instant
/// it was read.
pub(crate) fn machine_cpu_sample() -> io::Result<CpuSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    Ok(CpuSample {
        ticks: parse_busy_ticks(&stat).ok_or_else(|| invalid("no cpu line in /proc/stat"))?,
        at: Instant::now(),
    })
}

/// CPU time read at an instant; two of them give a CPU use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuSample {
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    /// CPU use between `self` and a later sample, in percent of one core
    /// (two busy cores make 200).
    pub(crate) fn percent_until(self, later: CpuSample) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let cpu = crate::bench::as_f64(later.ticks.saturating_sub(self.ticks))
            / crate::bench::as_f64(TICKS_PER_SECOND);
        cpu / wall * 100.0
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// `utime + stime` from the text of `/proc/<pid>/stat`.
///
/// The second field, the command name in parentheses, may itself hold
/// spaces and parentheses, so fields are counted from the last `)`: after
/// it come field 3 (state) onwards, and utime and stime are fields 14 and 15
/// (proc(5)).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy ticks from the `cpu` line of `/proc/stat`: user, nice, system,
/// irq, softirq and steal; not idle and iowait (fields 4 and 5). Guest time
/// is already counted in user (proc(5)).
fn parse_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// The value after `name` on its line of a `/proc/<pid>/status` text.
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
}

/// How many CPUs a list such as `0-3,6,8-9` names.
fn count_cpu_list(cpus: &str) -> Option<usize> {
    let mut count = 0;
    for part in cpus.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        count += if let Some((low, high)) = part.split_once('-') {
            let low: usize = low.parse().ok()?;
            let high: usize = high.parse().ok()?;
            high.checked_sub(low)? + 1
        } else {
            part.parse::<usize>().ok()?;
            1
        };
    }
    (count > 0).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("1234 (x) S 1"), None);
    }

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 2 30 5000 40 5 6 7 0 0\ncpu0 50 1 15 2500 20 2 3 3 0 0\n";
        assert_eq!(parse_busy_ticks(stat), Some(150));
        assert_eq!(parse_busy_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
    }

    #[test]
    fn this_process_is_readable() {
        assert!(Process::This.rss_bytes().unwrap() > 0);
        assert!(Process::This.allowed_cpus().unwrap() >= 1);
        Process::This.cpu_ticks().unwrap();
        machine_cpu_sample().unwrap();
    }
}
