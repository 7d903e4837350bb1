//! Outgoing connections from the address a network is bound to, so that a
//! node bound to one address of a multi-address host (a VPN address, or an
//! address of a test network namespace) never sends from another one. Every
//! network dials through here.

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};

/// Checks that `input` is `HOST:PORT` (a port from 1 to 65535) and returns
/// it trimmed, or says what is expected.
pub fn host_port(input: &str) -> Result<String, String> {
    let input = input.trim();
    match input.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(input.to_string())
        }
        _ => Err(format!(
            "{input:?} is not HOST:PORT (for example 127.0.0.1:4661)"
        )),
    }
}

/// Connects to `addr`, from `local` when it is a specific address
/// (`None` or an unspecified address lets the kernel choose).
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
        // A bound IPv4 socket cannot reach an IPv6 address and the reverse.
        if local.is_some_and(|ip| !ip.is_unspecified() && ip.is_ipv4() != addr.is_ipv4()) {
            continue;
        }
        match dial(local, addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A UDP socket on `local` (any address when `None`) and `port` (0 = any free one).
pub async fn udp_socket(local: Option<IpAddr>, port: u16) -> io::Result<tokio::net::UdpSocket> {
    let ip = local.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    tokio::net::UdpSocket::bind(SocketAddr::new(ip, port)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_wants_a_host_and_a_port() {
        assert_eq!(
            host_port(" 127.0.0.1:4661 ").as_deref(),
            Ok("127.0.0.1:4661")
        );
        assert_eq!(host_port("[::1]:6346").as_deref(), Ok("[::1]:6346"));
        for bad in ["", "host", ":4661", "host:0", "host:65536", "host:x"] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }

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

    #[tokio::test]
    async fn udp_sockets_send_from_the_bound_address() {
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local: IpAddr = "127.0.0.3".parse().unwrap();
        let sock = udp_socket(Some(local), 0).await.unwrap();
        sock.send_to(b"x", peer.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 4];
        let (_, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(from.ip(), local);
    }
}
