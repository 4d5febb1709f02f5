//! The web configuration file of Prometheus exporters (the exporter-toolkit
//! format, `--web.config.file` of node_exporter), so that one file serves
//! every exporter on a host:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/memscope/tls.crt      # PEM chain, leaf first
//!   key_file: /etc/memscope/tls.key       # PEM private key
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: /etc/memscope/clients.pem      # with the above
//! basic_auth_users:
//!   prometheus: $2y$10$…                  # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Keys memscope does not implement are refused by name rather than
//! ignored: a security setting that silently does nothing is worse than an
//! error.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Why the web configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has a key memscope does not know.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// A value is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
}

/// A loaded web configuration: a TLS acceptor, basic-auth users, or both.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// TLS for every connection, when configured.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Basic authentication, when configured.
    pub auth: Option<Arc<BasicAuth>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("auth_users", &self.auth.as_ref().map(|a| a.users.len()))
            .finish()
    }
}

impl WebConfig {
    /// Read and check a web configuration file: certificates and keys are
    /// loaded, every bcrypt hash is parsed.
    pub fn load(path: &Path) -> Result<WebConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        WebConfig::parse(&text, path)
    }

    /// Parse the text of a web configuration file; relative paths in it are
    /// relative to the file's directory (as the exporter toolkit does).
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text)
                .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string() })?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { dir.join(p) };
        let tls = match file.tls_server_config {
            None => None,
            Some(t) => {
                let (Some(cert), Some(key)) = (t.cert_file, t.key_file) else {
                    return Err(invalid("tls_server_config needs both cert_file and key_file".into()));
                };
                let client = match (t.client_auth_type.as_deref(), t.client_ca_file) {
                    (None | Some("NoClientCert"), None) => None,
                    (None | Some("NoClientCert"), Some(_)) => {
                        return Err(invalid("client_ca_file needs client_auth_type: RequireAndVerifyClientCert or VerifyClientCertIfGiven".into()));
                    }
                    (Some(kind @ ("RequireAndVerifyClientCert" | "VerifyClientCertIfGiven")), Some(ca)) => {
                        Some((resolve(&ca), kind == "RequireAndVerifyClientCert"))
                    }
                    (Some("RequireAndVerifyClientCert" | "VerifyClientCertIfGiven"), None) => {
                        return Err(invalid("client_auth_type needs client_ca_file".into()));
                    }
                    (Some(other), _) => {
                        return Err(invalid(format!(
                            "client_auth_type {other} is not supported: use NoClientCert, \
                             VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                        )));
                    }
                };
                Some(tls_acceptor(&resolve(&cert), &resolve(&key), client).map_err(invalid)?)
            }
        };
        let auth = match file.basic_auth_users {
            None => None,
            Some(users) if users.is_empty() => None,
            Some(users) => {
                for (user, hash) in &users {
                    if user.contains(':') {
                        return Err(invalid(format!("basic_auth_users: user name {user:?} contains ':'")));
                    }
                    // Parse the hash now, so that a typo fails at start rather than at every scrape.
                    if let Err(e) = bcrypt::verify("", hash) {
                        return Err(invalid(format!("basic_auth_users: {user}: not a bcrypt hash ({e})")));
                    }
                }
                Some(Arc::new(BasicAuth::new(users)))
            }
        };
        Ok(WebConfig { tls, auth })
    }
}

fn tls_acceptor(
    cert: &Path,
    key: &Path,
    client: Option<(PathBuf, bool)>,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cert_file {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cert_file {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("cert_file {}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key_file {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client {
        None => builder.with_no_client_auth(),
        Some((ca, required)) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(&ca)
                .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            for c in cas {
                let c = c.map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
                roots.add(c).map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            let mut v =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if !required {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(
                v.build().map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?,
            )
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| format!("cert_file/key_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Users and their bcrypt hashes, with a small cache of good passwords.
///
/// bcrypt is slow on purpose (cost 10 is tens of milliseconds): a scraper
/// presenting the same good credentials every 15 s should not pay that each
/// time, so a successful check is remembered under a keyed hash of user,
/// password and stored hash (never the password itself). Failed checks are
/// not cached, and only one bcrypt runs at a time, so wrong passwords cannot
/// take more than one core.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    good: Mutex<std::collections::HashSet<u64>>,
    keys: std::collections::hash_map::RandomState,
    one_at_a_time: Mutex<()>,
}

/// Most remembered good credentials; the set is emptied when full.
const GOOD_CACHE_MAX: usize = 64;

/// A valid bcrypt hash of no known password, checked when the user is
/// unknown so that an unknown user takes as long as a wrong password.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            good: Mutex::new(Default::default()),
            keys: Default::default(),
            one_at_a_time: Mutex::new(()),
        }
    }

    /// Check an `Authorization` header value. Blocking (bcrypt): call from a
    /// blocking thread.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else { return false };
        let hash = self.users.get(&user);
        let key = self.keys.hash_one((&user, &password, hash));
        if hash.is_some() && self.good.lock().is_ok_and(|g| g.contains(&key)) {
            return true;
        }
        let ok = {
            let _one = self.one_at_a_time.lock();
            let ok =
                bcrypt::verify(&password, hash.map(String::as_str).unwrap_or(DUMMY_HASH)).unwrap_or(false);
            ok && hash.is_some()
        };
        if ok && let Ok(mut g) = self.good.lock() {
            if g.len() >= GOOD_CACHE_MAX {
                g.clear();
            }
            g.insert(key);
        }
        ok
    }
}

/// `Basic dXNlcjpwYXNz` → (`user`, `pass`) (RFC 7617).
fn parse_basic(value: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_basic_header() {
        assert_eq!(parse_basic("Basic dXNlcjpwYTpzcw=="), Some(("user".into(), "pa:ss".into())));
        assert_eq!(parse_basic("basic dXNlcjpwYTpzcw=="), Some(("user".into(), "pa:ss".into())));
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic dXNlcg=="), None, "no colon");
    }

    #[test]
    fn dummy_hash_is_a_valid_bcrypt_hash() {
        assert_eq!(bcrypt::verify("x", DUMMY_HASH).ok(), Some(false));
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = WebConfig::parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n",
            Path::new("/x/web.yml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_version"), "{e}");
        let e =
            WebConfig::parse("http_server_config:\n  http2: false\n", Path::new("/x/web.yml")).unwrap_err();
        assert!(e.to_string().contains("http_server_config"), "{e}");
    }

    #[test]
    fn a_bad_hash_or_half_a_tls_config_fails_at_load() {
        let e = WebConfig::parse("basic_auth_users:\n  alice: notahash\n", Path::new("w.yml")).unwrap_err();
        assert!(e.to_string().contains("alice"), "{e}");
        let e = WebConfig::parse("tls_server_config:\n  cert_file: a.pem\n", Path::new("w.yml")).unwrap_err();
        assert!(e.to_string().contains("key_file"), "{e}");
        let e = WebConfig::parse(
            "tls_server_config:\n  cert_file: /nonexistent/a.pem\n  key_file: b\n",
            Path::new("w.yml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/a.pem"), "{e}");
    }

    #[test]
    fn an_empty_file_configures_nothing() {
        let c = WebConfig::parse("", Path::new("w.yml")).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none());
    }

    #[test]
    fn basic_auth_accepts_the_right_password_only() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c =
            WebConfig::parse(&format!("basic_auth_users:\n  alice: '{hash}'\n"), Path::new("w.yml")).unwrap();
        let auth = c.auth.unwrap();
        let header = |u: &str, p: &str| {
            use base64::Engine as _;
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
        };
        assert!(auth.check(Some(&header("alice", "s3cret"))));
        assert!(auth.check(Some(&header("alice", "s3cret"))), "cached");
        assert!(!auth.check(Some(&header("alice", "wrong"))));
        assert!(!auth.check(Some(&header("bob", "s3cret"))));
        assert!(!auth.check(None));
    }
}
