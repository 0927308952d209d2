//! The store's two databases behind one door: SQLite (embedded, a county's default) and
//! PostgreSQL (`paths.store = "postgres://…"`, one store shared by many workers).
//!
//! Every query is written once, in SQL both understand: numbered `?N` parameters (rewritten to
//! `$N` for PostgreSQL), `ON CONFLICT`, `RETURNING`, `CASE` instead of SQLite's two-argument
//! `min`/`max`, `CAST(?N AS TEXT)` where PostgreSQL could not tell a parameter's type. Values
//! go in and rows come out as [`Val`]s, so the rest of the store never sees either driver's types.
//! What differs (table definitions, triggers, the spatial index, locks) lives in `schema`.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// A value bound to a parameter or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// A BLOB (SQLite) or BYTEA (PostgreSQL): evidence pictures.
    Bytes(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Val {
        Val::Int(v as i64)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Real(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Val {
        Val::Bytes(v)
    }
}
impl From<&Option<String>> for Val {
    fn from(v: &Option<String>) -> Val {
        v.as_deref().into()
    }
}

/// Binds values: `vals![a, b, c]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::Val::from($v)),*][..] };
}
pub(super) use vals;

/// A database error: either driver's, or a stored value that is not what the store wrote.
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    Value(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => e.fmt(f),
            // the server's own message (with its detail), not the driver's "db error"
            DbError::Postgres(e) => match (e.as_db_error(), std::error::Error::source(e)) {
                (Some(db), _) => write!(f, "{}: {}", db.severity(), db.message()),
                // the driver says "error connecting to server"; its cause says why
                (None, Some(cause)) => write!(f, "{e}: {cause}"),
                (None, None) => e.fmt(f),
            },
            DbError::Value(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e)
    }
}
impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

impl DbError {
    fn pg_code(&self) -> Option<&str> {
        match self {
            DbError::Postgres(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }

    /// The disk under the database is full.
    pub fn is_full(&self) -> bool {
        match self {
            DbError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            _ => self.pg_code() == Some("53100"),
        }
    }

    /// Another writer held what this one needed for too long (SQLite's busy timeout; a
    /// PostgreSQL lock or statement timeout, a serialisation failure or a deadlock).
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy),
            _ => matches!(self.pg_code(), Some("55P03" | "57014" | "40001" | "40P01")),
        }
    }

    /// A row with this key is already there (another worker wrote it first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            _ => self.pg_code() == Some("23505"),
        }
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(v) => ValueRef::Integer(*v),
            Val::Real(v) => ValueRef::Real(*v),
            Val::Text(v) => ValueRef::Text(v.as_bytes()),
            Val::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

impl postgres::types::ToSql for Val {
    /// Converts to the parameter's type as PostgreSQL inferred it from the query (SQLite takes
    /// any value anywhere; PostgreSQL wants an `int8` for a `bigint` column, and so on).
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, ToSql, Type};
        let mismatch = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot bind {self:?} to a parameter of type {ty}").into()
        };
        match (self, ty) {
            (Val::Null, _) => Ok(IsNull::Yes),
            (Val::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Val::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Val::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Val::Int(v), &Type::FLOAT8) => (*v as f64).to_sql(ty, out),
            (Val::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Val::Int(v), &Type::TEXT | &Type::VARCHAR) => v.to_string().to_sql(ty, out),
            (Val::Real(v), &Type::FLOAT8) => v.to_sql(ty, out),
            (Val::Real(v), &Type::FLOAT4) => (*v as f32).to_sql(ty, out),
            (Val::Real(v), &Type::TEXT | &Type::VARCHAR) => v.to_string().to_sql(ty, out),
            (Val::Text(v), _) if <&str as ToSql>::accepts(ty) => v.as_str().to_sql(ty, out),
            (Val::Bytes(v), &Type::BYTEA) => v.as_slice().to_sql(ty, out),
            _ => Err(mismatch()),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// One row read, whichever database it came from.
#[derive(Debug, Clone)]
pub struct Row(Vec<Val>);

fn bad(i: usize, want: &str, got: &Val) -> DbError {
    DbError::Value(format!("column {i}: expected {want}, found {got:?}"))
}

impl Row {
    fn at(&self, i: usize) -> Result<&Val, DbError> {
        self.0.get(i).ok_or_else(|| DbError::Value(format!("no column {i}")))
    }
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i)? {
            Val::Int(v) => Ok(*v),
            other => Err(bad(i, "an integer", other)),
        }
    }
    pub fn real(&self, i: usize) -> Result<f64, DbError> {
        match self.at(i)? {
            Val::Real(v) => Ok(*v),
            Val::Int(v) => Ok(*v as f64),
            other => Err(bad(i, "a number", other)),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.at(i)? {
            Val::Text(v) => Ok(v.clone()),
            other => Err(bad(i, "text", other)),
        }
    }
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.at(i)? {
            Val::Bytes(v) => Ok(v.clone()),
            other => Err(bad(i, "bytes", other)),
        }
    }
    pub fn flag(&self, i: usize) -> Result<bool, DbError> {
        Ok(self.int(i)? != 0)
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn opt_real(&self, i: usize) -> Result<Option<f64>, DbError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            _ => self.real(i).map(Some),
        }
    }
    /// A time as the store writes it (RFC 3339).
    pub fn time(&self, i: usize) -> Result<DateTime<Utc>, DbError> {
        parse_ts(i, &self.text(i)?)
    }
    pub fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, DbError> {
        self.opt_text(i)?.map(|s| parse_ts(i, &s)).transpose()
    }
    /// A JSON list column; a corrupt one is an error, not silently an empty list.
    pub fn list(&self, i: usize) -> Result<Vec<String>, DbError> {
        serde_json::from_str(&self.text(i)?).map_err(|e| DbError::Value(format!("column {i}: {e}")))
    }
}

fn parse_ts(i: usize, s: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Value(format!("column {i}: `{s}` is not a time: {e}")))
}

fn from_sqlite(r: &rusqlite::Row, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    (0..n)
        .map(|i| {
            Ok(match r.get_ref(i)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(v) => Val::Int(v),
                ValueRef::Real(v) => Val::Real(v),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
            })
        })
        .collect::<rusqlite::Result<Vec<_>>>()
        .map(Row)
}

fn from_postgres(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match *c.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Val::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Val::Int(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Val::Real),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i)?.map(|v| Val::Real(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => r.try_get::<_, Option<String>>(i)?.map(Val::Text),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Val::Bytes),
            ref other => {
                return Err(DbError::Value(format!(
                    "column {} has type {other}, which the store never writes",
                    c.name()
                )))
            }
        };
        out.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(out))
}

/// `?N` → `$N` outside quoted strings.
fn to_dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(|n| n.is_ascii_digit()) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

pub struct Pg {
    /// Always there until dropped.
    client: Option<postgres::Client>,
    /// Prepared statements by their SQL as written (`?N`): one round trip each, not two.
    statements: HashMap<String, postgres::Statement>,
}

impl Drop for Pg {
    /// Inside async code (the feed) the driver's own runtime cannot be dropped in place: its
    /// connection ends on a thread of its own.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            if let Some(client) = self.client.take() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

impl Pg {
    fn client(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("a connection until dropped")
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client().prepare(&to_dollars(sql))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// A connection to either database.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

fn pg_params(p: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// The `application_name` this process's PostgreSQL connections carry (`pg_stat_activity`
/// shows which part of firepoint holds each): set once by the binary for its command.
static APPLICATION_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names this process's PostgreSQL connections (`firepoint-serve`, `firepoint-worker`, …); a URL
/// that says `application_name=` itself keeps its own. Only the first call counts.
pub fn set_application_name(name: &'static str) {
    let _ = APPLICATION_NAME.set(name);
}

impl Conn {
    /// Connects to the PostgreSQL server `url` names (`postgres://user@host:port/db`; no TLS).
    pub fn postgres(url: &str) -> Result<Conn, DbError> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME.get().copied().unwrap_or("firepoint"));
        }
        // the driver blocks on a runtime of its own, which cannot start inside the feed's async
        // code: there it connects from a thread of its own
        let connect = || config.connect(postgres::NoTls);
        let client = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| s.spawn(connect).join())
                .map_err(|_| DbError::Value("connecting panicked".into()))??
        } else {
            connect()?
        };
        Ok(Conn::Postgres(Box::new(RefCell::new(Pg { client: Some(client), statements: HashMap::new() }))))
    }

    /// Whether the connection can still be used (a PostgreSQL server may have closed it).
    pub fn is_open(&self) -> bool {
        match self {
            Conn::Sqlite(_) => true,
            Conn::Postgres(pg) => pg.borrow().client.as_ref().is_some_and(|c| !c.is_closed()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// Runs one statement; how many rows it changed.
    pub fn exec(&self, sql: &str, p: &[Val]) -> Result<usize, DbError> {
        match self {
            Conn::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(p))?),
            Conn::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let s = pg.statement(sql)?;
                Ok(pg.client().execute(&s, &pg_params(p))? as usize)
            }
        }
    }

    /// Every row of one query.
    pub fn rows(&self, sql: &str, p: &[Val]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| from_sqlite(r, n))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Conn::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let s = pg.statement(sql)?;
                pg.client().query(&s, &pg_params(p))?.iter().map(from_postgres).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub fn row(&self, sql: &str, p: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, p)?.into_iter().next())
    }

    /// The one row a query always returns (`count(*)`, an `INSERT … RETURNING`).
    pub fn one(&self, sql: &str, p: &[Val]) -> Result<Row, DbError> {
        self.row(sql, p)?.ok_or_else(|| DbError::Value(format!("no row from `{sql}`")))
    }

    /// Inserts one row and returns its generated key (`column`): SQLite's rowid (an R*Tree
    /// returns no `RETURNING` values), PostgreSQL's `RETURNING`.
    pub fn insert(&self, sql: &str, column: &str, p: &[Val]) -> Result<i64, DbError> {
        match self {
            Conn::Sqlite(c) => {
                c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(p))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Postgres(_) => self.one(&format!("{sql} RETURNING {column}"), p)?.int(0),
        }
    }

    /// Several statements without parameters (schema, transaction control).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(pg) => Ok(pg.borrow_mut().client().batch_execute(sql)?),
        }
    }

    /// Starts a transaction; `write` takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so a
    /// read-then-write never fails half way on a busy store. PostgreSQL locks rows as it goes.
    pub fn begin(&self, write: bool) -> Result<(), DbError> {
        match (self, write) {
            (Conn::Sqlite(_), true) => self.batch("BEGIN IMMEDIATE"),
            _ => self.batch("BEGIN"),
        }
    }

    pub fn commit(&self) -> Result<(), DbError> {
        self.batch("COMMIT")
    }

    /// Ends a failed transaction; an error here is beside the point (the connection may be gone).
    pub fn rollback(&self) {
        if let Err(e) = self.batch("ROLLBACK") {
            tracing::debug!("rollback: {e}");
        }
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise
    /// (`err` says a database error of the begin or commit as the caller's error).
    pub fn in_tx_or<T, E>(
        &self,
        write: bool,
        err: impl Fn(DbError) -> E,
        f: impl FnOnce(&Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin(write).map_err(&err)?;
        match f(self) {
            Ok(v) => {
                if let Err(e) = self.commit() {
                    self.rollback();
                    return Err(err(e));
                }
                Ok(v)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// [`Conn::in_tx_or`] for database work alone.
    pub fn in_tx<T>(&self, write: bool, f: impl FnOnce(&Conn) -> Result<T, DbError>) -> Result<T, DbError> {
        self.in_tx_or(write, |e| e, f)
    }

    /// The SQLite connection (tests that speak SQLite itself).
    #[cfg(test)]
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Postgres(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars_outside_strings() {
        assert_eq!(to_dollars("SELECT ?1, '?2', ?12 WHERE a = '?'"), "SELECT $1, '?2', $12 WHERE a = '?'");
    }

    #[test]
    fn sqlite_rows_come_back_as_values() {
        let c = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.batch("CREATE TABLE t (a INTEGER, b REAL, c TEXT)").unwrap();
        assert_eq!(c.exec("INSERT INTO t VALUES (?1, ?2, ?3)", vals![7i64, 1.5, "x"]).unwrap(), 1);
        c.exec("INSERT INTO t VALUES (?1, ?2, ?3)", vals![None::<i64>, 2i64, None::<String>]).unwrap();
        let rows = c.rows("SELECT a, b, c FROM t ORDER BY b", &[]).unwrap();
        assert_eq!((rows[0].int(0).unwrap(), rows[0].real(1).unwrap(), rows[0].text(2).unwrap()), (7, 1.5, "x".into()));
        assert_eq!((rows[1].opt_text(2).unwrap(), rows[1].real(1).unwrap()), (None, 2.0));
        assert!(rows[1].int(0).is_err(), "a NULL is not an integer");
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let c = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.batch("CREATE TABLE t (a INTEGER PRIMARY KEY)").unwrap();
        let r: Result<(), DbError> = c.in_tx(true, |c| {
            c.exec("INSERT INTO t VALUES (1)", &[])?;
            c.exec("INSERT INTO t VALUES (1)", &[]).map(|_| ())
        });
        assert!(r.unwrap_err().is_unique_violation());
        assert_eq!(c.one("SELECT count(*) FROM t", &[]).unwrap().int(0).unwrap(), 0);
    }
}
