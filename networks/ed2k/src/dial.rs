//! Outgoing TCP connections from the address the network listens on, so a
//! node bound to one address of a multi-address host (or of a test network
//! namespace) is seen by servers and peers at that address.

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};

/// Connects to `addr`, from `local` when it is a specific address.
pub async fn dial(local: Option<IpAddr>, addr: SocketAddr) -> io::Result<TcpStream> {
    let Some(ip) = local.filter(|ip| !ip.is_unspecified()) else {
        return TcpStream::connect(addr).await;
    };
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

/// Resolves `HOST:PORT` and connects to the first address that answers.
pub async fn dial_host(local: Option<IpAddr>, host: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{host} resolves to nothing"),
    );
    for addr in tokio::net::lookup_host(host).await? {
        match dial(local, addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outgoing_connections_leave_from_the_bound_address() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let local: IpAddr = "127.0.0.2".parse().unwrap();
        let (_c, accepted) = tokio::join!(dial(Some(local), addr), l.accept());
        assert_eq!(accepted.unwrap().1.ip(), local);
        let host = addr.to_string();
        let (_c, accepted) = tokio::join!(dial_host(None, &host), l.accept());
        assert_eq!(
            accepted.unwrap().1.ip(),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
