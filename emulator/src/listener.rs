//! Accepting connections: plain TCP, or, with HTTPS on, TLS and plain HTTP on the same port
//! (told apart by the first byte a client sends: a TLS handshake record starts with 0x16, an
//! HTTP request with a letter). Handshakes run in their own tasks, so a slow client holds up
//! nobody; finished connections reach axum through an [`axum::serve::Listener`].

use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

/// A connection: plain TCP or TLS over TCP.
pub(crate) type Io = Either<TcpStream, TlsStream<TcpStream>>;

/// What handlers know about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conn {
    /// Whether the connection is TLS.
    pub tls: bool,
}

impl Connected<IncomingStream<'_, Incoming>> for Conn {
    fn connect_info(stream: IncomingStream<'_, Incoming>) -> Conn {
        *stream.remote_addr()
    }
}

/// The connections [`accept_loop`] has made ready.
pub(crate) struct Incoming {
    ready: mpsc::Receiver<(Io, Conn)>,
}

impl axum::serve::Listener for Incoming {
    type Io = Io;
    type Addr = Conn;

    async fn accept(&mut self) -> (Io, Conn) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop stopped: so does the server (graceful shutdown ends it).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Conn> {
        Ok(Conn { tls: false })
    }
}

/// How long a client may take to send its first byte and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first TLS record type: handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// Accept connections on `listener` until `stop`, handing them to the returned [`Incoming`]
/// (TLS or plain as the client chooses when `tls` is set; plain otherwise). The listener is
/// closed when the returned future ends.
pub(crate) fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> (Incoming, impl std::future::Future<Output = ()> + Send) {
    let (tx, ready) = mpsc::channel(64);
    let run = async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, _) = match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(acceptor) = tls.clone() else {
                let conn = Conn { tls: false };
                if tx.send((Either::Left(stream), conn)).await.is_err() {
                    return;
                }
                continue;
            };
            let tx = tx.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let ready = tokio::select! {
                    _ = stop.cancelled() => return,
                    ready = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, acceptor)) => ready,
                };
                if let Ok(Some((io, tls))) = ready {
                    let _ = tx.send((io, Conn { tls })).await;
                }
            });
        }
    };
    (Incoming { ready }, run)
}

/// TLS when the client starts a TLS handshake, plain otherwise; `None` when the client
/// hung up or the handshake failed.
async fn handshake(stream: TcpStream, acceptor: TlsAcceptor) -> Option<(Io, bool)> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.ok()? == 0 {
        return None;
    }
    if first[0] == TLS_HANDSHAKE {
        let tls = acceptor.accept(stream).await.ok()?;
        Some((Either::Right(tls), true))
    } else {
        Some((Either::Left(stream), false))
    }
}
