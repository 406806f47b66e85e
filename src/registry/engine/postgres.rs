//! The PostgreSQL engine: one `postgres` (rust-postgres, synchronous) client, statements
//! rewritten from the registry's SQLite text once ([`rewrite`]) and prepared once per
//! connection, write transactions serialised by the registry's writer advisory lock.
//!
//! Advisory lock keys are two numbers: [`LOCK_CLASS`] (cafleet's) and `hashtext` of the
//! current schema and the lock's name, so two registries in one database (two schemas,
//! chosen with `?options=-csearch_path%3DNAME` in the URL) never share a lock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, GenericClient, NoTls, Statement, Transaction};

use super::{Row, Value};
use crate::error::{Error, Result};

/// The first half of every cafleet advisory lock key (`cafl` in ASCII).
pub const LOCK_CLASS: i32 = 0x6361_666c;

/// The SQL of an advisory lock key: the lock's name (parameter `$1`) within the current
/// schema.
pub const LOCK_KEY: &str = "hashtext(current_schema() || ':' || $1::text)";

/// SQLite's timestamp expression, as the registry's statements write it.
const SQLITE_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Whether a registry location is a PostgreSQL URL.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Connects to the PostgreSQL server at `url` (no TLS; 10 s to connect, TCP keepalives
/// after 30 s idle, unless the URL says otherwise). Errors never carry the URL's
/// password.
pub fn connect(url: &str) -> Result<Client> {
    let mut config = Config::from_str(url).map_err(|err| {
        Error::usage(format!(
            "`{}` is not a PostgreSQL URL: {err}",
            crate::registry::location::redact(url)
        ))
        .hint("write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("cafleet");
    }
    // A server (or a link) that goes silent mid-statement must not hold a command, the
    // courier or the monitor for the kernel's default two hours: the keepalives notice
    // a dead peer within about a minute, and unacknowledged writes give up after one.
    // A live server may still take long (an advisory lock held by another `up`).
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(Duration::from_secs(30));
        config.keepalives_interval(Duration::from_secs(10));
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(60));
    }
    config.connect(NoTls).map_err(describe_error)
}

/// Turns a PostgreSQL failure into a message and a hint a user can act on.
pub fn describe_error(err: postgres::Error) -> Error {
    if let Some(db) = err.as_db_error() {
        let text = format!("{} ({})", db.message(), db.code().code());
        return match db.code().code() {
            // invalid_password, invalid_authorization_specification
            "28P01" | "28000" => {
                Error::failure(format!("the PostgreSQL server refused the login: {text}"))
                    .hint("check the user and password in the registry URL")
            }
            // invalid_catalog_name
            "3D000" => Error::failure(format!("no such PostgreSQL database: {text}"))
                .hint("create it first (`createdb NAME`), or name another database in the URL"),
            // insufficient_privilege
            "42501" => Error::failure(format!("the PostgreSQL user may not do this: {text}"))
                .hint("grant the user the rights to create tables in the registry's schema"),
            _ => Error::failure(format!("registry error: {text}")),
        };
    }
    if err.is_closed() || err.to_string().contains("error connecting") {
        return Error::failure(format!("cannot reach the PostgreSQL registry ({err})")).hint(
            "check the host and port in the URL, and that the server runs and accepts connections",
        );
    }
    Error::failure(format!("registry error: {err}"))
}

impl From<postgres::Error> for Error {
    fn from(err: postgres::Error) -> Self {
        describe_error(err)
    }
}

/// A registry statement in PostgreSQL's dialect: `?N` → `$N`, SQLite's timestamp →
/// `cafleet_now()`, `INDEXED BY name` dropped, `AS BLOB)` → `AS BYTEA)`. Text inside
/// single quotes is left alone.
pub fn rewrite(sql: &str) -> String {
    let sql = sql
        .replace(SQLITE_NOW, "cafleet_now()")
        .replace(" AS BLOB)", " AS BYTEA)");
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut rest = sql.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted {
            if c == '?' {
                out.push('$');
                rest = &rest[1..];
                continue;
            }
            if let Some(after) = rest.strip_prefix("INDEXED BY ") {
                let name_len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                rest = &after[name_len..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn text_type(ty: &Type) -> bool {
    <&str as ToSql>::accepts(ty)
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ if text_type(ty) => n.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("cannot pass an integer as {ty}").into()),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(*b).to_sql(ty, out),
                Type::INT4 => i32::from(*b).to_sql(ty, out),
                _ => Err(format!("cannot pass a boolean as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ if text_type(ty) => s.as_str().to_sql(ty, out),
                _ => Err(format!("cannot pass text as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ if text_type(ty) => std::str::from_utf8(b)?.to_sql(ty, out),
                _ => Err(format!("cannot pass bytes as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::OID => Value::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            Type::FLOAT8 => Value::Text(f64::from_sql(ty, raw)?.to_string()),
            Type::VOID => Value::Null,
            _ if <String as FromSql>::accepts(ty) => Value::Text(String::from_sql(ty, raw)?),
            _ => return Err(format!("cafleet cannot read a {ty} column").into()),
        })
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

type Cache = RefCell<HashMap<String, Statement>>;

fn prepared(client: &mut impl GenericClient, cache: &Cache, sql: &str) -> Result<Statement> {
    if let Some(statement) = cache.borrow().get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(&rewrite(sql))?;
    cache
        .borrow_mut()
        .insert(sql.to_string(), statement.clone());
    Ok(statement)
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn execute(
    client: &mut impl GenericClient,
    cache: &Cache,
    sql: &str,
    values: &[Value],
) -> Result<u64> {
    let statement = prepared(client, cache, sql)?;
    Ok(client.execute(&statement, &params(values))?)
}

fn query(
    client: &mut impl GenericClient,
    cache: &Cache,
    sql: &str,
    values: &[Value],
) -> Result<Vec<Row>> {
    let statement = prepared(client, cache, sql)?;
    let rows = client.query(&statement, &params(values))?;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.try_get::<_, Value>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Row::new)
                .map_err(Error::from)
        })
        .collect()
}

/// An open PostgreSQL registry connection.
pub struct Postgres {
    client: RefCell<Client>,
    cache: Cache,
}

impl Postgres {
    pub fn new(client: Client) -> Postgres {
        Postgres {
            client: RefCell::new(client),
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub(super) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&super::Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let client = self.client.get_mut();
        let mut tx = client.transaction()?;
        tx.execute(
            &format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, {LOCK_KEY})"),
            &[&"writer"],
        )?;
        let tx = super::Tx::Postgres(PostgresTx {
            tx: RefCell::new(tx),
            cache: &self.cache,
        });
        let value = f(&tx)?;
        if let super::Tx::Postgres(tx) = tx {
            tx.tx.into_inner().commit()?;
        }
        Ok(value)
    }

    pub(super) fn execute(&self, sql: &str, values: &[Value]) -> Result<u64> {
        execute(&mut *self.client.borrow_mut(), &self.cache, sql, values)
    }
    pub(super) fn query(&self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        query(&mut *self.client.borrow_mut(), &self.cache, sql, values)
    }
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.client.borrow_mut().batch_execute(&rewrite(sql))?)
    }
}

/// A write transaction holding the registry's writer lock.
pub struct PostgresTx<'a> {
    tx: RefCell<Transaction<'a>>,
    cache: &'a Cache,
}

impl PostgresTx<'_> {
    pub(super) fn execute(&self, sql: &str, values: &[Value]) -> Result<u64> {
        execute(&mut *self.tx.borrow_mut(), self.cache, sql, values)
    }
    pub(super) fn query(&self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        query(&mut *self.tx.borrow_mut(), self.cache, sql, values)
    }
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.tx.borrow_mut().batch_execute(&rewrite(sql))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_rewritten_once_for_postgres() {
        assert_eq!(
            rewrite(
                "SELECT a FROM messages INDEXED BY messages_unread WHERE b = ?1 AND c = '?' AND d = ?12"
            ),
            "SELECT a FROM messages  WHERE b = $1 AND c = '?' AND d = $12"
        );
        assert_eq!(
            rewrite(
                "UPDATE t SET at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), n = length(CAST(body AS BLOB))"
            ),
            "UPDATE t SET at = cafleet_now(), n = length(CAST(body AS BYTEA))"
        );
    }
}
