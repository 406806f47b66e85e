//! The two database engines the registry runs on — SQLite (a file, the default) and
//! PostgreSQL (a `postgres://` URL) — behind one way to run a statement, read rows and
//! open a transaction, so every statement of the registry is written once.
//!
//! Statements are written in SQLite's dialect with numbered parameters (`?1`), and values
//! travel as a small [`Value`] enum. For PostgreSQL, [`postgres::rewrite`] turns the few
//! dialect differences into PostgreSQL's, in this one place: `?N` becomes `$N`, SQLite's
//! timestamp expression becomes `cafleet_now()` (a function the PostgreSQL migrations
//! create, same `YYYY-MM-DDTHH:MM:SS.sssZ` text), `INDEXED BY` hints are dropped (the
//! planner has statistics there) and `BLOB` casts become `BYTEA`. A parameter that
//! PostgreSQL cannot type from its use alone (`?2 IS NULL`) is cast in the shared text
//! (`CAST(?2 AS TEXT)`), which SQLite reads the same way.
//!
//! A write transaction ([`Db::transaction`]) is one writer at a time on both engines:
//! `BEGIN IMMEDIATE` on SQLite, and on PostgreSQL a transaction that first takes the
//! registry's writer advisory lock (`pg_advisory_xact_lock`, released at commit or
//! rollback), so a read-then-write (`inbox` reading and marking its messages) sees no
//! other writer between its read and its write on either engine. Statements outside a
//! transaction are single atomic statements on both.

pub mod postgres;
pub mod sqlite;

use std::fmt;

use crate::error::{Error, Result};

/// One value passed to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(n) => write!(f, "integer {n}"),
            Value::Bool(b) => write!(f, "boolean {b}"),
            Value::Text(_) => f.write_str("text"),
            Value::Blob(_) => f.write_str("bytes"),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(i64::from(n))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Blob(b.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of a statement: `params![a, b]` is `&[Value::from(a), Value::from(b)]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::registry::engine::Value::from($value)),*] as &[$crate::registry::engine::Value]
    };
}
pub(crate) use params;

/// A type a column converts to.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(n) => Some(*n),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}
impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::Int(n) => Some(*n != 0),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            Value::Blob(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result, its values owned.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    /// Column `index` as `T`; a column of another type is a registry error.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self.values.get(index).ok_or_else(|| {
            Error::failure(format!(
                "registry error: a query returned no column {index}"
            ))
        })?;
        T::from_value(value).ok_or_else(|| {
            Error::failure(format!(
                "registry error: column {index} holds {value}, not the {} cafleet expects",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Column `index` as bytes, whatever it holds: cafleet writes bodies as bytes, but a
    /// row written by another tool may hold text (the same bytes), and NULL is empty.
    pub fn bytes(&self, index: usize) -> Vec<u8> {
        match self.values.get(index) {
            Some(Value::Blob(b)) => b.clone(),
            Some(Value::Text(s)) => s.clone().into_bytes(),
            Some(Value::Int(n)) => n.to_string().into_bytes(),
            Some(Value::Bool(b)) => b.to_string().into_bytes(),
            Some(Value::Null) | None => Vec::new(),
        }
    }
}

/// Running statements: a connection outside a transaction, or a transaction.
pub trait Exec {
    /// Runs one statement; returns how many rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs one statement and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs statements separated by `;` with no parameters (migrations, test seeds).
    fn batch(&self, sql: &str) -> Result<()>;

    /// The rows of `sql`, each turned into a `T` by `f`.
    fn rows<T>(&self, sql: &str, params: &[Value], f: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>>
    where
        Self: Sized,
    {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// The first row of `sql`, if any, turned into a `T` by `f`.
    fn row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl Fn(&Row) -> Result<T>,
    ) -> Result<Option<T>>
    where
        Self: Sized,
    {
        self.query(sql, params)?.first().map(f).transpose()
    }

    /// The first column of the first row of `sql`; no row is a registry error.
    fn value<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<T>
    where
        Self: Sized,
    {
        match self.query(sql, params)?.first() {
            Some(row) => row.get(0),
            None => Err(Error::failure("registry error: a query returned no rows")),
        }
    }
}

/// An open connection to either engine.
pub enum Db {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

/// An open write transaction; dropped without [`Db::transaction`] committing it, it rolls
/// back.
pub enum Tx<'a> {
    Sqlite(sqlite::SqliteTx<'a>),
    Postgres(postgres::PostgresTx<'a>),
}

impl Db {
    /// Runs `f` in a write transaction (one writer at a time) and commits it; an error
    /// from `f` rolls it back.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(db) => db.transaction(f),
            Db::Postgres(db) => db.transaction(f),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }
}

impl Exec for Db {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Db::Sqlite(db) => db.execute(sql, params),
            Db::Postgres(db) => db.execute(sql, params),
        }
    }
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Db::Sqlite(db) => db.query(sql, params),
            Db::Postgres(db) => db.query(sql, params),
        }
    }
    fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(db) => db.batch(sql),
            Db::Postgres(db) => db.batch(sql),
        }
    }
}

impl Exec for Tx<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Tx::Sqlite(tx) => tx.execute(sql, params),
            Tx::Postgres(tx) => tx.execute(sql, params),
        }
    }
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Tx::Sqlite(tx) => tx.query(sql, params),
            Tx::Postgres(tx) => tx.query(sql, params),
        }
    }
    fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.batch(sql),
            Tx::Postgres(tx) => tx.batch(sql),
        }
    }
}
