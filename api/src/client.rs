//! A client of the control socket, used by the command line and the TUI.

use crate::request::{Request, Response};
use crate::view::Snapshot;
use crate::MAX_LINE;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// What can go wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", connect_message(path, source))]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("lost the connection to the daemon: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("the daemon sent a line this client does not understand: {0}")]
    Protocol(String),
    #[error("{0}")]
    Daemon(String),
}

/// What a failed connect to the control socket means for the user: only a
/// missing or dead socket means no daemon runs.
fn connect_message(path: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => format!(
            "no swarmux daemon is running for {path} ({e}); start one with `swarmux daemon` or just `swarmux`"
        ),
        ErrorKind::PermissionDenied => format!(
            "not allowed to use the control socket {path} ({e}): it belongs to another user; run swarmux as that user, or give another --data-dir"
        ),
        _ => format!("cannot connect to the control socket {path}: {e}"),
    }
}

async fn read_response(reader: &mut BufReader<OwnedReadHalf>) -> Result<Response, ClientError> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(ClientError::Closed);
    }
    serde_json::from_slice(&line).map_err(|e| ClientError::Protocol(e.to_string()))
}

async fn write_request(writer: &mut OwnedWriteHalf, req: &Request) -> Result<(), ClientError> {
    let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
    line.push(b'\n');
    writer.write_all(&line).await?;
    Ok(())
}

/// One connection to an engine.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects to the control socket at `path`.
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| ClientError::Connect {
                path: path.display().to_string(),
                source,
            })?;
        let (r, w) = stream.into_split();
        Ok(Client {
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Sends a request without waiting for the answer.
    pub async fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        write_request(&mut self.writer, req).await
    }

    /// Reads the next response line.
    pub async fn recv(&mut self) -> Result<Response, ClientError> {
        read_response(&mut self.reader).await
    }

    /// Sends a request and waits for its answer; a daemon error becomes `Err`.
    pub async fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.send(req).await?;
        match self.recv().await? {
            Response::Error { message } => Err(ClientError::Daemon(message)),
            r => Ok(r),
        }
    }

    /// The daemon's current state.
    pub async fn snapshot(&mut self) -> Result<Snapshot, ClientError> {
        match self.call(&Request::Snapshot).await? {
            Response::Snapshot(s) => Ok(*s),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// Splits into a reader of pushed lines and a writer of requests, for
    /// clients (like the TUI) that subscribe and send commands concurrently.
    pub fn into_split(self) -> (ResponseReader, RequestWriter) {
        (
            ResponseReader {
                reader: self.reader,
            },
            RequestWriter {
                writer: self.writer,
            },
        )
    }
}

/// The reading half of a split [`Client`].
pub struct ResponseReader {
    reader: BufReader<OwnedReadHalf>,
}

impl ResponseReader {
    /// Reads the next line the daemon sent.
    pub async fn recv(&mut self) -> Result<Response, ClientError> {
        read_response(&mut self.reader).await
    }
}

/// The writing half of a split [`Client`].
pub struct RequestWriter {
    writer: OwnedWriteHalf,
}

impl RequestWriter {
    /// Sends one request line.
    pub async fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        write_request(&mut self.writer, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_of_another_user_is_not_called_a_missing_daemon() {
        use std::io::{Error, ErrorKind};
        let err = |kind| {
            ClientError::Connect {
                path: "/d/control.sock".into(),
                source: Error::from(kind),
            }
            .to_string()
        };
        let missing = err(ErrorKind::NotFound);
        assert!(
            missing.contains("no swarmux daemon is running"),
            "{missing}"
        );
        assert!(err(ErrorKind::ConnectionRefused).contains("no swarmux daemon is running"));
        let denied = err(ErrorKind::PermissionDenied);
        assert!(
            denied.contains("not allowed to use the control socket /d/control.sock"),
            "{denied}"
        );
        assert!(!denied.contains("no swarmux daemon"), "{denied}");
    }

    #[test]
    fn request_json_shape() {
        let r = Request::Get {
            target: "ed2k://|file|a|1|00|/".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"cmd":"get","target":"ed2k://|file|a|1|00|/"}"#);
        let back: Request = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
        let resp: Response = serde_json::from_str(r#"{"reply":"error","message":"x"}"#).unwrap();
        assert_eq!(
            resp,
            Response::Error {
                message: "x".into()
            }
        );
    }
}
