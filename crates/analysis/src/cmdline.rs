//! Command lines with their secrets masked, for `ps` and the keys of
//! `leaks`.
//!
//! Anyone on the machine can read `/proc/PID/cmdline` (unless `/proc` is
//! mounted with `hidepid`), and `ps aux` prints it whole. memscope shows
//! the arguments too, since they tell two processes of one program apart,
//! but not the values that look like secrets, because its output is pasted
//! into tickets and chat. A masked value reads `***`; everything
//! else is kept. What counts as a secret:
//!
//! - the value of an option or an assignment whose name holds a secret
//!   word (`--password=x`, `--db-password x`, `PGPASSWORD=x`,
//!   `-Dauth.token=x`, `--api-key x`): see [`is_secret_name`];
//! - the password of a URL (`postgres://user:pw@host` keeps the user);
//! - an HTTP header that carries credentials (`-H 'Authorization: Bearer
//!   x'`, `Cookie: x`, `X-Api-Key: x`);
//! - MySQL's `-pPASSWORD` (mysql, mysqldump, mysqladmin, mariadb…);
//! - tokens recognisable by their form wherever they stand: JSON web
//!   tokens and the prefixed keys of GitHub, GitLab, Slack, AWS and Stripe.
//!
//! A name holding a secret word masks its value even when the value is
//! harmless (`--auth-type basic` shows `--auth-type ***`): masking too much
//! is the safer mistake. No list finds every secret: a password passed as a
//! bare positional argument looks like any other word.
//!
//! Captured trees are stricter: `capture` keeps only the program's name
//! ([`memscope_model::capture::scrub_cmdline`]), because a tree leaves the
//! machine.

/// What a masked value reads.
pub const MASK: &str = "***";

/// Words that make an option or variable name a secret's, matched inside
/// the lower-cased name (`DB_PASSWORD`, `--client-secret`, `apiToken`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "auth",
    "cookie",
    "bearer",
    "privatekey",
    "private_key",
    "private-key",
    "accesskey",
    "access_key",
    "access-key",
    "signingkey",
    "signing_key",
    "signing-key",
];

/// Names that are a secret's only as a whole (`--pass`, `PWD` is not one:
/// it is the shell's working directory).
const SECRET_NAMES: &[&str] = &["pass", "pw", "key", "sig"];

/// Programs whose `-pVALUE` is a password.
const MYSQL_LIKE: &[&str] = &[
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mysqlcheck",
    "mysqlslap",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "mariadb-import",
    "mariadb-check",
];

/// True when an option or variable name (dashes and all) names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let bare = name.trim_start_matches('-').to_ascii_lowercase();
    if bare.is_empty() || bare.starts_with("no-") || bare.starts_with("no_") {
        return false;
    }
    // The last component of a dotted Java property (`-Ddb.pass`).
    let last = bare.rsplit('.').next().unwrap_or(&bare);
    SECRET_WORDS.iter().any(|w| bare.contains(w)) || SECRET_NAMES.contains(&last)
}

/// True for a word that can be an option or variable name: letters,
/// digits, `_`, `-` and `.`, after any leading dashes.
fn is_name(s: &str) -> bool {
    let bare = s.trim_start_matches('-');
    !bare.is_empty()
        && bare.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && bare.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
}

/// Mask the password of every `scheme://user:password@` in `s`.
fn mask_url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#` or blank.
        let end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Prefixes of tokens that name themselves (GitHub, GitLab, Slack, Stripe).
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
];

/// True when `word` is a token recognisable by its form.
fn is_token(word: &str) -> bool {
    let body_ok =
        |b: &str| b.len() >= 12 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if TOKEN_PREFIXES.iter().any(|p| word.strip_prefix(p).is_some_and(body_ok)) {
        return true;
    }
    // AWS access key ids: AKIA or ASIA and 16 upper-case letters or digits.
    if word.len() == 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return true;
    }
    // A JSON web token: three base64url parts, the first a JSON object.
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && word.starts_with("eyJ")
        && parts.iter().take(2).all(|p| p.len() >= 4)
        && word.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'='))
}

/// Mask the tokens that stand as whole words of `s` (split at blanks, `=`,
/// `:`, `,` and quotes).
fn mask_tokens(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if is_token(word) {
            out.push_str(MASK);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '=' | ':' | ',' | '"' | '\'') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Header names that carry credentials whatever their value.
fn is_credential_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n == "set-cookie"
        || is_secret_name(&n)
}

/// Mask one argument on its own (not the one after a secret option).
fn mask_word(arg: &str, mysql_like: bool) -> String {
    // `-pPASSWORD` of MySQL's tools (`-p` alone prompts).
    if mysql_like && arg.len() > 2 && arg.starts_with("-p") && !arg.starts_with("--") {
        return format!("-p{MASK}");
    }
    // `NAME=VALUE`, `--name=value`, `-Dname=value`.
    if let Some((name, _)) = arg.split_once('=') {
        let bare = name.strip_prefix("-D").filter(|_| !name.starts_with("--")).unwrap_or(name);
        if is_name(bare) && is_secret_name(bare) {
            return format!("{name}={MASK}");
        }
    }
    // `Header: value`.
    if let Some((name, _)) = arg.split_once(':')
        && is_name(name)
        && !name.starts_with('-')
        && is_credential_header(name)
    {
        return format!("{name}: {MASK}");
    }
    mask_tokens(&mask_url_passwords(arg))
}

/// True when `arg` is an option that takes the next argument as a secret
/// (`--password`, `-token`), not one with its value attached.
fn takes_secret(arg: &str) -> bool {
    arg.starts_with('-') && !arg.contains('=') && is_name(arg) && is_secret_name(arg)
}

/// The arguments (argv\[1..\]) with their secrets masked. `program` is the
/// program's name, for the options only some programs give a meaning to.
pub fn mask_args(program: &str, args: &[String]) -> Vec<String> {
    let program = program.rsplit('/').next().unwrap_or(program);
    let mysql_like = MYSQL_LIKE.contains(&program);
    let mut out = Vec::with_capacity(args.len());
    let mut next_is_secret = false;
    for arg in args {
        if next_is_secret && !arg.starts_with("--") {
            out.push(MASK.to_string());
            next_is_secret = false;
            continue;
        }
        let masked = mask_word(arg, mysql_like);
        // An option whose value was attached and masked takes no other.
        next_is_secret = masked == arg.as_str() && takes_secret(arg);
        out.push(masked);
    }
    out
}

/// A process title rewritten into `argv[0]` (`postgres: walwriter`,
/// `sshd: alice@pts/0`): its words after the first, masked like arguments.
pub fn mask_title(title: &str) -> String {
    let mut words = title.split(' ');
    let first = words.next().unwrap_or("");
    let rest: Vec<String> = words.map(str::to_string).collect();
    let masked = mask_args(first.trim_end_matches(':'), &rest);
    std::iter::once(first.to_string()).chain(masked).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(program: &str, args: &[&str]) -> Vec<String> {
        mask_args(program, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_and_assignments_with_secret_names() {
        assert_eq!(
            m("app", &["--password=hunter2", "--db-password", "hunter2", "--port", "5432"]),
            ["--password=***", "--db-password", "***", "--port", "5432"]
        );
        assert_eq!(
            m("env", &["PGPASSWORD=x", "AWS_SECRET_ACCESS_KEY=y", "HOME=/root"]),
            ["PGPASSWORD=***", "AWS_SECRET_ACCESS_KEY=***", "HOME=/root"]
        );
        assert_eq!(
            m("java", &["-Ddb.pass=x", "-Dauth.token=y", "-Xmx4g", "-Dfile.encoding=UTF-8"]),
            ["-Ddb.pass=***", "-Dauth.token=***", "-Xmx4g", "-Dfile.encoding=UTF-8"]
        );
        assert_eq!(
            m("app", &["--apiToken", "abc", "--api-key", "k", "--client-secret=s"]),
            ["--apiToken", "***", "--api-key", "***", "--client-secret=***"]
        );
        // A flag without value before another option masks nothing.
        assert_eq!(m("app", &["--auth", "--verbose", "x"]), ["--auth", "--verbose", "x"]);
        // Negated options and the shell's working directory are not secrets.
        assert_eq!(m("app", &["--no-password", "file", "PWD=/srv"]), ["--no-password", "file", "PWD=/srv"]);
        // A trailing secret option with nothing after it.
        assert_eq!(m("app", &["--token"]), ["--token"]);
    }

    #[test]
    fn urls_headers_mysql_and_tokens() {
        assert_eq!(
            m("psql", &["postgres://alice:pw@db:5432/x", "https://example.org/a:b@c"]),
            ["postgres://alice:***@db:5432/x", "https://example.org/a:b@c"]
        );
        assert_eq!(m("app", &["--dsn=mysql://u:p@h/db"]), ["--dsn=mysql://u:***@h/db"]);
        assert_eq!(m("app", &["--url", "redis://:pw@h:6379"]), ["--url", "redis://:***@h:6379"]);
        assert_eq!(
            m("curl", &["-H", "Authorization: Bearer abc", "-H", "Accept: text/plain"]),
            ["-H", "Authorization: ***", "-H", "Accept: text/plain"]
        );
        assert_eq!(m("/usr/bin/mysql", &["-uroot", "-psecret", "-p"]), ["-uroot", "-p***", "-p"]);
        assert_eq!(m("ssh", &["-p2222"]), ["-p2222"]);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(
            m("app", &[jwt, "ghp_0123456789abcdefABCDEF", "AKIAIOSFODNN7EXAMPLE", "plain.word.here"]),
            ["***", "***", "***", "plain.word.here"]
        );
        assert_eq!(m("app", &["--header=x:ghp_0123456789abcdefABCDEF"]), ["--header=x:***"]);
    }

    #[test]
    fn process_titles() {
        assert_eq!(mask_title("postgres: walwriter"), "postgres: walwriter");
        assert_eq!(mask_title("app: --password=x worker"), "app: --password=*** worker");
    }

    #[test]
    fn no_input_panics() {
        for s in ["", "=", "-", "--=", "://", "a://@", "a://:@", ":", "-p", "eyJ..", "é=é", "\u{0}=x", "x:"]
        {
            let _ = m("mysql", &[s, s]);
            let _ = mask_title(s);
        }
    }
}
