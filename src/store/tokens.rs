//! The feed's access tokens: a county token sees every ticket, a township token only its own
//! township's. A token is shown once when it is made; the store keeps its SHA-256 (tokens are 256
//! random bits, so a plain hash is enough: nothing to guess from it).

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::db::{vals, DbError};
use super::{ts, Store, StoreError};

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub token_id: i64,
    pub name: String,
    /// `None`: the county (sees all).
    pub township_code: Option<String>,
}

impl Identity {
    /// May this identity see a ticket of `township_code`?
    pub fn sees(&self, township_code: &str) -> bool {
        self.township_code.as_deref().is_none_or(|own| own == township_code)
    }
    /// The name written as `by` in the audit log.
    pub fn by(&self) -> String {
        format!("{} (token {})", self.name, self.token_id)
    }
}

/// A token as `token list` shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// `None`: a county token.
    pub township_code: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from the kernel's random source, as `fpt_` + hex.
fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("fpt_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

impl Store {
    pub fn add_token(&mut self, name: &str, township_code: Option<&str>) -> Result<(i64, String), StoreError> {
        let token = new_token().map_err(|e| StoreError::BadStep(format!("cannot read /dev/urandom: {e}")))?;
        let id = self
            .conn
            .insert(
                "INSERT INTO tokens (name, township_code, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                "id",
                vals![name, township_code, hash(&token), ts(Utc::now())],
            )
            .map_err(self.sql())?;
        Ok((id, token))
    }

    pub fn identity(&self, token: &str) -> Result<Option<Identity>, StoreError> {
        let row = self
            .conn
            .row(
                "SELECT id, name, township_code FROM tokens WHERE hash = ?1 AND revoked_at IS NULL",
                vals![hash(token)],
            )
            .map_err(self.sql())?;
        row.map(|r| Ok(Identity { token_id: r.int(0)?, name: r.text(1)?, township_code: r.opt_text(2)? }))
            .transpose()
            .map_err(|e: DbError| self.sql()(e))
    }

    pub fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows = self
            .conn
            .rows("SELECT id, name, township_code, created_at, revoked_at FROM tokens ORDER BY id", &[])
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                Ok(TokenRow {
                    id: r.int(0)?,
                    name: r.text(1)?,
                    township_code: r.opt_text(2)?,
                    created_at: r.text(3)?,
                    revoked_at: r.opt_text(4)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(self.sql())
    }

    pub fn revoke_token(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .exec("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", vals![id, ts(Utc::now())])
            .map_err(self.sql())?;
        Ok(n == 1)
    }
}
