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

/// Users and their bcrypt hashes, with caches of checked credentials.
///
/// bcrypt is slow on purpose (cost 10 is tens of milliseconds), so that a
/// stolen hash is slow to crack; an exporter must not let that slowness
/// become everyone's: a flood of wrong passwords must not delay the right
/// one. So [`BasicAuth::check`]:
///
/// - remembers credentials that passed, under the SHA-256 of the
///   `Authorization` value (never the password itself), compared in constant
///   time: a scraper presenting the same good credentials every 15 s pays
///   bcrypt once, and never waits behind anyone else's;
/// - remembers credentials that failed the same way, so repeating one wrong
///   password costs no bcrypt either;
/// - runs one bcrypt at a time, on a blocking thread, with at most
///   [`BCRYPT_QUEUE_MAX`] checks running or waiting: further new credentials are
///   answered [`Verdict::Busy`] (503) at once instead of queueing, so wrong
///   passwords can neither take more than one core nor pile up;
/// - refuses a password longer than bcrypt's 72 bytes ([`BCRYPT_MAX_PASSWORD_BYTES`])
///   without checking it: bcrypt ignores the bytes after the 72nd, so such a
///   password would be accepted for its first 72 bytes alone.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    good: Mutex<std::collections::VecDeque<[u8; 32]>>,
    bad: Mutex<std::collections::HashSet<[u8; 32]>>,
    bcrypt: tokio::sync::Semaphore,
    queued: std::sync::atomic::AtomicUsize,
}

/// Most remembered good credentials (the oldest is forgotten first).
const GOOD_CACHE_MAX: usize = 64;

/// Most remembered wrong credentials; the set is emptied when full.
const BAD_CACHE_MAX: usize = 1024;

/// Checks of new credentials that may run or wait for the bcrypt thread at
/// once; more are answered [`Verdict::Busy`].
pub const BCRYPT_QUEUE_MAX: usize = 4;

/// bcrypt reads at most 72 bytes of a password; longer ones are refused.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// A valid bcrypt hash of no known password, checked when the user is
/// unknown so that an unknown user takes as long as a wrong password.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// What [`BasicAuth::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right.
    Allowed,
    /// No credentials, or wrong ones (401).
    Refused,
    /// New credentials, and too many checks already wait for bcrypt (503).
    Busy,
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            good: Mutex::new(Default::default()),
            bad: Mutex::new(Default::default()),
            bcrypt: tokio::sync::Semaphore::new(1),
            queued: Default::default(),
        }
    }

    /// Check an `Authorization` header value. A remembered credential is
    /// answered at once; a new one waits for the bcrypt thread (see the type's
    /// documentation).
    pub async fn check(self: &Arc<Self>, authorization: Option<&[u8]>) -> Verdict {
        use std::sync::atomic::Ordering;
        let Some(value) = authorization else { return Verdict::Refused };
        let key = sha256(value);
        if self.is_good(&key) {
            return Verdict::Allowed;
        }
        let Some((user, password)) = std::str::from_utf8(value).ok().and_then(parse_basic) else {
            return Verdict::Refused;
        };
        if password.len() > BCRYPT_MAX_PASSWORD_BYTES {
            return Verdict::Refused;
        }
        if lock(&self.bad).contains(&key) {
            return Verdict::Refused;
        }
        // Count this check among those waiting, or give up if too many do.
        if self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < BCRYPT_QUEUE_MAX).then_some(n + 1))
            .is_err()
        {
            return Verdict::Busy;
        }
        let ok = {
            let _leave = Leave(&self.queued);
            let Ok(_permit) = self.bcrypt.acquire().await else { return Verdict::Busy };
            let me = self.clone();
            tokio::task::spawn_blocking(move || me.verify(&user, &password)).await.unwrap_or(false)
        };
        if ok {
            let mut good = lock(&self.good);
            if good.len() >= GOOD_CACHE_MAX {
                good.pop_front();
            }
            good.push_back(key);
            Verdict::Allowed
        } else {
            let mut bad = lock(&self.bad);
            if bad.len() >= BAD_CACHE_MAX {
                bad.clear();
            }
            bad.insert(key);
            Verdict::Refused
        }
    }

    /// Whether `key` is a remembered good credential, compared in constant
    /// time with each of them.
    fn is_good(&self, key: &[u8; 32]) -> bool {
        use subtle::ConstantTimeEq as _;
        let good = lock(&self.good);
        let mut found = subtle::Choice::from(0);
        for k in good.iter() {
            found |= k.ct_eq(key);
        }
        found.into()
    }

    /// bcrypt (blocking): the user's hash, or a dummy one for an unknown user.
    fn verify(&self, user: &str, password: &str) -> bool {
        let hash = self.users.get(user);
        let ok = bcrypt::verify(password, hash.map(String::as_str).unwrap_or(DUMMY_HASH)).unwrap_or(false);
        ok && hash.is_some()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The caches are plain sets: a poisoned lock still holds a consistent one.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sha256(value: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, value);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Leaves the bcrypt queue when dropped (also when the request is dropped
/// while it waits).
struct Leave<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
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
    use std::time::Duration;

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

    fn header(user: &str, password: &str) -> Vec<u8> {
        use base64::Engine as _;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
            .into_bytes()
    }

    fn auth_for(users: &[(&str, &str)], cost: u32) -> Arc<BasicAuth> {
        let mut yml = String::from("basic_auth_users:\n");
        for (user, password) in users {
            yml.push_str(&format!("  {user}: '{}'\n", bcrypt::hash(password, cost).unwrap()));
        }
        WebConfig::parse(&yml, Path::new("w.yml")).unwrap().auth.unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn basic_auth_accepts_the_right_password_only() {
        let auth = auth_for(&[("alice", "s3cret")], 4);
        block_on(async {
            assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Verdict::Allowed);
            assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Verdict::Allowed, "cached");
            assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Verdict::Refused);
            assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Verdict::Refused, "cached");
            assert_eq!(auth.check(Some(&header("bob", "s3cret"))).await, Verdict::Refused);
            assert_eq!(auth.check(Some(b"Bearer s3cret")).await, Verdict::Refused);
            assert_eq!(auth.check(Some(&[0xff, 0xfe])).await, Verdict::Refused, "not UTF-8");
            assert_eq!(auth.check(None).await, Verdict::Refused);
        });
    }

    /// bcrypt reads 72 bytes of a password: a longer one whose first 72
    /// bytes are right would pass `bcrypt::verify`; memscope refuses it.
    #[test]
    fn a_password_longer_than_72_bytes_is_refused_even_if_its_first_72_match() {
        let long = "p".repeat(72);
        let auth = auth_for(&[("alice", &long)], 4);
        let longer = format!("{long}-and-more");
        assert_eq!(bcrypt::verify(&longer, &bcrypt::hash(&long, 4).unwrap()).ok(), Some(true), "truncation");
        block_on(async {
            assert_eq!(auth.check(Some(&header("alice", &longer))).await, Verdict::Refused);
            assert_eq!(
                auth.check(Some(&header("alice", &long))).await,
                Verdict::Allowed,
                "72 bytes are fine"
            );
        });
    }

    /// While bcrypt is busy (its one permit held), a remembered good
    /// credential is answered at once, a remembered wrong one too, and new
    /// ones beyond the queue get `Busy` instead of waiting.
    #[test]
    fn a_cached_credential_never_waits_for_bcrypt_and_the_queue_is_bounded() {
        let auth = auth_for(&[("alice", "s3cret")], 4);
        block_on(async {
            assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Verdict::Allowed);
            assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Verdict::Refused);
            let permit = auth.bcrypt.acquire().await.unwrap();
            let quick = |h: Vec<u8>| {
                let auth = auth.clone();
                async move {
                    tokio::time::timeout(Duration::from_millis(500), async { auth.check(Some(&h)).await })
                        .await
                }
            };
            assert_eq!(quick(header("alice", "s3cret")).await, Ok(Verdict::Allowed));
            assert_eq!(quick(header("alice", "wrong")).await, Ok(Verdict::Refused));
            // Fill the queue with new wrong passwords, each waiting for the permit.
            let waiting: Vec<_> = (0..BCRYPT_QUEUE_MAX)
                .map(|i| {
                    let auth = auth.clone();
                    let h = header("alice", &format!("guess{i}"));
                    tokio::spawn(async move { auth.check(Some(&h)).await })
                })
                .collect();
            tokio::task::yield_now().await;
            assert_eq!(quick(header("alice", "one-more")).await, Ok(Verdict::Busy));
            assert_eq!(quick(header("alice", "s3cret")).await, Ok(Verdict::Allowed), "still at once");
            drop(permit);
            for w in waiting {
                assert_eq!(w.await.unwrap(), Verdict::Refused);
            }
            assert_eq!(quick(header("alice", "one-more")).await, Ok(Verdict::Refused), "the queue drained");
        });
    }
}
