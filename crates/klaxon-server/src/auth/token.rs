//! Access tokens: generation, hashing (SHA-256, only hashes are stored), constant-time
//! comparison, who a token stands for (`Caller`), and the first-start admin token. Owns no HTTP.

use std::path::{Path, PathBuf};

use klaxon_store::{Role, Store, StoreError};
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

/// A new random token: `kx_` and 64 hex digits (256 bits).
pub(crate) fn generate_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let mut s = String::from("kx_");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Who called: the token's role and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub role: Role,
    /// The token's name, recorded as the actor of what the caller does.
    pub name: String,
}

/// Makes sure an admin token exists: the configured one (stored hashed), else on the very first
/// start a generated one written to `<data_dir>/admin.token` with mode 0600. Returns the file
/// written, if any.
pub(crate) async fn ensure_admin<S: Store>(
    store: &S,
    configured: Option<&str>,
    data_dir: &Path,
    now: i64,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(token) = configured {
        let hash = hash_token(token);
        if store.find_token(&hash).await?.is_none() {
            let name = format!("config-admin-{}", &hash[..12]);
            match store.insert_token(&name, Role::Admin, &hash, now).await {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(None);
    }
    if store
        .list_tokens()
        .await?
        .iter()
        .any(|t| t.role == Role::Admin)
    {
        return Ok(None);
    }
    let token = generate_token()?;
    let path = data_dir.join("admin.token");
    write_private(&path, &format!("{token}\n"))?;
    store
        .insert_token("bootstrap-admin", Role::Admin, &hash_token(&token), now)
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
        assert!(t.starts_with("kx_") && t.len() == 67);
        assert_ne!(t, generate_token().expect("randomness"));
    }
}
