//! `sockeye completions` and `sockeye man`: made from the command-line
//! definition, so they name every subcommand and flag `--help` does.

mod support;

use std::process::Command;

use support::run;

#[test]
fn bash_completions_parse_and_name_every_subcommand() {
    let done = run(&["completions", "bash"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    for word in [
        "serve",
        "connect",
        "bench",
        "hub",
        "--jwt-secret",
        "--max-message-size",
        "--protocol",
    ] {
        assert!(done.stdout.contains(word), "{word} missing");
    }
    // bash itself reads the script without a syntax error.
    let script =
        std::env::temp_dir().join(format!("sockeye-completions-{}.bash", std::process::id()));
    std::fs::write(&script, &done.stdout).unwrap();
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    std::fs::remove_file(&script).ok();
    assert!(status.success());
}

#[test]
fn zsh_and_fish_completions_name_the_command() {
    for (shell, marker) in [("zsh", "#compdef sockeye"), ("fish", "complete -c sockeye")] {
        let done = run(&["completions", shell]);
        assert_eq!(done.code(), Some(0), "{}", done.stderr);
        assert!(
            done.stdout.contains(marker),
            "{shell}: {}",
            &done.stdout[..200.min(done.stdout.len())]
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let done = run(&["completions", "cmd.exe"]);
    assert_eq!(done.code(), Some(2));
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = std::env::temp_dir().join(format!("sockeye-man-{}", std::process::id()));
    let done = run(&["man", dir.to_str().unwrap()]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    for name in [
        "sockeye",
        "sockeye-serve",
        "sockeye-connect",
        "sockeye-bench",
        "sockeye-hub",
    ] {
        let page = std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert!(page.contains(".TH"), "{name}.1 is not a man page");
        assert!(
            page.contains(".SH OPTIONS") || name == "sockeye",
            "{name}.1 has no options"
        );
    }
    let serve = std::fs::read_to_string(dir.join("sockeye-serve.1")).unwrap();
    assert!(serve.contains(r"max\-message\-size"));
    assert!(!dir.join("sockeye-help.1").exists());
    std::fs::remove_dir_all(&dir).ok();
}
