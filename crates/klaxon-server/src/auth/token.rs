//! Access tokens: generation (`klx_` and 32 random bytes, URL-safe), hashing (SHA-256, only
//! hashes are stored), constant-time comparison, who a token stands for (`Caller`), and the
//! admin token made at start. Owns no HTTP.

use std::path::{Path, PathBuf};

use klaxon_store::{Role, Store, StoreError, TokenRecord, TokenState};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// Equality whose time does not depend on where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The prefix of every token klaxon generates, so that secret scanners can find them.
pub(crate) const PREFIX: &str = "klx_";

/// A new random token: [`PREFIX`] and 32 random bytes in URL-safe base64 without padding
/// (43 characters).
pub(crate) fn generate_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(format!("{PREFIX}{}", base64url(&bytes)))
}

/// URL-safe base64 (RFC 4648, section 5) without padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let six = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[six as usize]));
        }
    }
    out
}

/// Who called: the token's role, name, id and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub role: Role,
    /// The token's name, recorded as the actor of what the caller does.
    pub name: String,
    pub token_id: i64,
    /// The user the token belongs to, if it names one.
    pub user: Option<String>,
}

impl Caller {
    pub(crate) fn of(t: &TokenRecord) -> Caller {
        Caller {
            role: t.role,
            name: t.name.clone(),
            token_id: t.id,
            user: t.user.clone(),
        }
    }
}

/// Makes sure an admin token can be used: the configured one (stored hashed), else, when no
/// admin token is in force (the very first start, or every admin token expired), a generated
/// one written to `<data_dir>/admin.token` with mode 0600. Returns the file written, if any.
pub(crate) async fn ensure_admin<S: Store>(
    store: &S,
    configured: Option<&str>,
    data_dir: &Path,
    now: i64,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(token) = configured {
        let hash = hash_token(token);
        match store.find_token(&hash).await? {
            Some(t) if t.state(now) != TokenState::Active => tracing::warn!(
                name = %t.name,
                state = t.state(now).as_str(),
                "the configured admin token is {} and is refused; configure another",
                t.state(now).as_str()
            ),
            Some(_) => {}
            None => {
                let name = format!("config-admin-{}", &hash[..12]);
                match store.insert_token(&name, Role::Admin, &hash, now).await {
                    Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        return Ok(None);
    }
    let tokens = store.list_tokens().await?;
    if tokens
        .iter()
        .any(|t| t.role == Role::Admin && t.state(now) == TokenState::Active)
    {
        return Ok(None);
    }
    let name = if tokens
        .iter()
        .any(|t| t.name == "bootstrap-admin" && t.revoked_at.is_none())
    {
        format!("bootstrap-admin-{now}")
    } else {
        "bootstrap-admin".to_owned()
    };
    let token = generate_token()?;
    let path = data_dir.join("admin.token");
    write_private(&path, &format!("{token}\n"))?;
    store
        .insert_token(&name, Role::Admin, &hash_token(&token), now)
        .await?;
    Ok(Some(path))
}

pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    f.sync_all()
        .map_err(|e| anyhow::anyhow!("syncing {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_compares() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let t = generate_token().expect("randomness");
        assert!(t.starts_with("klx_") && t.len() == 4 + 43, "{t}");
        let secret = &t[4..];
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {t}"
        );
        assert_ne!(t, generate_token().expect("randomness"));
    }

    #[test]
    fn base64url_matches_rfc_4648() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "-_-_"),
        ] {
            assert_eq!(base64url(input), expected);
        }
    }
}
