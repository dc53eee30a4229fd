//! `sockeye completions SHELL` and `sockeye man DIR`: the shell completions
//! and the manual pages, made from the same definition of the command line
//! as `--help`, so they never drift from it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

/// `sockeye completions`: print a completion script.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  sockeye completions bash > ~/.local/share/bash-completion/completions/sockeye
  sockeye completions zsh > ~/.zfunc/_sockeye     # with fpath+=(~/.zfunc) in ~/.zshrc
  sockeye completions fish > ~/.config/fish/completions/sockeye.fish")]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// `sockeye man`: write the manual pages.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  sockeye man /usr/local/share/man/man1 && man sockeye-serve")]
pub(crate) struct ManArgs {
    /// The folder the pages go to (created if missing): sockeye.1 and one
    /// sockeye-SUBCOMMAND.1 per subcommand.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Prints the completion script for `args.shell` to stdout.
pub(crate) fn completions(args: &CompletionsArgs, mut command: clap::Command) -> ExitCode {
    let name = command.get_name().to_owned();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, name, &mut out);
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockeye: cannot write the completions: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `sockeye.1` and a page per subcommand into `args.dir`, naming
/// each file written on stdout.
pub(crate) fn man(args: &ManArgs, command: clap::Command) -> ExitCode {
    match write_pages(&args.dir, command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "sockeye: cannot write the manual pages into {}: {e}",
                args.dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// The page of `command`, then those of its subcommands, named
/// `PARENT-SUB.1` as git and cargo name theirs.
fn write_pages(dir: &Path, command: clap::Command) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = command;
    command.build();
    write_page(dir, &command, command.get_name())?;
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        let sub = sub.clone().display_name(&name);
        write_page(dir, &sub, &name)?;
    }
    Ok(())
}

fn write_page(dir: &Path, command: &clap::Command, name: &str) -> std::io::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(&path, page)?;
    println!("{}", path.display());
    Ok(())
}
