//! The SQLite engine: one `rusqlite` connection, statements prepared once and cached,
//! write transactions opened with `BEGIN IMMEDIATE`.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{Row, Value};
use crate::error::Result;

/// How many prepared statements a connection keeps: every statement of the registry.
const STATEMENT_CACHE: usize = 128;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(x) => Value::Text(x.to_string()),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
}

fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|i| row.get_ref(i).map(value))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Row::new(values));
    }
    Ok(out)
}

/// An open SQLite registry connection.
pub struct Sqlite {
    pub(crate) conn: Connection,
}

impl Sqlite {
    pub fn new(conn: Connection) -> Sqlite {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Sqlite { conn }
    }

    pub(super) fn transaction<T>(&self, f: impl FnOnce(&super::Tx<'_>) -> Result<T>) -> Result<T> {
        let tx = super::Tx::Sqlite(SqliteTx(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?));
        let value = f(&tx)?;
        if let super::Tx::Sqlite(SqliteTx(tx)) = tx {
            tx.commit()?;
        }
        Ok(value)
    }

    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        execute(&self.conn, sql, params)
    }
    pub(super) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        query(&self.conn, sql, params)
    }
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

/// A `BEGIN IMMEDIATE` transaction.
pub struct SqliteTx<'a>(Transaction<'a>);

impl SqliteTx<'_> {
    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        execute(&self.0, sql, params)
    }
    pub(super) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        query(&self.0, sql, params)
    }
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }
}
