//! The hub's settings: the TOML file of `--config`, overridden by flags,
//! each limit with its default and the reason for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default `--max-connections`: 10,000 TCP connections at once. An idle
/// Socket.IO client costs a few KiB here, so this bounds the hub's memory
/// to tens of MiB while serving any single-node deployment; raise it
/// together with the file descriptor limit.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default `--max-payload`: 1 MB, Node's `maxHttpBufferSize`; the largest
/// Engine.IO packet and the largest HTTP API body.
pub(crate) const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;
/// Default recovery window: 2 min, Node's `maxDisconnectionDuration`.
pub(crate) const DEFAULT_RECOVERY: Duration = Duration::from_secs(120);

/// The events of the hub's client protocol, which no namespace may let
/// clients publish under their own meaning.
pub(crate) const RESERVED: [&str; 5] = ["join", "leave", "publish", "refresh", "token-expired"];

/// The `--config` file, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSettings {
    listen: Option<String>,
    adapter: Option<String>,
    api_key: Option<String>,
    jwt_secret: Option<String>,
    jwt_public_key: Option<PathBuf>,
    recovery_secs: Option<u64>,
    max_connections: Option<usize>,
    max_payload: Option<usize>,
    #[serde(default)]
    namespace: Vec<NamespaceSettings>,
}

/// One `[[namespace]]` of the file: its name and the events its clients
/// may publish to their rooms.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamespaceSettings {
    /// The namespace, `/` or `/name`.
    pub(crate) name: String,
    /// The events a client of this namespace may publish to a room it
    /// may join; none by default (clients only listen).
    #[serde(default)]
    pub(crate) publish: Vec<String>,
    /// The rooms clients may publish to, as exact names or `prefix*`;
    /// empty (the default): any room the client may join.
    #[serde(default)]
    pub(crate) publish_rooms: Vec<String>,
}

/// What the hub runs with, file and flags merged.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Where to listen.
    pub(crate) listen: String,
    /// The adapter's URL; `None` runs in memory.
    pub(crate) adapter: Option<String>,
    /// The HTTP API's key; `None` serves no API.
    pub(crate) api_key: Option<String>,
    /// The HS256 secret of client tokens.
    pub(crate) jwt_secret: Option<String>,
    /// The PEM public key (RSA or Ed25519) of client tokens.
    pub(crate) jwt_public_key: Option<PathBuf>,
    /// The recovery window; `None` turns recovery off.
    pub(crate) recovery: Option<Duration>,
    /// TCP connections at once.
    pub(crate) max_connections: usize,
    /// The largest packet and API body, in bytes.
    pub(crate) max_payload: usize,
    /// The namespaces clients may connect to.
    pub(crate) namespaces: Vec<NamespaceSettings>,
}

/// The flags that override the file (`None`/empty: not given).
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) listen: Option<String>,
    pub(crate) adapter: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) jwt_secret: Option<String>,
    pub(crate) jwt_public_key: Option<PathBuf>,
    pub(crate) recovery_secs: Option<u64>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_payload: Option<usize>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) publish: Vec<String>,
    pub(crate) publish_rooms: Vec<String>,
}

/// Reads `path` as the hub's TOML settings.
pub(crate) fn read_file(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the TOML settings.
pub(crate) fn parse(text: &str) -> Result<FileSettings, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// `file` with `flags` over it. `--namespace` replaces the file's
/// namespaces; `--publish` and `--publish-room` add events and room
/// patterns to every namespace. Without any
/// namespace, `/` alone.
pub(crate) fn merge(file: FileSettings, flags: Overrides) -> Result<Settings, String> {
    let mut namespaces = if flags.namespaces.is_empty() {
        file.namespace
    } else {
        flags
            .namespaces
            .iter()
            .map(|name| NamespaceSettings {
                name: name.clone(),
                publish: Vec::new(),
                publish_rooms: Vec::new(),
            })
            .collect()
    };
    if namespaces.is_empty() {
        namespaces.push(NamespaceSettings {
            name: "/".into(),
            publish: Vec::new(),
            publish_rooms: Vec::new(),
        });
    }
    for ns in &mut namespaces {
        if !ns.name.starts_with('/') {
            return Err(format!("namespace {:?} must start with /", ns.name));
        }
        for event in &flags.publish {
            if !ns.publish.contains(event) {
                ns.publish.push(event.clone());
            }
        }
        for pattern in &flags.publish_rooms {
            if !ns.publish_rooms.contains(pattern) {
                ns.publish_rooms.push(pattern.clone());
            }
        }
        if let Some(reserved) = ns.publish.iter().find(|e| RESERVED.contains(&e.as_str())) {
            return Err(format!(
                "event {reserved:?} is the hub's own and cannot be published"
            ));
        }
    }
    let recovery_secs = flags.recovery_secs.or(file.recovery_secs);
    let max_payload = flags
        .max_payload
        .or(file.max_payload)
        .unwrap_or(DEFAULT_MAX_PAYLOAD);
    if max_payload == 0 {
        return Err("max payload must be at least 1 byte".into());
    }
    Ok(Settings {
        listen: flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:9100".into()),
        adapter: flags.adapter.or(file.adapter),
        api_key: flags.api_key.or(file.api_key),
        jwt_secret: flags.jwt_secret.or(file.jwt_secret),
        jwt_public_key: flags.jwt_public_key.or(file.jwt_public_key),
        recovery: match recovery_secs {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => Some(DEFAULT_RECOVERY),
        },
        max_connections: flags
            .max_connections
            .or(file.max_connections)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS),
        max_payload,
        namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let file = parse(
            "adapter = \"redis://a:1\"\nrecovery_secs = 30\n[[namespace]]\nname = \"/chat\"\npublish = [\"msg\"]\npublish_rooms = [\"room:*\"]\n",
        )
        .unwrap();
        let flags = Overrides {
            adapter: Some("redis://b:2".into()),
            publish: vec!["typing".into()],
            ..Overrides::default()
        };
        let settings = merge(file, flags).unwrap();
        assert_eq!(settings.adapter.as_deref(), Some("redis://b:2"));
        assert_eq!(settings.recovery, Some(Duration::from_secs(30)));
        assert_eq!(settings.namespaces[0].name, "/chat");
        assert_eq!(settings.namespaces[0].publish, ["msg", "typing"]);
        assert_eq!(settings.namespaces[0].publish_rooms, ["room:*"]);
        assert_eq!(settings.max_payload, DEFAULT_MAX_PAYLOAD);
    }

    #[test]
    fn unknown_keys_and_bad_namespaces_are_refused() {
        assert!(parse("colour = 1").is_err());
        let flags = Overrides {
            namespaces: vec!["chat".into()],
            ..Overrides::default()
        };
        assert!(merge(FileSettings::default(), flags).is_err());
        let flags = Overrides {
            publish: vec!["join".into()],
            ..Overrides::default()
        };
        assert!(merge(FileSettings::default(), flags).is_err());
    }
}
