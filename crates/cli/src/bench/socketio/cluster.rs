//! The processes of a cluster under test besides `--server-pid`: its other
//! servers (`--cluster-pid`) and its broker (`--broker-pid`), whose CPU
//! time over the measured window is reported beside the first server's.
//!
//! The bench's verdict on which side was the limit weighs `--server-pid`
//! alone; these figures let the caller, who knows where each process was
//! pinned, judge the cluster as a whole.

use std::fmt::Write as _;

use super::super::procfs::{CpuSample, Process};
use super::super::report::tenths;

/// What a process does in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Another Socket.IO server of the cluster.
    Server,
    /// The broker the servers share (such as `redis-server`).
    Broker,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Broker => "broker",
        }
    }
}

/// The cluster's processes besides `--server-pid`, each checked to be
/// readable.
#[derive(Debug, Default)]
pub(super) struct Members {
    members: Vec<(Role, u32)>,
}

impl Members {
    /// The other `servers` and the `broker`.
    ///
    /// # Errors
    ///
    /// A message naming the first process whose CPU time cannot be read
    /// from `/proc`.
    pub(super) fn new(servers: &[u32], broker: Option<u32>) -> Result<Members, String> {
        let members: Vec<(Role, u32)> = servers
            .iter()
            .map(|&pid| (Role::Server, pid))
            .chain(broker.map(|pid| (Role::Broker, pid)))
            .collect();
        for &(_, pid) in &members {
            Process::Pid(pid)
                .cpu_ticks()
                .map_err(|e| format!("cannot read /proc/{pid}: {}", crate::describe(&e)))?;
        }
        Ok(Members { members })
    }

    /// Each process's CPU time now, in order.
    pub(super) fn sample(&self) -> Vec<Option<CpuSample>> {
        self.members
            .iter()
            .map(|&(_, pid)| Process::Pid(pid).cpu_sample().ok())
            .collect()
    }

    /// Each process's CPU use between two samples of [`Members::sample`].
    pub(super) fn usage(&self, from: &[Option<CpuSample>], to: &[Option<CpuSample>]) -> Usage {
        let entries = self
            .members
            .iter()
            .zip(from.iter().zip(to))
            .map(|(&(role, pid), (from, to))| Entry {
                role,
                pid,
                cpu: from.zip(*to).map(|(from, to)| from.percent_until(to)),
            })
            .collect();
        Usage { entries }
    }
}

/// The CPU use of the cluster's processes over the measured window.
#[derive(Debug, Default)]
pub(super) struct Usage {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    role: Role,
    pid: u32,
    /// Percent of one core; unknown if the process ended.
    cpu: Option<f64>,
}

impl Usage {
    /// The CPU they used together, in percent of one core (the ones known).
    pub(super) fn total(&self) -> f64 {
        self.entries.iter().filter_map(|e| e.cpu).sum()
    }

    /// The summary's line, with the nanoseconds of CPU each spent per
    /// `unit`, at `per_second` of them; nothing when there are none.
    pub(super) fn write_line(&self, out: &mut String, per_second: f64, unit: &str) {
        if self.entries.is_empty() {
            return;
        }
        out.push_str("  cluster    ");
        for (i, entry) in self.entries.iter().enumerate() {
            let separator = if i == 0 { " " } else { ", " };
            let _ = write!(out, "{separator}{} {}: ", entry.role.name(), entry.pid);
            match entry.cpu {
                Some(cpu) => {
                    let _ = write!(out, "{cpu:.0}%");
                    if let Some(ns) = ns_per(cpu, per_second) {
                        let _ = write!(out, " ({ns:.0} ns per {unit})");
                    }
                }
                None => out.push_str("unknown"),
            }
        }
        out.push('\n');
    }

    /// The JSON line's `cluster`: one object per process, with its CPU in
    /// percent of one core and in nanoseconds per `unit`.
    pub(super) fn json(&self, per_second: f64, unit: &str) -> serde_json::Value {
        self.entries
            .iter()
            .map(|entry| {
                serde_json::json!({
                    "role": entry.role.name(),
                    "pid": entry.pid,
                    "cpu": entry.cpu.map(tenths),
                    format!("ns_per_{unit}"): entry.cpu
                        .and_then(|cpu| ns_per(cpu, per_second))
                        .map(tenths),
                })
            })
            .collect()
    }
}

/// Nanoseconds of CPU per event, from a CPU use in percent of a core and
/// `per_second` events.
fn ns_per(cpu: f64, per_second: f64) -> Option<f64> {
    (per_second > 0.0).then(|| cpu / 100.0 / per_second * 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cpus: &[(Role, Option<f64>)]) -> Usage {
        Usage {
            entries: cpus
                .iter()
                .zip(1..)
                .map(|(&(role, cpu), pid)| Entry { role, pid, cpu })
                .collect(),
        }
    }

    /// Each process gets its CPU and its cost per event; one whose CPU is
    /// unknown says so and counts for nothing in the total.
    #[test]
    fn each_process_is_reported_with_its_cost_per_event() {
        let usage = usage(&[
            (Role::Server, Some(50.0)),
            (Role::Broker, Some(5.0)),
            (Role::Server, None),
        ]);
        assert!((usage.total() - 55.0).abs() < 1e-9);
        let mut line = String::new();
        usage.write_line(&mut line, 1_000_000.0, "delivery");
        assert_eq!(
            line,
            "  cluster     server 1: 50% (500 ns per delivery), broker 2: 5% (50 ns per \
             delivery), server 3: unknown\n"
        );
        let json = usage.json(1_000_000.0, "delivery");
        assert_eq!(json[1]["role"], "broker");
        assert_eq!(json[1]["ns_per_delivery"], 50.0);
        assert!(json[2]["cpu"].is_null());
    }

    /// Without cluster processes there is no line and an empty list.
    #[test]
    fn no_processes_no_line() {
        let mut line = String::new();
        Usage::default().write_line(&mut line, 1.0, "delivery");
        assert!(line.is_empty());
        assert_eq!(
            Usage::default().json(1.0, "delivery"),
            serde_json::json!([])
        );
    }

    /// A process that cannot be read is refused up front.
    #[test]
    fn unreadable_processes_are_refused() {
        assert!(Members::new(&[std::process::id()], None).is_ok());
        assert!(Members::new(&[], Some(u32::MAX)).is_err());
    }
}
