//! `sockeye serve --exec` against hostile peers and programs: connection
//! churn must leave no process and no descriptor behind, and a program or
//! a peer that never reads must leave the server's memory bounded.
//!
//! Processes and descriptors are counted in `/proc`; memory is read from
//! `/proc/PID/status` and bounded generously: the bounds are what an
//! unbounded server would clearly exceed, never a measure of speed.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{Serve, TIMEOUT};

type Ws = sockeye::WebSocket<sockeye::ClientStream>;

async fn connect(url: &str) -> Ws {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

async fn round_trip(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
    let got = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no answer in time")
        .expect("an answer")
        .expect("receive");
    assert_eq!(got.as_text(), Some(text));
}

/// The processes whose parent is `pid`, from `/proc/*/stat`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
        let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let parent = after_comm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            children.push(child);
        }
    }
    children
}

/// How many file descriptors a process has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .count()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in {status:?}"))
}

fn assert_memory_bounded(server: &Serve, baseline_kib: u64, bound_mib: u64, what: &str) {
    let pid = server.child.pid();
    let (peak, now) = (status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"));
    println!("{what}: server RSS {baseline_kib} KiB before, peak {peak} KiB, now {now} KiB");
    assert!(
        peak <= baseline_kib + bound_mib * 1024,
        "{what}: the server's memory grew from {baseline_kib} KiB to a peak of {peak} KiB \
         (bound: {bound_mib} MiB more)"
    );
}

/// Waits until `done` holds, or fails after `limit`.
async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_thousand_connections_leave_no_process_and_no_descriptor_behind() {
    const CONNECTIONS: usize = 1000;
    let server = Serve::start(&["--exec", "cat", "--exec-grace", "0.5"]);
    let pid = server.child.pid();
    let url = server.url("/");
    {
        let mut ws = connect(&url).await;
        round_trip(&mut ws, "warm up").await;
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    }
    wait_until(TIMEOUT, "the first program is gone", || {
        children_of(pid).is_empty()
    })
    .await;
    let baseline = open_fds(pid);
    // Ten at a time: half close cleanly, half just drop the connection
    // mid-conversation (the server sees the TCP connection end).
    futures_util::stream::iter(0..CONNECTIONS)
        .for_each_concurrent(10, |i| {
            let url = url.clone();
            async move {
                let mut ws = connect(&url).await;
                round_trip(&mut ws, &format!("connection {i}")).await;
                if i % 2 == 0 {
                    ws.close(CloseCode::NORMAL, "").await.expect("close");
                } else {
                    drop(ws);
                }
            }
        })
        .await;
    wait_until(Duration::from_secs(30), "every program is gone", || {
        children_of(pid).is_empty()
    })
    .await;
    wait_until(Duration::from_secs(10), "the descriptors are back", || {
        open_fds(pid) <= baseline
    })
    .await;
    println!(
        "server descriptors: {baseline} before, {} after",
        open_fds(pid)
    );
    // And the server still serves.
    let mut ws = connect(&url).await;
    round_trip(&mut ws, "still here").await;
}

#[tokio::test]
async fn a_program_that_never_reads_leaves_the_server_memory_bounded() {
    const MESSAGE: usize = 64 << 10;
    const MESSAGES: usize = 1024; // 64 MiB
    let server = Serve::start(&[
        "--exec",
        "sleep 3600",
        "--exec-grace",
        "0.2",
        "--close-timeout",
        "1",
        // Uncompressed, so that 64 MiB take 64 MiB of buffers to hold.
        "--no-deflate",
    ]);
    let pid = server.child.pid();
    let baseline = status_kib(pid, "VmRSS");
    let mut ws = connect(&server.url("/")).await;
    let message = Message::binary(vec![0x5a; MESSAGE]);
    let mut sent = 0;
    while sent < MESSAGES {
        // Two seconds without progress: the server stopped reading.
        match tokio::time::timeout(Duration::from_secs(2), ws.send(message.clone())).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(e)) => panic!("the connection failed after {sent} messages: {e}"),
            Err(_) => break,
        }
    }
    println!("{sent} of {MESSAGES} messages of 64 KiB went out before the server stopped reading");
    assert!(
        sent < MESSAGES,
        "the server read 64 MiB that the program never took"
    );
    assert_memory_bounded(&server, baseline, 24, "a program that never reads");
    // The stalled connection holds nobody else up.
    let mut other = connect(&server.url("/")).await;
    other
        .send(Message::text("anyone there?"))
        .await
        .expect("send");
    wait_until(TIMEOUT, "a program runs for each connection", || {
        children_of(pid).len() == 2
    })
    .await;
    drop(other);
    // A shutdown stops the program that never reads (SIGTERM after the
    // grace period) and does not wait for its pipe to drain.
    let mut server = server;
    server.child.signal("TERM");
    let status = server.child.try_wait_for_async(TIMEOUT).await;
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "the server exits cleanly"
    );
    drop(ws);
}

#[tokio::test]
async fn a_peer_that_never_reads_leaves_the_server_memory_bounded() {
    let server = Serve::start(&[
        "--exec",
        "yes 'a line of output, again and again'",
        "--exec-grace",
        "0.2",
    ]);
    let pid = server.child.pid();
    let baseline = status_kib(pid, "VmRSS");
    // Connected, then never read: `yes` writes as fast as it can.
    let ws = connect(&server.url("/")).await;
    wait_until(TIMEOUT, "the program runs", || !children_of(pid).is_empty()).await;
    // Long enough for an unbounded queue to grow by gigabytes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_memory_bounded(&server, baseline, 24, "a peer that never reads");
    // The program is held back, not killed, while the peer is there.
    assert_eq!(children_of(pid).len(), 1, "yes still runs");
    drop(ws);
    wait_until(TIMEOUT, "the program is gone", || {
        children_of(pid).is_empty()
    })
    .await;
}
