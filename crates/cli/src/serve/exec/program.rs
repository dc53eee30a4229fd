//! Which program a connection runs: the one `--exec` names, found once at
//! start, or the one a request's path names under `--dir`.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The most path segments looked at under `--dir`: deeper paths are not
/// served (404), so that a request cannot make the server walk a long
/// chain of directories (or a symbolic link to one of their parents).
const MAX_DIR_DEPTH: usize = 16;

/// A program and its arguments.
#[derive(Clone, Debug)]
pub(super) struct Program {
    /// Absolute, or relative to the server's working directory.
    pub(super) path: PathBuf,
    pub(super) args: Vec<OsString>,
}

impl Program {
    /// The program of an `--exec` command line, split into words as a
    /// shell does (quotes and backslashes, nothing expanded), its first
    /// word looked up on the server's `PATH` unless it holds a `/`. The
    /// error is the sentence to print.
    pub(super) fn parse(command: &str) -> Result<Self, String> {
        let words = shlex::split(command)
            .ok_or_else(|| format!("cannot split the command {command:?}: unbalanced quotes"))?;
        let mut words = words.into_iter();
        let name = words
            .next()
            .ok_or_else(|| "the command to run is empty".to_owned())?;
        let path = find_program(&name)?;
        Ok(Program {
            path,
            args: words.map(OsString::from).collect(),
        })
    }
}

/// Where `name` is: itself if it holds a `/`, else the first executable
/// file of that name in a directory of the server's `PATH`.
fn find_program(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!("{name} is not an executable file"))
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| format!("{name} was not found on the PATH"))
}

/// Whether `path` is a regular file (after symbolic links) that someone
/// may execute.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `--dir`: a directory whose executable files are each served at their
/// path.
#[derive(Clone, Debug)]
pub(super) struct ScriptDir {
    /// Canonical: symbolic links resolved.
    root: PathBuf,
}

/// The program a request's path names under `--dir`, and how the path
/// splits around it.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) program: Program,
    /// The path up to and including the program's name (`/chat.sh`).
    pub(super) script_name: String,
    /// What follows it (`/room/1`), or nothing.
    pub(super) path_info: String,
}

impl ScriptDir {
    /// The directory, symbolic links resolved.
    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory `dir`; the error is the sentence to print.
    pub(super) fn open(dir: &Path) -> Result<Self, String> {
        let root = dir
            .canonicalize()
            .map_err(|e| format!("cannot use {} as --dir: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("--dir {} is not a directory", dir.display()));
        }
        Ok(ScriptDir { root })
    }

    /// The program the request path `path` names: its segments are
    /// followed through subdirectories to the first executable file;
    /// what remains is its `PATH_INFO`. `None` (to be answered 404) when
    /// there is none, when a segment is empty or starts with a dot
    /// (`..`, hidden files), or when the file, its symbolic links
    /// resolved, lies outside the directory. The path is taken as sent,
    /// not percent-decoded: `%2e%2e` names a file called that, if any.
    pub(super) async fn find(&self, path: &str) -> Option<Found> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut candidate = self.root.clone();
        for (depth, segment) in segments.iter().enumerate().take(MAX_DIR_DEPTH) {
            if segment.is_empty() || segment.starts_with('.') || segment.contains('\0') {
                return None;
            }
            candidate.push(segment);
            let meta = tokio::fs::metadata(&candidate).await.ok()?;
            if meta.is_dir() {
                continue;
            }
            if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                return None;
            }
            // A symbolic link may lead out of the directory: never served.
            let real = tokio::fs::canonicalize(&candidate).await.ok()?;
            if !real.starts_with(&self.root) {
                return None;
            }
            let rest = &segments[depth + 1..];
            return Some(Found {
                program: Program {
                    path: real,
                    args: Vec::new(),
                },
                script_name: format!("/{}", segments[..=depth].join("/")),
                path_info: if rest.is_empty() {
                    String::new()
                } else {
                    format!("/{}", rest.join("/"))
                },
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_split_as_a_shell_would() {
        let program = Program::parse("sh -c 'echo \"a b\"; exit 3'").unwrap();
        assert!(program.path.ends_with("sh"), "{:?}", program.path);
        assert_eq!(program.args, ["-c", "echo \"a b\"; exit 3"]);
    }

    #[test]
    fn an_unknown_program_is_reported_at_start() {
        let error = Program::parse("no-such-program-here --flag").unwrap_err();
        assert!(error.contains("no-such-program-here"), "{error}");
        assert!(Program::parse("  ").is_err());
        assert!(Program::parse("cat 'open").is_err());
    }
}
