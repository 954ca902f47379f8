//! A fixed set of connections to one PostgreSQL database, opened on demand and kept: at most
//! `size` in use at once, a broken one replaced on the next checkout. Owns connecting, the
//! session settings (search path, lock and statement timeouts) and each connection's prepared
//! statements; runs no queries of the store.

use std::collections::HashMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Statement};

use super::error::map;
use crate::{Result, StoreError};

/// How long connecting may take before the store answers `Unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements kept prepared per connection; texts beyond this are prepared for each use.
const STATEMENTS: usize = 256;

/// The session limits of every connection (`lock_timeout`, `statement_timeout`; zero is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest a statement waits for a lock (the store's write lock included).
    pub lock_timeout: Duration,
    /// The longest one statement may run.
    pub statement_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lock_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(60),
        }
    }
}

/// One connection's prepared statements by SQL text (a `Statement` is valid only on the
/// connection that prepared it).
pub(crate) type Statements = Arc<Mutex<HashMap<String, Statement>>>;

tokio::task_local! {
    /// The prepared statements of the connection the current store call runs on.
    static PREPARED: Statements;
}

pub(crate) struct Pool {
    config: Config,
    idle: Mutex<Vec<(Client, Statements)>>,
    permits: Semaphore,
}

/// A checked-out connection; dropping it returns it to the pool unless it is broken.
pub(crate) struct Conn<'a> {
    client: Option<Client>,
    statements: Statements,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    /// A pool of at most `size` connections; `schema`, when given, is the search path of each.
    pub(crate) fn new(
        mut config: Config,
        schema: Option<&str>,
        size: usize,
        limits: Limits,
    ) -> Pool {
        config.connect_timeout(CONNECT_TIMEOUT);
        let mut options = format!(
            "-c lock_timeout={} -c statement_timeout={}",
            limits.lock_timeout.as_millis(),
            limits.statement_timeout.as_millis()
        );
        if let Some(schema) = schema {
            options.push_str(&format!(" -c search_path={schema}"));
        }
        // Options of the URL (a search path, say) come after ours, so they win.
        if let Some(given) = config.get_options() {
            options.push(' ');
            options.push_str(given);
        }
        config.options(options);
        Pool {
            config,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
    }

    pub(crate) async fn get(&self) -> Result<Conn<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".to_owned()))?;
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (client, statements) = match idle {
            Some((c, s)) if !c.is_closed() => (c, s),
            _ => (self.connect().await?, Statements::default()),
        };
        Ok(Conn {
            client: Some(client),
            statements,
            pool: self,
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<Client> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            StoreError::Unavailable(format!("cannot connect to postgresql: {}", map(e)))
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgresql connection ended");
            }
        });
        Ok(client)
    }

    /// A connection of its own, outside the pool and its limit, with the session `options`
    /// (`-c name=value …`) after the pool's; the receiver completes when the connection ends,
    /// with why. For a session that must outlive no one: the leader's lock (`cluster.rs`).
    pub(crate) async fn dedicated(
        &self,
        options: &str,
    ) -> Result<(Client, tokio::sync::oneshot::Receiver<String>)> {
        let mut config = self.config.clone();
        let mut all = config.get_options().unwrap_or_default().to_owned();
        all.push(' ');
        all.push_str(options);
        config.options(all);
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            StoreError::Unavailable(format!("cannot connect to postgresql: {}", map(e)))
        })?;
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let why = match connection.await {
                Ok(()) => "the connection was closed".to_owned(),
                Err(e) => format!("the connection ended: {e}"),
            };
            let _ = ended_tx.send(why);
        });
        Ok((client, ended))
    }

    /// Refuses new checkouts and closes the idle connections (those in use close when their
    /// holders return them).
    pub(crate) fn close(&self) {
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Conn<'_> {
    /// This connection's prepared statements, for [`with_statements`].
    pub(crate) fn statements(&self) -> Statements {
        Arc::clone(&self.statements)
    }
}

/// Runs `f` (which uses the connection `statements` belong to) with them at hand for
/// [`prepared`].
pub(crate) async fn with_statements<T>(statements: Statements, f: impl Future<Output = T>) -> T {
    PREPARED.scope(statements, f).await
}

/// `sql` prepared on `c`: kept from an earlier use on the same connection when the store call
/// runs under [`Conn::with_statements`], else prepared now (one round trip more).
pub(crate) async fn prepared<C: GenericClient + Sync>(c: &C, sql: &str) -> Result<Statement> {
    let kept = PREPARED
        .try_with(|s| {
            s.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(sql)
                .cloned()
        })
        .ok()
        .flatten();
    if let Some(stmt) = kept {
        return Ok(stmt);
    }
    let stmt = c.prepare(sql).await.map_err(map)?;
    let _ = PREPARED.try_with(|s| {
        let mut s = s.lock().unwrap_or_else(PoisonError::into_inner);
        if s.len() < STATEMENTS {
            s.insert(sql.to_owned(), stmt.clone());
        }
    });
    Ok(stmt)
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client.as_ref().expect("taken only in Drop")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("taken only in Drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if !client.is_closed() && !self.pool.permits.is_closed() {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((client, std::mem::take(&mut self.statements)));
            }
        }
    }
}
